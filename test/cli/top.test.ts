// `eventd top` in a real pseudo-terminal (tmux), read off the screen; and on a pipe.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { EVENTD_BIN, sampleReports, TestDaemon } from '../helpers/daemon.js';

let daemon: TestDaemon;
beforeAll(async () => {
  daemon = await TestDaemon.start();
});
afterAll(async () => {
  await daemon.cleanup();
});

/** `eventd top` in a terminal of its own; `exited()` is what it exited with, once it has ('' before). */
function topInTerminal(name: string) {
  const exitFile = join(daemon.dir, `top-${name}.exit`);
  const term = terminal(
    name,
    `${process.execPath} ${EVENTD_BIN} top --events-socket ${daemon.eventsSocket}; echo "exit $?" > ${exitFile}; sleep 30`,
  );
  return { ...term, exited: () => (existsSync(exitFile) ? readFileSync(exitFile, 'utf8') : '') };
}

/** A tmux server of the test's own (-L), with one window of the given size running `command`. */
function terminal(name: string, command: string) {
  const tmux = (...args: string[]) =>
    spawnSync('tmux', ['-L', `eventd-test-${process.pid}-${name}`, ...args], { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' } });
  const started = tmux('new-session', '-d', '-x', '100', '-y', '30', command);
  if (started.status !== 0) throw new Error(`tmux: ${started.stderr}`);
  return {
    screen: () => tmux('capture-pane', '-p').stdout,
    keys: (...keys: string[]) => tmux('send-keys', ...keys),
    kill: () => tmux('kill-server'),
  };
}

describe('eventd top', () => {
  it('draws rates per type and pool, workers and counters on a terminal; q quits with 0', async () => {
    const term = topInTerminal('q');
    try {
      await expect.poll(term.screen, { timeout: 10_000 }).toMatch(/^eventd top {2}\S+events\.sock {2}pid \d+/m);
      await daemon.report(sampleReports.state, sampleReports.state, { type: 'state', opts: { pool: 'ssd', id: '7', state: 'stopped' } });
      await daemon.report(sampleReports.db);
      // Rates appear with the second sample; totals as soon as one sample has them.
      await expect.poll(term.screen, { timeout: 10_000 }).toMatch(/^state\s+[\d.]+\s+3\s+tank\s+[\d.]+\s+3$/m);
      const screen = term.screen();
      expect(screen).toMatch(/^db\s+[\d.]+\s+1\s+ssd\s+[\d.]+\s+1$/m);
      expect(screen).toMatch(/^events\s+[\d.]+\/s\s+seq 4\s+history 4\/10000 events/m);
      expect(screen).toMatch(/^WORKER\s+SUBSCRIBERS\s+PRODUCERS\s+PENDING\s+RESTARTS$/m);
      expect(screen).toMatch(/^1\s+\d+\s+\d+\s+0 B\s+0$/m);
      expect(screen).toMatch(/^q: quit$/m);
      term.keys('q');
      await expect.poll(term.exited, { timeout: 5000 }).toBe('exit 0\n');
      // The alternate screen is left: top's screen is gone.
      expect(term.screen()).not.toMatch(/q: quit/);
    } finally {
      term.kill();
    }
  });

  it('quits on Ctrl-C too', async () => {
    const term = topInTerminal('c');
    try {
      await expect.poll(term.screen, { timeout: 10_000 }).toMatch(/q: quit/);
      term.keys('C-c');
      await expect.poll(term.exited, { timeout: 5000 }).toBe('exit 0\n');
    } finally {
      term.kill();
    }
  });

  it('prints one line per refresh on a pipe', async () => {
    const result = await runCli(['top', '--count', '2', '--events-socket', daemon.eventsSocket]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d {2}events -\/s {2}seq \d+ {2}producers 0 {2}subscribers \d+ {2}rejected 0 {2}dropped 0 {2}paused 0$/,
    );
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d {2}events [\d.]+\/s {2}seq \d+/);
  });

  it('a daemon that is not running: one line, exit 3', async () => {
    const result = await runCli(['top', '--events-socket', join(daemon.dir, 'nothing.sock')]);
    expect(result.code).toBe(3);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^eventd: .*nothing\.sock/);
  });
});
