// Reading the ring: a consumer's walk over new records (a delivery worker, the journal), a
// record copied out as a batch, and the history between the tail and what a consumer has seen,
// read for a `since` replay. History is read without the lock: a writer may reuse the space of the
// oldest records at any time, so every read checks afterwards that the tail has not passed what
// it read, and reads again (or says the events are gone) if it has.
import { allocateBatch, type EventBatch } from '../ipc/batch.js';
import { COMMIT_SIGNAL, DURABLE_SIGNAL, type EventRing, type RingRecord } from './event-ring.js';
import { copyBytes } from './copy.js';
import { HEADER_BYTES } from './record.js';

/** One consumer's cursor over the ring. */
export class RingConsumer {
  /** Where it has read up to (mod 2^32). */
  cursor: number;

  constructor(
    readonly ring: EventRing,
    readonly index: number,
  ) {
    this.cursor = ring.cursorOf(index);
  }

  /** The signal word that says there may be more to read. */
  get signalWord(): number {
    return this.ring.gated ? DURABLE_SIGNAL : COMMIT_SIGNAL;
  }

  /**
   * Calls `take` with each complete record from the cursor up to `end` (default: what may be
   * delivered), in order, then moves the cursor past them. Stops at a record still being written,
   * and once records of `maxBytes` in all were taken.
   */
  drain(take: (record: RingRecord) => void, end = this.ring.visibleEnd, maxBytes = Infinity): number {
    let taken = 0;
    let bytes = 0;
    let pos = this.cursor;
    while (pos !== end && bytes < maxBytes) {
      const record = this.ring.recordAt(pos);
      if (record === undefined) break;
      if (record !== 'pad') {
        take(record);
        taken++;
      }
      const length = this.ring.lengthAt(pos);
      bytes += length;
      pos = (pos + length) >>> 0;
    }
    if (pos !== this.cursor) {
      this.cursor = pos;
      this.ring.advance(this.index, pos);
    }
    return taken;
  }

  /** Whether a complete record (or filler) waits at the cursor. */
  get hasMore(): boolean {
    return this.cursor !== this.ring.visibleEnd && this.ring.recordAt(this.cursor) !== undefined;
  }

  /**
   * Resolves when something new may be there: at once if a complete record is; a record still
   * being written is waited for (its commit changes the signal), not spun on.
   */
  async waitForMore(timeoutMs?: number): Promise<void> {
    const word = this.signalWord;
    const seen = this.ring.signal(word);
    if (this.hasMore) return;
    await this.ring.waitAsync(word, seen, timeoutMs);
  }
}

/**
 * Events `from` … of a record (an index into it), copied out of the ring as a batch of their own,
 * into `memory` if given (at least the record's length).
 */
export function copyRecord(ring: EventRing, record: RingRecord, from = 0, memory?: ArrayBuffer): EventBatch {
  const count = record.count - from;
  const endsAt = record.offset + HEADER_BYTES;
  const ends = new Uint32Array(ring.bytes.buffer, endsAt, record.count);
  const lines = ring.linesOf(record);
  const start = from === 0 ? 0 : ends[from - 1]!;
  const batch = allocateBatch(record.firstSeq + from, count, lines.length - start, memory);
  copyBytes(lines.subarray(start), batch.bytes);
  for (let i = 0; i < count; i++) batch.ends[i] = ends[from + i]! - start;
  batch.types.set(ring.bytes.subarray(endsAt + record.count * 4 + from, endsAt + record.count * 5));
  return batch;
}

/** What a history read found. */
export interface HistoryRead {
  /** Events after `since`, oldest first, up to about maxBytes (whole records past the first). */
  batches: EventBatch[];
  /** seq of the first event read; when it is past since + 1 the events between are no longer in memory. */
  firstSeq: number | undefined;
  /** Where the next read may start (the position after the last record read). */
  next: number;
}

/**
 * Events with seq > since in the ring, up to position `end` (what the reader has delivered live)
 * and about `maxBytes`, copied out. `hint`: the position a previous read stopped at, tried first.
 * Nothing found (firstSeq undefined) means nothing after `since` is in memory before `end`.
 */
export function readHistory(ring: EventRing, since: number, end: number, maxBytes: number, hint?: number): HistoryRead {
  for (;;) {
    const start = findAfter(ring, since, ring.tail, end, hint);
    if (start === 'moved') {
      hint = undefined;
      continue;
    }
    if (start === undefined) return { batches: [], firstSeq: undefined, next: end };
    const batches: EventBatch[] = [];
    let bytes = 0;
    let pos = start.pos;
    let overwritten = false;
    while (pos !== end && bytes < maxBytes) {
      const record = ring.recordAt(pos);
      if (record === undefined) break;
      const length = ring.lengthAt(pos);
      if (record !== 'pad' && !record.void && record.firstSeq + record.count - 1 > since) {
        const batch = copyRecord(ring, record, Math.max(0, since + 1 - record.firstSeq));
        batches.push(batch);
        bytes += batch.bytes.length;
      }
      pos = (pos + length) >>> 0;
      // What was copied is good only if no writer reused it meanwhile.
      if (passed(ring.tail, start.pos)) {
        overwritten = true;
        break;
      }
    }
    if (overwritten) {
      hint = undefined;
      continue;
    }
    return { batches, firstSeq: Math.max(start.firstSeq, since + 1), next: pos };
  }
}

/** Whether the tail (now at `tail`) has moved past `pos`: what lay there may be overwritten. */
function passed(tail: number, pos: number): boolean {
  return ((tail - pos) | 0) > 0;
}

/** The first record holding an event after `since`, scanning from the hint or the tail, or 'moved' if the tail moved under the scan. */
function findAfter(
  ring: EventRing,
  since: number,
  tail: number,
  end: number,
  hint: number | undefined,
): { pos: number; firstSeq: number } | 'moved' | undefined {
  const fromHint = hint !== undefined && !passed(tail, hint) && (end - hint) >>> 0 <= (end - tail) >>> 0;
  let pos = fromHint ? hint : tail;
  while (pos !== end) {
    const record = ring.recordAt(pos);
    if (record === undefined) return undefined;
    const length = ring.lengthAt(pos);
    if (passed(ring.tail, pos)) return 'moved';
    if (record !== 'pad' && record.firstSeq + record.count - 1 > since) {
      // A hint already past the event asked for: scan from the tail instead.
      if (fromHint && record.firstSeq > since + 1) return findAfter(ring, since, tail, end, undefined);
      return { pos, firstSeq: record.firstSeq };
    }
    pos = (pos + length) >>> 0;
  }
  return undefined;
}
