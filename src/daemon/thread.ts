// Starting a thread of the daemon's (a worker, the journal) from its module: as compiled JS in
// production, or as TypeScript under tsx (`npm run dev`, tests), where on Node 20 a worker thread
// does not inherit tsx's loader and must register it before it imports its entry.
import { Worker } from 'node:worker_threads';
import { THREAD_YOUNG_GENERATION_MB } from './young-generation.js';

const RUNNING_TS = import.meta.url.endsWith('.ts');

/** `module` is the path of the thread's entry relative to src/ without its extension, e.g. 'worker/worker'. */
export function startThread(module: string, workerData: unknown): Worker {
  const resourceLimits = { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB };
  const url = new URL(`../${module}${RUNNING_TS ? '.ts' : '.js'}`, import.meta.url);
  if (!RUNNING_TS) return new Worker(url, { workerData, resourceLimits });
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData, resourceLimits });
}
