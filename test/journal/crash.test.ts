// Durability shown by killing (bench/crash-loop.ts does the killing and the checking): SIGKILL at
// random moments under load, and power losses simulated by keeping only what was fdatasync'ed.
// `npm run bench:crash` runs the same with 1,000 kill points.
import { describe, expect, it } from 'vitest';
import { crashLoop } from '../../bench/crash-loop.js';

describe('the journal under crashes', () => {
  it('loses, changes and doubles nothing acknowledged or seen, across 20 SIGKILLs under load (--fsync interval)', async () => {
    const result = await crashLoop({ rounds: 20, policy: 'interval' });
    console.log(
      `crash loop: ${result.kills} SIGKILLs, ${result.acked} acks and ${result.seen} events seen checked against ${result.journaled} journaled`,
    );
    expect(result.failures).toEqual([]);
    expect(result.kills).toBe(20);
    expect(result.acked).toBeGreaterThan(500);
  }, 120_000);

  it('keeps every acknowledged and every delivered event through 8 simulated power losses under --fsync always', async () => {
    const result = await crashLoop({ rounds: 8, policy: 'always', powerLoss: true });
    console.log(`power loss (always): ${result.kills} losses, ${result.acked} acks and ${result.seen} events seen, all there`);
    expect(result.failures).toEqual([]);
    expect(result.acked).toBeGreaterThan(50);
  }, 120_000);

  it('never gives a seq a subscriber saw to another event after power losses under --fsync interval', async () => {
    const result = await crashLoop({ rounds: 6, policy: 'interval', powerLoss: true });
    console.log(`power loss (interval): ${result.kills} losses, ${result.seen} events seen, none replaced`);
    expect(result.failures).toEqual([]);
  }, 120_000);
});
