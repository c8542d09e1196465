// pino loggers for the main thread and the workers. Logs are JSON lines on stdout, for journald.
import pino, { type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Writes synchronously: a worker's asynchronous pino stream only flushes when the main thread
 * lets it, and a daemon's log volume (connections, errors, never per event) is small.
 */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ name: 'eventd', level, base: { pid: process.pid, ...bindings } }, pino.destination({ dest: 1, sync: true }));
}
