// A history of batches for the Subscriber tests: what the worker's history gives a replay (the
// events after `since`, a chunk of about maxBytes at a time, and how many were no longer kept),
// without a ring behind it.
import { allocateBatch, mergeBatches, sliceBatch, type EventBatch } from '../../src/ipc/batch.js';

export class TestHistory {
  private batches: EventBatch[] = [];

  /** capacity: events kept (the oldest go first, a batch at a time). */
  constructor(private readonly capacity: number) {}

  get lastSeq(): number {
    const last = this.batches.at(-1);
    return last ? last.firstSeq + last.ends.length - 1 : 0;
  }

  append(batch: EventBatch): void {
    this.batches.push(batch);
    while (this.batches.length > 1 && this.lastSeq - this.batches[1]!.firstSeq + 1 >= this.capacity) this.batches.shift();
  }

  after(since: number, maxBytes: number): { batch: EventBatch; missed: number } {
    const parts: EventBatch[] = [];
    let bytes = 0;
    let first: number | undefined;
    for (const batch of this.batches) {
      if (bytes >= maxBytes) break;
      const last = batch.firstSeq + batch.ends.length - 1;
      if (last <= since) continue;
      const part = sliceBatch(batch, Math.max(0, since + 1 - batch.firstSeq));
      first ??= part.firstSeq;
      parts.push(part);
      bytes += part.bytes.length;
    }
    if (first === undefined) return { batch: allocateBatch(since + 1, 0, 0), missed: 0 };
    return { batch: mergeBatches(parts), missed: first - since - 1 };
  }
}
