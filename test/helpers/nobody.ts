// Runs a small script as the unprivileged user 65534 ("nobody"), as an attacker on the same host
// would: the script (Node's own modules only) is written to a world-readable directory of its own,
// so it runs wherever the checkout lies and whatever its permissions.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

/** Whether this machine can run a process as uid 65534 (root with setpriv); the tests that need it say so by name. */
export function canRunAsNobody(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync(NOBODY[0]!, [...NOBODY.slice(1), 'true']).status === 0;
}

export interface NobodyProcess {
  proc: ChildProcess;
  /** stdout so far. */
  readonly output: string;
  /** Resolves once stdout has a line matching. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `source` (an ES module) as nobody with `args`; stop() kills it and removes the script. */
export function runAsNobody(source: string, args: string[] = []): NobodyProcess {
  const dir = mkdtempSync(join(tmpdir(), 'eventd-nobody-'));
  chmodSync(dir, 0o755);
  const script = join(dir, 'script.mjs');
  writeFileSync(script, source, { mode: 0o644 });
  const proc = spawn(NOBODY[0]!, [...NOBODY.slice(1), process.execPath, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let errors = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
  const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  return {
    proc,
    get output() {
      return output;
    },
    async waitFor(pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (proc.exitCode !== null) await exited; // its last output is read by then
        if (pattern.test(output)) return;
        if (proc.exitCode !== null) throw new Error(`the script as nobody exited (${proc.exitCode}): ${errors}`);
        if (Date.now() > deadline) throw new Error(`the script as nobody printed no ${pattern} within ${timeoutMs} ms: ${output}${errors}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
