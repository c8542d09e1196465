// clients/ruby/eventd.rb, run by Debian's ruby against the real daemon: osctld's own call sites,
// acks, rejections, an unreachable daemon, and a daemon restart in the middle of a stream.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { LineSplitter } from '../../src/client/lines.js';
import { OSCTLD_CALL_SITES } from '../fixtures/osctld-call-sites.js';
import type { LineClient } from '../helpers/client.js';
import { TestDaemon } from '../helpers/daemon.js';

const SCRIPTS = fileURLToPath(new URL('./ruby/', import.meta.url));

interface RubyRun {
  /** Resolves with the exit code, stdout lines parsed as JSON, and stderr. */
  done: Promise<{ code: number | null; lines: Record<string, any>[]; stderr: string }>;
  /** Resolves once a stdout line satisfies the predicate. */
  waitFor(predicate: (line: Record<string, any>) => boolean): Promise<void>;
}

function ruby(script: string, args: string[], reportSocket: string): RubyRun {
  const proc = spawn('ruby', [`${SCRIPTS}${script}`, ...args], {
    env: { ...process.env, EVENTD_REPORT_SOCKET: reportSocket },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, any>[] = [];
  const watchers: { predicate: (line: Record<string, any>) => boolean; resolve: () => void }[] = [];
  const splitter = new LineSplitter();
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    for (const text of splitter.push(chunk)) {
      const line = text.startsWith('{') ? (JSON.parse(text) as Record<string, any>) : { text };
      lines.push(line);
      for (const watcher of watchers) if (watcher.predicate(line)) watcher.resolve();
    }
  });
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<{ code: number | null; lines: Record<string, any>[]; stderr: string }>((resolve) =>
    proc.once('exit', (code) => setImmediate(() => resolve({ code, lines, stderr }))),
  );
  return {
    done,
    waitFor: (predicate) =>
      new Promise((resolve, reject) => {
        if (lines.some(predicate)) return resolve();
        watchers.push({ predicate, resolve });
        void done.then(({ stderr: err }) => reject(new Error(`ruby exited first; stderr: ${err}`)));
      }),
  };
}

/** Reads events until `count` have arrived (skipping command replies). */
async function takeEvents(client: LineClient, count: number): Promise<Record<string, any>[]> {
  const events: Record<string, any>[] = [];
  while (events.length < count) {
    const line = await client.nextJson();
    if (!('status' in line)) events.push(line);
  }
  return events;
}

const daemons: TestDaemon[] = [];
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((daemon) => daemon.cleanup()));
});

async function startDaemon(dir?: string): Promise<TestDaemon> {
  const daemon = await TestDaemon.start(dir === undefined ? {} : { dir });
  daemons.push(daemon);
  return daemon;
}

