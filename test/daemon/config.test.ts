// How many workers serve subscribers, and which threads read producers, by default.
import { expect, it } from 'vitest';
import { defaultIngestThreads, defaultWorkers, ingestLayout, ingestThreads } from '../../src/daemon/config.js';

it('serves subscribers on one worker on a host of two cores or fewer, else as osctld: one per 32 cores, at least two', () => {
  expect(defaultWorkers(1)).toBe(1);
  expect(defaultWorkers(2)).toBe(1);
  expect(defaultWorkers(3)).toBe(2);
  expect(defaultWorkers(16)).toBe(2);
  expect(defaultWorkers(64)).toBe(2);
  expect(defaultWorkers(96)).toBe(3);
  expect(defaultWorkers(256)).toBe(8);
});

it('reads producers on the main thread alone unless the workers leave cores free, then on up to every thread', () => {
  expect(defaultIngestThreads(2, 2)).toBe(1);
  expect(defaultIngestThreads(2, 1)).toBe(1);
  expect(defaultIngestThreads(2, 4)).toBe(2);
  expect(defaultIngestThreads(2, 16)).toBe(3);
  expect(defaultIngestThreads(8, 16)).toBe(8);
  expect(ingestThreads({ workers: 2, ingestThreads: 10 })).toBe(3);
  expect(ingestThreads({ workers: 4, ingestThreads: 2 })).toBe(2);
});

it('leaves the main thread out of ingest from two ingest threads until every worker reads producers', () => {
  expect(ingestLayout({ workers: 2, ingestThreads: 1 })).toEqual({ mainThread: true, workers: 0 });
  expect(ingestLayout({ workers: 2, ingestThreads: 2 })).toEqual({ mainThread: false, workers: 2 });
  expect(ingestLayout({ workers: 4, ingestThreads: 3 })).toEqual({ mainThread: false, workers: 3 });
  expect(ingestLayout({ workers: 2, ingestThreads: 3 })).toEqual({ mainThread: true, workers: 2 });
  expect(ingestLayout({ workers: 1, ingestThreads: 2 })).toEqual({ mainThread: true, workers: 1 });
  expect(ingestLayout({ workers: 2, ingestThreads: 10 })).toEqual({ mainThread: true, workers: 2 });
});
