// `eventd serve`: runs the daemon until a stop signal (SIGTERM, SIGINT, …; see signals.ts).
import { Command, Option } from 'commander';
import { defaultConfig, DEFAULTS, ingestThreads, type DaemonConfig } from '../daemon/config.js';
import { Daemon } from '../daemon/daemon.js';
import { createLogger } from '../log.js';
import { EXIT, fileMode, integer, logLevelOption, metricsAllowOption, metricsListenOption, usageErrors } from './options.js';
import { parseDuration, parseSize } from '../fleet/settings.js';
import type { FsyncPolicy } from '../journal/format.js';
import { canCreateDirectory } from '../journal/directory.js';
import { nameThread } from '../native/index.js';

/** The journal's options as commander reads them (`--no-journal` makes `journal` false). */
interface ServeJournalOptions {
  journal: string | false;
  fsync: FsyncPolicy;
  journalMaxBytes: number;
  journalMaxAge: number;
  journalSegmentBytes: number;
}
import { handleSignals } from './signals.js';

/** systemd's default stop timeout is far longer; we promise 5 s. */
const EXIT_DEADLINE_MS = 4500;

export function serveCommand(): Command {
  const defaults = defaultConfig();
  return (
    new Command('serve')
      .description('run the event daemon: producers report on one socket, subscribers receive on the other')
      // $EVENTD_*_SOCKET set but empty counts as unset (commander's .env() would take the empty string).
      .addOption(
        new Option('--report-socket <path>', 'where producers connect (or $EVENTD_REPORT_SOCKET)').default(
          process.env.EVENTD_REPORT_SOCKET || defaults.reportSocket,
        ),
      )
      .addOption(
        new Option('--events-socket <path>', 'where subscribers connect (or $EVENTD_EVENTS_SOCKET)').default(
          process.env.EVENTD_EVENTS_SOCKET || defaults.eventsSocket,
        ),
      )
      .addOption(
        new Option(
          '--osctld-socket <path>',
          "also serve events to osctld's clients (osctl monitor) on this socket (or $EVENTD_OSCTLD_SOCKET); off by default",
        ).default(process.env.EVENTD_OSCTLD_SOCKET || undefined),
      )
      .addOption(
        new Option('--report-mode <mode>', 'file mode of the report socket').argParser(fileMode).default(DEFAULTS.reportMode, '0660'),
      )
      .addOption(
        new Option('--events-mode <mode>', 'file mode of the events socket').argParser(fileMode).default(DEFAULTS.eventsMode, '0660'),
      )
      .addOption(
        new Option('--osctld-mode <mode>', 'file mode of the osctld-compatible socket')
          .argParser(fileMode)
          .default(DEFAULTS.osctldMode, '0660'),
      )
      .addOption(new Option('--socket-group <group>', 'group (name or gid) that owns the sockets'))
      .addOption(
        new Option(
          '--workers <n>',
          'worker threads serving subscribers (and reading producers, see --ingest-threads); by default 1 on a host of ' +
            'two cores or fewer, else one per 32 cores and at least 2, as osctld',
        )
          .argParser(integer(1, 256))
          .default(defaults.workers),
      )
      .addOption(
        new Option(
          '--ingest-threads <n>',
          "threads that read and validate producers' reports: 1 is the main thread; from 2, workers, and the main thread " +
            'only as the last (at most workers + 1; default: one per core the workers leave free, at least 1)',
        ).argParser(integer(1, 257)),
      )
      .addOption(
        new Option('--history <n>', 'newest events a `since` replay takes from memory (older ones come from the journal)')
          .argParser(integer(0, 10_000_000))
          .default(DEFAULTS.history),
      )
      .addOption(
        new Option('--history-bytes <n>', 'size of the shared ring holding events in memory (rounded up to a power of two, at most 1 GiB)')
          .argParser(integer(1024 * 1024, 1024 ** 3))
          .default(DEFAULTS.historyBytes),
      )
      .addOption(
        new Option('--journal <dir>', 'keep every event in a journal on disk here (or $STATE_DIRECTORY)').default(defaults.journal!.dir),
      )
      .addOption(new Option('--no-journal', 'keep events in memory only: a restart loses them, and seq starts again at 1'))
      .addOption(
        new Option('--fsync <policy>', 'when the journal syncs: always (before each ack), interval (every second), never')
          .choices(['always', 'interval', 'never'])
          .default(DEFAULTS.fsync),
      )
      .addOption(
        new Option('--journal-max-bytes <size>', 'delete the oldest journal segments past this total (e.g. 1G, 500M)')
          .argParser(usageErrors(parseSize))
          .default(DEFAULTS.journalMaxBytes, '1G'),
      )
      .addOption(
        new Option('--journal-max-age <duration>', 'delete journal segments whose events are all older than this (e.g. 7d, 12h)')
          .argParser(usageErrors(parseDuration))
          .default(DEFAULTS.journalMaxAgeMs, '7d'),
      )
      .addOption(
        new Option('--journal-segment-bytes <size>', 'start a new journal segment past this size')
          .argParser(usageErrors(parseSize))
          .default(DEFAULTS.journalSegmentBytes, '64M')
          .hideHelp(),
      )
      .addOption(
        new Option('--max-line-bytes <n>', 'longest line a client may send')
          .argParser(integer(64, 64 * 1024 * 1024))
          .default(DEFAULTS.maxLineBytes),
      )
      .addOption(
        new Option('--max-pending-bytes <n>', 'bytes queued for one subscriber before it is dropped as too slow')
          .argParser(integer(1024))
          .default(DEFAULTS.maxPendingBytes),
      )
      .addOption(
        new Option('--line-timeout <seconds>', 'a client must finish a line this long after its first byte, or is disconnected')
          .argParser(integer(1, 86_400))
          .default(DEFAULTS.lineTimeoutMs / 1000),
      )
      .addOption(
        new Option('--max-connections <n>', 'connections each socket takes at once; more are refused with an error line')
          .argParser(integer(1, 1_000_000))
          .default(DEFAULTS.maxConnections),
      )
      .addOption(metricsListenOption())
      .addOption(metricsAllowOption())
      .addOption(logLevelOption(DEFAULTS.logLevel))
      .addHelpText(
        'after',
        `
Logs go to stdout: readable lines on a terminal, JSON lines otherwise (journald);
EVENTD_LOG_FORMAT=json or pretty chooses. Under systemd socket activation (LISTEN_FDS with the
names "report", "events" and optionally "osctld") the sockets systemd passes are used instead of
the paths.

The osctld-compatible socket speaks osctld's client protocol for events, so osctl's own
client (osctl monitor, osctl ct monitor) and scripts written for osctld subscribe unchanged;
see docs/osctld.md.

Examples:
  eventd serve
  eventd serve --report-socket /tmp/r.sock --events-socket /tmp/e.sock --workers 4
  eventd serve --osctld-socket /run/eventd/osctld.sock
  eventd serve --metrics-listen 127.0.0.1:9464             # curl http://127.0.0.1:9464/metrics
  socat -u UNIX-CONNECT:${defaults.eventsSocket} STDOUT      # subscribe to everything

Exit codes: 0 stopped by a signal (SIGTERM, SIGINT, SIGQUIT, SIGUSR2, SIGTRAP), 1 could not start
or stop cleanly, 2 usage.`,
      )
      .action(async (options: Record<string, unknown>, command: Command) => {
        const { lineTimeout, journal, fsync, journalMaxBytes, journalMaxAge, journalSegmentBytes, ...rest } =
          options as unknown as Partial<DaemonConfig> & ServeJournalOptions & { lineTimeout: number };
        if (rest.metricsAllow !== undefined && rest.metricsListen === undefined) {
          command.error('error: --metrics-allow restricts who may scrape --metrics-listen: give that too', { exitCode: EXIT.usage });
        }
        // The default journal directory is used where it can be had; one asked for must be.
        const noStateDirectory = journal !== false && command.getOptionValueSource('journal') === 'default' && !canCreateDirectory(journal);
        const config: DaemonConfig = {
          ...defaults,
          ...rest,
          lineTimeoutMs: lineTimeout * 1000,
          journal:
            journal === false || noStateDirectory
              ? undefined
              : {
                  dir: journal,
                  policy: fsync,
                  maxBytes: journalMaxBytes === -1 ? Number.POSITIVE_INFINITY : journalMaxBytes,
                  maxAgeMs: journalMaxAge === 0 ? Number.POSITIVE_INFINITY : journalMaxAge,
                  segmentBytes: journalSegmentBytes,
                },
        };
        await serve(config, noStateDirectory ? journal : undefined);
      })
  );
}

