// Turns zod's issues into the short, readable `{path, message}` pairs that go back on the wire.
import type { z } from 'zod';

export interface WireIssue {
  path: string;
  message: string;
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((key) => String(key)).join('.');
}

/** A short, safe rendering of a value a client sent, for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return JSON.stringify(shown);
  }
  return String(value);
}

function listValues(values: readonly unknown[]): string {
  return values.map((value) => JSON.stringify(value)).join(', ');
}

function issueMessage(issue: z.core.$ZodIssue): string {
  // JSON has no undefined: an undefined input is a missing field.
  if ('input' in issue && issue.input === undefined) return 'is required';
  const got = 'input' in issue ? ` (got ${describeValue(issue.input)})` : '';
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${article(issue.expected)}${got}`;
    case 'invalid_value':
      return `must be one of ${listValues(issue.values)}${got}`;
    case 'too_small':
      if (issue.origin === 'string') return 'must not be empty';
      return `must be at least ${String(issue.minimum)}${got}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}${got}`;
    case 'invalid_union':
      if ('options' in issue && Array.isArray(issue.options)) return `must be one of ${listValues(issue.options)}${got}`;
      return `does not match any allowed form${got}`;
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  if (expected === 'int') return 'an integer';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/** Flattens zod issues into wire issues; an unknown key becomes one issue per key. */
export function toWireIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): WireIssue[] {
  const out: WireIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: formatPath([...prefix, ...issue.path, key]), message: 'is not a known field' });
      continue;
    }
    out.push({ path: formatPath([...prefix, ...issue.path]), message: issueMessage(issue) });
  }
  return out;
}

/** One sentence summing up a list of issues: the first one, and how many more there are. */
export function summarizeIssues(subject: string, issues: readonly WireIssue[]): string {
  const [first] = issues;
  if (!first) return subject;
  const where = first.path === '' ? '' : `${first.path} `;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  return `${subject}: ${where}${first.message}${more}`;
}
