// The client commands against a real daemon, as separate processes.
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, untilLive } from '../helpers/cli.js';
import { TestDaemon } from '../helpers/daemon.js';
import { canRunAsNobody, NOBODY } from '../helpers/nobody.js';
import { readableEventdBin } from '../helpers/readable-runtime.js';

let daemon: TestDaemon;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  daemon = await TestDaemon.start();
  env = { EVENTD_REPORT_SOCKET: daemon.reportSocket, EVENTD_EVENTS_SOCKET: daemon.eventsSocket };
});
afterAll(() => daemon.cleanup());

const cli = (args: string[], input?: string) => runCli(args, { env, input });

describe('eventd report', () => {
  it('types key=value fields by the schema and prints the seq', async () => {
    const sub = await daemon.subscriber();
    const result = await cli(['report', 'ct_init_pid', 'pool=tank', 'id=101', 'init_pid=42']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const seq = Number(result.stdout.trim());
    expect(await sub.nextJson()).toMatchObject({ seq, type: 'ct_init_pid', opts: { pool: 'tank', id: '101', init_pid: 42 } });
    await cli(['report', 'management', 'id=7', 'cmd=ct_start', 'state=run', 'opts={"force":true}']);
    expect(await sub.nextJson()).toMatchObject({ opts: { id: '7', cmd: 'ct_start', state: 'run', opts: { force: true } } });
    await cli(['report', '--json', '{"type":"ct_exit","opts":{"pool":"tank","id":"101","exit_type":"halt"}}']);
    expect(await sub.nextJson()).toMatchObject({ type: 'ct_exit' });
    sub.destroy();
  });

  it('says why the daemon refused an invalid report (its schema error), exit 1, nothing published', async () => {
    const before = await daemon.stats();
    const result = await cli(['report', 'state', 'pool=tank', 'id=101', 'state=runing']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'eventd: Invalid state report: opts.state must be one of "stopped", "starting", "running", "stopping", "aborting", "freezing", "frozen", "thawed", "error" (got "runing")\n',
    );
    expect((await daemon.stats()).events_published).toBe(before.events_published);
  });

  it('streams NDJSON from stdin, reports every bad line with its number and exits 1', async () => {
    const sub = await daemon.subscriber();
    const input = [
      '{"type":"state","opts":{"pool":"tank","id":"1","state":"running"}}',
      'oops',
      '',
      '{"type":"db","opts":{}}',
      '{"type":"state","opts":{"pool":"tank","id":"2","state":"stopped"}}',
    ].join('\n');
    const result = await cli(['report', '-'], input);
    expect(result.code).toBe(1);
    const [first, fifth] = result.stdout.trim().split('\n');
    expect(first).toMatch(/^line 1: seq \d+$/);
    expect(fifth).toMatch(/^line 5: seq \d+$/);
    expect(result.stdout.trim().split('\n')).toHaveLength(2);
    expect(result.stderr).toBe(
      'eventd: line 2: Line is not valid JSON: Unexpected token \'o\', "oops" is not valid JSON\neventd: line 4: Invalid db report: opts.object is required; opts.pool is required; opts.id is required; opts.action is required\n',
    );
    expect((await sub.takeJson(2)).map((event) => (event.opts as { id: string }).id)).toEqual(['1', '2']);
    sub.destroy();
  });

  it('matches every answer to its line: lines with their own ack, JSON that is no object, a pretty --json', async () => {
    const sub = await daemon.subscriber();
    const input = [
      '{"type":"state","opts":{"pool":"tank","id":"a1","state":"running"},"ack":"mine"}',
      '[1,2]',
      '5',
      '{}',
      ' {"type":"state","opts":{"pool":"tank","id":"a2","state":"stopped"}} ',
    ].join('\n');
    const result = await cli(['report', '-'], input);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^line 1: seq \d+\nline 5: seq \d+\n$/);
    expect(result.stderr.split('\n')).toEqual([
      'eventd: line 2: A report must be a JSON object like {"type":"state","opts":{...}}',
      'eventd: line 3: A report must be a JSON object like {"type":"state","opts":{...}}',
      expect.stringMatching(/^eventd: line 4: Report has no event type; known types: /),
      '',
    ]);
    expect((await sub.takeJson(2)).map((event) => (event.opts as { id: string }).id)).toEqual(['a1', 'a2']);
    const pretty = await cli([
      'report',
      '--json',
      '{\n  "type": "ct_exit",\n  "opts": {"pool": "tank", "id": "p", "exit_type": "halt"}\n}\n',
    ]);
    expect(pretty).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\n$/), stderr: '' });
    expect(await sub.nextJson()).toMatchObject({ type: 'ct_exit', opts: { id: 'p' } });
    sub.destroy();
  });

  it('exits 2 on usage errors and 3 when the daemon is not there', async () => {
    expect(await cli(['report', 'nope'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown event type "nope"; known types: management'),
    });
    expect(await cli(['report', 'state', 'novalue'])).toMatchObject({ code: 2, stderr: 'eventd: expected key=value, got "novalue"\n' });
    expect(await cli(['report', 'state', 'pool=tank', 'id=1', 'state=running', 'state=stopped'])).toMatchObject({
      code: 2,
      stderr: 'eventd: state is given twice; give each field once\n',
    });
    expect(await cli(['report', '--json', '{"type":"ct_exit","opts":{"pool":"tank","id":"1","exit_type":"halt"}}', 'state'])).toMatchObject(
      {
        code: 2,
        stderr: 'eventd: give either --json or a type with key=value fields, not both (got --json and "state")\n',
      },
    );
    const missing = await runCli(['report', 'state', 'pool=a', 'id=b', 'state=running', '--report-socket', '/nonexistent/report.sock']);
    expect(missing).toMatchObject({
      code: 3,
      stderr:
        'eventd: the daemon is not running: there is no socket at /nonexistent/report.sock (start it with `eventd serve`, or point to the right socket)\n',
    });
  });

  it('says every usage error in one line that names the argument or option, exit 2', async () => {
    const types = 'management, osctld_shutdown, state, db, ct_scheduled, ct_init_pid, ct_netif, ct_exit';
    expect(await cli(['wait', 'stat'])).toEqual({
      code: 2,
      stdout: '',
      stderr: `eventd: <type>: unknown event type "stat"; known types: ${types} (see \`eventd wait --help\`)\n`,
    });
    expect(await cli(['monitor', '--type', 'stat'])).toEqual({
      code: 2,
      stdout: '',
      stderr: `eventd: --type: unknown event type "stat"; known types: ${types} (see \`eventd monitor --help\`)\n`,
    });
    expect(await cli(['schema', 'bogus'])).toEqual({
      code: 2,
      stdout: '',
      stderr: `eventd: <type>: unknown event type "bogus"; known types: ${types} (see \`eventd schema --help\`)\n`,
    });
    expect(await cli(['stats', '--bogus'])).toEqual({
      code: 2,
      stdout: '',
      stderr: "eventd: unknown option '--bogus' (see `eventd stats --help`)\n",
    });
    expect(await cli(['frobnicate'])).toEqual({
      code: 2,
      stdout: '',
      stderr: "eventd: unknown command 'frobnicate' (see `eventd --help`)\n",
    });
  });

  it("gives examples and the exit codes in every command's help", async () => {
    for (const command of ['serve', 'report', 'monitor', 'wait', 'stats', 'schema', 'forward']) {
      const help = await cli([command, '--help']);
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toMatch(/\nExamples:\n {2}eventd /);
      expect(help.stdout, command).toMatch(/Exit codes: 0 /);
    }
  });

  it('prints the help on stderr and exits 2 when run without a command', async () => {
    const bare = await cli([]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toMatch(/^Usage: eventd \[options\] \[command\]/);
    expect(bare.stderr).toContain('Exit codes of the client commands: 0 ok, 1 refused, 2 usage, 3 daemon not reachable, 4 timed out.');
  });

  /** `it` where this machine can run a command as nobody; elsewhere it says by name that it does not run. */
  const itAsNobody = (name: string, test: () => Promise<void>) => it.runIf(canRunAsNobody(`cli › ${name}`))(name, test);

  itAsNobody('says which socket and mode when permission is denied', async () => {
    // Any unprivileged user: the sockets are 0660 root:root, in a directory anyone may enter,
    // so it is the socket's own mode that makes the kernel refuse.
    chmodSync(daemon.dir, 0o755);
    const result = await runCli(['stats'], { env, asNobody: true });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(
      `eventd: permission denied on ${daemon.eventsSocket} (mode 0660, owner uid 0, group gid 0): join the socket's group or ask for --socket-group / --events-mode / --report-mode to be set\n`,
    );
    const report = await runCli(['report', 'state', 'pool=tank', 'id=1', 'state=running'], {
      env,
      asNobody: true,
    });
    expect(report).toMatchObject({
      code: 3,
      stderr: expect.stringMatching(/^eventd: permission denied on .*report\.sock \(mode 0660, owner uid 0, group gid 0\)/),
    });
  });

  itAsNobody(
    "a non-root client finds its own daemon, else names every place it looked (never the calling service's RUNTIME_DIRECTORY)",
    async () => {
      const home = join(daemon.dir, 'home');
      chmodSync(daemon.dir, 0o755);
      mkdirSync(home);
      chownSync(home, 65534, 65534);
      const userEnv = {
        HOME: home,
        XDG_RUNTIME_DIR: '',
        RUNTIME_DIRECTORY: '/srv/some-service',
        EVENTD_REPORT_SOCKET: '',
        EVENTD_EVENTS_SOCKET: '',
      };
      const missing = await runCli(['stats'], { env: userEnv, asNobody: true });
      expect(missing).toMatchObject({
        code: 3,
        stderr: `eventd: the daemon is not running: there is no socket at ${home}/.eventd/events.sock or /run/eventd/events.sock (start it with \`eventd serve\`, or point to the right socket)\n`,
      });
      const [command, ...args] = [...NOBODY, process.execPath, readableEventdBin(), 'serve', '--no-journal'];
      // The daemon itself takes $RUNTIME_DIRECTORY (systemd's, for eventd's own service): not here.
      const own = spawn(command!, args, { env: { ...process.env, ...userEnv, RUNTIME_DIRECTORY: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise((resolve) => own.once('exit', resolve));
      try {
        let out = '';
        own.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
        await expect.poll(() => out.includes('eventd ready'), { timeout: 10_000 }).toBe(true);
        const reported = await runCli(['report', 'state', 'pool=tank', 'id=1', 'state=running'], { env: userEnv, asNobody: true });
        expect(reported).toEqual({ code: 0, stdout: '1\n', stderr: '' });
      } finally {
        own.kill('SIGTERM');
        await exited;
      }
    },
  );
});

describe('eventd monitor, wait, stats', () => {
  it('monitor prints one readable line per event, filtered, and raw JSON with --json', async () => {
    const human = startCli(['monitor', '--type', 'state', '--type', 'ct_netif', '--filter', 'id=101', '--filter', 'id=102'], env);
    const json = startCli(['monitor', '--json', '--filter', 'init_pid=7'], env);
    // Probes their filters take, until each prints: from then on they are live.
    await untilLive(human, () => cli(['report', 'state', 'pool=tank', 'id=101', 'state=frozen']));
    await untilLive(json, () => cli(['report', 'ct_init_pid', 'pool=tank', 'id=probe', 'init_pid=7']));
    const probes = human.lines().length;
    const jsonProbes = json.lines().length;
    await cli(['report', 'state', 'pool=tank', 'id=101', 'state=running']);
    await cli(['report', 'state', 'pool=tank', 'id=103', 'state=running']);
    await cli(['report', 'ct_netif', 'pool=tank', 'id=102', 'action=rename', 'name=eth0', 'veth=v102', 'new_name=eth1']);
    await cli(['report', 'ct_init_pid', 'pool=tank', 'id=9', 'init_pid=7']);
    await expect.poll(() => human.lines().length).toBe(probes + 2);
    expect(human.lines().slice(probes)).toEqual([
      expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} \d+ state tank:101 running$/),
      expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} \d+ ct_netif tank:102 eth0 \(v102\) rename -> eth1$/),
    ]);
    await expect.poll(() => json.lines().length).toBe(jsonProbes + 1);
    expect(JSON.parse(json.lines()[jsonProbes]!)).toMatchObject({ type: 'ct_init_pid', opts: { id: '9', init_pid: 7 } });
    human.child.kill();
    json.child.kill();
  });

  it('monitor --since replays history first', async () => {
    const [seq] = await daemon.report({ type: 'ct_exit', opts: { pool: 'tank', id: 'since', exit_type: 'reboot' } });
    const monitor = startCli(['monitor', '--json', '--since', String(seq! - 1)], env);
    await expect.poll(() => monitor.lines().length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(monitor.lines()[0]!)).toMatchObject({ seq, opts: { id: 'since' } });
    monitor.child.kill();
  });

  it('monitor --since takes a time or a duration ago, and names the flag when it cannot read it', async () => {
    await new Promise((resolve) => setTimeout(resolve, 20)); // a millisecond of the clock apart from earlier events
    const from = new Date().toISOString();
    const [seq] = await daemon.report({ type: 'ct_exit', opts: { pool: 'tank', id: 'recent', exit_type: 'halt' } });
    for (const since of [from, '1h']) {
      const monitor = startCli(['monitor', '--json', '--type', 'ct_exit', '--since', since], env);
      await expect.poll(() => monitor.lines().length).toBeGreaterThanOrEqual(1);
      const first = JSON.parse(monitor.lines()[0]!) as { seq: number; time: string };
      if (since === from) expect(first).toMatchObject({ seq, opts: { id: 'recent' } });
      else expect(first.seq).toBeLessThanOrEqual(seq!);
      monitor.child.kill();
    }
    expect(await cli(['monitor', '--since', 'yesterday'])).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'eventd: --since takes a seq (e.g. 0), a time (e.g. 2026-11-24T22:00) or a duration ago (e.g. 10m, 2h, 1d), got "yesterday"\n',
    });
  });

  it('wait exits 0 with the first matching event, and 4 on timeout', async () => {
    const wait = startCli(['wait', 'state', 'id=w1', 'state=running', '--json', '--timeout', '20'], env);
    // wait prints nothing until its event: report a non-matching then the matching one until it exits.
    await untilLive(wait, async () => {
      await cli(['report', 'state', 'pool=tank', 'id=w1', 'state=stopped']);
      await cli(['report', 'state', 'pool=tank', 'id=w1', 'state=running']);
    });
    expect(await wait.exited).toBe(0);
    expect(JSON.parse(wait.stdout)).toMatchObject({ type: 'state', opts: { id: 'w1', state: 'running' } });

    const timeout = await cli(['wait', 'ct_exit', 'id=never', '--timeout', '1']);
    expect(timeout).toMatchObject({ code: 4, stderr: 'eventd: no matching ct_exit event within 1 s\n' });
  });

  it('refuses filters that can never match, naming the field or value; wait --since sees what already happened', async () => {
    const states = '"stopped", "starting", "running", "stopping", "aborting", "freezing", "frozen", "thawed", "error"';
    expect(await cli(['wait', 'state', 'pool=tank', 'state=runing', '--timeout', '1'])).toEqual({
      code: 2,
      stdout: '',
      stderr: `eventd: state must be one of ${states} (got "runing")\n`,
    });
    expect(await cli(['wait', 'state', 'colour=red'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'eventd: colour is not a field of state (fields: id, pool, state; see `eventd schema`)\n',
    });
    expect(await cli(['monitor', '--type', 'db', '--filter', 'object=volume'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'eventd: object must be one of "pool", "user", "group", "container", "idrange", "repository" (got "volume")\n',
    });
    const [seq] = await daemon.report({ type: 'state', opts: { pool: 'tank', id: 'already', state: 'running' } });
    const seen = await cli(['wait', 'state', 'id=already', 'state=running', '--since', String(seq! - 1), '--json', '--timeout', '5']);
    expect(seen.code).toBe(0);
    expect(JSON.parse(seen.stdout)).toMatchObject({ seq, opts: { id: 'already' } });
  });

  it('stats prints a table or JSON', async () => {
    const table = await cli(['stats']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^pid\s+\d+$/m);
    expect(table.stdout).toMatch(/^events published\s+\d+ since start, last seq \d+$/m);
    expect(table.stdout).toMatch(/^worker 1\s+\d+ subscribers?, \d+ producers?, 0 restarts$/m);
    const json = await cli(['stats', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ pid: daemon.pid, workers: expect.any(Array) });
  });
});
