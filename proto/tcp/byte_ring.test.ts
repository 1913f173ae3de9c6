import fc from 'fast-check';
import { ByteRing } from './byte_ring';
import { RxHolds } from './rx_holds';

describe('ByteRing', () => {
  it('keeps bytes in order across wrap-around and growth, like an array model', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 200 })), { maxLength: 60 }),
        (cap, ops) => {
          const r = new ByteRing(cap, 8);
          const model: number[] = [];
          let next = 0;
          for (const [isWrite, n] of ops) {
            if (isWrite) {
              const src = Uint8Array.from({ length: n }, () => next++ & 255);
              const took = r.write(src, 0, n);
              expect(took).toBe(Math.min(n, cap - model.length));
              for (let i = 0; i < took; i++) model.push(src[i]);
            } else {
              const dst = new Uint8Array(n);
              const got = r.read(dst, 0, n);
              expect(Array.from(dst.subarray(0, got))).toEqual(model.splice(0, got));
            }
            expect(r.len).toBe(model.length);
            expect(r.buf.length).toBeLessThanOrEqual(cap);
          }
        },
      ),
    );
  });

  it('keeps out-of-order bytes written beyond len at their positions when it grows', () => {
    const r = new ByteRing(100, 4);
    r.writeAt(10, Buffer.from('later'), 0, 5); // grows to 16
    r.write(Buffer.from('0123456789'), 0, 10);
    r.len += 5;
    const out = Buffer.alloc(15);
    expect(r.read(out, 0, 15)).toBe(15);
    expect(out.toString()).toBe('0123456789later');
  });

  it('skips bytes never stored at the front of an empty ring, keeping out-of-order bytes beyond in place', () => {
    const r = new ByteRing(100, 16);
    r.write(Buffer.from('0123456789abcd'), 0, 14);
    r.consume(14); // head at 14 of 16
    r.writeAt(5, Buffer.from('XYZ'), 0, 3); // out of order at logical 5..8 (physical 3..6)
    r.skip(5); // bytes 0..5 were taken by someone else
    expect(r.offsetOf(0)).toBe(3);
    expect(r.contiguous(0, 3)).toBe(3);
    r.len = 3;
    const out = Buffer.alloc(3);
    r.read(out, 0, 3);
    expect(out.toString()).toBe('XYZ');
    r.write(Buffer.from('w'), 0, 1);
    expect(() => r.skip(1)).toThrow();
  });

  it('reports where logical positions are in memory and how much is contiguous before the wrap', () => {
    const r = new ByteRing(64, 16);
    r.write(Buffer.alloc(12), 0, 12);
    r.consume(12);
    r.write(Buffer.from('abcdefgh'), 0, 8);
    expect(r.offsetOf(0)).toBe(12);
    expect(r.offsetOf(4)).toBe(0);
    expect(r.contiguous(0, 8)).toBe(4);
    expect(r.contiguous(4, 4)).toBe(4);
    expect(Buffer.concat([r.buf.subarray(12, 16), r.buf.subarray(0, 4)]).toString()).toBe('abcdefgh');
  });
});

describe('RxHolds', () => {
  it('frees records in any order; the front leaves only when every earlier record is freed', () => {
    const h = new RxHolds();
    const a = h.push(10, false);
    const b = h.push(20, false);
    h.push(5, true); // read behind the holds
    const c = h.push(7, false);
    expect([a, b, c]).toEqual([0, 1, 3]);
    expect(h.bytes).toBe(42);
    expect(h.free(b)).toBe(0);
    expect(h.free(b)).toBe(-1);
    expect(h.free(99)).toBe(-1);
    expect(h.free(a)).toBe(35);
    expect(h.bytes).toBe(7);
    expect(h.isHeld(c)).toBe(true);
    expect(h.free(c)).toBe(7);
    expect(h.count).toBe(0);
    expect(h.push(1, false)).toBe(4); // ids keep increasing
  });

  it('matches a model under random holds and frees (ids never reused, bytes conserved)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 50 }), fc.nat()), { maxLength: 200 }), (ops) => {
        const h = new RxHolds();
        const model: { id: number; n: number; freed: boolean }[] = [];
        let released = 0;
        let pushed = 0;
        for (const [isHold, n, pick] of ops) {
          if (isHold || model.every((m) => m.freed)) {
            const id = h.push(n, false);
            expect(model.some((m) => m.id === id)).toBe(false);
            model.push({ id, n, freed: false });
            pushed += n;
          } else {
            const live = model.filter((m) => !m.freed);
            const m = live[pick % live.length];
            m.freed = true;
            let out = 0;
            while (model.length > 0 && model[0].freed) out += model.shift()!.n;
            expect(h.free(m.id)).toBe(out);
            released += out;
          }
          expect(h.bytes).toBe(pushed - released);
        }
      }),
    );
  });
});
