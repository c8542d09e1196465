// `--metrics-listen HOST:PORT`: GET /metrics over HTTP, for Prometheus to scrape. Any local user
// can reach a TCP port, so this server is built not to hurt the daemon whoever connects: a few
// connections at most (its descriptors are not the ones producers and subscribers need), idle ones
// closed within seconds, one request answered at a time per connection and nothing read ahead
// while it is, the text built at most once a second, and an optional allow-list of peer addresses.
//
// It is a deliberately small HTTP/1.1 server rather than node:http: Node's parser reads and
// dispatches every pipelined request in a chunk (about 1,800 in 64 KiB) before anything can stop
// it, so a client that pipelines without reading took a core and hundreds of MiB. Serving one
// resource needs only the request line and the end of the headers; anything else is refused and
// the connection closed.
import net, { type BlockList, type Server, type Socket } from 'node:net';
import type { MetricsRefusal } from '../protocol/stats.js';
import { formatListenAddress, type ListenAddress } from './address.js';
import { cachedText, type Metrics } from './registry.js';

/** Connections held at once; Prometheus uses one per target. */
export const METRICS_MAX_CONNECTIONS = 16;
/** A connection with nothing going on (no request coming in, its answer not being taken) this long is closed. */
export const METRICS_IDLE_TIMEOUT_MS = 10_000;
/** The request line and headers of one request, at most. */
const MAX_HEAD_BYTES = 8 * 1024;
/** The text is built at most this often, however many scrape it. */
const TEXT_MAX_AGE_MS = 1000;
/**
 * Requests answered per second, over all connections, after a burst of as many: Prometheus scrapes
 * a target every 15 s or so; a loop of scrapes (or of new connections) waits its turn instead of
 * taking the daemon's CPU.
 */
const ANSWERS_PER_SECOND = 20;

export interface MetricsServerOptions {
  /** Peer addresses allowed to connect (undefined: any). */
  allow?: BlockList;
  /** Told each time a connection is turned away, with why (the caller counts and logs). */
  refused?: (why: MetricsRefusal) => void;
}

/** The listening metrics server. */
export interface MetricsServer {
  readonly server: Server;
  /** Stops listening and closes every connection (a scraper's keep-alive must not hold a shutdown). */
  close(): void;
}

/** Serves `metrics` at /metrics; resolves once listening, or rejects with one line that says why not. */
export async function serveMetrics(address: ListenAddress, metrics: Metrics, options: MetricsServerOptions = {}): Promise<MetricsServer> {
  const text = cachedText(metrics, TEXT_MAX_AGE_MS);
  const turns = new Turns(ANSWERS_PER_SECOND);
  const connections = new Set<Socket>();
  const server = net.createServer((socket) => {
    const peer = socket.remoteAddress;
    if (options.allow && (peer === undefined || !options.allow.check(peer, socket.remoteFamily === 'IPv6' ? 'ipv6' : 'ipv4'))) {
      options.refused?.('address');
      socket.destroy();
      return;
    }
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
    new MetricsConnection(socket, text, metrics.contentType, turns, () => options.refused?.('unread'));
  });
  server.maxConnections = METRICS_MAX_CONNECTIONS;
  server.on('drop', () => options.refused?.('connections'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = formatListenAddress(address);
      const why =
        error.code === 'EADDRINUSE'
          ? 'the address is in use (another eventd or exporter?)'
          : error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND'
            ? 'no such address on this host'
            : error.code === 'EACCES'
              ? 'permission denied (ports below 1024 need privileges)'
              : error.message;
      reject(new Error(`cannot serve metrics on ${where}: ${why} (--metrics-listen)`));
    });
    server.listen(address.port, address.host, () => resolve());
  });
  return {
    server,
    close() {
      server.close();
      for (const socket of connections) socket.destroy();
    },
  };
}

interface Request {
  method: string;
  path: string;
  /** Whether the connection stays open after the answer (HTTP/1.1 unless `Connection: close`; 1.0 only when asked). */
  keepAlive: boolean;
  /** The request announces a body, which this server never reads. */
  hasBody: boolean;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  431: 'Request Header Fields Too Large',
  505: 'HTTP Version Not Supported',
};

