// The main thread's nursery stays at its starting size in `eventd serve` (daemon/young-generation.ts),
// on the Node that runs the tests: a V8 that stopped reading the growth factor would fail here.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** The new space's size, in MiB, after building `command` and then keeping 300,000 fresh objects. */
function nurseryAfterBurst(command: string): number {
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    const { buildProgram } = await import(${JSON.stringify(MAIN)});
    await buildProgram([${JSON.stringify(command)}]);
    const kept = [];
    for (let i = 0; i < 300000; i++) kept.push({ i, text: 'event ' + i });
    const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    console.log(space.space_size / 1048576, kept.length);`;
  const [mib] = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim().split(' ');
  return Number(mib);
}

it('keeps the main thread’s young generation at 2 MiB under `eventd serve`, where it would grow to tens', () => {
  expect(nurseryAfterBurst('serve')).toBeLessThanOrEqual(2);
  // The same burst in a client command (the flag is the daemon's alone).
  expect(nurseryAfterBurst('report')).toBeGreaterThanOrEqual(8);
});
