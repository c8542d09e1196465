// One record to many real Unix sockets in one native call: what each socket takes, and what is
// left to its stream when it is full or gone.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { socketFd } from '../../src/native/index.js';
import { FanOut } from '../../src/worker/fan-out.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** `count` connected pairs of Unix sockets: the daemon's ends and the clients, clients paused (they read when told). */
async function pairs(count: number): Promise<{ server: net.Socket; client: net.Socket }[]> {
  const dir = mkdtempSync(join(tmpdir(), 'eventd-fan-'));
  const path = join(dir, 's.sock');
  const listener = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => listener.listen(path, resolve));
  const made: { server: net.Socket; client: net.Socket }[] = [];
  for (let i = 0; i < count; i++) {
    const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
    const client = net.connect(path);
    client.pause();
    await new Promise((resolve) => client.once('connect', resolve));
    made.push({ server: await accepted, client });
  }
  cleanups.push(() => {
    for (const { server, client } of made) {
      server.destroy();
      client.destroy();
    }
    listener.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return made;
}

/** Everything a client reads until `bytes` have come. */
function readBytes(client: net.Socket, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  return new Promise((resolve) => {
    client.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= bytes) resolve(Buffer.concat(chunks));
    });
    client.resume();
  });
}

describe('FanOut', () => {
  // 70: past the 64 slots it starts with.
  it.each([3, 70])('writes the same bytes to each of %i sockets that take them, and calls rest for none', async (count) => {
    const sockets = await pairs(count);
    const fanOut = new FanOut<number>();
    const data = Buffer.from('{"seq":1,"type":"state"}\n{"seq":2,"type":"state"}\n');
    sockets.forEach(({ server }, i) => fanOut.add(socketFd(server), i));
    const rests: number[] = [];
    fanOut.send(data, (owner) => rests.push(owner));
    expect(rests).toEqual([]);
    expect(fanOut.count).toBe(0);
    const got = await Promise.all(sockets.map(({ client }) => readBytes(client, data.length)));
    expect(got.every((bytes) => bytes.equals(data))).toBe(true);
  });

  it('says how much a full socket took and what a closed one failed with, and writes the others whole', async () => {
    const [full, gone, fine] = await pairs(3);
    const fanOut = new FanOut<string>();
    const data = Buffer.alloc(64 * 1024, 0x61);
    // Fill one socket until it takes no more: its client does not read yet.
    let queued = 0;
    for (;;) {
      let took = data.length;
      fanOut.add(socketFd(full!.server), 'full');
      fanOut.send(data, (_owner, sent) => (took = sent));
      queued += took;
      if (took < data.length) break;
    }
    // The other end of another is gone (destroy closes its descriptor at once): a write to it
    // fails (EPIPE), and the process is not killed by SIGPIPE.
    gone!.client.destroy();

    const rests = new Map<string, number>();
    fanOut.add(socketFd(full!.server), 'full');
    fanOut.add(socketFd(gone!.server), 'gone');
    fanOut.add(socketFd(fine!.server), 'fine');
    fanOut.send(data, (owner, sent) => rests.set(owner, sent));
    expect(rests.get('full')).toBe(0);
    expect([-32, -104]).toContain(rests.get('gone')); // EPIPE or ECONNRESET
    expect(rests.has('fine')).toBe(false);
    expect((await readBytes(fine!.client, data.length)).equals(data)).toBe(true);
    // What the full one took is all there, in order.
    const read = await readBytes(full!.client, queued);
    expect(read.length).toBe(queued);
    expect(read.every((byte) => byte === 0x61)).toBe(true);
  });
});
