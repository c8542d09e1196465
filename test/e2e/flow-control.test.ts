// Flow control through the ring: a worker that falls a whole ring behind holds every writer back,
// so the producers are paused (their kernel buffers push back) instead of events piling up.
import { afterEach, expect, it } from 'vitest';
import { TestDaemon } from '../helpers/daemon.js';

let daemon: TestDaemon | undefined;
afterEach(() => daemon?.cleanup());

// The producer read by the main thread (the default on 2 cores), or by worker 0, which pauses it itself.
it.each([
  ['the main thread', []],
  ['a worker', ['--ingest-threads', '2']],
])('pauses producers while a worker is stuck, loses nothing, and resumes when it catches up (producer read by %s)', async (_name, args) => {
  // The test's own readers take 20 MB while sharing the CPU with the rest of the suite: one that
  // fell 8 MiB (the default) behind would be dropped as slow, which is not what this test is about.
  const maxPending = String(64 * 1024 * 1024);
  daemon = await TestDaemon.start({
    // A ring of 4 MiB: about 4,000 of these events fill it.
    args: ['--workers', '2', '--max-pending-bytes', maxPending, '--history-bytes', String(4 * 1024 * 1024), ...args],
    env: { EVENTD_FAULT_INJECTION: '1' },
  });
  await daemon.stats(); // the stats connection takes worker 0
  const stuck = await daemon.subscriber(); // worker 1
  const healthy = await daemon.subscriber(); // worker 0
  expect((await daemon.stats()).workers.map((w: { subscribers: number }) => w.subscribers)).toEqual([2, 1]);

  stuck.sendJson({ cmd: 'debug_block_worker', ms: 3000 });
  await daemon.waitForLog((record) => record.msg === 'blocking on request (EVENTD_FAULT_INJECTION)');

  // About 20 MB: far more than the ring holds.
  const total = 20_000;
  const pad = 'x'.repeat(900);
  // With two ingest threads both are workers, and the first producer goes to worker 0.
  const producer = await daemon.producer();
  if (args.length > 0)
    await expect.poll(async () => (await daemon!.stats()).workers.map((w: { producers: number }) => w.producers)).toEqual([1, 0]);
  for (let i = 0; i < total; i += 500) {
    const lines = Array.from({ length: 500 }, (_, j) =>
      JSON.stringify({ type: 'management', opts: { id: i + j + 1, cmd: 'pad', opts: { pad }, state: 'run' } }),
    );
    producer.send(`${lines.join('\n')}\n`);
  }

  // While worker 1 sleeps, the daemon stops reading: the rest stays in the producer's socket.
  await expect.poll(async () => (await daemon!.stats()).producers_paused, { timeout: 10_000 }).toBe(1);
  const during = await daemon.stats();
  expect(during.events_published).toBeLessThan(total / 2);

  // Then everything arrives, in order, at both subscribers; nobody was dropped.
  for (const client of [healthy, stuck]) {
    const ids = (await client.takeJson<{ seq: number; opts: { id: number } }>(total, 20_000)).map((event) => [event.seq, event.opts.id]);
    expect(ids).toEqual(Array.from({ length: total }, (_, i) => [i + 1, i + 1]));
  }
  const after = await daemon.stats();
  expect(after).toMatchObject({ events_published: total, subscribers_dropped_slow: 0, lines_rejected: 0 });
  producer.destroy();
});
