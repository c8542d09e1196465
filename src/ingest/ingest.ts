// A thread's side of ingest: the reports its producers send, validated and serialized here (in
// parallel with the other threads), go to the sequencer once per turn as one batch of event lines
// without their seq and time (see eventTail). The sequencer (daemon/publisher.ts, on the main
// thread) stamps them in the order batches arrive, so seq stays one gap-free order, and answers
// each batch with its first seq. Producers the main thread reads go to the publisher directly.
//
// A producer's replies wait on that answer: an ack names its event's seq, and an error line must
// not overtake the ack of an earlier line. So every reply is a callback on the batch ("ticket")
// open when its line was read, and tickets are answered in the order they were sent.
import { BatchBuilder, type EventBatch } from '../ipc/batch.js';
import { eventTypeCode, type EventType } from '../protocol/event-types.js';
import type { EventOpts } from '../protocol/events.js';
import { checkedEventTail, MAX_EVENT_PREFIX_BYTES } from '../protocol/wire.js';

/** Past this many bytes a ticket is sent at once: a turn can read megabytes from busy producers. */
const TICKET_BYTES = 64 * 1024;

/**
 * Tickets sent and not yet answered, at most: past it the producers are paused, so a main thread
 * that cannot keep up holds back readers instead of queueing their reports without bound.
 */
const MAX_TICKETS_IN_FLIGHT = 4;

interface Ticket {
  events: number;
  /** Replies and other steps that wait for this ticket's answer, in line order; get the first seq. */
  then: ((firstSeq: number) => void)[];
}

export interface IngestSink {
  /** Sends a batch of serialized reports to the sequencer, with the count of each opts.pool among them. */
  send(reports: EventBatch, pools: [string, number][]): void;
  /** Too many tickets unanswered (true), or room again (false). */
  backlog(full: boolean): void;
}

/** Where a producer connection hands its reports (Ingest in a worker, the publisher itself on the main thread). */
export interface ReportSink {
  /** Takes one validated report; `seq` is called with its seq once it is published. Throws an UnpublishableError, taking nothing. */
  add(type: EventType, opts: EventOpts, seq?: (seq: number) => void): void;
  /** Runs `step` once every report taken before it is published (and its reply given). */
  after(step: () => void): void;
}

export class Ingest implements ReportSink {
  private readonly builder = new BatchBuilder();
  private pools = new Map<string, number>();
  private ticket: Ticket = { events: 0, then: [] };
  /** Tickets sent or waiting behind them, oldest first; an empty one is answered with the one before it. */
  private readonly unanswered: Ticket[] = [];
  private sentUnanswered = 0;
  private flushScheduled = false;
  private full = false;

  constructor(
    private readonly sink: IngestSink,
    /** Longest event line (without its newline), as subscribers may rely on --max-line-bytes. */
    private readonly maxLineBytes: number,
  ) {}

  /**
   * Takes one validated report; `seq` is called with its seq once it is published. Throws an
   * UnpublishableError, taking nothing, if opts is nested too deeply to serialize or the event
   * line could pass the limit (counted with the longest seq and time: 58 bytes).
   */
  add(type: EventType, opts: EventOpts, seq?: (seq: number) => void): void {
    const tail = checkedEventTail(type, opts, this.maxLineBytes, MAX_EVENT_PREFIX_BYTES);
    if (this.builder.byteLength >= TICKET_BYTES) this.flush();
    const index = this.ticket.events++;
    this.builder.add(tail, eventTypeCode(type));
    const pool = (opts as { pool?: unknown }).pool;
    if (typeof pool === 'string') this.pools.set(pool, (this.pools.get(pool) ?? 0) + 1);
    if (seq) this.ticket.then.push((firstSeq) => seq(firstSeq + index));
    this.schedule();
  }

  /** Runs `step` once every report taken before it is published (and its reply given). */
  after(step: () => void): void {
    this.ticket.then.push(step);
    this.schedule();
  }

  /** The main thread's answer to the oldest ticket sent. */
  sequenced(firstSeq: number): void {
    this.sentUnanswered--;
    this.answer(this.unanswered.shift()!, firstSeq);
    while (this.unanswered.length > 0 && this.unanswered[0]!.events === 0) this.answer(this.unanswered.shift()!, 0);
    this.updateBacklog();
  }

  /** Sends the open ticket now. */
  flush(): void {
    const ticket = this.ticket;
    this.ticket = { events: 0, then: [] };
    if (ticket.events > 0) {
      this.sink.send(this.builder.take(0), [...this.pools]);
      this.pools = new Map();
      this.sentUnanswered++;
      this.unanswered.push(ticket);
      this.updateBacklog();
    } else if (ticket.then.length > 0) {
      if (this.unanswered.length === 0) this.answer(ticket, 0);
      else this.unanswered.push(ticket);
    }
  }

  private answer(ticket: Ticket, firstSeq: number): void {
    for (const step of ticket.then) step(firstSeq);
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private updateBacklog(): void {
    const full = this.sentUnanswered >= MAX_TICKETS_IN_FLIGHT;
    if (full === this.full) return;
    this.full = full;
    this.sink.backlog(full);
  }
}
