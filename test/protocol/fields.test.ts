// protocol/fields.ts is what the command line knows of the schemas without loading zod: it must
// say what the zod schemas say.
import { describe, expect, it } from 'vitest';
import { REPORT_FIELDS } from '../../src/protocol/fields.js';
import { reportFieldTable } from '../../src/protocol/json-schema.js';

describe('REPORT_FIELDS', () => {
  it('holds what the zod schemas say of every field (update src/protocol/fields.ts with the table printed on failure)', () => {
    const fromSchemas = reportFieldTable();
    expect(REPORT_FIELDS, `src/protocol/fields.ts should be:\n${JSON.stringify(fromSchemas, null, 2)}`).toStrictEqual(fromSchemas);
  });

  it('has the fields the command line types: integers, free-form objects and enums', () => {
    expect(REPORT_FIELDS.ct_init_pid.init_pid).toEqual({ types: ['integer'] });
    expect(REPORT_FIELDS.management.opts!.types).toContain('object');
    expect(REPORT_FIELDS.ct_exit.exit_type!.values).toEqual(['halt', 'reboot']);
  });
});