/** One scraper's connection: requests are read and answered one at a time. */
class MetricsConnection {
  private head = '';
  /** A request is being answered: nothing more is read until its answer is taken. */
  private busy = false;

  constructor(
    private readonly socket: Socket,
    private readonly text: () => Promise<string>,
    private readonly contentType: string,
    private readonly turns: Turns,
    /** Called when the connection is closed with an answer it did not take. */
    unread: () => void,
  ) {
    socket.setTimeout(METRICS_IDLE_TIMEOUT_MS, () => {
      if (this.busy) unread();
      socket.destroy();
    });
    socket.on('error', () => socket.destroy());
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.head += chunk;
      this.next();
    });
  }

  /** Answers the next complete request buffered, in its turn, if there is one and none is being answered. */
  private next(): void {
    if (this.busy || this.socket.destroyed) return;
    const end = this.head.indexOf('\r\n\r\n');
    if (end === -1) {
      if (this.head.length > MAX_HEAD_BYTES) this.fail(431);
      return;
    }
    const wait = this.turns.take();
    if (wait > 0) {
      this.busy = true;
      this.socket.pause();
      setTimeout(() => {
        this.busy = false;
        this.answerNext(end);
      }, wait);
      return;
    }
    this.answerNext(end);
  }

  private answerNext(end: number): void {
    if (this.socket.destroyed) return;
    if (end > MAX_HEAD_BYTES) return this.fail(431);
    const request = parseHead(this.head.slice(0, end));
    this.head = this.head.slice(end + 4);
    if (typeof request === 'number') return this.fail(request);
    if (request.path !== '/metrics') return this.answer(404, 'eventd serves only /metrics here\n', { close: request.hasBody });
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return this.answer(405, 'use GET\n', { close: true, headers: 'Allow: GET, HEAD\r\n' });
    }
    // A GET with a body is not something a scraper sends: answered, then closed (the body is never read).
    const close = !request.keepAlive || request.hasBody;
    this.busy = true;
    // Nothing more is read while this is answered: a client that pipelines requests without
    // reading the answers holds this connection (until the idle timeout), and nothing else.
    this.socket.pause();
    this.text().then(
      (body) => this.answer(200, body, { close, head: request.method === 'HEAD', type: this.contentType }),
      (error: unknown) => this.answer(500, `${(error as Error).message}\n`, { close: true }),
    );
  }

  private fail(status: number): void {
    this.answer(status, `${STATUS_TEXT[status]}\n`, { close: true });
  }

  private answer(status: number, body: string, { close = false, head = false, type = 'text/plain', headers = '' } = {}): void {
    if (this.socket.destroyed) return;
    this.busy = true;
    this.socket.pause();
    const length = Buffer.byteLength(body);
    const lines =
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Internal Server Error'}\r\n` +
      `Content-Type: ${type}\r\nContent-Length: ${length}\r\n${headers}` +
      `Connection: ${close ? 'close' : 'keep-alive'}\r\n\r\n`;
    this.socket.write(head ? lines : lines + body, 'utf8', () => {
      if (close) return this.socket.end();
      this.busy = false;
      this.socket.resume();
      this.next();
    });
  }
}

/** The request line and headers, or the status that refuses them. */
function parseHead(head: string): Request | number {
  const [requestLine = '', ...headerLines] = head.split('\r\n');
  const match = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(requestLine);
  if (!match) return /^[A-Z]+ \S+ HTTP\/\d/.test(requestLine) ? 505 : 400;
  const [, method, target, minor] = match;
  let connection = '';
  let hasBody = false;
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon <= 0) return 400;
    const name = line.slice(0, colon).toLowerCase();
    const value = line
      .slice(colon + 1)
      .trim()
      .toLowerCase();
    if (name === 'connection') connection = value;
    else if (name === 'transfer-encoding' || (name === 'content-length' && value !== '0')) hasBody = true;
  }
  const keepAlive = minor === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
  return { method: method!, path: target!.split('?')[0]!, keepAlive, hasBody };
}

/** A token bucket of answers: `take` reserves the next one and says how long to wait for it. */
class Turns {
  private tokens: number;
  private last = performance.now();

  constructor(private readonly perSecond: number) {
    this.tokens = perSecond;
  }

  take(): number {
    const now = performance.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) * this.perSecond) / 1000) - 1;
    this.last = now;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.perSecond;
  }
}
