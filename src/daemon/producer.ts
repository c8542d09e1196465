// One producer connection on the report socket: frames lines, validates each as a report,
// publishes the valid ones and answers acks and errors, in line order.
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { peerCred, socketFd, type PeerCred } from '../native/index.js';
import { LineFramer, tricklePauseMs } from '../protocol/framing.js';
import { parseReport, rejected, type RejectedReport } from '../protocol/report.js';
import type { RejectReason } from '../protocol/stats.js';
import { ackLine, errorLine, reportErrorLine } from '../protocol/wire.js';
import { UnpublishableError, type Publisher } from './publisher.js';

/** Past this many bytes of unread acks and errors, stop reading the producer until it catches up. */
const MAX_UNREAD_REPLY_BYTES = 1 << 20;

export interface ProducerCounters {
  rejected: Record<RejectReason, number>;
}

export interface ProducerContext {
  publisher: Publisher;
  maxLineBytes: number;
  lineTimeoutMs: number;
  counters: ProducerCounters;
  log: Logger;
}

export class ProducerConnection {
  private readonly framer: LineFramer;
  private readonly log: Logger;
  private readonly peer: PeerCred | undefined;
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
    throttled = false,
  ) {
    this.peer = readPeer(socket);
    // Named apart from pino's own `pid` (the daemon's).
    this.log = ctx.log.child({ producer: id, peer_pid: this.peer?.pid, peer_uid: this.peer?.uid, peer_gid: this.peer?.gid });
    this.framer = new LineFramer(
      ctx.maxLineBytes,
      {
        line: (text, lineNo) => this.onLine(text, lineNo),
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
      // After the replies, which are flushed on the next turn.
      setImmediate(() => socket.end());
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

  /** Stops taking reports: everything already answered stays answered. */
  close(): void {
    this.closing = true;
    this.socket.pause();
    setImmediate(() => this.socket.end());
  }

  /** A line left unfinished too long: say so, then close (a slow-byte client holds nothing for long). */
  private timedOut(message: string): void {
    this.log.warn({ reason: message }, 'producer closed: unfinished line');
    this.closing = true;
    this.flushReplies();
    this.socket.end(errorLine(message), () => this.socket.destroy());
  }

  private onLine(text: string, lineNo: number): void {
    const report = parseReport(text);
    if (!report.ok) return this.reject(lineNo, report);
    let seq: number;
    try {
      seq = this.ctx.publisher.publish(report.type, report.opts);
    } catch (error) {
      if (!(error instanceof UnpublishableError)) throw error;
      return this.reject(lineNo, rejected('schema', `Invalid ${report.type} report: ${error.message}`, [], report.ack));
    }
    if (report.ack !== undefined) this.reply(ackLine(report.ack, seq));
  }

  private reject(lineNo: number, report: RejectedReport): void {
    this.ctx.counters.rejected[report.reason]++;
    this.log.warn({ line: lineNo, reason: report.message }, 'report rejected');
    this.reply(reportErrorLine(lineNo, report.message, report.issues, report.ack));
  }

  /** Replies are written once per event-loop turn: a burst of lines costs one write. */
  private reply(line: string): void {
    this.replies += line;
    if (this.replies.length === line.length) setImmediate(() => this.flushReplies());
  }

  private flushReplies(): void {
    const replies = this.replies;
    this.replies = '';
    if (replies === '' || this.socket.destroyed) return;
    // Hand the events to the workers first: an ack never overtakes its event.
    this.ctx.publisher.flush();
    this.socket.write(replies);
    // A producer that does not read its replies is slowed down, never buffered without bound.
    if (this.socket.writableLength > MAX_UNREAD_REPLY_BYTES) {
      this.repliesUnread = true;
      this.updateFlow();
    }
  }
}

function readPeer(socket: Socket): PeerCred | undefined {
  try {
    return peerCred(socketFd(socket));
  } catch {
    return undefined;
  }
}
