// CI runs the benchmark suite's quick mode: it must run and lose nothing. No speed threshold. Quiet: it
// measures, so it runs alone (beside the parallel suite it took up to 110 s on 2 cores).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('`bench/run.ts --quick` runs every kind of measurement and loses nothing', { timeout: 300_000 }, () => {
  const run = spawnSync('npx', ['tsx', 'bench/run.ts', '--quick'], { cwd: root, encoding: 'utf8', timeout: 290_000 });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toContain('| 10 | 1 | raw |');
  expect(run.stdout).toContain('| 10 | 1 | eventd | 2 |');
  expect(run.stdout).toMatch(/\| 250 \| eventd \| [\d.]+ \| [\d.]+ \|/);
  expect(run.stdout).toMatch(/1,000 idle subscribers: daemon RSS/);
  expect(run.stdout).toContain('the reading subscriber got all of them; the stalled one was dropped as too slow.');
  expect(run.stdout).toMatch(/\| 1000 \| 2 \| [\d,]+ \| [\d.]+ \| [\d.]+ \| 501\/500 \| 0 \|/); // workers, generator pinned
  expect(run.stdout).toMatch(/\| 5,000 \| [\d,]+ \| [\d,]+ \| [\d.]+ \| [\d.]+ \| 0 \| 0 \|/); // forwarding into NATS
  // The journal: every policy measured, a replay from disk complete and in order.
  for (const journal of ['--no-journal', '--fsync never', '--fsync interval', '--fsync always'])
    expect(run.stdout).toMatch(new RegExp(`\\| ${journal} \\| [\\d,]+ \\| [\\d.]+ \\|`));
  expect(run.stdout).toContain('| events replayed in order from since + 1, none missing | yes |');
  expect(run.stdout).toContain('Lost events in any run: 0.');
});
