// The journal's writer, one more consumer of the ring: it appends every committed record to the
// active segment, byte for byte as it lies in the ring (one writev from shared memory, no copy),
// syncs as the policy says, and then tells the ring what is durable, which is what delivery and
// acks wait for. It runs on a thread of its own (journal/thread.ts), so neither a write nor an
// fdatasync ever blocks a thread that serves connections.
//
//   --fsync always    a record is durable once an fdatasync covers it: one per write, which
//                     covers every record committed meanwhile (group commit)
//   --fsync interval  durable once written (the kernel has it: it survives the process); an
//                     fdatasync at least every second covers it against power loss
//   --fsync never     durable once written; the kernel syncs when it will
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  rmSync,
  writeSync,
  writevSync,
  appendFileSync,
  constants,
} from 'node:fs';
import { basename, join } from 'node:path';
import type { EventRing } from '../ring/event-ring.js';
import { FLAG_VOID, RECORD_MAGIC, recordBytes, recordCrc } from '../ring/record.js';
import { JournalFigures } from './figures.js';
import {
  decodeSegmentHeader,
  encodeIndexEntry,
  encodeSegmentHeader,
  INDEX_EVERY_BYTES,
  indexName,
  SEGMENT_HEADER_BYTES,
  segmentName,
  type FsyncPolicy,
  type JournalState,
} from './format.js';
import { LEASE_STEP, writeState, type OpenedJournal } from './open.js';

export interface JournalSettings {
  policy: FsyncPolicy;
  /** A segment is closed and a new one started past this size. */
  segmentBytes: number;
  /** Retention: whole segments are deleted, oldest first, past this total or this age. */
  maxBytes: number;
  maxAgeMs: number;
}

export type JournalLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** How long a failed write waits before it is tried again. */
const RETRY_MS = 1000;
/** Under --fsync interval, the longest a written record waits for its fdatasync. */
const SYNC_INTERVAL_MS = 1000;
/** At most this much is written per step, so acks and deliveries keep coming under a flood. */
const STEP_BYTES = 4 * 1024 * 1024;

interface Segment {
  firstSeq: number;
  path: string;
  size: number;
  /** Time of its first event (its header's creation time), for retention by age. */
  createdMs: number;
}

interface Active extends Segment {
  fd: number;
  indexFd: number;
  /** Where the last indexed record starts. */
  indexedAt: number;
}

export class JournalWriter {
  private readonly figures: JournalFigures;
  private readonly segments: Segment[];
  private active: Active | undefined;
  private cursor: number;
  private state: JournalState;
  private lastSync = 0;
  /** Written since the last fdatasync of the active segment. */
  private unsynced = false;
  private writtenSeq: number;
  private failing: string | undefined;
  private retryAt = 0;
  /** seqs given up while the journal could not write: written as one void record once it can. */
  private pendingVoid: { from: number; to: number; timeMs: number } | undefined;
  private lastRetention = 0;

  constructor(
    private readonly ring: EventRing,
    private readonly consumer: number,
    private readonly journal: Pick<OpenedJournal, 'dir' | 'segments' | 'active' | 'state' | 'lastSeq' | 'recovery'>,
    private readonly settings: JournalSettings,
    private readonly log: JournalLog,
    /** Fault injection (the power-loss tests): each fdatasync's extent is appended to this file. */
    private readonly syncLog?: string,
  ) {
    this.figures = new JournalFigures(ring.sharedNumbers);
    this.cursor = ring.cursorOf(consumer);
    this.state = { ...journal.state };
    this.writtenSeq = journal.lastSeq;
    this.segments = journal.segments.map((segment) => ({ ...segment, ...segmentFacts(segment.path) }));
    if (journal.active) {
      const fd = openSync(journal.active.path, constants.O_WRONLY | constants.O_NOFOLLOW);
      const indexFd = openSync(
        join(journal.dir, indexName(journal.active.firstSeq)),
        constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
        0o600,
      );
      const last = this.segments.at(-1)!;
      last.size = journal.active.size;
      this.active = { ...last, fd, indexFd, indexedAt: journal.active.indexedAt };
    }
    this.figures.set('writtenSeq', journal.lastSeq);
    this.figures.set('syncedSeq', journal.lastSeq);
    this.figures.set('damaged', journal.recovery.damaged.length);
    this.figures.set('tornBytes', journal.recovery.tornBytes);
    this.updateSizeFigures();
  }

