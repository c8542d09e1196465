// Where the journal lives, and the checks before anything is read or written there: a directory
// of the daemon's own (0700, owned by its user, not a symlink, in directories nobody else can
// write to), and a lock so that one daemon at a time uses it.
import {
  chmodSync,
  closeSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeSync,
  constants,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { lockExclusive } from '../native/index.js';

/**
 * The default journal directory: $STATE_DIRECTORY (systemd's StateDirectory=), else /var/lib/eventd
 * for root, else $XDG_STATE_HOME/eventd, else ~/.local/state/eventd.
 */
export function defaultJournalDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STATE_DIRECTORY) return env.STATE_DIRECTORY.split(':')[0]!;
  if (process.getuid?.() === 0) return '/var/lib/eventd';
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'eventd');
  return join(homedir(), '.local', 'state', 'eventd');
}

const myUid = process.getuid?.() ?? 0;

/**
 * Whether the default journal directory can be had (created if need be): a daemon run by a user
 * without a writable home, or on a read-only system, runs without a journal rather than not at all.
 */
export function canCreateDirectory(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EROFS' || code === 'ENOENT' || code === 'EPERM' || code === 'ENOTDIR') return false;
    throw error;
  }
}

/**
 * Creates the directory (0700, and any missing parent 0700) or checks the one there: not a
 * symlink, owned by the daemon's user, nobody else may write to it (its mode is tightened to 0700
 * when others may only read it), and every directory above it owned by that user or root and
 * writable by nobody else unless sticky.
 */
export function ensureJournalDirectory(dir: string): string {
  const path = resolve(dir);
  mkdirSync(path, { recursive: true, mode: 0o700 });
  const st = lstatSync(path);
  if (st.isSymbolicLink()) throw new Error(`the journal directory ${path} is a symlink; eventd follows none there (give the real path)`);
  if (!st.isDirectory()) throw new Error(`the journal directory ${path} is not a directory`);
  if (st.uid !== myUid) throw new Error(`the journal directory ${path} is owned by uid ${st.uid}, not by eventd's user (uid ${myUid})`);
  const mode = st.mode & 0o777;
  if ((mode & 0o022) !== 0) {
    throw new Error(
      `the journal directory ${path} is writable by ${(mode & 0o002) !== 0 ? 'everyone' : 'its group'} ` +
        `(mode ${mode.toString(8).padStart(4, '0')}): another user could have changed what is in it; check it, then chmod 700 it`,
    );
  }
  // Readable by others (systemd's StateDirectory= is 0755 unless StateDirectoryMode= says otherwise): events can carry secrets.
  if (mode !== 0o700) chmodSync(path, 0o700);
  for (let parent = dirname(path); ; parent = dirname(parent)) {
    const above = statSync(parent);
    const othersWrite = (above.mode & 0o022) !== 0 && (above.mode & 0o1000) === 0;
    if ((above.uid !== myUid && above.uid !== 0) || othersWrite) {
      throw new Error(
        `${parent}, above the journal directory ${path}, could be changed by another user ` +
          `(owner uid ${above.uid}, mode ${(above.mode & 0o7777).toString(8)})`,
      );
    }
    if (parent === dirname(parent)) break;
  }
  return path;
}

/**
 * Takes the journal's lock, or throws naming the directory and the daemon that holds it. The
 * lock is the kernel's (flock): it goes with its holder, however that holder ends.
 */
export function lockJournal(dir: string): number {
  const path = join(dir, 'lock');
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    if (fstatSync(fd).uid !== myUid) throw new Error(`${path} is owned by another user`);
    if (!lockExclusive(fd)) {
      const holder = readFileSync(path, 'utf8').trim();
      const pid = /^\d+$/.test(holder) ? Number(holder) : undefined;
      const what = pid === undefined ? 'another process' : `pid ${pid}${describeProcess(pid)}`;
      throw new Error(
        `the journal ${dir} is in use by ${what}: one daemon per journal (stop it, or give this one --journal DIR or --no-journal)`,
      );
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function describeProcess(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return argv.length > 0 ? ` (${argv.slice(0, 4).join(' ')})` : '';
  } catch {
    return '';
  }
}
