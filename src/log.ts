// pino loggers: JSON lines on stdout for journald, or readable lines when stdout is a terminal
// (someone ran `eventd serve` by hand). EVENTD_LOG_FORMAT=json or pretty chooses regardless.
// Worker threads do not load pino: their records come to the main thread's (worker/log.ts).
import { writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every record has, or that the readable line shows in its own place. */
const SHOWN_APART = new Set(['level', 'time', 'pid', 'name', 'msg', 'hostname']);

/**
 * A gate for a log line that could come with every connection or request: open at most once per
 * `ms`, so that a flood of the same trouble cannot fill the log. Each call to the gate says whether
 * to log now.
 */
export function rateLimited(ms: number): () => boolean {
  let last = Number.NEGATIVE_INFINITY;
  return () => {
    const now = Date.now();
    if (now - last < ms) return false;
    last = now;
    return true;
  };
}

export function logFormat(env: NodeJS.ProcessEnv = process.env): 'json' | 'pretty' {
  if (env.EVENTD_LOG_FORMAT === 'json' || env.EVENTD_LOG_FORMAT === 'pretty') return env.EVENTD_LOG_FORMAT;
  return isatty(1) ? 'pretty' : 'json';
}

/** One JSON record as `12:00:01.123 INFO  eventd ready  key=value …` (an error's stack below it). */
export function prettyLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time =
    typeof record.time === 'number'
      ? new Date(record.time).toTimeString().slice(0, 8) + `.${String(record.time % 1000).padStart(3, '0')}`
      : '';
  const level = (LEVEL_NAMES[record.level as number] ?? String(record.level)).padEnd(5);
  const inline: string[] = [];
  // Text with spaces (a reason, a command to paste) goes on a line of its own, unquoted.
  const below: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (SHOWN_APART.has(key)) continue;
    if (key === 'err' && typeof value === 'object' && value !== null) {
      const err = value as { message?: string; stack?: string };
      below.push(`err: ${err.message}`);
      if ((record.level as number) >= 50 && err.stack)
        below.push(
          ...err.stack
            .split('\n')
            .slice(1)
            .map((line) => `  ${line.trim()}`),
        );
    } else if (typeof value === 'string' && /\s/.test(value)) {
      below.push(`${key}: ${value}`);
    } else {
      inline.push(`${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  }
  const head = `${time} ${level} ${record.msg ?? ''}${inline.length ? `  ${inline.join(' ')}` : ''}`;
  return [head, ...below.map((line) => `    ${line}`)].join('\n') + '\n';
}

/**
 * Writes synchronously: a daemon's log volume (connections, errors, never per event) is small, and
 * a line written before a crash or exit is not lost.
 */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  const options = { name: 'eventd', level, base: { pid: process.pid, ...bindings } };
  if (logFormat() === 'json') return pino(options, pino.destination({ dest: 1, sync: true }));
  const readable: DestinationStream = { write: (json: string) => void writeSync(1, prettyLine(json)) };
  return pino(options, readable);
}
