// Stamps accepted reports with seq and time, serializes each event once, and hands the workers
// (and the history) what is published in one turn of the event loop as one batch, or as several
// of up to BATCH_BYTES: one turn can read megabytes from busy producers, and a batch that large
// would delay its first event by the whole turn and land in a subscriber's queue all at once.
import { BatchBuilder, type EventBatch } from '../ipc/batch.js';
import { eventTypeCode, type EventOpts, type EventType } from '../protocol/events.js';
import { eventLine } from '../protocol/wire.js';
import type { EventHistory } from './history.js';

const BATCH_BYTES = 64 * 1024;

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
    if (this.pending.byteLength >= BATCH_BYTES) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
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

  /** Sends what is pending to the workers now (a scheduled flush then finds nothing to do). */
  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending.take(this.seq - this.pending.length + 1);
    this.history.append(batch);
    this.broadcast(batch);
  }
}
