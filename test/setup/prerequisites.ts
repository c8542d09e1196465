// Vitest's globalSetup: before any test runs, every system tool the suite uses must be here
// (test/prerequisites.txt). A missing one stops the run at once, naming all of them and the
// install line, instead of failing tests later by ENOENT or a timeout.
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface Prerequisite {
  tool: string;
  debianPackage: string;
}

export function prerequisites(): Prerequisite[] {
  const list = readFileSync(new URL('../prerequisites.txt', import.meta.url), 'utf8');
  return list
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [tool, debianPackage] = line.split(/\s+/);
      return { tool: tool!, debianPackage: debianPackage! };
    });
}

/**
 * PATH with the system directories after it: Debian installs nats-server in /usr/sbin, which is
 * not on an unprivileged user's PATH (the tests spawn it by name).
 */
export function withSystemDirs(path = ''): string {
  const dirs = path.split(delimiter).filter(Boolean);
  return [...dirs, ...['/usr/sbin', '/sbin'].filter((dir) => !dirs.includes(dir))].join(delimiter);
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The sentence that stops the run, or undefined when every tool is here. */
export function missingToolsMessage(isHere: (tool: string) => boolean = onPath): string | undefined {
  const missing = prerequisites().filter(({ tool }) => !isHere(tool));
  if (missing.length === 0) return undefined;
  const packages = [...new Set(missing.map(({ debianPackage }) => debianPackage))].sort();
  return (
    `The tests need system tools this machine lacks: ${missing.map(({ tool }) => tool).join(', ')}.\n` +
    `Install them with \`bash .ci/install-tools\` (the README's test command does), or as root:\n` +
    `  apt-get update && apt-get install -y ${packages.join(' ')}`
  );
}

export default function setup(): void {
  // Set here, before the test workers start: they inherit it.
  process.env.PATH = withSystemDirs(process.env.PATH);
  const message = missingToolsMessage();
  if (message !== undefined) throw new Error(message);
}
