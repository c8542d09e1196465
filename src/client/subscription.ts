// A subscription as an async iterable of events that, if asked to, survives daemon restarts and
// slow-subscriber disconnects by reconnecting and resuming with `since`. Leaving the iteration
// (break, return, throw) or close() releases its connection: nothing keeps the process alive.
import type { Socket } from 'node:net';
import type { FilterValue, SubscribeOpts } from '../protocol/commands.js';
import type { Event, EventType } from '../protocol/events.js';
import { EventdError } from '../errors.js';
import { isPlainObject } from '../protocol/json.js';
import { Backoff } from './backoff.js';
import { connect, defaultSocketPaths } from './connect.js';
import { JsonLineReader, REPLY_TIMEOUT_MS, withReplyTimeout } from './lines.js';

export interface SubscribeOptions {
  type?: EventType | EventType[];
  opts?: Record<string, FilterValue | FilterValue[]>;
  /** Replay retained events with seq > since first. */
  since?: number;
  /** Or replay from the first event at or after this time (found in the daemon's journal, through its index). */
  sinceTime?: Date;
  /** Keep going across disconnects and daemon restarts (default false: the iteration ends). */
  reconnect?: boolean;
  /** The daemon's events socket (default: where `eventd serve` puts it, see defaultSocketPaths). */
  eventsSocket?: string;
  /** How long to wait for the daemon to answer the subscription (default 10 s), before EVENTD_UNREACHABLE. */
  replyTimeoutMs?: number;
  /** Told when events could not be delivered: evicted from history, or the daemon's history broke (a new run). */
  onGap?: (gap: Gap) => void;
  /**
   * With reconnect: told once when the connection is lost (or cannot be made), not at every retry;
   * `connected`: whether this subscription had been connected before.
   */
  onDisconnect?: (error: Error | undefined, connected: boolean) => void;
  /** With reconnect: told when it is subscribed again after onDisconnect. */
  onReconnect?: (info: Resumed) => void;
}

export interface Gap {
  /** How many events are known to be missing (0 when unknown, e.g. when the daemon's history broke). */
  missed: number;
  reason: 'evicted' | 'daemon-restarted';
}

export interface Resumed {
  /** The daemon's run id. */
  run: string;
  /** The seq it resumed after (undefined: it had seen nothing, and asked for nothing old). */
  after: number | undefined;
  /** Events after `after` no longer in the daemon's history. */
  missed: number;
}

const MAX_RETRY_DELAY_MS = 2000;
/** How long a reconnection must stay up, if it delivers nothing, to count as the end of the outage. */
const CONFIRM_MS = 1000;

export class Subscription implements AsyncIterable<Event> {
  /** seq of the last event handed out. */
  lastSeq: number | undefined;
  private socket: Socket | undefined;
  /** A connection opened by ready(), handed to the iteration when it starts. */
  private opened: Promise<JsonLineReader> | undefined;
  private closed = false;
  private daemonRun: string | undefined;
  /** Since onDisconnect was called, until a connection is made again and proves itself (confirm). */
  private disconnected = false;
  /** Where a reconnection resumed, told (onReconnect) once it delivers an event or stays up a while. */
  private resumed: Resumed | undefined;
  private confirmTimer: NodeJS.Timeout | undefined;
  private retryTimer: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  private readonly backoff = new Backoff(100, MAX_RETRY_DELAY_MS);

  constructor(private readonly options: SubscribeOptions = {}) {
    this.lastSeq = options.since;
  }

  /** The run id of the daemon this subscription is (or was last) connected to. */
  get run(): string | undefined {
    return this.daemonRun;
  }

  /**
   * Connects and subscribes now (iterating does that too, lazily); resolves once the daemon has
   * answered the subscription. From then on every matching event published is delivered, so
   * await this before reporting something you want to see.
   */
  async ready(): Promise<void> {
    this.opened ??= this.open();
    await this.opened;
  }

