// Producers read by several threads at once (the main thread and the workers): one gap-free seq order for everyone, each producer's
// events in its own order, every ack naming its own event, and replies in line order.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LineClient } from '../helpers/client.js';
import { TestDaemon } from '../helpers/daemon.js';

let daemon: TestDaemon;
beforeAll(async () => {
  daemon = await TestDaemon.start({ args: ['--workers', '3', '--ingest-threads', '4'] });
});
afterAll(() => daemon.cleanup());

const PRODUCERS = 6;
const LINES = 600;

it('sequences reports from producers on every thread into one order, each producer kept in its own', async () => {
  const subscriber = await daemon.subscriber();
  const producers: LineClient[] = [];
  for (let p = 0; p < PRODUCERS; p++) producers.push(await daemon.producer());
  // Spread over the main thread and the 3 workers, the main thread first: 2 (main), 2, 1, 1.
  await expect.poll(async () => ((await daemon.stats()).workers as { producers: number }[]).map((w) => w.producers)).toEqual([2, 1, 1]);
  expect((await daemon.stats()).producers).toBe(PRODUCERS);

  // Every 7th line is refused (an unknown state): its error must come after the acks of the lines before it.
  const line = (p: number, i: number) =>
    JSON.stringify({ type: 'ct_init_pid', opts: { pool: `p${p}`, id: String(i), init_pid: i % 7 === 6 ? 0 : i + 1 }, ack: `${p}:${i}` });
  const sending = producers.map(async (producer, p) => {
    for (let i = 0; i < LINES; i += 50) {
      producer.send(Array.from({ length: 50 }, (_, j) => `${line(p, i + j)}\n`).join(''));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  });
  await Promise.all(sending);
  const replies = await Promise.all(
    producers.map((producer) => producer.takeJson<{ status: boolean; ack: string; seq?: number; line?: number }>(LINES)),
  );

  const accepted = PRODUCERS * (LINES - Math.floor(LINES / 7));
  const events = await subscriber.takeJson<{ seq: number; opts: { pool: string; id: string } }>(accepted);
  expect(events.map((event) => event.seq)).toEqual(Array.from({ length: accepted }, (_, i) => i + 1));
  const bySeq = new Map(events.map((event) => [event.seq, event]));
  replies.forEach((answers, p) => {
    // One reply per line, in line order.
    expect(answers.map((answer) => answer.ack)).toEqual(Array.from({ length: LINES }, (_, i) => `${p}:${i}`));
    let lastSeq = 0;
    answers.forEach((answer, i) => {
      if (i % 7 === 6) {
        expect(answer).toMatchObject({ status: false, line: i + 1 });
        return;
      }
      expect(answer.status).toBe(true);
      // The ack names this line's event, and this producer's events keep their order.
      expect(bySeq.get(answer.seq!)?.opts).toMatchObject({ pool: `p${p}`, id: String(i) });
      expect(answer.seq!).toBeGreaterThan(lastSeq);
      lastSeq = answer.seq!;
    });
  });
  const stats = await daemon.stats();
  expect(stats.events_published).toBe(accepted);
  expect(stats.lines_rejected_by_reason.schema).toBe(PRODUCERS * Math.floor(LINES / 7));
  for (const producer of producers) producer.destroy();
  subscriber.destroy();
});

it('with two ingest threads of two workers, reads every producer on a worker and none on the main thread', async () => {
  const workersOnly = await TestDaemon.start({ args: ['--workers', '2', '--ingest-threads', '2'] });
  try {
    const subscriber = await workersOnly.subscriber();
    const producers = [await workersOnly.producer(), await workersOnly.producer(), await workersOnly.producer()];
    await expect.poll(async () => ((await workersOnly.stats()).workers as { producers: number }[]).map((w) => w.producers)).toEqual([2, 1]);
    // The total counts the main thread's producers too: none.
    expect((await workersOnly.stats()).producers).toBe(3);
    producers.forEach((producer, p) =>
      producer.send(`${JSON.stringify({ type: 'state', opts: { pool: 'tank', id: String(p), state: 'running' }, ack: p })}\n`),
    );
    const acks = await Promise.all(producers.map(async (producer) => (await producer.takeJson<{ status: boolean; seq: number }>(1))[0]!));
    expect(acks.map((ack) => ack.status)).toEqual([true, true, true]);
    expect(acks.map((ack) => ack.seq).sort()).toEqual([1, 2, 3]);
    expect((await subscriber.takeJson<{ seq: number }>(3)).map((event) => event.seq)).toEqual([1, 2, 3]);
    for (const producer of producers) producer.destroy();
    subscriber.destroy();
  } finally {
    await workersOnly.cleanup();
  }
});