describe('Ruby producer client', () => {
  it("sends every report osctld's call sites make, and every one is accepted", async () => {
    const daemon = await startDaemon();
    const subscriber = await daemon.subscriber();
    const run = await ruby('call_sites.rb', [], daemon.reportSocket).done;
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const events = await takeEvents(subscriber, OSCTLD_CALL_SITES.length);
    expect(events.map((event) => ({ type: event.type, opts: event.opts }))).toStrictEqual(
      OSCTLD_CALL_SITES.map(({ type, opts }) => ({ type, opts })),
    );
    expect((await daemon.stats()).lines_rejected).toBe(0);
    await subscriber.expectSilence(200);
  });

  it('report! returns the seq; report returns nil and flush waits for its answer', async () => {
    const daemon = await startDaemon();
    const run = await ruby('scenario.rb', ['acks'], daemon.reportSocket).done;
    expect(run.stderr).toBe('');
    expect(run.lines).toStrictEqual([{ seq: 1 }, { result: null }, { seq: 3 }]);
  });

  it('raises ReportRejected with the daemon message, or hands it to on_rejected without harming the next report', async () => {
    const daemon = await startDaemon();
    const run = await ruby('scenario.rb', ['rejected'], daemon.reportSocket).done;
    expect(run.stderr).toBe('');
    const states = '"stopped", "starting", "running", "stopping", "aborting", "freezing", "frozen", "thawed", "error"';
    expect(run.lines).toStrictEqual([
      {
        class: 'Eventd::ReportRejected',
        message: `Invalid state report: opts.state must be one of ${states} (got "runing")`,
        issues: [{ path: 'opts.state', message: `must be one of ${states} (got "runing")` }],
        type: 'state',
      },
      {
        rejections: [
          'Unknown event type "bogus"; known types: management, osctld_shutdown, state, db, ct_scheduled, ct_init_pid, ct_netif, ct_exit',
        ],
        seq: 1,
      },
    ]);
  });

  it('says clearly when no daemon is there', async () => {
    const daemon = await startDaemon();
    await daemon.stop();
    const run = await ruby('scenario.rb', ['unreachable'], daemon.reportSocket).done;
    expect(run.lines).toStrictEqual([
      {
        class: 'Eventd::UnreachableError',
        message: `eventd is not reachable at ${daemon.reportSocket}: No such file or directory - connect(2) for ${daemon.reportSocket} (tried for 0.3 s; is the daemon running? the report stays queued)`,
      },
    ]);
  });

  it('carries on across a daemon restart: every report arrives once, in order', async () => {
    const first = await startDaemon();
    const before = await first.subscriber();
    const count = 300;
    const run = ruby('scenario.rb', ['stream', String(count), '3'], first.reportSocket);
    await run.waitFor((line) => typeof line.i === 'number' && line.i >= 99);
    await first.stop('SIGTERM');
    // The client retries while there is no daemon; the next one starts on the same sockets.
    const second = await startDaemon(first.dir);
    const after = await second.subscriber({ since: 0 });
    const result = await run.done;
    // The outage is said once, not once per report.
    expect(result.stderr).toMatch(/^(eventd: the daemon is not reachable at \S+ \(.*\); queueing reports until it is back\n)?$/);
    expect(result.code).toBe(0);
    expect(result.lines.at(-1)).toStrictEqual({ done: count });

    const ids = (events: Record<string, any>[]) => events.filter((event) => event.type === 'state').map((event) => event.opts.id as string);
    const beforeEvents: Record<string, any>[] = [];
    while (beforeEvents.at(-1)?.type !== 'osctld_shutdown') beforeEvents.push(await before.nextJson());
    const secondRun = await second.stats();
    const afterEvents = await takeEvents(after, secondRun.events_published);
    expect([...ids(beforeEvents), ...ids(afterEvents)]).toStrictEqual(Array.from({ length: count }, (_, i) => `r${i}`));
    expect(ids(afterEvents).length).toBeGreaterThan(0);
  });

  it('never stalls the caller while the daemon is down: 10,000 reports queue, and arrive once it is back', async () => {
    const first = await startDaemon();
    await first.stop();
    const count = 10_000;
    const run = ruby('scenario.rb', ['outage', String(count), String(count)], first.reportSocket);
    await run.waitFor((line) => line.reported === count);
    // A 3 s outage in all, then a daemon on the same socket.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const second = await startDaemon(first.dir);
    const result = await run.done;
    const [reported, done] = result.lines;
    expect(reported!.slowest_ms).toBeLessThan(10);
    expect(done).toStrictEqual({ done: count, dropped: 0, queued: 0 });
    expect(result.stderr.match(/not reachable/g)).toHaveLength(1);
    const subscriber = await second.subscriber({ since: 0 });
    const events = await takeEvents(subscriber, count);
    expect(events.map((event) => event.opts.init_pid)).toStrictEqual(Array.from({ length: count }, (_, i) => i + 1));
  });

  it('drops the oldest past max_queued, counts them, and says so once', async () => {
    const first = await startDaemon();
    await first.stop();
    const run = ruby('scenario.rb', ['outage', '10000', '1000'], first.reportSocket);
    await run.waitFor((line) => line.reported === 10_000);
    const second = await startDaemon(first.dir);
    const result = await run.done;
    expect(result.lines[1]).toStrictEqual({ done: 10_000, dropped: 9000, queued: 0 });
    expect(result.stderr.match(/queue is full/g)).toHaveLength(1);
    const subscriber = await second.subscriber({ since: 0 });
    const events = await takeEvents(subscriber, 1000);
    // The newest 1,000 survive, in order.
    expect(events.map((event) => event.opts.init_pid)).toStrictEqual(Array.from({ length: 1000 }, (_, i) => 9001 + i));
  });

  it('costs osctld a few microseconds per report while the daemon is up', async () => {
    const daemon = await startDaemon();
    const result = await ruby('scenario.rb', ['overhead', '20000'], daemon.reportSocket).done;
    expect(result.stderr).toBe('');
    const [{ us_per_report: perReport, dropped }] = result.lines as [{ us_per_report: number; dropped: number }];
    console.log(`Ruby client: ${perReport.toFixed(1)} µs per report while connected`);
    expect(dropped).toBe(0);
    expect(perReport).toBeLessThan(200);
  });
});
