import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, eventOptsSchemas, illFormedAt } from '../../src/protocol/events.js';
import { parseReport } from '../../src/protocol/report.js';
import { OSCTLD_CALL_SITES } from '../fixtures/osctld-call-sites.js';
import { sampleReports } from '../helpers/daemon.js';

describe('parseReport', () => {
  it('accepts a valid report of every event type', () => {
    expect(Object.keys(sampleReports).sort()).toEqual([...EVENT_TYPES].sort());
    for (const report of Object.values(sampleReports)) {
      const result = parseReport(JSON.stringify(report));
      expect(result).toEqual({ ok: true, type: report.type, opts: report.opts });
    }
  });

  it('echoes a string or number ack', () => {
    expect(parseReport(JSON.stringify({ ...sampleReports.state, ack: 'a-1' }))).toMatchObject({ ok: true, ack: 'a-1' });
    expect(parseReport(JSON.stringify({ ...sampleReports.state, ack: 3 }))).toMatchObject({ ok: true, ack: 3 });
  });

  const cases: [string, unknown, string, { path: string; message: string }[]][] = [
    ['not JSON', '{"type":', 'Line is not valid JSON: ', []],
    ['not an object', '[1,2]', 'A report must be a JSON object like {"type":"state","opts":{...}}', []],
    ['null', 'null', 'A report must be a JSON object', []],
    ['no type', { opts: {} }, 'Report has no event type; known types: management,', [{ path: 'type', message: 'is required' }]],
    [
      'a command meant for the events socket',
      { cmd: 'stats' },
      'Commands such as {"cmd":"stats"} go to the events socket; this is the report socket, where each line is a report like {"type":"state","opts":{...}}',
      [{ path: 'cmd', message: 'is a command for the events socket' }],
    ],
    [
      'unknown type',
      { type: 'stat', opts: {} },
      'Unknown event type "stat"; known types: management, osctld_shutdown, state, db, ct_scheduled, ct_init_pid, ct_netif, ct_exit',
      [
        {
          path: 'type',
          message: 'must be one of management, osctld_shutdown, state, db, ct_scheduled, ct_init_pid, ct_netif, ct_exit (got "stat")',
        },
      ],
    ],
    [
      'missing field',
      { type: 'state', opts: { pool: 'tank', state: 'running' } },
      'Invalid state report: opts.id is required',
      [{ path: 'opts.id', message: 'is required' }],
    ],
    [
      'extra field',
      { type: 'state', opts: { pool: 'tank', id: '1', state: 'running', extra: 1 } },
      'Invalid state report: opts.extra is not a known field',
      [{ path: 'opts.extra', message: 'is not a known field (state has pool, id, state)' }],
    ],
    [
      'extra top-level field',
      { type: 'osctld_shutdown', opts: {}, seq: 5 },
      'Invalid osctld_shutdown report: seq is not a known field',
      [{ path: 'seq', message: 'is not a known field' }],
    ],
    [
      'wrong type',
      { type: 'ct_init_pid', opts: { pool: 'tank', id: '1', init_pid: '42' } },
      'Invalid ct_init_pid report: opts.init_pid must be a number (got "42")',
      [{ path: 'opts.init_pid', message: 'must be a number (got "42")' }],
    ],
    [
      'fractional integer',
      { type: 'ct_scheduled', opts: { pool: 'tank', id: '1', cpu_package_inuse: 1.5 } },
      'Invalid ct_scheduled report: opts.cpu_package_inuse must be an integer (got 1.5)',
      [{ path: 'opts.cpu_package_inuse', message: 'must be an integer (got 1.5)' }],
    ],
    [
      'huge integer',
      { type: 'ct_init_pid', opts: { pool: 'tank', id: '1', init_pid: 1e300 } },
      'Invalid ct_init_pid report: opts.init_pid must be at most 9007199254740991 (got 1e+300)',
      [{ path: 'opts.init_pid', message: 'must be at most 9007199254740991 (got 1e+300)' }],
    ],
    [
      'bad enum value',
      { type: 'ct_exit', opts: { pool: 'tank', id: '1', exit_type: 'poweroff' } },
      'Invalid ct_exit report: opts.exit_type must be one of "halt", "reboot" (got "poweroff")',
      [{ path: 'opts.exit_type', message: 'must be one of "halt", "reboot" (got "poweroff")' }],
    ],
    [
      'empty name',
      { type: 'state', opts: { pool: '', id: '1', state: 'running' } },
      'Invalid state report: opts.pool must not be empty',
      [{ path: 'opts.pool', message: 'must not be empty' }],
    ],
    [
      'number below minimum',
      { type: 'ct_init_pid', opts: { pool: 'tank', id: '1', init_pid: 0 } },
      'Invalid ct_init_pid report: opts.init_pid must be at least 1 (got 0)',
      [{ path: 'opts.init_pid', message: 'must be at least 1 (got 0)' }],
    ],
    [
      'new_name without rename',
      { type: 'ct_netif', opts: { pool: 't', id: '1', action: 'up', name: 'eth0', veth: 'v', new_name: 'x' } },
      'Invalid ct_netif report: opts.new_name is not a known field',
      [{ path: 'opts.new_name', message: 'is not a known field' }],
    ],
    [
      'rename without new_name',
      { type: 'ct_netif', opts: { pool: 't', id: '1', action: 'rename', name: 'eth0', veth: 'v' } },
      'Invalid ct_netif report: opts.new_name is required',
      [{ path: 'opts.new_name', message: 'is required' }],
    ],
    [
      'bad ack',
      { ...sampleReports.state, ack: { x: 1 } },
      'Invalid state report: ack must be a string or a number (got an object)',
      [{ path: 'ack', message: 'must be a string or a number (got an object)' }],
    ],
  ];

  for (const [name, input, message, issues] of cases) {
    it(`rejects ${name} with a readable message`, () => {
      const result = parseReport(typeof input === 'string' ? input : JSON.stringify(input));
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.message.startsWith(message)).toBe(true);
      expect(result.issues).toEqual(issues);
    });
  }

  it('counts several problems in one sentence', () => {
    const result = parseReport(JSON.stringify({ type: 'state', opts: { pool: 1, state: 'x' } }));
    expect(result).toMatchObject({
      ok: false,
      message:
        'Invalid state report: opts.pool must be a string (got 1); opts.id is required; opts.state must be one of "stopped", "starting", "running", "stopping", "aborting", "freezing", "frozen", "thawed", "error" (got "x")',
    });
    const many = parseReport(JSON.stringify({ type: 'ct_init_pid', opts: { a: 1, b: 2, c: 3 } }));
    expect(many).toMatchObject({
      ok: false,
      message:
        'Invalid ct_init_pid report: opts.pool is required; opts.id is required; opts.init_pid is required; opts.a is not a known field (ct_init_pid has pool, id, init_pid) (and 2 more problems)',
    });
  });

  it('echoes the ack of a rejected report when it can be read', () => {
    expect(parseReport('{"type":"nope","ack":"k"}')).toMatchObject({ ok: false, ack: 'k' });
    expect(parseReport('{"type":"state","opts":{},"ack":9}')).toMatchObject({ ok: false, ack: 9 });
  });

  it('keeps free-form management opts unchanged, __proto__ keys included', () => {
    const text =
      '{"type":"management","opts":{"id":"1","cmd":"user_passwd","opts":{"__proto__":{"x":1},"constructor":"c","n":1e3},"state":"done"}}';
    const result = parseReport(text);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(JSON.stringify(result.opts)).toBe(
      '{"id":"1","cmd":"user_passwd","opts":{"__proto__":{"x":1},"constructor":"c","n":1000},"state":"done"}',
    );
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('rejects __proto__ as an unknown field of a strict type', () => {
    const result = parseReport('{"type":"state","opts":{"pool":"t","id":"1","state":"running","__proto__":{}}}');
    expect(result.ok).toBe(false);
  });

  describe('well-formed Unicode only (a lone surrogate would stop Ruby subscribers)', () => {
    const LONE = 'must be well-formed Unicode (it holds a lone surrogate, e.g. "\\ud800" without its pair)';
    const refusedLines: [string, string, string][] = [
      ['in a name', '{"type":"ct_exit","opts":{"pool":"tank","id":"10\\ud800","exit_type":"halt"}}', 'opts.id'],
      ['in a low half', '{"type":"ct_netif","opts":{"pool":"tank","id":"1","action":"up","name":"e","veth":"\\udc00x"}}', 'opts.veth'],
      [
        'in free-form data',
        '{"type":"management","opts":{"id":1,"cmd":"x","opts":{"a":[0,{"b":"\\udfff"}]},"state":"run"}}',
        'opts.opts.a.1.b',
      ],
      ['in a free-form key', '{"type":"management","opts":{"id":1,"cmd":"x","opts":{"k\\ud800":1},"state":"run"}}', 'opts.opts.k\ufffd'],
      ['in a refused request', '{"type":"management","opts":{"id":null,"cmd":["\\ud800"],"opts":null,"state":"failed"}}', 'opts.cmd.0'],
    ];
    for (const [where, line, path] of refusedLines) {
      it(`refuses one ${where}, naming the field, in an error line every parser reads`, () => {
        const result = parseReport(line);
        expect(result).toMatchObject({ ok: false, reason: 'schema' });
        if (result.ok) return;
        expect(result.issues[0]).toEqual({ path, message: expect.stringContaining(LONE) as string });
        const reply = JSON.stringify({ status: false, message: result.message, issues: result.issues });
        // The error line itself holds no lone surrogate, escaped or not (Ruby reads it).
        expect(illFormedAt(JSON.parse(reply))).toBeUndefined();
      });
    }

    it('accepts a surrogate pair, escaped or not', () => {
      expect(parseReport('{"type":"state","opts":{"pool":"tank","id":"\\ud83d\\ude00","state":"running"}}')).toMatchObject({ ok: true });
      expect(parseReport('{"type":"state","opts":{"pool":"tank","id":"\u{1F600}","state":"running"}}')).toMatchObject({ ok: true });
    });
  });

  describe('pool names are ZFS pool names (bounded: pools are counted by name)', () => {
    for (const good of ['tank', 'Tank-2', 'a', 'rpool.ssd:1 x', `p${'o'.repeat(254)}`]) {
      it(`accepts ${JSON.stringify(good.slice(0, 20))}`, () => {
        expect(parseReport(JSON.stringify({ type: 'state', opts: { pool: good, id: '1', state: 'running' } })).ok).toBe(true);
      });
    }
    const bad: [string, string][] = [
      ['1tank', 'must be a ZFS pool name'],
      ['tank/ct', 'must be a ZFS pool name'],
      ['ta\nk', 'must be a ZFS pool name'],
      [`p${'o'.repeat(255)}`, 'must be at most 255 characters long'],
    ];
    for (const [pool, problem] of bad) {
      it(`refuses ${JSON.stringify(pool.slice(0, 20))}`, () => {
        const result = parseReport(JSON.stringify({ type: 'db', opts: { object: 'pool', pool, id: 'x', action: 'add' } }));
        expect(result).toMatchObject({ ok: false, message: expect.stringContaining(`opts.pool ${problem}`) as string });
      });
    }
  });

  it('derives every opts type from one schema module', () => {
    expect(Object.keys(eventOptsSchemas)).toEqual(EVENT_TYPES);
  });
});

describe("osctld's real reports (protocol 1.1)", () => {
  for (const { site, type, opts } of OSCTLD_CALL_SITES) {
    it(`accepts ${type} from ${site}`, () => {
      expect(parseReport(JSON.stringify({ type, opts }))).toStrictEqual({ ok: true, type, opts });
    });
  }

  it('still accepts protocol 1.0 reports: veth on every ct_netif action', () => {
    for (const action of ['add', 'remove', 'down']) {
      expect(parseReport(JSON.stringify({ type: 'ct_netif', opts: { pool: 't', id: '1', action, name: 'eth0', veth: 'v' } })).ok).toBe(
        true,
      );
    }
  });

  // Loosened exactly where osctld needs it, nowhere else.
  const refused: [string, Record<string, unknown>, string][] = [
    ['ct_netif up without veth', { type: 'ct_netif', opts: { pool: 't', id: '1', action: 'up', name: 'eth0' } }, 'opts.veth is required'],
    ['an unknown db object', { type: 'db', opts: { object: 'volume', pool: 't', id: '1', action: 'add' } }, 'opts.object must be one of'],
    ['an unknown container state', { type: 'state', opts: { pool: 't', id: '1', state: 'staged' } }, 'opts.state must be one of'],
    [
      'management without an id that did not fail',
      { type: 'management', opts: { id: null, cmd: 'ct_start', opts: {}, state: 'run' } },
      'opts.state must be "failed" when id is null (osctld refused the request before giving it an id) (got "run")',
    ],
    [
      'management with an id but no cmd',
      { type: 'management', opts: { id: 4, cmd: null, opts: null, state: 'done' } },
      'opts.cmd must be a string (got null)',
    ],
    [
      'management with an id and array opts',
      { type: 'management', opts: { id: 4, cmd: 'ct_start', opts: [1], state: 'run' } },
      'opts.opts must be an object (got an array)',
    ],
    ['management without the cmd key', { type: 'management', opts: { id: null, opts: null, state: 'failed' } }, 'opts.cmd is required'],
    [
      'management with an unknown key',
      { type: 'management', opts: { id: null, cmd: 'x', opts: null, state: 'failed', cli: 'x' } },
      'opts.cli is not a known field',
    ],
    [
      'management with a boolean id',
      { type: 'management', opts: { id: true, cmd: 'x', opts: {}, state: 'run' } },
      'opts.id must be a string or a number (got true)',
    ],
  ];
  for (const [name, report, problem] of refused) {
    it(`still refuses ${name}`, () => {
      const result = parseReport(JSON.stringify(report));
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.message.startsWith(`Invalid ${String(report.type)} report: ${problem}`)).toBe(true);
    });
  }

  it('refuses a number JSON cannot hold anywhere in a management report', () => {
    const text = '{"type":"management","opts":{"id":null,"cmd":1e400,"opts":null,"state":"failed"}}';
    expect(parseReport(text)).toMatchObject({
      ok: false,
      message: 'Invalid management report: opts.cmd is a number too large to represent',
    });
    const nested = '{"type":"management","opts":{"id":null,"cmd":{"a":[1e400]},"opts":null,"state":"failed"}}';
    expect(parseReport(nested)).toMatchObject({
      ok: false,
      message: 'Invalid management report: opts.cmd.a.0 is a number too large to represent',
    });
  });
});
