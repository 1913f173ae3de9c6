import fc from 'fast-check';
import { BufferPool, regionOf, type BufferOwner } from './buffer_pool';

const pools: BufferPool[] = [];
function pool(count: number, bufSize: number): BufferPool {
  const p = new BufferPool('t', count, bufSize);
  pools.push(p);
  return p;
}

afterEach(() => {
  // Every test gives back every buffer it took.
  for (const p of pools.splice(0)) {
    expect(p.counters.outstanding).toBe(0);
    expect(p.available).toBe(p.count);
  }
});

/** Device memory with a release hook that records cookies. */
class FakeOwner implements BufferOwner {
  readonly released: number[] = [];
  releaseBuffer(cookie: number): void {
    this.released.push(cookie);
  }
}

describe('BufferPool slots', () => {
  it('allocates with headroom, prepends, appends, consumes, truncates', () => {
    const p = pool(4, 256);
    const id = p.alloc(64);
    expect(p.headroom(id)).toBe(64);
    expect(p.length(id)).toBe(0);
    expect(p.capacity(id)).toBe(256);
    p.append(id, 100);
    expect(p.length(id)).toBe(100);
    expect(p.tailroom(id)).toBe(256 - 164);
    const s = p.prepend(id, 20);
    expect(s).toBe(p.slotStart(id) + 44);
    expect(p.length(id)).toBe(120);
    p.consume(id, 14);
    expect(p.length(id)).toBe(106);
    p.adjustStart(id, -14);
    expect(p.length(id)).toBe(120);
    expect(() => p.adjustStart(id, -45)).toThrow(/outside/);
    expect(() => p.adjustStart(id, 121)).toThrow(/outside/);
    p.consume(id, 1000);
    expect(p.length(id)).toBe(0);
    expect(() => p.prepend(id, 200)).toThrow(/no headroom/);
    expect(() => p.append(id, 1000)).toThrow(/no tailroom/);
    p.setData(id, 10, 50);
    expect([p.start(id) - p.slotStart(id), p.length(id)]).toEqual([10, 50]);
    p.truncate(id, 20);
    expect(p.length(id)).toBe(20);
    expect(() => p.setData(id, 200, 57)).toThrow(/outside/);
    expect(p.slotEnd(id) - p.slotStart(id)).toBe(256);
    p.release(id);
  });

  it('gives each slot its own bytes in region 0', () => {
    const p = pool(3, 64);
    const ids = [p.alloc(), p.alloc(), p.alloc()];
    expect(new Set(ids.map((id) => p.slotStart(id))).size).toBe(3);
    for (const id of ids) {
      expect(p.regionId(id)).toBe(0);
      expect(p.regionFor(id)).toBe(p.region);
      expect(p.bufFor(id).buffer).toBe(p.region.u8.buffer);
      expect(p.isWrapped(id)).toBe(false);
      expect(p.slotEnd(id)).toBeLessThanOrEqual(p.region.u8.length);
      p.release(id);
    }
  });

  it('counts references and detects a double release and a ref of a free buffer', () => {
    const p = pool(2, 128);
    const id = p.alloc();
    p.ref(id);
    p.release(id);
    expect(p.counters.outstanding).toBe(1);
    expect(p.refs(id)).toBe(1);
    p.release(id);
    expect(p.counters.outstanding).toBe(0);
    expect(() => p.release(id)).toThrow(/double release of buffer/);
    expect(() => p.ref(id)).toThrow(/ref of free buffer/);
    expect(() => p.release(99)).toThrow(/double release/); // not a descriptor at all
    expect(p.counters.outstanding).toBe(0);
  });

  it('runs dry, counts the failure and the high-water mark, and recovers', () => {
    const p = pool(2, 128);
    const a = p.alloc();
    const b = p.alloc();
    expect(p.available).toBe(0);
    expect(p.alloc()).toBe(-1);
    expect(p.counters).toMatchObject({ allocFailures: 1, highWater: 2, allocs: 2, outstanding: 2 });
    p.release(a);
    expect(p.alloc()).toBe(a);
    p.release(a);
    p.release(b);
  });

  it('resets flags, cookie and timestamp on alloc; keeps the timestamp in ns (ms view over it)', () => {
    const p = pool(1, 128);
    let id = p.alloc();
    p.setFlags(id, 1);
    p.setCookie(id, 42);
    p.setTimestampNs(id, 1_500_000);
    expect(p.timestamp(id)).toBe(1.5);
    p.setTimestamp(id, 2.25);
    expect(p.timestampNs(id)).toBe(2_250_000);
    p.release(id);
    id = p.alloc();
    expect([p.flags(id), p.cookie(id), p.timestampNs(id)]).toEqual([0, 0, 0]);
    p.release(id);
  });

  it('copies frames in without per-frame views; refuses what does not fit', () => {
    const p = pool(2, 128);
    const src = Buffer.from([9, 9, 1, 2, 3, 9]);
    const id = p.allocCopy(src, 2, 3, 10);
    expect(p.headroom(id)).toBe(10);
    expect(Array.from(p.region.u8.subarray(p.start(id), p.end(id)))).toEqual([1, 2, 3]);
    expect(p.allocCopy(Buffer.alloc(200), 0, 200)).toBe(-1);
    expect(p.allocCopy(Buffer.alloc(120), 0, 120, 10)).toBe(-1);
    p.release(id);
    // The copy lands word-aligned like its source: up to 3 bytes past the headroom asked for.
    const b = p.allocCopy(src, 1, 4, 10);
    expect(p.headroom(b)).toBe(13); // slot at a multiple of 128: 13 ≡ 1 (mod 4)
    expect((p.start(b) - 1) & 3).toBe(0);
    expect(Array.from(p.region.u8.subarray(p.start(b), p.end(b)))).toEqual([9, 1, 2, 3]);
    p.release(b);
    // … unless that would not fit: then at the headroom exactly.
    const full = new Uint8Array(130).fill(4);
    const c = p.allocCopy(full, 3, 127, 1);
    expect([p.headroom(c), p.length(c)]).toEqual([1, 127]);
    p.release(c);
  });

  it('refuses nonsense sizes', () => {
    expect(() => new BufferPool('x', 0, 128)).toThrow(RangeError);
    expect(() => new BufferPool('x', 4, 32)).toThrow(RangeError);
    expect(() => new BufferPool('x', 4, 128, regionOf(new Uint8Array(100)))).toThrow(/region smaller/);
  });

  it('keeps refcounts and the free list consistent under any sequence of operations (model check)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('alloc', 'ref', 'release', 'double'), fc.nat(7)), { maxLength: 200 }), (ops) => {
      const p = new BufferPool('m', 8, 64);
      const held = new Map<number, number>();
      for (const [op, k] of ops) {
        const ids = [...held.keys()];
        if (op === 'alloc') {
          const id = p.alloc(k);
          if (held.size === 8) {
            if (id !== -1) return false;
          } else {
            if (id < 0 || held.has(id)) return false; // never hand out a held buffer
            held.set(id, 1);
          }
        } else if (ids.length > 0) {
          const id = ids[k % ids.length];
          if (op === 'ref') {
            p.ref(id);
            held.set(id, held.get(id)! + 1);
          } else if (op === 'release') {
            p.release(id);
            if (held.get(id) === 1) held.delete(id);
            else held.set(id, held.get(id)! - 1);
          } else {
            // release every reference, then one more: that one must throw
            for (let r = held.get(id)!; r > 0; r--) p.release(id);
            held.delete(id);
            try {
              p.release(id);
              return false;
            } catch {
              // expected
            }
          }
        }
        if (p.counters.outstanding !== held.size || p.available !== 8 - held.size) return false;
        for (const [id, r] of held) if (p.refs(id) !== r) return false;
      }
      for (const [id, r] of held) for (let i = 0; i < r; i++) p.release(id);
      return p.counters.outstanding === 0 && p.available === 8;
    }));
  });
});

