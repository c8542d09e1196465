// What the fleet commands take from their options, checked without loading the NATS client: the
// daemon and the other commands never load it, the fleet commands only once they run.
import { EventdError } from '../errors.js';

/** The fleet side's defaults, in one place (what `eventd forward --help` shows comes from here). */
export const FLEET_DEFAULTS = {
  stream: 'EVENTD',
  /** When creating the stream: events older than this are dropped (7 days). */
  maxAgeMs: 7 * 86_400_000,
  /** When creating the stream: at most this many bytes are kept (10 GiB). */
  maxBytes: 10 * 2 ** 30,
  /** When creating the stream: copies kept by a NATS cluster. */
  replicas: 1,
  /** Publishes a forwarder keeps in flight before it waits for JetStream's acks. */
  window: 256,
  /** Longest wait between two attempts after a failure (ms). */
  maxBackoffMs: 5000,
} as const;
/** A fleet setting that can never work (EVENTD_INVALID_SETTING: a usage error in the CLI). */
function invalid(message: string): EventdError {
  return new EventdError('EVENTD_INVALID_SETTING', message);
}

/** Stream names may not contain whitespace, '.', '*', '>', '/' or '\' (JetStream's rule). */
export function checkStreamName(name: string): string {
  if (name === '' || /[\s.*>/\\]/.test(name)) {
    throw invalid(
      `stream name ${JSON.stringify(name)} is not valid: use letters, digits, '-' or '_' (no '.', '*', '>', '/', '\\' or spaces)`,
    );
  }
  return name;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `15m`, `12h`, `7d` (or `0`: no limit) in ms. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw invalid(`expected a duration such as 90s, 15m, 12h or 7d, got ${JSON.stringify(text)}`);
  const value = Number(match[1]) * DURATION_UNITS[match[2] ?? 's']!;
  if (value !== 0 && match[2] === undefined) throw invalid(`say the unit of ${JSON.stringify(text)}: 90s, 15m, 12h or 7d`);
  return value;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** `500M`, `10G`, a plain number of bytes, or `-1` (no limit). */
export function parseSize(text: string): number {
  if (text.trim() === '-1') return -1;
  const match = /^(\d+)\s*([kmgt]?)i?b?$/i.exec(text.trim());
  if (!match) throw invalid(`expected a size such as 500M or 10G (or -1 for no limit), got ${JSON.stringify(text)}`);
  const value = Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!;
  if (value === 0) throw invalid('a stream of 0 bytes cannot hold anything: give a size, or -1 for no limit');
  return value;
}

/** Where a fleet replay starts: after a stream sequence, or at a point in time. */
export type FleetSince = { afterStreamSeq: number } | { time: Date };

/** `--since`: a stream sequence (events after it), an ISO time, or a duration ago (`10m`, `2h`, `1d`). */
export function parseFleetSince(text: string, now = Date.now()): FleetSince {
  if (/^\d+$/.test(text)) return { afterStreamSeq: Number(text) };
  if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(text)) return { time: new Date(now - parseDuration(text)) };
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) {
    throw new Error(
      '--since takes a stream sequence (e.g. 0), a time (e.g. 2026-11-24T22:00) or a duration ago (e.g. 10m, 2h, 1d), ' +
        `got ${JSON.stringify(text)}`,
    );
  }
  return { time };
}
