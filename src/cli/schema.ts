// `eventd schema [type]`: the JSON Schema of reports, generated from the zod schemas.
import { Command, InvalidArgumentError } from 'commander';
import { EVENT_TYPES, isEventType } from '../protocol/events.js';
import { allReportJsonSchemas, reportJsonSchema } from '../protocol/json-schema.js';

export function schemaCommand(): Command {
  return new Command('schema')
    .description('print the JSON Schema of a report (all event types, or one)')
    .argument('[type]', `one of: ${EVENT_TYPES.join(', ')}`, (value: string) => {
      if (!isEventType(value)) throw new InvalidArgumentError(`unknown event type; known types: ${EVENT_TYPES.join(', ')}`);
      return value;
    })
    .action((type: string | undefined) => {
      const schema = type !== undefined && isEventType(type) ? reportJsonSchema(type) : allReportJsonSchemas();
      process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
    });
}
