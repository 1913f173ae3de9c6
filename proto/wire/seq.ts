/**
 * TCP sequence numbers (RFC 9293 §3.4: "all arithmetic dealing with sequence numbers must be
 * performed modulo 2**32"). A branded number: a SeqNum comes only from `seq()`, `seqAdd()` or a
 * parser, so a plain number (or the unwrapped result of `a + n`) cannot be stored where a sequence
 * number is expected, and comparisons go through these functions, never raw `<`.
 *
 * a is before b when the signed 32-bit difference a − b is negative (serial-number arithmetic,
 * RFC 1982). Numbers exactly 2^31 apart are each "before" the other; TCP never compares numbers that
 * far apart (windows are at most 2^30 bytes, RFC 7323 §2.3). Nothing here allocates.
 */
export type SeqNum = number & { readonly __seq: unique symbol };

/** Any integer taken modulo 2^32. */
export function seq(n: number): SeqNum {
  return (n >>> 0) as SeqNum;
}

/** a + n modulo 2^32 (`n` may be negative). */
export function seqAdd(a: SeqNum, n: number): SeqNum {
  return ((a + n) >>> 0) as SeqNum;
}

/** a - b as a signed 32-bit distance. */
export function seqSub(a: SeqNum, b: SeqNum): number {
  return (a - b) | 0;
}

export function seqLt(a: SeqNum, b: SeqNum): boolean {
  return ((a - b) | 0) < 0;
}

export function seqLe(a: SeqNum, b: SeqNum): boolean {
  return ((a - b) | 0) <= 0;
}

export function seqGt(a: SeqNum, b: SeqNum): boolean {
  return ((a - b) | 0) > 0;
}

export function seqGe(a: SeqNum, b: SeqNum): boolean {
  return ((a - b) | 0) >= 0;
}

/** first ≤ v < first + size (modulo 2^32); `size` is 0..2^32 − 1 and a size of 0 contains nothing. */
export function seqInWindow(v: SeqNum, first: SeqNum, size: number): boolean {
  return ((v - first) >>> 0) < size;
}

export function seqMax(a: SeqNum, b: SeqNum): SeqNum {
  return seqGe(a, b) ? a : b;
}

export function seqMin(a: SeqNum, b: SeqNum): SeqNum {
  return seqLe(a, b) ? a : b;
}