  /** Ends the iteration and releases the connection. */
  close(): void {
    this.closed = true;
    this.socket?.destroy();
    if (this.retryTimer) {
      clearTimeout(this.retryTimer.timer);
      this.retryTimer.wake();
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Event> {
    try {
      for await (const batch of this.batches()) {
        for (const event of batch) {
          yield event;
          if (this.closed) return;
        }
      }
    } finally {
      // break, return() and throw() land here: the connection goes with the iteration.
      this.close();
    }
  }

  /**
   * The same events, as arrays of everything already received: a consumer that forwards them
   * somewhere (eventd forward) can write a whole array at once.
   */
  async *batches(): AsyncGenerator<Event[]> {
    try {
      while (!this.closed) {
        let reader: JsonLineReader;
        try {
          reader = await (this.opened ?? this.open());
          this.opened = undefined;
          if (this.disconnected) this.confirmSoon();
          else this.backoff.reset();
        } catch (error) {
          this.opened = undefined;
          this.socket?.destroy();
          // A refused subscription is refused again on every try: not something to wait out.
          if (!this.options.reconnect || this.closed || (error instanceof EventdError && error.code === 'EVENTD_REFUSED')) throw error;
          this.lost(error as Error);
          await this.sleep(this.backoff.next());
          continue;
        }
        let failure: Error | undefined;
        try {
          for (;;) {
            const first = await reader.next();
            if (first === undefined) break;
            // A reconnect may replay what was already handed out.
            const batch = [first, ...reader.takeBuffered()]
              .map(checkEvent)
              .filter((event) => this.lastSeq === undefined || event.seq > this.lastSeq);
            if (batch.length === 0) continue;
            this.lastSeq = batch[batch.length - 1]!.seq;
            this.confirm();
            yield batch;
            if (this.closed) return;
          }
        } catch (error) {
          // A line that is not an event: the connection is not to be trusted, like a lost one.
          if (!(error instanceof EventdError) || !this.options.reconnect) throw error;
          failure = error;
          this.socket?.destroy();
        }
        if (!this.options.reconnect || this.closed) return;
        clearTimeout(this.confirmTimer);
        this.lost(failure);
        // A connection that broke before it proved itself is the same outage: wait longer each time.
        if (this.disconnected && this.resumed) await this.sleep(this.backoff.next());
      }
    } finally {
      clearTimeout(this.confirmTimer);
      this.close();
    }
  }

  /** A reconnection that stays up a moment without breaking counts as back (an idle stream sends nothing). */
  private confirmSoon(): void {
    clearTimeout(this.confirmTimer);
    this.confirmTimer = setTimeout(() => this.confirm(), CONFIRM_MS).unref();
  }

  /** The connection works: the outage is over (said once, with where it resumed). */
  private confirm(): void {
    clearTimeout(this.confirmTimer);
    const resumed = this.resumed;
    if (!this.disconnected || resumed === undefined) return;
    this.disconnected = false;
    this.resumed = undefined;
    this.backoff.reset();
    this.options.onReconnect?.(resumed);
  }

  /** Tells onDisconnect once per outage. */
  private lost(error: Error | undefined): void {
    if (this.disconnected) return;
    this.disconnected = true;
    this.options.onDisconnect?.(error, this.daemonRun !== undefined);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.retryTimer = undefined;
        resolve();
      };
      this.retryTimer = { timer: setTimeout(wake, ms), wake };
    });
  }

  private async open(): Promise<JsonLineReader> {
    this.socket = await connect(this.options.eventsSocket ?? defaultSocketPaths().eventsSocket);
    const socket = this.socket;
    const reader = new JsonLineReader(socket);
    try {
      await withReplyTimeout(this.handshake(reader), this.options.replyTimeoutMs ?? REPLY_TIMEOUT_MS, 'event_subscribe', () =>
        socket.destroy(),
      );
    } catch (error) {
      socket.destroy();
      throw error;
    }
    return reader;
  }

  /**
   * Subscribes from the last seq seen, naming the run it was seen in: a daemon whose history
   * broke since (a new run) then replays all it has. Lines before the reply belong to the default
   * subscription and are skipped.
   */
  private async handshake(reader: JsonLineReader): Promise<void> {
    const opts: SubscribeOpts = {};
    if (this.options.type !== undefined) opts.type = this.options.type;
    if (this.options.opts !== undefined) opts.opts = this.options.opts;
    if (this.lastSeq !== undefined) opts.since = this.lastSeq;
    // By time until the first event comes: from then on by seq, like any resumption.
    else if (this.options.sinceTime !== undefined) opts.since_time = this.options.sinceTime.toISOString();
    if (this.lastSeq !== undefined && this.daemonRun !== undefined) opts.run = this.daemonRun;
    this.socket!.write(`${JSON.stringify({ cmd: 'event_subscribe', opts })}\n`);
    const reply = await this.reply(reader);
    const run = typeof reply.run === 'string' ? reply.run : undefined;
    const missed = typeof reply.missed === 'number' ? reply.missed : 0;
    const after = this.lastSeq;
    if (this.daemonRun !== undefined && run !== this.daemonRun) {
      this.options.onGap?.({ missed: 0, reason: 'daemon-restarted' });
      this.lastSeq = 0;
    } else if (missed > 0) {
      this.options.onGap?.({ missed, reason: 'evicted' });
    }
    this.daemonRun = run;
    // The first reconnection of an outage says where it resumed; one that breaks at once does not count.
    if (this.disconnected) this.resumed ??= { run: run ?? '', after, missed };
  }

  private async reply(reader: JsonLineReader): Promise<Record<string, unknown>> {
    for (;;) {
      const line = await reader.next();
      if (line === undefined) throw new EventdError('EVENTD_UNREACHABLE', 'eventd closed the connection before answering the subscription');
      if (!isPlainObject(line))
        throw new EventdError('EVENTD_PROTOCOL', `eventd sent ${JSON.stringify(line)?.slice(0, 100)} instead of an answer`);
      if (line.status === false) throw new EventdError('EVENTD_REFUSED', `eventd refused the subscription: ${String(line.message)}`);
      if (line.status === true) return line;
    }
  }
}

/** An event line as eventd sends it: an object with a positive integer seq, a time, a type and opts. */
function checkEvent(line: unknown): Event {
  if (
    isPlainObject(line) &&
    Number.isSafeInteger(line.seq) &&
    (line.seq as number) > 0 &&
    typeof line.time === 'string' &&
    typeof line.type === 'string' &&
    isPlainObject(line.opts)
  ) {
    return line as unknown as Event;
  }
  throw new EventdError('EVENTD_PROTOCOL', `eventd sent a line that is not an event: ${JSON.stringify(line)?.slice(0, 200)}`);
}

export function subscribe(options: SubscribeOptions = {}): Subscription {
  return new Subscription(options);
}
