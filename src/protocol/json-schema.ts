// JSON Schema of every event, generated from the zod schemas (never written by hand).
import { z } from 'zod';
import { EVENT_TYPES, reportSchemas, type EventType } from './events.js';

/** The JSON Schema of a report of one type: what a producer writes on the report socket. */
export function reportJsonSchema(type: EventType): Record<string, unknown> {
  return z.toJSONSchema(reportSchemas[type]) as Record<string, unknown>;
}

export function allReportJsonSchemas(): Record<EventType, Record<string, unknown>> {
  return Object.fromEntries(EVENT_TYPES.map((type) => [type, reportJsonSchema(type)])) as Record<EventType, Record<string, unknown>>;
}
