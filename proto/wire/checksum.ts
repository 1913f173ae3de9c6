/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 * Pure functions over `Bytes`; nothing allocates.
 */
import type { Bytes } from './bytes';

/** Adds the 16-bit big-endian words of b[off, off+len) to `acc` (an odd last byte is padded with zero). Unfolded. */
export function sum16(b: Bytes, off: number, len: number, acc = 0): number {
  const u8 = b.u8;
  let s = acc;
  let i = off;
  const end = off + (len & ~1);
  for (; i < end; i += 2) s += (u8[i] << 8) | u8[i + 1];
  if (len & 1) s += u8[i] << 8;
  // Fold before the sum could leave the range where JS numbers stay exact (never reached for
  // frames, but a caller may chain many regions).
  return s > 0x7fffffff ? fold(s) : s;
}

/** Folds carries into 16 bits (without complementing). */
export function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The checksum field value: the complement of the folded sum. */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** Checksum of b[off, off+len) plus a running sum, ready to store. */
export function checksum(b: Bytes, off: number, len: number, acc = 0): number {
  return finish(sum16(b, off, len, acc));
}

/**
 * Sum of the IPv4 pseudo-header (RFC 768 / RFC 9293 §3.1): source, destination, zero, protocol,
 * transport length. Addresses are 32-bit unsigned numbers.
 */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), the new checksum after one 16-bit field changes from `oldWord`
 * to `newWord`.
 */
export function updateChecksum16(hc: number, oldWord: number, newWord: number): number {
  return finish((~hc & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff));
}

/** RFC 1624 for a 32-bit field (an address): two 16-bit updates folded into one. */
export function updateChecksum32(hc: number, oldValue: number, newValue: number): number {
  return finish(
    (~hc & 0xffff) + (~(oldValue >>> 16) & 0xffff) + (~oldValue & 0xffff) + (newValue >>> 16) + (newValue & 0xffff),
  );
}
