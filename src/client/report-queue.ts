// Reports that survive the daemon going away: every report waits in a bounded queue until the
// daemon acknowledges it, and a connection that drops is replaced (with backoff) and sent every
// report still unacknowledged, in order. Nothing here ever blocks the caller: `post` returns at
// once whatever the daemon's state, and `send` resolves when the report is acknowledged.
//
// Delivery is at least once while the queue holds: a report the old daemon took but did not
// acknowledge before it went away is sent again, and may then be published twice. Past
// `maxQueued` reports waiting, the oldest are dropped (counted, and said once per outage).
import type { Socket } from 'node:net';
import type { WireIssue } from '../protocol/issues.js';
import { EventdError, ReportRejectedError } from '../errors.js';
import { Backoff } from './backoff.js';
import { connect } from './connect.js';
import { LineSplitter, CLIENT_MAX_LINE_CHARS } from './lines.js';

export interface ReportQueueOptions {
  reportSocket: string;
  /** Reports waiting for an acknowledgement at most; past it the oldest are dropped (default 10,000). */
  maxQueued?: number;
  /** A report posted (not awaited) that the daemon refused: by default a warning. */
  onRejected?: (error: ReportRejectedError) => void;
  /** Said once per outage ("not reachable; queueing"), and when reports are dropped (default: a process warning). */
  onWarning?: (message: string) => void;
}

interface Entry {
  ack: number;
  /** The report's JSON text without its ack. */
  text: string;
  resolve?: (seq: number) => void;
  reject?: (error: Error) => void;
}

interface Reply {
  status?: unknown;
  ack?: unknown;
  seq?: unknown;
  message?: unknown;
  issues?: unknown;
}

export const DEFAULT_MAX_QUEUED = 10_000;

export class ReportQueue {
  /** Unacknowledged reports, in the order sent (a Map keeps insertion order). */
  private readonly entries = new Map<number, Entry>();
  private nextAck = 1;
  private socket: Socket | undefined;
  private connecting = false;
  private closed = false;
  private outage = false;
  private readonly backoff = new Backoff(20, 1000);
  private retry: NodeJS.Timeout | undefined;
  private emptied: (() => void)[] = [];
  /** Reports dropped because the queue was full. */
  dropped = 0;

  constructor(private readonly options: ReportQueueOptions) {}

  /** Reports waiting for an acknowledgement. */
  get queued(): number {
    return this.entries.size;
  }

  /** Queues a report (its JSON text, no ack) and returns at once; a refusal goes to onRejected. */
  post(text: string): void {
    this.add({ ack: this.nextAck++, text });
  }

