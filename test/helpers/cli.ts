// Runs the real `eventd` binary as a child process.
import { spawn, type SpawnOptions } from 'node:child_process';
import { EVENTD_BIN } from './daemon.js';
import { NOBODY } from './nobody.js';
import { readableEventdBin } from './readable-runtime.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `eventd args`; `asNobody` runs it as uid 65534, from a copy that user can read. */
export function runCli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; asNobody?: boolean } = {}): Promise<CliResult> {
  const argv = options.asNobody ? [...NOBODY, process.execPath, readableEventdBin(), ...args] : [process.execPath, EVENTD_BIN, ...args];
  const spawnOptions: SpawnOptions = { env: { ...process.env, TZ: 'UTC', ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] };
  const child = spawn(argv[0]!, argv.slice(1), spawnOptions);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin!.end(options.input ?? '');
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** A long-running command (monitor, wait) whose output can be awaited line by line. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [EVENTD_BIN, ...args], {
    env: { ...process.env, TZ: 'UTC', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    child,
    exited,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    lines: () => stdout.split('\n').filter((line) => line !== ''),
  };
}

/**
 * Probe-until-seen: a command that subscribes (monitor, wait) prints nothing to say it is live,
 * so repeat a report its filter takes until it prints (or exits); returns how many lines it printed.
 */
export async function untilLive(command: ReturnType<typeof startCli>, probe: () => Promise<unknown>, timeoutMs = 15_000): Promise<number> {
  let exited = false;
  void command.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (command.lines().length === 0 && !exited) {
    if (Date.now() > deadline) throw new Error(`no output within ${timeoutMs} ms; stderr: ${command.stderr}`);
    await probe();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return command.lines().length;
}
