// What a subscriber's commands may hold, for both readers of them: the zod schemas (commands.ts)
// and the zod-free check the workers use (command-check.ts).
/** A filter is matched against every event: its size is bounded (each key's values are a Set). */
export const FILTER_LIMITS = { keys: 32, valuesPerKey: 1024 } as const;

/** A run id is a UUID; a client may only send one back. */
export const RUN_ID_MAX = 64;

/** `since_time`: an ISO 8601 time with its zone (Z or ±hh:mm), as Date.toISOString writes it. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

export function isIsoTime(value: unknown): boolean {
  return typeof value === 'string' && ISO_TIME.test(value) && Number.isFinite(Date.parse(value));
}

export const COMMAND_NAMES = ['event_subscribe', 'stats', 'metrics'] as const;
export const FAULT_COMMAND_NAMES = ['debug_crash_worker', 'debug_block_worker'] as const;
