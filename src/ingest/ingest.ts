// A thread's side of ingest: the reports its producers send, validated here (in parallel with the
// other ingest threads), are written into the shared ring by this thread, once per turn, as one
// record; the ring gives them their seqs under its lock (ring/event-ring.ts), so no other thread
// touches them to sequence them.
//
// A producer's replies wait for their record: an ack names its event's seq and goes once the
// record is published (committed to the ring; with a journal, durable as its --fsync policy says),
// and a report is refused when the journal cannot write. An error line must not overtake the ack
// of an earlier line, so every reply is a callback on the ticket open when its line was read, and
// tickets are answered in the order they were opened.
import { BatchBuilder } from '../ipc/batch.js';
import { EVENT_TYPES, eventTypeCode, type EventType } from '../protocol/event-types.js';
import type { EventOpts } from '../protocol/events.js';
import { checkEventBytes, checkedEventTail, MAX_EVENT_PREFIX_BYTES } from '../protocol/wire.js';
import { DURABLE_SIGNAL, SPACE_SIGNAL, type EventRing, type Tails } from '../ring/event-ring.js';

/** Past this many bytes of tails a ticket is written at once: a turn can read megabytes from busy producers. */
const TICKET_BYTES = 64 * 1024;

/** What became of a report: its seq, or why it was refused after it was read. */
export type Outcome = number | { refused: string };

/** Events written, per type code and per opts.pool: the daemon's counters. */
export interface WrittenCounts {
  types: number[];
  pools: [string, number][];
}

export interface IngestHooks {
  /** This thread's producers must pause (true: the ring is full, the slowest consumer a ring behind) or may go on. */
  backlog(full: boolean): void;
  /** A record was written: its counts, before any of its acks go. */
  written(counts: WrittenCounts): void;
}

/** Who is told what became of a report: its producer connection (an object, not a closure per report). */
export interface ReplyTarget {
  answered(outcome: Outcome, lineNo: number, ack: string | number | undefined): void;
}

/** Where a producer connection hands its reports. */
export interface ReportSink {
  /**
   * Takes one validated report; `target` is told its outcome (with `lineNo` and `ack`) once it is
   * published or refused. Throws an UnpublishableError, taking nothing, if the event line could
   * pass the limit.
   */
  add(type: EventType, opts: EventOpts, target: ReplyTarget, lineNo: number, ack: string | number | undefined): void;
  /**
   * add(), for a report taken as the producer sent it (protocol/fast-report.ts): its event line
   * is `source[start, end)` (`"type":…,"opts":{…}`) closed with `}`. `pool` is its opts.pool.
   */
  addSpan(
    type: EventType,
    source: Uint8Array,
    start: number,
    end: number,
    pool: string | undefined,
    target: ReplyTarget,
    lineNo: number,
    ack: string | number | undefined,
  ): void;
  /** Runs `step` once every report taken before it is answered. */
  after(step: () => void): void;
}

interface Ticket {
  events: number;
  /**
   * What waits for this ticket, in line order: a report's target (with its line number and ack in
   * the arrays beside; the n-th target is the ticket's n-th event), or a step. Arrays of references
   * rather than a closure per report: at a few hundred thousand reports a second the closures were
   * garbage.
   */
  waiting: (ReplyTarget | (() => void))[];
  lineNos: number[];
  acks: (string | number | undefined)[];
  types: number[];
  pools: Map<string, number>;
}

interface Entry {
  ticket: Ticket;
  /** A copy of its tails while it waits for room in the ring. */
  waiting: Tails | undefined;
  outcome: Outcome | undefined;
  /** seqs of its first and last events, once written. */
  firstSeq: number;
  lastSeq: number;
}

export class Ingest implements ReportSink {
  private readonly builder = new BatchBuilder();
  private ticket = newTicket();
  /** Tickets written or waiting, oldest first; answered from the front. */
  private readonly queue: Entry[] = [];
  private flushScheduled = false;
  private full = false;
  private waitingForSpace = false;
  private waitingForDurable = false;
  /** Producers paused because the ring was full: how often, and for how long in all. */
  paused = 0;
  pausedMs = 0;
  private pausedSince = 0;

  constructor(
    private readonly ring: EventRing,
    private readonly hooks: IngestHooks,
    /** Longest event line (without its newline), as subscribers may rely on --max-line-bytes. */
    private readonly maxLineBytes: number,
  ) {}

