// Asks a running daemon for its counters (`stats` on a connection of its own).
import type { DaemonStats } from '../daemon/daemon.js';
import { connect } from './connect.js';
import { JsonLineReader } from './lines.js';

export async function fetchStats(eventsSocket: string): Promise<DaemonStats> {
  const socket = await connect(eventsSocket);
  const reader = new JsonLineReader(socket);
  // Half-close: the daemon answers, then closes.
  socket.end('{"cmd":"stats"}\n');
  for (;;) {
    const line = (await reader.next()) as { status?: boolean; response?: DaemonStats } | undefined;
    if (line === undefined) throw new Error('eventd closed the connection without answering');
    if (line.status === true) {
      socket.destroy();
      return line.response!;
    }
  }
}
