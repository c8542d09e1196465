// The full check of a report line (protocol/report.ts, with the zod schemas), loaded by the first
// line the fast path (protocol/fast-report.ts) does not take: a thread whose producers only send
// canonical reports never carries zod, which is about 10 MiB of the main thread's memory at idle
// (docs/benchmarks.md).
//
// Loaded synchronously (require of an ES module, Node ≥ 20.19), the line that needs it is checked
// in its turn: nothing read after it has to be held back to keep the producer's order. A load that
// fails (EMFILE) throws, and is tried again by the next such line, where a failed import() would
// fail for good. Under TypeScript (tsx, vitest) require() cannot load a .ts module: there it is
// imported with this module.
import { createRequire } from 'node:module';
import type * as Report from '../protocol/report.js';

const RUNNING_TS = import.meta.url.endsWith('.ts');
let loaded: typeof Report | undefined = RUNNING_TS ? await import('../protocol/report.js') : undefined;

/** protocol/report.ts, loaded now if it is not yet; throws if it cannot be (out of file descriptors). */
export function fullCheck(): typeof Report {
  return (loaded ??= createRequire(import.meta.url)('../protocol/report.js') as typeof Report);
}
