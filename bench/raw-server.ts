// The ceiling for Node on this machine: reads report lines and writes them unchanged to every
// subscriber, validating nothing. As strong as a simple server gets (issue 15): what one turn of
// the event loop read from all producers goes to every subscriber as one shared Buffer (the trick
// eventd's batches use: no re-encoding per subscriber, one write each per turn), and per chunk it
// only finds the last newline and looks at the last line, for the producer's final
// `"ack":"last"`, which it answers so the harness can time ingest the same way for every server.
// Usage: node --import tsx bench/raw-server.ts REPORT_SOCKET EVENTS_SOCKET
import { unlinkSync } from 'node:fs';
import net from 'node:net';

const [reportPath, eventsPath] = process.argv.slice(2) as [string, string];
const subscribers = new Set<net.Socket>();
const ACK_LAST = Buffer.from('"ack":"last"');

for (const path of [reportPath, eventsPath]) {
  try {
    unlinkSync(path);
  } catch {
    // not there
  }
}

/** Complete lines read this turn, from every producer; sent once per turn. */
let turn: Buffer[] = [];
function flush(): void {
  const lines = turn.length === 1 ? turn[0]! : Buffer.concat(turn);
  turn = [];
  for (const subscriber of subscribers) subscriber.write(lines);
}

net
  .createServer((socket) => {
    subscribers.add(socket);
    socket.on('close', () => subscribers.delete(socket));
    socket.on('error', () => socket.destroy());
  })
  .listen(eventsPath);

net
  .createServer((socket) => {
    let partial: Buffer | undefined;
    socket.on('data', (chunk: Buffer) => {
      const data = partial ? Buffer.concat([partial, chunk]) : chunk;
      const end = data.lastIndexOf(10) + 1;
      partial = end < data.length ? data.subarray(end) : undefined;
      if (end === 0) return;
      if (turn.length === 0) setImmediate(flush);
      turn.push(data.subarray(0, end));
      // Only the last line can be the producer's final one.
      const lastLine = data.subarray(data.lastIndexOf(10, end - 2) + 1, end);
      if (lastLine.includes(ACK_LAST)) socket.write('{"status":true,"ack":"last"}\n');
    });
    socket.on('error', () => socket.destroy());
  })
  .listen(reportPath);

process.on('SIGTERM', () => process.exit(0));
