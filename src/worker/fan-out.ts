// One record to many sockets in a single native call, straight from the ring: for the subscribers
// that take a record whole and have nothing queued. At a steady rate that is nearly all of them; a
// subscriber reading slower than events come has bytes queued, and goes through its stream.
//
// Why: through Node's streams every write costs the worker a Writable's bookkeeping, a write
// request object and its completion callback into JS; perf put that at about half of a delivering
// worker's time at 100 subscribers (issue 25). send(2) itself, the kernel's part, is the same
// either way. What a socket does not take at once (it is full) goes on through its stream, which
// then holds the order: nothing is written directly to a socket with anything queued.
import { sendEach } from '../native/index.js';

export class FanOut<T> {
  private fds = new Int32Array(64);
  private sent = new Int32Array(64);
  private readonly owners: T[] = [];

  /** Subscribers added since the last send. */
  get count(): number {
    return this.owners.length;
  }

  add(fd: number, owner: T): void {
    if (this.owners.length === this.fds.length) this.grow();
    this.fds[this.owners.length] = fd;
    this.owners.push(owner);
  }

  /**
   * Sends `data` to every socket added, as far as each takes it without blocking, then calls
   * `rest(owner, sent)` for each that did not take all of it (sent: bytes taken, or -errno), and
   * forgets them all.
   */
  send(data: Uint8Array, rest: (owner: T, sent: number) => void): void {
    const count = this.owners.length;
    if (count === 0) return;
    try {
      sendEach(data, this.fds, count, this.sent);
      for (let i = 0; i < count; i++) if (this.sent[i] !== data.length) rest(this.owners[i]!, this.sent[i]!);
    } finally {
      // Never kept for the next record: by then a descriptor may be closed, and its number reused.
      this.owners.length = 0;
    }
  }

  private grow(): void {
    const fds = new Int32Array(this.fds.length * 2);
    fds.set(this.fds);
    this.fds = fds;
    this.sent = new Int32Array(fds.length);
  }
}
