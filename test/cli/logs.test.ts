// The daemon's own output: readable lines on a terminal, JSON lines otherwise (journald).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultWorkers } from '../../src/daemon/config.js';
import { prettyLine } from '../../src/log.js';
import { EVENTD_BIN } from '../helpers/daemon.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * `eventd serve` for about a second, stopped with SIGINT; stdout a pseudo-terminal (script(1)) or a
 * pipe. --foreground: without it timeout(1) signals its whole process group as well as the daemon,
 * and a loaded machine delivers the two apart (the daemon then rightly logs "already stopping").
 */
function serveBriefly(terminal: boolean, env: NodeJS.ProcessEnv = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'eventd-logs-'));
  dirs.push(dir);
  const serve = `timeout --foreground -s INT 1.5 ${process.execPath} ${EVENTD_BIN} serve --no-journal --report-socket ${dir}/r.sock --events-socket ${dir}/e.sock`;
  const run = terminal
    ? spawnSync('script', ['-qfec', serve, '/dev/null'], { encoding: 'utf8', env: { ...process.env, ...env } })
    : spawnSync('sh', ['-c', serve], { encoding: 'utf8', env: { ...process.env, ...env } });
  return run.stdout.replace(/\r\n/g, '\n');
}

describe('daemon logs', () => {
  it('are readable lines on a terminal, with the commands to paste on lines of their own', () => {
    const out = serveBriefly(true, { EVENTD_LOG_FORMAT: '' });
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      new RegExp(
        String.raw`^\d\d:\d\d:\d\d\.\d{3} INFO {2}eventd ready {2}report_socket=\S+/r\.sock events_socket=\S+/e\.sock ` +
          String.raw`socket_activated=false workers=${defaultWorkers()} ingest_threads=\d+$`,
      ),
    );
    expect(lines[1]).toMatch(/^ {4}subscribe: socat -u UNIX-CONNECT:\S+\/e\.sock STDOUT$/);
    expect(lines[2]).toMatch(/^ {4}report: echo '\{"type":"state",.*"ack":1\}' \| socat - UNIX-CONNECT:\S+\/r\.sock$/);
    expect(lines.slice(3)).toEqual([
      expect.stringMatching(/^\S+ INFO {2}shutting down {2}signal=SIGINT$/),
      expect.stringMatching(/^\S+ INFO {2}stopped$/),
    ]);
  });

  it('are JSON lines when stdout is not a terminal, or when EVENTD_LOG_FORMAT=json says so', () => {
    for (const out of [serveBriefly(false), serveBriefly(true, { EVENTD_LOG_FORMAT: 'json' })]) {
      const records = out
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(records.map((record) => record.msg)).toEqual(['eventd ready', 'shutting down', 'stopped']);
      expect(records[0]).toMatchObject({
        level: 30,
        socket_activated: false,
        workers: defaultWorkers(),
        ingest_threads: expect.any(Number),
      });
    }
  });

  it("show an error's message, and its stack at level error and above", () => {
    const record = {
      level: 50,
      time: Date.UTC(2026, 10, 29, 12, 0, 1, 7),
      pid: 1,
      name: 'eventd',
      worker: 1,
      err: { message: 'boom', stack: 'Error: boom\n    at f (x.js:1:1)' },
      msg: 'worker thread failed',
    };
    const line = prettyLine(JSON.stringify(record));
    expect(line).toMatch(/^\d\d:\d\d:01\.007 ERROR worker thread failed {2}worker=1\n {4}err: boom\n {6}at f \(x\.js:1:1\)\n$/);
    expect(prettyLine(JSON.stringify({ ...record, level: 40 }))).toMatch(/WARN {2}worker thread failed {2}worker=1\n {4}err: boom\n$/);
  });
});
