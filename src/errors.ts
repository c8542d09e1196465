// One error model for the library and the CLI, after undici's lib/core/errors.js: every error
// eventd throws on purpose is an EventdError with a stable `code` to switch on, and the CLI maps
// codes to exit codes in one table. Subclasses only add fields (a rejected report's issues, the
// socket a client could not reach).
import type { WireIssue } from './protocol/issues.js';

/** Each code, and what it means (README, "Errors"; the CLI's exit code for each is in cli/options.ts). */
export const ERROR_CODES = {
  /** The daemon's socket cannot be reached: no socket there, nobody listening, permission denied. */
  EVENTD_UNREACHABLE: 'the daemon is not reachable',
  /** A report was refused: by the local schema check, or by the daemon (issues say why). */
  EVENTD_REPORT_REJECTED: 'a report was refused',
  /** The daemon refused a command: a subscription (an unknown type, a bad filter) or stats. */
  EVENTD_REFUSED: 'the daemon refused the command',
  /** What answered is not speaking eventd's protocol: a line that is not JSON, too long, or not an event. */
  EVENTD_PROTOCOL: 'the daemon broke the protocol',
  /** The NATS server cannot be reached (fleet commands). */
  EVENTD_NATS_UNREACHABLE: 'NATS is not reachable',
  /** The JetStream stream cannot be created, used or found (fleet commands). */
  EVENTD_STREAM: 'the stream cannot be used',
  /** A setting that can never work: a stream name or host name that JetStream cannot take. */
  EVENTD_INVALID_SETTING: 'a setting is not valid',
} as const;

export type EventdErrorCode = keyof typeof ERROR_CODES;

export class EventdError extends Error {
  constructor(
    readonly code: EventdErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'EventdError';
  }
}

/** A report refused by the schema: by the Reporter's check before sending (`by: 'local'`) or by the daemon. */
export class ReportRejectedError extends EventdError {
  constructor(
    message: string,
    readonly issues: WireIssue[],
    readonly by: 'local' | 'daemon',
  ) {
    super('EVENTD_REPORT_REJECTED', message);
    this.name = 'ReportRejectedError';
  }
}

export function isEventdError(error: unknown, code?: EventdErrorCode): error is EventdError {
  return error instanceof EventdError && (code === undefined || error.code === code);
}
