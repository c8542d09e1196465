// The zod-free list of event types (what the worker threads load) against the schemas.
import { expect, it } from 'vitest';
import { EVENT_TYPES, eventTypeCode, isEventType } from '../../src/protocol/event-types.js';
import { eventOptsSchemas, reportSchemas } from '../../src/protocol/events.js';

it('names every schema, in the order that makes the type codes between threads', () => {
  expect(EVENT_TYPES).toEqual(Object.keys(eventOptsSchemas));
  expect(Object.keys(reportSchemas)).toEqual(EVENT_TYPES);
  EVENT_TYPES.forEach((type, code) => expect(eventTypeCode(type)).toBe(code));
  expect(isEventType('state')).toBe(true);
  expect(isEventType('State')).toBe(false);
  expect(isEventType('constructor')).toBe(false);
});
