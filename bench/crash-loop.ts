// Durability shown by killing: the daemon, with its journal, is SIGKILLed at a random moment while
// a producer reports (recording every ack) and a subscriber reads (recording every event it saw,
// having resumed with `since` after the last one it saw before). Then it is started again on the
// same journal, and again. At the end the journal is read offline and checked:
//   - every acknowledged report is there exactly once, with the seq its ack named and the bytes sent;
//   - every event a subscriber saw is there with the same seq and bytes (no seq given twice);
//   - seqs are gap-free and in order (a process crash loses nothing the kernel had);
//   - each subscriber that resumed with `since` got exactly the events after its seq.
// With `powerLoss`, each kill is followed by what a power loss leaves: only the bytes the journal
// fdatasync'ed (an fault-injection log of each sync), and a new boot id.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchView } from '../src/ipc/batch.js';
import { LineSplitter } from '../src/client/lines.js';
import { JournalReader } from '../src/journal/reader.js';
import type { FsyncPolicy } from '../src/journal/format.js';

const EVENTD = fileURLToPath(new URL('../bin/eventd.js', import.meta.url));

export interface CrashLoopOptions {
  rounds: number;
  policy: FsyncPolicy;
  /** Keep only what was fdatasync'ed after each kill, and boot again (a power loss). */
  powerLoss?: boolean;
  /** The longest a round runs before its kill (ms); each kill comes at a random moment up to it. */
  maxRoundMs?: number;
  log?: (line: string) => void;
}

export interface CrashLoopResult {
  kills: number;
  acked: number;
  seen: number;
  journaled: number;
  /** What went wrong, one sentence each (empty: everything held). */
  failures: string[];
}

interface Round {
  /** seq → the opts text sent, for every report acked in this round. */
  acked: Map<number, string>;
  /** seq → line, for every event the subscriber saw. */
  seen: Map<number, string>;
  /** The seq the subscriber resumed after, and the run it named. */
  since: number;
}

export async function crashLoop(options: CrashLoopOptions): Promise<CrashLoopResult> {
  const dir = mkdtempSync(join(tmpdir(), 'eventd-crash-'));
  const journal = join(dir, 'journal');
  const syncLog = join(dir, 'synced.log');
  const rounds: Round[] = [];
  let lastSeen = 0;
  let run: string | undefined;
  let bootId = randomUUID();
  try {
    for (let r = 0; r < options.rounds; r++) {
      const daemon = await startDaemon(dir, journal, options.policy, syncLog, bootId);
      const round: Round = { acked: new Map(), seen: new Map(), since: lastSeen };
      rounds.push(round);
      const subscriber = await subscribe(daemon.events, lastSeen, run, round);
      run = subscriber.run;
      const producing = produce(daemon.report, r, round);
      await sleep(20 + Math.random() * (options.maxRoundMs ?? 300));
      daemon.proc.kill('SIGKILL');
      await daemon.exited;
      subscriber.socket.destroy();
      await producing;
      // What it saw survives the crash (or, after a power loss, is never given to another event).
      const seqs = [...round.seen.keys()];
      if (seqs.length > 0) lastSeen = Math.max(lastSeen, seqs.at(-1)!);
      if (options.powerLoss) {
        keepOnlySynced(journal, syncLog);
        bootId = randomUUID();
      }
      options.log?.(`round ${r + 1}: ${round.acked.size} acked, ${round.seen.size} seen`);
    }
    // A last start on the journal (recovery), stopped cleanly: then everything is read offline.
    const last = await startDaemon(dir, journal, options.policy, syncLog, bootId);
    last.proc.kill('SIGTERM');
    await last.exited;
    return check(rounds, await readJournal(journal), options);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function check(rounds: Round[], journaled: Map<number, string>, options: CrashLoopOptions): CrashLoopResult {
  const failures: string[] = [];
  const fail = (text: string) => failures.length < 20 && failures.push(text);
  let acked = 0;
  let seen = 0;
  const optsText = (line: string) => line.slice(line.indexOf(',"opts":') + 8, -2);
  // A power loss under --fsync interval or never may take what was acknowledged and seen in the
  // last second; what it cannot do is give those seqs to other events.
  const lossAllowed = options.powerLoss === true && options.policy !== 'always';
  rounds.forEach((round, r) => {
    for (const [seq, opts] of round.acked) {
      acked++;
      const line = journaled.get(seq);
      if (line === undefined) {
        if (!lossAllowed) fail(`round ${r + 1}: acked seq ${seq} is not in the journal`);
      } else if (optsText(line) !== opts) fail(`round ${r + 1}: acked seq ${seq} holds ${line.trim()}, not ${opts}`);
    }
    const seqs = [...round.seen.keys()];
    const gapsAllowed = lossAllowed;
    seqs.forEach((seq, i) => {
      seen++;
      const expected = i === 0 ? round.since + 1 : seqs[i - 1]! + 1;
      if (seq !== expected && !(gapsAllowed && seq > expected)) {
        fail(`round ${r + 1}: the subscriber resumed after ${round.since} and got seq ${seq} where ${expected} was due`);
      }
      const line = journaled.get(seq);
      // After a power loss under a weak policy what was seen may be gone; never replaced by another event.
      if (line === undefined) {
        if (!lossAllowed) fail(`round ${r + 1}: seq ${seq}, seen by a subscriber, is not in the journal`);
      } else if (line !== round.seen.get(seq))
        fail(`round ${r + 1}: seq ${seq} was seen as ${round.seen.get(seq)!.trim()} but the journal holds ${line.trim()}`);
    });
  });
  // Each report appears once: its id (round and number) never twice.
  const ids = new Map<string, number>();
  for (const [seq, line] of journaled) {
    const id = /"id":"(c[^"]+)"/.exec(line)?.[1];
    if (id === undefined) continue;
    if (ids.has(id)) fail(`report ${id} is in the journal twice, at seq ${ids.get(id)} and ${seq}`);
    ids.set(id, seq);
  }
  // Gap-free and in order, unless a power loss under a weak policy made the daemon skip seqs.
  const seqs = [...journaled.keys()];
  seqs.forEach((seq, i) => {
    if (i > 0 && seq <= seqs[i - 1]!) fail(`seq ${seq} comes after ${seqs[i - 1]}`);
    if (i > 0 && seq !== seqs[i - 1]! + 1 && !lossAllowed) fail(`seqs ${seqs[i - 1]! + 1} to ${seq - 1} are missing`);
  });
  return { kills: rounds.length, acked, seen, journaled: journaled.size, failures };
}

