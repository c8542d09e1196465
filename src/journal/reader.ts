// Reading the journal back, for a `since` replay older than the ring (in a delivery worker, with
// async reads that never block its connections), for `since` by time, and for `eventd journal
// dump`. A seq or a time is found through the segment names and their indexes, then by reading
// forward from the indexed record before it: never by scanning the whole journal. Every record read
// is checked (its CRC): a damaged one is skipped, and its events count as missed.
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { allocateBatch, type EventBatch } from '../ipc/batch.js';
import { linesOffset, RECORD_MAGIC, type RecordHeader } from '../ring/record.js';
import { decodeIndex, INDEX_SUFFIX, segmentFirstSeq, SEGMENT_HEADER_BYTES, type IndexEntry } from './format.js';
import { goodRecordAt } from './scan.js';

/** Bytes read from a segment at a time. */
const CHUNK_BYTES = 256 * 1024;
/** No record is larger (a ring is at most 1 GiB, and a record at most half of one). */
const MAX_RECORD_BYTES = 1 << 29;

export interface JournalRead {
  /** Events after `since`, oldest first. */
  batches: EventBatch[];
  /** seq of the first event read (past since + 1 when the journal no longer has the ones between). */
  firstSeq: number | undefined;
  /** The seq after the last event read (where the next read starts). */
  nextSeq: number;
}

interface SegmentRef {
  firstSeq: number;
  path: string;
}

export class JournalReader {
  /** Indexes by segment path, with the size of the index file they were read at. */
  private readonly indexes = new Map<string, { entries: IndexEntry[]; bytes: number }>();

  constructor(readonly dir: string) {}

  async segments(): Promise<SegmentRef[]> {
    const names = await readdir(this.dir);
    return names
      .map((name) => ({ name, firstSeq: segmentFirstSeq(name) }))
      .filter((entry): entry is { name: string; firstSeq: number } => entry.firstSeq !== undefined)
      .sort((a, b) => a.firstSeq - b.firstSeq)
      .map(({ name, firstSeq }) => ({ firstSeq, path: join(this.dir, name) }));
  }

  /**
   * Events with seq > since and seq < beforeSeq, about maxBytes of them (whole records past the
   * first), read from the segments.
   */
  async read(since: number, beforeSeq: number, maxBytes: number): Promise<JournalRead> {
    const segments = await this.segments();
    const batches: EventBatch[] = [];
    let bytes = 0;
    let firstSeq: number | undefined;
    let nextSeq = since + 1;
    // The segment that holds since + 1: the last one starting at or before it.
    let i = lastAtOrBefore(segments, (segment) => segment.firstSeq <= since + 1);
    if (i < 0) i = 0;
    for (; i < segments.length && bytes < maxBytes && nextSeq < beforeSeq; i++) {
      const segment = segments[i]!;
      const start = await this.offsetFor(segment.path, (entry) => entry.firstSeq <= nextSeq);
      await this.walk(segment.path, start, (header, bytesOf) => {
        const last = header.firstSeq + header.count - 1;
        if (last < nextSeq) return true;
        if (header.firstSeq >= beforeSeq || bytes >= maxBytes) return false;
        const from = Math.max(0, nextSeq - header.firstSeq);
        const until = Math.min(header.count, beforeSeq - header.firstSeq);
        if (until > from && !(header.flags & 1)) {
          const batch = recordBatch(bytesOf(), header, from, until);
          batches.push(batch);
          bytes += batch.bytes.length;
          firstSeq ??= header.firstSeq + from;
        }
        nextSeq = header.firstSeq + until;
        return until === header.count;
      });
    }
    return { batches, firstSeq, nextSeq };
  }

