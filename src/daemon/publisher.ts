// Stamps accepted reports with seq and time, serializes each event once, and hands the workers
// (and the history) what is published in one turn of the event loop as one batch, or as several
// of up to BATCH_BYTES: one turn can read megabytes from busy producers, and a batch that large
// would delay its first event by the whole turn and land in a subscriber's queue all at once.
import { BatchBuilder, type EventBatch } from '../ipc/batch.js';
import { EVENT_TYPES, eventTypeCode, type EventOpts, type EventType } from '../protocol/events.js';
import { eventLine } from '../protocol/wire.js';
import type { EventHistory } from './history.js';

const BATCH_BYTES = 64 * 1024;

/**
 * Pools counted by name (stats, metrics, `eventd top`); events of further pools are counted under
 * OTHER_POOLS, so a producer inventing pool names cannot grow the daemon's memory or a metric's labels.
 */
const MAX_POOLS = 256;
export const OTHER_POOLS = '(other)';

/** A valid report that cannot become an event line; the message says why. */
export class UnpublishableError extends Error {}

export class Publisher {
  private seq = 0;
  private readonly pending = new BatchBuilder();
  private flushScheduled = false;
  private timeMs = -1;
  private timeText = '';
  /** Events published per type (by type code) and per opts.pool. */
  readonly byType: number[] = EVENT_TYPES.map(() => 0);
  readonly byPool = new Map<string, number>();

  constructor(
    private readonly history: EventHistory,
    private readonly broadcast: (batch: EventBatch) => void,
    /** Longest event line (without its newline): subscribers may rely on --max-line-bytes. */
    private readonly maxLineBytes = Number.POSITIVE_INFINITY,
  ) {}

  get lastSeq(): number {
    return this.seq;
  }

  /**
   * Publishes one validated event and returns its seq. Throws an UnpublishableError, publishing
   * nothing, if opts is nested too deeply to serialize or the event line would pass the limit
   * (seq and time add about 50 bytes to what the producer sent).
   */
  publish(type: EventType, opts: EventOpts): number {
    let line: string;
    try {
      line = eventLine(this.seq + 1, this.now(), type, opts);
    } catch (error) {
      if (error instanceof RangeError) throw new UnpublishableError('opts is nested too deeply');
      throw error;
    }
    // A UTF-16 length is at most the UTF-8 byte count: only a long line needs counting.
    if (line.length - 1 > this.maxLineBytes / 3) {
      const bytes = Buffer.byteLength(line) - 1;
      if (bytes > this.maxLineBytes) {
        throw new UnpublishableError(
          `the event would be ${bytes} bytes with its seq and time, over the line limit of ${this.maxLineBytes}`,
        );
      }
    }
    const seq = ++this.seq;
    const code = eventTypeCode(type);
    this.pending.add(line, code);
    this.byType[code]!++;
    const pool = (opts as { pool?: unknown }).pool;
    if (typeof pool === 'string') this.countPool(pool);
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

  private countPool(pool: string): void {
    const count = this.byPool.get(pool);
    if (count !== undefined) this.byPool.set(pool, count + 1);
    else if (this.byPool.size < MAX_POOLS) this.byPool.set(pool, 1);
    else this.byPool.set(OTHER_POOLS, (this.byPool.get(OTHER_POOLS) ?? 0) + 1);
  }

  /**
   * The ISO time, formatted once per millisecond: at high rates many events share one. Never
   * earlier than the last event's: when the wall clock steps back, time stands still until it
   * catches up, so `time` never decreases along `seq`.
   */
  private now(): string {
    const ms = Math.max(Date.now(), this.timeMs);
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
