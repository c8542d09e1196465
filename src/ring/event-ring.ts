// The shared event ring: every sequenced batch of events is written once, into shared memory, by
// the thread that read and validated it, and every other thread reads it there in place (the
// LMAX disruptor's multi-producer ring). Sequencing is a claim under a short lock: a writer takes
// the next seq range, the time and the space for its record, and nothing else; no thread copies,
// formats or even looks at another thread's events to give them their seq.
//
//   writers (ingest threads)  claim (lock: seq, time, space) → write the stamped lines → commit
//   consumers                 each delivery worker, and the journal, read records in ring order
//                             up to the first one not committed yet (or, with a journal, not yet
//                             durable), then move their cursor on
//   history                   what lies between the tail and the head: records stay readable
//                             until a writer needs their space, so the ring is the in-memory
//                             history too (replays check that what they copied was not reused)
//
// A writer waits (its producers paused) while the slowest consumer is a whole ring behind:
// consumers are bounded by the ring, not by queues on the heap. Positions are byte offsets that
// grow forever, kept modulo 2^32 (the ring is a power of two, at most 1 GiB, so differences of
// positions are exact in 32-bit arithmetic).
import {
  align8,
  CLAIMED,
  D_FIRST_SEQ,
  D_TIME,
  digitsOf,
  FLAG_VOID,
  HEADER_BYTES,
  linesOffset,
  PAD_MAGIC,
  PREFIX_FIXED_BYTES,
  RECORD_MAGIC,
  recordBytes,
  recordCrc,
  W_COUNT,
  W_CRC,
  W_FLAGS,
  W_LENGTH,
  W_LINE_BYTES,
  W_STATE,
} from './record.js';
import { copyBytes } from './copy.js';
import { Stamper, type Tails } from './stamp.js';

export type { Tails };

/** Control words (Int32Array over `control`). */
const LOCK = 0;
const HEAD = 1;
const TAIL = 2;
/** Bumped (and notified) at each commit: what consumers without a journal, and the journal, wait on. */
export const COMMIT_SIGNAL = 3;
/** With a journal: records before this position are durable (written, or synced under --fsync always) and may be delivered. */
const DURABLE_POS = 4;
/** Bumped (and notified) when DURABLE_POS or DURABLE_SEQ moves: what delivery workers and acks wait on. */
export const DURABLE_SIGNAL = 5;
/** Bumped (and notified) when space or seqs free up, for writers that found the ring full. */
export const SPACE_SIGNAL = 6;
const SPACE_WAITERS = 7;
/** Set while the journal cannot write (disk full, I/O error): writers refuse reports meanwhile. */
const JOURNAL_FAILING = 8;
/** 1 when a journal gates delivery (DURABLE_POS), 0 when records are delivered once committed. */
const GATED = 9;
/** Set by the main thread when the journal is to write what is left and stop. */
const JOURNAL_STOP = 10;
/**
 * Threads waiting on COMMIT_SIGNAL and on DURABLE_SIGNAL: a signal is notified only when someone
 * waits (a notify with waiters from waitAsync posts a task to each: measured, it was a tenth of
 * the writer's time per event with busy consumers that were not even waiting).
 */
const COMMIT_WAITERS = 11;
const DURABLE_WAITERS = 12;
const WAITERS: Record<number, number> = {
  [COMMIT_SIGNAL]: COMMIT_WAITERS,
  [DURABLE_SIGNAL]: DURABLE_WAITERS,
  [SPACE_SIGNAL]: SPACE_WAITERS,
};
const CONSUMERS = 16;
/** Delivery workers (at most 256) and the journal. */
export const MAX_CONSUMERS = 258;
const CONTROL_WORDS = CONSUMERS + 2 * MAX_CONSUMERS;

/** Float words (Float64Array over `numbers`). */
const NEXT_SEQ = 0;
const LAST_TIME = 1;
/** Seqs may be given up to this one (the journal's lease; Infinity without a journal). */
const SEQ_LIMIT = 2;
/** seq of the first event of the record at TAIL (the oldest in memory). */
const TAIL_SEQ = 3;
/** Every event up to this seq is durable as the journal's policy says (acks wait for it). */
const DURABLE_SEQ = 4;
/** The seqs the journal gave up on the last time it could not write (their records were voided): [from, to]. */
const VOID_FROM = 5;
const VOID_TO = 6;
/** Free for the journal's own figures (journal/figures.ts). */
export const JOURNAL_NUMBERS = 8;
const NUMBER_WORDS = 32;

