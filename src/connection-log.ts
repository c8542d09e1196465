// What a connection logs through, whichever thread it is on: a worker's WorkerLogger
// (worker/log.ts) or pino's Logger on the main thread. Below both ingest and worker.

type Fields = Record<string, unknown>;

export interface ConnectionLogger {
  child(bindings: Fields): ConnectionLogger;
  debug(fields: Fields, msg?: string): void;
  debug(msg: string): void;
  warn(fields: Fields, msg?: string): void;
  warn(msg: string): void;
}
