// Asks a running daemon for its counters (`stats` on a connection of its own), as an object or
// as Prometheus text (`metrics`).
import { isDaemonShutdown } from '../protocol/events.js';
import type { DaemonStats } from '../protocol/stats.js';
import type { Socket } from 'node:net';
import { connect } from './connect.js';
import { JsonLineReader } from './lines.js';

async function ask(eventsSocket: string, cmd: 'stats' | 'metrics'): Promise<unknown> {
  const socket = await connect(eventsSocket);
  const reader = new JsonLineReader(socket);
  // Half-close: the daemon answers, then closes.
  socket.end(`${JSON.stringify({ cmd })}\n`);
  try {
    for (;;) {
      const line = (await reader.next()) as { status?: boolean; response?: unknown; message?: string } | undefined;
      if (line === undefined) throw new Error('eventd closed the connection without answering');
      if (line.status === true) return line.response;
      if (line.status === false) throw new Error(`eventd refused ${cmd}: ${line.message}`);
    }
  } finally {
    socket.destroy();
  }
}

export async function fetchStats(eventsSocket: string): Promise<DaemonStats> {
  return (await ask(eventsSocket, 'stats')) as DaemonStats;
}

/** The daemon's metrics in Prometheus' text format (what --metrics-listen serves). */
export async function fetchMetrics(eventsSocket: string): Promise<string> {
  return (await ask(eventsSocket, 'metrics')) as string;
}

/**
 * One connection that asks for stats again and again (`eventd top`): polling on new connections
 * would itself show up as a subscriber connecting and leaving every second. It subscribes to
 * osctld_shutdown only, so no event stream comes with it, and the daemon's own shutdown is seen
 * (told apart from a producer's osctld_shutdown by its opts).
 */
export class StatsConnection {
  private constructor(
    private readonly socket: Socket,
    private readonly reader: JsonLineReader,
  ) {}

  static async open(eventsSocket: string): Promise<StatsConnection> {
    const socket = await connect(eventsSocket);
    const connection = new StatsConnection(socket, new JsonLineReader(socket));
    socket.write(`${JSON.stringify({ cmd: 'event_subscribe', opts: { type: 'osctld_shutdown' } })}\n`);
    await connection.reply();
    return connection;
  }

  async stats(): Promise<DaemonStats> {
    this.socket.write('{"cmd":"stats"}\n');
    return (await this.reply()) as DaemonStats;
  }

  close(): void {
    this.socket.destroy();
  }

  private async reply(): Promise<unknown> {
    for (;;) {
      const line = (await this.reader.next()) as
        { status?: boolean; response?: unknown; message?: string; type?: string; opts?: unknown } | undefined;
      if (line === undefined) throw new Error('eventd closed the connection');
      if (isDaemonShutdown(line)) throw new Error('eventd is shutting down');
      if (line.status === true) return line.response;
      if (line.status === false) throw new Error(`eventd refused: ${line.message}`);
    }
  }
}