  add(type: EventType, opts: EventOpts, target: ReplyTarget, lineNo: number, ack: string | number | undefined): void {
    const tail = checkedEventTail(type, opts, this.maxLineBytes, MAX_EVENT_PREFIX_BYTES);
    if (this.builder.byteLength >= TICKET_BYTES) this.flush();
    const code = eventTypeCode(type);
    this.builder.add(tail, code);
    const pool = (opts as { pool?: unknown }).pool;
    this.taken(code, typeof pool === 'string' ? pool : undefined, target, lineNo, ack);
  }

  addSpan(
    type: EventType,
    source: Uint8Array,
    start: number,
    end: number,
    pool: string | undefined,
    target: ReplyTarget,
    lineNo: number,
    ack: string | number | undefined,
  ): void {
    // The line: its start (counted at its longest), the span, and `}` (the newline is not counted).
    checkEventBytes(MAX_EVENT_PREFIX_BYTES + end - start + 1, this.maxLineBytes);
    if (this.builder.byteLength >= TICKET_BYTES) this.flush();
    const code = eventTypeCode(type);
    this.builder.addClosed(source, start, end, code);
    this.taken(code, pool, target, lineNo, ack);
  }

  /** Books the event just added to the builder into the open ticket. */
  private taken(code: number, pool: string | undefined, target: ReplyTarget, lineNo: number, ack: string | number | undefined): void {
    const ticket = this.ticket;
    ticket.events++;
    ticket.types[code]!++;
    if (pool !== undefined) ticket.pools.set(pool, (ticket.pools.get(pool) ?? 0) + 1);
    ticket.waiting.push(target);
    ticket.lineNos.push(lineNo);
    ticket.acks.push(ack);
    this.schedule();
  }

  after(step: () => void): void {
    const ticket = this.ticket;
    ticket.waiting.push(step);
    ticket.lineNos.push(0);
    ticket.acks.push(undefined);
    this.schedule();
  }

  /** Whether the ring is full for this thread now (its producers are paused). */
  get isFull(): boolean {
    return this.full;
  }

  /** Writes the open ticket now (or queues it behind those waiting for room). */
  flush(): void {
    const ticket = this.ticket;
    this.ticket = newTicket();
    const entry: Entry = { ticket, waiting: undefined, outcome: undefined, firstSeq: 0, lastSeq: 0 };
    if (ticket.events === 0) {
      // Steps only: answered once everything before them is.
      entry.outcome = 0;
    } else if (this.queue.some((queued) => queued.waiting !== undefined) || !this.write(entry, this.builder.view())) {
      entry.waiting ??= copyTails(this.builder.view());
    }
    this.builder.clear();
    if (ticket.waiting.length > 0 || entry.waiting) this.queue.push(entry);
    this.pump();
  }

