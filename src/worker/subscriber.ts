// One subscriber connection, owned by a worker thread: reads its commands, filters and frames
// events for it, and bounds what is queued for it. It speaks eventd's own protocol, or osctld's
// client protocol on the osctld-compatible socket (greeting, then nothing until event_subscribe).
import type { Socket } from 'node:net';
import { BatchView } from '../ipc/batch.js';
import type { CloseReason, Dialect, StatsFormat } from '../ipc/messages.js';
import { readCommandFor } from '../protocol/command-check.js';
import type { Command, ParsedCommand } from '../protocol/commands.js';
import { compileFilter, MATCH_ALL, MATCH_NONE, matchesOpts, matchesType, type Filter } from '../protocol/filter.js';
import { LineFramer, tricklePauseMs } from '../protocol/framing.js';
import { socketFd } from '../native/index.js';
import { errorLine, okLine } from '../protocol/wire.js';
import { CommandPacer } from './pacer.js';

/** The descriptor under a socket, or -1 (then every write goes through its stream). */
function descriptorOf(socket: Socket): number {
  try {
    return socketFd(socket);
  } catch {
    return -1;
  }
}

/** What a subscriber needs from the worker that owns it. */
export interface SubscriberHost {
  readonly maxLineBytes: number;
  readonly lineTimeoutMs: number;
  readonly maxPendingBytes: number;
  readonly faultInjection: boolean;
  /** eventd's version, sent in the osctld greeting. */
  readonly version: string;
  /** The daemon's run id, in the answer to event_subscribe. */
  readonly run: string;
  /** The next chunk of a `since` replay: answered by replay() (or replayFailed()). */
  requestReplay(subscriber: Subscriber, since: number, first: boolean): void;
  /** The seq of the first event at or after a time (`since_time`). */
  seqAtTime(timeMs: number): Promise<number>;
  requestStats(subscriber: Subscriber, format: StatsFormat): void;
  /** Has the zod schemas read a command line the check refused, to say why (answer: commandParsed). */
  requestCommand(subscriber: Subscriber, text: string): void;
  crash(): void;
  block(ms: number): void;
  closed(subscriber: Subscriber, reason: CloseReason): void;
}

/**
 * Refusals a connection gets at full speed; after that, each refused line holds its next line back
 * this long. A client that floods bad commands (each one parsed twice, once by zod to say why)
 * then costs little, and a person or script that gets a few wrong never notices.
 */
const FREE_REFUSALS = 16;
const REFUSAL_PAUSE_MS = 20;

/**
 * What a stats or metrics reply is charged to its connection's pacer: the work is the main
 * thread's, so it is not measured here (a reply takes well under this).
 */
const STATS_COST_MS = 1;

/** The next chunk of a replay is asked for once the subscriber's queue is below this. */
const REPLAY_LOW_WATER = 64 * 1024;

