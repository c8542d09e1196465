// Starting a thread of the daemon's (a worker, the journal) from its module: as compiled JS in
// production, or as TypeScript under tsx (`npm run dev`, tests), where on Node 20 a worker thread
// does not inherit tsx's loader and must register it before it imports its entry.
import { Worker } from 'node:worker_threads';

const RUNNING_TS = import.meta.url.endsWith('.ts');

/**
 * Each thread's young generation (V8's nursery: two semi-spaces and room for large new objects),
 * in MiB: the least V8 starts with, 1 MiB semi-spaces, and no growth. These threads keep few
 * objects for long (events stay in the ring, in reused record memory, on disk), so a larger one
 * only holds garbage: uncapped, a worker's grew to 3.3 MiB at idle and to tens of MiB under load.
 * Measured side by side (docs/benchmarks.md): RSS 1.7 MiB lower at idle, 2–10 MiB lower at peak
 * (25 with --ingest-threads 2; 1–2 with the journal's thread capped too), CPU per event unchanged.
 */
const YOUNG_GENERATION_MB = 3;

/** `module` is the path of the thread's entry relative to src/ without its extension, e.g. 'worker/worker'. */
export function startThread(module: string, workerData: unknown): Worker {
  const resourceLimits = { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB };
  const url = new URL(`../${module}${RUNNING_TS ? '.ts' : '.js'}`, import.meta.url);
  if (!RUNNING_TS) return new Worker(url, { workerData, resourceLimits });
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData, resourceLimits });
}
