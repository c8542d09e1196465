// A subscription as an async iterable of events that, if asked to, survives daemon restarts and
// slow-subscriber disconnects by reconnecting and resuming with `since`.
import type { Socket } from 'node:net';
import type { FilterValue, SubscribeOpts } from '../protocol/commands.js';
import type { Event, EventType } from '../protocol/events.js';
import { Backoff } from './backoff.js';
import { connect, defaultSocketPaths } from './connect.js';
import { JsonLineReader } from './lines.js';

export interface SubscribeOptions {
  type?: EventType | EventType[];
  opts?: Record<string, FilterValue | FilterValue[]>;
  /** Replay retained events with seq > since first. */
  since?: number;
  /** Keep going across disconnects and daemon restarts (default false: the iteration ends). */
  reconnect?: boolean;
  /** The daemon's events socket (default: where `eventd serve` puts it, see defaultSocketPaths). */
  eventsSocket?: string;
  /** Told when events could not be delivered: evicted from history, or lost in a daemon restart. */
  onGap?: (gap: Gap) => void;
  /** Told each time the connection drops while reconnecting. */
  onDisconnect?: (error: Error | undefined) => void;
}

export interface Gap {
  /** How many events are known to be missing (0 when unknown, e.g. across a restart). */
  missed: number;
  reason: 'evicted' | 'daemon-restarted';
}

const MAX_RETRY_DELAY_MS = 2000;

export class Subscription implements AsyncIterable<Event> {
  /** seq of the last event handed out. */
  lastSeq: number | undefined;
  private socket: Socket | undefined;
  /** A connection opened by ready(), handed to the iteration when it starts. */
  private opened: Promise<JsonLineReader> | undefined;
  private closed = false;
  private daemonRun: string | undefined;

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

  /** Ends the iteration. */
  close(): void {
    this.closed = true;
    this.socket?.destroy();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Event> {
    for await (const batch of this.batches()) {
      for (const event of batch) {
        yield event;
        if (this.closed) return;
      }
    }
  }

  /**
   * The same events, as arrays of everything already received: a consumer that forwards them
   * somewhere (eventd forward) can write a whole array at once.
   */
  async *batches(): AsyncGenerator<Event[]> {
    const backoff = new Backoff(100, MAX_RETRY_DELAY_MS);
    while (!this.closed) {
      let reader: JsonLineReader;
      try {
        reader = await (this.opened ?? this.open());
        this.opened = undefined;
        backoff.reset();
      } catch (error) {
        this.opened = undefined;
        this.socket?.destroy();
        if (!this.options.reconnect || this.closed) throw error;
        this.options.onDisconnect?.(error as Error);
        await new Promise((resolve) => setTimeout(resolve, backoff.next()));
        continue;
      }
      for (;;) {
        const first = (await reader.next()) as Event | undefined;
        if (first === undefined) break;
        // A reconnect may replay what was already handed out.
        const batch = [first, ...(reader.takeBuffered() as Event[])].filter(
          (event) => this.lastSeq === undefined || event.seq > this.lastSeq,
        );
        if (batch.length === 0) continue;
        this.lastSeq = batch[batch.length - 1]!.seq;
        yield batch;
        if (this.closed) return;
      }
      if (!this.options.reconnect || this.closed) return;
      this.options.onDisconnect?.(undefined);
    }
  }

  private async open(): Promise<JsonLineReader> {
    this.socket = await connect(this.options.eventsSocket ?? defaultSocketPaths().eventsSocket);
    const reader = new JsonLineReader(this.socket);
    await this.handshake(reader);
    return reader;
  }

  /**
   * Asks for stats first (its run id tells a restarted daemon, whose seq starts again at 1), then
   * subscribes from the last seq seen. Lines before the subscribe reply belong to the default
   * subscription and are skipped.
   */
  private async handshake(reader: JsonLineReader): Promise<void> {
    const socket = this.socket!;
    socket.write('{"cmd":"stats"}\n');
    const stats = (await this.reply(reader)) as { response: { run: string } };
    if (this.daemonRun !== undefined && stats.response.run !== this.daemonRun) {
      this.options.onGap?.({ missed: 0, reason: 'daemon-restarted' });
      this.lastSeq = 0;
    }
    this.daemonRun = stats.response.run;
    const opts: SubscribeOpts = {};
    if (this.options.type !== undefined) opts.type = this.options.type;
    if (this.options.opts !== undefined) opts.opts = this.options.opts;
    if (this.lastSeq !== undefined) opts.since = this.lastSeq;
    socket.write(`${JSON.stringify({ cmd: 'event_subscribe', opts })}\n`);
    const subscribed = (await this.reply(reader)) as { missed?: number };
    if (subscribed.missed) this.options.onGap?.({ missed: subscribed.missed, reason: 'evicted' });
  }

  private async reply(reader: JsonLineReader): Promise<Record<string, unknown>> {
    for (;;) {
      const line = (await reader.next()) as Record<string, unknown> | undefined;
      if (line === undefined) throw new Error('eventd closed the connection');
      if (line.status === false) throw new Error(`eventd refused the subscription: ${String(line.message)}`);
      if (line.status === true) return line;
    }
  }
}

export function subscribe(options: SubscribeOptions = {}): Subscription {
  return new Subscription(options);
}
