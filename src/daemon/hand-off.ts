// Handing a connection to a worker thread. A connected socket cannot move between threads in
// Node, so the main thread dups its descriptor (close-on-exec) for the worker, which opens the copy
// as a net.Socket, and destroys its own.
import type { Socket } from 'node:net';
import { rateLimited, type Logger } from '../log.js';
import { dupCloexec, socketFd } from '../native/index.js';

/** Out of descriptors, this would come with every connection: once in 10 s is enough. */
const logErrorNow = rateLimited(10_000);

/** A duplicate of the connection's descriptor for a worker (the main thread's own copy is closed), or undefined if none could be made. */
export function handOff(socket: Socket, kind: string, log: Logger, handedOff: (fd: number) => void): number | undefined {
  let fd: number;
  try {
    fd = dupCloexec(socketFd(socket));
  } catch (error) {
    if (logErrorNow()) log.error({ err: error }, `cannot hand ${kind} connection to a worker`);
    socket.destroy();
    return undefined;
  }
  socket.destroy();
  handedOff(fd);
  return fd;
}
