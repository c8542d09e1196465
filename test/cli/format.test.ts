// The readable monitor line for the event shapes osctld really sends.
import { describe, expect, it } from 'vitest';
import { formatEvent } from '../../src/cli/format.js';
import type { Event } from '../../src/protocol/events.js';

const at = (event: Omit<Event, 'seq' | 'time'>) => ({ seq: 1, time: new Date(2026, 0, 1, 12, 0, 1, 5).toISOString(), ...event }) as Event;

describe('formatEvent', () => {
  it('shows the veth only when osctld knows it', () => {
    expect(formatEvent(at({ type: 'ct_netif', opts: { pool: 'tank', id: '101', action: 'add', name: 'eth0' } }))).toBe(
      '12:00:01.005 1 ct_netif tank:101 eth0 add',
    );
    expect(formatEvent(at({ type: 'ct_netif', opts: { pool: 'tank', id: '101', action: 'up', name: 'eth0', veth: 'veth101' } }))).toBe(
      '12:00:01.005 1 ct_netif tank:101 eth0 (veth101) up',
    );
  });

  it('shows a refused management request without an id', () => {
    expect(formatEvent(at({ type: 'management', opts: { id: null, cmd: 'ct_bogus', opts: {}, state: 'failed' } }))).toBe(
      '12:00:01.005 1 management #- ct_bogus failed',
    );
    expect(formatEvent(at({ type: 'management', opts: { id: null, cmd: null, opts: null, state: 'failed' } }))).toBe(
      '12:00:01.005 1 management #- null failed',
    );
    expect(formatEvent(at({ type: 'management', opts: { id: 7, cmd: 'ct_start', opts: null, state: 'run' } }))).toBe(
      '12:00:01.005 1 management #7 ct_start run',
    );
  });
});
