// Subscriber.replay in-process, over a real Unix socket pair: the `since` history arrives chunk by
// chunk while live events keep coming, and the client sees the reply, then every event once, in
// seq order. The host stands in for the worker (its history and its messages).
import { afterEach, describe, expect, it } from 'vitest';
import { TestHistory as EventHistory } from '../helpers/history.js';
import { BatchView, encodeBatch } from '../../src/ipc/batch.js';
import { parseCommandFor } from '../../src/protocol/parse-command.js';
import { eventTypeCode } from '../../src/protocol/events.js';
import { eventLine } from '../../src/protocol/wire.js';
import { Subscriber, type SubscriberHost } from '../../src/worker/subscriber.js';
import { socketPair as connectedPair } from '../helpers/socket-pair.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

const socketPair = () => connectedPair(cleanups);

/** The events seq..seq+count-1 as one batch. */
function events(firstSeq: number, count: number) {
  const lines = Array.from({ length: count }, (_, i) =>
    eventLine(firstSeq + i, '2026-11-29T12:00:00.000Z', 'ct_init_pid', { pool: 'tank', id: '1', init_pid: firstSeq + i }),
  );
  return encodeBatch(
    firstSeq,
    lines,
    lines.map(() => eventTypeCode('ct_init_pid')),
  );
}

/** A host whose replies come a turn later, as the main thread's messages do; chunks of `chunkBytes`. */
function host(history: EventHistory, chunkBytes: number, onReplayRequest: (since: number, first: boolean) => void = () => {}) {
  const requests: { since: number; first: boolean }[] = [];
  const closed: string[] = [];
  const asked: string[] = [];
  const h: SubscriberHost = {
    maxLineBytes: 65536,
    lineTimeoutMs: 60_000,
    maxPendingBytes: 8 * 1024 * 1024,
    faultInjection: false,
    version: 'test',
    run: 'run-1',
    requestReplay(subscriber, since, first) {
      requests.push({ since, first });
      onReplayRequest(since, first);
      setImmediate(() => {
        const { batch, missed } = history.after(since, chunkBytes);
        subscriber.replay(new BatchView(batch), history.lastSeq, missed);
      });
    },
    seqAtTime: async () => 1,
    requestStats: () => {},
    // As the worker does: the zod schemas read the line (loaded on first use), a turn later.
    requestCommand: (subscriber, text) => {
      asked.push(text);
      setImmediate(() => subscriber.commandParsed(parseCommandFor(subscriber.dialect, text)));
    },
    crash: () => {},
    block: () => {},
    closed: (_subscriber, reason) => closed.push(reason),
  };
  return { host: h, requests, closed, asked };
}

describe('Subscriber.replay', () => {
  it('replays in chunks while live events arrive: the reply, then every event once, in order', async () => {
    const history = new EventHistory(10_000);
    for (let seq = 1; seq <= 200; seq += 10) history.append(events(seq, 10));
    const made: { subscriber?: Subscriber } = {};
    let live = 201;
    // While each chunk is on its way, two more batches are published and delivered live.
    const { host: h, requests } = host(history, 1500, () => {
      for (let i = 0; i < 2; i++) {
        const batch = events(live, 3);
        live += 3;
        history.append(batch);
        made.subscriber!.deliver(new BatchView(batch));
      }
    });
    const { server, client } = await socketPair();
    const subscriber = new Subscriber(1, server, h);
    made.subscriber = subscriber;
    client.sendJson({ cmd: 'event_subscribe', opts: { since: 50 } });
    expect(await client.nextJson()).toEqual({ status: true, response: 'subscribed', run: expect.any(String) });
    // Everything after 50 that exists by the time the replay catches up, then live.
    const seqs: number[] = [];
    while (seqs.length < 150 || seqs.at(-1)! < live - 1) seqs.push((await client.nextJson<{ seq: number }>()).seq);
    const last = live - 1;
    const more = events(live, 2);
    subscriber.deliver(new BatchView(more));
    seqs.push((await client.nextJson<{ seq: number }>()).seq, (await client.nextJson<{ seq: number }>()).seq);
    expect(seqs).toEqual(Array.from({ length: last + 2 - 50 }, (_, i) => 51 + i));
    expect(requests.length).toBeGreaterThan(3);
    expect(requests[0]).toEqual({ since: 50, first: true });
    expect(requests.slice(1).every((request) => !request.first)).toBe(true);
  });

  it('says how many were evicted before it could replay them', async () => {
    const history = new EventHistory(20);
    for (let seq = 1; seq <= 100; seq += 10) history.append(events(seq, 10));
    const { host: h } = host(history, 64 * 1024);
    const { server, client } = await socketPair();
    new Subscriber(1, server, h);
    client.sendJson({ cmd: 'event_subscribe', opts: { since: 30 } });
    expect(await client.nextJson()).toEqual({ status: true, response: 'subscribed', run: expect.any(String), missed: 50 });
    const seqs = await client.takeJson<{ seq: number }>(20);
    expect(seqs.map((event) => event.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 81 + i));
  });

  it('drops a subscriber so slow that the history moved past what it had not read', async () => {
    const history = new EventHistory(30);
    for (let seq = 1; seq <= 30; seq += 10) history.append(events(seq, 10));
    let chunks = 0;
    // After the first chunk, 100 more events evict the rest of what it was to replay.
    const { host: h, closed } = host(history, 500, () => {
      if (chunks++ === 1) for (let seq = 31; seq <= 130; seq += 10) history.append(events(seq, 10));
    });
    const { server, client } = await socketPair();
    new Subscriber(1, server, h);
    client.sendJson({ cmd: 'event_subscribe', opts: { since: 0 } });
    expect(await client.nextJson()).toEqual({ status: true, response: 'subscribed', run: expect.any(String) });
    await client.closed;
    expect(closed).toEqual(['slow']);
  });
});

