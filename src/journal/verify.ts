// `eventd journal verify`: reads every segment whole and checks every record (its CRC), the seqs
// within and between segments, and what a crash left at the end. Read-only: it may run while the
// daemon writes (the segment being written may end in a record that is not all there yet).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { decodeSegmentHeader, SEGMENT_HEADER_BYTES } from './format.js';
import { listSegments } from './open.js';
import { scanRecords } from './scan.js';

export interface VerifyProblem {
  segment: string;
  /** damage: bytes that cannot be read; gap: seqs that are not there (skipped after a power loss, or deleted). */
  kind: 'damage' | 'gap';
  /** What is wrong, in a sentence. */
  what: string;
  /** The seqs lost with it, when the records around it tell. */
  firstSeq?: number;
  lastSeq?: number;
  offset?: number;
  bytes?: number;
}

export interface VerifyReport {
  dir: string;
  segments: number;
  records: number;
  events: number;
  firstSeq: number | undefined;
  lastSeq: number | undefined;
  bytes: number;
  problems: VerifyProblem[];
}

export function verifyJournal(dir: string): VerifyReport {
  const report: VerifyReport = { dir, segments: 0, records: 0, events: 0, firstSeq: undefined, lastSeq: undefined, bytes: 0, problems: [] };
  let expected: number | undefined;
  const segments = listSegments(dir);
  segments.forEach(({ path }, i) => {
    const name = basename(path);
    const bytes = readFileSync(path);
    report.segments++;
    report.bytes += bytes.length;
    const header = decodeSegmentHeader(bytes);
    if (typeof header === 'string') {
      report.problems.push({ segment: name, kind: 'damage', what: `the segment cannot be read: ${header}` });
      expected = undefined;
      return;
    }
    const scan = scanRecords(bytes, SEGMENT_HEADER_BYTES);
    for (const damage of scan.damaged) {
      report.problems.push({
        segment: name,
        kind: 'damage',
        what: `${damage.length} bytes of damaged records (CRC mismatch or broken framing)`,
        firstSeq: damage.firstSeq ?? header.firstSeq,
        lastSeq: damage.lastSeq,
        offset: damage.offset,
        bytes: damage.length,
      });
    }
    if (scan.tornBytes > 0) {
      const last = i === segments.length - 1;
      report.problems.push({
        segment: name,
        kind: 'damage',
        what: last
          ? `a torn record at the end (${scan.tornBytes} bytes): a write a crash interrupted, cut off when the daemon starts`
          : `${scan.tornBytes} bytes at the end hold no good record`,
        offset: scan.goodEnd,
        bytes: scan.tornBytes,
      });
    }
    for (const { header: record } of scan.records) {
      // The records are gap-free within and across segments, unless damage (said above) or a lease skip.
      if (expected !== undefined && record.firstSeq > expected && !scan.damaged.some((d) => (d.lastSeq ?? 0) + 1 === record.firstSeq)) {
        report.problems.push({
          segment: name,
          kind: 'gap',
          what: `seqs ${expected} to ${record.firstSeq - 1} are not in the journal (skipped after a power loss, or lost)`,
          firstSeq: expected,
          lastSeq: record.firstSeq - 1,
        });
      }
      if (expected !== undefined && record.firstSeq < expected) {
        report.problems.push({
          segment: name,
          kind: 'damage',
          what: `seq ${record.firstSeq} comes again after ${expected - 1}`,
          firstSeq: record.firstSeq,
        });
      }
      report.records++;
      report.events += record.count;
      report.firstSeq ??= record.firstSeq;
      report.lastSeq = record.firstSeq + record.count - 1;
      expected = record.firstSeq + record.count;
    }
  });
  return report;
}
