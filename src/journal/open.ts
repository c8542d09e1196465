// Opening the journal at start: lock it, read what the last daemon left, cut off a torn last
// record, and decide the seq the first new event gets and the run id clients see.
//
// No seq is ever given to two different events. A subscriber may see an event only once the
// journal has written it (or synced it, under --fsync always), so after a process crash (SIGKILL,
// OOM: the kernel still holds what was written) the journal has everything anyone saw, and seq
// goes on from its last event. After a power loss or a reboot under a weaker policy, events a
// subscriber saw may be gone from the disk; then seq goes on past the lease, the highest seq the
// previous daemon could have given (kept, synced, in the state file), and the gap shows as missed
// events. The run id changes only when the history is broken: the journal is new, or the state
// file is lost, or events the last clean stop had are missing.
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  fdatasyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
  constants,
} from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import {
  decodeSegmentHeader,
  decodeState,
  encodeIndexEntry,
  encodeState,
  INDEX_EVERY_BYTES,
  SEGMENT_HEADER_BYTES,
  segmentFirstSeq,
  stateSlot,
  type FsyncPolicy,
  type JournalState,
} from './format.js';
import { ensureJournalDirectory, lockJournal } from './directory.js';
import { scanRecords, type Damage } from './scan.js';

/** Seqs the state file's lease reaches past the last one given; extended (and synced) as they are used. */
export const LEASE_STEP = 1_000_000;

export interface SegmentFile {
  firstSeq: number;
  path: string;
}

/** What opening the journal found and decided. */
export interface OpenedJournal {
  dir: string;
  lockFd: number;
  run: string;
  /** The seq the first new event gets. */
  nextSeq: number;
  /** Seqs may be given up to here (synced in the state file). */
  lease: number;
  state: JournalState;
  segments: SegmentFile[];
  /** The last segment, to append to (its size after recovery), if there is one. */
  active: { firstSeq: number; path: string; size: number; indexedAt: number } | undefined;
  /** seq of the newest event in the journal (0 when empty). */
  lastSeq: number;
  /** What recovery did: bytes of a torn record cut off, damaged ranges found in the last segment, why the run changed, seqs skipped. */
  recovery: { tornBytes: number; damaged: Damage[]; newRun: string | undefined; skipped: [number, number] | undefined };
}

/** The boot id: a reboot changes it (EVENTD_BOOT_ID stands in for one under EVENTD_FAULT_INJECTION, for the power-loss tests). */
export function currentBootId(env: NodeJS.ProcessEnv = process.env): string {
  if (env.EVENTD_FAULT_INJECTION === '1' && env.EVENTD_BOOT_ID) return env.EVENTD_BOOT_ID;
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '00000000-0000-0000-0000-000000000000';
  }
}

export function listSegments(dir: string): SegmentFile[] {
  return readdirSync(dir)
    .map((name) => ({ name, firstSeq: segmentFirstSeq(name) }))
    .filter((entry): entry is { name: string; firstSeq: number } => entry.firstSeq !== undefined)
    .sort((a, b) => a.firstSeq - b.firstSeq)
    .map(({ name, firstSeq }) => ({ firstSeq, path: join(dir, name) }));
}

export function openJournal(requestedDir: string, policy: FsyncPolicy, env: NodeJS.ProcessEnv = process.env): OpenedJournal {
  if (endianness() !== 'LE') throw new Error('the journal is written in little-endian byte order; this host is big-endian');
  const dir = ensureJournalDirectory(requestedDir);
  const lockFd = lockJournal(dir);
  try {
    return recover(dir, lockFd, policy, env);
  } catch (error) {
    closeSync(lockFd);
    throw error;
  }
}

function recover(dir: string, lockFd: number, policy: FsyncPolicy, env: NodeJS.ProcessEnv): OpenedJournal {
  let segments = listSegments(dir);
  const recovery: OpenedJournal['recovery'] = { tornBytes: 0, damaged: [], newRun: undefined, skipped: undefined };
  let active: OpenedJournal['active'];
  let lastSeq = 0;
  // The newest segment holding a record: one created just before a crash may hold none.
  while (segments.length > 0) {
    const last = segments.at(-1)!;
    const found = recoverSegment(last.path);
    if (found === 'damaged') {
      // Not a journal segment any more: kept aside for a look, and the journal goes on without it.
      renameSync(last.path, `${last.path}.damaged`);
      recovery.damaged.push({ offset: 0, length: -1, firstSeq: last.firstSeq, lastSeq: undefined });
      segments = segments.slice(0, -1);
      continue;
    }
    recovery.tornBytes += found.tornBytes;
    recovery.damaged.push(...found.damaged);
    if (found.lastSeq !== undefined || (segments.length === 1 && found.header !== undefined)) {
      active = { firstSeq: last.firstSeq, path: last.path, size: found.size, indexedAt: found.indexedAt };
      lastSeq = found.lastSeq ?? last.firstSeq - 1;
      break;
    }
    // Empty (created, then the daemon stopped before writing to it): it holds nothing to keep.
    rmSync(last.path, { force: true });
    rmSync(last.path.replace(/\.seg$/, '.idx'), { force: true });
    segments = segments.slice(0, -1);
  }

  const statePath = join(dir, 'state');
  const stateFd = openSync(statePath, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    const bytes = Buffer.alloc(2 * 96);
    const read = readSync(stateFd, bytes, 0, bytes.length, 0);
    const previous = decodeState(bytes.subarray(0, read));
    const bootId = currentBootId(env);
    const decided = decide(previous, lastSeq, segments.length > 0, bootId);
    recovery.newRun = decided.newRun;
    recovery.skipped = decided.newRun === undefined && decided.nextSeq > lastSeq + 1 ? [lastSeq + 1, decided.nextSeq - 1] : undefined;
    const state: JournalState = {
      generation: ((previous?.generation ?? 0) + 1) >>> 0,
      run: decided.run,
      lease: decided.nextSeq - 1 + LEASE_STEP,
      clean: false,
      lastSeq: 0,
      bootId,
      policy,
    };
    writeState(stateFd, state);
    return { dir, lockFd, run: state.run, nextSeq: decided.nextSeq, lease: state.lease, state, segments, active, lastSeq, recovery };
  } finally {
    closeSync(stateFd);
  }
}

