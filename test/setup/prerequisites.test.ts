import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { missingToolsMessage, prerequisites } from './prerequisites.js';

it('names every missing tool and the exact install line', () => {
  const message = missingToolsMessage((tool) => !['socat', 'promtool', 'systemd-analyze', 'systemd-socket-activate'].includes(tool));
  expect(message).toBe(
    'The tests need system tools this machine lacks: socat, systemd-analyze, systemd-socket-activate, promtool.\n' +
      "Install them with `bash .ci/install-tools` (the README's test command does), or as root:\n" +
      '  apt-get update && apt-get install -y prometheus socat systemd',
  );
  expect(missingToolsMessage(() => true)).toBeUndefined();
});

it('stops vitest before any test runs when a tool is missing', () => {
  // A PATH with node and npx but none of the tools: vitest fails at its global setup, running nothing.
  const bin = mkdtempSync(join(tmpdir(), 'eventd-path-'));
  try {
    symlinkSync(process.execPath, join(bin, 'node'));
    let output = '';
    let status = 0;
    try {
      execFileSync(
        process.execPath,
        [
          'node_modules/vitest/vitest.mjs',
          'run',
          'test/protocol/event-types.test.ts',
          '--reporter=default',
          `--outputFile.json=${join(bin, 'results.json')}`, // never the outer run's report
        ],
        {
          env: { ...process.env, PATH: bin },
          encoding: 'utf8',
          stdio: 'pipe',
        },
      );
    } catch (error) {
      const failed = error as { status: number; stdout: string; stderr: string };
      status = failed.status;
      output = failed.stdout + failed.stderr;
    }
    expect(status).not.toBe(0);
    // Those in the system directories (nats-server in /usr/sbin) are found there whatever PATH says.
    const missing = prerequisites().filter(({ tool }) => !['/usr/sbin', '/sbin'].some((dir) => existsSync(join(dir, tool))));
    expect(missing.length).toBeGreaterThan(5);
    expect(output).toContain(`The tests need system tools this machine lacks: ${missing.map(({ tool }) => tool).join(', ')}.`);
    expect(output).not.toMatch(/Tests\s+\d+ passed/);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});
