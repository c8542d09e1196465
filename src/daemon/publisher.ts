// Stamps accepted reports with seq and time, serializes each event once, and hands the workers
// (and the history) everything published in one turn of the event loop as one batch.
import { BatchBuilder, type EventBatch } from '../ipc/batch.js';
import { eventTypeCode, type EventOpts, type EventType } from '../protocol/events.js';
import { eventLine } from '../protocol/wire.js';
import type { EventHistory } from './history.js';

export class Publisher {
  private seq = 0;
  private readonly pending = new BatchBuilder();
  private flushScheduled = false;
  private timeMs = -1;
  private timeText = '';

  constructor(
    private readonly history: EventHistory,
    private readonly broadcast: (batch: EventBatch) => void,
  ) {}

  get lastSeq(): number {
    return this.seq;
  }

  /**
   * Publishes one validated event and returns its seq. Throws a RangeError, publishing nothing,
   * if opts is nested too deeply to serialize.
   */
  publish(type: EventType, opts: EventOpts): number {
    const line = eventLine(this.seq + 1, this.now(), type, opts);
    const seq = ++this.seq;
    this.pending.add(line, eventTypeCode(type));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return seq;
  }

  /** The ISO time, formatted once per millisecond: at high rates many events share one. */
  private now(): string {
    const ms = Date.now();
    if (ms !== this.timeMs) {
      this.timeMs = ms;
      this.timeText = new Date(ms).toISOString();
    }
    return this.timeText;
  }

  /** Sends what is pending to the workers now. */
  flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending.take(this.seq - this.pending.length + 1);
    this.history.append(batch);
    this.broadcast(batch);
  }
}
