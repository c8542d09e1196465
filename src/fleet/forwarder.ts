// Forwards one host's events from the local daemon into JetStream, exactly once.
//
// The forwarder keeps no state of its own: where to resume is read back from JetStream (the last
// message stored for this host carries `<host>:<run>:<seq>` as its id). Each session asks the
// daemon for its run, subscribes with `since` the last stored seq of that run, and publishes in
// seq order with a window of acks in flight. Any failure (NATS gone, publish not acknowledged,
// daemon gone) ends the session; the next one, after a backoff, reads the position back again,
// so nothing is skipped and nothing already stored is sent twice (and a retry inside JetStream's
// duplicate window is dropped by the message id anyway). It is only a subscriber to the daemon:
// if it stalls, the daemon drops it like any slow subscriber and it resumes from history.
import { jetstream, JetStreamApiCodes, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { Backoff } from '../client/backoff.js';
import { fetchStats } from '../client/stats.js';
import { Subscription } from '../client/subscription.js';
import type { Logger } from '../log.js';
import { isDaemonShutdown } from '../protocol/event-types.js';
import type { Event } from '../protocol/events.js';
import { connectNats, watchConnection } from './connection.js';
import { EventdError } from '../errors.js';
import { FLEET_DEFAULTS } from './settings.js';
import { ensureStream, isJetStreamError, type StreamSettings } from './stream.js';
import { eventSubject, HOST_HEADER, hostToken, messageId, parseMessageId, parseSubject, RUN_HEADER, SUBJECT_PREFIX } from './subjects.js';

export interface ForwarderOptions {
  natsUrl: string;
  stream: StreamSettings;
  host: string;
  eventsSocket: string;
  log: Logger;
  /** Publishes awaiting their ack at once (default 256). */
  window?: number;
  /** Longest wait between two attempts after a failure (default 5 s). */
  maxBackoffMs?: number;
}

export interface ForwarderStats {
  host: string;
  stream: string;
  /** The daemon run being forwarded, and the last seq of it JetStream acknowledged. */
  run: string | undefined;
  last_seq: number;
  forwarded: number;
  /** Publishes JetStream recognised as already stored (retries). */
  duplicates: number;
  /** Times the daemon's history did not cover what was not yet forwarded. */
  gaps: number;
  /** Events known to be lost in those gaps (evicted from history; a restart's loss is unknown). */
  missed: number;
  sessions: number;
  /** Times the connection to NATS was lost, and came back (by the client's reconnect, or a new connection). */
  nats_disconnects: number;
  nats_reconnects: number;
}

/** The last event stored for this host: its daemon run and seq, and whether it was the daemon's shutdown announcement. */
interface Position {
  run: string;
  seq: number;
  daemonShutdown: boolean;
}

const PUBLISH_TIMEOUT_MS = 5000;

export class Forwarder {
  readonly stats: ForwarderStats;
  private readonly log: Logger;
  private readonly window: number;
  private readonly maxBackoffMs: number;
  private stopped = false;
  private running: Promise<void> | undefined;
  private subscription: Subscription | undefined;
  private wake: (() => void) | undefined;
  /**
   * Losses already counted, so that a session that ends before it moved the position does not
   * count them again: the run and seq up to which events are known lost, and the stored event
   * after which a restart loss was reported.
   */
  private lostThrough = { run: '', seq: 0 };
  private restartReportedAfter = '';

  private constructor(
    private readonly options: ForwarderOptions,
    private nc: NatsConnection,
    private jsm: JetStreamManager,
    private js: JetStreamClient,
  ) {
    this.log = options.log;
    this.window = options.window ?? FLEET_DEFAULTS.window;
    this.maxBackoffMs = options.maxBackoffMs ?? FLEET_DEFAULTS.maxBackoffMs;
    this.stats = {
      host: options.host,
      stream: options.stream.name,
      run: undefined,
      last_seq: 0,
      forwarded: 0,
      duplicates: 0,
      gaps: 0,
      missed: 0,
      sessions: 0,
      nats_disconnects: 0,
      nats_reconnects: 0,
    };
  }

  /**
   * Connects to NATS, creates or checks the stream and checks that the daemon answers. Each of
   * these failing at start is an EventdError with a readable message: the caller exits (and
   * systemd retries), rather than a misconfigured forwarder retrying quietly for ever.
   */
  static async start(options: ForwarderOptions): Promise<Forwarder> {
    hostToken(options.host);
    const nc = await connectNats(options.natsUrl, `eventd forward (${options.host})`);
    try {
      const jsm = await jetstreamManager(nc).catch((error: Error) => {
        const message = `NATS at ${options.natsUrl} has no JetStream (start nats-server with -js): ${error.message}`;
        throw new EventdError('EVENTD_STREAM', message, { cause: error });
      });
      const { created, info } = await ensureStream(jsm, options.stream).catch((error: Error) => {
        throw error instanceof EventdError ? error : new EventdError('EVENTD_STREAM', error.message, { cause: error });
      });
      // The logger already names the stream (its child bindings): no second `stream` key.
      options.log.info(
        { created, max_age_s: info.config.max_age / 1e9, max_bytes: info.config.max_bytes },
        created ? 'stream created' : 'stream found',
      );
      await fetchStats(options.eventsSocket).catch((error: Error) => {
        throw error instanceof EventdError ? error : new EventdError('EVENTD_UNREACHABLE', error.message, { cause: error });
      });
      const forwarder = new Forwarder(options, nc, jsm, jetstream(nc));
      forwarder.watchConnection();
      return forwarder;
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  /** Forwards until stop(); every failure is logged and retried with a backoff. */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** The stats without the host and stream, which every log line of the forwarder names already. */
  counters(): Omit<ForwarderStats, 'host' | 'stream'> {
    const { host: _host, stream: _stream, ...counters } = this.stats;
    return counters;
  }

  /** Stops taking events, waits (up to 5 s) for the publishes in flight, and disconnects. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.subscription?.close();
    this.wake?.();
    if (this.running) await Promise.race([this.running, new Promise((resolve) => setTimeout(resolve, PUBLISH_TIMEOUT_MS))]);
    await this.nc.close();
  }

  private async loop(): Promise<void> {
    const backoff = new Backoff(100, this.maxBackoffMs);
    while (!this.stopped) {
      const before = this.stats.forwarded;
      try {
        await this.session();
      } catch (error) {
        if (this.stopped) break;
        this.log.warn({ err: error, ...this.counters() }, 'forwarding interrupted; resuming from what JetStream has');
      }
      if (this.stopped) break;
      // A session that moved forward was not a failure to back off from.
      if (this.stats.forwarded > before) backoff.reset();
      await this.sleep(backoff.next());
    }
  }

  /** One pass: find the position, subscribe from it, publish until something fails. */
  private async session(): Promise<void> {
    this.stats.sessions++;
    if (this.nc.isClosed()) await this.reconnect();
    const stored = await this.lastStored();
    const { run } = await fetchStats(this.options.eventsSocket);
    let since = 0;
    if (stored?.run === run) {
      since = stored.seq;
    } else if (stored?.daemonShutdown) {
      // The old run's last event was its own shutdown announcement (not a producer's
      // osctld_shutdown, which any producer may report): everything of it was forwarded.
      this.log.info(
        { stored_run: stored.run, stored_seq: stored.seq, run },
        'the daemon restarted after a clean shutdown; nothing was missed',
      );
    } else if (stored && this.restartReportedAfter !== `${stored.run}:${stored.seq}`) {
      // The daemon went away without announcing it (or before its announcement was forwarded):
      // what it published after the last event stored, if anything, is gone with it.
      this.restartReportedAfter = `${stored.run}:${stored.seq}`;
      this.stats.gaps++;
      this.log.warn(
        { stored_run: stored.run, stored_seq: stored.seq, run, gaps: this.stats.gaps },
        'the daemon restarted since the last forwarded event; events it published after that, if any, are lost',
      );
    }
    this.stats.run = run;
    this.stats.last_seq = since;
    const subscription = new Subscription({
      eventsSocket: this.options.eventsSocket,
      since,
      onGap: (gap) => gap.reason === 'evicted' && this.evicted(run, since, gap.missed),
    });
    this.subscription = subscription;
    this.log.info({ run, since }, since > 0 ? 'resuming' : 'forwarding from the start of the daemon history');
    const pending: Promise<Error | undefined>[] = [];
    try {
      for await (const batch of subscription.batches()) {
        // The daemon restarted between the stats and the subscription: start over.
        if (subscription.run !== run) break;
        // Published in one synchronous run, a batch leaves in one write to NATS.
        for (const event of batch) pending.push(this.publish(event, run));
        while (pending.length >= this.window) {
          const failure = await pending.shift()!;
          if (failure) throw failure;
        }
      }
    } finally {
      subscription.close();
      // Every publish settles before the next session reads the position back.
      const failures = (await Promise.all(pending)).filter((failure) => failure !== undefined);
      if (failures.length > 0 && !this.stopped) throw failures[0];
    }
    if (!this.stopped) throw new Error('the daemon closed the subscription');
  }

  /** Events after `since` were evicted before they could be forwarded: count each lost seq once. */
  private evicted(run: string, since: number, missed: number): void {
    const end = since + missed;
    const start = this.lostThrough.run === run ? Math.max(since, this.lostThrough.seq) : since;
    if (end <= start) return;
    this.lostThrough = { run, seq: end };
    this.stats.gaps++;
    this.stats.missed += end - start;
    this.log.warn(
      { missed: end - start, since, run, gaps: this.stats.gaps, missed_total: this.stats.missed },
      "events were evicted from the daemon's history before they could be forwarded",
    );
  }

  /** Resolves (never rejects) once acknowledged: undefined, or the failure. */
  private publish(event: Event, run: string): Promise<Error | undefined> {
    const { host } = this.options;
    const h = headers();
    h.set(HOST_HEADER, host);
    h.set(RUN_HEADER, run);
    return this.js
      .publish(eventSubject(host, event.type), JSON.stringify(event), {
        msgID: messageId(host, run, event.seq),
        headers: h,
        timeout: PUBLISH_TIMEOUT_MS,
      })
      .then(
        (ack) => {
          if (ack.duplicate) this.stats.duplicates++;
          else this.stats.forwarded++;
          this.stats.last_seq = event.seq;
          return undefined;
        },
        (error: Error) => error,
      );
  }

  /** The run and seq of the last event JetStream holds for this host, if any. */
  private async lastStored(): Promise<Position | undefined> {
    const subject = `${SUBJECT_PREFIX}.${hostToken(this.options.host)}.>`;
    let message;
    try {
      message = await this.jsm.streams.getMessage(this.options.stream.name, { last_by_subj: subject });
    } catch (error) {
      if (isJetStreamError(error, JetStreamApiCodes.NoMessageFound)) return undefined;
      throw error;
    }
    const id = message?.header.get('Nats-Msg-Id');
    const parsed = id ? parseMessageId(id) : undefined;
    if (!parsed) return undefined;
    // The stored message is the event line as the daemon sent it.
    const event =
      parseSubject(message!.subject)?.type === 'osctld_shutdown' ? (message!.json() as { type?: string; opts?: unknown }) : undefined;
    return { run: parsed.run, seq: parsed.seq, daemonShutdown: event !== undefined && isDaemonShutdown(event) };
  }

  private async reconnect(): Promise<void> {
    this.nc = await connectNats(this.options.natsUrl, `eventd forward (${this.options.host})`);
    this.stats.nats_reconnects++;
    this.jsm = await jetstreamManager(this.nc);
    this.js = jetstream(this.nc);
    this.watchConnection();
  }

  private watchConnection(): void {
    watchConnection(this.nc, {
      lost: () => {
        this.stats.nats_disconnects++;
        this.log.warn({ server: this.options.natsUrl }, 'NATS connection lost; reconnecting');
      },
      back: () => {
        this.stats.nats_reconnects++;
        this.log.info({ server: this.options.natsUrl }, 'NATS connection back');
      },
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
