import fc from 'fast-check';
import { ByteRing } from './byte_ring';

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
});
