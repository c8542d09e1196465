import { defineConfig } from 'vitest/config';

// Daemons are real processes on a 2-core machine: give them room.
const shared = {
  testTimeout: 30_000,
  hookTimeout: 30_000,
  // expect.poll returns as soon as its condition holds; 1 s (vitest's default) was too short for
  // a CLI process to start while both cores were busy (two failures in the loaded suite run).
  expect: { poll: { timeout: 15_000 } },
};

export default defineConfig({
  test: {
    projects: [
      { test: { ...shared, name: 'suite', include: ['test/**/*.test.ts'], exclude: ['test/**/*.quiet.test.ts'] } },
      // Tests that compare a bystander's latency with a quiet run's (hardening): on their own,
      // one file at a time, once the rest of the suite has finished.
      {
        test: {
          ...shared,
          name: 'quiet',
          include: ['test/**/*.quiet.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
    // Stops at once, naming them, when a system tool the tests use is missing.
    globalSetup: ['test/setup/prerequisites.ts'],
    // The JSON report lets .ci/run print its own "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
  },
});
