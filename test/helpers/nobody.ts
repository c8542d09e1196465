// Runs a small script as the unprivileged user 65534 ("nobody"), as an attacker on the same host
// would: the script (Node's own modules only) is written to a world-readable directory of its own,
// so it runs wherever the checkout lies and whatever its permissions.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

let able: boolean | undefined;

/** Whether this process may give a file to uid 65534 (root may); where not, `named` says which test does not run. */
export function canChownToNobody(named: string): boolean {
  const root = process.getuid?.() === 0;
  if (!root) console.warn(`not run here (it needs root, to give a file to uid 65534): ${named}`);
  return root;
}

/**
 * Whether this machine can run node as uid 65534 (root, setpriv, a node binary anyone may run).
 * Where it cannot, `named` says which test does not run here, by name, on stderr.
 */
export function canRunAsNobody(named?: string): boolean {
  able ??= process.getuid?.() === 0 && spawnSync(NOBODY[0]!, [...NOBODY.slice(1), process.execPath, '-e', '']).status === 0;
  if (!able && named !== undefined) console.warn(`not run here (it needs root, setpriv and a node that uid 65534 may run): ${named}`);
  return able;
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