/** The next seq and the run, from what the last daemon left (see the top of this file). */
function decide(
  previous: JournalState | undefined,
  lastSeq: number,
  hasSegments: boolean,
  bootId: string,
): { nextSeq: number; run: string; newRun: string | undefined } {
  if (previous === undefined) {
    const why = hasSegments ? 'the state file is missing or damaged' : undefined;
    return { nextSeq: lastSeq + 1, run: randomUUID(), newRun: why ?? 'a new journal' };
  }
  if (previous.clean) {
    if (previous.lastSeq > lastSeq) {
      return {
        nextSeq: previous.lastSeq + 1,
        run: randomUUID(),
        newRun: `events up to seq ${previous.lastSeq} were journaled, but only ${lastSeq} are there`,
      };
    }
    return { nextSeq: lastSeq + 1, run: previous.run, newRun: undefined };
  }
  // A crash: what the kernel held is on disk, unless the host went down with it.
  const sameBoot = previous.bootId === bootId;
  if (sameBoot || previous.policy === 'always') return { nextSeq: lastSeq + 1, run: previous.run, newRun: undefined };
  return { nextSeq: Math.max(lastSeq, previous.lease) + 1, run: previous.run, newRun: undefined };
}

/** Writes the state into its slot (they alternate) and syncs it: what a restart will read. */
export function writeState(fd: number, state: JournalState): void {
  writeSync(fd, encodeState(state), 0, undefined, stateSlot(state.generation));
  fdatasyncSync(fd);
}

/** Checks a segment, cuts off a torn tail, rewrites its index; its last seq (undefined when it holds no record). */
function recoverSegment(path: string):
  | {
      header: ReturnType<typeof decodeSegmentHeader> | undefined;
      lastSeq: number | undefined;
      size: number;
      indexedAt: number;
      tornBytes: number;
      damaged: Damage[];
    }
  | 'damaged' {
  const bytes = readFileSync(path);
  const header = decodeSegmentHeader(bytes);
  if (typeof header === 'string') {
    // A segment whose header never made it to disk holds nothing (records come after it).
    if (bytes.length < SEGMENT_HEADER_BYTES || bytes.subarray(0, SEGMENT_HEADER_BYTES).every((b) => b === 0)) {
      return { header: undefined, lastSeq: undefined, size: 0, indexedAt: 0, tornBytes: bytes.length, damaged: [] };
    }
    return 'damaged';
  }
  const scan = scanRecords(bytes, SEGMENT_HEADER_BYTES);
  if (scan.tornBytes > 0) {
    const fd = openSync(path, 'r+');
    try {
      ftruncateSync(fd, scan.goodEnd);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  for (const damage of scan.damaged) damage.firstSeq ??= header.firstSeq;
  // The index of the segment appended to is rebuilt: it was never synced.
  const index: Buffer[] = [];
  let indexedAt = -INDEX_EVERY_BYTES;
  for (const { offset, header: record } of scan.records) {
    if (offset - indexedAt < INDEX_EVERY_BYTES) continue;
    index.push(encodeIndexEntry({ firstSeq: record.firstSeq, timeMs: record.timeMs, offset }));
    indexedAt = offset;
  }
  const indexFd = openSync(path.replace(/\.seg$/, '.idx'), 'w', 0o600);
  try {
    writeSync(indexFd, Buffer.concat(index));
  } finally {
    closeSync(indexFd);
  }
  const last = scan.records.at(-1)?.header;
  return {
    header,
    lastSeq: last ? last.firstSeq + last.count - 1 : undefined,
    size: scan.goodEnd,
    indexedAt,
    tornBytes: scan.tornBytes,
    damaged: scan.damaged,
  };
}
