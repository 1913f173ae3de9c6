/**
 * HalfSipHash-2-4 (Aumasson & Bernstein's SipHash family, 32-bit variant with a 64-bit key and a
 * 32-bit result), over a fixed number of 32-bit words: the keyed function F of RFC 6528 §3
 * ("F() is a pseudorandom function (PRF) of the connection-id and some secret data"), also used for
 * SYN cookies and timestamp offsets. Written from the algorithm's description; no allocation.
 */

const rotl = (x: number, b: number): number => (x << b) | (x >>> (32 - b));

export class KeyedHash {
  private v0 = 0;
  private v1 = 0;
  private v2 = 0;
  private v3 = 0;
  private readonly k0: number;
  private readonly k1: number;

  /** `key`: at least 8 bytes (only the first 8 are used). */
  constructor(key: Uint8Array) {
    if (key.length < 8) throw new RangeError('KeyedHash: key must be at least 8 bytes');
    this.k0 = (key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24)) | 0;
    this.k1 = (key[4] | (key[5] << 8) | (key[6] << 16) | (key[7] << 24)) | 0;
  }

  private round(): void {
    let v0 = this.v0, v1 = this.v1, v2 = this.v2, v3 = this.v3;
    v0 = (v0 + v1) | 0; v1 = rotl(v1, 5); v1 ^= v0; v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0; v3 = rotl(v3, 8); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = rotl(v3, 7); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = rotl(v1, 13); v1 ^= v2; v2 = rotl(v2, 16);
    this.v0 = v0; this.v1 = v1; this.v2 = v2; this.v3 = v3;
  }

  private word(m: number): void {
    this.v3 ^= m;
    this.round();
    this.round();
    this.v0 ^= m;
  }

  /** The 32-bit hash (unsigned) of four 32-bit words. */
  hash4(a: number, b: number, c: number, d: number): number {
    this.v0 = this.k0;
    this.v1 = this.k1;
    this.v2 = 0x6c796765 ^ this.k0;
    this.v3 = 0x74656462 ^ this.k1;
    this.word(a | 0);
    this.word(b | 0);
    this.word(c | 0);
    this.word(d | 0);
    this.word(16 << 24); // final block: the message length in bytes in the top byte
    this.v2 ^= 0xff;
    this.round();
    this.round();
    this.round();
    this.round();
    return (this.v1 ^ this.v3) >>> 0;
  }
}
