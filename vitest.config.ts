import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Daemons are real processes on a 2-core machine: give them room.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The JSON report lets .ci/run print its own "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
  },
});
