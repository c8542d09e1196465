// The library's producer: every report is checked against the same schema as the daemon's before
// it is sent, then resolves with its seq or rejects with the daemon's (or the local check's) error.
import type { EventOpts, EventType } from '../protocol/events.js';
import { parseReport, type ReportResult } from '../protocol/report.js';
import { ReportRejectedError } from '../errors.js';
import { defaultSocketPaths } from './connect.js';
import { ReportConnection } from './report-connection.js';

export class Reporter {
  private constructor(private readonly connection: ReportConnection) {}

  /** Connects to the daemon's report socket (default: where `eventd serve` puts it, see defaultSocketPaths). */
  static async connect({ reportSocket = defaultSocketPaths().reportSocket }: { reportSocket?: string } = {}): Promise<Reporter> {
    return new Reporter(await ReportConnection.connect(reportSocket));
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
    return this.connection.send({ type: local.type, opts: local.opts });
  }

  /** Half-closes: the daemon answers every outstanding report, then closes the connection. */
  close(): Promise<void> {
    return this.connection.close();
  }
}
