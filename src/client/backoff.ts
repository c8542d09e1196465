// The wait between attempts after failures, for everything that reconnects (subscriptions, the
// forwarder): doubling from `first` up to `max`, back to `first` after a success.
export class Backoff {
  private current: number;

  constructor(
    private readonly first: number,
    private readonly max: number,
  ) {
    this.current = first;
  }

  /** The wait before the next attempt; the one after that waits twice as long (up to max). */
  next(): number {
    const wait = this.current;
    this.current = Math.min(this.current * 2, this.max);
    return wait;
  }

  reset(): void {
    this.current = this.first;
  }
}
