// One error model: every error eventd throws on purpose is an EventdError whose `code` a library
// user can switch on, from both entry points ('eventd' and 'eventd/fleet').
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectError, ERROR_CODES, EventdError, EventdServer, isEventdError, Reporter, ReportRejectedError, subscribe } from 'eventd';
import * as fleet from 'eventd/fleet';

const dir = mkdtempSync(join(tmpdir(), 'eventd-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The error a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('EventdError codes', () => {
  it('EVENTD_UNREACHABLE: no daemon at the socket, with the path and the system reason', async () => {
    const missing = join(dir, 'none.sock');
    const error = await failure(Reporter.connect({ reportSocket: missing }));
    expect(error).toBeInstanceOf(EventdError);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ code: 'EVENTD_UNREACHABLE', path: missing, reason: 'ENOENT' });
    expect(isEventdError(error, 'EVENTD_UNREACHABLE')).toBe(true);
    const subscription = subscribe({ eventsSocket: missing })[Symbol.asyncIterator]();
    expect(await failure(subscription.next())).toMatchObject({ code: 'EVENTD_UNREACHABLE' });
  });

  it('EVENTD_REPORT_REJECTED: refused locally or by the daemon, with the issues', async () => {
    const server = new EventdServer({
      reportSocket: join(dir, 'r.sock'),
      eventsSocket: join(dir, 'e.sock'),
      logLevel: 'silent',
      maxLineBytes: 200,
    });
    await server.start({ workers: 1 });
    try {
      // @ts-expect-error a state the schema does not have
      const local = await failure(Promise.resolve().then(() => server.report('state', { pool: 'tank', id: '1', state: 'runing' })));
      expect(local).toBeInstanceOf(ReportRejectedError);
      expect(local).toMatchObject({ code: 'EVENTD_REPORT_REJECTED', by: 'local', issues: [{ path: 'opts.state' }] });
      const reporter = await Reporter.connect({ reportSocket: join(dir, 'r.sock') });
      // Valid, but longer than the daemon's line limit: only the daemon can tell, and it answers
      // without the ack (it discards such a line unread); the next report is answered as usual.
      const daemon = await failure(reporter.report('management', { id: 1, cmd: 'x'.repeat(250), opts: null, state: 'run' }));
      expect(daemon).toMatchObject({ code: 'EVENTD_REPORT_REJECTED', by: 'daemon', message: 'Line is longer than the limit of 200 bytes' });
      expect(await reporter.report('state', { pool: 'tank', id: '1', state: 'running' })).toBe(1);
      await reporter.close();
    } finally {
      await server.stop();
    }
  });

  it('the fleet side: EVENTD_INVALID_SETTING and EVENTD_NATS_UNREACHABLE, from eventd/fleet', async () => {
    expect(fleet.EventdError).toBe(EventdError);
    const base = {
      natsUrl: 'nats://127.0.0.1:1',
      stream: { name: 'EVENTD', maxAgeMs: 0, maxBytes: -1 },
      eventsSocket: join(dir, 'e.sock'),
    };
    const log = (await import('pino')).default({ level: 'silent' });
    expect(await failure(fleet.Forwarder.start({ ...base, host: 'my host', log }))).toMatchObject({ code: 'EVENTD_INVALID_SETTING' });
    expect(await failure(fleet.Forwarder.start({ ...base, host: 'node1', log }))).toMatchObject({ code: 'EVENTD_NATS_UNREACHABLE' });
    expect(Object.keys(ERROR_CODES).sort()).toEqual([
      'EVENTD_INVALID_SETTING',
      'EVENTD_NATS_UNREACHABLE',
      'EVENTD_PROTOCOL',
      'EVENTD_REFUSED',
      'EVENTD_REPORT_REJECTED',
      'EVENTD_STREAM',
      'EVENTD_UNREACHABLE',
    ]);
  });
});
