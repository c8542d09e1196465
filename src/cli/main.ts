// The `eventd` command line. Each command's module (and what it imports: zod, the daemon, the
// NATS client) is loaded only when that command runs: hooks and scripts run `eventd report` once
// per event, and its start-up time is most of what it costs them.
import { Command } from 'commander';
import { EXIT } from './options.js';
import { EVENTD_VERSION } from '../version.js';

/** Each command, by name, as its module builds it; listed in the order `eventd --help` shows them. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => {
    // Before the daemon's modules load, which is when it would first grow.
    (await import('../daemon/young-generation.js')).keepYoungGenerationSmall();
    return (await import('./serve.js')).serveCommand();
  },
  report: async () => (await import('./report.js')).reportCommand(),
  monitor: async () => (await import('./monitor.js')).monitorCommand(),
  wait: async () => (await import('./monitor.js')).waitCommand(),
  stats: async () => (await import('./stats.js')).statsCommand(),
  top: async () => (await import('./top.js')).topCommand(),
  schema: async () => (await import('./schema.js')).schemaCommand(),
  forward: async () => (await import('./forward.js')).forwardCommand(),
  journal: async () => (await import('./journal.js')).journalCommand(),
};

const NOT_ERRORS = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

/** The program with the commands named (all of them for help, a typo or a bare `eventd`). */
export async function buildProgram(names: readonly string[] = Object.keys(COMMANDS)): Promise<Command> {
  const program = new Command('eventd')
    .description('A local event bus for container hosts: report events on one Unix socket, subscribe on another.')
    .version(EVENTD_VERSION);
  for (const command of await Promise.all(names.map((name) => COMMANDS[name]!()))) program.addCommand(command);
  program.addHelpText(
    'after',
    `
Quick start:
  eventd serve &                                   # the daemon
  eventd monitor                                   # watch everything
  eventd report state pool=tank id=101 state=running
  eventd top                                       # live rates, subscribers, rejections
  eventd forward --nats nats://nats.example.net:4222   # this host's events into the fleet stream

Exit codes of the client commands: 0 ok, 1 refused, 2 usage, 3 daemon not reachable, 4 timed out.
Sockets: --report-socket / --events-socket, or EVENTD_REPORT_SOCKET / EVENTD_EVENTS_SOCKET.`,
  );
  // Usage errors: one line, exit 2 (commander's default is 1, which here means "refused").
  for (const command of [program, ...program.commands]) {
    command
      .configureOutput({
        outputError: (text, write) => write(usageLine(text, command === program ? 'eventd' : `eventd ${command.name()}`)),
      })
      .exitOverride((error) => process.exit(NOT_ERRORS.has(error.code) ? EXIT.ok : EXIT.usage));
  }
  return program;
}

/**
 * A commander error as one line that names the argument or option and says where help is:
 * `eventd: <type>: unknown event type "stat"; known types: … (see \`eventd wait --help\`)`.
 */
export function usageLine(text: string, name: string): string {
  const message = text.replace(/^error: /, '').trim();
  const argument = /^command-argument value '.*' is invalid for argument '(.*?)'\. (.*)$/s.exec(message);
  const option = /^option '(\S+).*?' argument '.*' is invalid\. (.*)$/s.exec(message);
  const said = argument ? `<${argument[1]}>: ${argument[2]}` : option ? `${option[1]}: ${option[2]}` : message;
  return `eventd: ${said.replace(/\s*\n\s*/g, ' ')} (see \`${name} --help\`)\n`;
}

/** Commands whose stdout is their log (a daemon must not vanish quietly when its log's reader goes). */
const LOGGING_COMMANDS = new Set(['serve', 'forward']);

export async function main(argv: string[] = process.argv): Promise<void> {
  const name = argv[2];
  // A reader that goes away (`eventd monitor | head -1`) ends a command quietly, with 0, as
  // `journalctl | head` does.
  if (name === undefined || !LOGGING_COMMANDS.has(name)) {
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(EXIT.ok);
    });
  }
  const program = await buildProgram(name !== undefined && Object.hasOwn(COMMANDS, name) ? [name] : undefined);
  // Bare `eventd` is a usage error: the help, on stderr, exit 2.
  if (argv.length <= 2) {
    program.outputHelp({ error: true });
    process.exit(EXIT.usage);
  }
  await program.parseAsync(argv);
}
