// Asks a running daemon for its counters (`stats` on a connection of its own), as an object or
// as Prometheus text (`metrics`).
import { isDaemonShutdown } from '../protocol/event-types.js';
import type { DaemonStats } from '../protocol/stats.js';
import type { Socket } from 'node:net';
import { connect } from './connect.js';
import { EventdError } from '../errors.js';
import { JsonLineReader, REPLY_TIMEOUT_MS, withReplyTimeout } from './lines.js';

/**
 * The daemon's answer to the command just sent. Events before it are passed over (a connection
 * that has not subscribed receives every event), except the daemon's own shutdown announcement.
 */
async function answer(reader: JsonLineReader, cmd: string): Promise<unknown> {
  for (;;) {
    const line = (await reader.next()) as
      { status?: boolean; response?: unknown; message?: string; type?: string; opts?: unknown } | undefined;
    if (line === undefined) throw new EventdError('EVENTD_UNREACHABLE', `eventd closed the connection without answering ${cmd}`);
    if (typeof line !== 'object' || line === null)
      throw new EventdError('EVENTD_PROTOCOL', `eventd sent ${JSON.stringify(line)} instead of answering ${cmd}`);
    if (isDaemonShutdown(line)) throw new EventdError('EVENTD_UNREACHABLE', 'eventd is shutting down');
    if (line.status === true) return line.response;
    if (line.status === false) throw new EventdError('EVENTD_REFUSED', `eventd refused ${cmd}: ${line.message}`);
  }
}

async function ask(eventsSocket: string, cmd: 'stats' | 'metrics', timeoutMs: number): Promise<unknown> {
  const socket = await connect(eventsSocket);
  // Half-close: the daemon answers, then closes.
  socket.end(`${JSON.stringify({ cmd })}\n`);
  try {
    return await withReplyTimeout(answer(new JsonLineReader(socket), cmd), timeoutMs, cmd, () => socket.destroy());
  } finally {
    socket.destroy();
  }
}

export async function fetchStats(eventsSocket: string, timeoutMs = REPLY_TIMEOUT_MS): Promise<DaemonStats> {
  return (await ask(eventsSocket, 'stats', timeoutMs)) as DaemonStats;
}

/** The daemon's metrics in Prometheus' text format (what --metrics-listen serves). */
export async function fetchMetrics(eventsSocket: string, timeoutMs = REPLY_TIMEOUT_MS): Promise<string> {
  const text = await ask(eventsSocket, 'metrics', timeoutMs);
  if (typeof text !== 'string') throw new EventdError('EVENTD_PROTOCOL', 'eventd answered metrics with something other than text');
  return text;
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
    private readonly timeoutMs: number,
  ) {}

  static async open(eventsSocket: string, timeoutMs = REPLY_TIMEOUT_MS): Promise<StatsConnection> {
    const socket = await connect(eventsSocket);
    const connection = new StatsConnection(socket, new JsonLineReader(socket), timeoutMs);
    socket.write(`${JSON.stringify({ cmd: 'event_subscribe', opts: { type: 'osctld_shutdown' } })}\n`);
    try {
      await withReplyTimeout(answer(connection.reader, 'event_subscribe'), timeoutMs, 'event_subscribe', () => socket.destroy());
    } catch (error) {
      socket.destroy();
      throw error;
    }
    return connection;
  }

  async stats(): Promise<DaemonStats> {
    this.socket.write('{"cmd":"stats"}\n');
    const stats = await withReplyTimeout(answer(this.reader, 'stats'), this.timeoutMs, 'stats', () => this.socket.destroy());
    return stats as DaemonStats;
  }

  close(): void {
    this.socket.destroy();
  }
}