  /**
   * Queues a report; resolves with its seq once acknowledged, rejects if refused, dropped, or not
   * acknowledged within timeoutMs (then it stays queued, as if posted: it goes when eventd is back).
   */
  send(text: string, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const entry: Entry = { ack: this.nextAck++, text };
      // This timer keeps the process alive while the caller waits.
      const timer = setTimeout(() => {
        entry.resolve = entry.reject = undefined;
        reject(
          new EventdError('EVENTD_UNREACHABLE', `eventd did not acknowledge the report within ${timeoutMs / 1000} s (it stays queued)`),
        );
      }, timeoutMs);
      entry.resolve = (seq) => {
        clearTimeout(timer);
        resolve(seq);
      };
      entry.reject = (error) => {
        clearTimeout(timer);
        reject(error);
      };
      this.add(entry);
    });
  }

  /** Resolves once every report queued so far is acknowledged; rejects after timeoutMs with what is left. */
  flush(timeoutMs: number): Promise<void> {
    if (this.entries.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      // This timer keeps the process alive while it waits (the connection itself does not).
      const timer = setTimeout(() => {
        this.emptied = this.emptied.filter((wake) => wake !== done);
        reject(
          new EventdError('EVENTD_UNREACHABLE', `eventd did not acknowledge ${this.entries.size} reports within ${timeoutMs / 1000} s`),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.emptied.push(done);
      this.ensureConnected();
    });
  }

  /** Stops: what is still queued is dropped (flush first to wait for it). */
  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.socket?.end();
    this.socket = undefined;
    const error = new EventdError('EVENTD_UNREACHABLE', 'the reporter was closed before eventd acknowledged the report');
    for (const entry of this.entries.values()) entry.reject?.(error);
    this.entries.clear();
  }

  private add(entry: Entry): void {
    if (this.closed) {
      entry.reject?.(new EventdError('EVENTD_UNREACHABLE', 'the reporter is closed'));
      return;
    }
    this.entries.set(entry.ack, entry);
    if (this.entries.size > (this.options.maxQueued ?? DEFAULT_MAX_QUEUED)) this.dropOldest();
    if (this.socket) {
      this.socket.ref();
      this.socket.write(lineOf(entry));
    } else this.ensureConnected();
  }

  private dropOldest(): void {
    const [ack, oldest] = this.entries.entries().next().value!;
    this.entries.delete(ack);
    this.dropped++;
    oldest.reject?.(new EventdError('EVENTD_UNREACHABLE', 'the report was dropped: eventd was not reachable and the queue was full'));
    // Once per outage: the first drop says so, with how to see the count.
    if (this.dropped === 1 || this.outage) {
      this.warn(
        `eventd: the report queue is full (${this.options.maxQueued ?? DEFAULT_MAX_QUEUED}); dropping the oldest reports (see .dropped)`,
      );
    }
  }

  private warn(message: string): void {
    if (this.options.onWarning) this.options.onWarning(message);
    else process.emitWarning(message, 'EventdWarning');
  }

  private ensureConnected(): void {
    if (this.socket || this.connecting || this.closed || this.retry) return;
    this.connecting = true;
    connect(this.options.reportSocket).then(
      (socket) => {
        this.connecting = false;
        if (this.closed) return void socket.destroy();
        this.attach(socket);
      },
      (error: Error) => {
        this.connecting = false;
        if (!this.outage) {
          this.outage = true;
          this.warn(`${error.message}; queueing reports until it is back`);
        }
        // Unref'd: a queue that waits for the daemon does not keep the process alive (flush does).
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.ensureConnected();
        }, this.backoff.next()).unref();
      },
    );
  }

  private attach(socket: Socket): void {
    this.socket = socket;
    this.outage = false;
    this.backoff.reset();
    const splitter = new LineSplitter(CLIENT_MAX_LINE_CHARS);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      try {
        for (const line of splitter.push(chunk)) this.answer(JSON.parse(line) as Reply);
      } catch {
        socket.destroy(); // not eventd's protocol: what is unanswered goes again on a new connection
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      if (this.entries.size > 0) this.ensureConnected();
    });
    // Everything not acknowledged yet, in order.
    if (this.entries.size > 0) socket.write([...this.entries.values()].map(lineOf).join(''));
    else socket.unref();
  }

  private answer(reply: Reply): void {
    if (typeof reply !== 'object' || reply === null) return;
    // The daemon answers in line order: a reply without a known ack (a line it could not read) is the oldest's.
    const ack = typeof reply.ack === 'number' && this.entries.has(reply.ack) ? reply.ack : this.entries.keys().next().value;
    if (ack === undefined) return;
    const entry = this.entries.get(ack)!;
    this.entries.delete(ack);
    if (reply.status === true) entry.resolve?.(reply.seq as number);
    else {
      const issues = Array.isArray(reply.issues) ? (reply.issues as WireIssue[]) : [];
      const error = new ReportRejectedError(typeof reply.message === 'string' ? reply.message : 'rejected', issues, 'daemon');
      if (entry.reject) entry.reject(error);
      else if (this.options.onRejected) this.options.onRejected(error);
      else this.warn(`eventd: ${error.message}`);
    }
    if (this.entries.size === 0) {
      this.socket?.unref();
      for (const wake of this.emptied.splice(0)) wake();
    }
  }
}

function lineOf(entry: Entry): string {
  // The report's own text, with the queue's ack as its last key.
  return `${entry.text.slice(0, -1)}${entry.text.length > 2 ? ',' : ''}"ack":${entry.ack}}\n`;
}