  /**
   * Writes what is committed, syncs as the policy says, publishes what is durable. Returns how
   * long it may wait for new records before it must run again (a sync or a retry due), or
   * undefined when nothing is due.
   */
  step(now = Date.now()): number | undefined {
    if (this.failing !== undefined && now < this.retryAt) {
      this.giveUpCommitted();
      return this.retryAt - now;
    }
    const wrote = this.writeCommitted();
    if (this.failing !== undefined) {
      this.giveUpCommitted();
      return this.retryAt - now;
    }
    if (
      this.unsynced &&
      (this.settings.policy === 'always' || (this.settings.policy === 'interval' && now - this.lastSync >= SYNC_INTERVAL_MS))
    ) {
      this.sync(now);
    }
    if (wrote) this.publish();
    if (this.ring.nextSeq + LEASE_STEP / 2 > this.state.lease) this.extendLease();
    if (now - this.lastRetention >= 1000) this.retain(now);
    if (this.settings.policy === 'interval' && this.unsynced) return Math.max(0, SYNC_INTERVAL_MS - (now - this.lastSync));
    return undefined;
  }

  /** The last step: everything committed is written and synced, and the state says the stop was clean. */
  stop(): void {
    this.writeCommitted();
    if (this.active && this.failing === undefined) this.sync(Date.now());
    this.publish();
    if (this.failing === undefined) {
      this.state = { ...this.state, generation: (this.state.generation + 1) >>> 0, clean: true, lastSeq: this.writtenSeq };
      this.saveState();
    }
    if (this.active) {
      closeSync(this.active.fd);
      closeSync(this.active.indexFd);
      this.active = undefined;
    }
  }

  /** Appends the committed records after the cursor (at most STEP_BYTES of them); false when there were none or a write failed. */
  private writeCommitted(): boolean {
    const head = this.ring.head;
    const start = this.cursor;
    let pos = this.cursor;
    // Records gathered for one write, and where the cursor and the last seq stand once it is done.
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let index: Buffer[] = [];
    let pendingEnd = pos;
    let pendingSeq = this.writtenSeq;
    // What was given up while the journal could not write goes first: the journal says those seqs are lost.
    const voided = this.pendingVoid;
    if (voided && this.active) {
      const record = voidRecord(voided.from, voided.to - voided.from + 1, voided.timeMs);
      pending.push(record);
      pendingBytes += record.length;
    }
    const flush = (): boolean => {
      if (pending.length > 0 && !this.append(pending, pendingBytes, index)) return false;
      if (pending.length > 0 && voided) this.pendingVoid = undefined;
      pending = [];
      pendingBytes = 0;
      index = [];
      this.cursor = pendingEnd;
      this.writtenSeq = pendingSeq;
      this.figures.set('writtenSeq', pendingSeq);
      return true;
    };
    while (pos !== head && pendingBytes < STEP_BYTES) {
      const record = this.ring.recordAt(pos);
      if (record === undefined) break;
      const length = this.ring.lengthAt(pos);
      if (record !== 'pad') {
        const bytes = record.void
          ? voidRecord(record.firstSeq, record.count, record.timeMs)
          : this.ring.bytes.subarray(record.offset, record.offset + length);
        // A new segment once this one is full (between records: a record is never split).
        const full = this.active !== undefined && this.active.size + pendingBytes + bytes.length > this.settings.segmentBytes;
        if (this.active === undefined || (full && this.active.size + pendingBytes > SEGMENT_HEADER_BYTES)) {
          if (!flush() || !this.startSegment(record.firstSeq, record.timeMs)) return this.cursor !== start;
        }
        const at = this.active!.size + pendingBytes;
        if (at - this.active!.indexedAt >= INDEX_EVERY_BYTES) {
          index.push(encodeIndexEntry({ firstSeq: record.firstSeq, timeMs: record.timeMs, offset: at }));
          this.active!.indexedAt = at;
        }
        pending.push(bytes);
        pendingBytes += bytes.length;
        pendingSeq = record.firstSeq + record.count - 1;
      }
      pos = (pos + length) >>> 0;
      pendingEnd = pos;
    }
    flush();
    return this.cursor !== start;
  }

