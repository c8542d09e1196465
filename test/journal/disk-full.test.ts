// A full disk, for real: the journal on a small tmpfs. Reports are refused with a clear error
// line (never acknowledged), subscribers keep being served, the daemon says so once and a metric
// shows it, the journal is never corrupt, and it all recovers by itself once space returns.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyJournal } from '../../src/journal/verify.js';
import { REFUSED_JOURNAL } from '../../src/ingest/ingest.js';
import { TestDaemon } from '../helpers/daemon.js';
import { journalEvents } from '../helpers/journal.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A tmpfs of `size` mounted on a fresh directory, or undefined where this machine cannot mount one. */
function smallFilesystem(size: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'eventd-full-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  if (mounted.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  cleanups.push(() => {
    spawnSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

const canMount = (() => {
  if (process.getuid?.() !== 0) return false;
  const probe = smallFilesystem('64k');
  if (probe === undefined) return false;
  spawnSync('umount', ['-l', probe]);
  return true;
})();
if (!canMount) console.warn('not run here (it needs root, to mount a small tmpfs): journal › the journal on a full disk');

(canMount ? describe : describe.skip)('the journal on a full disk', () => {
  it('refuses reports while it cannot write, serves subscribers meanwhile, and recovers when space returns', async () => {
    const fs = smallFilesystem('2m')!;
    // Another file takes half the disk: removing it later is the space coming back.
    writeFileSync(join(fs, 'ballast'), Buffer.alloc(1024 * 1024));
    const journal = join(fs, 'journal');
    mkdirSync(journal, { mode: 0o700 });
    const daemon = await TestDaemon.start({ args: ['--journal', journal, '--journal-segment-bytes', '262144'] });
    cleanups.push(() => daemon.cleanup());
    const subscriber = await daemon.subscriber();
    const producer = await daemon.producer();
    cleanups.push(() => producer.destroy());

    // Fill the disk: acks until the journal cannot write, then error lines.
    const pad = 'x'.repeat(900);
    const acked = new Map<number, number>();
    let refused = 0;
    for (let n = 0; refused === 0 && n < 5000; n += 50) {
      for (let k = n; k < n + 50; k++)
        producer.sendJson({ type: 'management', opts: { id: k, cmd: 'fill', opts: { pad }, state: 'run' }, ack: k });
      for (const reply of await producer.takeJson<{ status: boolean; ack: number; seq?: number; message?: string }>(50)) {
        if (reply.status) acked.set(reply.seq!, reply.ack);
        else {
          refused++;
          expect(reply.message).toBe(REFUSED_JOURNAL);
        }
      }
    }
    expect(refused).toBeGreaterThan(0);
    expect(acked.size).toBeGreaterThan(100);
    // Said once, counted, and shown; the daemon still answers.
    await expect.poll(async () => (await daemon.stats()).journal.writable).toBe(false);
    const stats = await daemon.stats();
    expect(stats.journal.write_errors).toBeGreaterThan(0);
    expect(stats.lines_rejected_by_reason.journal).toBe(refused);
    expect(daemon.logs.filter((record) => /journal: cannot write/.test(record.msg))).toHaveLength(1);
    // Subscribers are served: every acked event reached the one connected.
    const delivered = await subscriber.takeJson<{ seq: number }>(acked.size);
    expect(delivered.map((event) => event.seq)).toEqual([...acked.keys()]);
    // A new subscriber is answered too.
    const another = await daemon.subscriber({ since: 0 });
    another.destroy();

    // Space returns (the other file is removed): writing goes on by itself.
    rmSync(join(fs, 'ballast'));
    await expect.poll(async () => (await daemon.stats()).journal.writable, { timeout: 10_000 }).toBe(true);
    expect(daemon.logs.some((record) => record.msg === 'journal: writing again; reports are accepted')).toBe(true);
    producer.sendJson({ type: 'state', opts: { pool: 'tank', id: 'after', state: 'running' }, ack: 'after' });
    const [after] = await producer.takeJson<{ status: boolean; seq: number }>(1);
    expect(after).toMatchObject({ status: true });

    // Nothing corrupt: every record reads back; every acked event that was not deleted is there.
    await daemon.stop();
    expect(verifyJournal(journal).problems.filter((problem) => problem.kind === 'damage')).toEqual([]);
    const events = await journalEvents(journal);
    expect(events.get(after!.seq)).toMatch(/"id":"after"/);
    for (const [seq, ack] of acked) expect(events.get(seq)).toMatch(new RegExp(`"id":${ack},`));
  });
});
