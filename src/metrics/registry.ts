// Prometheus metrics read from a stats snapshot. The daemon and the forwarder count in plain
// numbers on their hot paths; a scrape takes one snapshot and every metric reads it, so a scrape
// is consistent and costs nothing between scrapes. prom-client is loaded only when metrics are
// first asked for: a daemon that never exposes them does not carry it.
import { createRequire } from 'node:module';
import type { Registry } from 'prom-client';

/**
 * prom-client (a CommonJS package) by require(): Node forgets a require that failed, so metrics
 * first asked for while the daemon is out of file descriptors (EMFILE) work once they free up. A
 * failed import() would be remembered, and metrics would fail until a restart.
 */
function loadPromClient(): typeof import('prom-client') {
  return createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
}

export type Labels = Record<string, string>;

export interface MetricDef<S> {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  /** Label names, when read returns samples. */
  labels?: readonly string[];
  read(snapshot: S): number | [Labels, number][];
}

export interface Metrics {
  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string>;
  readonly contentType: string;
}

/** Samples for a metric with one label, from a record of counts. */
export function byLabel(label: string, counts: Record<string, number>): [Labels, number][] {
  return Object.entries(counts).map(([value, count]) => [{ [label]: value }, count]);
}

/** A registry of `defs` over `snapshot()`, plus prom-client's process metrics (CPU, memory, event-loop lag). */
export async function createMetrics<S>(defs: MetricDef<S>[], snapshot: () => S): Promise<Metrics> {
  const prom = loadPromClient();
  const registry: Registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  // Gauges named like counters, which `promtool check metrics` flags; prom-client also exports
  // each without the suffix (nodejs_active_handles, …), by type.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  let current: S | undefined;
  for (const def of defs) {
    const Metric = def.type === 'counter' ? prom.Counter : prom.Gauge;
    new Metric({
      name: def.name,
      help: def.help,
      labelNames: def.labels ?? [],
      registers: [registry],
      collect(this: { reset(): void; inc?(labels: Labels, value: number): void; set?(labels: Labels, value: number): void }) {
        if (current === undefined) return;
        const value = def.read(current);
        this.reset();
        const put = (labels: Labels, n: number) => (def.type === 'counter' ? this.inc!(labels, n) : this.set!(labels, n));
        if (typeof value === 'number') put({}, value);
        else for (const [labels, n] of value) put(labels, n);
      },
    });
  }
  return {
    contentType: registry.contentType,
    async text() {
      current = snapshot();
      try {
        return await registry.metrics();
      } finally {
        current = undefined;
      }
    },
  };
}

/**
 * `metrics.text()` built at most once per `maxAgeMs`: every scrape within that time (and every
 * scrape while one is being built) gets the same text, so scraping in a loop costs the daemon
 * about one build a second however many scrape.
 */
export function cachedText(metrics: Metrics, maxAgeMs: number): () => Promise<string> {
  let built: { text: Promise<string>; at: number } | undefined;
  return () => {
    const now = performance.now();
    if (built === undefined || now - built.at >= maxAgeMs) {
      const text = metrics.text();
      built = { text, at: now };
      // A failed build (EMFILE) is not kept: the next scrape tries again.
      text.catch(() => {
        if (built?.text === text) built = undefined;
      });
    }
    return built.text;
  };
}
