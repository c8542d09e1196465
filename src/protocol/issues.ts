// Turns zod's issues into the short, readable `{path, message}` pairs that go back on the wire.
import type { z } from 'zod';

export interface WireIssue {
  path: string;
  message: string;
}

/** A dotted path; a key with a lone surrogate is shown with U+FFFD, so the error line stays readable by every JSON parser. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((key) => String(key).toWellFormed()).join('.');
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
  // Our schemas' own messages (zod's defaults start with "Invalid").
  if (issue.message.startsWith('must ')) return `${issue.message}${got}`;
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${article(issue.expected)}${got}`;
    case 'invalid_value':
      return `must be one of ${listValues(issue.values)}${got}`;
    case 'too_small':
      if (issue.origin === 'string') return 'must not be empty';
      return `must be at least ${String(issue.minimum)}${got}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${String(issue.maximum)} characters long${got}`;
      return `must be at most ${String(issue.maximum)}${got}`;
    case 'invalid_union':
      if ('options' in issue && Array.isArray(issue.options)) return `must be one of ${listValues(issue.options)}${got}`;
      if (issue.errors.length > 0 && issue.errors.every((branch) => branch.length === 1 && branch[0]!.code === 'invalid_type')) {
        const kinds = issue.errors.map((branch) => article((branch[0] as { expected: string }).expected));
        return `must be ${kinds.join(' or ')}${got}`;
      }
      return `does not match any allowed form${got}`;
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  if (expected === 'int') return 'an integer';
  if (expected === 'null') return 'null';
  if (expected === 'record') return 'an object';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/** Flattens zod issues into wire issues; an unknown key becomes one issue per key. */
export function toWireIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): WireIssue[] {
  const out: WireIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'invalid_union') {
      // The one shape whose type fits (a list where a value or a list is allowed): its problem.
      const fitting = issue.errors.filter((branch) => !isTypeMismatch(branch));
      if (issue.errors.length > 1 && fitting.length === 1) {
        out.push(...toWireIssues(fitting[0]!, [...prefix, ...issue.path]));
        continue;
      }
    }
    if (issue.code === 'invalid_union' && isObjectUnion(issue)) {
      // An object that fits none of a union's shapes: explain it against the closest shape.
      out.push(...toWireIssues(closestBranch(issue.errors, issue.input as object), [...prefix, ...issue.path]));
      continue;
    }
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: formatPath([...prefix, ...issue.path, key]), message: 'is not a known field' });
      continue;
    }
    out.push({ path: formatPath([...prefix, ...issue.path]), message: issueMessage(issue) });
  }
  return out;
}

/** A union branch that failed only because the value is of another type (nested unions included). */
function isTypeMismatch(branch: readonly z.core.$ZodIssue[]): boolean {
  if (branch.length !== 1 || branch[0]!.path.length > 0) return false;
  const [only] = branch;
  return only!.code === 'invalid_type' || (only!.code === 'invalid_union' && only!.errors.every(isTypeMismatch));
}

/** A union of object shapes, given an object (its branches' issues are about fields). */
function isObjectUnion(issue: z.core.$ZodIssueInvalidUnion): boolean {
  const { input } = issue as { input?: unknown };
  return typeof input === 'object' && input !== null && issue.errors.some((branch) => branch.some((inner) => inner.path.length > 0));
}

/**
 * The union branch with the fewest issues; on a tie, the one whose first problem comes latest in
 * the object (it matched more of the leading fields, e.g. management's `id`, so it is the shape meant).
 */
function closestBranch(branches: readonly (readonly z.core.$ZodIssue[])[], input: object): readonly z.core.$ZodIssue[] {
  const keys = Object.keys(input);
  const firstProblem = (branch: readonly z.core.$ZodIssue[]) =>
    Math.min(...branch.map((issue) => (issue.path.length === 0 ? -1 : keys.indexOf(String(issue.path[0])))));
  return branches.reduce((best, branch) =>
    branch.length < best.length || (branch.length === best.length && firstProblem(branch) > firstProblem(best)) ? branch : best,
  );
}

/** Problems a summary spells out; past that it says how many more there are. */
const SUMMARIZED_ISSUES = 4;

/** One sentence summing up a list of issues: the first few, and how many more there are. */
export function summarizeIssues(subject: string, issues: readonly WireIssue[]): string {
  if (issues.length === 0) return subject;
  const shown = issues.slice(0, SUMMARIZED_ISSUES).map((issue) => (issue.path === '' ? issue.message : `${issue.path} ${issue.message}`));
  const rest = issues.length - shown.length;
  const more = rest > 0 ? ` (and ${rest} more problem${rest > 1 ? 's' : ''})` : '';
  return `${subject}: ${shown.join('; ')}${more}`;
}