  /** The seq of the first event at or after `timeMs` in the journal, or undefined if every event is older. */
  async seqAtTime(timeMs: number): Promise<number | undefined> {
    const segments = await this.segments();
    // The last segment whose first indexed record is older than the time: the event is in it or after.
    const firstTimes = await Promise.all(
      segments.map(async (segment) => (await this.index(segment.path))[0]?.timeMs ?? Number.NEGATIVE_INFINITY),
    );
    let i = lastAtOrBefore(segments, (_, k) => firstTimes[k]! < timeMs);
    if (i < 0) i = 0;
    for (; i < segments.length; i++) {
      const path = segments[i]!.path;
      const start = await this.offsetFor(path, (entry) => entry.timeMs < timeMs);
      let found: number | undefined;
      await this.walk(path, start, (header) => {
        if (header.timeMs >= timeMs) {
          found = header.firstSeq;
          return false;
        }
        return true;
      });
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** Calls `visit` with each good record from `start` on, until it returns false or the segment ends. */
  async walk(path: string, start: number, visit: (header: RecordHeader, bytes: () => Buffer) => boolean): Promise<void> {
    const file = await open(path, 'r');
    try {
      let offset = start;
      let buffer = Buffer.alloc(CHUNK_BYTES);
      for (;;) {
        const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
        const chunk = buffer.subarray(0, bytesRead);
        const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        let at = 0;
        let grow = 0;
        while (at + 40 <= chunk.length) {
          const state = view.getUint32(at, true);
          const length = view.getUint32(at + 4, true);
          if (state !== RECORD_MAGIC || length % 8 !== 0 || length < 40) {
            at += 8; // damaged: look for the next record (what lies between counts as missed)
            continue;
          }
          if (at + length > chunk.length) {
            if (bytesRead === buffer.length && length <= MAX_RECORD_BYTES) {
              // Not all read yet: read again from it, with room for it if it is larger than the buffer.
              if (at === 0) grow = length;
              break;
            }
            // The segment ends before it would (a damaged length, or a record still being written): look past it.
            at += 8;
            continue;
          }
          const header = goodRecordAt(chunk, view, at);
          if (header === undefined) {
            at += 8;
            continue;
          }
          const recordStart = at;
          if (!visit(header, () => chunk.subarray(recordStart, recordStart + header.length))) return;
          at += header.length;
        }
        if (grow > 0) {
          buffer = Buffer.alloc(grow);
          continue;
        }
        // Nothing more to read: the end of the segment, or a record cut short there (being written, or torn).
        if (at === 0) return;
        offset += at;
      }
    } finally {
      await file.close();
    }
  }

  /** The offset of the last indexed record satisfying `before` (the segment's first record when none does). */
  private async offsetFor(path: string, before: (entry: IndexEntry) => boolean): Promise<number> {
    const entries = await this.index(path);
    const k = lastAtOrBefore(entries, before);
    return k < 0 ? SEGMENT_HEADER_BYTES : entries[k]!.offset;
  }

  /** A segment's index, read again when it has grown (the active segment's does). */
  private async index(path: string): Promise<IndexEntry[]> {
    const indexPath = path.slice(0, -4) + INDEX_SUFFIX;
    let bytes: Buffer;
    try {
      bytes = await readFile(indexPath);
    } catch {
      return [];
    }
    const cached = this.indexes.get(path);
    if (cached && cached.bytes === bytes.length) return cached.entries;
    const entries = decodeIndex(bytes).filter((entry) => Number.isSafeInteger(entry.offset) && entry.offset >= SEGMENT_HEADER_BYTES);
    this.indexes.set(path, { entries, bytes: bytes.length });
    return entries;
  }
}

/** Index of the last element (in an ascending list) for which `test` holds, or -1. */
function lastAtOrBefore<T>(items: readonly T[], test: (item: T, index: number) => boolean): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (test(items[mid]!, mid)) low = mid + 1;
    else high = mid;
  }
  return low - 1;
}

/** Events [from, until) of a record read from disk, as a batch of their own. */
export function recordBatch(record: Buffer, header: RecordHeader, from = 0, until = header.count): EventBatch {
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const end = (i: number) => (i === 0 ? 0 : view.getUint32(40 + (i - 1) * 4, true));
  const start = end(from);
  const size = end(until) - start;
  const lines = linesOffset(header.count);
  const batch = allocateBatch(header.firstSeq + from, until - from, size);
  batch.bytes.set(record.subarray(lines + start, lines + start + size));
  for (let i = from; i < until; i++) batch.ends[i - from] = end(i + 1) - start;
  batch.types.set(record.subarray(40 + header.count * 4 + from, 40 + header.count * 4 + until));
  return batch;
}
