// `--metrics-listen HOST:PORT`: GET /metrics over HTTP, for Prometheus to scrape.
import { createServer, type Server } from 'node:http';
import { formatListenAddress, type ListenAddress } from './address.js';
import type { Metrics } from './registry.js';

/** Serves `metrics` at /metrics; resolves once listening, or rejects with one line that says why not. */
export async function serveMetrics(address: ListenAddress, metrics: Metrics): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('eventd serves only /metrics here\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('use GET\n');
      return;
    }
    metrics.text().then(
      (text) => response.writeHead(200, { 'content-type': metrics.contentType }).end(request.method === 'HEAD' ? undefined : text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`),
    );
  });
  // Scrapers keep connections open; they must not hold the daemon's shutdown.
  server.keepAliveTimeout = 5000;
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
  return server;
}
