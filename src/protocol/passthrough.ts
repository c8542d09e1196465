// The bytes a producer sent for `opts`, reused as they are when they are exactly what
// JSON.stringify would write for the parsed value: compact JSON, as osctld, the Ruby client and
// `eventd report` send it. Serializing opts again cost about 0.4 µs an event for bytes already
// there. Anything JSON.stringify would write differently is left to it: whitespace, escapes it
// would not use (\/, \u00e9, upper-case hex), numbers it would spell otherwise (1.0, 1e3, -0, big
// integers), keys it would reorder (array indexes come first in a JS object) or drop (a key given
// twice), and nesting deeper than a few levels. test/protocol/passthrough.test.ts checks, on
// generated reports, that the line is byte for byte the one serializing makes.

/** Deeper than this, opts are serialized again (the scan keeps no stack of its own beyond it). */
const MAX_DEPTH = 32;

/** `[start, end)` of the top-level "opts" value in a report line, if it is already canonical JSON. */
export function canonicalOptsSpan(line: string): [number, number] | undefined {
  const scan = new Scanner(line);
  let span: [number, number] | undefined;
  let at = scan.space(0);
  if (line.charCodeAt(at) !== 0x7b) return undefined; // {
  at = scan.space(at + 1);
  if (line.charCodeAt(at) === 0x7d) return undefined; // {}
  for (;;) {
    const keyEnd = scan.string(at, false);
    if (keyEnd < 0) return undefined;
    const key = line.slice(at + 1, keyEnd - 1);
    at = scan.space(keyEnd);
    if (line.charCodeAt(at) !== 0x3a) return undefined; // :
    at = scan.space(at + 1);
    if (key === 'opts') {
      // A key given twice: JSON.parse keeps the last; so would we, but not worth the care.
      if (span !== undefined) return undefined;
      const end = scan.value(at, true, 0);
      if (end < 0) return undefined;
      span = [at, end];
      at = end;
    } else {
      // A top-level key spelled with escapes might be "opts" in disguise.
      if (key.includes('\\')) return undefined;
      at = scan.value(at, false, 0);
      if (at < 0) return undefined;
    }
    at = scan.space(at);
    const c = line.charCodeAt(at);
    if (c === 0x7d) break;
    if (c !== 0x2c) return undefined;
    at = scan.space(at + 1);
  }
  return span;
}

class Scanner {
  constructor(private readonly text: string) {}

  space(at: number): number {
    for (;;) {
      const c = this.text.charCodeAt(at);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return at;
      at++;
    }
  }

  /**
   * The end of the value at `at`; -1 if it is not canonical (when `canonical`: no whitespace,
   * strings and numbers as JSON.stringify writes them, no array-index or repeated keys).
   */
  value(at: number, canonical: boolean, depth: number): number {
    const c = this.text.charCodeAt(at);
    if (c === 0x22) return this.string(at, canonical);
    if (c === 0x7b) return this.object(at, canonical, depth);
    if (c === 0x5b) return this.array(at, canonical, depth);
    if (c === 0x74) return this.text.startsWith('true', at) ? at + 4 : -1;
    if (c === 0x66) return this.text.startsWith('false', at) ? at + 5 : -1;
    if (c === 0x6e) return this.text.startsWith('null', at) ? at + 4 : -1;
    return this.number(at, canonical);
  }

