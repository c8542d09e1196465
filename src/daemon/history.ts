// The in-memory history behind `since`: the last N published events, as their native lines.
import { encodeBatch, type EventBatch } from '../ipc/batch.js';

export interface Replay {
  batch: EventBatch;
  /** Events after `since` that were already evicted. */
  missed: number;
}

export class EventHistory {
  private readonly lines: string[];
  private readonly types: Uint8Array;
  /** seq of the newest event appended; 0 before the first. */
  private last = 0;
  private retained = 0;

  constructor(readonly capacity: number) {
    this.lines = new Array<string>(capacity);
    this.types = new Uint8Array(capacity);
  }

  get lastSeq(): number {
    return this.last;
  }

  /** seq of the oldest retained event (lastSeq + 1 when nothing is retained). */
  get firstSeq(): number {
    return this.last - this.retained + 1;
  }

  get size(): number {
    return this.retained;
  }

  append(seq: number, line: string, typeCode: number): void {
    this.last = seq;
    if (this.capacity === 0) return;
    const slot = seq % this.capacity;
    this.lines[slot] = line;
    this.types[slot] = typeCode;
    if (this.retained < this.capacity) this.retained++;
  }

  /**
   * The retained events with seq > since. A `since` ahead of the newest event can only come from
   * an earlier daemon run (seq restarts at 1), so the whole of this run's history is replayed.
   */
  after(since: number): Replay {
    const from = Math.max(since > this.last ? 0 : since, 0) + 1;
    const first = Math.max(from, this.firstSeq);
    const lines: string[] = [];
    const types: number[] = [];
    for (let seq = first; seq <= this.last; seq++) {
      lines.push(this.lines[seq % this.capacity]!);
      types.push(this.types[seq % this.capacity]!);
    }
    return { batch: encodeBatch(first, lines, types), missed: first - from };
  }
}
