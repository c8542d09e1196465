// One record to every subscriber of a worker: in one native call, straight from the ring, to
// those that take it whole with nothing queued (fan-out.ts); through their sockets' streams, from
// a copy made only if someone needs it, to the rest (filters, osctld's format, a full socket).
import type { BatchView } from '../ipc/batch.js';
import { FanOut } from './fan-out.js';
import type { Loan } from './record-memory.js';
import type { Subscriber } from './subscriber.js';

/** A record copied out of the ring, and the loan of the memory it lies in. */
export interface RecordCopy {
  view: BatchView;
  loan: Loan;
}

export class RecordDelivery {
  private readonly fanOut = new FanOut<Subscriber>();
  private readonly streamed: Subscriber[] = [];

  /**
   * Delivers the record whose events start at `firstSeq` and whose lines are `lines` (where they
   * lie in the ring) to each of `subscribers`; `copy` makes its copy, called at most once.
   */
  deliver(subscribers: Iterable<Subscriber>, firstSeq: number, lines: Uint8Array, copy: () => RecordCopy): void {
    const streamed = this.streamed;
    streamed.length = 0;
    for (const subscriber of subscribers) {
      const fd = subscriber.directFd(firstSeq);
      if (fd >= 0) this.fanOut.add(fd, subscriber);
      else streamed.push(subscriber);
    }
    let copied: RecordCopy | undefined;
    /** The copy, lent once more: its user calls loan.done once its socket is done with it. */
    const borrow = (): RecordCopy => {
      copied ??= copy();
      copied.loan.add();
      return copied;
    };
    this.fanOut.send(lines, (subscriber, sent) => {
      const { view, loan } = borrow();
      if (!subscriber.directRest(view, sent, loan.done)) loan.done();
    });
    for (const subscriber of streamed) {
      const { view, loan } = borrow();
      if (!subscriber.deliver(view, loan.done)) loan.done();
    }
    streamed.length = 0;
    copied?.loan.done();
  }
}
