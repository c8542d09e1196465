// A refused report line, as the producer is told (an error line) and the stats count it. Apart
// from report.ts, which decides, so that a thread can refuse a line (framing) without loading the
// report schemas (zod).
import type { WireIssue } from './issues.js';
import type { RejectReason } from './stats.js';

export type Ack = string | number;

export interface RejectedReport {
  ok: false;
  reason: RejectReason;
  ack?: Ack;
  message: string;
  issues: WireIssue[];
}

export function rejected(reason: RejectReason, message: string, issues: WireIssue[] = [], ack?: Ack): RejectedReport {
  return ack === undefined ? { ok: false, reason, message, issues } : { ok: false, reason, ack, message, issues };
}
