// A run of consecutive events as it travels from the main thread to the workers: the native lines
// as UTF-8 bytes, plus compact offsets and type codes. Posting a batch is one memcpy per worker,
// the history keeps the main thread's copy, and a subscriber that takes everything gets the whole
// run in a single write of those bytes. Keeping the lines off the JS heap matters: a turn's worth
// of event strings surviving scavenges cost the main thread about a quarter of its time in
// garbage collection. (Not a SharedArrayBuffer: a worker allocates so little that its garbage
// collector, and with it the release of shared memory, would lag far behind.)
import { EVENT_TYPES, type EventType } from '../protocol/event-types.js';
import { osctldLine, parseEventOpts } from '../protocol/wire.js';

/** A batch's arrays live in one ArrayBuffer, so posting it clones one buffer, not three. */
export interface EventBatch {
  /** seq of the first event; the others follow without gaps. */
  firstSeq: number;
  /** The native lines, UTF-8, concatenated. */
  bytes: Uint8Array;
  /** End offset (exclusive, in bytes) of each line in `bytes`. */
  ends: Uint32Array;
  /** eventTypeCode() of each event. */
  types: Uint8Array;
}

/** Accumulates encoded lines in reusable scratch space; `take` copies them out as one batch. */
export class BatchBuilder {
  private scratch = Buffer.allocUnsafe(256 * 1024);
  private used = 0;
  private ends = new Uint32Array(4096);
  private types = new Uint8Array(4096);
  private count = 0;

  get length(): number {
    return this.count;
  }

  get byteLength(): number {
    return this.used;
  }

  add(line: string, typeCode: number): void {
    // A UTF-16 unit is at most 3 UTF-8 bytes.
    if (this.used + line.length * 3 > this.scratch.length) this.growScratch(line.length * 3);
    if (this.count === this.ends.length) this.growIndex();
    this.used += this.scratch.write(line, this.used, 'utf8');
    this.ends[this.count] = this.used;
    this.types[this.count++] = typeCode;
  }

  /** A line copied from bytes already encoded, `source[start, end)`, closed with `}` and its newline (a producer's own report). */
  addClosed(source: Uint8Array, start: number, end: number, typeCode: number): void {
    const size = end - start + 2;
    if (this.used + size > this.scratch.length) this.growScratch(size);
    if (this.count === this.ends.length) this.growIndex();
    this.scratch.set(source.subarray(start, end), this.used);
    this.used += end - start;
    this.scratch[this.used++] = 0x7d;
    this.scratch[this.used++] = 0x0a;
    this.ends[this.count] = this.used;
    this.types[this.count++] = typeCode;
  }

  /** What was added since the last clear, without copying (valid until the next add or clear). */
  view(): { bytes: Uint8Array; ends: Uint32Array; types: Uint8Array; count: number; byteLength: number } {
    return { bytes: this.scratch, ends: this.ends, types: this.types, count: this.count, byteLength: this.used };
  }

  clear(): void {
    this.used = 0;
    this.count = 0;
  }

  /** The lines added since the last take, as a batch starting at `firstSeq` (0: reports not yet sequenced). */
  take(firstSeq: number): EventBatch {
    const batch = allocateBatch(firstSeq, this.count, this.used);
    batch.bytes.set(this.scratch.subarray(0, this.used));
    batch.ends.set(this.ends.subarray(0, this.count));
    batch.types.set(this.types.subarray(0, this.count));
    this.used = 0;
    this.count = 0;
    return batch;
  }

  private growScratch(atLeast: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.used + atLeast));
    this.scratch.copy(bigger, 0, 0, this.used);
    this.scratch = bigger;
  }

  private growIndex(): void {
    const ends = new Uint32Array(this.ends.length * 2);
    ends.set(this.ends);
    const types = new Uint8Array(this.types.length * 2);
    types.set(this.types);
    this.ends = ends;
    this.types = types;
  }
}

/**
 * An empty batch of `count` events and `size` bytes, its three arrays in one ArrayBuffer: `memory`
 * if given (it must be large enough; what it held is overwritten), else a new one.
 */
export function allocateBatch(firstSeq: number, count: number, size: number, memory?: ArrayBuffer): EventBatch {
  // The offsets first: a Uint32Array must start at a multiple of 4.
  if (memory !== undefined && memory.byteLength < count * 5 + size) throw new RangeError('the memory given is too small for the batch');
  const buffer = memory ?? new ArrayBuffer(count * 5 + size);
  return {
    firstSeq,
    ends: new Uint32Array(buffer, 0, count),
    types: new Uint8Array(buffer, count * 4, count),
    bytes: new Uint8Array(buffer, count * 5, size),
  };
}

export function encodeBatch(firstSeq: number, lines: readonly string[], typeCodes: readonly number[]): EventBatch {
  const builder = new BatchBuilder();
  lines.forEach((line, i) => builder.add(line, typeCodes[i]!));
  return builder.take(firstSeq);
}

/** Events [from, to) of a batch (indices, not seqs); shares the bytes. */
export function sliceBatch(batch: EventBatch, from: number, to = batch.ends.length): EventBatch {
  if (from === 0 && to === batch.ends.length) return batch;
  const start = from === 0 ? 0 : batch.ends[from - 1]!;
  const end = to === 0 ? 0 : batch.ends[to - 1]!;
  const ends = batch.ends.slice(from, to);
  for (let i = 0; i < ends.length; i++) ends[i]! -= start;
  return { firstSeq: batch.firstSeq + from, bytes: batch.bytes.subarray(start, end), ends, types: batch.types.slice(from, to) };
}

/** Consecutive batches as one: a worker that fell behind catches up with one message and one write. */
export function mergeBatches(batches: readonly EventBatch[]): EventBatch {
  if (batches.length === 1) return batches[0]!;
  let count = 0;
  let size = 0;
  for (const batch of batches) {
    count += batch.ends.length;
    size += batch.bytes.length;
  }
  const merged = allocateBatch(batches[0]!.firstSeq, count, size);
  const { bytes, ends, types } = merged;
  let at = 0;
  let offset = 0;
  for (const batch of batches) {
    bytes.set(batch.bytes, offset);
    for (let i = 0; i < batch.ends.length; i++) ends[at + i] = batch.ends[i]! + offset;
    types.set(batch.types, at);
    at += batch.ends.length;
    offset += batch.bytes.length;
  }
  return merged;
}

/** Read access to a batch, decoding what filtered subscribers need at most once per event. */
export class BatchView {
  readonly count: number;
  readonly lastSeq: number;
  /** The whole batch, shared by every subscriber that takes it all (a view, not a copy). */
  readonly buffer: Buffer;
  private lines: (string | undefined)[] = [];
  private osctld: (string | undefined)[] = [];
  private opts: (Record<string, unknown> | undefined)[] = [];

  constructor(readonly batch: EventBatch) {
    this.count = batch.ends.length;
    this.lastSeq = batch.firstSeq + this.count - 1;
    this.buffer = Buffer.from(batch.bytes.buffer, batch.bytes.byteOffset, batch.bytes.byteLength);
  }

  type(i: number): EventType {
    return EVENT_TYPES[this.batch.types[i]!]!;
  }

  line(i: number): string {
    return (this.lines[i] ??= this.buffer.toString('utf8', i === 0 ? 0 : this.batch.ends[i - 1], this.batch.ends[i]));
  }

  osctldLine(i: number): string {
    return (this.osctld[i] ??= osctldLine(this.line(i), this.type(i)));
  }

  eventOpts(i: number): Record<string, unknown> {
    return (this.opts[i] ??= parseEventOpts(this.line(i)));
  }
}
