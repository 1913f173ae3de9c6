import fc from 'fast-check';
import { seq, seqAdd, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin, seqSub } from './seq';

describe('sequence numbers (mod 2^32)', () => {
  it('compares across the wrap', () => {
    const hi = seq(0xfffffff0);
    const lo = seq(0x10);
    expect(seqLt(hi, lo)).toBe(true);
    expect(seqGt(lo, hi)).toBe(true);
    expect(seqSub(lo, hi)).toBe(0x20);
    expect(seqAdd(hi, 0x20)).toBe(lo);
    expect(seqLe(lo, lo) && seqGe(lo, lo)).toBe(true);
    expect(seqMax(hi, lo)).toBe(lo);
    expect(seqMin(hi, lo)).toBe(hi);
  });
  it('window membership wraps', () => {
    expect(seqInWindow(seq(5), seq(0xfffffffe), 10)).toBe(true);
    expect(seqInWindow(seq(7), seq(0xfffffffe), 10)).toBe(true);
    expect(seqInWindow(seq(8), seq(0xfffffffe), 10)).toBe(false);
    expect(seqInWindow(seq(0xfffffffd), seq(0xfffffffe), 10)).toBe(false);
  });
  it('property: a + n is after a for 0 < n < 2^31', () => {
    fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.integer({ min: 1, max: 0x7fffffff }), (a, n) => {
      const s = seq(a);
      expect(seqLt(s, seqAdd(s, n))).toBe(true);
      expect(seqSub(seqAdd(s, n), s)).toBe(n);
    }));
  });
});
