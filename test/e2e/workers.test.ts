// Placement of subscribers on worker threads, a worker that dies mid-stream, and idle workers that sleep.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/client.js';
import { sampleReports, TestDaemon } from '../helpers/daemon.js';

let daemon: TestDaemon | undefined;
afterEach(() => daemon?.cleanup());

/** How often each worker thread (eventd-w0, …) has gone to sleep and been woken so far, by name. */
function workerWakeups(pid: number): Record<string, number> {
  const wakeups: Record<string, number> = {};
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const name = readFileSync(`/proc/${pid}/task/${task}/comm`, 'utf8').trim();
    const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
    if (name.startsWith('eventd-w')) wakeups[name] = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)![1]);
  }
  return wakeups;
}

describe('worker pool', () => {
  it('places each new subscriber on the worker with the fewest (max - min <= 1)', async () => {
    daemon = await TestDaemon.start({ args: ['--workers', '3'] });
    const clients: LineClient[] = [];
    for (let i = 0; i < 100; i++) {
      clients.push(await daemon.subscriber());
      const counts = ((await daemon.stats()).workers as { subscribers: number }[]).map((w) => w.subscribers);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
    // Closing some unbalances the pool; new ones fill the emptiest worker first.
    for (const client of clients.splice(0, 30)) client.destroy();
    // 70 plus the stats connection asking.
    await expect.poll(async () => (await daemon!.stats()).subscribers).toBe(71);
    for (let i = 0; i < 30; i++) clients.push(await daemon.subscriber());
    const counts = ((await daemon.stats()).workers as { subscribers: number }[]).map((w) => w.subscribers);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(101);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    for (const client of clients) client.destroy();
  });

  it('replaces a worker that crashes; other workers miss nothing and its subscribers resume with since', async () => {
    daemon = await TestDaemon.start({ args: ['--workers', '2', '--ingest-threads', '3'], env: { EVENTD_FAULT_INJECTION: '1' } });
    const victim = await daemon.subscriber(); // worker 0
    const survivor = await daemon.subscriber(); // worker 1
    // The stats connection itself is a subscriber too (on worker 0, the first of the least loaded).
    expect(((await daemon.stats()).workers as { subscribers: number }[]).map((w) => w.subscribers)).toEqual([2, 1]);

    // Producers go to the thread with the fewest, the main thread first; a worker's crash cuts the
    // connections it reads, so the one pumping is on the surviving worker.
    const onMain = await daemon.producer();
    const cut = await daemon.producer(); // worker 0
    const producer = await daemon.producer(); // worker 1
    await expect.poll(async () => ((await daemon!.stats()).workers as { producers: number }[]).map((w) => w.producers)).toEqual([1, 1]);
    expect((await daemon.stats()).producers).toBe(3);
    const total = 2000;
    const pumping = (async () => {
      for (let i = 0; i < total; i += 50) {
        const lines = Array.from({ length: 50 }, (_, j) =>
          JSON.stringify({ ...sampleReports.ct_init_pid, opts: { ...sampleReports.ct_init_pid.opts, init_pid: i + j + 1 } }),
        );
        producer.send(`${lines.join('\n')}\n`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();

    // Crash worker 0 mid-stream, from its own subscriber's connection.
    const seen: number[] = [];
    for (let i = 0; i < 100; i++) seen.push((await victim.nextJson<{ seq: number }>()).seq);
    victim.sendJson({ cmd: 'debug_crash_worker' });
    await victim.closed;
    while (victim.pending > 0) seen.push((await victim.nextJson<{ seq: number }>()).seq);
    await daemon.waitForLog((record) => record.msg === 'worker thread exited unexpectedly; starting a new one');
    await cut.closed;
    onMain.sendJson({ ...sampleReports.db, ack: 'main' });
    expect(await onMain.nextJson()).toMatchObject({ status: true, ack: 'main' });

    // The victim reconnects (to the replacement worker) and resumes after the last event it saw.
    const resumed = await LineClient.connect(daemon.eventsSocket);
    resumed.sendJson({ cmd: 'event_subscribe', opts: { since: seen[seen.length - 1] } });
    let reply = await resumed.nextJson();
    while (reply.status === undefined) reply = await resumed.nextJson();
    expect(reply).toStrictEqual({ status: true, response: 'subscribed', run: expect.any(String) });
    await pumping;

    const survivorSeqs = (await survivor.takeJson<{ seq: number }>(total)).map((event) => event.seq);
    expect(survivorSeqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    const rest = await resumed.takeJson<{ seq: number }>(total - seen.length);
    expect([...seen, ...rest.map((event) => event.seq)]).toEqual(survivorSeqs);

    // The replacement worker takes new subscribers and serves them.
    await expect.poll(async () => (await daemon!.stats()).workers.map((w: { restarts: number }) => w.restarts)).toEqual([1, 0]);
    const counts = async () => (await daemon!.stats()).workers.map((w: { subscribers: number }) => w.subscribers);
    // While worker 0 was down, newcomers went to worker 1; now worker 0 is the least loaded.
    const before = await counts();
    expect(before[0]).toBeLessThan(before[1]);
    const newcomer = await daemon.subscriber();
    expect(await counts()).toEqual([before[0] + 1, before[1]]);
    const [seq] = await daemon.report(sampleReports.ct_exit);
    expect(await newcomer.nextJson()).toMatchObject({ seq, type: 'ct_exit' });
    producer.destroy();
    onMain.destroy();
  });

  it('lets an idle worker sleep, and wakes it for the next record: with no subscriber it still keeps up with the ring', async () => {
    // The smallest ring (1 MiB): a worker that slept through reports would fill it and stall them.
    daemon = await TestDaemon.start({ args: ['--workers', '2', '--history-bytes', String(1024 * 1024)] });
    await daemon.report(sampleReports.state);
    await sleep(500);
    const before = workerWakeups(daemon.pid);
    await sleep(2000);
    const after = workerWakeups(daemon.pid);
    expect(Object.keys(after).sort()).toEqual(['eventd-w0', 'eventd-w1']);
    // Polling every 5 ms it would be about 400 each.
    for (const [name, count] of Object.entries(after)) expect(count - before[name]!, name).toBeLessThan(40);

    // Some 3 MiB of events through a 1 MiB ring, no one subscribed: every one acked.
    const producer = await daemon.producer();
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 1000; i++) producer.sendJson({ ...sampleReports.db, ack: i });
      const acks = await producer.takeJson<{ status: boolean }>(1000);
      expect(acks.every((ack) => ack.status)).toBe(true);
      // Quiet again after the first round: the next must wake them once more.
      if (round === 0) await sleep(300);
    }
    const subscriber = await daemon.subscriber();
    const [seq] = await daemon.report(sampleReports.ct_exit);
    expect(await subscriber.nextJson()).toMatchObject({ seq, type: 'ct_exit' });
    producer.destroy();
  });
});
