// Property-based, over real sockets: random good and bad lines in random chunks. Every line gets
// its answer, exactly the valid reports are published unchanged and in order, and the
// connection, the other clients and the daemon's memory are unharmed.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunked, invalidLine, REJECTION_MESSAGES, validReport } from '../helpers/arbitraries.js';
import { LineClient } from '../helpers/client.js';
import { TestDaemon } from '../helpers/daemon.js';

let daemon: TestDaemon;
const MAX = 4096;

beforeAll(async () => {
  daemon = await TestDaemon.start({ args: ['--max-line-bytes', String(MAX)] });
});
afterAll(() => daemon.cleanup());

describe('report socket under random input', () => {
  it('answers every line and publishes exactly the valid ones', async () => {
    const watcher = await daemon.subscriber();
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            validReport.map((report) => ({ valid: true as const, report })),
            invalidLine.map((line) => ({ valid: false as const, line })),
          ),
          { minLength: 1, maxLength: 30 },
        ),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (items, cuts) => {
          const producer = await daemon.producer();
          // Valid lines carry an ack, so every line gets exactly one answer.
          const lines = items.map((item, i) =>
            item.valid ? Buffer.from(JSON.stringify({ ...item.report, ack: i })) : Buffer.from(item.line),
          );
          const input = Buffer.concat(lines.flatMap((line) => [line, Buffer.from('\n')]));
          for (const chunk of chunked(input, cuts)) producer.send(chunk);
          const replies = await producer.takeJson<{ status: boolean; ack?: number; line?: number; message?: string }>(items.length);
          replies.forEach((reply, i) => {
            if (items[i]!.valid) {
              expect(reply).toMatchObject({ status: true, ack: i });
            } else {
              expect(reply).toMatchObject({ status: false, line: i + 1 });
              expect(
                REJECTION_MESSAGES.some((pattern) => pattern.test(reply.message!)),
                reply.message,
              ).toBe(true);
            }
          });
          const valid = items.filter((item) => item.valid);
          const published = await watcher.takeJson<{ type: string; opts: unknown }>(valid.length);
          // Compared with the opts as they went over the wire: JSON has no -0 (JSON.stringify writes 0).
          const sent = valid.map(
            (item) => item.valid && { type: item.report.type, opts: JSON.parse(JSON.stringify(item.report.opts)) as unknown },
          );
          expect(published.map((event) => ({ type: event.type, opts: event.opts }))).toEqual(sent);
          producer.destroy();
        },
      ),
      { numRuns: 40 },
    );
    await watcher.expectSilence(100);
    watcher.destroy();
  });

  it('discards a 100 MB line as it streams, answers it, and serves the next line', async () => {
    const producer = await daemon.producer();
    const bystander = await daemon.subscriber();
    const before = daemon.rssBytes();
    let peak = before;
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    for (let i = 0; i < 100; i++) {
      if (!producer.socket.write(chunk)) await new Promise((resolve) => producer.socket.once('drain', resolve));
      if (i % 10 === 0) peak = Math.max(peak, daemon.rssBytes());
    }
    producer.send('\n{"type":"ct_exit","opts":{"pool":"tank","id":"1","exit_type":"halt"},"ack":"after"}\n');
    expect(await producer.nextJson()).toEqual({
      status: false,
      line: 1,
      message: `Line is longer than the limit of ${MAX} bytes`,
      issues: [],
    });
    expect(await producer.nextJson()).toMatchObject({ status: true, ack: 'after' });
    expect(await bystander.nextJson()).toMatchObject({ type: 'ct_exit' });
    peak = Math.max(peak, daemon.rssBytes());
    console.log(`100 MB line: daemon RSS ${(before / 1048576).toFixed(1)} MiB before, ${(peak / 1048576).toFixed(1)} MiB at peak`);
    // Buffering the line would need 100 MB; discarding it costs only garbage from the reads.
    expect(peak - before).toBeLessThan(64 * 1024 * 1024);
    producer.destroy();
    bystander.destroy();
  });
});

describe('events socket under random input', () => {
  it('answers every command line and stays usable', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.string({ maxLength: 60 }).filter((s) => !s.includes('\n')),
            fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
          ),
          { minLength: 1, maxLength: 15 },
        ),
        async (lines) => {
          const client = await LineClient.connect(daemon.eventsSocket);
          client.send(`${lines.join('\n')}\n{"cmd":"stats"}\n`);
          const replies = await client.takeJson<{ status: boolean; message?: string; response?: unknown }>(lines.length + 1);
          replies.slice(0, -1).forEach((reply) => {
            // A random line is at best an accidental valid subscribe.
            if (reply.status === false)
              expect(reply.message).toMatch(
                /^(Line is not valid JSON|A command must be|Expected a command|Invalid \w+ command|Line is not valid UTF-8)/,
              );
            else expect(reply.response).toBe('subscribed');
          });
          expect(replies[replies.length - 1]).toMatchObject({ status: true, response: { events_published: expect.any(Number) } });
          client.destroy();
        },
      ),
      { numRuns: 40 },
    );
  });
});
