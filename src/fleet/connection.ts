// The NATS connection of the fleet commands.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { EventdError } from '../errors.js';

/**
 * A connection that, once made, reconnects for ever (NATS restarts and fails over); the first
 * attempt fails within 5 s with a readable error instead. Without async traces: the client
 * otherwise builds two errors with stack traces for every request up front, which was a third
 * of the forwarder's CPU (errors here are reported by their message).
 */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  try {
    return await connect({
      servers: url.split(','),
      name,
      timeout: 5000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      noAsyncTraces: true,
    });
  } catch (error) {
    throw new EventdError('EVENTD_NATS_UNREACHABLE', `cannot reach NATS at ${url}: ${(error as Error).message}`, { cause: error });
  }
}

/** Tells when the connection to NATS is lost and when the client has it back (it reconnects by itself). */
export function watchConnection(nc: NatsConnection, on: { lost(): void; back(): void }): void {
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') on.lost();
      else if (status.type === 'reconnect') on.back();
    }
  })();
}
