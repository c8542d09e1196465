// The daemon's figures as Prometheus text: made (and prom-client loaded) on first use, for the
// `metrics` command and for --metrics-listen's HTTP endpoint, which is loaded only when asked for.
import { rateLimited, type Logger } from '../log.js';
import { metricsUrl, parseAllowList, type ListenAddress } from '../metrics/address.js';
import type { MetricsServer } from '../metrics/http.js';
import { cachedText, createMetrics, type Metrics } from '../metrics/registry.js';
import type { DaemonStats, MetricsRefusal } from '../protocol/stats.js';
import { DAEMON_METRICS } from './metrics.js';

const WHY_REFUSED: Record<MetricsRefusal, string> = {
  connections: 'it has all the connections it takes',
  address: 'the peer is not in --metrics-allow',
  unread: 'the client did not take its answer within 10 s',
};

export class MetricsEndpoint {
  private metrics: Promise<Metrics> | undefined;
  private cached: (() => Promise<string>) | undefined;
  private server: MetricsServer | undefined;
  private readonly logRefusalNow = rateLimited(10_000);

  constructor(
    private readonly stats: () => DaemonStats,
    /** Scrapers turned away, by why (the daemon's counters). */
    private readonly refused: Record<MetricsRefusal, number>,
    private readonly log: Logger,
  ) {}

  /** The text, built at most once a second however many ask (`metrics` in a loop on many connections). */
  async text(): Promise<string> {
    this.cached ??= cachedText(await this.registry(), 1000);
    return this.cached();
  }

  /** Serves /metrics on `listen` (HOST:PORT), to the peers `allow` names when given. */
  async listen(listen: ListenAddress, allow: readonly string[] | undefined): Promise<void> {
    const { serveMetrics } = await import('../metrics/http.js');
    this.server = await serveMetrics(listen, await this.registry(), {
      allow: allow === undefined ? undefined : parseAllowList(allow),
      refused: (why) => this.refusal(why),
    });
  }

  /** The URL it serves, with the port it got (for HOST:0); undefined when not listening. */
  url(listen: ListenAddress | undefined): string | undefined {
    return listen && this.server ? metricsUrl(listen, this.server.server) : undefined;
  }

  close(): void {
    this.server?.close();
  }

  /** Made on first use; tried again next time if that failed (e.g. EMFILE). */
  private registry(): Promise<Metrics> {
    this.metrics ??= createMetrics(DAEMON_METRICS, this.stats).catch((error: unknown) => {
      this.metrics = undefined;
      throw error;
    });
    return this.metrics;
  }

  /** A scraper turned away: counted, and logged at most once in 10 s (a flood would fill the log). */
  private refusal(why: MetricsRefusal): void {
    this.refused[why]++;
    if (!this.logRefusalNow()) return;
    this.log.warn({ refused: { ...this.refused } }, `metrics connection refused or closed: ${WHY_REFUSED[why]}`);
  }
}
