// Turns `key=value` words into typed opts, by what the schemas say of each field (protocol/fields.ts):
// `init_pid=42` becomes a number because the schema says integer, `opts={"a":1}` an object.
import { InvalidArgumentError } from 'commander';
import { EVENT_TYPES, type EventType } from '../protocol/event-types.js';
import { REPORT_FIELDS, type FieldSpec } from '../protocol/fields.js';
import type { FilterValue } from '../protocol/commands.js';

/** What the schema says of one opts field of a type, if the type has it. */
function field(type: EventType, key: string): FieldSpec | undefined {
  return Object.hasOwn(REPORT_FIELDS[type], key) ? REPORT_FIELDS[type][key] : undefined;
}

/**
 * A filter that can never match is a usage error: a field none of the types has, or a value
 * outside what the field may hold (`state=runing`).
 */
function checkFilter(key: string, value: Scalar, types: readonly EventType[]): void {
  const having = types.filter((type) => field(type, key) !== undefined);
  const subject = types.length === EVENT_TYPES.length ? 'any event type' : types.join(' or ');
  if (having.length === 0) {
    const fields = [...new Set(types.flatMap((type) => Object.keys(REPORT_FIELDS[type])))].sort();
    throw new InvalidArgumentError(`${key} is not a field of ${subject} (fields: ${fields.join(', ')}; see \`eventd schema\`)`);
  }
  const allowed = having.map((type) => field(type, key)!.values);
  if (allowed.some((values) => values === undefined)) return;
  const union = new Set(allowed.flatMap((values) => values!));
  if (!union.has(value)) {
    throw new InvalidArgumentError(
      `${key} must be one of ${[...union].map((v) => JSON.stringify(v)).join(', ')} (got ${JSON.stringify(value)})`,
    );
  }
}

/** Whether a field holds integers and never strings: its words are numbers. */
function isInteger(type: EventType, key: string): boolean {
  const types = field(type, key)?.types ?? [];
  return types.includes('integer') && !types.includes('string');
}

function typedValue(type: EventType, key: string, raw: string): unknown {
  if (field(type, key)?.types.includes('object')) {
    try {
      return JSON.parse(raw);
    } catch {
      throw new InvalidArgumentError(`${key} must be a JSON object, e.g. ${key}='{"a":1}'`);
    }
  }
  if (isInteger(type, key) && /^-?\d+$/.test(raw)) return Number(raw);
  return raw;
}

export function splitPair(word: string): [string, string] {
  const eq = word.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got ${JSON.stringify(word)}`);
  return [word.slice(0, eq), word.slice(eq + 1)];
}

/** `key=value` words as the opts of a report of `type`. */
export function reportOpts(type: EventType, words: string[]): Record<string, unknown> {
  const opts: Record<string, unknown> = {};
  for (const word of words) {
    const [key, raw] = splitPair(word);
    if (Object.hasOwn(opts, key)) throw new InvalidArgumentError(`${key} is given twice; give each field once`);
    opts[key] = typedValue(type, key, raw);
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
    const integer = types.some((type) => isInteger(type, key));
    const value = integer && /^-?\d+$/.test(raw) ? Number(raw) : raw;
    checkFilter(key, value, types);
    (filter[key] ??= []).push(value);
  }
  return Object.fromEntries(Object.entries(filter).map(([key, values]) => [key, values.length === 1 ? values[0]! : values]));
}
