// Start-up, sockets on disk, signals and restarts of the real daemon process.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENTD_BIN, sampleReports, TestDaemon } from '../helpers/daemon.js';
import { canChownToNobody, canRunAsNobody, NOBODY } from '../helpers/nobody.js';
import { readableEventdBin } from '../helpers/readable-runtime.js';

const daemons: TestDaemon[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((daemon) => daemon.cleanup()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(options: Parameters<typeof TestDaemon.start>[0] = {}) {
  const daemon = TestDaemon.spawn(options);
  daemons.push(daemon);
  await daemon.waitForLog((record) => record.msg === 'eventd ready');
  return daemon;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eventd-life-'));
  dirs.push(dir);
  return dir;
}

/** Runs `eventd serve` expecting it to refuse to start; returns its stderr. */
function refusedStart(args: string[]): { status: number | null; stderr: string; stdout: string } {
  const result = spawnSync(process.execPath, [EVENTD_BIN, 'serve', '--no-journal', ...args], { encoding: 'utf8', timeout: 15_000 });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe('daemon lifecycle', () => {
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGUSR2', 'SIGTRAP'] as const) {
    it(`on ${signal} announces osctld_shutdown, flushes, removes its sockets and exits 0 within 5 s`, async () => {
      const daemon = await start();
      const everything = await daemon.subscriber();
      const osctld = await daemon.subscriber({ format: 'osctld', type: 'osctld_shutdown' });
      const [seq] = await daemon.report(sampleReports.state);
      expect(await everything.nextJson()).toMatchObject({ seq, type: 'state' });
      const started = Date.now();
      const exited = daemon.stop(signal);
      // Marked as the daemon's own, unlike a producer's osctld_shutdown (below).
      expect(await everything.nextJson()).toMatchObject({ seq: seq! + 1, type: 'osctld_shutdown', opts: { source: 'eventd' } });
      expect(await osctld.next()).toBe('{"status":true,"response":{"type":"osctld_shutdown","opts":{"source":"eventd"}}}');
      await everything.closed;
      expect(await exited).toEqual({ code: 0, signal: null });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(existsSync(daemon.reportSocket)).toBe(false);
      expect(existsSync(daemon.eventsSocket)).toBe(false);
    });
  }

  it("tells a producer's osctld_shutdown (osctld stopping) from its own, which no producer can claim", async () => {
    const daemon = await start();
    const sub = await daemon.subscriber();
    const [seq] = await daemon.report(sampleReports.osctld_shutdown);
    expect(await sub.nextJson()).toEqual({ seq, time: expect.any(String), type: 'osctld_shutdown', opts: {} });
    const producer = await daemon.producer();
    producer.sendJson({ type: 'osctld_shutdown', opts: { source: 'eventd' }, ack: 1 });
    expect(await producer.nextJson()).toMatchObject({
      status: false,
      ack: 1,
      message: 'Invalid osctld_shutdown report: opts.source is not a known field (osctld_shutdown has no fields)',
    });
    producer.destroy();
    // The daemon goes on; its own announcement comes only when it stops.
    const [next] = await daemon.report(sampleReports.state);
    expect(await sub.nextJson()).toMatchObject({ seq: next, type: 'state' });
    const exited = daemon.stop();
    expect(await sub.nextJson()).toMatchObject({ seq: next! + 1, type: 'osctld_shutdown', opts: { source: 'eventd' } });
    expect(await exited).toEqual({ code: 0, signal: null });
  });

  it('ignores a second SIGTERM during the drain: one announcement, exit 0', async () => {
    const daemon = await start();
    const sub = await daemon.subscriber();
    // The subscriber keeps its side open, so the drain lasts its full grace period.
    daemon.proc.kill('SIGTERM');
    expect(await sub.nextJson()).toMatchObject({ type: 'osctld_shutdown' });
    daemon.proc.kill('SIGTERM');
    await daemon.waitForLog((record) => record.msg === 'already stopping');
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    await sub.closed;
    expect(sub.pending).toBe(0);
  });

  it('on SIGHUP logs that there is nothing to reload and keeps serving', async () => {
    const daemon = await start();
    daemon.proc.kill('SIGHUP');
    await daemon.waitForLog((record) => record.msg === 'nothing to reload; still running');
    const sub = await daemon.subscriber();
    const [seq] = await daemon.report(sampleReports.state);
    expect(await sub.nextJson()).toMatchObject({ seq, type: 'state' });
  });

  it('logs socat hints that work when pasted, the report one answered with its ack; connections only at debug', async () => {
    const daemon = await start({ args: ['--log-level', 'info'] });
    const ready = daemon.logs.find((record) => record.msg === 'eventd ready')!;
    const sub = spawn('sh', ['-c', String(ready.subscribe)], { stdio: ['ignore', 'pipe', 'ignore'] });
    await expect.poll(async () => (await daemon.stats()).subscribers, { timeout: 10_000 }).toBe(2);
    const pasted = spawnSync('sh', ['-c', String(ready.report)], { encoding: 'utf8' });
    expect(pasted.stdout).toBe('{"status":true,"ack":1,"seq":1}\n');
    let seen = '';
    sub.stdout!.setEncoding('utf8').on('data', (chunk: string) => (seen += chunk));
    await expect.poll(() => seen).toContain('"seq":1');
    sub.kill();
    expect(daemon.logs.filter((record) => /producer (dis)?connected/.test(record.msg))).toEqual([]);
  });

  it('never opens the Node inspector on SIGUSR1', async () => {
    const daemon = await start();
    const listening = () =>
      readFileSync(`/proc/${daemon.pid}/net/tcp`, 'utf8')
        .split('\n')
        .some((line) => / 0100007F:240D 00000000:0000 0A /.test(line));
    daemon.proc.kill('SIGUSR1');
    await daemon.waitForLog((record) => record.msg === 'ignored: eventd never opens the Node inspector');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(listening()).toBe(false);
    expect(daemon.stderr).not.toContain('Debugger listening');
    const [seq] = await daemon.report(sampleReports.state);
    expect(seq).toBe(1);
  });

  it('restarts over the stale sockets of a killed daemon', async () => {
    const first = await start();
    await first.stop('SIGKILL');
    expect(statSync(first.reportSocket).isSocket()).toBe(true);
    const second = await start({ dir: first.dir });
    const sub = await second.subscriber();
    const [seq] = await second.report(sampleReports.db);
    expect(seq).toBe(1);
    expect(await sub.nextJson()).toMatchObject({ seq: 1, type: 'db' });
  });

  it('after kill -9 mid-stream, every ack names a published event, in order, and a restart serves again', async () => {
    const first = await start();
    const sub = await first.subscriber();
    const producer = await first.producer();
    const total = 20_000;
    for (let i = 0; i < total; i += 500) {
      const lines = Array.from({ length: 500 }, (_, j) =>
        JSON.stringify({ type: 'ct_init_pid', opts: { pool: 'tank', id: 'k', init_pid: i + j + 1 }, ack: i + j }),
      );
      producer.send(`${lines.join('\n')}\n`);
    }
    // Kill it while the stream is in full flow.
    const firstAcks = await producer.takeJson<{ ack: number; seq: number }>(1000);
    await first.stop('SIGKILL');
    await producer.closed;
    const acks = [...firstAcks, ...(await producer.takeJson<{ ack: number; seq: number }>(producer.pending))];
    // Acks come in line order, each naming the seq its event got: the nth line is seq n.
    acks.forEach((ack, i) => expect(ack).toMatchObject({ ack: i, seq: i + 1 }));
    await sub.closed;
    const received = await sub.takeJson<{ seq: number; opts: { init_pid: number } }>(sub.pending);
    received.forEach((event, i) => expect(event).toMatchObject({ seq: i + 1, opts: { init_pid: i + 1 } }));
    expect(acks.length).toBeLessThan(total);

    const second = await start({ dir: first.dir });
    expect(await second.report(sampleReports.ct_exit)).toEqual([1]);
  });

  it('refuses to start while another daemon listens on the socket', async () => {
    const running = await start();
    const result = refusedStart(['--report-socket', running.reportSocket, '--events-socket', join(running.dir, 'other.sock')]);
    // One line, nothing else: no log record with a stack trace.
    expect(result).toEqual({
      status: 1,
      stdout: '',
      stderr: `eventd: ${running.reportSocket} is in use by another process; is eventd already running?\n`,
    });
    // The running daemon is untouched.
    expect(await running.report(sampleReports.state)).toEqual([1]);
  });

  it('never deletes or follows a path that is not a socket', async () => {
    const dir = tempDir();
    const file = join(dir, 'report.sock');
    writeFileSync(file, 'precious');
    let result = refusedStart(['--report-socket', file, '--events-socket', join(dir, 'events.sock')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `eventd: ${file} exists and is not a socket; refusing to replace it (remove it yourself if it is not needed)\n`,
    );
    expect(readFileSync(file, 'utf8')).toBe('precious');

    const link = join(dir, 'link.sock');
    symlinkSync(file, link);
    result = refusedStart(['--report-socket', link, '--events-socket', join(dir, 'events.sock')]);
    expect(result.stderr).toBe(
      `eventd: ${link} exists and is not a socket; refusing to replace it (remove it yourself if it is not needed)\n`,
    );
    expect(readFileSync(file, 'utf8')).toBe('precious');
  });

  it('refuses a world-writable runtime directory that is not sticky', () => {
    const dir = join(tempDir(), 'open');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const result = refusedStart(['--report-socket', join(dir, 'r.sock'), '--events-socket', join(dir, 'e.sock')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `eventd: ${dir} is writable by everyone (mode 0777): another user could replace eventd's sockets there; use a directory of your own\n`,
    );
  });

  describe('refuses a socket directory another user could tamper with', () => {
    const refused = (dir: string) => refusedStart(['--report-socket', join(dir, 'r.sock'), '--events-socket', join(dir, 'e.sock')]);

    it.runIf(canChownToNobody('lifecycle › refuses a socket directory owned by another user'))('owned by another user (uid 65534)', () => {
      const dir = join(tempDir(), 'theirs');
      mkdirSync(dir, { mode: 0o755 });
      chownSync(dir, 65534, 65534);
      expect(refused(dir)).toEqual({
        status: 1,
        stdout: '',
        stderr: `eventd: ${dir} is owned by uid 65534, not by eventd's user (uid 0) or root: another user could replace eventd's sockets there; use a directory of your own\n`,
      });
    });

    it('writable by its group, or by everyone even when sticky (like /tmp itself)', () => {
      const group = join(tempDir(), 'group');
      mkdirSync(group);
      chmodSync(group, 0o775);
      expect(refused(group).stderr).toBe(
        `eventd: ${group} is writable by its group (mode 0775): another user could replace eventd's sockets there; use a directory of your own\n`,
      );
      const sticky = join(tempDir(), 'sticky');
      mkdirSync(sticky);
      chmodSync(sticky, 0o1777);
      expect(refused(sticky).stderr).toBe(
        `eventd: ${sticky} is writable by everyone (mode 1777): another user could replace eventd's sockets there; use a directory of your own\n`,
      );
    });

    it('below a directory where another user could rename it', () => {
      const open = join(tempDir(), 'open');
      const dir = join(open, 'eventd');
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      chmodSync(open, 0o777);
      expect(refused(dir).stderr).toBe(
        `eventd: ${open}, above ${dir}, is writable by everyone (mode 0777): another user could replace the socket directory; use another one\n`,
      );
      // Sticky above is fine: there nobody else can rename what is ours.
      chmodSync(open, 0o1777);
      const daemon = spawnSync(
        process.execPath,
        [EVENTD_BIN, 'serve', '--no-journal', '--report-socket', join(dir, 'r.sock'), '--events-socket', join(dir, 'e.sock')],
        {
          encoding: 'utf8',
          timeout: 3000,
          killSignal: 'SIGTERM',
        },
      );
      expect(daemon.stdout).toContain('eventd ready');
    });

    const defaults = "a non-root user's default is ~/.eventd, not a directory under /tmp that anyone could create first";
    it.runIf(canRunAsNobody(`lifecycle › ${defaults}`))(defaults, async () => {
      const parent = tempDir();
      chmodSync(parent, 0o755);
      const home = join(parent, 'home');
      mkdirSync(home, { mode: 0o755 });
      chownSync(home, 65534, 65534);
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
      for (const name of ['XDG_RUNTIME_DIR', 'RUNTIME_DIRECTORY', 'EVENTD_REPORT_SOCKET', 'EVENTD_EVENTS_SOCKET']) delete env[name];
      const run = spawnSync(NOBODY[0]!, [...NOBODY.slice(1), process.execPath, readableEventdBin(), 'serve'], {
        encoding: 'utf8',
        env,
        timeout: 3000,
        killSignal: 'SIGTERM',
      });
      const ready = run.stdout.split('\n').find((line) => line.includes('eventd ready'));
      expect(ready, run.stderr).toBeDefined();
      expect(JSON.parse(ready!)).toMatchObject({
        report_socket: join(home, '.eventd', 'report.sock'),
        events_socket: join(home, '.eventd', 'events.sock'),
      });
      expect(statSync(join(home, '.eventd')).uid).toBe(65534);
      // And its journal in its own state directory, 0700.
      const journal = statSync(join(home, '.local', 'state', 'eventd'));
      expect([journal.uid, journal.mode & 0o777]).toEqual([65534, 0o700]);
    });
  });

  it('never changes a file through the socket path, however fast it is swapped for a symlink', async () => {
    const dir = tempDir();
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'secret');
    chmodSync(victim, 0o600);
    const path = join(dir, 'r.sock');
    // An attacker who can write to the directory (the daemon now refuses such a directory; this
    // is the second line of defence) swaps the socket for a symlink the moment it appears.
    const attacker = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('fs'); const end = Date.now() + 6000;
        while (Date.now() < end) { try { if (fs.lstatSync(${JSON.stringify(path)}).isSocket()) {
          fs.symlinkSync(${JSON.stringify(victim)}, ${JSON.stringify(path)} + '.l'); fs.renameSync(${JSON.stringify(path)} + '.l', ${JSON.stringify(path)}); } } catch {} }`,
      ],
      { stdio: 'ignore' },
    );
    const attacked = new Promise((resolve) => attacker.once('exit', resolve));
    for (let i = 0; i < 5; i++) {
      rmSync(path, { force: true });
      spawnSync(
        process.execPath,
        [
          EVENTD_BIN,
          'serve',
          '--no-journal',
          '--log-level',
          'silent',
          '--report-socket',
          path,
          '--events-socket',
          join(dir, 'e.sock'),
          '--report-mode',
          '0666',
        ],
        {
          timeout: 800,
          killSignal: 'SIGKILL',
        },
      );
    }
    attacker.kill();
    await attacked;
    expect(statSync(victim).mode & 0o7777).toBe(0o600);
    expect(readFileSync(victim, 'utf8')).toBe('secret');
  });

  it('creates missing runtime directories 0755', async () => {
    const dir = join(tempDir(), 'run', 'eventd');
    const daemon = await start({ args: ['--report-socket', join(dir, 'r.sock'), '--events-socket', join(dir, 'e.sock')] });
    expect(statSync(dir).mode & 0o777).toBe(0o755);
    await daemon.stop();
  });

  it('creates both sockets 0660 by default, and as configured', async () => {
    const daemon = await start();
    expect(statSync(daemon.reportSocket).mode & 0o7777).toBe(0o660);
    expect(statSync(daemon.eventsSocket).mode & 0o7777).toBe(0o660);
    // Another group the daemon may give them: any, as root (by name); else one of the user's own.
    const [groupName, gid] = otherGroup() ?? [];
    if (groupName === undefined) console.warn('not run here (needs root or a second group of your own): lifecycle › --socket-group');
    const custom = await start({
      args: ['--report-mode', '0620', '--events-mode', '640', ...(groupName === undefined ? [] : ['--socket-group', groupName])],
    });
    expect(statSync(custom.reportSocket).mode & 0o7777).toBe(0o620);
    expect(statSync(custom.eventsSocket).mode & 0o7777).toBe(0o640);
    if (gid !== undefined) {
      expect(statSync(custom.reportSocket).gid).toBe(gid);
      expect(statSync(custom.eventsSocket).gid).toBe(gid);
    }
  });

  /** A group other than the daemon's own that it may give its sockets: [name or gid, gid]. */
  function otherGroup(): [string, number] | undefined {
    if (process.getuid?.() === 0) {
      const line = readFileSync('/etc/group', 'utf8')
        .split('\n')
        .find((entry) => entry.startsWith('nogroup:') || entry.startsWith('daemon:'))!;
      const [name, , gid] = line.split(':');
      return [name!, Number(gid)];
    }
    const gid = process.getgroups?.().find((group) => group !== process.getegid?.());
    return gid === undefined ? undefined : [String(gid), gid];
  }

  it('rejects bad options with a one-line error', () => {
    expect(refusedStart(['--workers', 'many']).stderr).toBe(
      'eventd: --workers: expected a whole number, got "many" (see `eventd serve --help`)\n',
    );
    expect(refusedStart(['--report-mode', '999']).stderr).toBe(
      'eventd: --report-mode: expected an octal mode such as 0660, got "999" (see `eventd serve --help`)\n',
    );
    expect(refusedStart(['--socket-group', 'no-such-group-here']).stderr).toBe(
      'eventd: unknown group "no-such-group-here" (not in /etc/group)\n',
    );
  });
});
