// Journals made and read back in-process, for the journal's own tests: the real ring, the real
// writer and reader, no daemon.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeState } from '../../src/journal/format.js';
import { writeState } from '../../src/journal/open.js';
import { BatchBuilder, BatchView } from '../../src/ipc/batch.js';
import { JournalReader } from '../../src/journal/reader.js';
import { openJournal } from '../../src/journal/open.js';
import { JournalWriter } from '../../src/journal/writer.js';
import { JOURNAL_CONSUMER } from '../../src/journal/store.js';
import type { FsyncPolicy } from '../../src/journal/format.js';
import { EventRing } from '../../src/ring/event-ring.js';

export const T0 = Date.UTC(2026, 11, 6, 12, 0, 0);

/** A state event's tail (its line without seq and time). */
export function stateTail(id: string): string {
  return `"type":"state","opts":{"pool":"tank","id":"${id}","state":"running"}}\n`;
}

/**
 * Writes `records` (each a list of event ids, one record each) into the journal in `dir`, as a
 * daemon would, a millisecond apart, and stops it cleanly; returns the lines written by seq.
 */
export function writeJournal(
  dir: string,
  records: string[][],
  { policy = 'interval' as FsyncPolicy, segmentBytes = 1 << 20 } = {},
): Map<number, string> {
  const opened = openJournal(dir, policy);
  const ring = EventRing.create(1 << 20, { nextSeq: opened.nextSeq, gated: true, seqLimit: opened.lease });
  ring.join(JOURNAL_CONSUMER);
  const logs: string[] = [];
  const writer = new JournalWriter(
    ring,
    JOURNAL_CONSUMER,
    opened,
    { policy, segmentBytes, maxBytes: Infinity, maxAgeMs: Infinity },
    (level, msg) => logs.push(`${level} ${msg}`),
  );
  const builder = new BatchBuilder();
  const lines = new Map<number, string>();
  records.forEach((ids, i) => {
    builder.clear();
    for (const id of ids) builder.add(stateTail(id), 2);
    const result = ring.write(builder.view(), T0 + i);
    if (!result.ok) throw new Error(`ring write failed: ${result.why}`);
    const time = new Date(T0 + i).toISOString();
    ids.forEach((id, k) => lines.set(result.firstSeq + k, `{"seq":${result.firstSeq + k},"time":"${time}",${stateTail(id)}`));
    writer.step(T0 + i);
  });
  writer.stop();
  closeSync(opened.lockFd);
  if (logs.some((line) => line.startsWith('error'))) throw new Error(logs.join('\n'));
  return lines;
}

/** Every event in the journal, by seq, as its line. */
export async function journalEvents(dir: string): Promise<Map<number, string>> {
  const reader = new JournalReader(dir);
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

/** Makes the journal look as a crash left it (no clean stop recorded), on this same boot. */
export function markCrashed(dir: string): void {
  const path = join(dir, 'state');
  const state = decodeState(readFileSync(path))!;
  const fd = openSync(path, 'r+');
  try {
    writeState(fd, { ...state, generation: state.generation + 1, clean: false, lastSeq: 0 });
  } finally {
    closeSync(fd);
  }
}
