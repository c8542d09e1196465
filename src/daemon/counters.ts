// The daemon's counts, gathered from every thread: what was published (per type, and per pool),
// lines refused by reason, connections, pauses, replays and refusals. Pools are counted by name
// up to MAX_POOLS; events of further pools are counted under OTHER_POOLS, so a producer inventing
// pool names cannot grow the daemon's memory or a metric's labels.
import type { WrittenCounts } from '../ingest/ingest.js';
import type { FromWorker } from '../ipc/messages.js';
import { EVENT_TYPES } from '../protocol/event-types.js';
import { CLOSE_REASONS, METRICS_REFUSALS, REJECT_REASONS } from '../protocol/stats.js';

const MAX_POOLS = 256;
export const OTHER_POOLS = '(other)';

export class DaemonCounters {
  /** Events published per type (by type code) and per opts.pool. */
  readonly byType: number[] = EVENT_TYPES.map(() => 0);
  readonly byPool = new Map<string, number>();
  readonly rejected = zeros(REJECT_REASONS);
  readonly disconnected = zeros(CLOSE_REASONS);
  readonly metricsRefused = zeros(METRICS_REFUSALS);
  subscribersConnected = 0;
  producersConnected = 0;
  /** Connections turned away at --max-connections. */
  refused = 0;
  /** Times the workers' producers were held back because the ring was full, and for how long in all. */
  producersPaused = 0;
  producersPausedMs = 0;
  replays = 0;

  /** What an ingest thread wrote. */
  published({ types, pools }: WrittenCounts): void {
    types.forEach((count, code) => {
      if (count) this.byType[code]! += count;
    });
    for (const [pool, count] of pools) this.countPool(pool, count);
  }

  /** A worker's counts since it last said. */
  fromWorker(message: Extract<FromWorker, { t: 'counts' }>): void {
    this.published(message);
    for (const reason of REJECT_REASONS) this.rejected[reason] += message.rejected[reason] ?? 0;
    this.producersPaused += message.paused;
    this.producersPausedMs += message.pausedMs;
    this.replays += message.replays;
  }

  private countPool(pool: string, count: number): void {
    const counted = this.byPool.get(pool);
    if (counted !== undefined) this.byPool.set(pool, counted + count);
    else if (this.byPool.size < MAX_POOLS) this.byPool.set(pool, count);
    else this.byPool.set(OTHER_POOLS, (this.byPool.get(OTHER_POOLS) ?? 0) + count);
  }
}

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
}
