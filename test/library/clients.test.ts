// The library's clients as dependable as the daemon (issue 28): leaving an iteration releases its
// connection, a refusal is an EventdError that releases it too, a Reporter with `reconnect` rides
// out a restart and `post` never waits, and a server's shutdown leaves nothing that keeps node
// running. What must end on its own is run in a child process and timed.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { EventdServer, Reporter, subscribe } from 'eventd';
import { TestDaemon } from '../helpers/daemon.js';

const LIBRARY = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function daemon(dir?: string): Promise<TestDaemon> {
  const started = await TestDaemon.start(dir === undefined ? {} : { dir });
  cleanups.push(() => started.cleanup());
  return started;
}

/** Runs an ES module (`LIBRARY` is the built package) with node; resolves with its output, exit code and run time. */
function runScript(source: string, timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'eventd-script-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'script.mjs');
  writeFileSync(file, source.replaceAll('LIBRARY', JSON.stringify(LIBRARY)));
  const started = Date.now();
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    }),
  );
}

describe('subscribe()', () => {
  it('closes its connection when a for await loop breaks: the program ends on its own', async () => {
    const d = await daemon();
    await d.report({ type: 'state', opts: { pool: 'tank', id: '1', state: 'running' } });
    const run = await runScript(`
      import { subscribe } from LIBRARY;
      for await (const event of subscribe({ since: 0, eventsSocket: ${JSON.stringify(d.eventsSocket)} })) { console.log(event.seq); break; }
    `);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('1\n');
    expect(run.code).toBe(0);
    expect(run.ms).toBeLessThan(5000);
  });

  it('refuses a bad subscription with an EventdError, and releases the connection', async () => {
    const d = await daemon();
    const run = await runScript(`
      import { subscribe, EventdError } from LIBRARY;
      try {
        for await (const event of subscribe({ type: 'nope', eventsSocket: ${JSON.stringify(d.eventsSocket)} })) console.log(event);
      } catch (error) {
        console.log(error instanceof EventdError, error.code, error.message);
      }
    `);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^true EVENTD_REFUSED eventd refused the subscription: Invalid event_subscribe command: opts\.type must be one of /,
    );
    expect(run.ms).toBeLessThan(5000);
  });

  it('carries the run id of the subscribe reply, without asking for stats', async () => {
    const d = await daemon();
    const subscription = subscribe({ eventsSocket: d.eventsSocket });
    cleanups.push(() => subscription.close());
    await subscription.ready();
    expect(subscription.run).toBe((await d.stats()).run);
    // The daemon saw no stats command from it: only the test's own stats connection asked.
    expect((await d.stats()).subscribers).toBe(2);
  });
});

describe('Reporter', () => {
  it('with reconnect: rides out a daemon restart, resending what was not acknowledged; nothing is lost', async () => {
    const first = await daemon();
    const reporter = await Reporter.connect({ reportSocket: first.reportSocket, reconnect: true, onWarning: () => {} });
    cleanups.push(() => reporter.close());
    expect(await reporter.report('state', { pool: 'tank', id: 'before', state: 'running' })).toBe(1);
    await first.stop();
    // While the daemon is down: post returns at once, report waits.
    const started = performance.now();
    for (let i = 0; i < 100; i++) reporter.post('ct_init_pid', { pool: 'tank', id: 'down', init_pid: i + 1 });
    expect(performance.now() - started).toBeLessThan(100);
    const during = reporter.report('state', { pool: 'tank', id: 'during', state: 'stopped' });
    const second = await daemon(first.dir);
    const seq = await during;
    await reporter.flush(10_000);
    const subscriber = await second.subscriber({ since: 0 });
    const events: { seq: number; opts: Record<string, unknown> }[] = [];
    while (events.length < 101) {
      const line = await subscriber.nextJson<{ seq: number; opts: Record<string, unknown> }>();
      if (line.opts) events.push(line);
    }
    expect(events.map((event) => event.opts.init_pid ?? event.opts.id)).toEqual([
      ...Array.from({ length: 100 }, (_, i) => i + 1),
      'during',
    ]);
    expect(events.at(-1)!.seq).toBe(seq);
    expect(reporter.dropped).toBe(0);
  });

  it('without reconnect: a report after the daemon went away fails with EVENTD_UNREACHABLE', async () => {
    const d = await daemon();
    const reporter = await Reporter.connect({ reportSocket: d.reportSocket });
    expect(await reporter.report('state', { pool: 'tank', id: '1', state: 'running' })).toBe(1);
    await d.stop();
    await expect(reporter.report('state', { pool: 'tank', id: '2', state: 'running' })).rejects.toMatchObject({
      code: 'EVENTD_UNREACHABLE',
    });
  });

  it('post() with reconnect never waits, and the queue drops the oldest past maxQueued, counted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventd-nodaemon-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const warnings: string[] = [];
    const reporter = await Reporter.connect({
      reportSocket: join(dir, 'report.sock'),
      reconnect: true,
      maxQueued: 10,
      onWarning: (w) => warnings.push(w),
    });
    cleanups.push(() => reporter.close());
    for (let i = 0; i < 25; i++) reporter.post('ct_init_pid', { pool: 'tank', id: 'x', init_pid: i + 1 });
    expect(reporter.dropped).toBe(15);
    await expect.poll(() => warnings.length).toBeGreaterThanOrEqual(2);
    expect(warnings.filter((w) => /queue is full/.test(w))).toHaveLength(1);
    expect(warnings.filter((w) => /queueing reports until it is back/.test(w))).toHaveLength(1);
    await expect(reporter.flush(200)).rejects.toMatchObject({ code: 'EVENTD_UNREACHABLE' });
  });
});

describe('EventdServer', () => {
  it('leaves nothing behind that keeps node running after shutdown()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventd-lib-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const run = await runScript(`
      import { EventdServer } from LIBRARY;
      const server = new EventdServer({ reportSocket: ${JSON.stringify(join(dir, 'r.sock'))}, eventsSocket: ${JSON.stringify(join(dir, 'e.sock'))}, logLevel: 'silent' });
      await server.start({ workers: 2 });
      const states = server.subscribe({ type: 'state' });
      await states.ready();
      server.report('state', { pool: 'tank', id: '101', state: 'running' });
      for await (const event of states) break;
      await server.shutdown();
      console.log(Date.now());
    `);
    expect(run.code).toBe(0);
    // From shutdown() resolving to the process being gone: well under the 2.7 s a stray timer held it.
    const resolvedAt = Number(run.stdout.trim());
    expect(Date.now() - resolvedAt).toBeLessThan(1000);
  });

  it('can be used in-process by the library too (EventdServer, subscribe, Reporter together)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventd-lib-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const server = new EventdServer({ reportSocket: join(dir, 'r.sock'), eventsSocket: join(dir, 'e.sock'), logLevel: 'silent' });
    await server.start();
    cleanups.push(() => server.stop());
    const reporter = await Reporter.connect({ reportSocket: join(dir, 'r.sock') });
    const seq = await reporter.report('ct_exit', { pool: 'tank', id: '1', exit_type: 'halt' });
    await reporter.close();
    for await (const event of subscribe({ eventsSocket: join(dir, 'e.sock'), since: seq - 1 })) {
      expect(event.seq).toBe(seq);
      break;
    }
  });
});