interface Daemon {
  proc: ChildProcess;
  exited: Promise<unknown>;
  report: string;
  events: string;
}

async function startDaemon(dir: string, journal: string, policy: FsyncPolicy, syncLog: string, bootId: string): Promise<Daemon> {
  const report = join(dir, 'r.sock');
  const events = join(dir, 'e.sock');
  const proc = spawn(
    process.execPath,
    [EVENTD, 'serve', '--report-socket', report, '--events-socket', events, '--journal', journal, '--fsync', policy, '--log-level', 'warn'],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, EVENTD_FAULT_INJECTION: '1', EVENTD_FAULT_SYNC_LOG: syncLog, EVENTD_BOOT_ID: bootId },
    },
  );
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  for (let i = 0; ; i++) {
    try {
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(events, () => {
          socket.destroy();
          resolve();
        });
        socket.once('error', reject);
      });
      return { proc, exited, report, events };
    } catch (error) {
      if (i === 200) throw error;
      await sleep(25);
    }
  }
}

/** Subscribes after `since` (naming the run it was seen in) and records every event into the round. */
async function subscribe(path: string, since: number, run: string | undefined, round: Round): Promise<{ socket: net.Socket; run: string }> {
  const socket = net.connect(path);
  socket.on('error', () => {});
  socket.setEncoding('utf8');
  const splitter = new LineSplitter();
  let answered: (run: string) => void;
  const reply = new Promise<string>((resolve) => (answered = resolve));
  socket.on('data', (chunk: string) => {
    for (const line of splitter.push(chunk)) {
      if (line.startsWith('{"status"')) answered((JSON.parse(line) as { run: string }).run);
      else round.seen.set(Number(/^\{"seq":(\d+)/.exec(line)![1]), `${line}\n`);
    }
  });
  socket.write(`${JSON.stringify({ cmd: 'event_subscribe', opts: { since, ...(run ? { run } : {}) } })}\n`);
  return { socket, run: await reply };
}

/** Reports until the connection dies, 50 at a time, recording each ack. */
async function produce(path: string, r: number, round: Round): Promise<void> {
  const socket = net.connect(path);
  socket.setEncoding('utf8');
  const splitter = new LineSplitter();
  const sent = new Map<number, string>();
  let waiting: (() => void) | undefined;
  let open = true;
  socket.on('error', () => {});
  socket.on('close', () => {
    open = false;
    waiting?.();
  });
  socket.on('data', (chunk: string) => {
    for (const line of splitter.push(chunk)) {
      const answer = JSON.parse(line) as { status: boolean; ack: number; seq: number };
      if (answer.status) round.acked.set(answer.seq, sent.get(answer.ack)!);
      sent.delete(answer.ack);
    }
    if (sent.size === 0) waiting?.();
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve).once('close', resolve));
  for (let n = 0; open; n += 50) {
    let lines = '';
    for (let k = n; k < n + 50; k++) {
      const opts = JSON.stringify({ pool: 'tank', id: `c${r}-${k}`, init_pid: k + 1 });
      sent.set(k, opts);
      lines += `{"type":"ct_init_pid","opts":${opts},"ack":${k}}\n`;
    }
    socket.write(lines);
    await new Promise<void>((resolve) => (waiting = resolve));
  }
}

/** What a power loss leaves: each segment as far as its last fdatasync, the state as last synced. */
function keepOnlySynced(journal: string, syncLog: string): void {
  if (!existsSync(syncLog)) return;
  const synced = new Map<string, number>();
  let state: string | undefined;
  for (const line of readFileSync(syncLog, 'utf8').split('\n')) {
    const [kind, a, b] = line.split(' ');
    if (kind === 'seg') synced.set(a!, Number(b));
    else if (kind === 'state') state = a;
  }
  for (const name of readdirSync(journal)) {
    if (!name.endsWith('.seg')) continue;
    const size = synced.get(name);
    if (size === undefined) rmSync(join(journal, name));
    else truncateSync(join(journal, name), size);
  }
  if (state) writeFileSync(join(journal, 'state'), Buffer.from(state, 'hex'));
  appendFileSync(syncLog, '');
}

async function readJournal(journal: string): Promise<Map<number, string>> {
  const reader = new JournalReader(journal);
  const events = new Map<number, string>();
  let since = 0;
  for (;;) {
    const read = await reader.read(since, Number.POSITIVE_INFINITY, 1 << 20);
    if (read.batches.length === 0) return events;
    for (const batch of read.batches) {
      const view = new BatchView(batch);
      for (let i = 0; i < view.count; i++) events.set(batch.firstSeq + i, view.line(i));
    }
    since = read.nextSeq - 1;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
