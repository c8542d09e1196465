// Reading records back from a segment's bytes: each is checked (its sizes, then its CRC). A record
// that fails is skipped by looking for the next good one (records are 8-byte aligned and start
// with a magic word); what lies between is reported as damaged. Damage with no good record after
// it is a torn tail: what a crash or power loss left half-written at the end of the last segment.
import { plausible, readHeader, recordCrc, type RecordHeader } from '../ring/record.js';

export interface ScannedRecord {
  offset: number;
  header: RecordHeader;
}

export interface Damage {
  /** Where the damaged bytes start in the segment, and how many there are. */
  offset: number;
  length: number;
  /** The seqs lost with them, when the records on both sides tell (undefined at a segment's edges). */
  firstSeq: number | undefined;
  lastSeq: number | undefined;
}

export interface ScanResult {
  records: ScannedRecord[];
  /** Damaged ranges in the middle (with a good record after them). */
  damaged: Damage[];
  /** Bytes at the end that hold no good record (a torn tail), and where the good part ends. */
  tornBytes: number;
  goodEnd: number;
}

/** Whether a good record starts at `offset` of `bytes`. */
export function goodRecordAt(bytes: Buffer, view: DataView, offset: number): RecordHeader | undefined {
  if (offset + 40 > bytes.length) return undefined;
  const header = readHeader(view, offset);
  if (!plausible(header, bytes.length - offset)) return undefined;
  return recordCrc(bytes, offset, header.length) === header.crc ? header : undefined;
}

/** Scans records from `start` to the end of `bytes` (a whole segment, or a part read from a known record on). */
export function scanRecords(bytes: Buffer, start: number): ScanResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: ScannedRecord[] = [];
  const damaged: Damage[] = [];
  let offset = start;
  while (offset < bytes.length) {
    const header = goodRecordAt(bytes, view, offset);
    if (header) {
      records.push({ offset, header });
      offset += header.length;
      continue;
    }
    const next = nextGoodRecord(bytes, view, offset + 8);
    if (next === undefined) break;
    const before = records.at(-1)?.header;
    const after = goodRecordAt(bytes, view, next)!;
    damaged.push({
      offset,
      length: next - offset,
      firstSeq: before ? before.firstSeq + before.count : undefined,
      lastSeq: after.firstSeq - 1,
    });
    offset = next;
  }
  return { records, damaged, tornBytes: bytes.length - offset, goodEnd: offset };
}

/** The next 8-aligned offset from `from` where a good record starts. */
function nextGoodRecord(bytes: Buffer, view: DataView, from: number): number | undefined {
  for (let offset = from; offset + 40 <= bytes.length; offset += 8) {
    if (goodRecordAt(bytes, view, offset)) return offset;
  }
  return undefined;
}
