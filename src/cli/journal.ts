// `eventd journal verify|dump`: the journal read offline, for checks and forensics. Both only
// read: they may run while the daemon writes, and they need no daemon.
import { Command } from 'commander';
import { defaultJournalDir } from '../journal/directory.js';
import { JournalReader } from '../journal/reader.js';
import { verifyJournal } from '../journal/verify.js';
import { BatchView } from '../ipc/batch.js';
import { parseFleetSince } from '../fleet/settings.js';
import type { Event } from '../protocol/events.js';
import { formatEvent } from './format.js';
import { clientAction, EXIT, usageErrors } from './options.js';

export function journalCommand(): Command {
  const journal = new Command('journal').description('check or read the journal on disk (offline: no daemon needed)');
  journal
    .command('verify')
    .description('read every record, check its CRC and the seqs; list damaged ranges')
    .argument('[dir]', 'the journal directory', defaultJournalDir())
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Examples:
  eventd journal verify
  eventd journal verify /var/lib/eventd --json | jq .problems

Damage (a record whose CRC fails, a torn record at the end) exits 1; seqs missing between
records (skipped after a power loss under --fsync interval or never) are listed but are not damage.
Exit codes: 0 sound, 1 damaged, 2 usage.`,
    )
    .action(
      clientAction(async (dir: string, options: { json?: boolean }) => {
        const report = verifyJournal(dir);
        const damaged = report.problems.some((problem) => problem.kind === 'damage');
        if (options.json) {
          process.stdout.write(`${JSON.stringify(report)}\n`);
        } else {
          const range = report.firstSeq === undefined ? 'no events' : `seq ${report.firstSeq} to ${report.lastSeq}`;
          process.stdout.write(
            `${report.dir}: ${report.segments} segments, ${report.bytes} bytes, ` +
              `${report.records} records, ${report.events} events, ${range}\n`,
          );
          for (const problem of report.problems) {
            const seqs =
              problem.firstSeq === undefined
                ? ''
                : ` (seq ${problem.firstSeq}${problem.lastSeq === undefined ? '' : ` to ${problem.lastSeq}`})`;
            const where = problem.offset === undefined ? '' : ` at byte ${problem.offset}`;
            process.stdout.write(`${problem.kind === 'damage' ? 'DAMAGED' : 'gap'} ${problem.segment}${where}: ${problem.what}${seqs}\n`);
          }
          process.stdout.write(damaged ? 'damaged\n' : 'ok\n');
        }
        return damaged ? EXIT.failed : EXIT.ok;
      }),
    );
  journal
    .command('dump')
    .description('print the events in the journal, one line each (or the raw lines with --json)')
    .argument('[dir]', 'the journal directory', defaultJournalDir())
    .option(
      '--since <seq|time|duration>',
      'events after this seq, or since a time (2026-11-24T22:00) or a duration ago (2h)',
      usageErrors(parseDumpSince),
    )
    .option('--json', 'print the raw event lines (for jq)')
    .addHelpText(
      'after',
      `
Examples:
  eventd journal dump --since 2h
  eventd journal dump /var/lib/eventd --since 1200 --json | jq 'select(.type == "ct_exit")'

Exit codes: 0 ok, 2 usage.`,
    )
    .action(
      clientAction(async (dir: string, options: { since?: { seq?: number; time?: Date }; json?: boolean }) => {
        const reader = new JournalReader(dir);
        let since = options.since?.seq ?? 0;
        if (options.since?.time !== undefined) {
          const seq = await reader.seqAtTime(options.since.time.getTime());
          if (seq === undefined) return EXIT.ok;
          since = seq - 1;
        }
        for (;;) {
          const read = await reader.read(since, Number.POSITIVE_INFINITY, 1024 * 1024);
          if (read.batches.length === 0) return EXIT.ok;
          for (const batch of read.batches) {
            const view = new BatchView(batch);
            for (let i = 0; i < view.count; i++) {
              const line = view.line(i);
              process.stdout.write(options.json ? line : `${formatEvent(JSON.parse(line) as Event)}\n`);
            }
          }
          since = read.nextSeq - 1;
        }
      }),
    );
  return journal;
}

/** --since for dump: a seq, a time, or a duration ago. */
function parseDumpSince(text: string): { seq?: number; time?: Date } {
  if (/^\d+$/.test(text)) return { seq: Number(text) };
  const parsed = parseFleetSince(text);
  if ('time' in parsed) return { time: parsed.time };
  throw new Error(`--since takes a seq, a time or a duration ago, got ${JSON.stringify(text)}`);
}
