import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/protocol/parse-command.js';
import { compileFilter, MATCH_ALL, matchesOpts, matchesType } from '../../src/protocol/filter.js';

describe('filters', () => {
  it('match one type or a list of types', () => {
    expect(matchesType(compileFilter({ type: 'state' }), 'state')).toBe(true);
    expect(matchesType(compileFilter({ type: 'state' }), 'db')).toBe(false);
    expect(matchesType(compileFilter({ type: ['state', 'db'] }), 'db')).toBe(true);
    expect(matchesType(compileFilter(undefined), 'ct_exit')).toBe(true);
  });

  it('are MATCH_ALL itself when they set no condition, so that a worker sends records whole', () => {
    expect(compileFilter(undefined)).toBe(MATCH_ALL);
    expect(compileFilter({})).toBe(MATCH_ALL);
    expect(compileFilter({ since: 50, opts: {} })).toBe(MATCH_ALL);
    expect(compileFilter({ type: 'state' })).not.toBe(MATCH_ALL);
  });

  it('match every opts key by equality or membership', () => {
    const filter = compileFilter({ opts: { pool: 'tank', id: ['101', '102'] } });
    expect(matchesOpts(filter, { pool: 'tank', id: '102', state: 'running' })).toBe(true);
    expect(matchesOpts(filter, { pool: 'tank', id: '103' })).toBe(false);
    expect(matchesOpts(filter, { pool: 'other', id: '101' })).toBe(false);
    expect(matchesOpts(filter, { id: '101' })).toBe(false);
  });

  it('take a thousand values per key, matched by set membership (strict: "101" is not 101)', () => {
    const ids = Array.from({ length: 1024 }, (_, i) => String(i));
    const filter = compileFilter({ opts: { id: ids, n: [1, null, true] } });
    expect(matchesOpts(filter, { id: '1023', n: null })).toBe(true);
    expect(matchesOpts(filter, { id: 1023, n: 1 })).toBe(false);
    expect(matchesOpts(filter, { id: '5', n: 'true' })).toBe(false);
  });

  it('are bounded in size, with a clear error', () => {
    const tooMany = { cmd: 'event_subscribe', opts: { opts: { id: Array.from({ length: 1025 }, (_, i) => String(i)) } } };
    expect(parseCommand(JSON.stringify(tooMany))).toEqual({
      ok: false,
      message: 'Invalid event_subscribe command: opts.opts.id must list at most 1024 values (got an array)',
    });
    const keys = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v']));
    expect(parseCommand(JSON.stringify({ cmd: 'event_subscribe', opts: { opts: keys } }))).toEqual({
      ok: false,
      message: 'Invalid event_subscribe command: opts.opts must have at most 32 keys (got an object)',
    });
  });

  it('do not match inherited properties', () => {
    const filter = compileFilter({ opts: { toString: 'x' } });
    expect(matchesOpts(filter, {})).toBe(false);
  });
});

describe('parseCommand', () => {
  it('accepts the documented commands', () => {
    expect(parseCommand('{"cmd":"stats"}')).toEqual({ ok: true, command: { cmd: 'stats' } });
    const sub = '{"cmd":"event_subscribe","opts":{"type":["state","db"],"opts":{"pool":"tank"},"since":4,"format":"osctld"}}';
    expect(parseCommand(sub)).toEqual({ ok: true, command: JSON.parse(sub) });
  });

  it('says why anything else is refused', () => {
    expect(parseCommand('{"type":"state","opts":{}}')).toEqual({
      ok: false,
      message: 'Expected a command (event_subscribe, stats, metrics), got no "cmd" field; the events socket does not accept reports',
    });
    expect(parseCommand('{"cmd":"publish"}')).toMatchObject({ ok: false, message: expect.stringContaining('unknown command "publish"') });
    expect(parseCommand('{"cmd":"event_subscribe","opts":{"type":"nope"}}')).toMatchObject({
      ok: false,
      message: expect.stringContaining('Invalid event_subscribe command: opts.type'),
    });
    expect(parseCommand('{"cmd":"event_subscribe","opts":{"since":-1}}')).toMatchObject({
      ok: false,
      message: 'Invalid event_subscribe command: opts.since must be at least 0 (got -1)',
    });
    expect(parseCommand('{"cmd":"debug_crash_worker"}')).toMatchObject({ ok: false });
    expect(parseCommand('{"cmd":"debug_crash_worker"}', true)).toEqual({ ok: true, command: { cmd: 'debug_crash_worker' } });
    expect(parseCommand('{"cmd":"debug_block_worker","ms":500}', true)).toEqual({
      ok: true,
      command: { cmd: 'debug_block_worker', ms: 500 },
    });
    expect(parseCommand('{"cmd":"debug_block_worker"}', true)).toMatchObject({
      ok: false,
      message: 'Invalid debug_block_worker command: ms is required',
    });
    expect(parseCommand('{"cmd":"debug_block_worker","ms":500}')).toMatchObject({ ok: false });
  });
});
