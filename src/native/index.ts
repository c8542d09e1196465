// Typed access to the small C helper in native/ (built by node-gyp during `npm ci`).
import { createRequire } from 'node:module';
import { getSystemErrorName } from 'node:util';

interface NativeBinding {
  dupCloexec(fd: number): number;
  peerCred(fd: number): PeerCred;
  lockExclusive(fd: number): boolean;
  nameThread(name: string): void;
  sendEach(data: Uint8Array, fds: Int32Array, count: number, sent: Int32Array): void;
}

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

function load(): NativeBinding {
  const require = createRequire(import.meta.url);
  try {
    // Same relative path from src/native/ (tsx, tests) and dist/native/ (production).
    return require('../../build/Release/eventd_native.node') as NativeBinding;
  } catch (error) {
    throw new Error(
      `eventd's native helper is not built (${(error as Error).message.split('\n')[0]}); ` +
        'run `npm ci` or `npm run install` in the package directory',
    );
  }
}

let loaded: NativeBinding | undefined;

/**
 * Loads the helper, or throws one sentence saying how to build it. Only the daemon needs it: the
 * client commands never load it, and the daemon loads it before it opens anything (Daemon.start).
 */
export function loadNative(): NativeBinding {
  loaded ??= load();
  return loaded;
}

function withCode<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    if (typeof err.errno === 'number') err.code = getSystemErrorName(-err.errno);
    throw err;
  }
}

/** A close-on-exec duplicate of `fd`, owned by the caller. */
export function dupCloexec(fd: number): number {
  return withCode(() => loadNative().dupCloexec(fd));
}

/** The pid, uid and gid of the process at the other end of a Unix socket. */
export function peerCred(fd: number): PeerCred {
  return withCode(() => loadNative().peerCred(fd));
}

/** flock(LOCK_EX | LOCK_NB) on `fd`: true if this process now holds it, false if another does. */
export function lockExclusive(fd: number): boolean {
  return withCode(() => loadNative().lockExclusive(fd));
}

/**
 * Names the calling thread (15 bytes at most), as `top -H` and /proc/PID/task/TID/comm show it.
 * Only a convenience: a helper too old to have it, or a refusal, leaves the name as it was.
 */
export function nameThread(name: string): void {
  try {
    loadNative().nameThread(name);
  } catch {
    // Not worth failing for.
  }
}

/**
 * Sends `data` to each of the first `count` sockets in `fds` as far as each takes it without
 * blocking: `sent[i]` is the bytes it took (all, some, or none when full), or -errno if it failed
 * before taking any. No SIGPIPE. Called once per record with every subscriber that can take it.
 */
export function sendEach(data: Uint8Array, fds: Int32Array, count: number, sent: Int32Array): void {
  (loaded ?? loadNative()).sendEach(data, fds, count, sent);
}

/** The file descriptor under a connected `net.Socket` (Node keeps it on the internal handle). */
export function socketFd(socket: import('node:net').Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('socket has no file descriptor');
  return fd;
}
