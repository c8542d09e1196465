// Turns `key=value` words into typed opts, using the JSON Schema generated from the zod schemas:
// `init_pid=42` becomes a number because the schema says integer, `opts={"a":1}` an object.
import { InvalidArgumentError } from 'commander';
import { EVENT_TYPES, type EventType } from '../protocol/events.js';
import { reportJsonSchema } from '../protocol/json-schema.js';
import type { FilterValue } from '../protocol/commands.js';

type JsonSchema = {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
};

/** The JSON Schema type of each opts field of an event type ("integer", "string", "object"…). */
function fieldTypes(type: EventType): Map<string, Set<string>> {
  const types = new Map<string, Set<string>>();
  for (const [key, field] of optsFields(type)) {
    const set = types.get(key) ?? new Set<string>();
    for (const option of field.anyOf ?? [field]) if (option.type) set.add(option.type);
    types.set(key, set);
  }
  return types;
}

/** Every (field name, field schema) of an event type's opts, over all its shapes. */
function optsFields(type: EventType): [string, JsonSchema][] {
  const opts = (reportJsonSchema(type) as JsonSchema).properties!.opts!;
  return (opts.oneOf ?? opts.anyOf ?? [opts]).flatMap((variant) => Object.entries(variant.properties ?? {}));
}

/** The values a field may hold when every shape of the type lists them (an enum), else null (any). */
function fieldValues(type: EventType): Map<string, Set<unknown> | null> {
  const values = new Map<string, Set<unknown> | null>();
  for (const [key, field] of optsFields(type)) {
    const listed = field.enum ?? (field.const !== undefined ? [field.const] : undefined);
    const known = values.get(key);
    if (listed === undefined || known === null) values.set(key, null);
    else values.set(key, new Set([...(known ?? []), ...listed]));
  }
  return values;
}

/** Per type, worked out on first use: `eventd report state …` needs one type's, not all eight. */
const FIELD_TYPES = memoized(fieldTypes);
const FIELD_VALUES = memoized(fieldValues);

function memoized<V>(compute: (type: EventType) => V): { get(type: EventType): V } {
  const known = new Map<EventType, V>();
  return {
    get: (type) => {
      if (!known.has(type)) known.set(type, compute(type));
      return known.get(type)!;
    },
  };
}

/**
 * A filter that can never match is a usage error: a field none of the types has, or a value
 * outside what the field may hold (`state=runing`).
 */
function checkFilter(key: string, value: Scalar, types: readonly EventType[]): void {
  const having = types.filter((type) => FIELD_VALUES.get(type)!.has(key));
  const subject = types.length === EVENT_TYPES.length ? 'any event type' : types.join(' or ');
  if (having.length === 0) {
    const fields = [...new Set(types.flatMap((type) => [...FIELD_VALUES.get(type)!.keys()]))].sort();
    throw new InvalidArgumentError(`${key} is not a field of ${subject} (fields: ${fields.join(', ')}; see \`eventd schema\`)`);
  }
  const allowed = having.map((type) => FIELD_VALUES.get(type)!.get(key)!);
  if (allowed.some((values) => values === null)) return;
  const union = new Set(allowed.flatMap((values) => [...values!]));
  if (!union.has(value)) {
    throw new InvalidArgumentError(
      `${key} must be one of ${[...union].map((v) => JSON.stringify(v)).join(', ')} (got ${JSON.stringify(value)})`,
    );
  }
}

function typedValue(key: string, raw: string, types: Set<string> | undefined): unknown {
  if (types?.has('object')) {
    try {
      return JSON.parse(raw);
    } catch {
      throw new InvalidArgumentError(`${key} must be a JSON object, e.g. ${key}='{"a":1}'`);
    }
  }
  if (types?.has('integer') && !types.has('string') && /^-?\d+$/.test(raw)) return Number(raw);
  return raw;
}

export function splitPair(word: string): [string, string] {
  const eq = word.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got ${JSON.stringify(word)}`);
  return [word.slice(0, eq), word.slice(eq + 1)];
}

/** `key=value` words as the opts of a report of `type`. */
export function reportOpts(type: EventType, words: string[]): Record<string, unknown> {
  const types = FIELD_TYPES.get(type)!;
  const opts: Record<string, unknown> = {};
  for (const word of words) {
    const [key, raw] = splitPair(word);
    if (Object.hasOwn(opts, key)) throw new InvalidArgumentError(`${key} is given twice; give each field once`);
    opts[key] = typedValue(key, raw, types.get(key));
  }
  return opts;
}

/** What a key=value word on the command line becomes: a string, or a number where the schema says integer. */
type Scalar = Extract<FilterValue, string | number>;

/** `key=value` filters; a key given twice matches either value. Numbers where a schema says integer. */
export function filterOpts(words: string[], types: readonly EventType[] = EVENT_TYPES): Record<string, Scalar | Scalar[]> {
  const filter: Record<string, Scalar[]> = {};
  for (const word of words) {
    const [key, raw] = splitPair(word);
    const integer = types.some(
      (type) => FIELD_TYPES.get(type)!.get(key)?.has('integer') && !FIELD_TYPES.get(type)!.get(key)?.has('string'),
    );
    const value = integer && /^-?\d+$/.test(raw) ? Number(raw) : raw;
    checkFilter(key, value, types);
    (filter[key] ??= []).push(value);
  }
  return Object.fromEntries(Object.entries(filter).map(([key, values]) => [key, values.length === 1 ? values[0]! : values]));
}
