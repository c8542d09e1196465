// Connecting to the daemon's sockets, with errors that say what is wrong and where.
import { statSync } from 'node:fs';
import net from 'node:net';
import { defaultConfig } from '../daemon/config.js';

/** The socket paths a client uses: the daemon's defaults, overridden like the daemon's. */
export function defaultSocketPaths(env: NodeJS.ProcessEnv = process.env): { reportSocket: string; eventsSocket: string } {
  const config = defaultConfig(env);
  return {
    reportSocket: env.EVENTD_REPORT_SOCKET || config.reportSocket,
    eventsSocket: env.EVENTD_EVENTS_SOCKET || config.eventsSocket,
  };
}

export class ConnectError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly path: string,
  ) {
    super(message);
    this.name = 'ConnectError';
  }
}

function explain(error: NodeJS.ErrnoException, path: string): string {
  switch (error.code) {
    case 'ENOENT':
      return `the daemon is not running: there is no socket at ${path} (start it with \`eventd serve\`, or point to the right socket)`;
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
      return `permission denied on ${path}${detail}: join the socket's group or ask for --socket-group / --events-mode / --report-mode to be set`;
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
    const onError = (error: NodeJS.ErrnoException) => reject(new ConnectError(explain(error, path), error.code, path));
    socket.once('error', onError);
  });
}
