// The `eventd` command line.
import { Command } from 'commander';
import { monitorCommand, waitCommand } from './monitor.js';
import { forwardCommand } from './forward.js';
import { EXIT } from './options.js';
import { reportCommand } from './report.js';
import { schemaCommand } from './schema.js';
import { serveCommand } from './serve.js';
import { statsCommand } from './stats.js';
import { topCommand } from './top.js';
import { EVENTD_VERSION } from '../version.js';

const NOT_ERRORS = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

export function buildProgram(): Command {
  const program = new Command('eventd')
    .description('A local event bus for container hosts: report events on one Unix socket, subscribe on another.')
    .version(EVENTD_VERSION)
    .addCommand(serveCommand())
    .addCommand(reportCommand())
    .addCommand(monitorCommand())
    .addCommand(waitCommand())
    .addCommand(statsCommand())
    .addCommand(topCommand())
    .addCommand(schemaCommand())
    .addCommand(forwardCommand())
    .addHelpText(
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

export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
  // Bare `eventd` is a usage error: the help, on stderr, exit 2.
  if (argv.length <= 2) {
    program.outputHelp({ error: true });
    process.exit(EXIT.usage);
  }
  await program.parseAsync(argv);
}
