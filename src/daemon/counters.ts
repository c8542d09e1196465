// The daemon's counts of what was published, gathered from every ingest thread: per type, and
// per pool. Pools are counted by name up to MAX_POOLS; events of further pools are counted under
// OTHER_POOLS, so a producer inventing pool names cannot grow the daemon's memory or a metric's labels.
import { EVENT_TYPES } from '../protocol/event-types.js';
import type { WrittenCounts } from '../ingest/ingest.js';

const MAX_POOLS = 256;
export const OTHER_POOLS = '(other)';

export class PublishedCounts {
  /** Events published per type (by type code) and per opts.pool. */
  readonly byType: number[] = EVENT_TYPES.map(() => 0);
  readonly byPool = new Map<string, number>();

  add({ types, pools }: WrittenCounts): void {
    types.forEach((count, code) => {
      if (count) this.byType[code]! += count;
    });
    for (const [pool, count] of pools) this.countPool(pool, count);
  }

  private countPool(pool: string, count: number): void {
    const counted = this.byPool.get(pool);
    if (counted !== undefined) this.byPool.set(pool, counted + count);
    else if (this.byPool.size < MAX_POOLS) this.byPool.set(pool, count);
    else this.byPool.set(OTHER_POOLS, (this.byPool.get(OTHER_POOLS) ?? 0) + count);
  }
}
