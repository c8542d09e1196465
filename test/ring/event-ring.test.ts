// The shared ring on its own: records written by several threads at once come out once each, in
// seq order, gap-free and byte for byte; space is reused only once every consumer is past it; the
// history between the tail and a consumer reads back, and a read the writers overtook says so.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { BatchBuilder } from '../../src/ipc/batch.js';
import { BatchView } from '../../src/ipc/batch.js';
import { EventRing, bytesFor, MAX_CONSUMERS } from '../../src/ring/event-ring.js';
import { copyRecord, readHistory, RingConsumer } from '../../src/ring/reader.js';
import { digitsOf, recordCrc } from '../../src/ring/record.js';

const T0 = Date.UTC(2026, 11, 6, 12, 0, 0);

function tails(lines: string[]) {
  const builder = new BatchBuilder();
  for (const line of lines) builder.add(line, 2);
  return builder.view();
}

function tail(id: string): string {
  return `"type":"state","opts":{"pool":"tank","id":"${id}","state":"running"}}\n`;
}

/** Every event a consumer reads, as [seq, line]. */
function drainAll(consumer: RingConsumer): [number, string][] {
  const out: [number, string][] = [];
  consumer.drain((record) => {
    const view = new BatchView(copyRecord(consumer.ring, record));
    for (let i = 0; i < view.count; i++) out.push([record.firstSeq + i, view.line(i)]);
  });
  return out;
}

