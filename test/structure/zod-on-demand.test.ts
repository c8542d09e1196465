// What the daemon's threads load at start, as the compiled imports show it (dist/, where
// type-only imports are gone): never zod. The report schemas (zod: about 10 MiB of a thread's
// memory) come with the first report the fast path does not take (src/ingest/full-check.ts, by
// require, which this does not follow), the command schemas with the first command the zod-free
// check refuses (worker.ts). One stray import would bring them back into every daemon at idle.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../../dist', import.meta.url));

/**
 * Imported by import(), but not at start: the command schemas (worker.ts, on demand), and the
 * report schemas (full-check.ts imports them up front only under TypeScript, where require() cannot).
 */
const NOT_AT_START = ['protocol/parse-command.js', 'protocol/report.js'];

/** Each package a module of dist/ loads, with a module that imports it: relative imports followed, static and dynamic (but NOT_AT_START). */
function packagesReached(entry: string): Map<string, string> {
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const [, specifier] of text.matchAll(/(?:^(?:import|export)\b[^;]*?\bfrom\s*|^import\s*|\bimport\(\s*)'([^']+)'/gm)) {
      if (!specifier!.startsWith('.')) {
        if (!specifier!.startsWith('node:')) packages.set(specifier!.split('/')[0]!, relative(dist, file));
        continue;
      }
      const target = resolve(dirname(file), specifier!);
      if (!NOT_AT_START.includes(relative(dist, target))) visit(target);
    }
  };
  visit(join(dist, entry));
  return packages;
}

it.each(['cli/serve.js', 'worker/worker.js', 'journal/thread.js'])('%s does not load zod at start', (entry) => {
  expect(existsSync(join(dist, entry)), 'run `npm run build` first').toBe(true);
  expect(packagesReached(entry).get('zod')).toBeUndefined();
});

it('finds the packages a module loads', () => {
  expect(packagesReached('cli/serve.js').has('commander')).toBe(true);
  expect(packagesReached('protocol/report.js').has('zod')).toBe(true);
  expect(packagesReached('protocol/parse-command.js').has('zod')).toBe(true);
});
