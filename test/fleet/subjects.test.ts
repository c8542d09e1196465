import { describe, expect, it } from 'vitest';
import { checkStreamName, parseDuration, parseFleetSince, parseSize } from '../../src/fleet/settings.js';
import {
  eventSubject,
  filterSubject,
  hostFromToken,
  hostToken,
  messageId,
  parseMessageId,
  parseSubject,
} from '../../src/fleet/subjects.js';

describe('subjects', () => {
  it('escapes a host name into one subject token, reversibly', () => {
    expect(hostToken('node7')).toBe('node7');
    expect(hostToken('web-1.example.com')).toBe('web-1%2Eexample%2Ecom');
    expect(hostToken('a*b>c%d')).toBe('a%2Ab%3Ec%25d');
    expect(hostToken('höst')).toBe('h%C3%B6st');
    for (const host of ['web-1.example.com', 'a*b>c%d', 'höst', 'x_y-z']) {
      const token = hostToken(host);
      expect(token).toMatch(/^[A-Za-z0-9_%-]+$/);
      expect(hostFromToken(token)).toBe(host);
    }
  });

  it('refuses names that are not host names', () => {
    expect(() => hostToken('')).toThrow('host name "" cannot be used: it is empty');
    expect(() => hostToken('my host')).toThrow('host name "my host" cannot be used: it contains whitespace or control characters');
    expect(() => hostToken('a\u0000b')).toThrow(/whitespace or control characters/);
    expect(() => hostToken('x'.repeat(254))).toThrow(/longer than 253 characters/);
  });

  it('names subjects eventd.<host>.<type> and reads them back', () => {
    expect(eventSubject('web-1.example.com', 'ct_exit')).toBe('eventd.web-1%2Eexample%2Ecom.ct_exit');
    expect(parseSubject('eventd.web-1%2Eexample%2Ecom.ct_exit')).toEqual({ host: 'web-1.example.com', type: 'ct_exit' });
    expect(parseSubject('eventd.a.b.state')).toBeUndefined();
    expect(parseSubject('eventd.a.nope')).toBeUndefined();
    expect(parseSubject('other.a.state')).toBeUndefined();
  });

  it('picks one filter subject, exact where it can', () => {
    expect(filterSubject([], [])).toBe('eventd.>');
    expect(filterSubject(['a.b'], [])).toBe('eventd.a%2Eb.*');
    expect(filterSubject([], ['state'])).toBe('eventd.*.state');
    expect(filterSubject(['a'], ['db'])).toBe('eventd.a.db');
    expect(filterSubject(['a', 'b'], ['db', 'state'])).toBe('eventd.>');
  });

  it('makes message ids <host>:<run>:<seq> and parses them, even with ":" in the host', () => {
    expect(messageId('node7', 'r1', 42)).toBe('node7:r1:42');
    expect(parseMessageId('node7:r1:42')).toEqual({ host: 'node7', run: 'r1', seq: 42 });
    expect(parseMessageId('fe80::1:r1:42')).toEqual({ host: 'fe80::1', run: 'r1', seq: 42 });
    expect(parseMessageId('node7:r1:x')).toBeUndefined();
    expect(parseMessageId('nonsense')).toBeUndefined();
  });
});

describe('stream settings', () => {
  it('parses durations and sizes, with clear errors', () => {
    expect(parseDuration('7d')).toBe(7 * 86_400_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('0')).toBe(0);
    expect(() => parseDuration('soon')).toThrow('expected a duration such as 90s, 15m, 12h or 7d, got "soon"');
    expect(() => parseDuration('15')).toThrow('say the unit of "15": 90s, 15m, 12h or 7d');
    expect(parseSize('10G')).toBe(10 * 2 ** 30);
    expect(parseSize('500MiB')).toBe(500 * 2 ** 20);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('-1')).toBe(-1);
    expect(() => parseSize('0')).toThrow(/cannot hold anything/);
    expect(() => parseSize('lots')).toThrow('expected a size such as 500M or 10G (or -1 for no limit), got "lots"');
  });

  it('checks stream names as JetStream does', () => {
    expect(checkStreamName('EVENTD_2')).toBe('EVENTD_2');
    for (const bad of ['', 'a.b', 'a b', 'a*', 'a>', 'a/b']) expect(() => checkStreamName(bad)).toThrow(/is not valid/);
  });

  it('reads --since of the fleet monitor as a stream sequence, a time or a duration ago', () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    expect(parseFleetSince('0', now)).toEqual({ afterStreamSeq: 0 });
    expect(parseFleetSince('1500', now)).toEqual({ afterStreamSeq: 1500 });
    expect(parseFleetSince('2h', now)).toEqual({ time: new Date('2026-11-25T10:00:00Z') });
    expect(parseFleetSince('2026-11-24T22:00:00Z', now)).toEqual({ time: new Date('2026-11-24T22:00:00Z') });
    expect(() => parseFleetSince('yesterday', now)).toThrow(/--since takes a stream sequence/);
  });
});
