// `eventd stats`: the daemon's counters, as a table, JSON, or Prometheus text.
import { Command, Option } from 'commander';
import { fetchMetrics, fetchStats } from '../client/stats.js';
import type { DaemonStats } from '../protocol/stats.js';
import { clientAction, eventsSocketOption, EXIT } from './options.js';

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function table(stats: DaemonStats): string {
  const rejected = Object.entries(stats.lines_rejected_by_reason).filter(([, n]) => n > 0);
  const rows: [string, string | number][] = [
    ['pid', stats.pid],
    ['uptime', `${stats.uptime_seconds} s`],
    ['events published', `${stats.events_published} since start, last seq ${stats.last_seq}`],
    [
      'lines rejected',
      rejected.length === 0 ? 0 : `${stats.lines_rejected} (${rejected.map(([reason, n]) => `${reason} ${n}`).join(', ')})`,
    ],
    ['producers', stats.producers],
    // The connection asking is one of them: say so rather than count it as a subscriber.
    ['subscribers', `${stats.subscribers - 1} (besides this stats connection)`],
    ['dropped as slow', stats.subscribers_dropped_slow],
    ['producers paused', `${plural(stats.producers_paused, 'time')}, ${stats.producers_paused_seconds.toFixed(1)} s in all`],
    [
      'history',
      `${stats.history.retained}/${stats.history.capacity} in memory (seq ${stats.history.first_seq}..${stats.history.last_seq})`,
    ],
    [
      'journal',
      stats.journal === null
        ? 'none (memory only)'
        : `${stats.journal.dir}: ${stats.journal.bytes} bytes, ${plural(stats.journal.segments, 'segment')}, ` +
          `seq ${stats.journal.oldest_seq}.., --fsync ${stats.journal.fsync}` +
          (stats.journal.writable ? '' : ', CANNOT WRITE (reports refused)'),
    ],
    ...stats.workers.map((w): [string, string] => [
      `worker ${w.worker}`,
      `${plural(w.subscribers, 'subscriber')}, ${plural(w.producers, 'producer')}, ${plural(w.restarts, 'restart')}`,
    ]),
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n');
}

export function statsCommand(): Command {
  return new Command('stats')
    .description("print the daemon's counters")
    .option('--json', 'print the raw stats object')
    .addOption(new Option('--prometheus', "print Prometheus' text format (for node_exporter's textfile collector)").conflicts('json'))
    .addOption(eventsSocketOption())
    .addHelpText(
      'after',
      `
The table does not count its own connection among the subscribers; --json does.
For Prometheus scraping over HTTP, run the daemon with --metrics-listen instead.

Examples:
  eventd stats
  eventd stats --json | jq .events_by_type
  eventd stats --prometheus > /var/lib/node_exporter/textfile/eventd.prom.$$ &&
    mv /var/lib/node_exporter/textfile/eventd.prom.$$ /var/lib/node_exporter/textfile/eventd.prom

Exit codes: 0 ok, 2 usage, 3 daemon not reachable.`,
    )
    .action(
      clientAction(async (options: { json?: boolean; prometheus?: boolean; eventsSocket: string }) => {
        if (options.prometheus) {
          process.stdout.write(await fetchMetrics(options.eventsSocket));
          return EXIT.ok;
        }
        const stats = await fetchStats(options.eventsSocket);
        process.stdout.write(`${options.json ? JSON.stringify(stats) : table(stats)}\n`);
        return EXIT.ok;
      }),
    );
}
