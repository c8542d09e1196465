// `eventd monitor` and `eventd wait`: subscribe and print.
import { Command, InvalidArgumentError, Option } from 'commander';
import { subscribe, type SubscribeOptions } from '../client/subscription.js';
import type { FleetEvent } from '../fleet/fleet-monitor.js';
import { parseFleetSince } from '../fleet/settings.js';
import { checkHostName } from '../fleet/subjects.js';
import { EVENT_TYPES, type EventType } from '../protocol/event-types.js';
import type { Event } from '../protocol/events.js';
import { formatEvent } from './format.js';
import { clientAction, eventsSocketOption, eventTypeArg, EXIT, integer, natsOption, streamOption, usageErrors } from './options.js';
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

/** Fleet-wide: the same line, with the host in front (and in the JSON, with the daemon's run). */
function printFleet({ host, run, event }: FleetEvent, json: boolean): void {
  process.stdout.write(`${json ? JSON.stringify({ host, run, ...event }) : `${host} ${formatEvent(event)}`}\n`);
}

interface MonitorOptions {
  type?: EventType[];
  filter?: string[];
  since?: string;
  json?: boolean;
  reconnect?: boolean;
  eventsSocket: string;
  nats?: string;
  host?: string[];
  stream: string;
}

const FLEET = 'Fleet (events forwarded into NATS JetStream by eventd forward):';

export function monitorCommand(): Command {
  return new Command('monitor')
    .description('print events as they happen, one line each (of this host, or with --nats of the whole fleet)')
    .option('--type <type>', 'only this event type (repeatable)', eventTypes)
    .option('--filter <key=value>', 'only events whose opts match (repeatable; a key given twice matches either)', collect)
    .option(
      '--since <seq|time|duration>',
      'first replay: events after this seq, or since a time (2026-11-24T22:00) or a duration ago (10m, 2h); ' +
        'with --nats, a stream sequence for a number',
    )
    .option('--json', 'print the raw event lines (for jq)')
    .option('--reconnect', 'keep running across daemon restarts and disconnects, resuming where it left off')
    .addOption(eventsSocketOption())
    .addOption(natsOption().helpGroup(FLEET))
    .addOption(
      new Option('--host <name>', 'only this host (repeatable)')
        .argParser((value: string, previous: string[] = []) => [...previous, usageErrors(checkHostName)(value)])
        .helpGroup(FLEET),
    )
    .addOption(streamOption().helpGroup(FLEET))
    .addHelpText(
      'after',
      `
Examples:
  eventd monitor
  eventd monitor --type state --filter pool=tank --filter id=101 --filter id=102
  eventd monitor --since 0 --json | jq .
  eventd monitor --reconnect
  eventd monitor --nats nats://nats.example.net:4222                      # the whole fleet, live
  eventd monitor --nats nats://nats.example.net:4222 --host node7 --since 2026-11-24T22:00
  eventd monitor --nats nats://nats.example.net:4222 --type ct_exit --since 2h --json

Human output: "12:00:01.123 42 state tank:101 running" (local time, seq, type, details: resume
with --since 42); with --nats the host comes first ("node7 12:00:01.123 42 state tank:101 running")
and --json adds "host" and "run".
Missed events (evicted from the daemon's history, or lost while it restarted) are reported on
stderr. With --nats, --since is a JetStream stream sequence (events after it; 0 is everything
the stream holds), an ISO time, or a duration ago (90s, 10m, 2h, 1d); without --since only new
events are shown. The fleet monitor rides out NATS restarts and runs until interrupted.
Exit codes: 0 the daemon closed the stream, 1 refused (or no such stream), 2 usage,
3 daemon or NATS not reachable.`,
    )
    .action(
      clientAction(async (options: MonitorOptions) => {
        if (options.nats !== undefined) return monitorFleet(options, options.nats);
        if (options.host !== undefined) throw new InvalidArgumentError('--host selects hosts of the fleet: it needs --nats');
        // A seq, or a time / duration ago: the daemon finds the first event at that time (in its
        // journal, through the index) and replays from there.
        const since = options.since === undefined ? undefined : usageErrors(parseLocalSince)(options.since);
        const subscription = subscribe({
          ...filters(options.type, options.filter ?? []),
          since: since?.seq,
          sinceTime: since?.time,
          reconnect: options.reconnect ?? false,
          eventsSocket: options.eventsSocket,
          ...reconnectMessages(),
        });
        for await (const event of subscription) print(event, options.json ?? false);
        return EXIT.ok;
      }),
    );
}

