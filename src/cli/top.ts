// `eventd top`: a live view of the daemon, refreshed every second. On a terminal it draws a
// screen (alternate buffer, q or Ctrl-C quits); on a pipe it prints one line per refresh.
import { Command, Option } from 'commander';
import { StatsConnection } from '../client/stats.js';
import { clientAction, eventsSocketOption, EXIT, integer } from './options.js';
import { renderLine, renderScreen, type Frame, type Sample } from './top-view.js';

const ENTER_SCREEN = '\x1b[?1049h\x1b[?25l';
const LEAVE_SCREEN = '\x1b[?25h\x1b[?1049l';

interface TopOptions {
  eventsSocket: string;
  interval: number;
  count: number | undefined;
}

export function topCommand(): Command {
  return new Command('top')
    .description('a live view of event rates per type and pool, subscribers per worker, rejections and flow control')
    .addOption(eventsSocketOption())
    .addOption(new Option('--interval <seconds>', 'seconds between refreshes').argParser(integer(1, 3600)).default(1))
    .addOption(new Option('--count <n>', 'stop after this many refreshes (default: until q, Ctrl-C or SIGTERM)').argParser(integer(1)))
    .addHelpText(
      'after',
      `
On a terminal: a screen redrawn every second; q or Ctrl-C quits. Rates are per second since the
last refresh. Otherwise (a pipe, a file): one line per refresh. The daemon going away is shown,
and top reconnects when it is back.

Examples:
  eventd top
  eventd top --interval 5 --count 12 > eventd-minute.log

Exit codes: 0 quit, 2 usage, 3 daemon not reachable at start.`,
    )
    .action(clientAction((options: TopOptions) => top(options)));
}

async function top(options: TopOptions): Promise<number> {
  const tty = process.stdout.isTTY === true;
  // Not reachable at start: one line and exit 3, as every client command.
  let connection: StatsConnection | undefined = await StatsConnection.open(options.eventsSocket);
  let previous: Sample | undefined;
  let current: Sample = { stats: await connection.stats(), at: performance.now() };
  let problem: string | undefined;
  let refreshes = 0;

  const draw = () => {
    const frame: Frame = { socket: options.eventsSocket, now: new Date(), current, previous, problem };
    if (!tty) {
      process.stdout.write(`${renderLine(frame)}\n`);
      return;
    }
    const lines = renderScreen(frame, process.stdout.columns || 80, process.stdout.rows || 24);
    process.stdout.write(`\x1b[H${lines.map((line) => `${line}\x1b[K`).join('\r\n')}\x1b[J`);
  };

  return new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const quit = () => {
      clearTimeout(timer);
      connection?.close();
      if (tty) {
        process.stdout.write(LEAVE_SCREEN);
        if (process.stdin.isTTY) process.stdin.setRawMode(false);
        process.stdin.pause();
      }
      process.off('SIGINT', quit).off('SIGTERM', quit);
      resolve(EXIT.ok);
    };
    process.on('SIGINT', quit).on('SIGTERM', quit);
    if (tty) {
      process.stdout.write(ENTER_SCREEN);
      process.stdout.on('resize', draw);
      if (process.stdin.isTTY) {
        process.stdin.setRawMode(true);
        process.stdin.setEncoding('utf8');
        // Raw mode turns Ctrl-C into a byte: quit on it as on q.
        process.stdin.on('data', (key: string) => (key === 'q' || key === 'Q' || key.includes('\x03') ? quit() : undefined));
      }
    }
    // The first screen counts as a refresh: --count 2 is two screens (or lines), a second apart.
    const next = () => {
      if (options.count !== undefined && ++refreshes >= options.count) return quit();
      timer = setTimeout(() => void tick(), options.interval * 1000);
    };
    const tick = async () => {
      try {
        connection ??= await StatsConnection.open(options.eventsSocket);
        const stats = await connection.stats();
        previous = current;
        current = { stats, at: performance.now() };
        problem = undefined;
      } catch (error) {
        connection?.close();
        connection = undefined;
        problem = `${(error as Error).message}; trying again every ${options.interval} s`;
      }
      draw();
      next();
    };
    draw();
    next();
  });
}
