// The daemon's listening sockets: report, events, and osctld's when asked for or passed by
// systemd; each made here or taken from systemd (listeners.ts). Each connection goes to the
// Acceptor, or, past --max-connections, is turned away with one error line.
import net from 'node:net';
import type { Logger } from '../log.js';
import { READ_AHEAD_BYTES } from '../protocol/framing.js';
import { errorLine } from '../protocol/wire.js';
import type { DaemonConfig } from './config.js';
import { bindSocket, resolveGroup, systemdSockets, type BoundSocket, type SocketName, type SocketSpec } from './listeners.js';

export interface Acceptor {
  /** Whether the socket named has all the connections it takes. */
  full(name: SocketName): boolean;
  producer(socket: net.Socket): void;
  subscriber(socket: net.Socket, dialect: 'native' | 'osctld'): void;
  /** A connection was turned away (to count and log). */
  refused(name: SocketName): void;
}

/** The sockets systemd passed (null when none), once their names are known to be ours. */
export function passedSockets(): Map<string, number> | null {
  const activated = systemdSockets();
  if (activated && !activated.has('report') && !activated.has('events')) {
    const names = [...activated.keys()].join(', ');
    throw new Error(`systemd passed sockets named ${names}; expected "report" and "events" (FileDescriptorName=)`);
  }
  return activated;
}

/** Binds (or takes from systemd) every socket the configuration asks for, in order: report, events, osctld. */
export async function openServers(
  config: DaemonConfig,
  activated: Map<string, number> | null,
  acceptor: Acceptor,
  log: Logger,
): Promise<BoundSocket[]> {
  const gid = config.socketGroup === undefined ? undefined : resolveGroup(config.socketGroup);
  const specs: SocketSpec[] = [
    { name: 'report', path: config.reportSocket, mode: config.reportMode, gid },
    { name: 'events', path: config.eventsSocket, mode: config.eventsMode, gid },
  ];
  // Off by default: on when asked for, or when systemd passes a socket named "osctld".
  const osctldPath = config.osctldSocket ?? (activated?.has('osctld') ? '' : undefined);
  if (osctldPath !== undefined) specs.push({ name: 'osctld', path: osctldPath, mode: config.osctldMode, gid });
  const bound: BoundSocket[] = [];
  for (const spec of specs) {
    const { name } = spec;
    const accept = (socket: net.Socket): void => {
      if (acceptor.full(name)) {
        acceptor.refused(name);
        turnAway(socket, name, config.maxConnections);
      } else if (name === 'report') acceptor.producer(socket);
      else acceptor.subscriber(socket, name === 'osctld' ? 'osctld' : 'native');
    };
    const server =
      name === 'report'
        ? // Paused: a producer handed to a worker must not be read here first. Half-open: a
          // producer that ends its side still gets its replies (see READ_AHEAD_BYTES too).
          net.createServer({ pauseOnConnect: true, allowHalfOpen: true, highWaterMark: READ_AHEAD_BYTES }, accept)
        : net.createServer({ pauseOnConnect: true }, accept);
    bound.push(await bindSocket(server, spec, activated?.get(name)));
    // Accept errors (EMFILE, ENFILE) must not take the daemon down; libuv keeps listening.
    server.on('error', (error) => log.error({ socket: name, err: error }, 'accept failed'));
  }
  return bound;
}

/** One error line, then the connection is closed: the socket already has all it takes. */
function turnAway(socket: net.Socket, name: SocketName, max: number): void {
  socket.on('error', () => {});
  socket.end(errorLine(`eventd has ${max} connections on its ${name} socket, the most it takes (--max-connections); try again later`), () =>
    socket.destroy(),
  );
}
