// The JetStream stream that holds every host's events: created when missing, checked when present.
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamInfo,
} from '@nats-io/jetstream';
import { EventdError } from '../errors.js';
import { checkStreamName, FLEET_DEFAULTS } from './settings.js';
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

/** A retry within this window carries the same message id and is dropped by JetStream. */
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

/** Creates the stream if it does not exist; an existing one must take every eventd subject. */
export async function ensureStream(jsm: JetStreamManager, settings: StreamSettings): Promise<{ info: StreamInfo; created: boolean }> {
  const name = checkStreamName(settings.name);
  const existing = await streamInfo(jsm, name);
  if (existing) {
    if (!existing.config.subjects?.includes(ALL_SUBJECTS)) {
      throw new EventdError(
        'EVENTD_STREAM',
        `stream ${name} exists but does not take ${ALL_SUBJECTS} ` +
          `(it takes ${JSON.stringify(existing.config.subjects ?? [])}); pick another with --stream`,
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
      num_replicas: settings.replicas ?? FLEET_DEFAULTS.replicas,
      duplicate_window: Math.min(DUPLICATE_WINDOW_MS, settings.maxAgeMs || DUPLICATE_WINDOW_MS) * 1e6,
    });
    return { info, created: true };
  } catch (error) {
    throw new EventdError('EVENTD_STREAM', `cannot create stream ${name}: ${(error as Error).message}`, { cause: error });
  }
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (error) {
    if (isJetStreamError(error, JetStreamApiCodes.StreamNotFound)) return undefined;
    throw error;
  }
}

/** Whether a NATS client error is JetStream's API error with this code (JetStreamApiCodes). */
export function isJetStreamError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}
