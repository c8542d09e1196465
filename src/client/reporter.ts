// A producer connection with acks: every report resolves with its seq or rejects with the
// daemon's (or the local schema's) error.
import type { Socket } from 'node:net';
import type { EventOpts, EventType } from '../protocol/events.js';
import type { WireIssue } from '../protocol/issues.js';
import { parseReport, ReportRejectedError, type ReportResult } from '../protocol/report.js';
import { EventdError } from '../errors.js';
import { connect, defaultSocketPaths } from './connect.js';
import { JsonLineReader } from './lines.js';

interface Reply {
  status: boolean;
  ack?: number;
  seq?: number;
  message?: string;
  issues?: WireIssue[];
}

export class Reporter {
  private nextAck = 1;
  private readonly pending = new Map<number, { resolve: (seq: number) => void; reject: (error: Error) => void }>();
  private closed = false;

  private constructor(private readonly socket: Socket) {
    const reader = new JsonLineReader(socket);
    void (async () => {
      for (;;) {
        const reply = (await reader.next().catch(() => undefined)) as Reply | undefined;
        if (reply === undefined) break;
        // Every line sent carries an ack and gets one reply, in line order: a reply without a
        // readable ack (a line too long for the daemon, which it discards unread) is the oldest's.
        const ack = typeof reply.ack === 'number' && this.pending.has(reply.ack) ? reply.ack : this.pending.keys().next().value;
        const waiter = ack === undefined ? undefined : this.pending.get(ack);
        if (!waiter) continue;
        this.pending.delete(ack!);
        if (reply.status) waiter.resolve(reply.seq!);
        else waiter.reject(new ReportRejectedError(reply.message ?? 'rejected', reply.issues ?? [], 'daemon'));
      }
      this.closed = true;
      for (const waiter of this.pending.values()) {
        waiter.reject(new EventdError('EVENTD_UNREACHABLE', 'eventd closed the connection before acknowledging the report'));
      }
      this.pending.clear();
    })();
  }

  /** Connects to the daemon's report socket (default: where `eventd serve` puts it, see defaultSocketPaths). */
  static async connect({ reportSocket = defaultSocketPaths().reportSocket }: { reportSocket?: string } = {}): Promise<Reporter> {
    return new Reporter(await connect(reportSocket));
  }

  /** Reports one event; resolves with its seq once the daemon has published it. */
  report<T extends EventType>(type: T, opts: EventOpts<T>): Promise<number> {
    return this.reportJson({ type, opts });
  }

  /**
   * Reports one report object as JSON (`{"type":…,"opts":…}`), checked against the same schema
   * as the daemon's before it is sent. Any `ack` in it is replaced by the reporter's own.
   */
  reportJson(report: unknown): Promise<number> {
    return this.send(parseReport(JSON.stringify(report) ?? 'undefined'));
  }

  /** Reports one NDJSON line as a producer would write it, checked like `reportJson`. */
  reportLine(line: string): Promise<number> {
    return this.send(parseReport(line));
  }

  private send(local: ReportResult): Promise<number> {
    if (!local.ok) return Promise.reject(new ReportRejectedError(local.message, local.issues, 'local'));
    if (this.closed) return Promise.reject(new EventdError('EVENTD_UNREACHABLE', 'the connection to eventd is closed'));
    const ack = this.nextAck++;
    return new Promise((resolve, reject) => {
      this.pending.set(ack, { resolve, reject });
      this.socket.write(`${JSON.stringify({ type: local.type, opts: local.opts, ack })}\n`);
    });
  }

  /** Half-closes: the daemon answers every outstanding report, then closes the connection. */
  async close(): Promise<void> {
    this.socket.end();
    await new Promise<void>((resolve) => (this.socket.closed ? resolve() : this.socket.once('close', () => resolve())));
  }
}
