/**
 * TCP sequence numbers (RFC 9293 §3.4): 32-bit values compared modulo 2^32. A branded type so that
 * plain `<` on sequence numbers is a type error in spirit (use these functions).
 */
export type SeqNum = number & { readonly __seq: unique symbol };

export function seq(n: number): SeqNum {
  return (n >>> 0) as SeqNum;
}

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

/** first ≤ v < first + size (modulo 2^32). */
export function seqInWindow(v: SeqNum, first: SeqNum, size: number): boolean {
  return ((v - first) >>> 0) < size;
}

export function seqMax(a: SeqNum, b: SeqNum): SeqNum {
  return seqGe(a, b) ? a : b;
}

export function seqMin(a: SeqNum, b: SeqNum): SeqNum {
  return seqLe(a, b) ? a : b;
}