  /** Writes records at the end of the active segment; on failure undoes any part written and starts failing. */
  private append(records: Uint8Array[], bytes: number, index: Buffer[]): boolean {
    const active = this.active!;
    try {
      let written = 0;
      while (written < bytes) {
        const rest = written === 0 ? records : remainder(records, written);
        written += writevSync(active.fd, rest, active.size + written);
      }
      if (index.length > 0) writeSync(active.indexFd, Buffer.concat(index));
    } catch (error) {
      try {
        ftruncateSync(active.fd, active.size);
      } catch {
        // The size it had is what the next try writes at; a failed truncate leaves bytes a restart cuts off.
      }
      this.failed(error as NodeJS.ErrnoException, 'write');
      return false;
    }
    active.size += bytes;
    this.unsynced = true;
    this.recovered();
    this.updateSizeFigures();
    return true;
  }

  /** Starts a new segment for records from `firstSeq` on: its header synced, and the directory entry with it. */
  private startSegment(firstSeq: number, timeMs: number): boolean {
    if (this.active) {
      // The one it replaces is complete: synced now under every policy but never.
      if (this.settings.policy !== 'never' && this.unsynced) this.sync(Date.now());
      closeSync(this.active.fd);
      closeSync(this.active.indexFd);
      this.active = undefined;
    }
    const path = join(this.journal.dir, segmentName(firstSeq));
    let fd: number | undefined;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      writeSync(fd, encodeSegmentHeader({ firstSeq, createdMs: timeMs, run: this.state.run }), 0, SEGMENT_HEADER_BYTES, 0);
      fdatasyncSync(fd);
      syncDirectory(this.journal.dir);
      const indexFd = openSync(
        join(this.journal.dir, indexName(firstSeq)),
        constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_TRUNC,
        0o600,
      );
      this.active = { firstSeq, path, size: SEGMENT_HEADER_BYTES, createdMs: timeMs, fd, indexFd, indexedAt: -INDEX_EVERY_BYTES };
      this.segments.push(this.active);
      this.noteSync(path, SEGMENT_HEADER_BYTES);
      this.updateSizeFigures();
      return true;
    } catch (error) {
      if (fd !== undefined) closeSync(fd);
      rmSync(path, { force: true });
      this.failed(error as NodeJS.ErrnoException, 'create a segment');
      return false;
    }
  }

  private sync(now: number): void {
    if (!this.active) return;
    const started = performance.now();
    try {
      fdatasyncSync(this.active.fd);
    } catch (error) {
      this.failed(error as NodeJS.ErrnoException, 'fdatasync');
      return;
    }
    const seconds = (performance.now() - started) / 1000;
    this.figures.add('fsyncs');
    this.figures.add('fsyncSeconds', seconds);
    if (seconds > this.figures.get('fsyncMaxSeconds')) this.figures.set('fsyncMaxSeconds', seconds);
    this.lastSync = now;
    this.unsynced = false;
    this.figures.set('syncedSeq', this.writtenSeq);
    this.noteSync(this.active.path, this.active.size);
  }

  /**
   * While the journal cannot write, what is committed is given up: its records are voided (no
   * subscriber gets them), its reports refused (not acknowledged), and the seqs they had are
   * written as lost once the journal can write again. So producers hear at once, and no record
   * waits in the ring for a disk that may not come back.
   */
  private giveUpCommitted(): void {
    const head = this.ring.head;
    let pos = this.cursor;
    let from: number | undefined;
    let to = 0;
    let timeMs = 0;
    while (pos !== head) {
      const record = this.ring.recordAt(pos);
      if (record === undefined) break;
      if (record !== 'pad') {
        this.ring.markVoid(pos);
        from ??= record.firstSeq;
        to = record.firstSeq + record.count - 1;
        timeMs = record.timeMs;
      }
      pos = (pos + this.ring.lengthAt(pos)) >>> 0;
    }
    if (from === undefined) return;
    this.pendingVoid = { from: this.pendingVoid?.from ?? from, to, timeMs };
    this.ring.setVoided(this.pendingVoid.from, to);
    this.cursor = pos;
    this.writtenSeq = to;
    this.ring.setDurable(pos, to);
    this.ring.advance(this.consumer, pos);
  }

  /** Tells the ring what may be delivered and acknowledged now. */
  private publish(): void {
    const durable = this.settings.policy === 'always' ? this.figures.get('syncedSeq') : this.writtenSeq;
    if (this.settings.policy === 'always' && this.unsynced) return;
    this.ring.setDurable(this.cursor, durable);
    this.ring.advance(this.consumer, this.cursor);
  }

  private extendLease(): void {
    const lease = this.ring.nextSeq + LEASE_STEP;
    this.state = { ...this.state, generation: (this.state.generation + 1) >>> 0, lease, clean: false };
    if (!this.saveState()) return;
    this.ring.setSeqLimit(lease);
  }

  private saveState(): boolean {
    const path = join(this.journal.dir, 'state');
    try {
      const fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
      try {
        writeState(fd, this.state);
        if (this.syncLog) {
          const bytes = Buffer.alloc(192);
          readSync(fd, bytes, 0, 192, 0);
          appendFileSync(this.syncLog, `state ${bytes.toString('hex')}\n`);
        }
      } finally {
        closeSync(fd);
      }
      return true;
    } catch (error) {
      this.failed(error as NodeJS.ErrnoException, 'write the state file');
      return false;
    }
  }

  private failed(error: NodeJS.ErrnoException, what: string): void {
    this.figures.add('writeErrors');
    this.retryAt = Date.now() + RETRY_MS;
    if (this.failing !== undefined) return;
    this.failing = error.code ?? error.message;
    this.figures.set('failing', 1);
    this.ring.setJournalFailing(true);
    this.log('error', `journal: cannot ${what} (${error.code ?? error.message}): refusing reports until it can; retrying every second`, {
      dir: this.journal.dir,
      err: error.message,
    });
  }

  private recovered(): void {
    if (this.failing === undefined) return;
    this.log('info', 'journal: writing again; reports are accepted', { dir: this.journal.dir, was: this.failing });
    this.failing = undefined;
    this.figures.set('failing', 0);
    this.ring.setJournalFailing(false);
  }

  /** Deletes whole segments, oldest first, past the size or age limit (never the one being written). */
  private retain(now: number): void {
    this.lastRetention = now;
    let total = this.segments.reduce((sum, segment) => sum + segment.size, 0);
    while (this.segments.length > 1) {
      const [oldest, next] = this.segments as [Segment, Segment];
      // A segment's newest event is no newer than the next one's first.
      const tooOld = next.createdMs < now - this.settings.maxAgeMs;
      if (total <= this.settings.maxBytes && !tooOld) break;
      try {
        rmSync(oldest.path, { force: true });
        rmSync(oldest.path.replace(/\.seg$/, '.idx'), { force: true });
      } catch (error) {
        this.log('warn', 'journal: cannot delete an old segment', { path: oldest.path, err: (error as Error).message });
        break;
      }
      this.segments.shift();
      total -= oldest.size;
      this.figures.add('segmentsDeleted');
      this.log(
        'info',
        `journal: deleted ${basename(oldest.path)} (${tooOld ? 'older than --journal-max-age' : 'over --journal-max-bytes'})`,
        {
          seqs_from: oldest.firstSeq,
        },
      );
    }
    this.updateSizeFigures();
  }

  private updateSizeFigures(): void {
    this.figures.set(
      'bytes',
      this.segments.reduce((sum, segment) => sum + segment.size, 0),
    );
    this.figures.set('segments', this.segments.length);
    const oldest = this.segments[0];
    this.figures.set('oldestSeq', oldest ? oldest.firstSeq : this.writtenSeq + 1);
    this.figures.set('oldestTimeMs', oldest ? oldest.createdMs : 0);
  }

  /** Fault injection: what an fdatasync made durable (the power-loss tests keep only that). */
  private noteSync(path: string, size: number): void {
    if (this.syncLog) appendFileSync(this.syncLog, `seg ${basename(path)} ${size}\n`);
  }
}

/** What a segment's file says of itself: its size and its header's time. */
function segmentFacts(path: string): { size: number; createdMs: number } {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
    readSync(fd, header, 0, SEGMENT_HEADER_BYTES, 0);
    const decoded = decodeSegmentHeader(header);
    return { size: fstatSync(fd).size, createdMs: typeof decoded === 'string' ? 0 : decoded.createdMs };
  } finally {
    closeSync(fd);
  }
}

/** A record for events lost before they were written (a writer died mid-record): their seqs, and no lines. */
function voidRecord(firstSeq: number, count: number, timeMs: number): Uint8Array {
  const bytes = Buffer.alloc(recordBytes(count, 0));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint32(0, RECORD_MAGIC, true);
  view.setUint32(4, bytes.length, true);
  view.setFloat64(8, firstSeq, true);
  view.setFloat64(16, timeMs, true);
  view.setUint32(24, count, true);
  view.setUint32(32, 0, true);
  view.setUint32(36, FLAG_VOID, true);
  view.setUint32(28, recordCrc(bytes, 0, bytes.length), true);
  return bytes;
}

/** The buffers after the first `skip` bytes of them (a writev that wrote only part). */
function remainder(buffers: Uint8Array[], skip: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    out.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return out;
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
