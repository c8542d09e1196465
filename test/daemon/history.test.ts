import { describe, expect, it } from 'vitest';
import { BatchView } from '../../src/ipc/batch.js';
import { EventHistory } from '../../src/daemon/history.js';

function filled(capacity: number, count: number): EventHistory {
  const history = new EventHistory(capacity);
  for (let seq = 1; seq <= count; seq++) history.append(seq, `line${seq}\n`, seq % 8);
  return history;
}

function seqsOf(history: EventHistory, since: number) {
  const replay = history.after(since);
  const view = new BatchView(replay.batch);
  return { lines: Array.from({ length: view.count }, (_, i) => view.line(i)), first: replay.batch.firstSeq, missed: replay.missed };
}

describe('EventHistory', () => {
  it('replays everything after since while nothing was evicted', () => {
    expect(seqsOf(filled(10, 5), 2)).toEqual({ lines: ['line3\n', 'line4\n', 'line5\n'], first: 3, missed: 0 });
    expect(seqsOf(filled(10, 5), 5)).toEqual({ lines: [], first: 6, missed: 0 });
  });

  it('counts what was evicted after since', () => {
    const history = filled(3, 10);
    expect(history.firstSeq).toBe(8);
    expect(seqsOf(history, 2)).toEqual({ lines: ['line8\n', 'line9\n', 'line10\n'], first: 8, missed: 5 });
    expect(seqsOf(history, 0)).toEqual({ lines: ['line8\n', 'line9\n', 'line10\n'], first: 8, missed: 7 });
    expect(seqsOf(history, 7)).toMatchObject({ first: 8, missed: 0 });
  });

  it('treats a since ahead of the newest event as coming from an earlier run', () => {
    expect(seqsOf(filled(10, 3), 500)).toEqual({ lines: ['line1\n', 'line2\n', 'line3\n'], first: 1, missed: 0 });
  });

  it('keeps nothing with capacity 0 and says what was missed', () => {
    const history = filled(0, 4);
    expect(seqsOf(history, 1)).toEqual({ lines: [], first: 5, missed: 3 });
  });
});