async function serve(config: DaemonConfig, noStateDirectory: string | false | undefined): Promise<void> {
  const log = createLogger(config.logLevel);
  if (noStateDirectory) {
    log.warn(
      { journal: noStateDirectory },
      'no state directory can be had for the journal: events are kept in memory only (--journal DIR to keep them)',
    );
  }
  process.on('uncaughtException', (error) => {
    log.fatal({ err: error }, 'uncaught exception; exiting');
    process.exit(EXIT.failed);
  });
  // The daemon itself, not the library's EventdServer: the library validates in-process reports
  // with the report schemas (zod), which the daemon loads only for a report that needs them.
  let daemon: Daemon | undefined;
  // Handlers first: a signal that comes with the ready line must not find the default action.
  handleSignals(log, (signal) => {
    log.info({ signal }, 'shutting down');
    if (!daemon) process.exit(EXIT.ok);
    setTimeout(() => {
      log.error('shutdown took too long; exiting anyway');
      process.exit(EXIT.failed);
    }, EXIT_DEADLINE_MS).unref();
    daemon.stop({ announce: true }).then(
      () => {
        log.info('stopped');
        process.exit(EXIT.ok);
      },
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(EXIT.failed);
      },
    );
  });
  try {
    daemon = await Daemon.start(config, log);
    // The process's own thread (`top -H` shows eventd-w0 … and eventd-journal beside it); not in a library's host.
    nameThread('eventd');
  } catch (error) {
    // One line, on stderr (journald keeps it too): the message says what to do; a stack would not.
    process.stderr.write(`eventd: ${(error as Error).message}\n`);
    process.exit(EXIT.failed);
  }
  const [report, events, osctld] = daemon.sockets.map((socket) => socket.path ?? `passed by systemd (${socket.name})`);
  const hints = daemon.sockets.every((socket) => socket.path !== undefined)
    ? {
        subscribe: `socat -u UNIX-CONNECT:${events} STDOUT`,
        // With an ack, so that pasting it shows the answer: {"status":true,"ack":1,"seq":N}.
        report: `echo '{"type":"state","opts":{"pool":"tank","id":"101","state":"running"},"ack":1}' | socat - UNIX-CONNECT:${report}`,
      }
    : {};
  log.info(
    {
      report_socket: report,
      events_socket: events,
      ...(osctld === undefined ? {} : { osctld_socket: osctld }),
      ...(daemon.metricsUrl ? { metrics: daemon.metricsUrl } : {}),
      socket_activated: daemon.sockets.some((socket) => socket.activated),
      workers: config.workers,
      ingest_threads: ingestThreads(config),
      ...hints,
    },
    'eventd ready',
  );
}
