// A record to a worker's subscribers over real Unix sockets: straight from its bytes to those that
// take it whole, through a copy to the others, and never an event twice or out of order.
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BatchView, encodeBatch, type EventBatch } from '../../src/ipc/batch.js';
import { eventTypeCode, type EventOpts, type EventType } from '../../src/protocol/events.js';
import { eventLine } from '../../src/protocol/wire.js';
import { RecordDelivery, type RecordCopy } from '../../src/worker/delivery.js';
import { Subscriber, type SubscriberHost } from '../../src/worker/subscriber.js';
import { TestHistory } from '../helpers/history.js';
import { socketPair } from '../helpers/socket-pair.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Events seq … seq+count-1, alternating state and db. */
function events(firstSeq: number, count: number): EventBatch {
  const types: EventType[] = Array.from({ length: count }, (_, i) => ((firstSeq + i) % 2 === 0 ? 'state' : 'db'));
  const lines = types.map((type, i) => {
    const id = String(firstSeq + i);
    const opts: EventOpts =
      type === 'state' ? { pool: 'tank', id, state: 'running' } : { object: 'container', pool: 'tank', id, action: 'add' };
    return eventLine(firstSeq + i, '2026-12-07T06:00:00.000Z', type, opts);
  });
  return encodeBatch(
    firstSeq,
    lines,
    types.map((type) => eventTypeCode(type)),
  );
}

/** A worker stand-in: `since` replays answered from `history`, each saying the worker has read up to `readUpTo`. */
function host(history: TestHistory, readUpTo: () => number): SubscriberHost {
  return {
    maxLineBytes: 65536,
    lineTimeoutMs: 60_000,
    maxPendingBytes: 64 * 1024 * 1024,
    faultInjection: false,
    version: 'test',
    run: 'run-1',
    requestReplay(subscriber, since) {
      setImmediate(() => {
        const { batch, missed } = history.after(since, 64 * 1024);
        subscriber.replay(new BatchView(batch), readUpTo(), missed);
      });
    },
    seqAtTime: async () => 1,
    requestStats: () => {},
    requestCommand: () => {},
    crash: () => {},
    block: () => {},
    closed: () => {},
  };
}

/** Once the socket has handed everything queued on it to the kernel. */
async function drained(socket: Socket): Promise<void> {
  if (socket.writableLength > 0) await once(socket, 'drain');
}

/** Delivers `batch` as the worker does, counting the copies made and the loans still out. */
function deliverer() {
  const delivery = new RecordDelivery();
  const counts = { copies: 0, lent: 0 };
  return {
    counts,
    deliver(subscribers: Subscriber[], batch: EventBatch): void {
      delivery.deliver(subscribers, batch.firstSeq, batch.bytes, (): RecordCopy => {
        counts.copies++;
        counts.lent++;
        return { view: new BatchView(batch), loan: { add: () => counts.lent++, done: () => counts.lent-- } };
      });
    },
  };
}

describe('RecordDelivery', () => {
  it('sends a record to subscribers that take it whole without copying it, and gives filtered ones theirs from one copy', async () => {
    const history = new TestHistory(1000);
    const h = host(history, () => history.lastSeq);
    const plain = await Promise.all([socketPair(cleanups), socketPair(cleanups)]);
    const filtered = await socketPair(cleanups);
    const subscribers = [...plain, filtered].map(({ server }, i) => new Subscriber(i + 1, server, h));
    filtered.client.sendJson({ cmd: 'event_subscribe', opts: { type: 'state' } });
    expect(await filtered.client.nextJson()).toMatchObject({ status: true, response: 'subscribed' });
    const { counts, deliver } = deliverer();

    deliver(subscribers.slice(0, 2), events(1, 10));
    expect(counts.copies).toBe(0);
    deliver(subscribers, events(11, 10));
    expect(counts.copies).toBe(1);

    for (const { client } of plain) {
      const seqs = (await client.takeJson<{ seq: number }>(20)).map((event) => event.seq);
      expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    }
    const states = await filtered.client.takeJson<{ seq: number; type: string }>(5);
    expect(states.map((event) => [event.seq, event.type])).toEqual([12, 14, 16, 18, 20].map((seq) => [seq, 'state']));
    // The copy's memory is handed back once the filtered subscriber's socket has written it.
    expect(counts.lent).toBe(0);
  });

  it('sends only what a `since` replay did not cover of a record it partly covered', async () => {
    const history = new TestHistory(1000);
    history.append(events(1, 55));
    // The worker had read up to 55 when the replay's chunk came; the next live record starts at 51.
    const h = host(history, () => 55);
    const { server, client } = await socketPair(cleanups);
    const subscriber = new Subscriber(1, server, h);
    client.sendJson({ cmd: 'event_subscribe', opts: { since: 50 } });
    expect(await client.nextJson()).toMatchObject({ status: true, response: 'subscribed' });
    const replayed = await client.takeJson<{ seq: number }>(5);
    const { counts, deliver } = deliverer();
    deliver([subscriber], events(51, 10));
    // Once the socket has written the cut record, the next goes whole again.
    await drained(server);
    deliver([subscriber], events(61, 6));
    const seqs = [...replayed, ...(await client.takeJson<{ seq: number }>(11))].map((event) => event.seq);
    // Every event once, in order: 51–55 not again, and nothing before 66 after it.
    expect(seqs).toEqual(Array.from({ length: 16 }, (_, i) => 51 + i));
    expect(client.pending).toBe(0);
    // Only the partly covered record needed a copy (to cut it); the next went whole.
    expect(counts.copies).toBe(1);
  });

  it('queues what a full socket did not take behind what it took, and writes straight again once it has drained', async () => {
    const history = new TestHistory(1000);
    const { server, client } = await socketPair(cleanups);
    client.socket.pause();
    const subscriber = new Subscriber(
      1,
      server,
      host(history, () => history.lastSeq),
    );
    const { counts, deliver } = deliverer();
    let seq = 1;
    // Until the kernel's buffers are full and the socket's stream holds the rest.
    while (server.writableLength === 0) {
      deliver([subscriber], events(seq, 500));
      seq += 500;
    }
    const copiesWhenFull = counts.copies;
    expect(copiesWhenFull).toBeGreaterThan(0);
    deliver([subscriber], events(seq, 500));
    seq += 500;
    // Queued behind the stream: a copy, not a direct send.
    expect(counts.copies).toBe(copiesWhenFull + 1);
    client.socket.resume();
    const got = await client.takeJson<{ seq: number }>(seq - 1, 30_000);
    expect(got.every((event, i) => event.seq === i + 1)).toBe(true);
    await drained(server);
    expect(server.writableLength).toBe(0);
    expect(counts.lent).toBe(0);
    deliver([subscriber], events(seq, 3));
    expect(counts.copies).toBe(copiesWhenFull + 1);
    expect((await client.takeJson<{ seq: number }>(3)).map((event) => event.seq)).toEqual([seq, seq + 1, seq + 2]);
  });
});
