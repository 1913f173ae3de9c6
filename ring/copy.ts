/**
 * Copying frame bytes between regions without allocating.
 *
 * Node 20's `Buffer#copy` and `u8.set(src.subarray(…))` both make a Uint8Array view of the source
 * range per call (node:buffer `_copyActual`), about 100 bytes of garbage per frame. So frames up to
 * COPY_LOOP_MAX bytes are copied by a loop over Int32Array views of both regions (4 bytes a step,
 * bit-exact; the views are made once per region), which for small frames is also faster. Longer
 * frames take the native memcpy and its one short-lived view: measured on this project's VM (Node
 * 20, x64), 1500 bytes cost ~90 ns that way against ~460 ns in the loop, and 64 bytes ~50 ns
 * against ~22 ns.
 *
 * The word loop needs source and destination at the same offset modulo 4; callers that choose
 * where the copy lands (BufferPool.allocCopy, the sim wire) shift the destination to match
 * (`alignedTo`). Otherwise the bytes are copied one at a time (still no allocation).
 */

/** Longest frame copied by the allocation-free loop. */
export const COPY_LOOP_MAX = 512;

/** An Int32Array over the same bytes as `u8` (same byteOffset), or null when it is not 4-aligned. */
export function wordsOf(u8: Uint8Array): Int32Array | null {
  if ((u8.byteOffset & 3) !== 0) return null;
  return new Int32Array(u8.buffer, u8.byteOffset, u8.byteLength >>> 2);
}

const wordViews = new WeakMap<Uint8Array, Int32Array | null>();

/** wordsOf, made once per array (copies from a few long-lived regions look their views up here). */
export function wordsOfCached(u8: Uint8Array): Int32Array | null {
  let w = wordViews.get(u8);
  if (w === undefined) {
    w = wordsOf(u8);
    wordViews.set(u8, w);
  }
  return w;
}

/** The smallest offset ≥ `at` congruent to `src` modulo 4 (where a word copy from `src` can land). */
export function alignedTo(at: number, src: number): number {
  return at + ((src - at) & 3);
}

/**
 * Copies src[sOff, sOff + len) to dst[dOff, …). `dst32`/`src32` are `wordsOf` the same arrays (or
 * null). The ranges must lie inside the arrays and not overlap.
 */
export function copyBytes(dst: Uint8Array, dst32: Int32Array | null, dOff: number, src: Uint8Array, src32: Int32Array | null, sOff: number, len: number): void {
  if (len > COPY_LOOP_MAX) {
    dst.set(src.subarray(sOff, sOff + len), dOff);
    return;
  }
  if (len >= 8 && dst32 !== null && src32 !== null && ((dOff ^ sOff) & 3) === 0) {
    while ((dOff & 3) !== 0) {
      dst[dOff++] = src[sOff++];
      len--;
    }
    const dw = dOff >>> 2;
    const sw = sOff >>> 2;
    const n = len >>> 2;
    for (let i = 0; i < n; i++) dst32[dw + i] = src32[sw + i];
    dOff += n << 2;
    sOff += n << 2;
    len &= 3;
  }
  for (let i = 0; i < len; i++) dst[dOff + i] = src[sOff + i];
}
