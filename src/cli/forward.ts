// `eventd forward`: this host's events into NATS JetStream, for fleet-wide monitoring and replay.
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import type { Forwarder } from '../fleet/forwarder.js';
import { FLEET_DEFAULTS, parseDuration, parseSize } from '../fleet/settings.js';
import { checkHostName } from '../fleet/subjects.js';
import { createLogger } from '../log.js';
import {
  eventsSocketOption,
  EXIT,
  exitCodeFor,
  integer,
  logLevelOption,
  metricsListenOption,
  natsOption,
  streamOption,
  usageErrors,
} from './options.js';
import { handleSignals } from './signals.js';
import { metricsUrl, type ListenAddress } from '../metrics/address.js';

interface ForwardOptions {
  nats: string;
  stream: string;
  host: string;
  maxAge: number;
  maxBytes: number;
  replicas: number;
  eventsSocket: string;
  metricsListen: ListenAddress | undefined;
  logLevel: string;
}

/** Serves the forwarder's metrics; returns the URL (with the port it got). */
async function exposeMetrics(address: ListenAddress, forwarder: Forwarder): Promise<string> {
  const [{ createMetrics }, { FORWARDER_METRICS }, { serveMetrics }] = await Promise.all([
    import('../metrics/registry.js'),
    import('../fleet/metrics.js'),
    import('../metrics/http.js'),
  ]);
  const { server } = await serveMetrics(address, await createMetrics(FORWARDER_METRICS, () => forwarder.stats));
  server.unref();
  return metricsUrl(address, server);
}

export function forwardCommand(): Command {
  return new Command('forward')
    .description("forward this host's events into NATS JetStream (subject eventd.<host>.<type>), exactly once")
    .addOption(natsOption().makeOptionMandatory())
    .addOption(streamOption())
    .addOption(
      new Option('--host <name>', 'host name in subjects and message ids').argParser(usageErrors(checkHostName)).default(hostname()),
    )
    .addOption(
      new Option('--max-age <duration>', 'when creating the stream: drop events older than this (0: no limit)')
        .argParser(usageErrors(parseDuration))
        .default(FLEET_DEFAULTS.maxAgeMs, '7d'),
    )
    .addOption(
      new Option('--max-bytes <size>', 'when creating the stream: keep at most this much (-1: no limit)')
        .argParser(usageErrors(parseSize))
        .default(FLEET_DEFAULTS.maxBytes, '10G'),
    )
    .addOption(
      new Option('--replicas <n>', 'when creating the stream: copies kept by the NATS cluster')
        .argParser(integer(1, 5))
        .default(FLEET_DEFAULTS.replicas),
    )
    .addOption(eventsSocketOption())
    .addOption(metricsListenOption())
    .addOption(logLevelOption('info'))
    .addHelpText(
      'after',
      `
Subscribes to the local daemon and publishes every event to JetStream with the message id
<host>:<run>:<seq>, so retries are de-duplicated and a restarted daemon (a new run) never collides.
Where to resume is read back from JetStream: after NATS or the daemon comes back, or after this
command restarts, forwarding continues after the last event stored, from the daemon's history.
When that history no longer reaches back far enough, it says so (log) and counts the gap.
The stream is created when missing (--max-age, --max-bytes, --replicas); an existing one is used
as it is.

Examples:
  eventd forward --nats nats://nats.example.net:4222
  eventd forward --nats nats://10.0.0.5:4222,nats://10.0.0.6:4222 --host node7 --max-age 30d --replicas 3
  eventd forward --nats nats://nats.example.net:4222 --metrics-listen 127.0.0.1:9465

Logs: readable lines on a terminal, JSON lines otherwise (EVENTD_LOG_FORMAT=json|pretty).

Exit codes: 0 stopped by SIGTERM/SIGINT, 1 the stream cannot be created or used, 2 usage,
3 NATS or the daemon not reachable at start.`,
    )
    .action(async (options: ForwardOptions) => {
      const log = createLogger(options.logLevel, { host: options.host, stream: options.stream });
      // Loaded here: no other command needs the NATS client.
      const { Forwarder } = await import('../fleet/forwarder.js');
      let forwarder: Forwarder;
      try {
        forwarder = await Forwarder.start({
          natsUrl: options.nats,
          stream: { name: options.stream, maxAgeMs: options.maxAge, maxBytes: options.maxBytes, replicas: options.replicas },
          host: options.host,
          eventsSocket: options.eventsSocket,
          log,
        });
      } catch (error) {
        process.stderr.write(`eventd: ${(error as Error).message}\n`);
        process.exitCode = exitCodeFor(error);
        return;
      }
      let metrics: string | undefined;
      if (options.metricsListen) {
        try {
          metrics = await exposeMetrics(options.metricsListen, forwarder);
        } catch (error) {
          process.stderr.write(`eventd: ${(error as Error).message}\n`);
          await forwarder.stop();
          process.exit(EXIT.failed);
        }
      }
      log.info({ nats: options.nats, events_socket: options.eventsSocket, ...(metrics ? { metrics } : {}) }, 'forwarding');
      const report = setInterval(() => log.info(forwarder.counters(), 'forwarder counters'), 60_000);
      report.unref();
      const stop = (signal: NodeJS.Signals) => {
        log.info({ signal, ...forwarder.counters() }, 'stopping');
        clearInterval(report);
        void forwarder.stop().then(() => process.exit(EXIT.ok));
      };
      handleSignals(log, stop);
      await forwarder.run();
    });
}