export interface RingHandles {
  data: SharedArrayBuffer;
  control: SharedArrayBuffer;
  numbers: SharedArrayBuffer;
}

/** A record in the ring, as a consumer sees it (valid until it moves its cursor past it). */
export interface RingRecord {
  /** Its position (mod 2^32) and its byte offset in the data. */
  pos: number;
  offset: number;
  length: number;
  firstSeq: number;
  count: number;
  timeMs: number;
  /** Lost before it was written (a writer died mid-record): its seqs carry no events. */
  void: boolean;
}

/** What a write did: the seqs it got, or why it could not write now. */
export type WriteResult = { ok: true; firstSeq: number; count: number; end: number } | { ok: false; why: 'full' | 'failing' | 'lease' };

export class EventRing {
  readonly size: number;
  private readonly mask: number;
  private readonly control: Int32Array;
  private readonly numbers: Float64Array;
  /** The data as bytes, 32-bit words and doubles (records are 8-byte aligned). */
  readonly bytes: Uint8Array;
  private readonly words: Int32Array;
  private readonly doubles: Float64Array;
  /** Only a thread that writes needs one. */
  private stamper: Stamper | undefined;

  private constructor(readonly handles: RingHandles) {
    this.size = handles.data.byteLength;
    this.mask = this.size - 1;
    this.control = new Int32Array(handles.control);
    this.numbers = new Float64Array(handles.numbers);
    this.bytes = new Uint8Array(handles.data);
    this.words = new Int32Array(handles.data);
    this.doubles = new Float64Array(handles.data);
  }

  /**
   * A new ring of `size` bytes (a power of two). `nextSeq`: the seq the first event gets;
   * `gated`: a journal decides what may be delivered (DURABLE_POS) and when acks go (DURABLE_SEQ).
   */
  static create(size: number, { nextSeq = 1, gated = false, seqLimit = Number.POSITIVE_INFINITY } = {}): EventRing {
    if (size < 1 << 16 || size > 1 << 30 || (size & (size - 1)) !== 0)
      throw new RangeError(`ring size ${size} is not a power of two from 64 KiB to 1 GiB`);
    const ring = new EventRing({
      data: new SharedArrayBuffer(size),
      control: new SharedArrayBuffer(CONTROL_WORDS * 4),
      numbers: new SharedArrayBuffer(NUMBER_WORDS * 8),
    });
    ring.numbers[NEXT_SEQ] = nextSeq;
    ring.numbers[TAIL_SEQ] = nextSeq;
    ring.numbers[DURABLE_SEQ] = nextSeq - 1;
    ring.numbers[SEQ_LIMIT] = seqLimit;
    ring.control[GATED] = gated ? 1 : 0;
    return ring;
  }

  static attach(handles: RingHandles): EventRing {
    return new EventRing(handles);
  }

  /** The journal's figures live here too, so any thread can read them (journal/figures.ts). */
  get sharedNumbers(): Float64Array {
    return this.numbers;
  }

  get gated(): boolean {
    return this.control[GATED] === 1;
  }

  // ---- the lock: a spin on one word, held only for the few reads and writes of a claim ----

  lock(): void {
    while (Atomics.compareExchange(this.control, LOCK, 0, 1) !== 0) {
      // Held by a thread that was descheduled: give it the core rather than spin on.
      if (Atomics.compareExchange(this.control, LOCK, 0, 1) === 0) return;
      Atomics.wait(this.control, LOCK, 1, 1);
    }
  }

  unlock(): void {
    Atomics.store(this.control, LOCK, 0);
    Atomics.notify(this.control, LOCK, 1);
  }

  // ---- positions and seqs ----

  get head(): number {
    return Atomics.load(this.control, HEAD) >>> 0;
  }

  get tail(): number {
    return Atomics.load(this.control, TAIL) >>> 0;
  }

  /** The seq the next event will get. */
  get nextSeq(): number {
    return this.numbers[NEXT_SEQ]!;
  }

  /** seq of the oldest event still in memory (nextSeq when there is none). */
  get tailSeq(): number {
    return this.numbers[TAIL_SEQ]!;
  }

  /** Bytes of records held (from the tail to the head). */
  get heldBytes(): number {
    return (this.head - this.tail) >>> 0;
  }

  get durableSeq(): number {
    return this.numbers[DURABLE_SEQ]!;
  }

