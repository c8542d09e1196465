// Parsers for command-line values: each failure is a one-line error naming the option.
import { InvalidArgumentError, Option } from 'commander';
import { defaultSocketPaths } from '../client/connect.js';
import { EventdError, type EventdErrorCode } from '../errors.js';
import { checkStreamName, FLEET_DEFAULTS } from '../fleet/settings.js';
import { parseAllowList, parseListenAddress } from '../metrics/address.js';
import { EVENT_TYPES, isEventType, type EventType } from '../protocol/event-types.js';

/** pino's levels (not imported from pino: the client commands do not load it). */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a whole number, got ${JSON.stringify(value)}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}, got ${n}`);
    return n;
  };
}

/** An octal file mode such as 0660 or 660. */
export function fileMode(value: string): number {
  if (!/^0?[0-7]{3}$/.test(value)) throw new InvalidArgumentError(`expected an octal mode such as 0660, got ${JSON.stringify(value)}`);
  return parseInt(value, 8);
}

/** Exit codes of the commands (documented in `eventd --help` and docs/operations.md). */
export const EXIT = { ok: 0, rejected: 1, failed: 1, usage: 2, unreachable: 3, timeout: 4 } as const;

/** What each EventdError code exits with. */
const EXIT_FOR_CODE: Record<EventdErrorCode, number> = {
  EVENTD_UNREACHABLE: EXIT.unreachable,
  EVENTD_NATS_UNREACHABLE: EXIT.unreachable,
  EVENTD_REPORT_REJECTED: EXIT.rejected,
  EVENTD_REFUSED: EXIT.rejected,
  EVENTD_PROTOCOL: EXIT.unreachable,
  EVENTD_STREAM: EXIT.failed,
  EVENTD_INVALID_SETTING: EXIT.usage,
};

// The defaults come from $EVENTD_REPORT_SOCKET / $EVENTD_EVENTS_SOCKET when set (and not empty),
// else from where a daemon is found (client/connect.ts).
export function reportSocketOption(): Option {
  return new Option('--report-socket <path>', "the daemon's report socket (or $EVENTD_REPORT_SOCKET)").default(
    defaultSocketPaths().reportSocket,
  );
}

export function eventsSocketOption(): Option {
  return new Option('--events-socket <path>', "the daemon's events socket (or $EVENTD_EVENTS_SOCKET)").default(
    defaultSocketPaths().eventsSocket,
  );
}

/** A value parser whose errors are usage errors (exit 2, commander names the option). */
export function usageErrors<T>(parse: (value: string) => T) {
  return (value: string): T => {
    try {
      return parse(value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

/** The exit code for a command's error: by its EventdError code, 2 for a usage error, else 1. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof EventdError) return EXIT_FOR_CODE[error.code];
  if (error instanceof InvalidArgumentError) return EXIT.usage;
  return EXIT.failed;
}

/** Runs a client command: a daemon that cannot be reached is one line on stderr and exit 3. */
export function clientAction<A extends unknown[]>(action: (...args: A) => Promise<number>) {
  return async (...args: A): Promise<void> => {
    try {
      process.exitCode = await action(...args);
    } catch (error) {
      process.stderr.write(`eventd: ${(error as Error).message}\n`);
      process.exitCode = exitCodeFor(error);
    }
  };
}

/** An event type argument; anything else is a usage error listing the known types. */
export function eventTypeArg(value: string): EventType {
  if (!isEventType(value))
    throw new InvalidArgumentError(`unknown event type ${JSON.stringify(value)}; known types: ${EVENT_TYPES.join(', ')}`);
  return value;
}

export function logLevelOption(defaultLevel: string): Option {
  return new Option('--log-level <level>', 'pino log level').choices(LOG_LEVELS).env('EVENTD_LOG_LEVEL').default(defaultLevel);
}

export function metricsListenOption(): Option {
  return new Option(
    '--metrics-listen <host:port>',
    'serve Prometheus metrics over HTTP at http://HOST:PORT/metrics (off by default)',
  ).argParser(usageErrors(parseListenAddress));
}

export function metricsAllowOption(): Option {
  return new Option(
    '--metrics-allow <addresses>',
    'only these peers may scrape --metrics-listen: IPs or CIDR ranges, comma-separated (default: any, including every local user)',
  ).argParser(
    usageErrors((value: string) => {
      const entries = value.split(',').map((entry) => entry.trim());
      parseAllowList(entries);
      return entries;
    }),
  );
}

export function natsOption(): Option {
  return new Option('--nats <url>', 'NATS server(s), e.g. nats://nats1:4222 (comma-separated for a cluster)').env('EVENTD_NATS_URL');
}

export function streamOption(): Option {
  return new Option('--stream <name>', 'JetStream stream holding the events')
    .argParser(usageErrors(checkStreamName))
    .default(FLEET_DEFAULTS.stream);
}
