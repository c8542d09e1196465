// One producer connection on the report socket, owned by a worker thread or by the main thread
// itself: frames lines, validates each as a report, hands the valid ones on to be sequenced and
// published (ingest.ts), and answers acks and errors, in line order.
import type { Socket } from 'node:net';
import type { PeerCred } from '../native/index.js';
import { LineFramer, tricklePauseMs } from '../protocol/framing.js';
import { rejected, type Ack, type RejectedReport } from '../protocol/rejection.js';
import type { RejectReason } from '../protocol/stats.js';
import { scanReport } from '../protocol/fast-report.js';
import { ackLine, errorLine, reportErrorLine, UnpublishableError } from '../protocol/wire.js';
import type { ConnectionLogger } from '../connection-log.js';
import { fullCheck } from './full-check.js';
import type { Outcome, ReplyTarget, ReportSink } from './ingest.js';

/** Past this many bytes of unread acks and errors, stop reading the producer until it catches up. */
const MAX_UNREAD_REPLY_BYTES = 1 << 20;

export interface ProducerContext {
  ingest: ReportSink;
  maxLineBytes: number;
  lineTimeoutMs: number;
  /** Counts a line refused, by reason. */
  rejected(reason: RejectReason): void;
  log: ConnectionLogger;
}

export class ProducerConnection implements ReplyTarget {
  private readonly framer: LineFramer;
  private readonly log: ConnectionLogger;
  /** Set at shutdown: nothing read after this point is published or answered. */
  private closing = false;
  private replies = '';
  /** Reading stops while the producer leaves its replies unread, or while the daemon is overloaded. */
  private repliesUnread = false;
  private throttled = false;
  /** Paused for a moment after a trickle of bytes that finished no line (see framing.ts). */
  private trickling = false;

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly ctx: ProducerContext,
    peer: PeerCred | undefined,
    throttled = false,
    /** Called once the connection is closed, or has sent its last reply at shutdown. */
    private readonly finished: () => void = () => {},
  ) {
    // Named apart from pino's own `pid` (the daemon's).
    this.log = ctx.log.child({ producer: id, peer_pid: peer?.pid, peer_uid: peer?.uid, peer_gid: peer?.gid });
    this.framer = new LineFramer(
      ctx.maxLineBytes,
      {
        line: (text, lineNo) => this.onLine(text, lineNo),
        bytes: (bytes, start, end, lineNo) => this.onBytes(bytes, start, end, lineNo),
        badLine: (lineNo, message) => this.reject(lineNo, rejected('framing', message)),
        timedOut: (message) => this.timedOut(message),
      },
      ctx.lineTimeoutMs,
    );
    // Per connection: debug, or a busy host's log is mostly these lines.
    this.log.debug('producer connected');
    socket.on('data', (chunk: Buffer) => {
      if (!this.closing && this.framer.push(chunk)) this.trickle();
    });
    // Half-close: answer the last line (even without `\n`), flush every reply, then close.
    socket.on('end', () => {
      if (!this.closing) this.framer.end();
      this.endAfterReplies();
    });
    socket.on('drain', () => {
      this.repliesUnread = false;
      this.updateFlow();
    });
    this.throttle(throttled);
    // A reset drops a partial line; nothing else to do.
    socket.on('error', (error) => this.log.debug({ err: error }, 'producer connection error'));
    socket.on('close', () => {
      this.framer.stop();
      this.log.debug('producer disconnected');
      this.finished();
    });
  }

  /** Pauses reading while the workers catch up (flow control), or resumes it. */
  throttle(on: boolean): void {
    this.throttled = on;
    this.updateFlow();
  }

  private updateFlow(): void {
    if (this.closing) return;
    if (this.throttled || this.repliesUnread || this.trickling) this.socket.pause();
    else this.socket.resume();
  }

  private trickle(): void {
    this.trickling = true;
    this.updateFlow();
    setTimeout(() => {
      this.trickling = false;
      this.updateFlow();
    }, tricklePauseMs()).unref();
  }

  /** Stops taking reports: every report already read is published and answered, then the connection ends. */
  close(): void {
    this.closing = true;
    this.socket.pause();
    this.endAfterReplies();
  }

  /** Cuts the connection (a producer that does not read its last replies at shutdown). */
  destroy(): void {
    this.socket.destroy();
  }

  /** Ends the connection once every line read so far is answered (the replies go out on the next turn). */
  private endAfterReplies(): void {
    this.ctx.ingest.after(() =>
      setImmediate(() => {
        if (this.socket.destroyed) return;
        this.socket.end(() => this.finished());
      }),
    );
  }

  /** A line left unfinished too long: say so, then close (a slow-byte client holds nothing for long). */
  private timedOut(message: string): void {
    this.log.warn({ reason: message }, 'producer closed: unfinished line');
    this.closing = true;
    this.ctx.ingest.after(() => {
      this.flushReplies();
      this.socket.end(errorLine(message), () => this.socket.destroy());
    });
  }

  /** The common case, taken straight from the bytes (protocol/fast-report.ts); false for any other line. */
  private onBytes(bytes: Buffer, start: number, end: number, lineNo: number): boolean {
    const report = scanReport(bytes, start, end);
    if (report === undefined) return false;
    try {
      // The event line is the report's own bytes after its `{`, up to the end of opts.
      this.ctx.ingest.addSpan(report.type, bytes, start + 1, report.optsEnd, report.pool, this, lineNo, report.ack);
    } catch (error) {
      this.unpublishable(error, report.type, lineNo, report.ack);
    }
    return true;
  }

  /** Any other line: parsed and checked in full, and refused with the reason. */
  private onLine(text: string, lineNo: number): void {
    let parseReport;
    try {
      ({ parseReport } = fullCheck());
    } catch (error) {
      const why = `it could not load its report schemas: ${(error as Error).message}`;
      return this.reject(
        lineNo,
        rejected('unchecked', `eventd could not check this report (${why}); nothing was published, send it again`),
      );
    }
    const report = parseReport(text);
    if (!report.ok) return this.reject(lineNo, report);
    const { ack } = report;
    try {
      this.ctx.ingest.add(report.type, report.opts, this, lineNo, ack);
    } catch (error) {
      this.unpublishable(error, report.type, lineNo, ack);
    }
  }

  /** A valid report whose event line cannot be made (too long, nested too deeply) is refused; any other error goes on. */
  private unpublishable(error: unknown, type: string, lineNo: number, ack: Ack | undefined): void {
    if (!(error instanceof UnpublishableError)) throw error;
    this.reject(lineNo, rejected('schema', `Invalid ${type} report: ${error.message}`, [], ack));
  }

  /**
   * What became of a report (ReplyTarget): its ack, or, valid but not published (the journal
   * cannot write), an error line even without an ack.
   */
  answered(outcome: Outcome, lineNo: number, ack: Ack | undefined): void {
    if (typeof outcome !== 'number') {
      this.ctx.rejected('journal');
      this.reply(reportErrorLine(lineNo, outcome.refused, [], ack));
    } else if (ack !== undefined) this.reply(ackLine(ack, outcome));
  }

  private reject(lineNo: number, report: RejectedReport): void {
    this.ctx.rejected(report.reason);
    this.log.warn({ line: lineNo, reason: report.message }, 'report rejected');
    const line = reportErrorLine(lineNo, report.message, report.issues, report.ack);
    // After the replies to the lines before it.
    this.ctx.ingest.after(() => this.reply(line));
  }

  /** Replies are written once per published batch: a burst of lines costs one write. */
  private reply(line: string): void {
    this.replies += line;
    // Replies come from the callbacks run when a batch is published (ReportSink.after), all in one
    // go: written right after them, in the same turn, as one write.
    if (this.replies.length === line.length) queueMicrotask(() => this.flushReplies());
  }

  private flushReplies(): void {
    const replies = this.replies;
    this.replies = '';
    if (replies === '' || this.socket.destroyed) return;
    this.socket.write(replies);
    // A producer that does not read its replies is slowed down, never buffered without bound.
    if (this.socket.writableLength > MAX_UNREAD_REPLY_BYTES) {
      this.repliesUnread = true;
      this.updateFlow();
    }
  }
}