describe('BufferPool wrapping device memory', () => {
  it('hands device frames up without a copy and gives each back to its owner at the last release', () => {
    const p = pool(2, 128);
    const ring = regionOf(new Uint8Array(4096));
    ring.u8.set([7, 7, 7], 1000);
    const owner = new FakeOwner();
    const rid = p.addRegion(ring, owner, 2);
    expect(rid).toBe(1);
    expect(p.descriptors).toBe(4);
    const id = p.wrap(rid, 1000, 3, 31);
    expect(p.isWrapped(id)).toBe(true);
    expect(p.regionFor(id)).toBe(ring);
    expect(p.bufFor(id)[p.start(id)]).toBe(7);
    expect(Array.from(p.regionFor(id).u8.subarray(p.start(id), p.end(id)))).toEqual([7, 7, 7]);
    expect(p.cookie(id)).toBe(31);
    expect([p.headroom(id), p.tailroom(id), p.capacity(id)]).toEqual([0, 0, 3]);
    expect(() => p.setCookie(id, 1)).toThrow(/belongs to the device/);
    expect(p.counters).toMatchObject({ outstanding: 1, wrapped: 1 });
    expect(p.heldIn(rid)).toBe(1);
    p.ref(id);
    p.release(id);
    expect(owner.released).toEqual([]);
    p.consume(id, 1);
    p.release(id);
    expect(owner.released).toEqual([31]);
    expect(p.counters).toMatchObject({ outstanding: 0, wrapped: 0 });
    expect(p.heldIn(rid)).toBe(0);
    expect(() => p.release(id)).toThrow(/double release/);
    expect(owner.released).toEqual([31]);
  });

  it('runs out of wrap descriptors (counted) without touching the slots, and shares them among regions', () => {
    const p = pool(1, 128);
    const o1 = new FakeOwner();
    const o2 = new FakeOwner();
    const r1 = p.addRegion(regionOf(new Uint8Array(256)), o1, 1);
    const r2 = p.addRegion(regionOf(new Uint8Array(256)), o2, 1);
    const a = p.wrap(r1, 0, 64, 1);
    const b = p.wrap(r1, 64, 64, 2);
    expect(p.wrap(r2, 0, 64, 3)).toBe(-1);
    expect(p.counters.wrapFailures).toBe(1);
    expect(p.wrapAvailable).toBe(0);
    const s = p.alloc();
    expect(s).toBeGreaterThanOrEqual(0);
    p.release(a);
    const c = p.wrap(r2, 0, 64, 3);
    expect(p.regionFor(c)).not.toBe(p.regionFor(b));
    p.release(b);
    p.release(c);
    p.release(s);
    expect(o1.released).toEqual([1, 2]);
    expect(o2.released).toEqual([3]);
    expect(() => p.wrap(0, 0, 1, 0)).toThrow(/no region/);
    expect(() => p.wrap(3, 0, 1, 0)).toThrow(/no region/);
  });
});
