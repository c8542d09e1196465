// The NATS connection of the fleet commands, and their errors.
import { connect, type NatsConnection } from '@nats-io/transport-node';

export class FleetError extends Error {
  constructor(
    message: string,
    readonly kind: 'nats-unreachable' | 'daemon-unreachable' | 'stream',
  ) {
    super(message);
    this.name = 'FleetError';
  }
}

/**
 * A connection that, once made, reconnects for ever (NATS restarts and fails over); the first
 * attempt fails within 5 s with a readable error instead.
 */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  try {
    return await connect({ servers: url.split(','), name, timeout: 5000, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
  } catch (error) {
    throw new FleetError(`cannot reach NATS at ${url}: ${(error as Error).message}`, 'nats-unreachable');
  }
}
