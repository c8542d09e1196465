// Recovery at start, in-process on real files: a last segment cut at every byte offset of its
// last records, and bytes flipped in the middle of one. Each time the journal opens, keeps every
// intact record before the damage byte for byte, says what it dropped, and verify reports it.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openJournal } from '../../src/journal/open.js';
import { verifyJournal } from '../../src/journal/verify.js';
import { journalEvents, markCrashed, writeJournal } from '../helpers/journal.js';

const root = mkdtempSync(join(tmpdir(), 'eventd-recovery-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A journal of 30 records of 1 to 3 events, and its lines by seq. */
function sample(): { dir: string; lines: Map<number, string>; segment: string } {
  const dir = join(root, `j${Math.random().toString(36).slice(2)}`);
  const lines = writeJournal(
    dir,
    Array.from({ length: 30 }, (_, r) => Array.from({ length: 1 + (r % 3) }, (_, k) => `r${r}-${k}`)),
  );
  // As a crash leaves it: a torn record is what a write interrupted by a crash or a power loss leaves.
  markCrashed(dir);
  const segment = readdirSync(dir).find((name) => name.endsWith('.seg'))!;
  return { dir, lines, segment: join(dir, segment) };
}

/** Where each record starts in a segment (after its 64-byte header). */
function recordOffsets(segment: string): number[] {
  const bytes = readFileSync(segment);
  const offsets: number[] = [];
  for (let at = 64; at < bytes.length; at += bytes.readUInt32LE(at + 4)) offsets.push(at);
  return offsets;
}

describe('journal recovery', () => {
  it('reads back what it wrote, byte for byte', async () => {
    const { dir, lines } = sample();
    expect(await journalEvents(dir)).toEqual(lines);
    expect(verifyJournal(dir).problems).toEqual([]);
  });

  it('opens after a cut at every byte offset of the last three records, keeping every record before it', async () => {
    const { dir, lines, segment } = sample();
    const offsets = recordOffsets(segment);
    const size = statSync(segment).size;
    const from = offsets.at(-3)!;
    let cuts = 0;
    for (let cut = from; cut < size; cut++) {
      const copy = join(root, `cut-${cut}`);
      cpSync(dir, copy, { recursive: true });
      rmSync(join(copy, 'lock'));
      const copied = join(copy, segment.slice(dir.length + 1));
      truncateSync(copied, cut);
      // The last whole record before the cut.
      const kept = offsets.filter((offset, i) => (offsets[i + 1] ?? size) <= cut).length;
      const opened = openJournal(copy, 'interval');
      closeSync(opened.lockFd);
      const events = await journalEvents(copy);
      const expected = new Map([...lines].filter(([seq]) => seq <= opened.lastSeq));
      expect(events, `cut at ${cut}`).toEqual(expected);
      expect([...events.keys()].length).toBe([...lines.keys()].filter((seq) => seq <= opened.lastSeq).length);
      // Exactly the whole records before the cut survive; the rest was cut off and said so.
      const recordsLeft = recordOffsets(copied).length;
      expect(recordsLeft, `cut at ${cut}`).toBe(kept);
      expect(opened.recovery.tornBytes, `cut at ${cut}`).toBe(cut - (offsets[kept] ?? size));
      expect(statSync(copied).size).toBe(offsets[kept] ?? size);
      // A torn tail is not acknowledged data: seq goes on after the last good event (same boot), the run stays.
      expect(opened.nextSeq).toBe(opened.lastSeq + 1);
      expect(verifyJournal(copy).problems).toEqual([]);
      rmSync(copy, { recursive: true, force: true });
      cuts++;
    }
    console.log(`journal recovery: ${cuts} cut points, each opened with every record before the cut`);
    expect(cuts).toBeGreaterThan(200);
  });

  it('keeps the good records around a damaged one in the middle, and verify names the seqs lost', async () => {
    const { dir, lines, segment } = sample();
    const offsets = recordOffsets(segment);
    // Record 10 (its events' seqs are known from the lines it wrote).
    const target = offsets[10]!;
    const length = offsets[11]! - target;
    let flips = 0;
    for (let at = target; at < target + length; at += 7) {
      const copy = join(root, `flip-${at}`);
      cpSync(dir, copy, { recursive: true });
      rmSync(join(copy, 'lock'));
      const copied = join(copy, segment.slice(dir.length + 1));
      const bytes = readFileSync(copied);
      bytes[at] ^= 0x5a;
      writeFileSync(copied, bytes);
      const report = verifyJournal(copy);
      expect(
        report.problems.filter((problem) => problem.kind === 'damage'),
        `flip at ${at}`,
      ).toHaveLength(1);
      const damage = report.problems[0]!;
      const opened = openJournal(copy, 'interval');
      closeSync(opened.lockFd);
      expect(opened.recovery.damaged).toHaveLength(1);
      // Every event outside the damaged record is there, byte for byte.
      const events = await journalEvents(copy);
      const lost = [...lines.keys()].filter((seq) => !events.has(seq));
      expect(lost.length, `flip at ${at}`).toBeGreaterThan(0);
      expect(lost.length).toBeLessThanOrEqual(3);
      expect(damage.firstSeq).toBe(lost[0]);
      expect(damage.lastSeq).toBe(lost.at(-1));
      for (const [seq, line] of events) expect(line).toBe(lines.get(seq));
      rmSync(copy, { recursive: true, force: true });
      flips++;
    }
    console.log(`journal recovery: ${flips} flipped bytes in one record, each reported and the rest kept`);
  });
});
