// The listening sockets: adopted from systemd (LISTEN_FDS) or created on their paths with
// care: only in a directory no other user can write to, never following a symlink, never
// deleting anything that is not a stale socket, and never changing a file through a path that
// someone else could have swapped.
import { readFileSync, readlinkSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, realpath, rename, rmdir, stat, unlink } from 'node:fs/promises';
import net from 'node:net';
import { dirname, join } from 'node:path';

export type SocketName = 'report' | 'events' | 'osctld';

export interface SocketSpec {
  name: SocketName;
  path: string;
  mode: number;
  /** gid to give the socket file, from resolveGroup(). */
  gid: number | undefined;
}

export interface BoundSocket {
  name: SocketName;
  server: net.Server;
  /** The path we created, or undefined for a socket systemd handed over (systemd owns that file). */
  createdPath: string | undefined;
  createdIno: number | undefined;
  /** Where clients connect: the path created, or the path of the socket systemd passed (when it has one). */
  path: string | undefined;
}

/** The fds systemd passed by name (LISTEN_FDNAMES), or null without socket activation. */
export function systemdSockets(env: NodeJS.ProcessEnv = process.env, pid = process.pid): Map<string, number> | null {
  const count = Number(env.LISTEN_FDS);
  if (!env.LISTEN_FDS || !Number.isInteger(count) || count < 1) return null;
  if (env.LISTEN_PID && Number(env.LISTEN_PID) !== pid) return null;
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  const fds = new Map<string, number>();
  for (let i = 0; i < count; i++) fds.set(names[i] || `fd${3 + i}`, 3 + i);
  // Not for our children.
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  return fds;
}

/**
 * The path a listening Unix socket is bound to, found by its inode in /proc/net/unix (Node has no
 * getsockname for a socket it did not bind): for the hints in the ready line under socket
 * activation. Undefined where /proc does not tell (an abstract or unnamed socket).
 */
export function socketPathOfFd(fd: number): string | undefined {
  try {
    const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
    if (inode === undefined) return undefined;
    for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[6] === inode && fields[7]?.startsWith('/')) return fields.slice(7).join(' ');
    }
  } catch {
    // No /proc: no hint.
  }
  return undefined;
}

export async function bindSocket(server: net.Server, spec: SocketSpec, activatedFd: number | undefined): Promise<BoundSocket> {
  if (activatedFd !== undefined) {
    await listen(server, { fd: activatedFd });
    return { name: spec.name, server, createdPath: undefined, createdIno: undefined, path: socketPathOfFd(activatedFd) };
  }
  await prepareSocketPath(spec.path);
  // Bound, given its mode and group inside a directory of our own (0700: nobody can swap what
  // we chmod there), then renamed into place: the socket never appears at its path less
  // protected than asked, and no chmod or chown goes through a path another user controls.
  const privateDir = await mkdtemp(join(dirname(spec.path), '.eventd-'));
  const bindPath = join(privateDir, 's');
  try {
    const umask = process.umask(0o777 & ~spec.mode);
    try {
      await listen(server, { path: bindPath });
    } finally {
      process.umask(umask);
    }
    await chmod(bindPath, spec.mode);
    if (spec.gid !== undefined) await chown(bindPath, -1, spec.gid);
    await rename(bindPath, spec.path);
  } catch (error) {
    server.close();
    await unlink(bindPath).catch(() => {});
    throw error;
  } finally {
    await rmdir(privateDir).catch(() => {});
  }
  const { ino } = await lstat(spec.path);
  return { name: spec.name, server, createdPath: spec.path, createdIno: ino, path: spec.path };
}

/** Removes a socket file we created, unless something else has taken its place since. */
export async function removeSocketFile(bound: BoundSocket): Promise<void> {
  if (bound.createdPath === undefined) return;
  try {
    const st = await lstat(bound.createdPath);
    if (st.isSocket() && st.ino === bound.createdIno) await unlink(bound.createdPath);
  } catch {
    // Already gone.
  }
}

function listen(server: net.Server, options: net.ListenOptions | { fd: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options as net.ListenOptions, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function prepareSocketPath(path: string): Promise<void> {
  await ensureDirectory(dirname(path));
  let st;
  try {
    st = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!st.isSocket()) {
    throw new Error(`${path} exists and is not a socket; refusing to replace it (remove it yourself if it is not needed)`);
  }
  if (await isListening(path)) throw new Error(`${path} is in use by another process; is eventd already running?`);
  // A socket nobody listens on is left over from a daemon that was killed.
  await unlink(path);
}

/**
 * Creates the socket directory if needed and refuses one another user could tamper with: it must
 * be owned by us or root and writable by nobody else, and so must every directory above it
 * (unless sticky, like /tmp: there others cannot rename what is ours).
 */
async function ensureDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const real = await realpath(dir);
  const st = await stat(real);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  const problem = unsafeDirectory(st, false);
  if (problem) throw new Error(`${dir} ${problem}: another user could replace eventd's sockets there; use a directory of your own`);
  for (let parent = dirname(real); ; parent = dirname(parent)) {
    const above = unsafeDirectory(await stat(parent), true);
    if (above) throw new Error(`${parent}, above ${dir}, ${above}: another user could replace the socket directory; use another one`);
    if (parent === dirname(parent)) break;
  }
}

const myUid = process.getuid?.() ?? 0;

function unsafeDirectory(st: { uid: number; mode: number }, stickyAllowed: boolean): string | undefined {
  if (st.uid !== myUid && st.uid !== 0) return `is owned by uid ${st.uid}, not by eventd's user (uid ${myUid}) or root`;
  const othersWrite = (st.mode & 0o022) !== 0;
  if (othersWrite && !(stickyAllowed && (st.mode & 0o1000) !== 0)) {
    return `is writable by ${(st.mode & 0o002) !== 0 ? 'everyone' : 'its group'} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  }
  return undefined;
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') resolve(false);
      else reject(new Error(`cannot check whether ${path} is in use: ${error.message}`));
    });
  });
}

/** A gid from a number or a group name (Node has no getgrnam). */
export function resolveGroup(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined) return Number(gid);
  }
  throw new Error(`unknown group ${JSON.stringify(group)} (not in /etc/group)`);
}
