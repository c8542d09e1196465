// The subscriber side of the load generator, in a process of its own so that reading is never
// starved by the producers' writing (they shared one event loop before, and a flood from a faster
// daemon left the readers so far behind that eventd rightly dropped them as too slow).
// Started by bench/fanout.ts with fork(); talks to it over the IPC channel:
//   child → parent  {t:'live'}   every connection has received a line (the parent probes until then)
//   parent → child  {t:'start', perSocket}  zero the counters; each connection must now get perSocket
//                   (sent twice: the warm-up, then the measured run)
//   child → parent  {t:'progress', min}  every 10 ms: the fewest deliveries any connection has had
//   child → parent  {t:'done', …}  every connection got its share, or one was closed (lost)
import { connect, nowMs } from './lib.js';

export interface SubscribersConfig {
  socket: string;
  count: number;
  /** 'lines': newline-delimited (eventd, raw); 'redis': RESP pushes after SUBSCRIBE. */
  wire: 'lines' | 'redis';
  /** Connections that also time the events carrying "sent_ms" (epoch ms, sub-ms precision). */
  samplers: number;
  /** Connections that also check that seq goes up by exactly 1 (eventd's native lines only). */
  orderCheckers: number;
}

export type ToSubscribers = { t: 'start'; perSocket: number };
export type FromSubscribers =
  | { t: 'live' }
  | { t: 'progress'; min: number }
  | {
      t: 'done';
      doneAt: number;
      delivered: number;
      /** Reads (data events) across every connection: how finely the server's writes arrive. */
      reads: number;
      received: number[];
      latencies: number[];
      outOfOrder: number;
      closed: number;
    };

const REDIS_MESSAGE = '$7\r\nmessage\r\n';

/** Counts deliveries across reads: newlines, or RESP "message" pushes (which may straddle reads). */
function deliveryCounter(wire: SubscribersConfig['wire']): (chunk: Buffer) => number {
  if (wire === 'lines') {
    return (chunk) => {
      let count = 0;
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) count++;
      return count;
    };
  }
  let tail = '';
  return (chunk) => {
    const text = tail + chunk.toString('latin1');
    let count = 0;
    for (let at = text.indexOf(REDIS_MESSAGE); at !== -1; at = text.indexOf(REDIS_MESSAGE, at + 1))
      if (at + REDIS_MESSAGE.length > tail.length) count++;
    tail = text.slice(-(REDIS_MESSAGE.length - 1));
    return count;
  };
}

/**
 * Checks that every line's seq is the previous one plus 1 (native lines start `{"seq":N,`). It reads
 * bytes, never strings: this process is the busiest of a saturated run (a whole core), and a
 * checker that decoded every chunk cost eventd's runs at S = 100 a sixth of their deliveries/s
 * (medians of four interleaved runs, 11.5 → 13.7 M).
 */
function orderChecker(): { check(chunk: Buffer): void; outOfOrder: number; reset(): void } {
  const SEQ_PREFIX = '{"seq":'.length;
  let last = -1;
  // Where the reader is in the stream, kept across chunks: a line's start may be cut anywhere.
  let inSeq = true;
  let skip = SEQ_PREFIX;
  let seq = 0;
  const state = {
    outOfOrder: 0,
    reset: () => {
      last = -1;
      state.outOfOrder = 0;
    },
    check: (chunk: Buffer) => {
      let at = 0;
      while (at < chunk.length) {
        if (!inSeq) {
          const end = chunk.indexOf(10, at);
          if (end === -1) return;
          at = end + 1;
          inSeq = true;
          skip = SEQ_PREFIX;
          seq = 0;
          continue;
        }
        const byte = chunk[at++]!;
        if (skip > 0) skip--;
        else if (byte >= 48 && byte <= 57) seq = seq * 10 + byte - 48;
        else {
          if (last !== -1 && seq !== last + 1) state.outOfOrder++;
          last = seq;
          inSeq = false;
        }
      }
    },
  };
  return state;
}

async function main(config: SubscribersConfig): Promise<void> {
  const send = (message: FromSubscribers) => process.send!(message);
  const received = new Array<number>(config.count).fill(0);
  const checkers = Array.from({ length: Math.min(config.orderCheckers, config.count) }, orderChecker);
  const latencies: number[] = [];
  let delivered = 0;
  let reads = 0;
  let expected = Infinity;
  let live = false;
  let finished = false;
  let closed = 0;

  const finish = () => {
    if (finished) return;
    finished = true;
    const outOfOrder = checkers.reduce((sum, checker) => sum + checker.outOfOrder, 0);
    send({ t: 'done', doneAt: nowMs(), delivered, reads, received, latencies, outOfOrder, closed });
  };

  for (let i = 0; i < config.count; i++) {
    const socket = await connect(config.socket);
    if (config.wire === 'redis') socket.write('SUBSCRIBE events\r\n');
    const count = deliveryCounter(config.wire);
    const checker = checkers[i];
    const sampling = i < config.samplers;
    let partial = '';
    socket.on('data', (chunk: Buffer) => {
      reads++;
      const n = count(chunk);
      received[i]! += n;
      delivered += n;
      checker?.check(chunk);
      if (sampling && expected !== Infinity) {
        const now = nowMs();
        // Whole lines only: a number the chunk cut would read as another (and be read twice).
        const text = partial + chunk.toString('latin1');
        const complete = text.lastIndexOf('\n') + 1;
        partial = text.slice(complete);
        for (const match of text.slice(0, complete).matchAll(/"sent_ms":([\d.]+)/g)) latencies.push(now - Number(match[1]));
      }
      if (!live && received.every((r) => r > 0)) {
        live = true;
        send({ t: 'live' });
      }
      if (delivered >= expected) finish();
    });
    socket.on('close', () => {
      closed++;
      if (expected !== Infinity && received[i]! < expected / config.count) {
        console.error(`subscriber ${i} disconnected after ${received[i]} deliveries`);
        finish();
      }
    });
  }

  // The parent ends this process with a signal when the run is over. A start may come more than
  // once (a warm-up, then the measured run): each counts from zero.
  let progress: NodeJS.Timeout | undefined;
  process.on('message', (message: ToSubscribers) => {
    delivered = 0;
    reads = 0;
    received.fill(0);
    latencies.length = 0;
    finished = false;
    for (const checker of checkers) checker.reset();
    expected = message.perSocket * config.count;
    let reported = -1;
    clearInterval(progress);
    progress = setInterval(() => {
      const min = Math.min(...received);
      if (min !== reported && !finished) send({ t: 'progress', min: (reported = min) });
    }, 10).unref();
  });
}

await main(JSON.parse(process.argv[2]!) as SubscribersConfig);
