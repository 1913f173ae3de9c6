/**
 * Copies of up to SMALL_COPY bytes go byte by byte: Node 20's `set(subarray())` and `Buffer#copy`
 * make a view object per call (see ring/copy.ts), which small messages would pay per segment; longer
 * copies take the native memcpy and its one short-lived view, as the rings do.
 */
const SMALL_COPY = 64;

/** Copies src[sOff, sOff + n) to dst[dOff, …) (also the stack's copy of a dummy segment's payload). */
export function copyRange(dst: Uint8Array, dOff: number, src: Uint8Array, sOff: number, n: number): void {
  if (n <= SMALL_COPY) {
    for (let i = 0; i < n; i++) dst[dOff + i] = src[sOff + i];
  } else {
    dst.set(n === src.length && sOff === 0 ? src : src.subarray(sOff, sOff + n), dOff);
  }
}

/**
 * A circular byte buffer: a connection's send buffer (bytes from SND.UNA on) or receive buffer
 * (bytes up to the application's read position, then in-order data, then out-of-order data written
 * in place beyond `len`). `cap` is the logical size (SO_SNDBUF / SO_RCVBUF: windows are computed
 * from it); the memory starts at 16 KiB and doubles when data needs it, so an idle connection does
 * not hold its whole buffer. Growth is amortised; nothing allocates per segment.
 */
export class ByteRing {
  buf: Buffer;
  readonly cap: number;
  /** Position of the first byte in `buf`. */
  head = 0;
  /** Bytes stored (contiguous from head). */
  len = 0;

  constructor(cap: number, initial = 16384) {
    this.cap = cap;
    this.buf = Buffer.alloc(Math.min(cap, initial));
  }

  get free(): number {
    return this.cap - this.len;
  }

  /** Makes logical positions [0, end) addressable (end ≤ cap), keeping every byte at its position. */
  private ensure(end: number): void {
    const size = this.buf.length;
    if (end <= size) return;
    let n = size * 2;
    while (n < end) n *= 2;
    if (n > this.cap) n = this.cap;
    const nb = Buffer.alloc(n);
    this.buf.copy(nb, 0, this.head, size);
    this.buf.copy(nb, size - this.head, 0, this.head);
    this.buf = nb;
    this.head = 0;
  }

  /** Appends up to `n` bytes of src[off..]; returns how many fitted. */
  write(src: Uint8Array, off: number, n: number): number {
    if (n > this.cap - this.len) n = this.cap - this.len;
    if (n <= 0) return 0;
    this.writeAt(this.len, src, off, n);
    this.len += n;
    return n;
  }

  /** Writes n bytes at logical position `pos` from head (pos + n ≤ cap) without changing len. */
  writeAt(pos: number, src: Uint8Array, off: number, n: number): void {
    this.ensure(pos + n);
    const p = this.offsetOf(pos);
    const first = this.buf.length - p;
    if (n <= first) {
      copyRange(this.buf, p, src, off, n);
    } else {
      copyRange(this.buf, p, src, off, first);
      copyRange(this.buf, 0, src, off + first, n - first);
    }
  }

  /** Copies n bytes at logical position `pos` into dst[dstOff..] without consuming. */
  copyOut(pos: number, dst: Uint8Array, dstOff: number, n: number): void {
    const p = this.offsetOf(pos);
    const first = this.buf.length - p;
    if (n <= first) {
      copyRange(dst, dstOff, this.buf, p, n);
    } else {
      copyRange(dst, dstOff, this.buf, p, first);
      copyRange(dst, dstOff + first, this.buf, 0, n - first);
    }
  }

  /** Drops n bytes from the front (out-of-order bytes beyond len keep their logical positions relative to the tail). */
  consume(n: number): void {
    if (n > this.len) n = this.len;
    this.head += n;
    if (this.head >= this.buf.length) this.head -= this.buf.length;
    this.len -= n;
  }

  /**
   * Moves the front past n bytes that were never stored (receive data discarded at RCV.NXT while
   * the ring is empty): bytes kept beyond `len` (out-of-order data) keep their place relative to
   * the tail. Only for an empty ring.
   */
  skip(n: number): void {
    if (this.len !== 0) throw new Error('ByteRing.skip: the ring is not empty');
    const size = this.buf.length;
    this.head = (this.head + (n % size)) % size;
  }

  /** Where logical position `pos` (< the memory's size) is in `buf`. */
  offsetOf(pos: number): number {
    const p = this.head + pos;
    return p >= this.buf.length ? p - this.buf.length : p;
  }

  /** How many of n bytes from logical position `pos` are contiguous in `buf` (the rest wrap to 0). */
  contiguous(pos: number, n: number): number {
    const first = this.buf.length - this.offsetOf(pos);
    return n <= first ? n : first;
  }

  /** Copies up to n bytes out to dst and consumes them; returns the count. */
  read(dst: Uint8Array, dstOff: number, n: number): number {
    if (n > this.len) n = this.len;
    if (n <= 0) return 0;
    this.copyOut(0, dst, dstOff, n);
    this.consume(n);
    return n;
  }
}
