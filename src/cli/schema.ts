// `eventd schema [type]`: the JSON Schema of reports, generated from the zod schemas.
import { Command } from 'commander';
import { EVENT_TYPES, type EventType } from '../protocol/events.js';
import { allReportJsonSchemas, reportJsonSchema } from '../protocol/json-schema.js';
import { eventTypeArg } from './options.js';

export function schemaCommand(): Command {
  return new Command('schema')
    .description('print the JSON Schema of a report (all event types, or one)')
    .argument('[type]', `one of: ${EVENT_TYPES.join(', ')}`, eventTypeArg)
    .addHelpText(
      'after',
      `
Examples:
  eventd schema state                  # the fields of a state report, and their values
  eventd schema | jq 'keys'            # every event type

Exit codes: 0 ok, 2 usage.`,
    )
    .action((type: EventType | undefined) => {
      const schema = type !== undefined ? reportJsonSchema(type) : allReportJsonSchemas();
      process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
    });
}
