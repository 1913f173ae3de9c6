/**
 * A pool of fixed-size packet buffers over one memory region, with reference counts and headroom
 * (gVisor PacketBuffer, lwIP pbuf, Seastar packet). Descriptors are indices into preallocated
 * typed arrays, so taking, sharing and returning a buffer allocates nothing.
 *
 * A buffer's bytes are region.u8[start(id) .. end(id)). `prepend(id, n)` eats headroom (TX headers
 * are written in front of the payload); `consume(id, n)` skips bytes at the front (RX, header by
 * header). The pool never sizes anything from stale bytes.
 */

/** One memory region seen as bytes and as a DataView; structurally the same as proto/wire's `Bytes`. */
export interface Region {
  readonly u8: Uint8Array;
  readonly dv: DataView;
}

export function regionOf(u8: Uint8Array): Region {
  return { u8, dv: new DataView(u8.buffer, u8.byteOffset, u8.byteLength) };
}

export const enum BufFlag {
  /** VMA_SND_FLAGS_DUMMY: run the TX path but do not put the frame on the wire. */
  Dummy = 1,
}

export interface PoolCounters {
  /** Buffers handed out and not yet returned. */
  outstanding: number;
  highWater: number;
  allocs: number;
  allocFailures: number;
}

export class BufferPool {
  readonly region: Region;
  readonly count: number;
  readonly bufSize: number;
  /** Absolute offsets in the region. */
  private readonly startA: Int32Array;
  private readonly endA: Int32Array;
  private readonly refsA: Int32Array;
  private readonly flagsA: Uint8Array;
  /** Receive (or send) time, ms, as the device reported it. */
  private readonly tsA: Float64Array;
  private readonly free: Int32Array;
  /** The region as a Node Buffer (same memory): `Buffer#copy` is a memcpy that allocates nothing. */
  readonly buf: Buffer;
  private top: number;
  readonly counters: PoolCounters = { outstanding: 0, highWater: 0, allocs: 0, allocFailures: 0 };

  constructor(readonly name: string, count: number, bufSize: number, region?: Region) {
    if (count < 1 || bufSize < 64) throw new RangeError(`BufferPool ${name}: count must be ≥ 1 and bufSize ≥ 64`);
    this.count = count;
    this.bufSize = bufSize;
    this.region = region ?? regionOf(new Uint8Array(count * bufSize));
    if (this.region.u8.length < count * bufSize) throw new RangeError(`BufferPool ${name}: region smaller than ${count} × ${bufSize}`);
    this.startA = new Int32Array(count);
    this.endA = new Int32Array(count);
    this.refsA = new Int32Array(count);
    this.flagsA = new Uint8Array(count);
    this.tsA = new Float64Array(count);
    this.free = new Int32Array(count);
    this.buf = Buffer.from(this.region.u8.buffer, this.region.u8.byteOffset, this.region.u8.byteLength);
    for (let i = 0; i < count; i++) this.free[i] = count - 1 - i;
    this.top = count;
  }

  get available(): number {
    return this.top;
  }

  /** Takes a buffer with `headroom` bytes reserved in front; data is empty (start = end). Returns -1 when empty. */
  alloc(headroom = 0): number {
    if (this.top === 0) {
      this.counters.allocFailures++;
      return -1;
    }
    const id = this.free[--this.top];
    const base = id * this.bufSize;
    this.startA[id] = this.endA[id] = base + headroom;
    this.refsA[id] = 1;
    this.flagsA[id] = 0;
    this.tsA[id] = 0;
    const c = this.counters;
    c.allocs++;
    if (++c.outstanding > c.highWater) c.highWater = c.outstanding;
    return id;
  }

  ref(id: number): void {
    if (this.refsA[id] <= 0) throw new Error(`BufferPool ${this.name}: ref of free buffer ${id}`);
    this.refsA[id]++;
  }

  /** Drops one reference; the buffer returns to the pool at zero. A release of a free buffer throws. */
  release(id: number): void {
    const r = this.refsA[id];
    if (r <= 0) throw new Error(`BufferPool ${this.name}: double release of buffer ${id}`);
    this.refsA[id] = r - 1;
    if (r === 1) {
      this.free[this.top++] = id;
      this.counters.outstanding--;
    }
  }

  refs(id: number): number {
    return this.refsA[id];
  }

  /** Absolute offset of the first data byte. */
  start(id: number): number {
    return this.startA[id];
  }

  end(id: number): number {
    return this.endA[id];
  }

  length(id: number): number {
    return this.endA[id] - this.startA[id];
  }

  /** First byte of the buffer's slot, and one past its last. */
  slotStart(id: number): number {
    return id * this.bufSize;
  }

  slotEnd(id: number): number {
    return (id + 1) * this.bufSize;
  }

  headroom(id: number): number {
    return this.startA[id] - id * this.bufSize;
  }

  tailroom(id: number): number {
    return (id + 1) * this.bufSize - this.endA[id];
  }

  /** Sets the data to [start, start + len) relative to the slot. */
  setData(id: number, offsetInSlot: number, len: number): void {
    const base = id * this.bufSize;
    if (offsetInSlot < 0 || offsetInSlot + len > this.bufSize) throw new RangeError(`BufferPool ${this.name}: data outside buffer ${id}`);
    this.startA[id] = base + offsetInSlot;
    this.endA[id] = base + offsetInSlot + len;
  }

  /** Extends the data at the end by n bytes (appending). */
  append(id: number, n: number): void {
    if (this.endA[id] + n > (id + 1) * this.bufSize) throw new RangeError(`BufferPool ${this.name}: no tailroom for ${n} bytes`);
    this.endA[id] += n;
  }

  /** Grows the data at the front by n bytes (into headroom) and returns the new start. */
  prepend(id: number, n: number): number {
    const s = this.startA[id] - n;
    if (s < id * this.bufSize) throw new RangeError(`BufferPool ${this.name}: no headroom for ${n} bytes`);
    this.startA[id] = s;
    return s;
  }

  /** Skips n bytes at the front. */
  consume(id: number, n: number): void {
    this.startA[id] = Math.min(this.startA[id] + n, this.endA[id]);
  }

  /** Cuts the data to n bytes. */
  truncate(id: number, n: number): void {
    this.endA[id] = Math.min(this.endA[id], this.startA[id] + n);
  }

  flags(id: number): number {
    return this.flagsA[id];
  }

  setFlags(id: number, f: number): void {
    this.flagsA[id] = f;
  }

  timestamp(id: number): number {
    return this.tsA[id];
  }

  setTimestamp(id: number, t: number): void {
    this.tsA[id] = t;
  }

  /**
   * Copies `len` bytes from `src[off..]` into a fresh buffer at `headroom`; -1 when the pool is
   * empty or the frame does not fit. (`src` is a Buffer made once per source region: no per-frame view.)
   */
  allocCopy(src: Buffer, off: number, len: number, headroom = 0): number {
    if (headroom + len > this.bufSize) return -1;
    const id = this.alloc(headroom);
    if (id < 0) return -1;
    const s = this.startA[id];
    src.copy(this.buf, s, off, off + len);
    this.endA[id] = s + len;
    return id;
  }
}
