// The osctld-compatible events socket, held to what osctl's client (osctl/lib/osctl/client.rb,
// cli/event.rb) does: it reads one greeting line first, sends event_subscribe, takes the first
// line after it as the reply, then reads events framed {"status":true,"response":{type,opts}}.
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OSCTLD_CALL_SITES } from '../fixtures/osctld-call-sites.js';
import { LineClient } from '../helpers/client.js';
import { TestDaemon } from '../helpers/daemon.js';

let daemon: TestDaemon;

beforeAll(async () => {
  daemon = await TestDaemon.start({ osctld: true });
});
afterAll(() => daemon.cleanup());

const VERSION = (await import('../../package.json', { with: { type: 'json' } })).default.version;
const state = (id: string, value = 'running') => ({ type: 'state', opts: { pool: 'tank', id, state: value } });
const framed = (report: { type: string; opts: unknown }) => ({ status: true, response: { type: report.type, opts: report.opts } });

/** Connects as osctl does: the greeting first, then event_subscribe and its reply. */
async function osctlSubscribe(opts: Record<string, unknown> = {}): Promise<LineClient> {
  const client = await LineClient.connect(daemon.osctldSocket);
  expect(await client.nextJson()).toStrictEqual({ version: VERSION });
  client.sendJson({ cmd: 'event_subscribe', opts });
  expect(await client.nextJson()).toStrictEqual({ status: true, response: 'subscribed' });
  return client;
}

