// `--metrics-listen HOST:PORT`: reading and writing the address (no HTTP loaded for it).

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
