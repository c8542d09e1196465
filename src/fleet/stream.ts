// The JetStream stream that holds every host's events: created when missing, checked when present.
import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { ALL_SUBJECTS } from './subjects.js';

export interface StreamSettings {
  name: string;
  /** Oldest events kept, in ms; 0 keeps them until max bytes. */
  maxAgeMs: number;
  /** Bytes kept; -1 for no limit. */
  maxBytes: number;
  /** Copies kept by a NATS cluster (1 on a single server). */
  replicas?: number;
}

export const DEFAULT_STREAM = 'EVENTD';
/** A retry within this window carries the same message id and is dropped by JetStream. */
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

export class StreamConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamConfigError';
  }
}

/** Stream names may not contain whitespace, '.', '*', '>', '/' or '\' (JetStream's rule). */
export function checkStreamName(name: string): string {
  if (name === '' || /[\s.*>/\\]/.test(name)) {
    throw new StreamConfigError(`stream name ${JSON.stringify(name)} is not valid: use letters, digits, '-' or '_' (no '.', '*', '>', '/', '\\' or spaces)`);
  }
  return name;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `15m`, `12h`, `7d` (or `0`: no limit) in ms. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new StreamConfigError(`expected a duration such as 90s, 15m, 12h or 7d, got ${JSON.stringify(text)}`);
  const value = Number(match[1]) * DURATION_UNITS[match[2] ?? 's']!;
  if (value !== 0 && match[2] === undefined) throw new StreamConfigError(`say the unit of ${JSON.stringify(text)}: 90s, 15m, 12h or 7d`);
  return value;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** `500M`, `10G`, a plain number of bytes, or `-1` (no limit). */
export function parseSize(text: string): number {
  if (text.trim() === '-1') return -1;
  const match = /^(\d+)\s*([kmgt]?)i?b?$/i.exec(text.trim());
  if (!match) throw new StreamConfigError(`expected a size such as 500M or 10G (or -1 for no limit), got ${JSON.stringify(text)}`);
  const value = Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!;
  if (value === 0) throw new StreamConfigError('a stream of 0 bytes cannot hold anything: give a size, or -1 for no limit');
  return value;
}

/** Creates the stream if it does not exist; an existing one must take every eventd subject. */
export async function ensureStream(jsm: JetStreamManager, settings: StreamSettings): Promise<{ info: StreamInfo; created: boolean }> {
  const name = checkStreamName(settings.name);
  const existing = await streamInfo(jsm, name);
  if (existing) {
    if (!existing.config.subjects?.includes(ALL_SUBJECTS)) {
      throw new StreamConfigError(
        `stream ${name} exists but does not take ${ALL_SUBJECTS} (it takes ${JSON.stringify(existing.config.subjects ?? [])}); pick another with --stream`,
      );
    }
    return { info: existing, created: false };
  }
  try {
    const info = await jsm.streams.add({
      name,
      subjects: [ALL_SUBJECTS],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: settings.maxAgeMs * 1e6,
      max_bytes: settings.maxBytes,
      num_replicas: settings.replicas ?? 1,
      duplicate_window: Math.min(DUPLICATE_WINDOW_MS, settings.maxAgeMs || DUPLICATE_WINDOW_MS) * 1e6,
    });
    return { info, created: true };
  } catch (error) {
    throw new StreamConfigError(`cannot create stream ${name}: ${(error as Error).message}`);
  }
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (error) {
    if (/stream not found/i.test((error as Error).message)) return undefined;
    throw error;
  }
}
