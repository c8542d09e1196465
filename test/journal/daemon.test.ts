// The journal with the real daemon: seq and the run go on across a clean restart and a SIGKILL,
// `since` reaches back past them (by seq and by time), one daemon at a time holds a journal, the
// directory is checked like the socket directory, and retention deletes whole segments.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCli } from '../helpers/cli.js';
import { LineClient } from '../helpers/client.js';
import { TestDaemon } from '../helpers/daemon.js';
import { canChownToNobody } from '../helpers/nobody.js';

const daemons: TestDaemon[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const daemon of daemons.splice(0).reverse()) await daemon.cleanup();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(options: Parameters<typeof TestDaemon.start>[0] = {}): Promise<TestDaemon> {
  const daemon = await TestDaemon.start({ journal: true, ...options });
  daemons.push(daemon);
  return daemon;
}

const state = (id: string) => ({ type: 'state', opts: { pool: 'tank', id, state: 'running' } });

/** Events a subscriber with `since` gets until it has `count`. */
async function replay(daemon: TestDaemon, since: number, count: number): Promise<{ seq: number; opts: { id?: string } }[]> {
  const subscriber = await daemon.subscriber({ since });
  const events = await subscriber.takeJson<{ seq: number; opts: { id?: string } }>(count);
  subscriber.destroy();
  return events;
}