export class Subscriber {
  private filter: Filter;
  private format: 'native' | 'osctld';
  /** osctld dialect: has an event_subscribe been answered (and so owes a farewell at shutdown)? */
  private subscribed = false;
  /** Live events up to this seq are not sent: a replay already covered them. */
  private liveAfter = 0;
  /** A `since` subscription waits for its history; live events meanwhile are part of it. */
  private awaitingReplay = false;
  /** The reply to the running `since` subscription has been sent (its first chunk came). */
  private replayAnswered = false;
  /** A command is waiting (for the main thread, the schemas or a pause); later lines queue behind it. */
  private busy = false;
  /** Lines read while busy: command lines, or the error for a line the framer refused. */
  private queued: (string | { refused: string })[] = [];
  private refusals = 0;
  private readonly pacer = new CommandPacer();
  /** A pause owed (refusals, or commands past the connection's share): taken before the next line is read. */
  private owedMs = 0;
  private closeReason: CloseReason | null = null;
  private isClosed = false;
  private peerEnded = false;
  private readonly framer: LineFramer;
  /** The socket's descriptor, for writes that bypass its stream (fan-out.ts); -1 if it has none. */
  private readonly fd: number;

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly host: SubscriberHost,
    readonly dialect: Dialect = 'native',
  ) {
    // A native client receives everything until it subscribes; osctl's client first reads the
    // greeting, then sends event_subscribe and reads its reply before any event.
    this.filter = dialect === 'native' ? MATCH_ALL : MATCH_NONE;
    this.format = dialect;
    this.fd = descriptorOf(socket);
    if (dialect === 'osctld') this.send(`${JSON.stringify({ version: host.version })}\n`);
    this.framer = new LineFramer(
      host.maxLineBytes,
      {
        line: (text) => this.onCommandLine(text),
        badLine: (_lineNo, message) => this.onCommandLine({ refused: message }),
        // A command left unfinished too long: say so, then close.
        timedOut: (message) => {
          this.reply(errorLine(message));
          this.socket.end(() => this.socket.destroy());
        },
      },
      host.lineTimeoutMs,
    );
    socket.on('data', (chunk: Buffer) => {
      // A trickle of bytes that finished no line: read it again a moment later (see framing.ts).
      if (!this.framer.push(chunk)) return;
      socket.pause();
      setTimeout(() => {
        if (!this.busy && !socket.destroyed) socket.resume();
      }, tricklePauseMs()).unref();
    });
    // A client that half-closes (`echo '{"cmd":"stats"}' | socat - UNIX-CONNECT:...`) gets the
    // replies to its commands, then the connection closes: a Unix socket gives no other sign that
    // a client is gone until a write fails.
    socket.on('end', () => {
      this.framer.end();
      this.peerEnded = true;
      this.endIfDone();
    });
    socket.on('error', () => this.close('error'));
    socket.on('close', () => this.close(this.closeReason ?? 'eof'));
  }

  /**
   * Sends the events of a batch that this subscriber wants and has not had yet. True when the
   * socket was given the batch's own memory to write: then `written` is called once it no longer
   * needs it (written, or the connection gone); false when it was not (nothing wanted, or a copy).
   */
  deliver(view: BatchView, written?: () => void): boolean {
    if (this.awaitingReplay) return false;
    return this.write(view, written);
  }

  /**
   * The descriptor a live record from `firstSeq` on may be written to directly, bypassing the
   * socket's stream, or -1: only when this subscriber takes every event of it as it lies in the
   * ring (eventd's format, no filter, none had already) and nothing is queued on the socket, so
   * those bytes cannot overtake any. Whatever the socket does not take goes to directRest().
   */
  directFd(firstSeq: number): number {
    if (this.awaitingReplay || this.filter !== MATCH_ALL || this.format !== 'native' || firstSeq <= this.liveAfter) return -1;
    const socket = this.socket;
    // Not destroyed: the descriptor is still this socket's (a closed one's number may be reused).
    if (socket.destroyed || socket.writableLength !== 0 || socket.writableEnded) return -1;
    return this.fd;
  }

  /**
   * The rest of a record after a direct write took `sent` of its bytes (-errno: none, failed),
   * through the socket's stream: it queues what a full socket left, and meets an error as any
   * write would. deliver() says what it returns.
   */
  directRest(view: BatchView, sent: number, written?: () => void): boolean {
    return this.send(sent > 0 ? view.buffer.subarray(sent) : view.buffer, written);
  }

  /** Filters and frames the events of a batch after liveAfter, and sends them; deliver() says what it returns. */
  private write(view: BatchView, written?: () => void): boolean {
    if (view.lastSeq <= this.liveAfter) return false;
    const { firstSeq } = view.batch;
    if (this.filter === MATCH_ALL && this.format === 'native' && firstSeq > this.liveAfter) return this.send(view.buffer, written);
    let out = '';
    for (let i = Math.max(0, this.liveAfter - firstSeq + 1); i < view.count; i++) {
      if (!matchesType(this.filter, view.type(i))) continue;
      if (this.filter.opts !== null && !matchesOpts(this.filter, view.eventOpts(i))) continue;
      out += this.format === 'native' ? view.line(i) : view.osctldLine(i);
    }
    // A string: the socket writes a copy of it.
    if (out !== '') this.send(out);
    return false;
  }

  /**
   * One chunk of the history a `since` subscription asked for: the reply comes first, then the
   * history, chunk by chunk, each asked for once the last has been taken (so a replay is held to
   * the same bound as live events, and a subscriber that does not read pins one chunk), then live.
   * lastSeq is the newest event the worker had read when the chunk came (live events it read while
   * this subscriber was replaying were not sent to it): the replay goes on until it reaches it, and
   * live events after it follow.
   */
  replay(view: BatchView, lastSeq: number, missed: number): void {
    if (this.isClosed) return;
    if (!this.replayAnswered) {
      this.replayAnswered = true;
      this.reply(this.subscribedLine(missed));
    } else if (missed > 0) {
      // It read so slowly that the history moved past it: like any slow subscriber, it goes
      // (reconnecting with since tells it what it missed).
      this.closeReason = 'slow';
      this.socket.destroy();
      return;
    }
    this.liveAfter = view.batch.firstSeq - 1;
    this.write(view);
    const through = view.count > 0 ? view.lastSeq : view.batch.firstSeq - 1;
    if (through >= lastSeq) {
      this.awaitingReplay = false;
      this.replayAnswered = false;
      // Events up to `since` were had already (even if this worker has not read them yet).
      this.liveAfter = Math.max(lastSeq, through);
      this.commandDone();
      return;
    }
    const next = () => {
      if (!this.isClosed) this.host.requestReplay(this, through, false);
    };
    if (this.socket.writableLength <= REPLAY_LOW_WATER) next();
    else this.socket.once('drain', next);
  }

  /**
   * The answer to event_subscribe: with the daemon's run id (it changes only when the history
   * broke, so a client resuming with `since` can tell), and how many events a replay missed.
   * osctld's dialect answers exactly as osctld does.
   */
  private subscribedLine(missed: number): string {
    if (this.dialect === 'osctld') return okLine('subscribed');
    return okLine('subscribed', missed > 0 ? { run: this.host.run, missed } : { run: this.host.run });
  }

  /** The history could not be read (an I/O error on the journal): said, and the subscription is live from now on. */
  replayFailed(message: string): void {
    if (this.isClosed) return;
    if (this.replayAnswered) {
      this.closeReason = 'error';
      this.socket.destroy();
      return;
    }
    this.awaitingReplay = false;
    this.reply(errorLine(message));
    this.commandDone();
  }

  statsReply(stats: unknown, error?: string): void {
    this.reply(error === undefined ? okLine(stats) : errorLine(`eventd could not answer: ${error}`));
    this.commandDone();
  }

  /** Flushes what is queued, then closes; the caller destroys it if the grace period ends first. */
  end(): void {
    this.closeReason ??= 'shutdown';
    // osctld ends a subscription this way when it stops; osctl reports the message and exits.
    if (this.dialect === 'osctld' && this.subscribed) this.reply(errorLine('eventd is shutting down'));
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * Events: a subscriber that lets more than maxPendingBytes queue up is dropped as too slow.
   * `written` is called once the socket is done with `data` (written, or failed); true if it was
   * given to the socket.
   */
  private send(data: string | Buffer, written?: () => void): boolean {
    if (this.socket.destroyed) return false;
    this.socket.write(data, written);
    if (this.socket.writableLength > this.host.maxPendingBytes) {
      this.closeReason = 'slow';
      this.socket.destroy();
    }
    return true;
  }

  /**
   * The answer to a command: never a reason to drop the connection (a client asking for stats is
   * not a slow subscriber); a client that does not read its answers is no longer read from
   * instead (commandDone), so they cannot pile up.
   */
  private reply(line: string): void {
    if (!this.socket.destroyed) this.socket.write(line);
  }

  private close(reason: CloseReason): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.framer.stop();
    this.socket.destroy();
    // A reason set on purpose (slow, shutdown) wins over how the socket happened to end.
    this.host.closed(this, this.closeReason ?? reason);
  }

  /** A line, or the framer's error for one; answered in line order. */
  private onCommandLine(line: string | { refused: string }): void {
    if (this.busy) {
      this.queued.push(line);
      this.socket.pause();
      return;
    }
    if (typeof line !== 'string') return this.refuse(line.refused);
    const started = performance.now();
    const read = readCommandFor(this.dialect, line, this.host.faultInjection);
    if (read.ok) return this.run(read.command, started);
    if ('message' in read) return this.refuse(read.message);
    // Refused by its schema: the schema says why (zod, loaded then). Later lines wait, as for stats.
    this.busy = true;
    this.host.requestCommand(this, line);
  }

  /** The schemas' reading of a command line the check refused (they have the last word). */
  commandParsed(parsed: ParsedCommand): void {
    if (this.isClosed) return;
    this.busy = false;
    if (parsed.ok) this.run(parsed.command, performance.now());
    else this.refuse(parsed.message);
    if (!this.busy) this.commandDone();
  }

  private refuse(message: string): void {
    this.reply(errorLine(message));
    if (++this.refusals > FREE_REFUSALS) this.owedMs += REFUSAL_PAUSE_MS;
    this.holdIfOwed();
  }

  /** Takes a pause owed before reading the next line (unless a command is still running: commandDone takes it). */
  private holdIfOwed(): void {
    if (this.busy || this.owedMs <= 0) return;
    const ms = this.owedMs;
    this.owedMs = 0;
    this.busy = true;
    setTimeout(() => {
      if (!this.isClosed) this.commandDone();
    }, ms).unref();
  }

  /** Runs a valid command; `started`: when reading its line began (what it costs is charged to the connection). */
  private run(command: Command, started: number): void {
    switch (command.cmd) {
      case 'event_subscribe': {
        const opts = command.opts;
        this.filter = compileFilter(opts);
        this.format = opts?.format ?? 'native';
        this.subscribed = true;
        this.owedMs += this.pacer.charge(performance.now() - started);
        if (opts?.since === undefined && opts?.since_time === undefined) {
          this.reply(this.subscribedLine(0));
          this.holdIfOwed();
          return;
        }
        this.busy = true;
        this.awaitingReplay = true;
        if (opts.since_time !== undefined) {
          // By time: from the first event at or after it.
          this.host.seqAtTime(Date.parse(opts.since_time)).then(
            (seq) => !this.isClosed && this.host.requestReplay(this, seq - 1, true),
            (error: Error) => this.replayFailed(`eventd could not read its history: ${error.message}`),
          );
          return;
        }
        // A seq of another run (the daemon's history broke since) says nothing here: everything retained is after it.
        this.host.requestReplay(this, opts.run === undefined || opts.run === this.host.run ? opts.since! : 0, true);
        return;
      }
      case 'stats':
      case 'metrics':
        this.owedMs += this.pacer.charge(STATS_COST_MS + performance.now() - started);
        this.busy = true;
        this.host.requestStats(this, command.cmd === 'stats' ? 'json' : 'prometheus');
        return;
      case 'debug_crash_worker':
        this.host.crash();
        return;
      case 'debug_block_worker':
        this.host.block(command.ms);
        return;
    }
  }

  private commandDone(): void {
    this.busy = false;
    this.holdIfOwed();
    if (this.busy) return;
    // Answers the client has not read: read its next line once they are taken.
    if (this.socket.writableLength > this.host.maxPendingBytes && !this.socket.destroyed) {
      this.busy = true;
      this.socket.once('drain', () => {
        if (!this.isClosed) this.commandDone();
      });
      return;
    }
    while (!this.busy && this.queued.length > 0) this.onCommandLine(this.queued.shift()!);
    if (!this.busy && !this.socket.destroyed) this.socket.resume();
    this.endIfDone();
  }

  private endIfDone(): void {
    if (this.peerEnded && !this.busy && this.queued.length === 0) this.socket.end();
  }
}
