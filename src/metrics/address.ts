// `--metrics-listen HOST:PORT`: reading and writing the address (no HTTP loaded for it).
import { BlockList, isIP, type Server } from 'node:net';

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

/**
 * `--metrics-allow`: IP addresses and CIDR ranges (10.0.0.0/8, ::1, fd00::/8), comma-separated, as
 * a BlockList of the peers allowed. The message says which entry is wrong.
 */
export function parseAllowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const prefix = bits === undefined ? undefined : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    const max = family === 6 ? 128 : 32;
    if (family === 0 || extra !== undefined || (prefix !== undefined && !(prefix <= max))) {
      throw new Error(`expected IP addresses or CIDR ranges such as 127.0.0.1, 10.0.0.0/8 or ::1, got ${JSON.stringify(entry)}`);
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address!, type);
    else list.addSubnet(address!, prefix, type);
  }
  return list;
}
