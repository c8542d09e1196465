// A connected pair of real Unix sockets, for tests of what the daemon's end of a connection does.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineClient } from './client.js';

/** The daemon's end and a line client; `cleanups` gets what closes them and removes the socket. */
export async function socketPair(cleanups: (() => void)[]): Promise<{ server: net.Socket; client: LineClient }> {
  const dir = mkdtempSync(join(tmpdir(), 'eventd-pair-'));
  const path = join(dir, 's.sock');
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(path, resolve));
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = await LineClient.connect(path);
  const server = await accepted;
  cleanups.push(() => {
    client.destroy();
    server.destroy();
    listener.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { server, client };
}
