// The sequencer: stamps accepted reports with seq and time in the order they reach the main
// thread, and hands the workers (and the history) what is published in one turn of the event loop
// as one batch, or as several of up to BATCH_BYTES: one turn can take megabytes from busy
// producers, and a batch that large would delay its first event by the whole turn and land in a
// subscriber's queue all at once. Reports come already validated and serialized by the worker
// that read them (publishReports); the daemon's own events are serialized here (publish).
import { BatchBuilder, type EventBatch } from '../ipc/batch.js';
import { EVENT_TYPES, eventTypeCode, type EventType } from '../protocol/event-types.js';
import type { EventOpts } from '../protocol/events.js';
import { checkedEventTail, eventPrefix } from '../protocol/wire.js';
import type { EventHistory } from './history.js';
import type { ReportSink } from '../ingest/ingest.js';

const BATCH_BYTES = 64 * 1024;

/**
 * Pools counted by name (stats, metrics, `eventd top`); events of further pools are counted under
 * OTHER_POOLS, so a producer inventing pool names cannot grow the daemon's memory or a metric's labels.
 */
const MAX_POOLS = 256;
export const OTHER_POOLS = '(other)';

export class Publisher implements ReportSink {
  private seq = 0;
  private readonly pending = new BatchBuilder();
  private flushScheduled = false;
  /** Run after the next flush: a worker's acks wait until their events have gone out. */
  private afterFlush: (() => void)[] = [];
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
    const prefix = eventPrefix(this.seq + 1, this.now());
    const line = prefix + checkedEventTail(type, opts, this.maxLineBytes, prefix.length);
    const seq = ++this.seq;
    const code = eventTypeCode(type);
    this.pending.add(line, code);
    this.byType[code]!++;
    const pool = (opts as { pool?: unknown }).pool;
    if (typeof pool === 'string') this.countPool(pool, 1);
    this.published();
    return seq;
  }

  /**
   * Publishes reports a worker validated and serialized (event lines without their start, see
   * eventTail), in their order, and returns the first one's seq. `pools` counts them per opts.pool.
   * Their lines were checked against the limit with the longest seq and time.
   */
  publishReports(reports: EventBatch, pools: ReadonlyArray<readonly [string, number]>): number {
    const firstSeq = this.seq + 1;
    const time = this.now();
    const bytes = Buffer.from(reports.bytes.buffer, reports.bytes.byteOffset, reports.bytes.byteLength);
    const { ends, types } = reports;
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      const code = types[i]!;
      this.pending.addPrefixed(eventPrefix(++this.seq, time), bytes, start, ends[i]!, code);
      this.byType[code]!++;
      start = ends[i]!;
    }
    for (const [pool, count] of pools) this.countPool(pool, count);
    this.published();
    return firstSeq;
  }

  /** A report from a producer the main thread reads: published now; `seq` is told once it has gone out. */
  add(type: EventType, opts: EventOpts, seq?: (seq: number) => void): void {
    const published = this.publish(type, opts);
    if (seq) this.after(() => seq(published));
  }

  /** Runs `step` once everything published so far has gone to the workers and the history. */
  after(step: () => void): void {
    this.afterFlush.push(step);
    this.published();
  }

  private published(): void {
    if (this.pending.byteLength >= BATCH_BYTES) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  private countPool(pool: string, count: number): void {
    const counted = this.byPool.get(pool);
    if (counted !== undefined) this.byPool.set(pool, counted + count);
    else if (this.byPool.size < MAX_POOLS) this.byPool.set(pool, count);
    else this.byPool.set(OTHER_POOLS, (this.byPool.get(OTHER_POOLS) ?? 0) + count);
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
    if (this.pending.length > 0) {
      const batch = this.pending.take(this.seq - this.pending.length + 1);
      this.history.append(batch);
      this.broadcast(batch);
    }
    if (this.afterFlush.length === 0) return;
    const done = this.afterFlush;
    this.afterFlush = [];
    for (const callback of done) callback();
  }
}
