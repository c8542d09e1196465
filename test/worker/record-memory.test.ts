// The memory a delivery worker copies records into comes back only when every user is done with it.
import { describe, expect, it } from 'vitest';
import { RECORD_BUFFER_BYTES, RecordMemory } from '../../src/worker/record-memory.js';

describe('RecordMemory', () => {
  it('hands a buffer out again only after the lender and every user are done', () => {
    const memory = new RecordMemory();
    const first = memory.take(1000);
    expect(first.byteLength).toBe(RECORD_BUFFER_BYTES);
    const loan = memory.lend(first);
    loan.add();
    loan.add();
    loan.done(); // the lender
    loan.done(); // one socket
    expect(memory.take(1000)).not.toBe(first);
    loan.done(); // the other
    expect(memory.take(1000)).toBe(first);
  });

  it('gives a record larger than its buffers a buffer of its own, never kept', () => {
    const memory = new RecordMemory();
    const big = memory.take(RECORD_BUFFER_BYTES + 1);
    expect(big.byteLength).toBe(RECORD_BUFFER_BYTES + 1);
    memory.lend(big).done();
    expect(memory.take(10)).not.toBe(big);
  });

  it('keeps a bounded number of free buffers after a burst', () => {
    const memory = new RecordMemory();
    const out = Array.from({ length: 100 }, () => memory.take(10));
    expect(memory.allocated).toBe(100);
    for (const buffer of out) memory.lend(buffer).done();
    expect(memory.allocated).toBeLessThanOrEqual(32);
    const again = new Set(Array.from({ length: 100 }, () => memory.take(10)));
    expect([...again].filter((buffer) => out.includes(buffer)).length).toBeLessThanOrEqual(32);
  });
});