describe('Subscriber commands', () => {
  it('has the schemas say why a command is refused, and answers the lines after it in order', async () => {
    const { host: h, asked } = host(new EventHistory(10), 64 * 1024);
    const { server, client } = await socketPair();
    new Subscriber(1, server, h);
    client.send('{"cmd":"event_subscribe","opts":{"since":-1}}\n{"cmd":"nope"}\n{"cmd":"event_subscribe","opts":{"type":"state"}}\n');
    expect(await client.takeJson(3)).toEqual([
      { status: false, message: expect.stringMatching(/^Invalid event_subscribe command: opts\.since /) },
      { status: false, message: expect.stringMatching(/unknown command "nope"/) },
      { status: true, response: 'subscribed', run: expect.any(String) },
    ]);
    // Only the line its schema refused needed the zod schemas.
    expect(asked).toEqual(['{"cmd":"event_subscribe","opts":{"since":-1}}']);
  });

  it('reads osctl’s event_subscribe on the osctld socket with the zod-free check', async () => {
    const { host: h, asked } = host(new EventHistory(10), 64 * 1024);
    const { server, client } = await socketPair();
    new Subscriber(1, server, h, 'osctld');
    expect(await client.nextJson()).toEqual({ version: 'test' });
    client.send('{"cmd":"event_subscribe","opts":{"type":"nope"}}\n{"cmd":"event_subscribe","opts":{"cli":"x"}}\n');
    expect(await client.takeJson(2)).toEqual([
      { status: false, message: expect.stringMatching(/^Invalid event_subscribe command: opts\.type /) },
      { status: true, response: 'subscribed' },
    ]);
    expect(asked).toHaveLength(1);
  });

  it('answers a line the framer refuses in its turn, after a refusal the schemas are still working out', async () => {
    const { host: h } = host(new EventHistory(10), 64 * 1024);
    const { server, client } = await socketPair();
    new Subscriber(1, server, h);
    client.send(
      Buffer.concat([
        Buffer.from('{"cmd":"event_subscribe","opts":{"since":-1}}\n'),
        Buffer.from([0xff, 0x0a]),
        Buffer.from('{"cmd":"event_subscribe"}\n'),
      ]),
    );
    expect(await client.takeJson(3)).toEqual([
      { status: false, message: expect.stringMatching(/^Invalid event_subscribe command: /) },
      { status: false, message: 'Line is not valid UTF-8' },
      { status: true, response: 'subscribed', run: expect.any(String) },
    ]);
  });

  it('answers 16 refused lines at once, then holds each further one back 20 ms', async () => {
    const { host: h } = host(new EventHistory(10), 64 * 1024);
    const { server, client } = await socketPair();
    new Subscriber(1, server, h);
    const started = Date.now();
    client.send('oops\n'.repeat(16));
    await client.takeJson(16);
    const free = Date.now() - started;
    client.send(`${'oops\n'.repeat(5)}{"cmd":"event_subscribe"}\n`);
    const replies = await client.takeJson(6);
    // Five pauses at least (each refusal past the sixteenth holds the next line back).
    expect(Date.now() - started - free).toBeGreaterThanOrEqual(5 * 20 - 5);
    expect(replies.at(-1)).toEqual({ status: true, response: 'subscribed', run: expect.any(String) });
  });
});
