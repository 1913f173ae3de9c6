/**
 * One memory region seen two ways (bytes and a DataView), made once per region and reused for every
 * packet in it. Every codec in proto/wire takes a `Bytes` plus an offset and a length, so parsing
 * and emitting never allocate a view per packet.
 */
export class Bytes {
  readonly u8: Uint8Array;
  readonly dv: DataView;

  constructor(src: ArrayBuffer | Uint8Array) {
    this.u8 = src instanceof Uint8Array ? src : new Uint8Array(src);
    this.dv = new DataView(this.u8.buffer, this.u8.byteOffset, this.u8.byteLength);
  }

  get length(): number {
    return this.u8.length;
  }

  /** Bytes over a fresh zeroed buffer of `n` bytes (tests, tools; not for the data path). */
  static alloc(n: number, fill = 0): Bytes {
    const b = new Bytes(new Uint8Array(n));
    if (fill !== 0) b.u8.fill(fill);
    return b;
  }
}
