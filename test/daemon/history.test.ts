import { describe, expect, it } from 'vitest';
import { BatchView, encodeBatch } from '../../src/ipc/batch.js';
import { EventHistory } from '../../src/daemon/history.js';

/** A history fed `count` events in batches of `perBatch`, as the publisher does once per turn. */
function filled(capacity: number, count: number, perBatch = 1): EventHistory {
  const history = new EventHistory(capacity);
  for (let first = 1; first <= count; first += perBatch) {
    const seqs = Array.from({ length: Math.min(perBatch, count - first + 1) }, (_, i) => first + i);
    history.append(
      encodeBatch(
        first,
        seqs.map((seq) => `line${seq}\n`),
        seqs.map((seq) => seq % 8),
      ),
    );
  }
  return history;
}

function seqsOf(history: EventHistory, since: number) {
  const replay = history.after(since);
  const view = new BatchView(replay.batch);
  const lines = Array.from({ length: view.count }, (_, i) => view.line(i));
  // Type codes travel with their lines.
  Array.from({ length: view.count }, (_, i) => expect(replay.batch.types[i]).toBe((replay.batch.firstSeq + i) % 8));
  return { lines, first: replay.batch.firstSeq, missed: replay.missed };
}

describe('EventHistory', () => {
  for (const perBatch of [1, 4]) {
    describe(`fed ${perBatch} event(s) per batch`, () => {
      it('replays everything after since while nothing was evicted', () => {
        expect(seqsOf(filled(10, 5, perBatch), 2)).toEqual({ lines: ['line3\n', 'line4\n', 'line5\n'], first: 3, missed: 0 });
        expect(seqsOf(filled(10, 5, perBatch), 5)).toEqual({ lines: [], first: 6, missed: 0 });
      });

      it('counts what was evicted after since, to the exact capacity', () => {
        const history = filled(3, 10, perBatch);
        expect(history.firstSeq).toBe(8);
        expect(history.size).toBe(3);
        expect(seqsOf(history, 2)).toEqual({ lines: ['line8\n', 'line9\n', 'line10\n'], first: 8, missed: 5 });
        expect(seqsOf(history, 0)).toEqual({ lines: ['line8\n', 'line9\n', 'line10\n'], first: 8, missed: 7 });
        expect(seqsOf(history, 7)).toMatchObject({ first: 8, missed: 0 });
        expect(seqsOf(history, 9)).toEqual({ lines: ['line10\n'], first: 10, missed: 0 });
      });

      it('treats a since ahead of the newest event as coming from an earlier run', () => {
        expect(seqsOf(filled(10, 3, perBatch), 500)).toEqual({ lines: ['line1\n', 'line2\n', 'line3\n'], first: 1, missed: 0 });
      });

      it('keeps nothing with capacity 0 and says what was missed', () => {
        const history = filled(0, 4, perBatch);
        expect(seqsOf(history, 1)).toEqual({ lines: [], first: 5, missed: 3 });
      });
    });
  }

  it('stays exact over a long run of uneven batches', () => {
    const history = new EventHistory(1000);
    let next = 1;
    for (let round = 0; round < 5000; round++) {
      const size = 1 + ((round * 7919) % 37);
      const seqs = Array.from({ length: size }, (_, i) => next + i);
      history.append(
        encodeBatch(
          next,
          seqs.map((seq) => `${seq}\n`),
          seqs.map((seq) => seq % 8),
        ),
      );
      next += size;
    }
    const last = next - 1;
    expect(history.lastSeq).toBe(last);
    expect(history.firstSeq).toBe(last - 999);
    const { lines, first, missed } = seqsOf(history, last - 1500);
    expect(first).toBe(last - 999);
    expect(missed).toBe(500);
    expect(lines).toEqual(Array.from({ length: 1000 }, (_, i) => `${last - 999 + i}\n`));
  });

  it('holds no more than its byte bound, letting whole batches go oldest first', () => {
    const history = new EventHistory(1_000_000, 10_000);
    const line = (seq: number) => `${String(seq).padStart(99, '0')}\n`; // 100 bytes
    for (let first = 1; first <= 1000; first += 10) {
      const seqs = Array.from({ length: 10 }, (_, i) => first + i);
      history.append(
        encodeBatch(
          first,
          seqs.map(line),
          seqs.map((seq) => seq % 8),
        ),
      );
    }
    // A batch of 10 events holds 1,000 bytes of lines and 50 of offsets and types.
    expect(history.bytes).toBeLessThanOrEqual(10_000);
    expect(history.bytes).toBeGreaterThan(10_000 - 1050);
    expect(history.size).toBe(90);
    expect(history.firstSeq).toBe(911);
    expect(seqsOf(history, 0)).toMatchObject({ first: 911, missed: 910 });
  });

  it('reads a replay a chunk at a time: whole batches, about maxBytes, from after since', () => {
    const history = filled(1000, 100, 4);
    // The rest of the batch holding 11 (14 bytes, under 20), then the whole next batch.
    const chunk = history.after(10, 20);
    const view = new BatchView(chunk.batch);
    expect(chunk.batch.firstSeq).toBe(11);
    expect(Array.from({ length: view.count }, (_, i) => view.line(i))).toEqual([
      'line11\n',
      'line12\n',
      'line13\n',
      'line14\n',
      'line15\n',
      'line16\n',
    ]);
    let since = 0;
    const seen: string[] = [];
    for (;;) {
      const next = new BatchView(history.after(since, 50).batch);
      if (next.count === 0) break;
      for (let i = 0; i < next.count; i++) seen.push(next.line(i));
      since = next.lastSeq;
    }
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => `line${i + 1}\n`));
  });
});
