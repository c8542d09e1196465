// Which threads read producers by default.
import { expect, it } from 'vitest';
import { defaultIngestThreads, ingestThreads } from '../../src/daemon/config.js';

it('reads producers on the main thread alone unless the workers leave cores free, then on up to every thread', () => {
  expect(defaultIngestThreads(2, 2)).toBe(1);
  expect(defaultIngestThreads(2, 1)).toBe(1);
  expect(defaultIngestThreads(2, 4)).toBe(2);
  expect(defaultIngestThreads(2, 16)).toBe(3);
  expect(defaultIngestThreads(8, 16)).toBe(8);
  expect(ingestThreads({ workers: 2, ingestThreads: 10 })).toBe(3);
  expect(ingestThreads({ workers: 4, ingestThreads: 2 })).toBe(2);
});