describe('EventRing', () => {
  it('stamps each event with its seq and the record time, and carries a CRC of the record', () => {
    const ring = EventRing.create(1 << 16, { nextSeq: 9 });
    ring.join(0);
    const consumer = new RingConsumer(ring, 0);
    const written = ring.write(tails([tail('a'), tail('b'), tail('c')]), T0);
    expect(written).toEqual({ ok: true, firstSeq: 9, count: 3, end: expect.any(Number) as number });
    const events = drainAll(consumer);
    expect(events).toEqual([
      [9, `{"seq":9,"time":"2026-12-06T12:00:00.000Z",${tail('a')}`],
      [10, `{"seq":10,"time":"2026-12-06T12:00:00.000Z",${tail('b')}`],
      [11, `{"seq":11,"time":"2026-12-06T12:00:00.000Z",${tail('c')}`],
    ]);
    const record = ring.recordAt(ring.tail);
    expect(record).toMatchObject({ firstSeq: 9, count: 3 });
    if (typeof record !== 'object') return;
    expect(new Uint32Array(ring.bytes.buffer, record.offset + 28, 1)[0]).toBe(recordCrc(ring.bytes, record.offset, record.length));
    expect(ring.nextSeq).toBe(12);
  });

  it('counts seqs up through carries and a digit more within one record', () => {
    for (const first of [98, 1_098, 999_998]) {
      const ring = EventRing.create(1 << 16, { nextSeq: first });
      ring.join(0);
      const consumer = new RingConsumer(ring, 0);
      ring.write(tails([tail('a'), tail('b'), tail('c'), tail('d')]), T0);
      expect(drainAll(consumer).map(([seq, line]) => [seq, JSON.parse(line).seq])).toEqual(
        Array.from({ length: 4 }, (_, i) => [first + i, first + i]),
      );
    }
  });

  it('counts the digits of any run of seqs', () => {
    expect(digitsOf(1, 9)).toBe(9);
    expect(digitsOf(8, 5)).toBe(1 + 1 + 2 + 2 + 2);
    expect(digitsOf(99_999, 3)).toBe(5 + 6 + 6);
    expect(digitsOf(1, 1000)).toBe(9 + 90 * 2 + 900 * 3 + 4);
  });

  it('never lets time go backwards along seq', () => {
    const ring = EventRing.create(1 << 16);
    ring.join(0);
    const consumer = new RingConsumer(ring, 0);
    ring.write(tails([tail('a')]), T0 + 5000);
    ring.write(tails([tail('b')]), T0);
    expect(drainAll(consumer).map(([, line]) => JSON.parse(line).time)).toEqual(['2026-12-06T12:00:05.000Z', '2026-12-06T12:00:05.000Z']);
  });

  it('wraps with a filler, reuses space only past every active consumer, and keeps what it can as history', () => {
    const ring = EventRing.create(1 << 16);
    ring.join(0);
    ring.join(1);
    const fast = new RingConsumer(ring, 0);
    const slow = new RingConsumer(ring, 1);
    const batch = tails(Array.from({ length: 20 }, (_, i) => tail(`x${i}`)));
    const perRecord = bytesFor(batch, 1);
    let written = 0;
    // Until the slow consumer holds the space.
    for (;;) {
      const result = ring.write(batch, T0);
      if (!result.ok) {
        expect(result.why).toBe('full');
        break;
      }
      written += 20;
      drainAll(fast);
    }
    expect(written * (perRecord / 20)).toBeGreaterThan((1 << 16) - 2 * perRecord);
    const seen = drainAll(slow);
    expect(seen.map(([seq]) => seq)).toEqual(Array.from({ length: written }, (_, i) => i + 1));
    // Now both are past everything: writing goes on around the end, dropping the oldest from the tail.
    for (let i = 0; i < 10; i++) {
      expect(ring.write(batch, T0).ok).toBe(true);
      drainAll(fast);
      drainAll(slow);
    }
    expect(ring.tailSeq).toBeGreaterThan(1);
    expect(ring.heldBytes).toBeLessThanOrEqual(1 << 16);
    // The history from the tail reads back in order, up to what the consumer saw.
    const history = readHistory(ring, 0, slow.cursor, Number.POSITIVE_INFINITY);
    expect(history.firstSeq).toBe(ring.tailSeq);
    const seqs = history.batches.flatMap((b) => Array.from({ length: b.ends.length }, (_, i) => b.firstSeq + i));
    expect(seqs).toEqual(Array.from({ length: ring.nextSeq - ring.tailSeq }, (_, i) => ring.tailSeq + i));
    // A read from the middle starts at the event after `since`, within its record.
    const middle = ring.tailSeq + 25;
    const part = readHistory(ring, middle, slow.cursor, 1);
    expect(part.firstSeq).toBe(middle + 1);
    expect(part.batches[0]!.firstSeq).toBe(middle + 1);
    expect(new BatchView(part.batches[0]!).line(0)).toMatch(new RegExp(`^\\{"seq":${middle + 1},`));
  });

  it('lets a consumer that leaves stop holding space', () => {
    const ring = EventRing.create(1 << 16);
    ring.join(0);
    ring.join(MAX_CONSUMERS - 1);
    const batch = tails(Array.from({ length: 50 }, (_, i) => tail(`y${i}`)));
    while (ring.write(batch, T0).ok) new RingConsumer(ring, 0).drain(() => {});
    ring.leave(MAX_CONSUMERS - 1);
    expect(ring.write(batch, T0).ok).toBe(true);
  });

  it('is written by four threads at once: every event once, in seq order, each thread’s own in its order', async () => {
    const ring = EventRing.create(1 << 20);
    ring.join(0);
    const consumer = new RingConsumer(ring, 0);
    const perThread = 20_000;
    // On Node 20 a worker does not inherit tsx's loader: register it there before the fixture.
    const fixture = new URL('./ring-writer.fixture.ts', import.meta.url).href;
    const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(fixture)}); })`;
    const workers = Array.from(
      { length: 4 },
      (_, w) => new Worker(bootstrap, { eval: true, workerData: { handles: ring.handles, thread: w, count: perThread } }),
    );
    const seen: string[] = [];
    let last = 0;
    const done = Promise.all(workers.map((worker) => new Promise((resolve, reject) => worker.once('exit', resolve).once('error', reject))));
    let finished = false;
    void done.then(
      () => (finished = true),
      () => (finished = true),
    );
    while (!finished || consumer.cursor !== ring.head) {
      consumer.drain((record) => {
        expect(record.firstSeq).toBe(last + 1);
        const view = new BatchView(copyRecord(ring, record));
        for (let i = 0; i < view.count; i++) {
          const event = JSON.parse(view.line(i)) as { seq: number; opts: { id: string } };
          expect(event.seq).toBe(record.firstSeq + i);
          seen.push(event.opts.id);
        }
        last = record.firstSeq + record.count - 1;
      });
      await new Promise((resolve) => setImmediate(resolve));
    }
    await done;
    expect(seen).toHaveLength(4 * perThread);
    for (let w = 0; w < 4; w++) {
      const mine = seen.filter((id) => id.startsWith(`t${w}-`)).map((id) => Number(id.split('-')[1]));
      expect(mine).toEqual(Array.from({ length: perThread }, (_, i) => i));
    }
  }, 60_000);
});
