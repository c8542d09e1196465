// Asks a running daemon for its counters (`stats` on a connection of its own), as an object or
// as Prometheus text (`metrics`).
import { isDaemonShutdown } from '../protocol/event-types.js';
import type { DaemonStats } from '../protocol/stats.js';
import type { Socket } from 'node:net';
import { connect } from './connect.js';
import { JsonLineReader } from './lines.js';

/**
 * The daemon's answer to the command just sent. Events before it are passed over (a connection
 * that has not subscribed receives every event), except the daemon's own shutdown announcement.
 */
async function answer(reader: JsonLineReader, cmd: string): Promise<unknown> {
  for (;;) {
    const line = (await reader.next()) as
      { status?: boolean; response?: unknown; message?: string; type?: string; opts?: unknown } | undefined;
    if (line === undefined) throw new Error(`eventd closed the connection without answering ${cmd}`);
    if (isDaemonShutdown(line)) throw new Error('eventd is shutting down');
    if (line.status === true) return line.response;
    if (line.status === false) throw new Error(`eventd refused ${cmd}: ${line.message}`);
  }
}

async function ask(eventsSocket: string, cmd: 'stats' | 'metrics'): Promise<unknown> {
  const socket = await connect(eventsSocket);
  // Half-close: the daemon answers, then closes.
  socket.end(`${JSON.stringify({ cmd })}\n`);
  try {
    return await answer(new JsonLineReader(socket), cmd);
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
    try {
      await answer(connection.reader, 'event_subscribe');
    } catch (error) {
      socket.destroy();
      throw error;
    }
    return connection;
  }

  async stats(): Promise<DaemonStats> {
    this.socket.write('{"cmd":"stats"}\n');
    return (await answer(this.reader, 'stats')) as DaemonStats;
  }

  close(): void {
    this.socket.destroy();
  }
}
