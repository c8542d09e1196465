// A worker's logger: its records go to the main thread, which writes them with its own pino
// logger (JSON or readable, as configured). pino in every worker thread cost each about 3.5 MiB,
// for a few lines an hour; a worker logs connections at debug and trouble at warn or error.
import type { ConnectionLogger } from '../connection-log.js';
import type { FromWorker, LogLevel } from '../ipc/messages.js';

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

type Fields = Record<string, unknown>;

export class WorkerLogger implements ConnectionLogger {
  private readonly threshold: number;

  constructor(
    private readonly level: string,
    private readonly bindings: Fields,
    private readonly post: (message: FromWorker) => void,
  ) {
    this.threshold = LEVELS[level] ?? LEVELS.info!;
  }

  /** A logger whose records all carry `bindings` too (pino's child). */
  child(bindings: Fields): WorkerLogger {
    return new WorkerLogger(this.level, { ...this.bindings, ...bindings }, this.post);
  }

  debug(fields: Fields | string, msg?: string): void {
    this.write('debug', fields, msg);
  }

  warn(fields: Fields | string, msg?: string): void {
    this.write('warn', fields, msg);
  }

  error(fields: Fields | string, msg?: string): void {
    this.write('error', fields, msg);
  }

  private write(level: LogLevel, fields: Fields | string, msg?: string): void {
    if (LEVELS[level]! < this.threshold) return;
    const [own, text] = typeof fields === 'string' ? [{}, fields] : [fields, msg ?? ''];
    const record: Fields = { ...this.bindings };
    // An Error as pino would serialize it: a plain object crosses threads whatever it holds.
    for (const [key, value] of Object.entries(own)) record[key] = value instanceof Error ? serializeError(value) : value;
    this.post({ t: 'log', level, fields: record, msg: text });
  }
}

function serializeError(error: Error): Fields {
  const { code } = error as { code?: unknown };
  return { type: error.name, message: error.message, stack: error.stack, ...(code === undefined ? {} : { code }) };
}
