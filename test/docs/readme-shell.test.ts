// The README's shell examples, run as printed against a real daemon (its socket paths put in for
// /run/eventd's): each command runs, and what it prints matches the `# …` line shown under it
// ("…" stands for anything, a seq for any seq).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon } from '../helpers/daemon.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The ```sh blocks of one README section. */
function shellBlocks(heading: string): string[] {
  const start = README.indexOf(`\n${heading}\n`);
  const end = README.indexOf('\n## ', start + 1);
  return [...README.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

interface Step {
  command: string;
  /** The output lines shown under it, as patterns. */
  shown: RegExp[];
}

/** A block as commands (continuation lines joined) with the output lines shown after each. */
function steps(block: string): Step[] {
  const out: Step[] = [];
  let pending = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('# {')) out.at(-1)?.shown.push(pattern(line.slice(2)));
    else if (line.startsWith('#') || line.trim() === '') continue;
    else if (line.endsWith('\\')) pending += `${line.slice(0, -1)} `;
    else {
      out.push({ command: pending + line, shown: [] });
      pending = '';
    }
  }
  return out;
}

function pattern(shown: string): RegExp {
  const escaped = shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(
    `^${escaped
      .replace(/…/g, '.*')
      .replace(/"seq":\d+/g, '"seq":\\d+')
      .replace(/"time":"[^"]*"/g, '"time":"[^"]+"')}$`,
  );
}

let daemon: TestDaemon;
beforeAll(async () => {
  daemon = await TestDaemon.start();
});
afterAll(() => daemon.cleanup());

function run(command: string, timeoutS = 3): { status: number | null; lines: string[] } {
  const script = command
    .replaceAll('/run/eventd/report.sock', daemon.reportSocket)
    .replaceAll('/run/eventd/events.sock', daemon.eventsSocket);
  const result = spawnSync('timeout', [String(timeoutS), 'bash', '-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  expect(result.stderr).toBe('');
  return { status: result.status, lines: result.stdout.split('\n').filter(Boolean) };
}

describe('README shell examples', () => {
  it('Reporting from a shell script: every line answered as shown', () => {
    const [block] = shellBlocks('## Reporting from a shell script');
    const [define, ...reports] = steps(block!);
    expect(reports.length).toBe(2);
    for (const { command, shown } of reports) {
      const { status, lines } = run(`${define!.command}\n${command}`);
      expect(status).toBe(0);
      expect(lines.length).toBe(shown.length);
      lines.forEach((line, i) => expect(line).toMatch(shown[i]!));
    }
  });

  it('Subscribing with socat: the stream, a filtered replay, the counters', () => {
    const [stream, replay, stats] = steps(shellBlocks('## Subscribing with socat')[0]!);
    // The stream runs until stopped: it prints events reported meanwhile, as shown.
    const report = `sleep 0.5; printf '%s\\n' '{"type":"state","opts":{"pool":"tank","id":"101","state":"running"}}' | socat - UNIX-CONNECT:/run/eventd/report.sock`;
    const streamed = run(`(${report}) & ${stream!.command}`, 2);
    expect(streamed.status).toBe(124);
    expect(streamed.lines.length).toBeGreaterThan(0);
    streamed.lines.forEach((line) => expect(line).toMatch(stream!.shown[0]!));
    // `cat` has nothing to read here: the command is sent, answered, and the connection ends.
    const replayed = run(replay!.command);
    expect(replayed.status).toBe(0);
    expect(JSON.parse(replayed.lines[0]!)).toMatchObject({ status: true, response: 'subscribed' });
    const counters = run(stats!.command);
    expect(counters.status).toBe(0);
    expect(JSON.parse(counters.lines[0]!).response.events_published).toBeGreaterThan(0);
  });
});
