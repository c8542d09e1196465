// The daemon's settings, their defaults, and where its sockets live by default.
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import type { ListenAddress } from '../metrics/address.js';
import type { FsyncPolicy } from '../journal/format.js';
import { defaultJournalDir } from '../journal/directory.js';

/** Where and how the journal keeps events (undefined: memory only, --no-journal). */
export interface JournalOptions {
  dir: string;
  policy: FsyncPolicy;
  /** Retention: whole segments are deleted, oldest first, past this total or this age. */
  maxBytes: number;
  maxAgeMs: number;
  /** A segment is closed and a new one started past this size. */
  segmentBytes: number;
}

export interface DaemonConfig {
  reportSocket: string;
  eventsSocket: string;
  /** The osctld-compatible events socket (osctl's own client subscribes there); off when undefined. */
  osctldSocket: string | undefined;
  /** File modes of the sockets (ignored for sockets handed over by systemd). */
  reportMode: number;
  eventsMode: number;
  osctldMode: number;
  /** Group (name or gid) given to every socket; undefined keeps the daemon's own group. */
  socketGroup: string | undefined;
  workers: number;
  /**
   * Threads that read and validate producers' reports: the main thread, then workers 0, 1, …
   * (at most workers + 1). Undefined: one per core the workers leave free (defaultIngestThreads).
   */
  ingestThreads: number | undefined;
  /** The newest events a `since` replay may take from memory (older ones come from the journal). */
  history: number;
  /** Bytes of the shared ring that holds events in memory (rounded up to a power of two): the in-memory history's bound. */
  historyBytes: number;
  journal: JournalOptions | undefined;
  maxLineBytes: number;
  /** A line must be finished this long after its first byte, or the connection is closed. */
  lineTimeoutMs: number;
  /** Connections each socket takes at once; more are refused with an error line. */
  maxConnections: number;
  maxPendingBytes: number;
  logLevel: string;
  /** Serve Prometheus metrics over HTTP here (GET /metrics); off when undefined. */
  metricsListen: ListenAddress | undefined;
  /** Peer addresses (IPs or CIDR ranges) allowed to scrape --metrics-listen; undefined: any. */
  metricsAllow: string[] | undefined;
  /** Enables the test-only `debug_crash_worker` and `debug_block_worker` commands. */
  faultInjection: boolean;
}

/**
 * As osctld, one worker per 32 cores and at least two; but one on a host of two cores or fewer,
 * where the main thread and one worker already fill the cores under load and a second worker only
 * takes turns with them and with the subscribers' own processes. Measured on 2 cores, 100
 * subscribers: a second worker cost 13 % more CPU per event and 11 MiB, for 0.9 of the deliveries.
 */
export function defaultWorkers(cores = availableParallelism()): number {
  return cores <= 2 ? 1 : Math.max(Math.floor(cores / 32), 2);
}

/**
 * The main thread reads every producer unless there are cores to spare: validating in a worker
 * then runs in parallel, but on a host whose cores the workers already fill it only adds a
 * hand-over per batch (measured on 2 cores: the same ingest for about 30 % more CPU per event).
 */
export function defaultIngestThreads(workers: number, cores = availableParallelism()): number {
  return Math.min(Math.max(cores - workers, 1), workers + 1);
}

/** The threads that will read producers under this config. */
export function ingestThreads(config: Pick<DaemonConfig, 'workers' | 'ingestThreads'>): number {
  return Math.min(config.ingestThreads ?? defaultIngestThreads(config.workers), config.workers + 1);
}

/**
 * Which threads read producers: one ingest thread is the main thread (on a host whose cores the
 * workers fill, ingest then runs beside delivery rather than on a delivering worker); from two up,
 * workers take them first, so the main thread does no work per event (it hands connections over)
 * and joins them only when every worker already reads producers.
 */
export function ingestLayout(config: Pick<DaemonConfig, 'workers' | 'ingestThreads'>): { mainThread: boolean; workers: number } {
  const threads = ingestThreads(config);
  const mainThread = threads === 1 || threads > config.workers;
  return { mainThread, workers: mainThread ? threads - 1 : threads };
}

/**
 * $RUNTIME_DIRECTORY (systemd's RuntimeDirectory=), else /run/eventd for root,
 * else $XDG_RUNTIME_DIR/eventd, else ~/.eventd. (Not a directory under /tmp: another user could
 * create it first.)
 */
export function defaultRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RUNTIME_DIRECTORY) return env.RUNTIME_DIRECTORY.split(':')[0]!;
  if (process.getuid?.() === 0) return '/run/eventd';
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'eventd');
  return join(homedir(), '.eventd');
}

export const DEFAULTS = {
  reportMode: 0o660,
  eventsMode: 0o660,
  osctldMode: 0o660,
  history: 10_000,
  historyBytes: 16 * 1024 * 1024,
  fsync: 'interval' as FsyncPolicy,
  journalMaxBytes: 1024 ** 3,
  journalMaxAgeMs: 7 * 24 * 3600 * 1000,
  journalSegmentBytes: 64 * 1024 * 1024,
  maxLineBytes: 65_536,
  lineTimeoutMs: 60_000,
  maxConnections: 10_000,
  maxPendingBytes: 8 * 1024 * 1024,
  logLevel: 'info',
} as const;

export function defaultConfig(env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const runtimeDir = defaultRuntimeDir(env);
  return {
    reportMode: DEFAULTS.reportMode,
    eventsMode: DEFAULTS.eventsMode,
    osctldMode: DEFAULTS.osctldMode,
    history: DEFAULTS.history,
    historyBytes: DEFAULTS.historyBytes,
    maxLineBytes: DEFAULTS.maxLineBytes,
    lineTimeoutMs: DEFAULTS.lineTimeoutMs,
    maxConnections: DEFAULTS.maxConnections,
    maxPendingBytes: DEFAULTS.maxPendingBytes,
    logLevel: DEFAULTS.logLevel,
    journal: {
      dir: defaultJournalDir(env),
      policy: DEFAULTS.fsync,
      maxBytes: DEFAULTS.journalMaxBytes,
      maxAgeMs: DEFAULTS.journalMaxAgeMs,
      segmentBytes: DEFAULTS.journalSegmentBytes,
    },
    reportSocket: join(runtimeDir, 'report.sock'),
    eventsSocket: join(runtimeDir, 'events.sock'),
    osctldSocket: undefined,
    socketGroup: undefined,
    metricsListen: undefined,
    metricsAllow: undefined,
    workers: defaultWorkers(),
    ingestThreads: undefined,
    faultInjection: env.EVENTD_FAULT_INJECTION === '1',
  };
}

/**
 * The ring's size for a config: --history-bytes rounded up to a power of two, and at least twice
 * the largest record an ingest thread can write (a turn's 64 KiB of reports plus one of the longest
 * line, with their seqs and times), so a record always fits.
 */
export function ringBytes(config: Pick<DaemonConfig, 'historyBytes' | 'maxLineBytes'>): number {
  const largestRecord = 64 * 1024 + config.maxLineBytes + 256 * 1024;
  let size = 1 << 16;
  while (size < config.historyBytes || size < 2 * largestRecord) size *= 2;
  return Math.min(size, 1 << 30);
}