  private object(at: number, canonical: boolean, depth: number): number {
    if (depth >= MAX_DEPTH) return -1;
    const keys: string[] = [];
    let seen: Set<string> | undefined;
    at = canonical ? at + 1 : this.space(at + 1);
    if (this.text.charCodeAt(at) === 0x7d) return at + 1;
    for (;;) {
      const keyEnd = this.string(at, canonical);
      if (keyEnd < 0) return -1;
      if (canonical) {
        const key = this.text.slice(at + 1, keyEnd - 1);
        // JavaScript orders array-index keys first: JSON.stringify would move this one.
        if (isArrayIndex(key)) return -1;
        if (keys.length < 16) {
          if (keys.includes(key)) return -1;
          keys.push(key);
        } else {
          seen ??= new Set(keys);
          if (seen.has(key)) return -1;
          seen.add(key);
        }
      }
      at = canonical ? keyEnd : this.space(keyEnd);
      if (this.text.charCodeAt(at) !== 0x3a) return -1;
      at = canonical ? at + 1 : this.space(at + 1);
      at = this.value(at, canonical, depth + 1);
      if (at < 0) return -1;
      if (!canonical) at = this.space(at);
      const c = this.text.charCodeAt(at);
      if (c === 0x7d) return at + 1;
      if (c !== 0x2c) return -1;
      at = canonical ? at + 1 : this.space(at + 1);
    }
  }

  private array(at: number, canonical: boolean, depth: number): number {
    if (depth >= MAX_DEPTH) return -1;
    at = canonical ? at + 1 : this.space(at + 1);
    if (this.text.charCodeAt(at) === 0x5d) return at + 1;
    for (;;) {
      at = this.value(at, canonical, depth + 1);
      if (at < 0) return -1;
      if (!canonical) at = this.space(at);
      const c = this.text.charCodeAt(at);
      if (c === 0x5d) return at + 1;
      if (c !== 0x2c) return -1;
      at = canonical ? at + 1 : this.space(at + 1);
    }
  }

  /** The end of the string at `at` (after its closing quote); -1 if it is not as JSON.stringify writes it. */
  string(at: number, canonical: boolean): number {
    if (this.text.charCodeAt(at) !== 0x22) return -1;
    for (let i = at + 1; i < this.text.length; i++) {
      const c = this.text.charCodeAt(i);
      if (c === 0x22) return i + 1;
      if (c < 0x20) return -1;
      if (c !== 0x5c) continue;
      const e = this.text.charCodeAt(++i);
      if (!canonical) {
        if (e === 0x75) i += 4;
        continue;
      }
      // JSON.stringify writes \" \\ \b \f \n \r \t, and \u00xx (lower case) for the other controls.
      if (e === 0x22 || e === 0x5c || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) continue;
      if (e !== 0x75 || !/^00[01][0-9a-f]$/.test(this.text.slice(i + 1, i + 5))) return -1;
      const code = parseInt(this.text.slice(i + 1, i + 5), 16);
      if (code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d) return -1;
      i += 4;
    }
    return -1;
  }

  /** A number: canonical only as an integer of at most 15 digits (exact in a double, written back the same), not -0. */
  private number(at: number, canonical: boolean): number {
    let i = at;
    if (this.text.charCodeAt(i) === 0x2d) i++;
    const digitsStart = i;
    while (isDigit(this.text.charCodeAt(i))) i++;
    const digits = i - digitsStart;
    if (digits === 0) return -1;
    const c = this.text.charCodeAt(i);
    const simple = c !== 0x2e && c !== 0x65 && c !== 0x45;
    if (canonical) {
      if (!simple || digits > 15) return -1;
      if (this.text.charCodeAt(digitsStart) === 0x30 && (digits > 1 || digitsStart > at)) return -1; // 01, -0
      return i;
    }
    if (c === 0x2e) for (i++; isDigit(this.text.charCodeAt(i)); i++);
    if (this.text.charCodeAt(i) === 0x65 || this.text.charCodeAt(i) === 0x45) {
      i++;
      if (this.text.charCodeAt(i) === 0x2b || this.text.charCodeAt(i) === 0x2d) i++;
      while (isDigit(this.text.charCodeAt(i))) i++;
    }
    return i;
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** A key JavaScript treats as an array index (and so orders before the others). */
function isArrayIndex(key: string): boolean {
  if (key.length === 0 || key.length > 10) return false;
  if (key === '0') return true;
  if (key.charCodeAt(0) === 0x30) return false;
  for (let i = 0; i < key.length; i++) if (!isDigit(key.charCodeAt(i))) return false;
  return Number(key) < 2 ** 32 - 1;
}
