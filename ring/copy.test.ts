import fc from 'fast-check';
import { alignedTo, COPY_LOOP_MAX, copyBytes, wordsOf } from './copy';

describe('copyBytes', () => {
  it('copies exactly the range for every length and alignment, with and without word views', () => {
    const src = new Uint8Array(4096).map((_, i) => (i * 131 + 7) & 255);
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 1100 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 7 }), fc.boolean(), fc.integer({ min: 0, max: 3 }),
      (len, sOff, dOff, useWords, viewShift) => {
        // A destination view that may start off a word boundary (then it has no word view).
        const dstBuf = new Uint8Array(4096 + 8).fill(0xa5);
        const dst = dstBuf.subarray(viewShift);
        const dst32 = useWords ? wordsOf(dst) : null;
        copyBytes(dst, dst32, dOff, src, useWords ? wordsOf(src) : null, sOff, len);
        for (let i = 0; i < dst.length; i++) {
          const want = i >= dOff && i < dOff + len ? src[sOff + i - dOff] : 0xa5;
          if (dst[i] !== want) return false;
        }
        return true;
      }), { numRuns: 300 });
  });

  it('makes word views only over 4-aligned arrays and finds the aligned landing spot', () => {
    const b = new Uint8Array(64);
    expect(wordsOf(b)!.length).toBe(16);
    expect(wordsOf(b.subarray(2))).toBeNull();
    expect(wordsOf(b.subarray(4))!.byteOffset).toBe(4);
    for (let at = 0; at < 8; at++) {
      for (let s = 0; s < 8; s++) {
        const a = alignedTo(at, s);
        expect(a - at).toBeGreaterThanOrEqual(0);
        expect(a - at).toBeLessThan(4);
        expect((a - s) & 3).toBe(0);
      }
    }
    expect(COPY_LOOP_MAX).toBeGreaterThanOrEqual(256);
  });
});
