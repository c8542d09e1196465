// The journal on disk, in one directory (0700, the daemon's own):
//
//   lock                    held (flock) by the daemon using the journal; says its pid
//   state                   two 96-byte slots, written in turn (one torn write leaves the other):
//                           the run id, whether the last stop was clean (and at which seq), the
//                           seq lease, the boot id and the fsync policy of the daemon that wrote it
//   <first seq>.seg         a segment: a 64-byte header, then records exactly as in the ring
//                           (ring/record.ts: a CRC each), appended and never rewritten
//   <first seq>.idx         every ~64 KiB of its segment: (first seq, time, offset) of a record,
//                           so a seq or a time is found without scanning; rebuilt when damaged
//
// Numbers are in the host's byte order (little-endian on x86-64 and arm64, which the journal
// checks at start).
import { crc32 } from 'node:zlib';

export const SEGMENT_HEADER_BYTES = 64;
const SEGMENT_MAGIC = 'EVTDJRN1';
const STATE_MAGIC = 'EVTDSTA1';
export const STATE_SLOT_BYTES = 96;
export const INDEX_ENTRY_BYTES = 24;
/** A record is indexed when this many bytes of its segment came since the last indexed one. */
export const INDEX_EVERY_BYTES = 64 * 1024;

export const SEGMENT_SUFFIX = '.seg';
export const INDEX_SUFFIX = '.idx';

export type FsyncPolicy = 'always' | 'interval' | 'never';
export const FSYNC_POLICIES: readonly FsyncPolicy[] = ['never', 'interval', 'always'];

/** A segment's file name: its first seq, zero-padded so names sort in seq order. */
export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}${SEGMENT_SUFFIX}`;
}

export function indexName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}${INDEX_SUFFIX}`;
}

/** The first seq a segment file name says, or undefined for any other file. */
export function segmentFirstSeq(name: string): number | undefined {
  const match = /^(\d{20})\.seg$/.exec(name);
  const seq = match ? Number(match[1]) : NaN;
  return Number.isSafeInteger(seq) && seq >= 1 ? seq : undefined;
}

export interface SegmentHeader {
  firstSeq: number;
  createdMs: number;
  run: string;
}

export function encodeSegmentHeader(header: SegmentHeader): Buffer {
  const out = Buffer.alloc(SEGMENT_HEADER_BYTES);
  out.write(SEGMENT_MAGIC, 0, 'latin1');
  out.writeUInt32LE(1, 8);
  out.writeUInt32LE(SEGMENT_HEADER_BYTES, 12);
  out.writeDoubleLE(header.firstSeq, 16);
  out.writeDoubleLE(header.createdMs, 24);
  uuidBytes(header.run).copy(out, 32);
  out.writeUInt32LE(crc32(out.subarray(0, 60)), 60);
  return out;
}

/** The header, or why it is not one. */
export function decodeSegmentHeader(bytes: Buffer): SegmentHeader | string {
  if (bytes.length < SEGMENT_HEADER_BYTES) return `a header of ${bytes.length} bytes (a segment's is ${SEGMENT_HEADER_BYTES})`;
  if (bytes.toString('latin1', 0, 8) !== SEGMENT_MAGIC) return 'not an eventd journal segment (no EVTDJRN1 at its start)';
  if (bytes.readUInt32LE(8) !== 1) return `segment format version ${bytes.readUInt32LE(8)}, which this eventd does not read`;
  if (bytes.readUInt32LE(60) !== crc32(bytes.subarray(0, 60))) return 'its header is damaged (CRC mismatch)';
  return { firstSeq: bytes.readDoubleLE(16), createdMs: bytes.readDoubleLE(24), run: uuidText(bytes.subarray(32, 48)) };
}

/** What the state file says about the journal. */
export interface JournalState {
  generation: number;
  run: string;
  /** Seqs up to this one may have been given out (the lease). */
  lease: number;
  /** The daemon stopped cleanly, its last event being `lastSeq`. */
  clean: boolean;
  lastSeq: number;
  bootId: string;
  policy: FsyncPolicy;
}

export function encodeState(state: JournalState): Buffer {
  const out = Buffer.alloc(STATE_SLOT_BYTES);
  out.write(STATE_MAGIC, 0, 'latin1');
  out.writeUInt32LE(state.generation >>> 0, 8);
  out.writeUInt32LE((state.clean ? 1 : 0) | (FSYNC_POLICIES.indexOf(state.policy) << 8), 12);
  out.writeDoubleLE(state.lease, 16);
  out.writeDoubleLE(state.lastSeq, 24);
  uuidBytes(state.run).copy(out, 32);
  uuidBytes(state.bootId).copy(out, 48);
  out.writeUInt32LE(crc32(out.subarray(0, 64)), 64);
  return out;
}

/** The newest valid slot of a state file's bytes, or undefined if neither is valid. */
export function decodeState(bytes: Buffer): JournalState | undefined {
  let best: JournalState | undefined;
  for (let slot = 0; slot + STATE_SLOT_BYTES <= bytes.length && slot < 2 * STATE_SLOT_BYTES; slot += STATE_SLOT_BYTES) {
    const s = bytes.subarray(slot, slot + STATE_SLOT_BYTES);
    if (s.toString('latin1', 0, 8) !== STATE_MAGIC || s.readUInt32LE(64) !== crc32(s.subarray(0, 64))) continue;
    const flags = s.readUInt32LE(12);
    const state: JournalState = {
      generation: s.readUInt32LE(8),
      clean: (flags & 1) !== 0,
      policy: FSYNC_POLICIES[(flags >> 8) & 0xff] ?? 'never',
      lease: s.readDoubleLE(16),
      lastSeq: s.readDoubleLE(24),
      run: uuidText(s.subarray(32, 48)),
      bootId: uuidText(s.subarray(48, 64)),
    };
    // Generations count up; a slot whose generation is one more (mod 2^32) is the newer.
    if (best === undefined || ((state.generation - best.generation) | 0) > 0) best = state;
  }
  return best;
}

/** Which slot a generation is written to (they alternate). */
export function stateSlot(generation: number): number {
  return (generation % 2) * STATE_SLOT_BYTES;
}

export interface IndexEntry {
  firstSeq: number;
  timeMs: number;
  offset: number;
}

export function encodeIndexEntry(entry: IndexEntry): Buffer {
  const out = Buffer.alloc(INDEX_ENTRY_BYTES);
  out.writeDoubleLE(entry.firstSeq, 0);
  out.writeDoubleLE(entry.timeMs, 8);
  out.writeDoubleLE(entry.offset, 16);
  return out;
}

export function decodeIndex(bytes: Buffer): IndexEntry[] {
  const entries: IndexEntry[] = [];
  for (let at = 0; at + INDEX_ENTRY_BYTES <= bytes.length; at += INDEX_ENTRY_BYTES) {
    entries.push({ firstSeq: bytes.readDoubleLE(at), timeMs: bytes.readDoubleLE(at + 8), offset: bytes.readDoubleLE(at + 16) });
  }
  return entries;
}

function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  return /^[0-9a-f]{32}$/i.test(hex) ? Buffer.from(hex, 'hex') : Buffer.alloc(16);
}

function uuidText(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