  /** Where consumers may read up to: the durable position with a journal, else the head. */
  get visibleEnd(): number {
    return this.gated ? Atomics.load(this.control, DURABLE_POS) >>> 0 : this.head;
  }

  signal(word: number): number {
    return Atomics.load(this.control, word);
  }

  /**
   * Resolves once `word` is no longer `seen` (or after timeoutMs): what threads with an event loop
   * wait with. Resolves at once if it changed already.
   */
  async waitAsync(word: number, seen: number, timeoutMs?: number): Promise<void> {
    const waiters = WAITERS[word]!;
    // Counted first, then checked again: a writer either sees the count or we see its change.
    Atomics.add(this.control, waiters, 1);
    try {
      if (Atomics.load(this.control, word) !== seen) return;
      const result = Atomics.waitAsync(this.control, word, seen, timeoutMs);
      if (result.async) await result.value;
    } finally {
      Atomics.sub(this.control, waiters, 1);
    }
  }

  /** Blocks until `word` is no longer `seen`, or timeoutMs: for the journal thread, which has no sockets to serve. */
  waitSync(word: number, seen: number, timeoutMs: number): void {
    const waiters = WAITERS[word]!;
    Atomics.add(this.control, waiters, 1);
    try {
      Atomics.wait(this.control, word, seen, timeoutMs);
    } finally {
      Atomics.sub(this.control, waiters, 1);
    }
  }

  /** Moves a signal on, and wakes whoever waits for it (only if someone does: see WAITERS). */
  private bump(word: number): void {
    Atomics.add(this.control, word, 1);
    const waiters = WAITERS[word];
    if (waiters === undefined || Atomics.load(this.control, waiters) > 0) Atomics.notify(this.control, word);
  }

  // ---- writers ----

  /**
   * Writes `tails` as one record: claims the next seqs, the time and the space under the lock,
   * then, outside it, writes each event's line (`{"seq":N,"time":"T",` and its tail) and commits.
   */
  write(tails: Tails, nowMs: number): WriteResult {
    if (tails.count === 0) throw new RangeError('nothing to write');
    if (this.control[JOURNAL_FAILING] !== 0) return { ok: false, why: 'failing' };
    this.lock();
    let claim: { offset: number; firstSeq: number; timeMs: number; length: number; lineBytes: number; end: number } | 'full' | 'lease';
    try {
      claim = this.claim(tails, nowMs);
    } finally {
      this.unlock();
    }
    if (typeof claim === 'string') return { ok: false, why: claim };
    try {
      this.fill(claim, tails);
    } catch (error) {
      // A record left claimed would hold every consumer back for good: its events are lost instead.
      this.markVoid(claim.offset);
      throw error;
    }
    Atomics.store(this.words, claim.offset >> 2, RECORD_MAGIC);
    this.bump(COMMIT_SIGNAL);
    return { ok: true, firstSeq: claim.firstSeq, count: tails.count, end: claim.end };
  }

  private claim(tails: Tails, nowMs: number) {
    const firstSeq = this.numbers[NEXT_SEQ]!;
    if (firstSeq + tails.count - 1 > this.numbers[SEQ_LIMIT]!) return 'lease' as const;
    const lineBytes = tails.byteLength + tails.count * PREFIX_FIXED_BYTES + digitsOf(firstSeq, tails.count);
    const length = recordBytes(tails.count, lineBytes);
    const head = Atomics.load(this.control, HEAD) >>> 0;
    const index = head & this.mask;
    // A record never wraps: a filler takes the rest of the ring.
    const pad = index + length > this.size ? this.size - index : 0;
    const start = (head + pad) >>> 0;
    const end = (start + length) >>> 0;
    if (length + pad > this.size || !this.roomUpTo(end)) return 'full' as const;
    this.dropBefore((end - this.size) >>> 0);
    if (pad > 0) {
      this.words[(index >> 2) + W_LENGTH] = pad;
      Atomics.store(this.words, index >> 2, PAD_MAGIC);
    }
    const offset = start & this.mask;
    const timeMs = Math.max(nowMs, this.numbers[LAST_TIME]!);
    this.words[(offset >> 2) + W_STATE] = CLAIMED;
    this.words[(offset >> 2) + W_LENGTH] = length;
    this.doubles[(offset >> 3) + D_FIRST_SEQ] = firstSeq;
    this.doubles[(offset >> 3) + D_TIME] = timeMs;
    this.words[(offset >> 2) + W_COUNT] = tails.count;
    this.words[(offset >> 2) + W_LINE_BYTES] = lineBytes;
    this.words[(offset >> 2) + W_FLAGS] = 0;
    this.numbers[NEXT_SEQ] = firstSeq + tails.count;
    this.numbers[LAST_TIME] = timeMs;
    Atomics.store(this.control, HEAD, end | 0);
    return { offset, firstSeq, timeMs, length, lineBytes, end };
  }

