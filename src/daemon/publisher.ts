// Stamps accepted reports with seq and time, serializes each event once, keeps it in the
// history and hands the workers everything published in one turn of the event loop as one batch.
import { encodeBatch, type EventBatch } from '../ipc/batch.js';
import { eventTypeCode, type EventOpts, type EventType } from '../protocol/events.js';
import { eventLine } from '../protocol/wire.js';
import type { EventHistory } from './history.js';

export class Publisher {
  private seq = 0;
  private lines: string[] = [];
  private types: number[] = [];
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
    const code = eventTypeCode(type);
    this.history.append(seq, line, code);
    this.lines.push(line);
    this.types.push(code);
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
    if (this.lines.length === 0) return;
    const batch = encodeBatch(this.seq - this.lines.length + 1, this.lines, this.types);
    this.lines = [];
    this.types = [];
    this.broadcast(batch);
  }
}
