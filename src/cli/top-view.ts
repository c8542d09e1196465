// What `eventd top` shows, computed from two stats snapshots a moment apart: a screen for a
// terminal, or one line for a pipe. Plain text and ANSI only, so it works over ssh anywhere.
import type { DaemonStats } from '../protocol/stats.js';
import { plural } from './stats.js';

export interface Sample {
  stats: DaemonStats;
  /** When it was taken (ms, monotonic). */
  at: number;
}

export interface Frame {
  /** The socket asked, for the title. */
  socket: string;
  now: Date;
  current: Sample;
  /** The sample before; rates are unknown without it. */
  previous: Sample | undefined;
  /** Set while the daemon cannot be reached: the last figures stay on screen under it. */
  problem?: string;
}

type Rate = number | undefined;

function rate(frame: Frame, read: (stats: DaemonStats) => number): Rate {
  const { previous, current } = frame;
  if (!previous || previous.stats.run !== current.stats.run || current.at <= previous.at) return undefined;
  return Math.max(0, read(current.stats) - read(previous.stats)) / ((current.at - previous.at) / 1000);
}

function showRate(value: Rate): string {
  if (value === undefined) return '-';
  if (value >= 10_000) return `${(value / 1000).toFixed(0)}k`;
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

function clock(date: Date): string {
  return date.toTimeString().slice(0, 8);
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m ${seconds % 60}s`;
}

function bytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

/** Rows of a keyed count (types, pools), busiest first, with rate and total. */
function countRows(frame: Frame, counts: (stats: DaemonStats) => Record<string, number>): [string, string, string][] {
  return Object.entries(counts(frame.current.stats))
    .map(([key, total]) => ({ key, total, rate: rate(frame, (stats) => counts(stats)[key] ?? 0) }))
    .sort((a, b) => (b.rate ?? 0) - (a.rate ?? 0) || b.total - a.total || a.key.localeCompare(b.key))
    .map(({ key, total, rate }) => [key, showRate(rate), String(total)]);
}

function columns(rows: string[][], widths: number[]): string[] {
  return rows.map((row) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** The whole screen, cut to `height` lines of at most `width` characters. */
export function renderScreen(frame: Frame, width: number, height: number): string[] {
  const s = frame.current.stats;
  const perSecond = (read: (stats: DaemonStats) => number) => showRate(rate(frame, read));
  const rejected = Object.entries(s.lines_rejected_by_reason)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${n}`);
  const history = `${s.history.retained}/${s.history.capacity} events, ${bytes(s.history.bytes)}`;
  const paused = `${plural(s.producers_paused, 'time')} (${s.producers_paused_seconds.toFixed(1)} s)`;
  const head = [
    `eventd top  ${frame.socket}  pid ${s.pid}  up ${duration(s.uptime_seconds)}  v${s.version}`.padEnd(width - 9) + clock(frame.now),
    frame.problem ? `!! ${frame.problem}` : '',
    `events     ${perSecond((x) => x.events_published)}/s   seq ${s.last_seq}   history ${history}`,
    journalLine(s),
    `producers  ${s.producers} connected   paused ${paused}   ${perSecond((x) => x.producers_connected)} connects/s`,
    `rejected   ${perSecond((x) => x.lines_rejected)}/s   ${s.lines_rejected} in all${rejected.length ? ` (${rejected.join(', ')})` : ''}`,
    // The connection top asks on is one of the daemon's subscribers: not counted here.
    `subscribers ${s.subscribers - 1}   dropped as slow ${s.subscribers_dropped_slow} (${perSecond((x) => x.subscribers_dropped_slow)}/s)` +
      `   refused ${s.connections_refused}   replays ${s.replays}`,
    '',
  ].filter((line, i) => (i !== 1 && i !== 3) || line !== '');
  const workers = [
    'WORKER  SUBSCRIBERS  PRODUCERS  PENDING  RESTARTS',
    ...columns(
      s.workers.map((w) => [String(w.worker), String(w.subscribers), String(w.producers), bytes(w.pending_bytes), String(w.restarts)]),
      [6, 11, 9, 7, 8],
    ),
    '',
  ];
  const types = columns([['TYPE', 'EVENTS/s', 'TOTAL'], ...countRows(frame, (x) => x.events_by_type)], [16, 9, 10]);
  const pools = columns([['POOL', 'EVENTS/s', 'TOTAL'], ...countRows(frame, (x) => x.events_by_pool)], [16, 9, 10]);
  // Types and pools side by side when there is room, else one under the other.
  const tables: string[] = [];
  if (width >= 82) {
    for (let i = 0; i < Math.max(types.length, pools.length); i++) tables.push(`${(types[i] ?? '').padEnd(41)}${pools[i] ?? ''}`.trimEnd());
  } else {
    tables.push(...types, '', ...pools);
  }
  const footer = 'q: quit';
  const body = [...head, ...workers, ...tables].slice(0, Math.max(1, height - 1));
  return [...body.map((line) => line.slice(0, width)), footer];
}

/** The journal's line: what it holds, how it syncs, and whether it can write. */
function journalLine(s: DaemonStats): string {
  const j = s.journal;
  if (!j) return 'journal    none (memory only)';
  const state = j.writable ? '' : '   !! CANNOT WRITE: reports refused';
  const fsync =
    j.fsyncs > 0
      ? `, fsync ${((j.fsync_seconds / j.fsyncs) * 1000).toFixed(2)} ms avg, ${(j.fsync_max_seconds * 1000).toFixed(1)} max`
      : '';
  return `journal    ${bytes(j.bytes)} in ${plural(j.segments, 'segment')}, seq ${j.oldest_seq}..  --fsync ${j.fsync}${fsync}${state}`;
}

/** One line per refresh, for a pipe or a log. */
export function renderLine(frame: Frame): string {
  const s = frame.current.stats;
  if (frame.problem) return `${clock(frame.now)} ${frame.problem}`;
  return [
    clock(frame.now),
    `events ${showRate(rate(frame, (x) => x.events_published))}/s`,
    `seq ${s.last_seq}`,
    `producers ${s.producers}`,
    `subscribers ${s.subscribers - 1}`,
    `rejected ${s.lines_rejected}`,
    `dropped ${s.subscribers_dropped_slow}`,
    `paused ${s.producers_paused}`,
  ].join('  ');
}
