import { defineConfig } from 'vitest/config';

// `npm run test:osctl`: osctl's own client from a vpsAdminOS checkout (OSCTL_SOURCE), kept out of
// `npm test` because that checkout is not part of this repository.
export default defineConfig({
  test: {
    include: ['test/osctl/**/*.osctl.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
