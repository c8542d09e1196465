// Memory for the records a delivery worker copies out of the ring, handed out again once every
// socket that was given a record has written it.
//
// Why: a new ArrayBuffer per record is freed only when V8 collects its (small) object, and a
// worker allocates so few objects that its collections are rare; V8 starts one for external
// memory only after tens of MiB more. Under load those dead records were most of the daemon's
// peak RSS: 151 MiB in the 1,000,000-event ingest bench, 127 MiB with a collection forced every 50
// records (measured, --expose-gc). Reusing the memory once the writes are done needs no collection.

/** Records up to this size (a ring record's length) share reusable buffers; larger ones get their own. */
export const RECORD_BUFFER_BYTES = 128 * 1024;
/** Free buffers kept for reuse (4 MiB); more, after a burst, are left to the garbage collector. */
const KEEP = 32;

/** A buffer lent to the sockets that write it: see RecordMemory.lend. */
export interface Loan {
  add(): void;
  done: () => void;
}

export class RecordMemory {
  private readonly free: ArrayBuffer[] = [];

  /** Buffers handed out or kept, for a test. */
  allocated = 0;

  /** An ArrayBuffer of at least `bytes`: a free one when one fits. */
  take(bytes: number): ArrayBuffer {
    if (bytes > RECORD_BUFFER_BYTES) return new ArrayBuffer(bytes);
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    this.allocated++;
    return new ArrayBuffer(RECORD_BUFFER_BYTES);
  }

  /**
   * A loan of `buffer`: `add()` for each user (a socket it was given to), `done()` once by each
   * user and once by the lender; when all are done the buffer is free again.
   */
  lend(buffer: ArrayBuffer): Loan {
    let users = 1;
    return {
      add: () => {
        users++;
      },
      done: () => {
        if (--users === 0) this.give(buffer);
      },
    };
  }

  private give(buffer: ArrayBuffer): void {
    if (buffer.byteLength !== RECORD_BUFFER_BYTES) return;
    if (this.free.length < KEEP) this.free.push(buffer);
    else this.allocated--;
  }
}
