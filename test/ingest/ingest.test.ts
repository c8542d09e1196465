// A worker's ingest in-process: what goes to the sequencer, and replies held in line order until
// the batch they belong to is answered.
import { describe, expect, it } from 'vitest';
import { BatchView, type EventBatch } from '../../src/ipc/batch.js';
import { eventPrefix, MAX_EVENT_PREFIX_BYTES, UnpublishableError } from '../../src/protocol/wire.js';
import { Ingest } from '../../src/ingest/ingest.js';

function ingest(maxLineBytes = 1 << 20) {
  const sent: { reports: EventBatch; pools: [string, number][] }[] = [];
  const backlog: boolean[] = [];
  const sink = {
    send: (reports: EventBatch, pools: [string, number][]) => sent.push({ reports, pools }),
    backlog: (full: boolean) => backlog.push(full),
  };
  return { ingest: new Ingest(sink, maxLineBytes), sent, backlog };
}

const state = (id: string, pool = 'tank') => ({ pool, id, state: 'running' as const });

describe('Ingest', () => {
  it('sends event lines without seq and time, which the sequencer completes, and counts pools', () => {
    const { ingest: i, sent } = ingest();
    i.add('state', state('1'));
    i.add('state', state('2', 'ssd'));
    i.add('osctld_shutdown', {});
    i.flush();
    expect(sent).toHaveLength(1);
    const view = new BatchView(sent[0]!.reports);
    expect(view.count).toBe(3);
    expect(JSON.parse(eventPrefix(7, '2026-11-29T00:00:00.000Z') + view.line(0))).toStrictEqual({
      seq: 7,
      time: '2026-11-29T00:00:00.000Z',
      type: 'state',
      opts: state('1'),
    });
    expect(view.type(2)).toBe('osctld_shutdown');
    expect(sent[0]!.pools).toEqual([
      ['tank', 1],
      ['ssd', 1],
    ]);
  });

  it('gives each report its seq and runs every reply in line order once its batch is answered', () => {
    const { ingest: i } = ingest();
    const order: string[] = [];
    i.add('state', state('1'), (seq) => order.push(`ack ${seq}`));
    i.after(() => order.push('error line 2'));
    i.add('state', state('3'), (seq) => order.push(`ack ${seq}`));
    i.flush();
    // An error on a later turn, with nothing published in that turn: it waits for the batch before.
    i.after(() => order.push('error line 4'));
    i.flush();
    i.add('state', state('5'), (seq) => order.push(`ack ${seq}`));
    i.flush();
    expect(order).toEqual([]);
    i.sequenced(10);
    expect(order).toEqual(['ack 10', 'error line 2', 'ack 11', 'error line 4']);
    i.sequenced(12);
    expect(order).toEqual(['ack 10', 'error line 2', 'ack 11', 'error line 4', 'ack 12']);
    // Nothing outstanding: a reply that needs no seq goes at once.
    i.after(() => order.push('error line 6'));
    i.flush();
    expect(order.at(-1)).toBe('error line 6');
  });

  it('starts a new batch past 64 KiB, and each reply stays with its own batch', () => {
    const { ingest: i, sent } = ingest();
    const seqs: number[] = [];
    const blob = 'x'.repeat(1000);
    for (let n = 0; n < 100; n++) i.add('management', { id: n, cmd: blob, opts: null, state: 'run' }, (seq) => seqs.push(seq));
    i.flush();
    expect(sent.length).toBe(2);
    const first = new BatchView(sent[0]!.reports).count;
    i.sequenced(1);
    i.sequenced(1001);
    expect(seqs).toEqual([...Array.from({ length: first }, (_, n) => 1 + n), ...Array.from({ length: 100 - first }, (_, n) => 1001 + n)]);
  });

  it('says it is behind at 4 unanswered batches, and when there is room again', () => {
    const { ingest: i, backlog } = ingest();
    for (let n = 0; n < 4; n++) {
      i.add('state', state(String(n)));
      i.flush();
    }
    expect(backlog).toEqual([true]);
    i.sequenced(1);
    expect(backlog).toEqual([true, false]);
  });

  it('refuses, taking nothing, what could pass the line limit with the longest seq and time', () => {
    const { ingest: i, sent } = ingest(200);
    const bare = `"type":"management","opts":${JSON.stringify({ id: 1, cmd: '', opts: null, state: 'run' })}}`.length;
    const fits = 200 - MAX_EVENT_PREFIX_BYTES - bare;
    i.add('management', { id: 1, cmd: 'y'.repeat(fits), opts: null, state: 'run' });
    expect(() => i.add('management', { id: 1, cmd: 'y'.repeat(fits + 1), opts: null, state: 'run' })).toThrow(
      new UnpublishableError('the event would be up to 201 bytes with its seq and time, over the line limit of 200'),
    );
    let deep: unknown = 1;
    for (let n = 0; n < 20_000; n++) deep = [deep];
    expect(() => i.add('management', { id: 1, cmd: 'x', opts: { deep }, state: 'run' })).toThrow(
      new UnpublishableError('opts is nested too deeply'),
    );
    i.flush();
    expect(new BatchView(sent[0]!.reports).count).toBe(1);
  });
});
