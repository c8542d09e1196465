// A writer thread for event-ring.test.ts: writes `count` events in records of 1 to 40, retrying
// while the ring is full (the test's consumer frees it).
import { workerData } from 'node:worker_threads';
import { BatchBuilder } from '../../src/ipc/batch.js';
import { EventRing, SPACE_SIGNAL, type RingHandles } from '../../src/ring/event-ring.js';

const { handles, thread, count } = workerData as { handles: RingHandles; thread: number; count: number };
const ring = EventRing.attach(handles);
const builder = new BatchBuilder();
let i = 0;
while (i < count) {
  const size = Math.min(count - i, 1 + ((i * 7 + thread) % 40));
  builder.clear();
  for (let k = 0; k < size; k++) builder.add(`"type":"state","opts":{"pool":"tank","id":"t${thread}-${i + k}","state":"running"}}\n`, 2);
  for (;;) {
    const seen = ring.signal(SPACE_SIGNAL);
    const result = ring.write(builder.view(), Date.now());
    if (result.ok) break;
    ring.waitSync(SPACE_SIGNAL, seen, 50);
  }
  i += size;
}
