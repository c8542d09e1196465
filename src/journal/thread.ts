// The journal's thread: a loop that writes what the ring has committed and sleeps until more is
// (or a sync or a retry is due). It serves no connection, so it may block in write, fdatasync and
// Atomics.wait; it tells the main thread only what to log.
import { parentPort, workerData } from 'node:worker_threads';
import { COMMIT_SIGNAL, EventRing, type RingHandles } from '../ring/event-ring.js';
import type { OpenedJournal } from './open.js';
import { JournalWriter, type JournalSettings } from './writer.js';
import { nameThread } from '../native/index.js';

export interface JournalThreadData {
  ring: RingHandles;
  consumer: number;
  journal: Pick<OpenedJournal, 'dir' | 'segments' | 'active' | 'state' | 'lastSeq' | 'recovery'>;
  settings: JournalSettings;
  syncLog: string | undefined;
}

export type JournalMessage =
  { t: 'log'; level: 'info' | 'warn' | 'error'; msg: string; fields: Record<string, unknown> } | { t: 'ready' } | { t: 'stopped' };

nameThread('eventd-journal');
const data = workerData as JournalThreadData;
const port = parentPort!;
const post = (message: JournalMessage) => port.postMessage(message);
const ring = EventRing.attach(data.ring);
const writer = new JournalWriter(
  ring,
  data.consumer,
  data.journal,
  data.settings,
  (level, msg, fields = {}) => post({ t: 'log', level, msg, fields }),
  data.syncLog,
);
post({ t: 'ready' });

for (;;) {
  const seen = ring.signal(COMMIT_SIGNAL);
  const due = writer.step();
  if (ring.journalStopRequested) break;
  ring.waitSync(COMMIT_SIGNAL, seen, due ?? 1000);
}
writer.stop();
post({ t: 'stopped' });
