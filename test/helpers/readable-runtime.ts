// What an unprivileged user runs of eventd: a copy of the built runtime (bin/, dist/, the native
// helper, the production node_modules) in a world-readable directory, so the tests that switch
// user work wherever the checkout lies, a 0700 home or mktemp directory included.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
let copied: string | undefined;

/** Makes everything under `path` readable (and directories enterable) by anyone. */
function openToAll(path: string): void {
  const mode = statSync(path).mode;
  if (statSync(path).isDirectory()) {
    chmodSync(path, 0o755);
    for (const name of readdirSync(path)) openToAll(join(path, name));
  } else chmodSync(path, mode & 0o111 ? 0o755 : 0o644);
}

/** The path of bin/eventd.js in a copy any user can run; made once per test process, removed at its exit. */
export function readableEventdBin(): string {
  if (copied === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'eventd-runtime-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const production = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((path) => path !== '' && path !== root.replace(/\/$/, ''));
    for (const part of [
      'package.json',
      'bin',
      'dist',
      join('build', 'Release', 'eventd_native.node'),
      ...production.map((path) => relative(root, path)),
    ]) {
      cpSync(join(root, part), join(dir, part), { recursive: true });
    }
    openToAll(dir);
    copied = dir;
  }
  return join(copied, 'bin', 'eventd.js');
}
