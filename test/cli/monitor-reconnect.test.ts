// `eventd monitor --reconnect` and `wait --reconnect` across a daemon restart, and monitor in a pipeline.
import { spawnSync } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { runCli, startCli, untilLive } from '../helpers/cli.js';
import { EVENTD_BIN, TestDaemon } from '../helpers/daemon.js';

const daemons: TestDaemon[] = [];
afterEach(async () => {
  for (const daemon of daemons.splice(0).reverse()) await daemon.cleanup();
});

it('keeps running across a restart, resumes, and says that events may have been missed', async () => {
  const first = await TestDaemon.start();
  daemons.push(first);
  const env = { EVENTD_REPORT_SOCKET: first.reportSocket, EVENTD_EVENTS_SOCKET: first.eventsSocket };
  const monitor = startCli(['monitor', '--reconnect', '--json'], env);
  try {
    await untilLive(monitor, () => runCli(['report', 'state', 'pool=tank', 'id=a', 'state=running'], { env }));
    const reported = (await first.stats()).events_published as number;

    await first.stop();
    const second = await TestDaemon.start({ dir: first.dir });
    daemons.push(second);
    await runCli(['report', 'state', 'pool=tank', 'id=b', 'state=running'], { env });
    await expect.poll(() => monitor.lines().some((line) => line.includes('"id":"b"')), { timeout: 15_000 }).toBe(true);
    const events = monitor.lines().map((line) => JSON.parse(line));
    // The probes it saw (the first may have come before it subscribed), in order up to the last
    // one reported, the first run's shutdown, then the second run's first event.
    const probes = events.length - 2;
    expect(probes).toBeGreaterThan(0);
    expect(events.map((event) => [event.seq, event.type, event.opts.id])).toEqual([
      ...Array.from({ length: probes }, (_, i) => [reported - probes + 1 + i, 'state', 'a']),
      [reported + 1, 'osctld_shutdown', undefined],
      [1, 'state', 'b'],
    ]);
    // Said once, not at every retry while the daemon was down; then where it resumed.
    expect(monitor.stderr.match(/connection lost/g)).toHaveLength(1);
    expect(monitor.stderr).toContain("eventd: the daemon's history was lost (a new run): events from before it may be missing\n");
    expect(monitor.stderr).toMatch(/^eventd: reconnected \(run [0-9a-f-]{36}, resumed after seq \d+, 0 missed\)$/m);
  } finally {
    monitor.child.kill();
  }
});

it('wait --reconnect keeps waiting across a restart and sees the event reported after it', async () => {
  const first = await TestDaemon.start();
  daemons.push(first);
  const env = { EVENTD_REPORT_SOCKET: first.reportSocket, EVENTD_EVENTS_SOCKET: first.eventsSocket };
  const wait = startCli(['wait', 'ct_exit', 'id=101', '--reconnect', '--timeout', '30'], env);
  try {
    // Live once it has subscribed: the daemon counts it (and the test's stats connection).
    await expect.poll(async () => (await first.stats()).subscribers, { timeout: 10_000 }).toBe(2);
    await first.stop();
    const second = await TestDaemon.start({ dir: first.dir });
    daemons.push(second);
    await expect.poll(async () => (await second.stats()).subscribers, { timeout: 10_000 }).toBe(2);
    await runCli(['report', 'ct_exit', 'pool=tank', 'id=101', 'exit_type=halt'], { env });
    expect(await wait.exited).toBe(0);
    expect(wait.lines()).toHaveLength(1);
    expect(wait.lines()[0]).toMatch(/ ct_exit tank:101 halt$/);
    expect(wait.stderr).toMatch(/^eventd: connection lost; reconnecting\n/);
  } finally {
    wait.child.kill();
  }
});

it('monitor | head -1 ends quietly with 0 when head goes away', async () => {
  const daemon = await TestDaemon.start();
  daemons.push(daemon);
  const reports = Array.from({ length: 500 }, (_, i) => ({ type: 'state', opts: { pool: 'tank', id: String(i), state: 'running' } }));
  await daemon.report(...reports);
  const result = spawnSync(
    'bash',
    ['-c', `set -o pipefail; "$NODE" "$EVENTD" monitor --since 0 --events-socket "$SOCKET" | head -1; echo "exit=\${PIPESTATUS[0]}" >&2`],
    { env: { ...process.env, NODE: process.execPath, EVENTD: EVENTD_BIN, SOCKET: daemon.eventsSocket }, encoding: 'utf8', timeout: 15_000 },
  );
  expect(result.stdout).toMatch(/^\S+ 1 state tank:0 running\n$/);
  expect(result.stderr).toBe('exit=0\n');
});
