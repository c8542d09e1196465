// `eventd monitor --reconnect` across a daemon restart.
import { afterEach, expect, it } from 'vitest';
import { runCli, startCli, untilLive } from '../helpers/cli.js';
import { TestDaemon } from '../helpers/daemon.js';

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
    expect(monitor.stderr).toContain('connection lost');
    expect(monitor.stderr).toContain('eventd: the daemon restarted; events reported while it was down are not in its history\n');
  } finally {
    monitor.child.kill();
  }
});
