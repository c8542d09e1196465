// A thread's ingest in-process, over a real ring: what it writes (one record a turn, stamped),
// replies held in line order until their record is published (with a journal: durable), producers
// paused while the ring is full, and reports refused while the journal cannot write.
import { describe, expect, it } from 'vitest';
import { BatchView } from '../../src/ipc/batch.js';
import { Ingest, REFUSED_JOURNAL, type Outcome, type ReplyTarget, type WrittenCounts } from '../../src/ingest/ingest.js';
import { MAX_EVENT_PREFIX_BYTES, UnpublishableError } from '../../src/protocol/wire.js';
import { EventRing } from '../../src/ring/event-ring.js';
import { copyRecord, RingConsumer } from '../../src/ring/reader.js';

function ingest({ maxLineBytes = 1 << 20, ringBytes = 1 << 20, gated = false } = {}) {
  const ring = EventRing.create(ringBytes, { gated });
  ring.join(0);
  const written: WrittenCounts[] = [];
  const backlog: boolean[] = [];
  const i = new Ingest(ring, { written: (counts) => written.push(counts), backlog: (full) => backlog.push(full) }, maxLineBytes);
  return { ingest: i, ring, consumer: new RingConsumer(ring, 0), written, backlog };
}

const state = (id: string, pool = 'tank') => ({ pool, id, state: 'running' as const });
const ignore = () => {};
/** A reply target that hands each outcome to `reply`. */
const to = (reply: (outcome: Outcome) => void): ReplyTarget => ({ answered: (outcome) => reply(outcome) });

/** Every event line in the ring after the consumer's cursor. */
function lines(consumer: RingConsumer): string[] {
  const out: string[] = [];
  consumer.drain((record) => {
    const view = new BatchView(copyRecord(consumer.ring, record));
    for (let i = 0; i < view.count; i++) out.push(view.line(i));
  }, consumer.ring.head);
  return out;
}

