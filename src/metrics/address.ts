// `--metrics-listen HOST:PORT`: reading and writing the address (no HTTP loaded for it).
import type { Server } from 'node:net';

export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses HOST:PORT (an IPv6 host in brackets: [::1]:9464); the message says what is expected. */
export function parseListenAddress(value: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new Error(`expected HOST:PORT such as 127.0.0.1:9464 or [::1]:9464, got ${JSON.stringify(value)}`);
  }
  return { host: match[1] ?? match[2]!, port };
}

export function formatListenAddress({ host, port }: ListenAddress): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The URL a metrics server listening at `address` serves, with the port it got (for HOST:0). */
export function metricsUrl(address: ListenAddress, server: Server): string {
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
  return `http://${formatListenAddress({ host: address.host, port })}/metrics`;
}
