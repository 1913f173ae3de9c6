import fc from 'fast-check';
import { seq, seqAdd, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin, seqSub, type SeqNum } from './seq';

const TOP = seq(0xffffffff);
const anySeq = fc.nat({ max: 0xffffffff }).map(seq);
/** Distances TCP can meet: strictly less than 2^31 in either direction. */
const dist = fc.integer({ min: -0x7fffffff, max: 0x7fffffff });

describe('sequence numbers (mod 2^32)', () => {
  it('seq() takes any integer modulo 2^32', () => {
    expect(seq(-1)).toBe(0xffffffff);
    expect(seq(0x100000000)).toBe(0);
    expect(seq(0x100000005)).toBe(5);
    expect(seqAdd(TOP, 1)).toBe(0);
    expect(seqAdd(seq(0), -1)).toBe(0xffffffff);
  });

  it('compares across the 2^32 wrap', () => {
    const hi = seq(0xfffffff0);
    const lo = seq(0x10);
    expect(seqLt(hi, lo)).toBe(true);
    expect(seqLe(hi, lo)).toBe(true);
    expect(seqGt(lo, hi)).toBe(true);
    expect(seqGe(lo, hi)).toBe(true);
    expect(seqLt(lo, hi)).toBe(false);
    expect(seqGt(hi, lo)).toBe(false);
    expect(seqSub(lo, hi)).toBe(0x20);
    expect(seqSub(hi, lo)).toBe(-0x20);
    expect(seqAdd(hi, 0x20)).toBe(lo);
    expect(seqLe(lo, lo) && seqGe(lo, lo) && !seqLt(lo, lo) && !seqGt(lo, lo)).toBe(true);
    expect(seqMax(hi, lo)).toBe(lo);
    expect(seqMin(hi, lo)).toBe(hi);
    expect(seqMax(lo, hi)).toBe(lo);
    expect(seqMin(lo, hi)).toBe(hi);
    // The largest distance still ordered one way: 2^31 - 1.
    expect(seqLt(seq(0), seq(0x7fffffff))).toBe(true);
    expect(seqLt(seq(0), seq(0x80000001))).toBe(false);
    expect(seqSub(seq(0x80000001), seq(0))).toBe(-0x7fffffff);
  });

  it('window membership wraps and excludes its right edge', () => {
    const first = seq(0xfffffffe);
    expect(seqInWindow(first, first, 10)).toBe(true);
    expect(seqInWindow(seq(0xffffffff), first, 10)).toBe(true);
    expect(seqInWindow(seq(0), first, 10)).toBe(true);
    expect(seqInWindow(seq(7), first, 10)).toBe(true);
    expect(seqInWindow(seq(8), first, 10)).toBe(false); // first + 10
    expect(seqInWindow(seq(0xfffffffd), first, 10)).toBe(false); // first - 1
    expect(seqInWindow(first, first, 0)).toBe(false); // a zero window holds nothing
    expect(seqInWindow(seq(0x7ffffffe), seq(0xffffffff), 0x80000000)).toBe(true); // a window of 2^31 bytes
  });

  it('property: a + n is after a, and a - n before it, for 0 < n < 2^31', () => {
    fc.assert(
      fc.property(anySeq, fc.integer({ min: 1, max: 0x7fffffff }), (a, n) => {
        expect(seqLt(a, seqAdd(a, n))).toBe(true);
        expect(seqGt(a, seqAdd(a, -n))).toBe(true);
        expect(seqSub(seqAdd(a, n), a)).toBe(n);
        expect(seqSub(seqAdd(a, -n), a)).toBe(-n);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: the comparisons agree with each other and with seqSub', () => {
    fc.assert(
      fc.property(anySeq, dist, (a, d) => {
        const b = seqAdd(a, d);
        expect(seqSub(b, a)).toBe(d);
        expect(seqLt(a, b)).toBe(d > 0);
        expect(seqLe(a, b)).toBe(d >= 0);
        expect(seqGt(a, b)).toBe(d < 0);
        expect(seqGe(a, b)).toBe(d <= 0);
        expect(seqLt(a, b)).toBe(seqGt(b, a));
        expect(seqLe(a, b)).toBe(!seqGt(a, b));
        expect(seqMax(a, b)).toBe(d >= 0 ? b : a);
        expect(seqMin(a, b)).toBe(d >= 0 ? a : b);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: seqInWindow(v, first, size) iff first <= v < first + size (size < 2^31)', () => {
    fc.assert(
      fc.property(anySeq, dist, fc.integer({ min: 0, max: 0x7fffffff }), (first, d, size) => {
        const v = seqAdd(first, d);
        expect(seqInWindow(v, first, size)).toBe(seqLe(first, v) && seqLt(v, seqAdd(first, size)));
      }),
      { numRuns: 2000 },
    );
  });

  it('is a brand: a plain number is not a SeqNum (checked by tsc)', () => {
    const s: SeqNum = seq(5);
    // @ts-expect-error a number is not a sequence number
    const plain: SeqNum = 5;
    // @ts-expect-error `+` unwraps the brand; seqAdd keeps it
    const sum: SeqNum = s + 1;
    expect([plain, sum, seqAdd(s, 1)]).toEqual([5, 6, 6]);
  });
});
