// WorkerFeed and the shared flow counters in-process, with a model worker that delivers on a
// random schedule: at most two batches in flight, every event handed over once and in order, and
// no lost wake-up (the main thread never ends up with batches waiting and nobody to tell it).
import fc from 'fast-check';
import { describe, expect, it, onTestFinished as afterTest, vi } from 'vitest';
import { WorkerFeed } from '../../src/daemon/worker-feed.js';
import { encodeBatch, type EventBatch } from '../../src/ipc/batch.js';
import { createFlowCounters, FlowReceiver, FlowSender } from '../../src/ipc/flow.js';

function batchOf(firstSeq: number, count: number, lineBytes = 10): EventBatch {
  const lines = Array.from({ length: count }, (_, i) => `${String(firstSeq + i).padStart(lineBytes - 1, '0')}\n`);
  return encodeBatch(
    firstSeq,
    lines,
    lines.map(() => 0),
  );
}

/** A feed and a model worker: `deliver()` is the worker finishing its oldest batch. */
function harness() {
  const shared = createFlowCounters();
  const posted: EventBatch[] = [];
  const inWorker: EventBatch[] = [];
  const feed = new WorkerFeed(shared, (batch) => {
    posted.push(batch);
    inWorker.push(batch);
  });
  const receiver = new FlowReceiver(shared);
  /** Messages the worker posted and the main thread has not handled yet. */
  let told = 0;
  return {
    feed,
    posted,
    inWorker,
    deliver(): boolean {
      if (inWorker.length === 0) return false;
      inWorker.shift();
      if (receiver.delivered()) told++;
      return true;
    },
    /** The main thread handling one `delivered` message. */
    handleMessage(): boolean {
      if (told === 0) return false;
      told--;
      feed.delivered();
      return true;
    },
    get told() {
      return told;
    },
  };
}

const seqs = (batches: EventBatch[]) => batches.flatMap((batch) => Array.from(batch.ends, (_, i) => batch.firstSeq + i));

describe('WorkerFeed', () => {
  it('keeps two batches in flight and merges what waits into the next post', () => {
    const h = harness();
    for (let i = 0; i < 10; i++) h.feed.push(batchOf(i * 3 + 1, 3));
    expect(h.posted).toHaveLength(2);
    expect(h.feed.waitingBytes).toBe(8 * 3 * 10);
    h.deliver();
    // The worker was asked to say when it delivers (batches wait): the message comes.
    expect(h.handleMessage()).toBe(true);
    expect(h.posted).toHaveLength(3);
    expect(h.posted[2]!.ends.length).toBe(24);
    expect(h.feed.waitingBytes).toBe(0);
    expect(seqs(h.posted)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('merges at most 256 KiB into one post', () => {
    const h = harness();
    for (let i = 0; i < 40; i++) h.feed.push(batchOf(i * 1000 + 1, 1000, 20)); // 20 KB each
    h.deliver();
    h.handleMessage();
    expect(h.posted[2]!.bytes.length).toBeLessThanOrEqual(256 * 1024);
    expect(h.posted[2]!.bytes.length).toBeGreaterThan(256 * 1024 - 20_000);
  });

  it('sendAll hands over everything at shutdown, in flight or not; drop forgets it', () => {
    const h = harness();
    for (let i = 0; i < 5; i++) h.feed.push(batchOf(i + 1, 1));
    h.feed.sendAll();
    expect(seqs(h.posted)).toEqual([1, 2, 3, 4, 5]);
    h.feed.push(batchOf(6, 1));
    expect(h.feed.waitingBytes).toBe(10);
    h.feed.drop();
    expect(h.feed.waitingBytes).toBe(0);
  });

  it('on any schedule: never more than two in flight, every event once and in order, no lost wake-up', () => {
    // 'race' makes the worker deliver all it holds inside the main thread's next request to be told,
    // between its look at the count and its request: the window a lost wake-up would come from
    // (ignoring askToBeTold's answer fails this test).
    const ask = FlowSender.prototype.askToBeTold;
    let racer: (() => void) | undefined;
    const spy = vi.spyOn(FlowSender.prototype, 'askToBeTold').mockImplementation(function (this: FlowSender, limit: number) {
      const race = racer;
      racer = undefined;
      race?.();
      return ask.call(this, limit);
    });
    afterTest(() => spy.mockRestore());
    fc.assert(
      fc.property(fc.array(fc.constantFrom('push', 'deliver', 'message', 'race'), { maxLength: 200 }), (steps) => {
        const h = harness();
        racer = undefined;
        let next = 1;
        for (const step of steps) {
          if (step === 'race') racer = () => void (h.deliver() && h.deliver());
          else if (step === 'push') {
            const count = 1 + (next % 3);
            h.feed.push(batchOf(next, count));
            next += count;
          } else if (step === 'deliver') h.deliver();
          else h.handleMessage();
          expect(h.inWorker.length).toBeLessThanOrEqual(2);
        }
        // Drain: the worker delivers what it holds and the main thread handles every message.
        // Batches still waiting with none in flight and no message coming would be a lost wake-up.
        while (h.deliver() || h.handleMessage()) {
          expect(h.inWorker.length).toBeLessThanOrEqual(2);
        }
        expect(h.feed.waitingBytes).toBe(0);
        expect(seqs(h.posted)).toEqual(Array.from({ length: next - 1 }, (_, i) => i + 1));
      }),
      { numRuns: 500 },
    );
  });
});

describe('flow counters', () => {
  it('count in flight across the wrap at 2^32, and tell once per request', () => {
    const shared = createFlowCounters();
    const sender = new FlowSender(shared);
    const receiver = new FlowReceiver(shared);
    // Start near the wrap of the shared Int32 counter.
    new Int32Array(shared)[0] = 0x7fffffff;
    (sender as unknown as { posted: number }).posted = 0x7fffffff;
    sender.posting();
    sender.posting();
    expect(sender.inFlight).toBe(2);
    expect(sender.askToBeTold(2)).toBe(false);
    expect(receiver.delivered()).toBe(true);
    expect(receiver.delivered()).toBe(false);
    expect(sender.inFlight).toBe(0);
    // Asked after a delivery already happened: the answer says there is room now.
    sender.posting();
    sender.posting();
    receiver.delivered();
    expect(sender.askToBeTold(2)).toBe(true);
  });
});