  /**
   * Publishes one event now, on this thread, and returns its seq: the daemon's own events and
   * `EventdServer.report`. If the ring is full this thread waits for room (it is not a consumer, so
   * the room comes), at most `timeoutMs`.
   */
  publishNow(type: EventType, opts: EventOpts, timeoutMs = 5000): number {
    const one = new BatchBuilder();
    one.add(checkedEventTail(type, opts, this.maxLineBytes, MAX_EVENT_PREFIX_BYTES), eventTypeCode(type));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = this.ring.signal(SPACE_SIGNAL);
      const result = this.ring.write(one.view(), Date.now());
      if (result.ok) {
        const types = EVENT_TYPES.map(() => 0);
        types[eventTypeCode(type)] = 1;
        const pool = (opts as { pool?: unknown }).pool;
        this.hooks.written({ types, pools: typeof pool === 'string' ? [[pool, 1]] : [] });
        return result.firstSeq;
      }
      if (result.why === 'failing') throw new JournalUnavailableError();
      if (Date.now() >= deadline) throw new Error('eventd is overloaded: its ring stayed full (a delivery worker or the journal is stuck)');
      this.ring.waitSync(SPACE_SIGNAL, seen, Math.max(1, Math.min(100, deadline - Date.now())));
    }
  }

  /** Writes `tails` for an entry; false when the ring has no room (or seqs) for it yet. */
  private write(entry: Entry, tails: Tails): boolean {
    const result = this.ring.write(tails, Date.now());
    if (result.ok) {
      const { ticket } = entry;
      this.hooks.written({ types: ticket.types, pools: [...ticket.pools] });
      entry.outcome = result.firstSeq;
      entry.firstSeq = result.firstSeq;
      entry.lastSeq = result.firstSeq + result.count - 1;
      entry.waiting = undefined;
      return true;
    }
    if (result.why === 'failing') {
      entry.outcome = { refused: REFUSED_JOURNAL };
      entry.waiting = undefined;
      return true;
    }
    return false;
  }

  /** Writes what waits for room, answers what is published (or refused), in order; waits for the ring when it must. */
  private pump(): void {
    for (const entry of this.queue) {
      if (entry.waiting === undefined) continue;
      if (!this.write(entry, entry.waiting)) break;
    }
    this.setFull(this.queue.some((entry) => entry.waiting !== undefined));
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.outcome === undefined) break;
      // With a journal, an ack goes once the record is durable as the policy says.
      if (typeof head.outcome === 'number' && head.lastSeq > 0 && this.ring.gated && this.ring.durableSeq < head.lastSeq) {
        this.waitForDurable();
        break;
      }
      this.queue.shift();
      // Written to the ring, but the journal could not write it and gave it up: refused, not acknowledged.
      const outcome = head.lastSeq > 0 && this.ring.wasVoided(head.firstSeq, head.lastSeq) ? { refused: REFUSED_JOURNAL } : head.outcome;
      answer(head.ticket, outcome);
    }
  }

  private setFull(full: boolean): void {
    if (full) this.waitForSpace();
    if (full === this.full) return;
    this.full = full;
    if (full) {
      this.paused++;
      this.pausedSince = performance.now();
    } else {
      this.pausedMs += performance.now() - this.pausedSince;
    }
    this.hooks.backlog(full);
  }

  private waitForSpace(): void {
    if (this.waitingForSpace) return;
    this.waitingForSpace = true;
    // A consumer may have moved between the failed write and now: then this resolves at once.
    void this.ring.waitAsync(SPACE_SIGNAL, this.ring.signal(SPACE_SIGNAL), 1000).then(() => {
      this.waitingForSpace = false;
      this.pump();
    });
  }

  private waitForDurable(): void {
    if (this.waitingForDurable) return;
    this.waitingForDurable = true;
    const seen = this.ring.signal(DURABLE_SIGNAL);
    const wake = () => {
      this.waitingForDurable = false;
      this.pump();
    };
    if (this.ring.durableSeq >= this.queue[0]!.lastSeq) return void queueMicrotask(wake);
    void this.ring.waitAsync(DURABLE_SIGNAL, seen).then(wake);
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }
}

/** What a producer is told when the journal cannot write (disk full, I/O error): nothing of it was published. */
export const REFUSED_JOURNAL =
  'eventd cannot write its journal (disk full or failing; see its log): the report was not published; send it again later';

/** The daemon's own event could not be published: the journal cannot write. */
export class JournalUnavailableError extends Error {
  constructor() {
    super(REFUSED_JOURNAL);
    this.name = 'JournalUnavailableError';
  }
}

function newTicket(): Ticket {
  return { events: 0, waiting: [], lineNos: [], acks: [], types: EVENT_TYPES.map(() => 0), pools: new Map() };
}

/** Tells everything waiting for a ticket, in line order: a report its seq (the first's plus its place among the events) or the refusal. */
function answer(ticket: Ticket, outcome: Outcome): void {
  const { waiting, lineNos, acks } = ticket;
  let event = 0;
  for (let i = 0; i < waiting.length; i++) {
    const item = waiting[i]!;
    if (typeof item === 'function') item();
    else item.answered(typeof outcome === 'number' ? outcome + event++ : outcome, lineNos[i]!, acks[i]);
  }
}

function copyTails(tails: Tails): Tails {
  return {
    // A copy (Buffer's slice would share the scratch space it is about to reuse).
    bytes: new Uint8Array(tails.bytes.subarray(0, tails.byteLength)),
    ends: tails.ends.slice(0, tails.count),
    types: tails.types.slice(0, tails.count),
    count: tails.count,
    byteLength: tails.byteLength,
  };
}