/**
 * What monitor and wait say on stderr about the connection: "lost" once per outage (not at each
 * retry), "reconnected" with where it resumed, and missed events.
 */
function reconnectMessages(): Pick<SubscribeOptions, 'onGap' | 'onDisconnect' | 'onReconnect'> {
  let down = false;
  const say = (text: string) => process.stderr.write(`eventd: ${text}\n`);
  return {
    onGap: (gap) => {
      if (gap.reason === 'daemon-restarted') say("the daemon's history was lost (a new run): events from before it may be missing");
      // After a reconnect the "reconnected" line says how many were missed.
      else if (!down) say(`${gap.missed} events were missed (no longer in the daemon's history)`);
    },
    onDisconnect: (error, connected) => {
      down = true;
      say(
        connected
          ? `connection lost${error ? ` (${error.message})` : ''}; reconnecting`
          : `${error ? error.message : 'the daemon is not reachable'}; retrying until it is`,
      );
    },
    onReconnect: ({ run, after, missed }) => {
      down = false;
      say(`reconnected (run ${run}${after === undefined ? '' : `, resumed after seq ${after}`}, ${missed} missed)`);
    },
  };
}

/** --since for this host's daemon: a seq, a time, or a duration ago (as with --nats). */
function parseLocalSince(text: string): { seq?: number; time?: Date } {
  if (/^\d+$/.test(text)) return { seq: integer(0)(text) };
  try {
    const parsed = parseFleetSince(text);
    if ('time' in parsed) return { time: parsed.time };
  } catch {
    // Said below, in this command's terms.
  }
  throw new Error(
    `--since takes a seq (e.g. 0), a time (e.g. 2026-11-24T22:00) or a duration ago (e.g. 10m, 2h, 1d), got ${JSON.stringify(text)}`,
  );
}

async function monitorFleet(options: MonitorOptions, natsUrl: string): Promise<number> {
  // Read here, not by commander: what --since means depends on --nats.
  const since = options.since === undefined ? undefined : usageErrors(parseFleetSince)(options.since);
  const { opts } = filters(options.type, options.filter ?? []);
  // Loaded here: the local monitor does not need the NATS client.
  const { watchFleet } = await import('../fleet/fleet-monitor.js');
  const events = watchFleet({
    natsUrl,
    stream: options.stream,
    hosts: options.host ?? [],
    types: options.type ?? [],
    opts,
    since,
    onNotice: (message) => process.stderr.write(`eventd: ${message}\n`),
  });
  for await (const event of events) printFleet(event, options.json ?? false);
  return EXIT.ok;
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
    .addOption(
      new Option('--since <seq>', 'also look at the events after this seq that already happened (from the history)').argParser(integer(0)),
    )
    .option('--json', 'print the raw event line')
    .option('--reconnect', 'keep waiting across daemon restarts, resuming where it left off (an event reported meanwhile is still seen)')
    .addOption(eventsSocketOption())
    .addHelpText(
      'after',
      `
Examples:
  eventd wait state pool=tank id=101 state=running --timeout 30
  eventd wait ct_exit id=101 --reconnect && echo "101 exited"
  eventd wait state id=101 state=running --since 0    # also if it is running already

Subscribes first, so an event that happens as soon as the command starts is not missed.
Filters are checked against the schema: a field or value that can never match is a usage error.
Exit codes: 0 seen, 1 refused or the daemon went away (without --reconnect), 2 usage,
3 daemon not reachable, 4 timed out.`,
    )
    .action(
      clientAction(
        async (
          type: EventType,
          fields: string[],
          options: { timeout?: number; since?: number; json?: boolean; reconnect?: boolean; eventsSocket: string },
        ) => {
          const subscription = subscribe({
            ...filters([type], fields),
            since: options.since,
            eventsSocket: options.eventsSocket,
            reconnect: options.reconnect ?? false,
            ...(options.reconnect ? reconnectMessages() : {}),
          });
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
              return EXIT.ok;
            }
          } catch (error) {
            // Closed by the timeout while connecting or subscribing: a timeout all the same.
            if (!timedOut) throw error;
          } finally {
            clearTimeout(timer);
          }
          if (timedOut) {
            process.stderr.write(`eventd: no matching ${type} event within ${options.timeout} s\n`);
            return EXIT.timeout;
          }
          process.stderr.write('eventd: the daemon closed the connection before a matching event\n');
          return EXIT.rejected;
        },
      ),
    );
}
