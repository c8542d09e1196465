// Where published events are kept, behind the one small interface the daemon uses (as aedes keeps
// persistence behind aedes-persistence): the ring that every thread writes and reads, the run id
// clients see, and stop. The memory store (--no-journal) is the ring alone: history as far back as
// the ring reaches, seq from 1 and a new run at every start. The journal store puts the journal
// thread behind the ring: delivery and acks wait until it has written (or synced) each record,
// seq goes on across restarts, and history reaches back as far as the journal does.
import { randomUUID } from 'node:crypto';
import { closeSync } from 'node:fs';
import type { Logger } from '../log.js';
import { EventRing, MAX_CONSUMERS } from '../ring/event-ring.js';
import { startThread } from '../daemon/thread.js';
import type { JournalFigures } from './figures.js';
import type { FsyncPolicy } from './format.js';
import type { OpenedJournal } from './open.js';
import type { JournalMessage, JournalThreadData } from './thread.js';
import type { JournalSettings } from './writer.js';

/** The consumer slot of the ring the journal reads with (the workers take 0, 1, …). */
export const JOURNAL_CONSUMER = MAX_CONSUMERS - 1;

export interface JournalStats {
  dir: string;
  fsync: FsyncPolicy;
  bytes: number;
  segments: number;
  oldest_seq: number;
  oldest_time: string | null;
  written_seq: number;
  synced_seq: number;
  fsyncs: number;
  fsync_seconds: number;
  fsync_max_seconds: number;
  write_errors: number;
  writable: boolean;
  damaged: number;
  torn_bytes_at_start: number;
  segments_deleted: number;
}

export interface EventStore {
  readonly ring: EventRing;
  /** The run id: what clients compare to know whether seq still means what it meant. */
  readonly run: string;
  /** Where delivery workers read what the ring no longer holds (undefined: nowhere). */
  readonly journalDir: string | undefined;
  stats(): JournalStats | undefined;
  /** Everything committed is made durable, then the store closes. */
  stop(): Promise<void>;
}

export interface JournalConfig extends JournalSettings {
  dir: string;
}

export function memoryStore(ringBytes: number): EventStore {
  const ring = EventRing.create(ringBytes);
  return { ring, run: randomUUID(), journalDir: undefined, stats: () => undefined, stop: async () => {} };
}

/** Opens the journal (recovering what a crash left), starts its thread, and returns the store around it. */
export async function journalStore(
  ringBytes: number,
  config: JournalConfig,
  log: Logger,
  onFailure: (error: Error) => void,
): Promise<EventStore> {
  // Loaded here: a daemon without a journal (--no-journal, a library's) does not carry its code.
  const [{ openJournal }, { JournalFigures }] = await Promise.all([import('./open.js'), import('./figures.js')]);
  const opened = openJournal(config.dir, config.policy);
  logRecovery(opened, log);
  const ring = EventRing.create(ringBytes, { nextSeq: opened.nextSeq, gated: true, seqLimit: opened.lease });
  ring.join(JOURNAL_CONSUMER);
  const syncLog = process.env.EVENTD_FAULT_INJECTION === '1' ? process.env.EVENTD_FAULT_SYNC_LOG : undefined;
  const data: JournalThreadData = {
    ring: ring.handles,
    consumer: JOURNAL_CONSUMER,
    journal: {
      dir: opened.dir,
      segments: opened.segments,
      active: opened.active,
      state: opened.state,
      lastSeq: opened.lastSeq,
      recovery: opened.recovery,
    },
    settings: { policy: config.policy, segmentBytes: config.segmentBytes, maxBytes: config.maxBytes, maxAgeMs: config.maxAgeMs },
    syncLog,
  };
  const thread = startThread('journal/thread', data);
  let stopping = false;
  const stopped = new Promise<void>((resolve) => {
    thread.on('message', (message: JournalMessage) => {
      if (message.t === 'log') log[message.level](message.fields, message.msg);
      else if (message.t === 'stopped') resolve();
    });
    thread.once('exit', () => resolve());
  });
  thread.on('error', (error) => {
    log.fatal({ err: error }, 'the journal thread failed');
    if (!stopping) onFailure(error);
  });
  thread.once('exit', (code) => {
    if (!stopping) onFailure(new Error(`the journal thread exited (code ${code})`));
  });
  await new Promise<void>((resolve, reject) => {
    thread.once('message', (message: JournalMessage) => (message.t === 'ready' ? resolve() : undefined));
    thread.once('error', reject);
  });
  const figures = new JournalFigures(ring.sharedNumbers);
  return {
    ring,
    run: opened.run,
    journalDir: opened.dir,
    stats: () => journalStats(opened, config.policy, figures, ring),
    async stop() {
      stopping = true;
      ring.requestJournalStop();
      await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      await thread.terminate();
      closeSync(opened.lockFd);
    },
  };
}

function journalStats(opened: OpenedJournal, policy: FsyncPolicy, figures: JournalFigures, ring: EventRing): JournalStats {
  const oldestTime = figures.get('oldestTimeMs');
  return {
    dir: opened.dir,
    fsync: policy,
    bytes: figures.get('bytes'),
    segments: figures.get('segments'),
    oldest_seq: figures.get('oldestSeq'),
    oldest_time: oldestTime > 0 ? new Date(oldestTime).toISOString() : null,
    written_seq: figures.get('writtenSeq'),
    synced_seq: figures.get('syncedSeq'),
    fsyncs: figures.get('fsyncs'),
    fsync_seconds: figures.get('fsyncSeconds'),
    fsync_max_seconds: figures.get('fsyncMaxSeconds'),
    write_errors: figures.get('writeErrors'),
    writable: !ring.journalFailing,
    damaged: figures.get('damaged'),
    torn_bytes_at_start: figures.get('tornBytes'),
    segments_deleted: figures.get('segmentsDeleted'),
  };
}

/** Says what recovery found and decided: once, at start. */
function logRecovery(opened: OpenedJournal, log: Logger): void {
  const { recovery } = opened;
  if (recovery.tornBytes > 0)
    log.warn(
      { dir: opened.dir, bytes: recovery.tornBytes },
      `journal: cut off a torn record at the end (${recovery.tornBytes} bytes): a crash interrupted its write; it was never acknowledged`,
    );
  for (const damage of recovery.damaged) {
    log.error(
      { dir: opened.dir, ...damage },
      'journal: a damaged record (CRC mismatch) in the last segment; the records around it are kept (eventd journal verify says more)',
    );
  }
  if (recovery.newRun)
    log.warn({ dir: opened.dir, run: opened.run }, `journal: a new run (${recovery.newRun}): clients resuming with since start over`);
  if (recovery.skipped) {
    log.warn(
      { dir: opened.dir, from: recovery.skipped[0], to: recovery.skipped[1] },
      'journal: the host went down without a clean stop under a weak --fsync: ' +
        'seqs that subscribers may have seen and the disk lost are skipped, never reused',
    );
  }
  log.info({ dir: opened.dir, next_seq: opened.nextSeq, run: opened.run, segments: opened.segments.length }, 'journal opened');
}
