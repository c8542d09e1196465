// `eventd report`: send events, wait for the daemon's acks.
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import { ReportConnection } from '../client/report-connection.js';
import { ReportRejectedError } from '../errors.js';
import { isPlainObject } from '../protocol/json.js';
import { EVENT_TYPES } from '../protocol/event-types.js';
import { clientAction, eventTypeArg, EXIT, reportSocketOption } from './options.js';
import { reportOpts } from './values.js';

export function reportCommand(): Command {
  return new Command('report')
    .description('report events to the daemon; exits 0 only when it accepted every one')
    .argument('[type]', `event type (${EVENT_TYPES.join(', ')}), or - to read NDJSON reports from stdin`)
    .argument('[fields...]', 'opts as key=value; values are typed by the schema (init_pid=42 is a number)')
    .option('--json <report>', 'one whole report as JSON: {"type":...,"opts":{...}}')
    .addOption(reportSocketOption())
    .addHelpText(
      'after',
      `
Examples:
  eventd report state pool=tank id=101 state=running
  eventd report ct_init_pid pool=tank id=101 init_pid=4242
  eventd report management id=7 cmd=ct_start state=run opts='{"force":true}'
  eventd report --json '{"type":"ct_exit","opts":{"pool":"tank","id":"101","exit_type":"halt"}}'
  printf '%s\\n' '{"type":"db","opts":{...}}' ... | eventd report -

The daemon checks every report against its type's schema (\`eventd schema\`) and acknowledges it.
Prints the seq of each accepted event ("line N: seq S" for -); prints each error (with its line
number for -) on stderr.
Exit codes: 0 all accepted, 1 a report was refused, 2 usage, 3 daemon not reachable.`,
    )
    .action(
      clientAction(async (type: string | undefined, fields: string[], options: { json?: string; reportSocket: string }) => {
        if (options.json !== undefined && type !== undefined) {
          throw new InvalidArgumentError(
            `give either --json or a type with key=value fields, not both (got --json and ${JSON.stringify(type)})`,
          );
        }
        const reports =
          options.json !== undefined ? [parseJsonArgument(options.json)] : type === '-' ? undefined : [fromWords(type, fields)];
        const reporter = await ReportConnection.connect(options.reportSocket);
        try {
          return reports ? await sendAll(reporter, reports) : await sendStdin(reporter);
        } finally {
          await reporter.close();
        }
      }),
    );
}

/** The report given with --json, as one line for the daemon. */
function parseJsonArgument(text: string): string {
  try {
    const report: unknown = JSON.parse(text);
    // Objects keep their text (the daemon reads what was given); anything else the daemon refuses.
    return isPlainObject(report) ? text.replace(/\r?\n/g, ' ') : JSON.stringify(report);
  } catch (error) {
    throw new InvalidArgumentError(`--json is not valid JSON: ${(error as Error).message}`);
  }
}

function fromWords(type: string | undefined, fields: string[]): string {
  if (type === undefined)
    throw new InvalidArgumentError('say what to report: a type with key=value fields, --json, or - for stdin (see eventd report --help)');
  return JSON.stringify({ type, opts: reportOpts(eventTypeArg(type), fields) });
}

async function sendAll(reporter: ReportConnection, reports: string[]): Promise<number> {
  let status: number = EXIT.ok;
  for (const report of reports) {
    try {
      process.stdout.write(`${await reporter.sendLine(report)}\n`);
    } catch (error) {
      if (!(error instanceof ReportRejectedError)) throw error;
      process.stderr.write(`eventd: ${error.message}\n`);
      status = EXIT.rejected;
    }
  }
  return status;
}

/** NDJSON from stdin, pipelined: every line is sent at once, answers are read in order. */
async function sendStdin(reporter: ReportConnection): Promise<number> {
  const results: Promise<string | null>[] = [];
  let lineNo = 0;
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    const n = ++lineNo;
    if (line.trim() === '') continue;
    results.push(
      reporter.sendLine(line).then(
        // Which input line each seq belongs to: blank and refused lines get none.
        (seq) => (process.stdout.write(`line ${n}: seq ${seq}\n`), null),
        (error: Error) => `line ${n}: ${error.message}`,
      ),
    );
  }
  let status: number = EXIT.ok;
  for (const failure of await Promise.all(results)) {
    if (failure === null) continue;
    process.stderr.write(`eventd: ${failure}\n`);
    status = EXIT.rejected;
  }
  return status;
}
