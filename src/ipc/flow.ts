// How far a worker is behind, shared between the main thread and that worker without messages:
// the worker counts the batches it has delivered in shared memory, and posts a message only when
// the main thread has asked to be told (it has batches waiting). At low rates, where every batch
// is small, a reply per batch cost about a fifth of the daemon's CPU and a wake-up of the main
// thread each time.

const DELIVERED = 0;
const NOTIFY = 1;

export function createFlowCounters(): SharedArrayBuffer {
  return new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
}

/** The main thread's side. Counts wrap at 2^32; differences stay right. */
export class FlowSender {
  private readonly counters: Int32Array;
  private posted = 0;

  constructor(shared: SharedArrayBuffer) {
    this.counters = new Int32Array(shared);
  }

  /** Batches posted that the worker has not delivered yet. */
  get inFlight(): number {
    return (this.posted - Atomics.load(this.counters, DELIVERED)) | 0;
  }

  posting(): void {
    this.posted = (this.posted + 1) | 0;
  }

  /**
   * Asks the worker to post a `delivered` message after its next batch. Returns true if one was
   * delivered meanwhile (then there is room already, and the message may or may not come).
   */
  askToBeTold(inFlightLimit: number): boolean {
    Atomics.store(this.counters, NOTIFY, 1);
    // Read after the store: either the worker sees the request, or we see its count.
    return this.inFlight < inFlightLimit;
  }
}

/** The worker's side: call after each batch; true means the main thread asked to be told. */
export class FlowReceiver {
  private readonly counters: Int32Array;

  constructor(shared: SharedArrayBuffer) {
    this.counters = new Int32Array(shared);
  }

  delivered(): boolean {
    Atomics.add(this.counters, DELIVERED, 1);
    return Atomics.load(this.counters, NOTIFY) === 1 && Atomics.exchange(this.counters, NOTIFY, 0) === 1;
  }
}
