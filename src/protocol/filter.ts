// Subscription matching, as in osctld: `type` is one type or a list of types; every key in
// `opts` must equal the event's value, or be one of a list of values. Compiled once into Sets:
// a check costs the same for a list of one value as for a list of a thousand.
import type { EventType } from './events.js';
import type { FilterValue, SubscribeOpts } from './commands.js';

export interface Filter {
  /** null: every type. */
  readonly types: ReadonlySet<string> | null;
  /** null: no condition on opts. */
  readonly opts: ReadonlyArray<readonly [key: string, allowed: ReadonlySet<FilterValue>]> | null;
}

export const MATCH_ALL: Filter = { types: null, opts: null };

/** Before its first event_subscribe, an osctld client receives nothing (as from osctld). */
export const MATCH_NONE: Filter = { types: new Set(), opts: null };

export function compileFilter(opts: SubscribeOpts | undefined): Filter {
  if (!opts) return MATCH_ALL;
  const types = opts.type === undefined ? null : new Set(Array.isArray(opts.type) ? opts.type : [opts.type]);
  const entries = opts.opts === undefined ? [] : Object.entries(opts.opts);
  const conditions = entries.map(([key, value]) => [key, new Set(Array.isArray(value) ? value : [value])] as const);
  // No condition (`{}`, or only `since`): MATCH_ALL itself, which a worker recognizes to send records whole.
  if (types === null && conditions.length === 0) return MATCH_ALL;
  return { types, opts: conditions.length === 0 ? null : conditions };
}

export function matchesType(filter: Filter, type: EventType): boolean {
  return filter.types === null || filter.types.has(type);
}

export function matchesOpts(filter: Filter, opts: Record<string, unknown>): boolean {
  if (filter.opts === null) return true;
  for (const [key, allowed] of filter.opts) {
    if (!Object.hasOwn(opts, key) || !allowed.has(opts[key] as FilterValue)) return false;
  }
  return true;
}
