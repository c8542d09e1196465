// Connecting to the daemon's sockets, with errors that say what is wrong and where.
import { statSync } from 'node:fs';
import net from 'node:net';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { EventdError } from '../errors.js';

/**
 * Where a client looks for a daemon, in order: the user's own (where `eventd serve` puts its
 * sockets for this user), then the system's (/run/eventd). Not $RUNTIME_DIRECTORY: systemd sets
 * it for the service the client runs in, which is not eventd's directory.
 */
export function socketDirectories(env: NodeJS.ProcessEnv = process.env): string[] {
  if (process.getuid?.() === 0) return ['/run/eventd'];
  const own = env.XDG_RUNTIME_DIR ? [join(env.XDG_RUNTIME_DIR, 'eventd')] : [];
  return [...own, join(homedir(), '.eventd'), '/run/eventd'];
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/** The first of the directories that has the socket; the first one when none has. */
function findSocket(file: string, env: NodeJS.ProcessEnv): string {
  const candidates = socketDirectories(env).map((dir) => join(dir, file));
  return candidates.find(isSocket) ?? candidates[0]!;
}

/** The socket paths a client uses: $EVENTD_REPORT_SOCKET / $EVENTD_EVENTS_SOCKET, else where a daemon is. */
export function defaultSocketPaths(env: NodeJS.ProcessEnv = process.env): { reportSocket: string; eventsSocket: string } {
  return {
    reportSocket: env.EVENTD_REPORT_SOCKET || findSocket('report.sock', env),
    eventsSocket: env.EVENTD_EVENTS_SOCKET || findSocket('events.sock', env),
  };
}

/** Every place a client looked for this socket, when it was looking (not told where). */
function placesTried(path: string): string[] {
  const candidates = socketDirectories().map((dir) => join(dir, basename(path)));
  return candidates.includes(path) ? candidates : [path];
}

/** The daemon's socket could not be reached (code EVENTD_UNREACHABLE); the message says why and what to do. */
export class ConnectError extends EventdError {
  constructor(
    message: string,
    /** The socket's path, and the system's reason (ENOENT, ECONNREFUSED, EACCES…). */
    readonly path: string,
    readonly reason: string | undefined,
    options?: ErrorOptions,
  ) {
    super('EVENTD_UNREACHABLE', message, options);
    this.name = 'ConnectError';
  }
}

function explain(error: NodeJS.ErrnoException, path: string): string {
  switch (error.code) {
    case 'ENOENT': {
      const places = placesTried(path);
      const where = places.length === 1 ? path : `${places.slice(0, -1).join(', ')} or ${places.at(-1)}`;
      return `the daemon is not running: there is no socket at ${where} (start it with \`eventd serve\`, or point to the right socket)`;
    }
    case 'ECONNREFUSED':
      return `the daemon is not running: ${path} exists but nothing listens on it`;
    case 'EACCES': {
      let detail = '';
      try {
        const st = statSync(path);
        detail = ` (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, owner uid ${st.uid}, group gid ${st.gid})`;
      } catch {
        // The directory itself may be closed to us: the plain message says enough.
      }
      const fix = "join the socket's group or ask for --socket-group / --events-mode / --report-mode to be set";
      return `permission denied on ${path}${detail}: ${fix}`;
    }
    default:
      return `cannot connect to ${path}: ${error.message}`;
  }
}

export function connect(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (error: NodeJS.ErrnoException) => reject(new ConnectError(explain(error, path), path, error.code, { cause: error }));
    socket.once('error', onError);
  });
}
