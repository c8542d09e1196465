// The size of V8's young generation (its nursery: two semi-spaces, where new objects are made and
// most die) in each of the daemon's threads. Events live in the shared ring, in reused record
// memory and on disk, never as JS objects for long, so a large nursery only holds garbage: what
// survives is little, and a small one collects it as cheaply. Measured side by side in
// docs/benchmarks.md.
import { setFlagsFromString } from 'node:v8';

/**
 * Each thread eventd starts (workers, the journal), in MiB: the least V8 starts with, 1 MiB
 * semi-spaces, and no growth (`resourceLimits.maxYoungGenerationSizeMb`). Uncapped, a worker's
 * grew to 3.3 MiB at idle and to tens of MiB under load; capped, RSS was 1.7 MiB lower at idle,
 * 2–10 MiB lower at peak (25 with --ingest-threads 2), CPU per event unchanged.
 */
export const THREAD_YOUNG_GENERATION_MB = 3;

/**
 * Keeps the main thread's nursery at the size it starts with (1 MiB semi-spaces), as the other
 * threads' are: V8 doubles it (up to 16 MiB) whenever more survives than it holds, which start-up
 * (loading modules) and any burst of reports do, and never gives it back at once. Only a node flag
 * at start caps it (`--max-semi-space-size`), which would have to live in every launcher (the
 * unit, npm start, scripts); growth, though, is read from V8's flags each time it grows, so a
 * growth factor of 1 set here, before the daemon's modules load, has the same effect. Measured
 * (three pairs): peak RSS of the 10⁶-event ingest 120.9–122.7 → 113.4–114.7 MiB, idle 2 MiB lower,
 * CPU per event the same.
 *
 * Process-wide: only `eventd serve` calls it, never the library (an embedding program's heap is
 * its own business).
 */
export function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
