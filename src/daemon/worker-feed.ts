// Feeds one worker its batches, with flow control. The worker holds at most MAX_IN_FLIGHT
// batches; what is published meanwhile waits here and goes over merged (up to MERGE_BYTES) as soon
// as the worker has delivered one: the busier a worker, the larger its batches and the fewer its
// writes. How much waits is what the pool's backpressure on producers looks at.
import { mergeBatches, type EventBatch } from '../ipc/batch.js';
import { FlowSender } from '../ipc/flow.js';

const MAX_IN_FLIGHT = 2;
const MERGE_BYTES = 256 * 1024;

export class WorkerFeed {
  private readonly flow: FlowSender;
  private waiting: EventBatch[] = [];
  /** Bytes of the batches waiting here. */
  waitingBytes = 0;

  constructor(
    counters: SharedArrayBuffer,
    private readonly postBatch: (batch: EventBatch) => void,
  ) {
    this.flow = new FlowSender(counters);
  }

  push(batch: EventBatch): void {
    if (this.waiting.length === 0 && this.flow.inFlight < MAX_IN_FLIGHT) return this.post(batch);
    this.waiting.push(batch);
    this.waitingBytes += batch.bytes.length;
    this.sendWaiting();
  }

  /** The worker delivered a batch after we asked: send what waits. */
  delivered(): void {
    this.sendWaiting();
  }

  /** Sends everything waiting now, whatever is in flight (at shutdown). */
  sendAll(): void {
    while (this.waiting.length > 0) this.post(this.takeMerged());
  }

  /** Forgets what waits (the worker is gone). */
  drop(): void {
    this.waiting = [];
    this.waitingBytes = 0;
  }

  private sendWaiting(): void {
    while (this.waiting.length > 0) {
      if (this.flow.inFlight < MAX_IN_FLIGHT) this.post(this.takeMerged());
      // No room: the worker will tell us when it delivers, unless it just did.
      else if (!this.flow.askToBeTold(MAX_IN_FLIGHT)) return;
    }
  }

  private takeMerged(): EventBatch {
    let take = 0;
    let bytes = 0;
    while (take < this.waiting.length && (take === 0 || bytes + this.waiting[take]!.bytes.length <= MERGE_BYTES)) {
      bytes += this.waiting[take++]!.bytes.length;
    }
    this.waitingBytes -= bytes;
    return mergeBatches(this.waiting.splice(0, take));
  }

  private post(batch: EventBatch): void {
    this.flow.posting();
    this.postBatch(batch);
  }
}
