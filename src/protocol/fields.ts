// What each opts field of each report type may hold, for the command line: `eventd report`
// types its key=value words with it (init_pid=42 is a number) and `eventd monitor` checks its
// filters. Worked out from the zod schemas (protocol/json-schema.ts, reportFieldTable) and kept
// here as data so that the commands need not load zod: it is most of `eventd report`'s start-up
// time. test/protocol/fields.test.ts fails, printing the new table, when a schema changes.
import type { EventType } from './event-types.js';

export interface FieldSpec {
  /** JSON Schema types ("string", "integer", "object", "null"…). */
  readonly types: readonly string[];
  /** The values it may hold when every shape of the type lists them (an enum); absent: any value of its types. */
  readonly values?: readonly unknown[];
}

export const REPORT_FIELDS: Readonly<Record<EventType, Readonly<Record<string, FieldSpec>>>> = {
  management: {
    id: { types: ['string', 'integer', 'null'] },
    cmd: { types: ['string'] },
    opts: { types: ['object', 'null'] },
    state: { types: ['string'], values: ['run', 'done', 'failed'] },
  },
  osctld_shutdown: {},
  state: {
    pool: { types: ['string'] },
    id: { types: ['string'] },
    state: {
      types: ['string'],
      values: ['stopped', 'starting', 'running', 'stopping', 'aborting', 'freezing', 'frozen', 'thawed', 'error'],
    },
  },
  db: {
    object: { types: ['string'], values: ['pool', 'user', 'group', 'container', 'idrange', 'repository'] },
    pool: { types: ['string'] },
    id: { types: ['string'] },
    action: { types: ['string'], values: ['add', 'remove'] },
  },
  ct_scheduled: {
    pool: { types: ['string'] },
    id: { types: ['string'] },
    cpu_package_inuse: { types: ['integer'] },
  },
  ct_init_pid: {
    pool: { types: ['string'] },
    id: { types: ['string'] },
    init_pid: { types: ['integer'] },
  },
  ct_netif: {
    pool: { types: ['string'] },
    id: { types: ['string'] },
    name: { types: ['string'] },
    action: { types: ['string'], values: ['up', 'add', 'remove', 'down', 'rename'] },
    veth: { types: ['string'] },
    new_name: { types: ['string'] },
  },
  ct_exit: {
    pool: { types: ['string'] },
    id: { types: ['string'] },
    exit_type: { types: ['string'], values: ['halt', 'reboot'] },
  },
};
