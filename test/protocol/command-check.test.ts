// The workers' zod-free command check must accept exactly what the zod schemas accept.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCommand, readOsctldCommand } from '../../src/protocol/command-check.js';
import { commandSchemas, faultCommandSchemas, osctldSubscribeSchema } from '../../src/protocol/commands.js';
import { parseCommand } from '../../src/protocol/parse-command.js';
import { EVENT_TYPES } from '../../src/protocol/event-types.js';

const schemas = { ...commandSchemas, ...faultCommandSchemas };

const key = fc.oneof(
  fc.constantFrom('cmd', 'opts', 'type', 'since', 'run', 'format', 'ms', 'pool', 'id', 'cli', '__proto__', 'constructor'),
  fc.string({ maxLength: 6 }),
);
const scalar = fc.oneof(
  fc.constantFrom(0, -1, 1, 1.5, 60_000, 60_001, 2 ** 53, 2 ** 53 - 1, -0, '', 'state', 'native', 'osctld', 'x', true, false, null),
  fc.constantFrom(...EVENT_TYPES),
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** JSON text of an object with these entries (written by hand, so "__proto__" is a plain key). */
function objectText(entries: [string, string][]): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

/** Filters at and just past their limits (FILTER_LIMITS), "__proto__" not counting. */
const LIMIT_EDGES = {
  values: [JSON.stringify(Array(1024).fill('a')), JSON.stringify(Array(1025).fill('a'))],
  keys: [
    objectText(Array.from({ length: 32 }, (_, i) => [`k${i}`, '1'])),
    objectText(Array.from({ length: 33 }, (_, i) => [`k${i}`, '1'])),
    objectText([...Array.from({ length: 32 }, (_, i): [string, string] => [`k${i}`, '1']), ['__proto__', '{}']]),
  ],
};

const value: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    scalar.map((v) => JSON.stringify(v)),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
    fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map(objectText),
  ),
})).value;

/** Mostly what the schema allows, sometimes just outside it, sometimes anything. */
function field(valid: fc.Arbitrary<string>, nearMisses: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: valid },
    { weight: 2, arbitrary: fc.constantFrom(...nearMisses) },
    { weight: 1, arbitrary: value },
  );
}
const json = (arbitrary: fc.Arbitrary<unknown>) => arbitrary.map((v) => JSON.stringify(v));
const filterScalar = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const filterValues = field(json(fc.oneof(filterScalar, fc.array(filterScalar, { maxLength: 3 }))), [
  '{}',
  '1e400',
  '[[1]]',
  '[{}]',
  ...LIMIT_EDGES.values,
]);
const filterOpts = field(fc.array(fc.tuple(key, filterValues), { maxLength: 4 }).map(objectText), ['[]', 'null', ...LIMIT_EDGES.keys]);
const typeFilter = field(
  json(fc.oneof(fc.constantFrom(...EVENT_TYPES), fc.array(fc.constantFrom(...EVENT_TYPES), { minLength: 1, maxLength: 3 }))),
  ['[]', '"nope"', '["state","nope"]', 'null', '"State"'],
);
const extraKey = fc.option(fc.tuple(key, value), { freq: 5 });

const subscribeOpts = field(
  fc
    .record(
      {
        type: typeFilter,
        opts: filterOpts,
        since: field(json(fc.nat()), ['-1', '1.5', '9007199254740991', '9007199254740992', '"1"', 'null']),
        run: field(json(fc.uuid()), ['""', JSON.stringify('r'.repeat(64)), JSON.stringify('r'.repeat(65)), '1', 'null']),
        format: field(fc.constantFrom('"native"', '"osctld"'), ['"x"', '"NATIVE"', 'null']),
      },
      { requiredKeys: [] },
    )
    .chain((fields) => extraKey.map((extra) => objectText([...Object.entries(fields), ...(extra ? [extra] : [])]))),
  ['null', '[]', '"all"'],
);
/** Command lines: mostly valid ones, or one thing away from valid. */
const commandLine = fc
  .record(
    {
      cmd: field(json(fc.constantFrom(...Object.keys(schemas))), ['"publish"', '"Stats"', '1', 'null']),
      opts: subscribeOpts,
      ms: field(json(fc.integer({ min: 1, max: 60_000 })), ['0', '60001', '1.5', '"5"', 'null']),
    },
    { requiredKeys: ['cmd'] },
  )
  .chain((fields) => extraKey.map((extra) => objectText([...Object.entries(fields), ...(extra ? [extra] : [])])));

