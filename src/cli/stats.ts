// `eventd stats`: the daemon's counters.
import { Command } from 'commander';
import { fetchStats } from '../client/stats.js';
import type { DaemonStats } from '../daemon/daemon.js';
import { clientAction, eventsSocketOption, EXIT } from './options.js';

function table(stats: DaemonStats): string {
  const rows: [string, string | number][] = [
    ['pid', stats.pid],
    ['uptime', `${stats.uptime_seconds} s`],
    ['events published', stats.events_published],
    ['lines rejected', stats.lines_rejected],
    ['producers', stats.producers],
    ['subscribers', stats.subscribers],
    ['dropped as slow', stats.subscribers_dropped_slow],
    ['producers paused', stats.producers_paused],
    ['history', `${stats.history.retained}/${stats.history.capacity} (seq ${stats.history.first_seq}..${stats.history.last_seq})`],
    ...stats.workers.map((w): [string, string] => [`worker ${w.worker}`, `${w.subscribers} subscribers, ${w.restarts} restarts`]),
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n');
}

export function statsCommand(): Command {
  return new Command('stats')
    .description("print the daemon's counters")
    .option('--json', 'print the raw stats object')
    .addOption(eventsSocketOption())
    .addHelpText(
      'after',
      `
Examples:
  eventd stats
  eventd stats --json | jq .history

Exit codes: 0 ok, 2 usage, 3 daemon not reachable.`,
    )
    .action(
      clientAction(async (options: { json?: boolean; eventsSocket: string }) => {
        const stats = await fetchStats(options.eventsSocket);
        process.stdout.write(`${options.json ? JSON.stringify(stats) : table(stats)}\n`);
        return EXIT.ok;
      }),
    );
}