  /** Whether every active consumer has read far enough for a record to end at `end`. */
  private roomUpTo(end: number): boolean {
    for (let i = 0; i < MAX_CONSUMERS; i++) {
      if (Atomics.load(this.control, CONSUMERS + 2 * i) === 0) continue;
      const cursor = Atomics.load(this.control, CONSUMERS + 2 * i + 1) >>> 0;
      if ((end - cursor) >>> 0 > this.size) return false;
    }
    return true;
  }

  /** Moves the tail past every record that starts before `limit` (its space is about to be reused). */
  private dropBefore(limit: number): void {
    let tail = Atomics.load(this.control, TAIL) >>> 0;
    const head = Atomics.load(this.control, HEAD) >>> 0;
    let tailSeq = this.numbers[TAIL_SEQ]!;
    while (tail !== head && ((limit - tail) | 0) > 0) {
      const offset = tail & this.mask;
      if (this.words[offset >> 2] !== PAD_MAGIC)
        tailSeq = this.doubles[(offset >> 3) + D_FIRST_SEQ]! + this.words[(offset >> 2) + W_COUNT]!;
      tail = (tail + (this.words[(offset >> 2) + W_LENGTH]! >>> 0)) >>> 0;
    }
    this.numbers[TAIL_SEQ] = tailSeq;
    Atomics.store(this.control, TAIL, tail | 0);
  }

  /** Writes a claimed record's index and lines: `{"seq":N,"time":"T",` then the tail, for each event. */
  private fill(claim: { offset: number; firstSeq: number; timeMs: number; length: number; lineBytes: number }, tails: Tails): void {
    const { offset, length } = claim;
    const count = tails.count;
    const bytes = this.bytes;
    const typesAt = offset + HEADER_BYTES + count * 4;
    const linesAt = offset + linesOffset(count);
    const { lines, ends } = (this.stamper ??= new Stamper()).stamp(tails, claim.firstSeq, claim.timeMs, claim.lineBytes);
    copyBytes(new Uint8Array(ends.buffer, ends.byteOffset, count * 4), bytes, offset + HEADER_BYTES);
    copyBytes(tails.types.subarray(0, count), bytes, typesAt);
    copyBytes(lines, bytes, linesAt);
    // The gaps left by alignment are zeros, so a record's bytes (and its CRC) depend on it alone.
    bytes.fill(0, typesAt + count, linesAt);
    bytes.fill(0, linesAt + claim.lineBytes, offset + length);
    this.words[(offset >> 2) + W_CRC] = recordCrc(bytes, offset, length);
  }

  // ---- consumers ----

  /**
   * Makes consumer `index` active, reading from the head on (a new or replacement thread); returns
   * the seq of the first event it will read (every event before the head is behind it).
   */
  join(index: number): number {
    this.lock();
    try {
      Atomics.store(this.control, CONSUMERS + 2 * index + 1, Atomics.load(this.control, HEAD));
      Atomics.store(this.control, CONSUMERS + 2 * index, 1);
      return this.numbers[NEXT_SEQ]!;
    } finally {
      this.unlock();
    }
  }

  /** Consumer `index` is gone (its thread died or stopped): it holds no space any more. */
  leave(index: number): void {
    Atomics.store(this.control, CONSUMERS + 2 * index, 0);
    this.bump(SPACE_SIGNAL);
  }

  cursorOf(index: number): number {
    return Atomics.load(this.control, CONSUMERS + 2 * index + 1) >>> 0;
  }

  isActive(index: number): boolean {
    return Atomics.load(this.control, CONSUMERS + 2 * index) === 1;
  }

  /** Consumer `index` has read up to `pos`: the space before it may be reused. */
  advance(index: number, pos: number): void {
    Atomics.store(this.control, CONSUMERS + 2 * index + 1, pos | 0);
    this.bump(SPACE_SIGNAL);
  }

