// The journal's figures, kept by the journal thread in shared memory (the ring's number words), so
// the main thread reads them for stats and metrics without asking.
import { JOURNAL_NUMBERS } from '../ring/event-ring.js';

export const FIGURES = {
  /** Bytes of segment files, and how many there are. */
  bytes: 0,
  segments: 1,
  /** seq and time of the oldest event kept (what a `since` can reach back to). */
  oldestSeq: 2,
  oldestTimeMs: 3,
  /** The newest event written, and the newest known to be on disk (fdatasync'd). */
  writtenSeq: 4,
  syncedSeq: 5,
  fsyncs: 6,
  fsyncSeconds: 7,
  fsyncMaxSeconds: 8,
  writeErrors: 9,
  /** 1 while writes fail (disk full, I/O errors): reports are refused meanwhile. */
  failing: 10,
  /** Damaged ranges found (at start, in the last segment) and bytes of a torn record cut off then. */
  damaged: 11,
  tornBytes: 12,
  /** Segments deleted by retention. */
  segmentsDeleted: 13,
} as const;

export type FigureName = keyof typeof FIGURES;

export class JournalFigures {
  constructor(private readonly numbers: Float64Array) {}

  get(name: FigureName): number {
    return this.numbers[JOURNAL_NUMBERS + FIGURES[name]]!;
  }

  set(name: FigureName, value: number): void {
    this.numbers[JOURNAL_NUMBERS + FIGURES[name]] = value;
  }

  add(name: FigureName, value = 1): void {
    this.numbers[JOURNAL_NUMBERS + FIGURES[name]]! += value;
  }
}