describe('osctld-compatible socket', () => {
  it('greets, sends nothing before event_subscribe, then every event in osctld framing', async () => {
    const client = await LineClient.connect(daemon.osctldSocket);
    expect(await client.nextJson()).toStrictEqual({ version: VERSION });
    // Attached to a worker before reporting: a bad command is answered by the worker.
    client.sendJson({ cmd: 'ct_list' });
    expect(await client.nextJson()).toStrictEqual({
      status: false,
      message: 'Expected event_subscribe, got unsupported command "ct_list": this osctld-compatible socket serves events only',
    });
    await daemon.report(state('1'));
    await client.expectSilence(200);
    client.sendJson({ cmd: 'event_subscribe', opts: {} });
    expect(await client.nextJson()).toStrictEqual({ status: true, response: 'subscribed' });
    await daemon.report(...OSCTLD_CALL_SITES.map(({ type, opts }) => ({ type, opts })));
    expect(await client.takeJson(OSCTLD_CALL_SITES.length)).toStrictEqual(OSCTLD_CALL_SITES.map(framed));
    client.destroy();
  });

  it("filters with osctld's semantics and ignores keys it does not know (osctl's cli)", async () => {
    const ct = await osctlSubscribe({ type: 'state', opts: { id: ['101', '103'] }, cli: 'osctl ct monitor 101 103' });
    const types = await osctlSubscribe({ type: ['db', 'ct_exit'] });
    const pool = await osctlSubscribe({ opts: { pool: 'other' } });
    const everything = await osctlSubscribe({ cli: 'osctl monitor' });
    const reports: { type: string; opts: Record<string, unknown> }[] = [
      state('101'),
      state('102'),
      { type: 'db', opts: { object: 'idrange', pool: 'tank', id: 'default', action: 'add' } },
      state('103', 'error'),
    ];
    reports.push({ type: 'ct_exit', opts: { pool: 'other', id: '9', exit_type: 'halt' } });
    await daemon.report(...reports);
    expect(await ct.takeJson(2)).toStrictEqual([framed(reports[0]!), framed(reports[3]!)]);
    expect(await types.takeJson(2)).toStrictEqual([framed(reports[2]!), framed(reports[4]!)]);
    expect(await pool.takeJson(1)).toStrictEqual([framed(reports[4]!)]);
    expect(await everything.takeJson(5)).toStrictEqual(reports.map(framed));
    await Promise.all([ct, types, pool, everything].map((client) => client.expectSilence(200)));
    for (const client of [ct, types, pool, everything]) client.destroy();
  });

  it('answers bad input with one status:false line and keeps serving', async () => {
    const client = await LineClient.connect(daemon.osctldSocket);
    await client.nextJson();
    const published = (await daemon.stats()).events_published;
    const bad: [string, string][] = [
      ['not json', 'Line is not valid JSON: '],
      ['[1]', 'A command must be a JSON object like {"cmd":"event_subscribe","opts":{}}'],
      ['{"opts":{}}', 'Expected event_subscribe, got no "cmd" field: this osctld-compatible socket serves events only'],
      ['{"cmd":"event_subscribe","opts":{"type":"stat"}}', 'Invalid event_subscribe command: opts.type '],
      ['{"cmd":"event_subscribe","opts":{"opts":{"id":{"x":1}}}}', 'Invalid event_subscribe command: opts.opts.id '],
      ['{"type":"state","opts":{"pool":"tank","id":"1","state":"running"}}', 'Expected event_subscribe, got no "cmd" field'],
    ];
    for (const [line] of bad) client.send(`${line}\n`);
    for (const [, message] of bad) {
      const reply = await client.nextJson<{ status: boolean; message: string }>();
      expect(reply.status).toBe(false);
      expect(reply.message.startsWith(message)).toBe(true);
    }
    // A report sent here was not published, and the connection still subscribes.
    expect((await daemon.stats()).events_published).toBe(published);
    client.sendJson({ cmd: 'event_subscribe', opts: { type: 'ct_exit' } });
    expect(await client.nextJson()).toStrictEqual({ status: true, response: 'subscribed' });
    const exit = { type: 'ct_exit', opts: { pool: 'tank', id: '5', exit_type: 'reboot' } };
    await daemon.report(exit);
    expect(await client.nextJson()).toStrictEqual(framed(exit));
    client.destroy();
  });

  it('takes 20 subscriptions made while events flow (one per ms): each reply comes first, then events without a gap', async () => {
    const producer = await daemon.producer();
    let n = 0;
    const timer = setInterval(() => producer.sendJson({ type: 'ct_init_pid', opts: { pool: 'flow', id: '1', init_pid: ++n } }), 1);
    try {
      const clients = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          await new Promise((resolve) => setTimeout(resolve, i * 5));
          return osctlSubscribe({ type: 'ct_init_pid' });
        }),
      );
      const received = await Promise.all(clients.map((client) => client.takeJson<{ response: { opts: { init_pid: number } } }>(20)));
      for (const events of received) {
        const pids = events.map((event) => event.response.opts.init_pid);
        expect(pids).toStrictEqual(Array.from({ length: 20 }, (_, i) => pids[0]! + i));
      }
      for (const client of clients) client.destroy();
    } finally {
      clearInterval(timer);
      producer.destroy();
    }
  });

  it('is a 0660 socket, and absent unless asked for', async () => {
    expect(statSync(daemon.osctldSocket).mode & 0o777).toBe(0o660);
    const plain = await TestDaemon.start();
    try {
      expect(() => statSync(plain.osctldSocket)).toThrow(/ENOENT/);
      const ready = plain.logs.find((record) => record.msg === 'eventd ready')!;
      expect(ready).not.toHaveProperty('osctld_socket');
    } finally {
      await plain.cleanup();
    }
  });

  it('ends a subscription at shutdown as osctld does: the osctld_shutdown event, then status:false', async () => {
    const own = await TestDaemon.start({ osctld: true });
    try {
      const client = await LineClient.connect(own.osctldSocket);
      await client.nextJson();
      client.sendJson({ cmd: 'event_subscribe', opts: {} });
      await client.nextJson();
      const idle = await LineClient.connect(own.osctldSocket);
      await idle.nextJson();
      await own.stop('SIGTERM');
      expect(await client.takeJson(2)).toStrictEqual([
        { status: true, response: { type: 'osctld_shutdown', opts: { source: 'eventd' } } },
        { status: false, message: 'eventd is shutting down' },
      ]);
      await client.closed;
      expect(client.pending).toBe(0);
      // A client that never subscribed is just closed.
      await idle.closed;
      expect(idle.pending).toBe(0);
      expect((await own.exited).code).toBe(0);
    } finally {
      await own.cleanup();
    }
  });
});