  /**
   * The record at `pos` if it is complete (committed, or a filler: then `length` only), or
   * undefined if its writer is still at it.
   */
  recordAt(pos: number): RingRecord | 'pad' | undefined {
    const offset = pos & this.mask;
    const state = Atomics.load(this.words, offset >> 2);
    if (state === CLAIMED) return undefined;
    if (state === PAD_MAGIC) return 'pad';
    return {
      pos,
      offset,
      length: this.words[(offset >> 2) + W_LENGTH]! >>> 0,
      firstSeq: this.doubles[(offset >> 3) + D_FIRST_SEQ]!,
      count: this.words[(offset >> 2) + W_COUNT]! >>> 0,
      timeMs: this.doubles[(offset >> 3) + D_TIME]!,
      void: (this.words[(offset >> 2) + W_FLAGS]! & FLAG_VOID) !== 0,
    };
  }

  /**
   * A record's event lines where they lie, not copied: good while the consumer reading it has not
   * moved its cursor past it (the space is reused only once every cursor has).
   */
  linesOf(record: RingRecord): Uint8Array {
    const start = record.offset + linesOffset(record.count);
    return this.bytes.subarray(start, start + (this.words[(record.offset >> 2) + W_LINE_BYTES]! >>> 0));
  }

  /** Length of the record or filler at `pos` (complete ones only). */
  lengthAt(pos: number): number {
    return this.words[((pos & this.mask) >> 2) + W_LENGTH]! >>> 0;
  }

  // ---- the journal's controls ----

  /** With a journal: records up to `pos` (and events up to `seq`) are durable; delivery and acks may go on. */
  setDurable(pos: number, seq: number): void {
    this.numbers[DURABLE_SEQ] = seq;
    Atomics.store(this.control, DURABLE_POS, pos | 0);
    this.bump(DURABLE_SIGNAL);
  }

  /** The journal's lease: seqs may be given up to `limit`. */
  setSeqLimit(limit: number): void {
    this.lock();
    try {
      this.numbers[SEQ_LIMIT] = limit;
    } finally {
      this.unlock();
    }
    this.bump(SPACE_SIGNAL);
  }

  get seqLimit(): number {
    return this.numbers[SEQ_LIMIT]!;
  }

  setJournalFailing(failing: boolean): void {
    Atomics.store(this.control, JOURNAL_FAILING, failing ? 1 : 0);
    if (!failing) this.bump(SPACE_SIGNAL);
  }

  /** Asks the journal thread to write what is committed, sync, and stop. */
  requestJournalStop(): void {
    Atomics.store(this.control, JOURNAL_STOP, 1);
    this.bump(COMMIT_SIGNAL);
  }

  get journalStopRequested(): boolean {
    return Atomics.load(this.control, JOURNAL_STOP) === 1;
  }

  get journalFailing(): boolean {
    return Atomics.load(this.control, JOURNAL_FAILING) !== 0;
  }

  /** The journal gave up on seqs from … to (it could not write them): their reports are refused, not acknowledged. */
  setVoided(from: number, to: number): void {
    this.numbers[VOID_FROM] = from;
    this.numbers[VOID_TO] = to;
  }

  /** Whether events first … last were given up by the journal (see setVoided). */
  wasVoided(first: number, last: number): boolean {
    return first >= this.numbers[VOID_FROM]! && last <= this.numbers[VOID_TO]! && this.numbers[VOID_TO]! > 0;
  }

  /** Marks the record at `pos` lost (its writer died before committing it, or it could not be journaled): consumers skip its events. */
  markVoid(pos: number): void {
    const offset = pos & this.mask;
    this.words[(offset >> 2) + W_FLAGS] = FLAG_VOID;
    if (Atomics.load(this.words, offset >> 2) !== RECORD_MAGIC) {
      Atomics.store(this.words, offset >> 2, RECORD_MAGIC);
      this.bump(COMMIT_SIGNAL);
    }
  }
}

/** Bytes a record of these tails takes at seq `firstSeq` (for a test or a bound). */
export function bytesFor(tails: Pick<Tails, 'count' | 'byteLength'>, firstSeq: number): number {
  return recordBytes(tails.count, tails.byteLength + tails.count * PREFIX_FIXED_BYTES + digitsOf(firstSeq, tails.count));
}

/** The smallest ring that takes a record of `maxRecordBytes` whatever the padding: twice it, rounded up to a power of two. */
export function minimumRingSize(maxRecordBytes: number): number {
  let size = 1 << 16;
  while (size < 2 * align8(maxRecordBytes)) size *= 2;
  return size;
}
