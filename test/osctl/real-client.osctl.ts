// osctl's own event client, unchanged from a vpsAdminOS checkout, against the osctld-compatible
// socket. Not part of `npm test` (the checkout is not ours to ship); run it with
//   OSCTL_SOURCE=/path/to/vpsadminos npm run test:osctl
// test/osctl/osctl.rb says what is loaded from the checkout and what stands in for the two gems
// Debian does not have.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OSCTLD_CALL_SITES } from '../fixtures/osctld-call-sites.js';
import { TestDaemon } from '../helpers/daemon.js';

const DRIVER = fileURLToPath(new URL('./osctl.rb', import.meta.url));

/** Git blob ids of the files osctl.rb loads, at vpsadminos 7d64ad8c465916d51349bf70d7f990906cc316f6. */
const UPSTREAM_BLOBS: Record<string, string> = {
  'osctl/lib/osctl/client.rb': '9030330d4b2ee8945b726d2c06b0572d0232a70f',
  'osctl/lib/osctl/cli/event.rb': '47dec5c3f35735d2a9164d1b4b30aa0dddc5092b',
  'osctl/lib/osctl/cli/command.rb': 'bedccc914af86bbfdeea81dee1e2c279626e7cc8',
  'libosctl/lib/libosctl/cli/command.rb': 'c0c86b87a3dd8fe91dce98c3ea4bfc750e5be52e',
  'libosctl/lib/libosctl/utils/humanize.rb': '1e4bf96688111c21a677271ce5066c9f754992ba',
  'libosctl/lib/libosctl/logger.rb': 'e490944b7e81d6888f665c4d3b23d73c0c65133e',
};

const source = process.env.OSCTL_SOURCE;

function gitBlobId(path: string): string {
  const content = readFileSync(path);
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

beforeAll(() => {
  if (!source) throw new Error('OSCTL_SOURCE must name a vpsAdminOS checkout (commit 7d64ad8c): OSCTL_SOURCE=/path npm run test:osctl');
  for (const [file, blob] of Object.entries(UPSTREAM_BLOBS)) expect(gitBlobId(join(source, file)), file).toBe(blob);
});

interface Osctl {
  proc: ChildProcess;
  lines: string[];
  stderr: string;
  exited: Promise<number | null>;
}

const running: Osctl[] = [];
const daemons: TestDaemon[] = [];
afterEach(async () => {
  for (const osctl of running.splice(0)) osctl.proc.kill('SIGKILL');
  await Promise.all(daemons.splice(0).map((daemon) => daemon.cleanup()));
});

function osctl(daemon: TestDaemon, args: string[]): Osctl {
  const proc = spawn('ruby', [DRIVER, ...args], {
    env: { ...process.env, OSCTL_SOURCE: source, OSCTLD_SOCKET: daemon.osctldSocket },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Osctl = { proc, lines: [], stderr: '', exited: new Promise((resolve) => proc.once('exit', (code) => resolve(code))) };
  let partial = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    run.lines.push(...parts);
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (run.stderr += chunk));
  running.push(run);
  return run;
}

async function startDaemon(): Promise<TestDaemon> {
  const daemon = await TestDaemon.start({ osctld: true });
  daemons.push(daemon);
  return daemon;
}

/** osctl prints nothing until an event comes: wait until the daemon counts the subscribers. */
async function subscribed(daemon: TestDaemon, count: number): Promise<void> {
  // The stats connection itself is one subscriber.
  await expect.poll(async () => (await daemon.stats()).subscribers, { timeout: 15_000 }).toBe(count + 1);
}

const reports = OSCTLD_CALL_SITES.map(({ type, opts }) => ({ type, opts }));
// The daemon's own announcement is marked (a producer's osctld_shutdown has empty opts).
const shutdownEvent = { type: 'osctld_shutdown', opts: { source: 'eventd' } };

describe("osctl's own client", () => {
  it('osctl monitor, osctl -j monitor and osctl ct monitor 101 print exactly the events reported, and end as at an osctld shutdown', async () => {
    const daemon = await startDaemon();
    const human = osctl(daemon, ['monitor']);
    const json = osctl(daemon, ['-j', 'monitor']);
    const ct = osctl(daemon, ['ct', 'monitor', '101']);
    const other = osctl(daemon, ['-j', 'ct', 'monitor', '102']);
    await subscribed(daemon, 4);
    await daemon.report(...reports, { type: 'state', opts: { pool: 'tank', id: '102', state: 'running' } });
    await expect.poll(() => json.lines.length, { timeout: 10_000 }).toBe(reports.length + 1);
    await daemon.stop('SIGTERM');
    for (const run of [human, json, ct, other]) {
      expect(await run.exited).toBe(1);
      expect(run.stderr).toBe('error: eventd is shutting down\n');
    }

    const everything = [...reports, { type: 'state', opts: { pool: 'tank', id: '102', state: 'running' } }, shutdownEvent];
    expect(json.lines.map((line) => JSON.parse(line))).toStrictEqual(everything);

    expect(human.lines).toHaveLength(everything.length);
    everything.forEach((event, i) => {
      const line = human.lines[i]!;
      const opts = event.opts as Record<string, any>;
      if (event.type === 'state') expect(line).toBe(`state ${opts.pool} ${opts.id} ${opts.state}`);
      else if (event.type === 'management')
        expect(line).toMatch(new RegExp(`^management id=${opts.id ?? ''} state=${opts.state} command=${opts.cmd ?? ''} opts=`));
      else expect(line).toMatch(new RegExp(`^\\{:type=>"${event.type}", :opts=>\\{`));
    });

    const states101 = reports.filter((report) => report.type === 'state' && report.opts.id === '101');
    expect(ct.lines).toStrictEqual(states101.map(({ opts }) => `state ${opts.pool} ${opts.id} ${opts.state}`));
    expect(other.lines.map((line) => JSON.parse(line))).toStrictEqual([
      { type: 'state', opts: { pool: 'tank', id: '102', state: 'running' } },
    ]);
  });

  it('20 subscriptions made while events flow (one per ms) all succeed and miss nothing after their start', async () => {
    const daemon = await startDaemon();
    const producer = await daemon.producer();
    let n = 0;
    const timer = setInterval(() => producer.sendJson({ type: 'ct_init_pid', opts: { pool: 'flow', id: '1', init_pid: ++n } }), 1);
    try {
      const clients: Osctl[] = [];
      for (let i = 0; i < 20; i++) {
        clients.push(osctl(daemon, ['-j', 'monitor']));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await expect.poll(() => clients.every((client) => client.lines.length >= 50), { timeout: 20_000 }).toBe(true);
      for (const client of clients) {
        expect(client.stderr).toBe('');
        const pids = client.lines.slice(0, 50).map((line) => (JSON.parse(line) as { opts: { init_pid: number } }).opts.init_pid);
        expect(pids).toStrictEqual(Array.from({ length: 50 }, (_, i) => pids[0]! + i));
      }
    } finally {
      clearInterval(timer);
      producer.destroy();
    }
  });
});
