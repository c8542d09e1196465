// The library's producer: every report is checked against the same schema as the daemon's before
// it is sent, then resolves with its seq or rejects with the daemon's (or the local check's) error.
//
// Two ways to hold the connection: by default one connection, and a daemon that goes away fails
// what is outstanding and every later report (EVENTD_UNREACHABLE); with `reconnect: true` a
// bounded queue that rides out restarts and outages, resends what was not acknowledged, and lets
// `post` report without waiting at all (report-queue.ts).
import type { EventOpts, EventType } from '../protocol/events.js';
import { parseReport, type AcceptedReport, type ReportResult } from '../protocol/report.js';
import { ReportRejectedError } from '../errors.js';
import { defaultSocketPaths } from './connect.js';
import { REPLY_TIMEOUT_MS } from './lines.js';
import { ReportConnection } from './report-connection.js';
import { ReportQueue } from './report-queue.js';

export interface ReporterOptions {
  /** The daemon's report socket (default: where `eventd serve` puts it, see defaultSocketPaths). */
  reportSocket?: string;
  /**
   * Ride out daemon restarts and outages: reports wait in a bounded queue and unacknowledged ones
   * are sent again on a new connection (at least once: one may then be published twice).
   */
  reconnect?: boolean;
  /** How long `report` waits for the daemon's answer (default 10 s) before EVENTD_UNREACHABLE. */
  replyTimeoutMs?: number;
  /** With reconnect: reports waiting for an acknowledgement at most (default 10,000); the oldest are dropped past it. */
  maxQueued?: number;
  /** A `post`ed report the daemon refused (default: a process warning). */
  onRejected?: (error: ReportRejectedError) => void;
  /** With reconnect: said once per outage, and when reports are dropped (default: a process warning). */
  onWarning?: (message: string) => void;
}

export class Reporter {
  private constructor(
    private readonly connection: ReportConnection | undefined,
    private readonly queue: ReportQueue | undefined,
    private readonly options: ReporterOptions,
  ) {}

  /**
   * Connects to the daemon's report socket. Without `reconnect` a daemon that is not there is an
   * error now (EVENTD_UNREACHABLE); with it, reports are queued until it is.
   */
  static async connect(options: ReporterOptions = {}): Promise<Reporter> {
    const reportSocket = options.reportSocket ?? defaultSocketPaths().reportSocket;
    if (options.reconnect) {
      const queue = new ReportQueue({
        reportSocket,
        maxQueued: options.maxQueued,
        onRejected: options.onRejected,
        onWarning: options.onWarning,
      });
      return new Reporter(undefined, queue, options);
    }
    return new Reporter(await ReportConnection.connect(reportSocket, options.replyTimeoutMs ?? REPLY_TIMEOUT_MS), undefined, options);
  }

  /** Reports one event; resolves with its seq once the daemon has published it. */
  report<T extends EventType>(type: T, opts: EventOpts<T>): Promise<number> {
    return this.reportJson({ type, opts });
  }

  /**
   * Reports one event without waiting: checked against the schema now (a ReportRejectedError is
   * thrown at once), then sent; a refusal by the daemon goes to onRejected. With `reconnect` it
   * returns at once whatever the daemon's state.
   */
  post<T extends EventType>(type: T, opts: EventOpts<T>): void {
    const report = checked(parseReport(JSON.stringify({ type, opts })));
    if (this.queue) return this.queue.post(textOf(report));
    this.connection!.send({ type: report.type, opts: report.opts }).catch((error: Error) => {
      if (error instanceof ReportRejectedError && this.options.onRejected) this.options.onRejected(error);
      else process.emitWarning(`eventd: ${error.message}`, 'EventdWarning');
    });
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

  /** Reports dropped because the queue was full (with reconnect; 0 otherwise). */
  get dropped(): number {
    return this.queue?.dropped ?? 0;
  }

  /** Waits until the daemon has acknowledged every report sent or posted so far (EVENTD_UNREACHABLE after timeoutMs). */
  async flush(timeoutMs = this.options.replyTimeoutMs ?? REPLY_TIMEOUT_MS): Promise<void> {
    if (this.queue) return this.queue.flush(timeoutMs);
    await this.connection!.drained(timeoutMs);
  }

  private send(local: ReportResult): Promise<number> {
    let report: AcceptedReport;
    try {
      report = checked(local);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (this.queue) return this.queue.send(textOf(report), this.options.replyTimeoutMs ?? REPLY_TIMEOUT_MS);
    return this.connection!.send({ type: report.type, opts: report.opts });
  }

  /** Closes, once the daemon has answered every outstanding report (with reconnect: flush first, or what is queued is dropped). */
  async close(): Promise<void> {
    if (this.queue) return this.queue.close();
    return this.connection!.close();
  }
}

function checked(local: ReportResult): AcceptedReport {
  if (!local.ok) throw new ReportRejectedError(local.message, local.issues, 'local');
  return local;
}

function textOf(report: AcceptedReport): string {
  return JSON.stringify({ type: report.type, opts: report.opts });
}
