// The ceiling for Node on this machine: reads report lines and writes them unchanged to every
// subscriber, validating nothing. It answers a producer's last line ("ack":"last") so the harness
// can time ingest the same way for both servers.
// Usage: node --import tsx bench/raw-server.ts REPORT_SOCKET EVENTS_SOCKET
import { unlinkSync } from 'node:fs';
import net from 'node:net';

const [reportPath, eventsPath] = process.argv.slice(2) as [string, string];
const subscribers = new Set<net.Socket>();

for (const path of [reportPath, eventsPath]) {
  try {
    unlinkSync(path);
  } catch {
    // not there
  }
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
    let partial = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const text = partial + chunk;
      const end = text.lastIndexOf('\n') + 1;
      partial = text.slice(end);
      if (end === 0) return;
      const lines = text.slice(0, end);
      for (const subscriber of subscribers) subscriber.write(lines);
      if (lines.includes('"ack":"last"')) socket.write('{"status":true,"ack":"last"}\n');
    });
    socket.on('error', () => socket.destroy());
  })
  .listen(reportPath);

process.on('SIGTERM', () => process.exit(0));
