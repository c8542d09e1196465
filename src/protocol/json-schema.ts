// JSON Schema of every event, generated from the zod schemas (never written by hand).
import { z } from 'zod';
import { EVENT_TYPES, reportSchemas, type EventType } from './events.js';
import type { FieldSpec } from './fields.js';

/** The JSON Schema of a report of one type: what a producer writes on the report socket. */
export function reportJsonSchema(type: EventType): Record<string, unknown> {
  return z.toJSONSchema(reportSchemas[type]) as Record<string, unknown>;
}

export function allReportJsonSchemas(): Record<EventType, Record<string, unknown>> {
  return Object.fromEntries(EVENT_TYPES.map((type) => [type, reportJsonSchema(type)])) as Record<EventType, Record<string, unknown>>;
}

type JsonSchema = {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
};

/** What each opts field of each type may hold, over all the type's shapes: what protocol/fields.ts must hold. */
export function reportFieldTable(): Record<EventType, Record<string, FieldSpec>> {
  return Object.fromEntries(EVENT_TYPES.map((type) => [type, reportFields(type)])) as Record<EventType, Record<string, FieldSpec>>;
}

function reportFields(type: EventType): Record<string, FieldSpec> {
  const opts = (reportJsonSchema(type) as JsonSchema).properties!.opts!;
  const fields: Record<string, { types: string[]; values?: unknown[]; anyValue?: boolean }> = {};
  for (const variant of opts.oneOf ?? opts.anyOf ?? [opts]) {
    for (const [key, field] of Object.entries(variant.properties ?? {})) {
      const spec = (fields[key] ??= { types: [] });
      for (const option of field.anyOf ?? [field]) if (option.type && !spec.types.includes(option.type)) spec.types.push(option.type);
      const listed = field.enum ?? (field.const !== undefined ? [field.const] : undefined);
      if (listed === undefined || spec.anyValue) {
        spec.anyValue = true;
        delete spec.values;
      } else {
        spec.values = [...new Set([...(spec.values ?? []), ...listed])];
      }
    }
  }
  for (const spec of Object.values(fields)) delete spec.anyValue;
  return fields;
}
