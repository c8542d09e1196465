// A run of consecutive events as it travels from the main thread to the workers: one string of
// native lines plus compact offsets and type codes, so posting it is a few memcpys, and a
// subscriber that takes everything gets the whole run in a single write.
import { EVENT_TYPES, type EventType } from '../protocol/events.js';
import { osctldLine, parseEventOpts } from '../protocol/wire.js';

export interface EventBatch {
  /** seq of the first event; the others follow without gaps. */
  firstSeq: number;
  /** The native lines, concatenated. */
  text: string;
  /** End offset (exclusive, in UTF-16 units) of each line in `text`. */
  ends: Uint32Array;
  /** eventTypeCode() of each event. */
  types: Uint8Array;
}

export function encodeBatch(firstSeq: number, lines: readonly string[], typeCodes: readonly number[]): EventBatch {
  const ends = new Uint32Array(lines.length);
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    offset += lines[i]!.length;
    ends[i] = offset;
  }
  return { firstSeq, text: lines.join(''), ends, types: Uint8Array.from(typeCodes) };
}

/** Read access to a batch, decoding what filtered subscribers need at most once per event. */
export class BatchView {
  readonly count: number;
  readonly lastSeq: number;
  private lines: (string | undefined)[] = [];
  private osctld: (string | undefined)[] = [];
  private opts: (Record<string, unknown> | undefined)[] = [];
  private bytes: Buffer | undefined;

  constructor(readonly batch: EventBatch) {
    this.count = batch.ends.length;
    this.lastSeq = batch.firstSeq + this.count - 1;
  }

  /**
   * The whole batch as bytes, encoded once and shared by every subscriber that takes it all:
   * writing the string instead would encode a private copy per subscriber.
   */
  get buffer(): Buffer {
    return (this.bytes ??= Buffer.from(this.batch.text, 'utf8'));
  }

  type(i: number): EventType {
    return EVENT_TYPES[this.batch.types[i]!]!;
  }

  line(i: number): string {
    return (this.lines[i] ??= this.batch.text.slice(i === 0 ? 0 : this.batch.ends[i - 1], this.batch.ends[i]));
  }

  osctldLine(i: number): string {
    return (this.osctld[i] ??= osctldLine(this.line(i), this.type(i)));
  }

  eventOpts(i: number): Record<string, unknown> {
    return (this.opts[i] ??= parseEventOpts(this.line(i)));
  }
}
