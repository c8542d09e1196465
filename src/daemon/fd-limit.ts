// Warns when the daemon is about to run out of file descriptors. libuv handles EMFILE on accept
// silently (it accepts and closes the connection, so there is no busy loop), so without this
// nothing would tell the operator why clients are being turned away.
import { readFileSync } from 'node:fs';
import { rateLimited, type Logger } from '../log.js';

const HEADROOM = 32;

function openFilesLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((row) => row.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) ? soft : undefined;
  } catch {
    return undefined;
  }
}

export class FdLimitWatch {
  private readonly limit = openFilesLimit();
  private readonly warnNow = rateLimited(10_000);

  constructor(private readonly log: Logger) {}

  /** Descriptors are allocated lowest first: a new one this high means nearly all are in use. */
  accepted(fd: number): void {
    if (this.limit === undefined || fd < this.limit - HEADROOM) return;
    if (!this.warnNow()) return;
    this.log.warn(
      { fd, limit: this.limit },
      'close to the open-files limit: new connections are being refused (raise LimitNOFILE / ulimit -n)',
    );
  }
}
