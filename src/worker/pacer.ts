// How much of a worker's time one connection's commands may take. A subscription costs the worker
// work in proportion to its filter (a 64 KiB filter is parsed and compiled in about 1 ms), and so
// does a stats reply; a client that sends them in a loop is held back to a small share of a
// thread, while one that sends a few never notices (a token bucket of time).

/** The share of a thread one connection's commands get once its burst is spent. */
const SHARE = 0.01;
/** Work a connection may do at once, after a quiet spell. */
const BURST_MS = 20;

export class CommandPacer {
  private tokensMs = BURST_MS;
  private last = performance.now();

  /** Charges `costMs` of work; returns how long to hold the connection's next line back (0: not at all). */
  charge(costMs: number): number {
    const now = performance.now();
    this.tokensMs = Math.min(BURST_MS, this.tokensMs + (now - this.last) * SHARE) - costMs;
    this.last = now;
    return this.tokensMs >= 0 ? 0 : -this.tokensMs / SHARE;
  }
}
