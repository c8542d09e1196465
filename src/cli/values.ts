// Turns `key=value` words into typed opts, using the JSON Schema generated from the zod schemas:
// `init_pid=42` becomes a number because the schema says integer, `opts={"a":1}` an object.
import { InvalidArgumentError } from 'commander';
import { EVENT_TYPES, type EventType } from '../protocol/events.js';
import { reportJsonSchema } from '../protocol/json-schema.js';

type JsonSchema = { type?: string; properties?: Record<string, JsonSchema>; oneOf?: JsonSchema[]; anyOf?: JsonSchema[] };

/** The JSON Schema type of each opts field of an event type ("integer", "string", "object"…). */
function fieldTypes(type: EventType): Map<string, Set<string>> {
  const opts = (reportJsonSchema(type) as JsonSchema).properties!.opts!;
  const types = new Map<string, Set<string>>();
  for (const variant of opts.oneOf ?? opts.anyOf ?? [opts]) {
    for (const [key, field] of Object.entries(variant.properties ?? {})) {
      const set = types.get(key) ?? new Set<string>();
      for (const option of field.anyOf ?? [field]) if (option.type) set.add(option.type);
      types.set(key, set);
    }
  }
  return types;
}

const FIELD_TYPES = new Map(EVENT_TYPES.map((type) => [type, fieldTypes(type)]));

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
    opts[key] = typedValue(key, raw, types.get(key));
  }
  return opts;
}

type Scalar = string | number;

/** `key=value` filters; a key given twice matches either value. Numbers where a schema says integer. */
export function filterOpts(words: string[], types: readonly EventType[] = EVENT_TYPES): Record<string, Scalar | Scalar[]> {
  const filter: Record<string, Scalar[]> = {};
  for (const word of words) {
    const [key, raw] = splitPair(word);
    const integer = types.some((type) => FIELD_TYPES.get(type)!.get(key)?.has('integer') && !FIELD_TYPES.get(type)!.get(key)?.has('string'));
    (filter[key] ??= []).push(integer && /^-?\d+$/.test(raw) ? Number(raw) : raw);
  }
  return Object.fromEntries(Object.entries(filter).map(([key, values]) => [key, values.length === 1 ? values[0]! : values]));
}