/** Valid commands as values (no "__proto__" keys: those only come in as mutations). */
const validCommand: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.constantFrom({ cmd: 'stats' }, { cmd: 'metrics' }, { cmd: 'debug_crash_worker' }, { cmd: 'event_subscribe' }),
  fc.integer({ min: 1, max: 60_000 }).map((ms) => ({ cmd: 'debug_block_worker', ms })),
  fc
    .record(
      {
        type: fc.oneof(fc.constantFrom(...EVENT_TYPES), fc.array(fc.constantFrom(...EVENT_TYPES), { minLength: 1, maxLength: 3 })),
        opts: fc.dictionary(
          fc.string({ maxLength: 5 }).filter((k) => k !== '__proto__'),
          fc.oneof(filterScalar, fc.array(filterScalar, { maxLength: 3 })),
          { maxKeys: 4 },
        ),
        since: fc.nat(),
        run: fc.uuid(),
        format: fc.constantFrom('native', 'osctld'),
      },
      { requiredKeys: [] },
    )
    .map((opts) => ({ cmd: 'event_subscribe', opts })),
);

const NEAR_MISSES = [
  '-1',
  '0',
  '1.5',
  '60001',
  '9007199254740992',
  '1e400',
  '"1"',
  '"x"',
  '"nope"',
  '"NATIVE"',
  '"osctld"',
  '"state"',
  '[]',
  '["state","nope"]',
  'null',
  'true',
  '{}',
  '[{}]',
  ...LIMIT_EDGES.values,
  ...LIMIT_EDGES.keys,
];

type Mutation = { path: string[]; change: 'replace' | 'remove' | 'add'; key: string; text: string };

/** Every path in a value: the root, each key of each object, each array item. */
function paths(value: unknown, at: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null) return [at];
  return [at, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...at, k]))];
}

const samePath = (a: string[], b: string[]) => a.length === b.length && a.every((k, i) => k === b[i]);

/** JSON text of `value` with one change at `mutation.path`. */
function render(value: unknown, mutation: Mutation, at: string[] = []): string {
  const here = samePath(at, mutation.path);
  if (here && mutation.change === 'replace') return mutation.text;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const entries = Object.entries(value)
    .filter(([k]) => !(mutation.change === 'remove' && samePath([...at, k], mutation.path)))
    .map(([k, v]): [string, string] => [k, render(v, mutation, [...at, k])]);
  if (here && mutation.change === 'add' && !Array.isArray(value)) entries.push([mutation.key, mutation.text]);
  return Array.isArray(value) ? `[${entries.map(([, v]) => v).join(',')}]` : objectText(entries);
}

/** A valid command with one thing changed: a value replaced, a key removed or added. */
const mutatedCommand = fc
  .record({
    command: validCommand,
    slot: fc.nat(),
    change: fc.constantFrom('replace', 'replace', 'remove', 'add') as fc.Arbitrary<Mutation['change']>,
    key,
    text: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...NEAR_MISSES) }, { weight: 1, arbitrary: value }),
    untouched: fc.boolean(),
  })
  .map(({ command, slot, change, key, text, untouched }) => {
    if (untouched) return JSON.stringify(command);
    const all = paths(command);
    return render(command, { path: all[slot % all.length]!, change, key, text });
  });

/** What the zod schemas say of a line on the events socket (fault commands included) and on the osctld one. */
function nativeSchemaAccepts(text: string): boolean {
  const parsed = JSON.parse(text) as { cmd?: unknown };
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false;
  const schema =
    typeof parsed.cmd === 'string' && Object.hasOwn(schemas, parsed.cmd) ? schemas[parsed.cmd as keyof typeof schemas] : undefined;
  return schema !== undefined && schema.safeParse(parsed).success;
}

function osctldSchemaAccepts(text: string): boolean {
  const parsed = JSON.parse(text) as { cmd?: unknown };
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false;
  return parsed.cmd === 'event_subscribe' && osctldSubscribeSchema.safeParse(parsed).success;
}

describe('readCommand (the workers’ check, without zod)', () => {
  for (const [name, lines] of [
    ['random command lines', commandLine],
    ['valid commands with one thing changed', mutatedCommand],
  ] as const) {
    it(`accepts exactly what the zod schemas accept: ${name}`, () => {
      fc.assert(
        fc.property(lines, (text) => {
          expect(readCommand(text, true).ok, text).toBe(nativeSchemaAccepts(text));
          expect(readOsctldCommand(text).ok, text).toBe(osctldSchemaAccepts(text));
        }),
        { numRuns: 3000 },
      );
    });
  }

  it('leaves the reason for a schema refusal to parseCommand, which asks zod', () => {
    const text = '{"cmd":"event_subscribe","opts":{"since":-1}}';
    expect(readCommand(text)).toEqual({ ok: false, why: 'schema' });
    expect(parseCommand(text)).toEqual({ ok: false, message: expect.stringMatching(/^Invalid event_subscribe command: opts\.since /) });
  });
});
