import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Daemons are real processes on a 2-core machine: give them room.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // expect.poll returns as soon as its condition holds; 1 s (vitest's default) was too short for
    // a CLI process to start while both cores were busy (two failures in the loaded suite run).
    expect: { poll: { timeout: 15_000 } },
    // The JSON report lets .ci/run print its own "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
  },
});
