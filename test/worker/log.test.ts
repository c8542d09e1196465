// A worker's log records, as they go to the main thread's logger.
import { expect, it } from 'vitest';
import type { FromWorker } from '../../src/ipc/messages.js';
import { WorkerLogger } from '../../src/worker/log.js';

it('posts records at or above its level, with the bindings of every parent, and errors as plain objects', () => {
  const posted: FromWorker[] = [];
  const log = new WorkerLogger('warn', { worker: 1 }, (message) => posted.push(message));
  const child = log.child({ producer: 7 });
  child.debug('producer connected');
  child.warn({ line: 3 }, 'report rejected');
  const error = Object.assign(new Error('boom'), { code: 'EPIPE' });
  log.error({ err: error }, 'cannot open producer connection');
  log.warn('crashing on request');
  expect(posted).toHaveLength(3);
  expect(posted[0]).toStrictEqual({ t: 'log', level: 'warn', fields: { worker: 1, producer: 7, line: 3 }, msg: 'report rejected' });
  const err = (posted[1] as unknown as { fields: { err: Record<string, unknown> } }).fields.err;
  expect(err).toMatchObject({ type: 'Error', message: 'boom', code: 'EPIPE' });
  expect(err.stack).toMatch(/^Error: boom/);
  expect(structuredClone(posted[1])).toStrictEqual(posted[1]);
  expect(posted[2]).toStrictEqual({ t: 'log', level: 'warn', fields: { worker: 1 }, msg: 'crashing on request' });
  const debug = new WorkerLogger('debug', {}, (message) => posted.push(message));
  debug.debug({ subscriber: 2 }, 'subscriber disconnected');
  expect(posted).toHaveLength(4);
});
