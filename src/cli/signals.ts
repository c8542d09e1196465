// What the long-running commands (serve, forward) do on each signal a local user might send.
// Imported first by src/eventd.ts: SIGUSR1 makes Node open its inspector on 127.0.0.1:9229 (any
// local user could then run code as the daemon) unless a handler exists, so one exists from the
// first moment, in every command.
import type { Logger } from '../log.js';

let onInspectorSignal = (): void => {};
process.on('SIGUSR1', () => onInspectorSignal());

/** Signals that end the process by default: each stops it cleanly instead (drain, then exit). */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGUSR2', 'SIGTRAP'];

/**
 * Calls `stop` once on the first stop signal; a repeated one during the drain is logged and
 * ignored. SIGHUP (no configuration to reload) and SIGUSR1 (no inspector) are logged, nothing more.
 */
export function handleSignals(log: Logger, stop: (signal: NodeJS.Signals) => void): void {
  let stopping = false;
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (stopping) return log.info({ signal }, 'already stopping');
      stopping = true;
      stop(signal);
    });
  }
  process.on('SIGHUP', () => log.info({ signal: 'SIGHUP' }, 'nothing to reload; still running'));
  onInspectorSignal = () => log.warn({ signal: 'SIGUSR1' }, 'ignored: eventd never opens the Node inspector');
}
