// The in-memory history behind `since`: the last N published events, and no more than a number of
// bytes. It keeps the batches as they went to the workers (one buffer of bytes per batch, not a
// string per event), so retaining 10,000 events costs the garbage collector a handful of objects
// instead of 10,000. A replay is read from it a chunk at a time, so what a replay allocates does
// not grow with the history.
import { encodeBatch, mergeBatches, sliceBatch, type EventBatch } from '../ipc/batch.js';

export interface Replay {
  /** Up to about `maxBytes` of the retained events after `since`, oldest first. */
  batch: EventBatch;
  /** Events after `since` that were already evicted. */
  missed: number;
}

/** Bytes a batch keeps alive: its lines, offsets and type codes. */
function batchBytes(batch: EventBatch): number {
  return batch.bytes.byteLength + batch.ends.byteLength + batch.types.byteLength;
}

export class EventHistory {
  /** Oldest first, from `head`; a batch is dropped once all its events are beyond the capacity. */
  private batches: (EventBatch | undefined)[] = [];
  private head = 0;
  /** Events in the batches still held (may exceed the capacity by part of the oldest batch). */
  private held = 0;
  /** Bytes of the batches still held. */
  private heldBytes = 0;
  /** seq of the newest event appended; 0 before the first. */
  private last = 0;

  /**
   * capacity: events kept; capacityBytes: whole batches are let go, oldest first, while more than
   * this is held (a batch is at most the publisher's 64 KiB, so the bound holds within one batch).
   */
  constructor(
    readonly capacity: number,
    readonly capacityBytes = Number.POSITIVE_INFINITY,
  ) {}

  get bytes(): number {
    return this.heldBytes;
  }

  get lastSeq(): number {
    return this.last;
  }

  /** seq of the oldest retained event (lastSeq + 1 when nothing is retained). */
  get firstSeq(): number {
    return this.last - this.size + 1;
  }

  get size(): number {
    return Math.min(this.held, this.capacity);
  }

  /** Appends the next batch (its first seq follows lastSeq). */
  append(batch: EventBatch): void {
    const count = batch.ends.length;
    if (count === 0) return;
    this.last = batch.firstSeq + count - 1;
    if (this.capacity === 0) return;
    this.batches.push(batch);
    this.held += count;
    this.heldBytes += batchBytes(batch);
    while (this.head < this.batches.length) {
      const oldest = this.batches[this.head]!;
      const beyondCount = this.held - oldest.ends.length >= this.capacity;
      if (!beyondCount && this.heldBytes <= this.capacityBytes) break;
      this.held -= oldest.ends.length;
      this.heldBytes -= batchBytes(oldest);
      this.batches[this.head++] = undefined;
    }
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * The oldest retained events with seq > since, about `maxBytes` of them (whole batches: a
   * chunk may pass it by one batch). A `since` ahead of the newest event can only come from an
   * earlier daemon run (seq restarts at 1), so the whole of this run's history is replayed.
   */
  after(since: number, maxBytes = Number.POSITIVE_INFINITY): Replay {
    const from = Math.max(since > this.last ? 0 : since, 0) + 1;
    const first = Math.max(from, this.firstSeq);
    const parts: EventBatch[] = [];
    let bytes = 0;
    for (let i = this.firstBatchWith(first); i < this.batches.length && bytes < maxBytes; i++) {
      const batch = this.batches[i]!;
      const part = sliceBatch(batch, Math.max(0, first - batch.firstSeq));
      parts.push(part);
      bytes += part.bytes.length;
    }
    return { batch: parts.length > 0 ? mergeBatches(parts) : encodeBatch(first, [], []), missed: first - from };
  }

  /** Index of the batch holding `seq` (binary search; batches.length if none does). */
  private firstBatchWith(seq: number): number {
    let low = this.head;
    let high = this.batches.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const batch = this.batches[mid]!;
      if (batch.firstSeq + batch.ends.length - 1 < seq) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
