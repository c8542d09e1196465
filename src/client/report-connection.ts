// A producer connection on which every report carries an ack, so that every line is answered:
// each resolves with its event's seq or rejects with the daemon's error, in order. It checks
// nothing itself: the Reporter (reporter.ts) checks against the schema first, while `eventd report`
// leaves that to the daemon, which says the same thing, because loading the schemas (zod) is most
// of that command's start-up time.
import type { Socket } from 'node:net';
import type { WireIssue } from '../protocol/issues.js';
import { EventdError, ReportRejectedError } from '../errors.js';
import { isPlainObject } from '../protocol/json.js';
import { connect } from './connect.js';
import { JsonLineReader, REPLY_TIMEOUT_MS, withReplyTimeout } from './lines.js';

interface Reply {
  status: boolean;
  ack?: number;
  seq?: number;
  message?: string;
  issues?: WireIssue[];
}

export class ReportConnection {
  private nextAck = 1;
  private readonly pending = new Map<number, { resolve: (seq: number) => void; reject: (error: Error) => void }>();
  private closed = false;
  /** Armed while reports wait for answers: a daemon that takes reports and never answers must not hang the caller. */
  private silence: NodeJS.Timeout | undefined;
  private failure: EventdError | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly replyTimeoutMs: number,
  ) {
    const reader = new JsonLineReader(socket);
    void (async () => {
      for (;;) {
        const reply = (await reader.next().catch((error: unknown) => {
          if (error instanceof EventdError) this.failure = error;
          return undefined;
        })) as Reply | undefined;
        if (reply === undefined) break;
        if (typeof reply !== 'object' || reply === null) {
          this.failure = new EventdError('EVENTD_PROTOCOL', `eventd answered a report with ${JSON.stringify(reply)}`);
          socket.destroy();
          break;
        }
        // Every line sent gets one reply, in line order: a reply without a readable ack (a line
        // that is not a JSON object, or too long for the daemon to read) is the oldest's.
        const ack = typeof reply.ack === 'number' && this.pending.has(reply.ack) ? reply.ack : this.pending.keys().next().value;
        const waiter = ack === undefined ? undefined : this.pending.get(ack);
        if (!waiter) continue;
        this.pending.delete(ack!);
        this.watchSilence();
        if (reply.status) waiter.resolve(reply.seq!);
        else waiter.reject(new ReportRejectedError(reply.message ?? 'rejected', reply.issues ?? [], 'daemon'));
      }
      this.closed = true;
      clearTimeout(this.silence);
      const error = this.failure ?? new EventdError('EVENTD_UNREACHABLE', 'eventd closed the connection before acknowledging the report');
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    })();
  }

  static async connect(reportSocket: string, replyTimeoutMs = REPLY_TIMEOUT_MS): Promise<ReportConnection> {
    return new ReportConnection(await connect(reportSocket), replyTimeoutMs);
  }

  /** (Re)arms the timer while answers are owed: each answer gives the daemon another replyTimeoutMs. */
  private watchSilence(): void {
    clearTimeout(this.silence);
    this.silence = undefined;
    if (this.pending.size === 0 || this.closed) return;
    this.silence = setTimeout(() => {
      this.failure = new EventdError('EVENTD_UNREACHABLE', `eventd did not answer a report within ${this.replyTimeoutMs / 1000} s`);
      this.socket.destroy();
    }, this.replyTimeoutMs);
  }

  /** Sends one report object; any `ack` in it is replaced by the connection's own. */
  send(report: Record<string, unknown>): Promise<number> {
    return this.write((ack) => JSON.stringify({ ...report, ack }));
  }

  /**
   * Sends one NDJSON line as a producer wrote it: the daemon reads exactly these bytes, with the
   * connection's ack added at the end of a JSON object (a duplicate key: the last one counts).
   * Anything else goes as it is, and the daemon's error, which has no ack, comes back in its turn.
   */
  sendLine(line: string): Promise<number> {
    return this.write((ack) => withAck(line, ack));
  }

  private write(line: (ack: number) => string): Promise<number> {
    if (this.closed) return Promise.reject(new EventdError('EVENTD_UNREACHABLE', 'the connection to eventd is closed'));
    const ack = this.nextAck++;
    return new Promise((resolve, reject) => {
      this.pending.set(ack, { resolve, reject });
      this.socket.write(`${line(ack)}\n`);
      if (this.silence === undefined) this.watchSilence();
    });
  }

  /** Resolves once every report sent so far is answered (or the connection is gone); rejects after timeoutMs. */
  async drained(timeoutMs: number): Promise<void> {
    const outstanding = [...this.pending.keys()].map(
      (ack) =>
        new Promise<void>((resolve) => {
          const waiter = this.pending.get(ack)!;
          this.pending.set(ack, {
            resolve: (seq) => (waiter.resolve(seq), resolve()),
            reject: (error) => (waiter.reject(error), resolve()),
          });
        }),
    );
    await withReplyTimeout(Promise.all(outstanding), timeoutMs, `${outstanding.length} reports`, () => {});
  }

  /** Half-closes: the daemon answers every outstanding report, then closes the connection. */
  async close(): Promise<void> {
    this.socket.end();
    await new Promise<void>((resolve) => (this.socket.closed ? resolve() : this.socket.once('close', () => resolve())));
  }
}

/** `line` with `"ack":N` as the last key if it is a JSON object, else unchanged. */
function withAck(line: string, ack: number): string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return line;
  }
  if (!isPlainObject(value)) return line;
  const text = line.trimEnd();
  // A JSON object's text ends with its closing brace; an empty one takes no comma.
  return Object.keys(value).length === 0 ? `{"ack":${ack}}` : `${text.slice(0, -1)},"ack":${ack}}`;
}