describe('Ingest', () => {
  it('writes one record a turn, each line stamped with its seq, and counts it by type and pool first', () => {
    const { ingest: i, consumer, written } = ingest();
    i.add('state', state('1'), to(ignore), 0, undefined);
    // As a producer sent it: the bytes after its `{`, up to the end of opts.
    const sent = Buffer.from('{"type":"state","opts":{"pool":"ssd","id":"2","state":"running"},"ack":9}');
    i.addSpan('state', sent, 1, sent.indexOf(',"ack"'), 'ssd', to(ignore), 0, 9);
    i.add('osctld_shutdown', {}, to(ignore), 0, undefined);
    i.flush();
    const out = lines(consumer);
    expect(out.map((line) => JSON.parse(line) as Record<string, unknown>)).toMatchObject([
      { seq: 1, type: 'state', opts: state('1') },
      { seq: 2, type: 'state', opts: state('2', 'ssd') },
      { seq: 3, type: 'osctld_shutdown', opts: {} },
    ]);
    expect(written).toEqual([
      {
        types: [0, 1, 2, 0, 0, 0, 0, 0],
        pools: [
          ['tank', 1],
          ['ssd', 1],
        ],
      },
    ]);
  });

  it('gives each report its seq and runs every reply in line order once its record is published', () => {
    const { ingest: i } = ingest();
    const order: string[] = [];
    const ack = (outcome: Outcome) => order.push(`ack ${String(outcome)}`);
    i.add('state', state('1'), to(ack), 0, undefined);
    i.after(() => order.push('error line 2'));
    i.add('state', state('3'), to(ack), 0, undefined);
    expect(order).toEqual([]);
    i.flush();
    i.after(() => order.push('error line 4'));
    i.flush();
    expect(order).toEqual(['ack 1', 'error line 2', 'ack 2', 'error line 4']);
  });

  it('with a journal, answers once the journal says the record is durable, in order', () => {
    const { ingest: i, ring } = ingest({ gated: true });
    const order: string[] = [];
    i.add(
      'state',
      state('1'),
      to((outcome) => order.push(`ack ${String(outcome)}`)),
      0,
      undefined,
    );
    i.flush();
    i.after(() => order.push('error line 2'));
    i.flush();
    i.add(
      'state',
      state('3'),
      to((outcome) => order.push(`ack ${String(outcome)}`)),
      0,
      undefined,
    );
    i.flush();
    expect(order).toEqual([]);
    ring.setDurable(ring.head, 1);
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        expect(order).toEqual(['ack 1', 'error line 2']);
        ring.setDurable(ring.head, 2);
        setTimeout(() => {
          expect(order).toEqual(['ack 1', 'error line 2', 'ack 2']);
          resolve();
        }, 20);
      }, 20),
    );
  });

  it('refuses reports while the journal cannot write, answering them in their turn', () => {
    const { ingest: i, ring } = ingest();
    const outcomes: Outcome[] = [];
    ring.setJournalFailing(true);
    i.add(
      'state',
      state('1'),
      to((outcome) => outcomes.push(outcome)),
      0,
      undefined,
    );
    i.flush();
    expect(outcomes).toEqual([{ refused: REFUSED_JOURNAL }]);
    ring.setJournalFailing(false);
    i.add(
      'state',
      state('2'),
      to((outcome) => outcomes.push(outcome)),
      0,
      undefined,
    );
    i.flush();
    expect(outcomes.at(-1)).toBe(1);
  });

  it('pauses its producers while the ring is full, and writes what waited, in order, once there is room', async () => {
    const { ingest: i, consumer, backlog } = ingest({ ringBytes: 1 << 16 });
    const seqs: Outcome[] = [];
    for (let turn = 0; turn < 12; turn++) {
      for (let k = 0; k < 60; k++)
        i.add(
          'state',
          state(`${turn}-${k}`),
          to((outcome) => seqs.push(outcome)),
          0,
          undefined,
        );
      i.flush();
    }
    expect(backlog).toEqual([true]);
    expect(i.isFull).toBe(true);
    const seen: string[] = [];
    while (seen.length < 720) {
      seen.push(...lines(consumer).map((line) => (JSON.parse(line) as { opts: { id: string } }).opts.id));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(backlog).toEqual([true, false]);
    expect(seen).toEqual(Array.from({ length: 720 }, (_, n) => `${Math.floor(n / 60)}-${n % 60}`));
    expect(seqs).toEqual(Array.from({ length: 720 }, (_, n) => n + 1));
  });

  it('refuses a report whose event could pass the line limit with its longest seq and time, taking nothing', () => {
    const limit = 200;
    const { ingest: i, ring } = ingest({ maxLineBytes: limit });
    const tail = `"type":"state","opts":${JSON.stringify(state(''))}}`.length;
    const fits = 'x'.repeat(limit - MAX_EVENT_PREFIX_BYTES - tail);
    expect(() => i.add('state', state(fits), to(ignore), 0, undefined)).not.toThrow();
    expect(() => i.add('state', state(`${fits}x`), to(ignore), 0, undefined)).toThrow(UnpublishableError);
    // The same bounds for a report taken as its producer sent it.
    for (const id of [fits, `${fits}x`]) {
      const sent = Buffer.from(JSON.stringify({ type: 'state', opts: state(id) }));
      const adding = () => i.addSpan('state', sent, 1, sent.length - 1, 'tank', to(ignore), 0, undefined);
      if (id === fits) expect(adding).not.toThrow();
      else expect(adding).toThrow(UnpublishableError);
    }
    i.flush();
    expect(ring.nextSeq).toBe(3);
  });

  it('publishes the daemon’s own event at once, with its seq', () => {
    const { ingest: i, consumer } = ingest();
    expect(i.publishNow('osctld_shutdown', { source: 'eventd' } as never)).toBe(1);
    expect(lines(consumer)).toEqual([
      expect.stringMatching(/^\{"seq":1,"time":"[^"]+","type":"osctld_shutdown","opts":\{"source":"eventd"\}\}\n$/),
    ]);
  });
});
