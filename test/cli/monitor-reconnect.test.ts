// `eventd monitor --reconnect` across a daemon restart.
import { afterEach, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
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
    await expect.poll(async () => (await first.stats()).subscribers, { timeout: 10_000 }).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await runCli(['report', 'state', 'pool=tank', 'id=a', 'state=running'], { env });
    await expect.poll(() => monitor.lines().length).toBe(1);

    await first.stop();
    const second = await TestDaemon.start({ dir: first.dir });
    daemons.push(second);
    await runCli(['report', 'state', 'pool=tank', 'id=b', 'state=running'], { env });
    await expect.poll(() => monitor.lines().length, { timeout: 15_000 }).toBe(3);
    const events = monitor.lines().map((line) => JSON.parse(line));
    expect(events.map((event) => [event.seq, event.type, event.opts.id])).toEqual([
      [1, 'state', 'a'],
      [2, 'osctld_shutdown', undefined],
      [1, 'state', 'b'],
    ]);
    expect(monitor.stderr).toContain('connection lost');
    expect(monitor.stderr).toContain('eventd: the daemon restarted; events reported while it was down are not in its history\n');
  } finally {
    monitor.child.kill();
  }
});
