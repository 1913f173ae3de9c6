import { BufferPool } from './buffer_pool';

describe('BufferPool', () => {
  it('allocates with headroom, prepends, appends, consumes', () => {
    const p = new BufferPool('t', 4, 256);
    const id = p.alloc(64);
    expect(p.headroom(id)).toBe(64);
    expect(p.length(id)).toBe(0);
    p.append(id, 100);
    expect(p.length(id)).toBe(100);
    const s = p.prepend(id, 20);
    expect(s).toBe(p.slotStart(id) + 44);
    expect(p.length(id)).toBe(120);
    p.consume(id, 14);
    expect(p.length(id)).toBe(106);
    expect(() => p.prepend(id, 100)).toThrow(/no headroom/);
    expect(() => p.append(id, 1000)).toThrow(/no tailroom/);
    p.release(id);
    expect(p.counters.outstanding).toBe(0);
  });

  it('counts references and detects a double release', () => {
    const p = new BufferPool('t', 2, 128);
    const id = p.alloc();
    p.ref(id);
    p.release(id);
    expect(p.counters.outstanding).toBe(1);
    p.release(id);
    expect(p.counters.outstanding).toBe(0);
    expect(() => p.release(id)).toThrow(/double release/);
    expect(() => p.ref(id)).toThrow(/ref of free buffer/);
  });

  it('runs dry, counts the failure, and recovers', () => {
    const p = new BufferPool('t', 2, 128);
    const a = p.alloc();
    const b = p.alloc();
    expect(p.alloc()).toBe(-1);
    expect(p.counters.allocFailures).toBe(1);
    expect(p.counters.highWater).toBe(2);
    p.release(a);
    expect(p.alloc()).toBe(a);
    p.release(a);
    p.release(b);
  });

  it('copies frames in without per-frame views', () => {
    const p = new BufferPool('t', 2, 128);
    const src = Buffer.from([9, 9, 1, 2, 3, 9]);
    const id = p.allocCopy(src, 2, 3, 10);
    expect(Array.from(p.region.u8.subarray(p.start(id), p.end(id)))).toEqual([1, 2, 3]);
    expect(p.allocCopy(Buffer.alloc(200), 0, 200)).toBe(-1);
    p.release(id);
  });
});
