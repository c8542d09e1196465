// `eventd monitor` and `eventd wait`: subscribe and print.
import { Command, Option } from 'commander';
import { subscribe, type SubscribeOptions } from '../client/subscription.js';
import { EVENT_TYPES, type Event, type EventType } from '../protocol/events.js';
import { formatEvent } from './format.js';
import { clientAction, eventsSocketOption, eventTypeArg, EXIT, integer } from './options.js';
import { filterOpts } from './values.js';

function eventTypes(value: string, previous: EventType[] = []): EventType[] {
  return [...previous, eventTypeArg(value)];
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function print(event: Event, json: boolean): void {
  process.stdout.write(`${json ? JSON.stringify(event) : formatEvent(event)}\n`);
}

export function monitorCommand(): Command {
  return new Command('monitor')
    .description('print events as they happen, one line each')
    .option('--type <type>', 'only this event type (repeatable)', eventTypes)
    .option('--filter <key=value>', 'only events whose opts match (repeatable; a key given twice matches either)', collect)
    .addOption(new Option('--since <seq>', 'first replay retained events after this seq').argParser(integer(0)))
    .option('--json', 'print the raw event lines (for jq)')
    .option('--reconnect', 'keep running across daemon restarts and disconnects, resuming where it left off')
    .addOption(eventsSocketOption())
    .addHelpText(
      'after',
      `
Examples:
  eventd monitor
  eventd monitor --type state --filter pool=tank --filter id=101 --filter id=102
  eventd monitor --since 0 --json | jq .
  eventd monitor --reconnect

Human output: "12:00:01.123 state tank:101 running" (local time). Missed events (evicted from the
daemon's history, or lost while it restarted) are reported on stderr.
Exit codes: 0 the daemon closed the stream, 1 refused, 2 usage, 3 daemon not reachable.`,
    )
    .action(
      clientAction(async (options: { type?: EventType[]; filter?: string[]; since?: number; json?: boolean; reconnect?: boolean; eventsSocket: string }) => {
        const subscription = subscribe({
          ...filters(options.type, options.filter ?? []),
          since: options.since,
          reconnect: options.reconnect ?? false,
          socketPath: options.eventsSocket,
          onGap: (gap) =>
            process.stderr.write(
              gap.reason === 'evicted'
                ? `eventd: ${gap.missed} events were missed (no longer in the daemon's history)\n`
                : "eventd: the daemon restarted; events reported while it was down are not in its history\n",
            ),
          onDisconnect: (error) => process.stderr.write(`eventd: connection lost${error ? ` (${error.message})` : ''}; reconnecting\n`),
        });
        for await (const event of subscription) print(event, options.json ?? false);
        return EXIT.ok;
      }),
    );
}

function filters(types: EventType[] | undefined, words: string[]): Pick<SubscribeOptions, 'type' | 'opts'> {
  const out: Pick<SubscribeOptions, 'type' | 'opts'> = {};
  if (types !== undefined) out.type = types;
  if (words.length > 0) out.opts = filterOpts(words, types);
  return out;
}

export function waitCommand(): Command {
  return new Command('wait')
    .description('wait for the first matching event, print it and exit 0')
    .argument('<type>', `event type (${EVENT_TYPES.join(', ')})`, eventTypeArg)
    .argument('[fields...]', 'opts to match, as key=value')
    .addOption(new Option('--timeout <seconds>', 'give up after this long (exit 4)').argParser(integer(1)))
    .option('--json', 'print the raw event line')
    .addOption(eventsSocketOption())
    .addHelpText(
      'after',
      `
Examples:
  eventd wait state pool=tank id=101 state=running --timeout 30
  eventd wait ct_exit id=101 && echo "101 exited"

Subscribes first, so an event that happens as soon as the command starts is not missed.
Exit codes: 0 seen, 1 refused or the daemon went away, 2 usage, 3 daemon not reachable, 4 timed out.`,
    )
    .action(
      clientAction(async (type: EventType, fields: string[], options: { timeout?: number; json?: boolean; eventsSocket: string }) => {
        const subscription = subscribe({ ...filters([type], fields), socketPath: options.eventsSocket });
        let timedOut = false;
        const timer =
          options.timeout === undefined
            ? undefined
            : setTimeout(() => {
                timedOut = true;
                subscription.close();
              }, options.timeout * 1000);
        try {
          for await (const event of subscription) {
            print(event, options.json ?? false);
            subscription.close();
            return EXIT.ok;
          }
        } finally {
          clearTimeout(timer);
        }
        if (timedOut) {
          process.stderr.write(`eventd: no matching ${type} event within ${options.timeout} s\n`);
          return EXIT.timeout;
        }
        process.stderr.write('eventd: the daemon closed the connection before a matching event\n');
        return EXIT.rejected;
      }),
    );
}
