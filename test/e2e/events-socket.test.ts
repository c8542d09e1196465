// The events socket over real Unix sockets against the real daemon.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/client.js';
import { sampleReports, TestDaemon } from '../helpers/daemon.js';

let daemon: TestDaemon;

beforeAll(async () => {
  daemon = await TestDaemon.start({ args: ['--history', '5'] });
});
afterAll(() => daemon.cleanup());

const state = (id: string, value = 'running') => ({ type: 'state', opts: { pool: 'tank', id, state: value } });

describe('events socket', () => {
  it('sends every event to a client that sends nothing', async () => {
    const client = await LineClient.connect(daemon.eventsSocket);
    // The stats reply proves a worker owns the connection before anything is reported.
    client.sendJson({ cmd: 'stats' });
    expect(await client.nextJson()).toMatchObject({ status: true });
    const seqs = await daemon.report(sampleReports.state, sampleReports.db, sampleReports.ct_exit);
    const events = await client.takeJson(3);
    expect(events.map((event) => [event.seq, event.type])).toEqual([
      [seqs[0], 'state'],
      [seqs[1], 'db'],
      [seqs[2], 'ct_exit'],
    ]);
    client.destroy();
  });

  it('filters by one type, a list of types, and opts values or lists of values', async () => {
    const one = await daemon.subscriber({ type: 'db' });
    const list = await daemon.subscriber({ type: ['state', 'ct_exit'] });
    const byOpts = await daemon.subscriber({ opts: { pool: 'tank', id: ['101', '102'] } });
    const both = await daemon.subscriber({ type: 'state', opts: { id: '102' } });
    await daemon.report(state('101'), sampleReports.db, state('102'), state('103'), sampleReports.ct_exit, sampleReports.osctld_shutdown);
    const summary = (events: Record<string, any>[]) => events.map((event) => `${event.type}:${event.opts.id ?? ''}`);
    expect(summary(await one.takeJson(1))).toEqual(['db:101']);
    expect(summary(await list.takeJson(4))).toEqual(['state:101', 'state:102', 'state:103', 'ct_exit:101']);
    expect(summary(await byOpts.takeJson(4))).toEqual(['state:101', 'db:101', 'state:102', 'ct_exit:101']);
    expect(summary(await both.takeJson(1))).toEqual(['state:102']);
    await Promise.all([one, list, byOpts, both].map((client) => client.expectSilence(200)));
    for (const client of [one, list, byOpts, both]) client.destroy();
  });

  it('frames events as osctld does with format "osctld"', async () => {
    const client = await daemon.subscriber({ format: 'osctld', type: 'state' });
    await daemon.report(state('7', 'stopped'));
    expect(await client.next()).toBe('{"status":true,"response":{"type":"state","opts":{"pool":"tank","id":"7","state":"stopped"}}}');
    client.destroy();
  });

  it('replays history after since, says how many were evicted, then continues live without gap or duplicate', async () => {
    const seqs = await daemon.report(...Array.from({ length: 8 }, (_, i) => state(`h${i}`)));
    const last = seqs[7]!;
    const client = await LineClient.connect(daemon.eventsSocket);
    // History keeps 5: last-4..last. Asking from last-7 misses last-6 and last-5.
    client.sendJson({ cmd: 'event_subscribe', opts: { since: last - 7 } });
    expect(await client.nextJson()).toStrictEqual({ status: true, response: 'subscribed', run: expect.any(String), missed: 2 });
    const replayed = await client.takeJson(5);
    expect(replayed.map((event) => event.seq)).toEqual([last - 4, last - 3, last - 2, last - 1, last]);
    const [live] = await daemon.report(state('live'));
    expect(await client.nextJson()).toMatchObject({ seq: live, opts: { id: 'live' } });
    await client.expectSilence(200);

    // Within history: no "missed".
    const again = await LineClient.connect(daemon.eventsSocket);
    again.sendJson({ cmd: 'event_subscribe', opts: { since: live! - 1, type: 'state' } });
    expect(await again.nextJson()).toStrictEqual({ status: true, response: 'subscribed', run: expect.any(String) });
    expect(await again.nextJson()).toMatchObject({ seq: live });
    client.destroy();
    again.destroy();
  });

  it('joins a busy stream with since and loses or repeats nothing', async () => {
    const watcher = await daemon.subscriber();
    const producer = await daemon.producer();
    const total = 3000;
    let sent = 0;
    const pump = async () => {
      while (sent < total) {
        const lines = Array.from({ length: 100 }, (_, i) => JSON.stringify(state(`busy${sent + i}`))).join('\n');
        producer.send(`${lines}\n`);
        sent += 100;
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const pumping = pump();
    // Subscribe with since partway through: replay and live must join exactly.
    const first = await watcher.nextJson<{ seq: number }>();
    const joiner = await LineClient.connect(daemon.eventsSocket);
    joiner.sendJson({ cmd: 'event_subscribe', opts: { since: first.seq } });
    await pumping;
    // Until the reply, a connection gets the default (everything) subscription.
    let reply = await joiner.nextJson();
    while (reply.status === undefined) reply = await joiner.nextJson();
    expect(reply.status).toBe(true);
    const rest = await watcher.takeJson<{ seq: number }>(total - 1);
    const lastSeq = rest[rest.length - 1]!.seq;
    // History is 5 events, so a long replay may report missed events; everything after is contiguous.
    const missed = (reply.missed as number | undefined) ?? 0;
    const joined = await joiner.takeJson<{ seq: number }>(lastSeq - first.seq - missed);
    expect(joined.map((event) => event.seq)).toEqual(Array.from({ length: joined.length }, (_, i) => first.seq + missed + 1 + i));
    await joiner.expectSilence(200);
    producer.destroy();
    watcher.destroy();
    joiner.destroy();
  });

  it('answers stats with per-worker subscribers and the counters', async () => {
    const stats = await daemon.stats();
    expect(stats).toMatchObject({
      pid: daemon.pid,
      workers: [expect.objectContaining({ worker: 0, restarts: 0 }), expect.objectContaining({ worker: 1, restarts: 0 })],
      events_published: expect.any(Number),
      lines_rejected: expect.any(Number),
      subscribers_dropped_slow: 0,
      producers_paused: 0,
      history: { capacity: 5, retained: 5, first_seq: stats.events_published - 4, last_seq: stats.events_published },
    });
    expect(stats.subscribers).toBe(stats.workers.reduce((sum: number, w: { subscribers: number }) => sum + w.subscribers, 0));
  });

  it('rejects anything but its commands with a clear error and stays open', async () => {
    const client = await LineClient.connect(daemon.eventsSocket);
    const before = (await daemon.stats()).events_published;
    client.send(
      '{"type":"state","opts":{"pool":"tank","id":"1","state":"running"}}\nnot json\n{"cmd":"event_subscribe","opts":{"type":"stat"}}\n{"cmd":"event_subscribe","opts":{"bogus":1}}\n',
    );
    expect(await client.takeJson(4)).toEqual([
      {
        status: false,
        message: 'Expected a command (event_subscribe, stats, metrics), got no "cmd" field; the events socket does not accept reports',
      },
      { status: false, message: expect.stringMatching(/^Line is not valid JSON: /) },
      { status: false, message: expect.stringMatching(/^Invalid event_subscribe command: opts\.type /) },
      { status: false, message: 'Invalid event_subscribe command: opts.bogus is not a known field' },
    ]);
    client.send(Buffer.from([0xff, 0x0a]));
    expect(await client.nextJson()).toEqual({ status: false, message: 'Line is not valid UTF-8' });
    client.sendJson({ cmd: 'event_subscribe', opts: { type: 'ct_exit' } });
    expect(await client.nextJson()).toEqual({ status: true, response: 'subscribed', run: expect.any(String) });
    // A subscriber cannot publish.
    expect((await daemon.stats()).events_published).toBe(before);
    client.destroy();
  });
});
