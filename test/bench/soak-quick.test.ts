// The short soak CI runs: bench/soak.ts for 10 s with 100 subscribers must lose nothing.
// (No speed or memory threshold here: figures belong to the benchmark, on a quiet machine.)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('soaks for 10 s at 2000 events/s to 100 subscribers without loss', { timeout: 90_000 }, () => {
  const run = spawnSync('npx', ['tsx', 'bench/soak.ts', '--duration', '10', '--subscribers', '100'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 80_000,
  });
  expect(run.status, run.stderr).toBe(0);
  const result = JSON.parse(run.stdout.trim().split('\n').pop()!);
  expect(result).toMatchObject({ subscribers: 100, lost_or_disordered_subscribers: 0 });
  expect(result.events).toBeGreaterThan(15_000);
  expect(result.samples.length).toBeGreaterThan(5);
});
