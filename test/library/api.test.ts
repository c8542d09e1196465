// The package as a library, imported by its own name as users do.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { EventdServer, Reporter, ReportRejectedError, subscribe, type Event, type EventOpts } from 'eventd';

const dirs: string[] = [];
const servers: EventdServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop().catch(() => {})));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function newServer(dir = mkdtempSync(join(tmpdir(), 'eventd-lib-'))) {
  dirs.push(dir);
  const server = new EventdServer({ reportSocket: join(dir, 'report.sock'), eventsSocket: join(dir, 'events.sock'), logLevel: 'silent' });
  servers.push(server);
  return { server, dir };
}

async function take<T>(iterator: AsyncIterator<T>, count: number): Promise<T[]> {
  const out: T[] = [];
  while (out.length < count) {
    const next = await iterator.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

describe('EventdServer', () => {
  it('reports type-checked events, streams them to subscribers, and announces shutdown', async () => {
    const { server } = newServer();
    await server.start({ workers: 2 });
    const allEvents = server.subscribe();
    const onlyStates = server.subscribe({ type: 'state', opts: { id: '101' } });
    // Live once ready() resolves: nothing reported after it is missed.
    await Promise.all([allEvents.ready(), onlyStates.ready()]);
    const everything = allEvents[Symbol.asyncIterator]();
    const states = onlyStates[Symbol.asyncIterator]();
    const firstAll = everything.next();
    const firstState = states.next();

    expect(server.report('state', { pool: 'tank', id: '101', state: 'running' })).toBe(1);
    expect(server.report('ct_exit', { pool: 'tank', id: '101', exit_type: 'halt' })).toBe(2);
    const empty = () => server.report('state', { pool: 'tank', id: '', state: 'running' });
    expect(empty).toThrow(ReportRejectedError);
    expect(empty).toThrow('Invalid state report: opts.id must not be empty');
    // The same checks as the report socket, free-form data included.
    expect(() => server.report('management', { id: 1, cmd: 'x', state: 'run', opts: { n: Infinity } })).toThrow(
      'Invalid management report: opts.opts.n is a number too large to represent',
    );

    // @ts-expect-error: "runing" is not a state.
    expect(() => server.report('state', { pool: 'tank', id: '1', state: 'runing' })).toThrow(/must be one of/);
    // @ts-expect-error: ct_exit has no "state" field.
    expect(() => server.report('ct_exit', { pool: 'tank', id: '1', exit_type: 'halt', state: 'x' })).toThrow(/state is not a known field/);
    expectTypeOf<EventOpts<'ct_init_pid'>>().toEqualTypeOf<{ pool: string; id: string; init_pid: number }>();

    const all = [(await firstAll).value as Event, ...(await take(everything, 1))];
    expect(all.map((event) => [event.seq, event.type])).toEqual([
      [1, 'state'],
      [2, 'ct_exit'],
    ]);
    const state = (await firstState).value as Event;
    expect(state).toMatchObject({ seq: 1, type: 'state' });
    if (state.type === 'state')
      expectTypeOf(state.opts.state).toEqualTypeOf<
        'stopped' | 'starting' | 'running' | 'stopping' | 'aborting' | 'freezing' | 'frozen' | 'thawed' | 'error'
      >();

    // unsubscribe() ends that subscription's iteration; the others go on.
    const extra = server.subscribe({ type: 'db' });
    await extra.ready();
    const extraNext = extra[Symbol.asyncIterator]().next();
    server.unsubscribe(extra);
    expect((await extraNext).done).toBe(true);

    const shutdown = server.shutdown();
    expect((await everything.next()).value).toMatchObject({ seq: 3, type: 'osctld_shutdown' });
    await shutdown;
    expect((await everything.next()).done).toBe(true);
  });
});

describe('socket client', () => {
  it('Reporter resolves seqs and rejects with the daemon or schema error', async () => {
    const { server } = newServer();
    await server.start();
    const reporter = await Reporter.connect({ reportSocket: server.config.reportSocket });
    expect(
      await Promise.all([
        reporter.report('db', { object: 'pool', pool: 'tank', id: 'tank', action: 'add' }),
        reporter.report('osctld_shutdown', {}),
      ]),
    ).toEqual([1, 2]);
    await expect(reporter.reportJson({ type: 'db', opts: { object: 'volume' } })).rejects.toMatchObject({
      name: 'ReportRejectedError',
      by: 'local',
      message: expect.stringMatching(
        /^Invalid db report: opts.object must be one of "pool", "user", "group", "container", "idrange", "repository" \(got "volume"\)/,
      ),
    });
    await reporter.close();
  });

  it('subscribe() with reconnect resumes after a restart, and reports the gap', async () => {
    const { server } = newServer();
    await server.start();
    const config = server.config;
    const gaps: unknown[] = [];
    const subscription = subscribe({
      eventsSocket: server.config.eventsSocket,
      reconnect: true,
      type: 'state',
      onGap: (gap) => gaps.push(gap),
    });
    await subscription.ready();
    const events = subscription[Symbol.asyncIterator]();
    const first = events.next();
    server.report('state', { pool: 'tank', id: 'before', state: 'running' });
    expect((await first).value).toMatchObject({ seq: 1, opts: { id: 'before' } });

    // Restart on the same sockets: seq starts again at 1, reported while nobody listened.
    await server.stop();
    const again = new EventdServer({ ...config, logLevel: 'silent' });
    servers.push(again);
    await again.start();
    again.report('state', { pool: 'tank', id: 'after-1', state: 'running' });
    again.report('state', { pool: 'tank', id: 'after-2', state: 'stopped' });
    const resumed = await take(events, 2);
    expect(resumed.map((event) => [event.seq, event.opts])).toEqual([
      [1, { pool: 'tank', id: 'after-1', state: 'running' }],
      [2, { pool: 'tank', id: 'after-2', state: 'stopped' }],
    ]);
    expect(gaps).toEqual([{ missed: 0, reason: 'daemon-restarted' }]);
    subscription.close();
  });
});
