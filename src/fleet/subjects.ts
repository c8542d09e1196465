// How a host's events are named in NATS: subject `eventd.<host>.<type>`, message id
// `<host>:<run>:<seq>`. A host name becomes one subject token: every character other than
// letters, digits, `-` and `_` is %-escaped (UTF-8), so `web-1.example.com` is
// `web-1%2Eexample%2Ecom` and can never add a token or a wildcard.
import { EventdError } from '../errors.js';
import { isEventType, type EventType } from '../protocol/event-types.js';

export const SUBJECT_PREFIX = 'eventd';
/** Headers carried by every forwarded event (the message id travels as Nats-Msg-Id). */
export const HOST_HEADER = 'Eventd-Host';
export const RUN_HEADER = 'Eventd-Run';

/** Longest host name taken (DNS allows 253). */
const MAX_HOST_LENGTH = 253;

function badHostName(host: string, why: string): EventdError {
  return new EventdError('EVENTD_INVALID_SETTING', `host name ${JSON.stringify(host)} cannot be used: ${why}`);
}

/** Rejects names that are not host names at all; everything else can be escaped. */
export function checkHostName(host: string): string {
  if (host === '') throw badHostName(host, 'it is empty');
  if (host.length > MAX_HOST_LENGTH) throw badHostName(host, `it is longer than ${MAX_HOST_LENGTH} characters`);
  // Whitespace and control characters end or split a NATS subject, and no host name has them.
  if (/[\s\p{Cc}]/u.test(host)) throw badHostName(host, 'it contains whitespace or control characters');
  return host;
}

export function hostToken(host: string): string {
  checkHostName(host);
  let token = '';
  for (const char of host) {
    if (/[A-Za-z0-9_-]/.test(char)) token += char;
    else for (const byte of Buffer.from(char, 'utf8')) token += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return token;
}

export function hostFromToken(token: string): string {
  return decodeURIComponent(token);
}

export function eventSubject(host: string, type: EventType): string {
  return `${SUBJECT_PREFIX}.${hostToken(host)}.${type}`;
}

/** Every subject the stream must take. */
export const ALL_SUBJECTS = `${SUBJECT_PREFIX}.>`;

/**
 * One NATS filter subject covering the hosts and types asked for (servers before 2.10 take a
 * single filter per consumer): exact where one host or one type is asked, a wildcard otherwise.
 * Whatever it lets through too much is filtered by `matchesSubject`.
 */
export function filterSubject(hosts: readonly string[], types: readonly EventType[]): string {
  const host = hosts.length === 1 ? hostToken(hosts[0]!) : '*';
  const type = types.length === 1 ? types[0]! : '*';
  return host === '*' && type === '*' ? ALL_SUBJECTS : `${SUBJECT_PREFIX}.${host}.${type}`;
}

/** The host and type a subject names, or undefined for a subject that is not an event's. */
export function parseSubject(subject: string): { host: string; type: EventType } | undefined {
  const tokens = subject.split('.');
  if (tokens.length !== 3 || tokens[0] !== SUBJECT_PREFIX || !isEventType(tokens[2])) return undefined;
  try {
    return { host: hostFromToken(tokens[1]!), type: tokens[2] };
  } catch {
    return undefined;
  }
}

export function messageId(host: string, run: string, seq: number): string {
  return `${host}:${run}:${seq}`;
}

/** The run and seq of a message id made by `messageId` (the host may itself contain ':'). */
export function parseMessageId(id: string): { host: string; run: string; seq: number } | undefined {
  const last = id.lastIndexOf(':');
  const middle = id.lastIndexOf(':', last - 1);
  if (middle <= 0) return undefined;
  const seq = Number(id.slice(last + 1));
  if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
  return { host: id.slice(0, middle), run: id.slice(middle + 1, last), seq };
}
