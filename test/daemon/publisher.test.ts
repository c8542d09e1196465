// The publisher in-process: seq, time that never goes back, batches, and what cannot be published.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventHistory } from '../../src/daemon/history.js';
import { OTHER_POOLS, Publisher } from '../../src/daemon/publisher.js';
import { UnpublishableError } from '../../src/protocol/wire.js';
import { eventTypeCode } from '../../src/protocol/events.js';
import { BatchBuilder, BatchView, type EventBatch } from '../../src/ipc/batch.js';
import { eventTail } from '../../src/protocol/wire.js';

afterEach(() => vi.restoreAllMocks());

function publisher(maxLineBytes?: number) {
  const batches: EventBatch[] = [];
  const history = new EventHistory(100);
  return { publisher: new Publisher(history, (batch) => batches.push(batch), maxLineBytes), batches, history };
}

const lines = (batches: EventBatch[]) =>
  batches.flatMap((batch) => {
    const view = new BatchView(batch);
    return Array.from({ length: view.count }, (_, i) => JSON.parse(view.line(i)) as { seq: number; time: string });
  });

describe('Publisher', () => {
  it('numbers events from 1 and hands one batch per flush to the workers and the history', () => {
    const { publisher: pub, batches, history } = publisher();
    expect(pub.publish('osctld_shutdown', {})).toBe(1);
    expect(pub.publish('state', { pool: 'tank', id: '1', state: 'running' })).toBe(2);
    pub.flush();
    expect(batches).toHaveLength(1);
    expect(lines(batches).map((event) => event.seq)).toEqual([1, 2]);
    expect(history.lastSeq).toBe(2);
  });

  it('keeps time non-decreasing when the wall clock steps back', () => {
    const { publisher: pub, batches } = publisher();
    const now = vi.spyOn(Date, 'now');
    now.mockReturnValue(Date.UTC(2026, 10, 25, 12, 0, 5));
    pub.publish('osctld_shutdown', {});
    now.mockReturnValue(Date.UTC(2026, 10, 25, 11, 59, 0)); // NTP stepped the clock back a minute
    pub.publish('osctld_shutdown', {});
    now.mockReturnValue(Date.UTC(2026, 10, 25, 12, 0, 6));
    pub.publish('osctld_shutdown', {});
    pub.flush();
    expect(lines(batches).map((event) => event.time)).toEqual([
      '2026-11-25T12:00:05.000Z',
      '2026-11-25T12:00:05.000Z',
      '2026-11-25T12:00:06.000Z',
    ]);
  });

  it('publishes nothing for opts nested too deeply or an event line over the limit', () => {
    const { publisher: pub, batches } = publisher(200);
    let deep: unknown = 1;
    for (let i = 0; i < 20_000; i++) deep = [deep];
    expect(() => pub.publish('management', { id: 1, cmd: 'x', opts: { deep }, state: 'run' })).toThrow(
      new UnpublishableError('opts is nested too deeply'),
    );
    expect(() => pub.publish('management', { id: 1, cmd: 'x', opts: { blob: 'é'.repeat(60) }, state: 'run' })).toThrow(
      /^the event would be up to 2\d\d bytes with its seq and time, over the line limit of 200$/,
    );
    expect(pub.publish('osctld_shutdown', {})).toBe(1);
    pub.flush();
    expect(lines(batches).map((event) => event.seq)).toEqual([1]);
  });

  it('counts events per type and per pool (bounded: past 256 pools the rest are "(other)"), and nothing it refused', () => {
    const { publisher: pub } = publisher(200);
    for (let i = 0; i < 300; i++) pub.publish('state', { pool: `p${i}`, id: '1', state: 'running' });
    pub.publish('state', { pool: 'p0', id: '2', state: 'stopped' });
    pub.publish('osctld_shutdown', {});
    expect(() => pub.publish('management', { id: 1, cmd: 'x'.repeat(300), opts: null, state: 'run' })).toThrow(UnpublishableError);
    expect(pub.byType[eventTypeCode('state')]).toBe(301);
    expect(pub.byType[eventTypeCode('osctld_shutdown')]).toBe(1);
    expect(pub.byType[eventTypeCode('management')]).toBe(0);
    expect(pub.byPool.get('p0')).toBe(2);
    expect(pub.byPool.get('p255')).toBe(1);
    expect(pub.byPool.has('p256')).toBe(false);
    expect(pub.byPool.get(OTHER_POOLS)).toBe(44);
    expect(pub.byPool.size).toBe(257);
  });

  it("stamps a worker's serialized reports with the next seqs, in order, after its own events, and answers once they went out", () => {
    const { publisher: pub, batches, history } = publisher();
    pub.publish('osctld_shutdown', {});
    const reports = new BatchBuilder();
    reports.add(eventTail('state', { pool: 'tank', id: '1', state: 'running' }), eventTypeCode('state'));
    reports.add(eventTail('ct_exit', { pool: 'ssd', id: '2', exit_type: 'halt' }), eventTypeCode('ct_exit'));
    expect(
      pub.publishReports(reports.take(0), [
        ['tank', 1],
        ['ssd', 1],
      ]),
    ).toBe(2);
    const answered: number[] = [];
    pub.after(() => answered.push(history.lastSeq));
    expect(answered).toEqual([]);
    pub.flush();
    expect(answered).toEqual([3]);
    expect(lines(batches)).toMatchObject([
      { seq: 1, type: 'osctld_shutdown' },
      { seq: 2, type: 'state', opts: { pool: 'tank', id: '1', state: 'running' } },
      { seq: 3, type: 'ct_exit', opts: { pool: 'ssd', id: '2', exit_type: 'halt' } },
    ]);
    expect(new BatchView(batches[0]!).type(2)).toBe('ct_exit');
    expect(pub.byType[eventTypeCode('ct_exit')]).toBe(1);
    expect(pub.byPool.get('ssd')).toBe(1);
  });

  it("answers a main-thread producer's acks and errors in line order, once the events have gone out", () => {
    const { publisher: pub, batches } = publisher();
    const replies: string[] = [];
    pub.add('state', { pool: 'tank', id: '1', state: 'running' }, (seq) => replies.push(`ack ${seq}`));
    pub.after(() => replies.push('error line 2'));
    pub.add('state', { pool: 'tank', id: '3', state: 'running' }, (seq) => replies.push(`ack ${seq}`));
    expect(replies).toEqual([]);
    pub.flush();
    expect(batches).toHaveLength(1);
    expect(replies).toEqual(['ack 1', 'error line 2', 'ack 2']);
  });
});