describe('the journal', () => {
  it('goes on across a clean restart and a SIGKILL: seq continues, the run stays, since reaches back', async () => {
    const first = await start();
    expect(await first.report(state('a'), state('b'), state('c'))).toEqual([1, 2, 3]);
    const run = (await first.stats()).run as string;
    await first.stop('SIGTERM');
    const second = await start({ dir: first.dir });
    expect(await second.report(state('d'))).toEqual([5]);
    expect((await second.stats()).run).toBe(run);
    await second.stop('SIGKILL');
    const third = await start({ dir: first.dir });
    expect(await third.report(state('e'))).toEqual([6]);
    const stats = await third.stats();
    expect(stats).toMatchObject({ run, last_seq: 6, events_published: 1 });
    expect(stats.journal).toMatchObject({ fsync: 'interval', writable: true, oldest_seq: 1, segments: 1 });
    // Everything, across both restarts, in order: the first daemon's shutdown announcement included.
    expect((await replay(third, 0, 6)).map((event) => [event.seq, event.opts.id])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
      [4, undefined],
      [5, 'd'],
      [6, 'e'],
    ]);
  });

  it('replays by time, found through the index without replaying the rest', async () => {
    const daemon = await start();
    await daemon.report(state('old'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const since = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await daemon.report(state('new-1'), state('new-2'));
    const subscriber = await daemon.subscriber({ since_time: since });
    expect((await subscriber.takeJson<{ opts: { id: string } }>(2)).map((event) => event.opts.id)).toEqual(['new-1', 'new-2']);
    await subscriber.expectSilence(200);
    // And `eventd monitor --since TIME`, which asks the same.
    const monitor = startCli(['monitor', '--since', since, '--json', '--events-socket', daemon.eventsSocket]);
    try {
      await expect.poll(() => monitor.lines().length).toBe(2);
      expect(monitor.lines().map((line) => (JSON.parse(line) as { opts: { id: string } }).opts.id)).toEqual(['new-1', 'new-2']);
    } finally {
      monitor.child.kill();
    }
  });

  it('refuses a second daemon on a journal in use, naming the journal and the daemon that holds it', async () => {
    const first = await start();
    const second = TestDaemon.spawn({ args: ['--journal', first.journalDir], dir: mkdtemp() });
    daemons.push(second);
    expect((await second.exited).code).toBe(1);
    expect(second.stderr).toMatch(
      new RegExp(`^eventd: the journal ${first.journalDir} is in use by pid ${first.pid} \\(.*eventd.*\\): one daemon per journal`),
    );
    // The first is unharmed.
    expect(await first.report(state('still'))).toEqual([1]);
  });

  it('keeps its directory 0700, refuses a symlink, and one that another user owns or could write', async () => {
    const daemon = await start();
    expect(statSync(daemon.journalDir).mode & 0o777).toBe(0o700);
    const base = mkdtemp();
    const real = join(base, 'real');
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, join(base, 'link'));
    const cases: [string, RegExp][] = [[join(base, 'link'), /is a symlink; eventd follows none there/]];
    const groupWritable = join(base, 'group-writable');
    mkdirSync(groupWritable);
    chmodSync(groupWritable, 0o770);
    cases.push([groupWritable, /is writable by its group \(mode 0770\)/]);
    if (canChownToNobody('journal › refuses a directory owned by another user (the other cases run)')) {
      const foreign = join(base, 'foreign');
      mkdirSync(foreign, { mode: 0o700 });
      chownSync(foreign, 65534, 65534);
      cases.push([foreign, /is owned by uid 65534, not by eventd's user/]);
    }
    for (const [dir, problem] of cases) {
      const refused = TestDaemon.spawn({ args: ['--journal', dir], dir: mkdtemp() });
      daemons.push(refused);
      expect((await refused.exited).code, dir).toBe(1);
      expect(refused.stderr).toMatch(problem);
    }
  });

  it('hands a replay read from disk over to live events without losing those that came during the read', async () => {
    // --history 0: every replay is read from the journal, asynchronously, while events keep coming.
    const daemon = await start({ args: ['--history', '0', '--workers', '1'] });
    const producer = await daemon.producer();
    let reporting = true;
    let sent = 0;
    const reports = (async () => {
      while (reporting) {
        const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ ...state(`live-${sent + i}`), ack: sent + i }));
        producer.send(`${lines.join('\n')}\n`);
        await producer.takeJson(20);
        sent += 20;
      }
    })();
    try {
      for (let attempt = 0; attempt < 20; attempt++) {
        while (sent < 200 * (attempt + 1)) await new Promise((resolve) => setTimeout(resolve, 5));
        const [newest] = await daemon.report(state(`mark-${attempt}`));
        const since = newest! - 100;
        // Events flow to a new connection until it subscribes: those before the reply are not the replay.
        const subscriber = await LineClient.connect(daemon.eventsSocket);
        subscriber.sendJson({ cmd: 'event_subscribe', opts: { since } });
        let reply = await subscriber.nextJson();
        while (reply.status === undefined) reply = await subscriber.nextJson();
        expect(reply).toMatchObject({ status: true, response: 'subscribed' });
        const events = await subscriber.takeJson<{ seq: number }>(400);
        subscriber.destroy();
        expect(events.map((event) => event.seq)).toEqual(Array.from({ length: 400 }, (_, i) => since + 1 + i));
      }
    } finally {
      reporting = false;
      await reports;
      producer.destroy();
    }
  });

  it('deletes whole segments, oldest first, past --journal-max-bytes; a since older than them says what it missed', async () => {
    const daemon = await start({ args: ['--journal-segment-bytes', '65536', '--journal-max-bytes', '200000', '--history', '10'] });
    const producer = await daemon.producer();
    const pad = 'x'.repeat(400);
    for (let i = 0; i < 2000; i += 100) {
      for (let k = 0; k < 100; k++)
        producer.sendJson({ type: 'management', opts: { id: i + k, cmd: 'pad', opts: { pad }, state: 'run' }, ack: i + k });
      await producer.takeJson(100);
    }
    producer.destroy();
    // Retention runs once a second, idle or not: soon the journal is within its limit (plus the
    // segment being written).
    await expect.poll(async () => (await daemon.stats()).journal.bytes, { timeout: 5000 }).toBeLessThanOrEqual(200_000 + 65_536);
    const stats = await daemon.stats();
    expect(stats.journal.segments_deleted).toBeGreaterThan(0);
    const oldest = stats.journal.oldest_seq as number;
    expect(oldest).toBeGreaterThan(1);
    const segments = readdirSync(daemon.journalDir).filter((name) => name.endsWith('.seg'));
    expect(segments).toHaveLength(stats.journal.segments);
    const client = await daemon.subscriber();
    client.sendJson({ cmd: 'event_subscribe', opts: { since: 0 } });
    let reply = await client.nextJson<{ status?: boolean; missed?: number }>();
    while (reply.status === undefined) reply = await client.nextJson();
    expect(reply.missed).toBe(oldest - 1);
    const next = await client.nextJson<{ seq: number }>();
    expect(next.seq).toBe(oldest);
  });
});

function mkdtemp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eventd-journal-'));
  dirs.push(dir);
  return dir;
}
