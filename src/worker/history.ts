// A delivery worker's view of the history, for `since` replays: the ring (what it has delivered
// and what came before it, as far back as the ring holds and --history allows) and, older than
// that, the journal. Read here, on the worker that serves the subscriber, a chunk at a time: the
// main thread is never asked.
import { mergeBatches, allocateBatch, type EventBatch } from '../ipc/batch.js';
import type { JournalReader } from '../journal/reader.js';
import type { EventRing } from '../ring/event-ring.js';
import { readHistory } from '../ring/reader.js';

export interface HistoryChunk {
  batch: EventBatch;
  /** Events after `since` that are no longer kept (before the first one in the batch). */
  missed: number;
}

export class WorkerHistory {
  constructor(
    private readonly ring: EventRing,
    private readonly journal: JournalReader | undefined,
    /** --history: how many of the newest events a replay may take from memory. */
    private readonly memoryEvents: number,
  ) {}

  /**
   * About `maxBytes` of the events after `since`, up to `end` (the position this worker has
   * delivered up to) and `lastSeq` (its last event), oldest first.
   */
  async chunk(since: number, end: number, lastSeq: number, maxBytes: number): Promise<HistoryChunk> {
    const inMemory = Math.max(this.ring.tailSeq, lastSeq - this.memoryEvents + 1);
    if (since + 1 < inMemory && this.journal) {
      const read = await this.journal.read(since, inMemory, maxBytes);
      if (read.firstSeq !== undefined) return { batch: mergeBatches(read.batches), missed: read.firstSeq - since - 1 };
    }
    const from = Math.max(since, inMemory - 1);
    const read = readHistory(this.ring, from, end, maxBytes);
    // Nothing left before `end`: the replay is done; events up to lastSeq it could not read were missed.
    if (read.firstSeq === undefined)
      return { batch: allocateBatch(Math.max(since, lastSeq) + 1, 0, 0), missed: Math.max(0, lastSeq - since) };
    return { batch: mergeBatches(read.batches), missed: read.firstSeq - since - 1 };
  }

  /** The seq of the first event at or after `timeMs` (the memory first, then the journal); undefined if every event is older. */
  async seqAtTime(timeMs: number, end: number): Promise<number | undefined> {
    const found = findInRing(this.ring, timeMs, end);
    if (found !== 'before-memory') return found;
    // The oldest event in memory is as new already: an older one on disk may be too.
    return (this.journal ? await this.journal.seqAtTime(timeMs) : undefined) ?? this.ring.tailSeq;
  }
}

/**
 * The seq of the first record in the ring at or after `timeMs`; 'before-memory' when even the
 * oldest in memory is; undefined when none is. Read without the lock: a scan the writers overtake
 * starts again from the new tail.
 */
function findInRing(ring: EventRing, timeMs: number, end: number): number | 'before-memory' | undefined {
  scan: for (let attempt = 0; attempt < 8; attempt++) {
    const tail = ring.tail;
    let pos = tail;
    while (pos !== end) {
      const record = ring.recordAt(pos);
      if (record === undefined) return undefined;
      const length = ring.lengthAt(pos);
      if (((ring.tail - pos) | 0) > 0 || length === 0) continue scan;
      if (record !== 'pad' && record.timeMs >= timeMs) return pos === tail ? 'before-memory' : record.firstSeq;
      pos = (pos + length) >>> 0;
    }
    return undefined;
  }
  return 'before-memory';
}
