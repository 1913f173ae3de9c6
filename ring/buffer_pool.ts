/**
 * A pool of packet buffers with reference counts and headroom (VMA's mem_buf_desc_t, gVisor
 * PacketBuffer, lwIP pbuf, Seastar packet). A buffer is a descriptor: an index into preallocated
 * typed arrays (structure of arrays: region, base, capacity, start, end, refs, flags, owner cookie,
 * receive timestamp), so taking, sharing and returning a buffer allocates nothing.
 *
 * Memory. Descriptors [0, count) own the pool's slots: slot i is region 0 bytes
 * [i * bufSize, (i + 1) * bufSize), JS memory the pool allocates (or a region the caller gives, e.g.
 * a registered MR). A device may also add memory it owns (`addRegion`: a packet socket's mmap'd RX
 * ring, a verbs MR) and hand frames living there up as buffers (`wrap`): those descriptors come from
 * a separate set, and when their last reference goes the pool calls the region owner's
 * `releaseBuffer(cookie)` (the device gives the slot back to the kernel or the NIC) instead of
 * putting a slot on the free list. Users see no difference except that a buffer's bytes are in
 * `regionFor(id)`, which is `region` for every slot buffer.
 *
 * Data. A buffer's bytes are regionFor(id).u8[start(id), end(id)), inside [slotStart, slotEnd).
 * `alloc(headroom)` leaves room in front; `prepend(n)` eats it (TX headers written in front of the
 * payload); `consume(n)` skips bytes at the front (RX, header by header); `append`/`truncate` move
 * the end. Lengths are never taken from stale bytes in a recycled buffer.
 *
 * Copies. `allocCopy` copies without allocating for frames up to COPY_LOOP_MAX bytes (ring/copy.ts
 * says why and what longer frames cost); it may start the data up to 3 bytes past the requested
 * headroom so that the copy runs a word at a time.
 *
 * Errors. Running dry is not an error: `alloc`/`wrap` return -1 and count it. Misuse is a
 * programmer error and throws: a release or ref of a free buffer (a double free — the lib layer maps
 * it to VMA's EINVAL/ENOENT), data outside the slot.
 */
import { alignedTo, copyBytes, wordsOf, wordsOfCached } from './copy';

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
  /**
   * RX: the device vouches for the L4 checksum — verified by hardware, or a frame from a sender on
   * this host whose checksum offload has not filled it in yet (TP_STATUS_CSUMNOTREADY). The stack
   * skips L4 checksum verification for such a buffer.
   */
  RxL4ChecksumOk = 2,
}

/** Owner of device memory added with `addRegion`: gets each wrapped buffer back when its last reference goes. */
export interface BufferOwner {
  /** The buffer wrapped with `cookie` is free again (e.g. give the RX slot back to the kernel). */
  releaseBuffer(cookie: number): void;
}

export interface PoolCounters {
  /** Buffers handed out and not yet returned (slot and wrapped together). */
  outstanding: number;
  /** Most buffers outstanding at once. */
  highWater: number;
  /** Successful `alloc`s (slot buffers handed out, in total). */
  allocs: number;
  /** `alloc`s that found the pool empty. */
  allocFailures: number;
  /** Wrapped (device-owned) buffers outstanding, and `wrap`s that found no free descriptor. */
  wrapped: number;
  wrapFailures: number;
}

export class BufferPool {
  /** Region 0: the memory of the pool's own slots. */
  readonly region: Region;
  /** Slot buffers (descriptors [0, count)). */
  readonly count: number;
  readonly bufSize: number;
  /** Region 0 as a Node Buffer (same memory): `Buffer#copy` is a memcpy that allocates nothing. */
  readonly buf: Buffer;
  readonly counters: PoolCounters = { outstanding: 0, highWater: 0, allocs: 0, allocFailures: 0, wrapped: 0, wrapFailures: 0 };

  // Per descriptor. Offsets are absolute in the descriptor's region.
  private regionA: Uint16Array;
  private baseA: Int32Array;
  private capA: Int32Array;
  private startA: Int32Array;
  private endA: Int32Array;
  private refsA: Int32Array;
  private flagsA: Uint8Array;
  private cookieA: Int32Array;
  /** Receive (or send) time in ns, as the device reported it. */
  private tsA: Float64Array;

  /** Free slot descriptors (a stack), and free wrap descriptors. */
  private readonly free: Int32Array;
  private top: number;
  private wrapFree: Int32Array = new Int32Array(0);
  private wrapTop = 0;

  private readonly regions: Region[] = [];
  private readonly regionBufs: Buffer[] = [];
  /** Int32Array views of the regions (for word copies), null where not 4-aligned. */
  private readonly regionWords: (Int32Array | null)[] = [];
  /** The last source `allocCopy` copied from, and its word view. */
  private srcU8: Uint8Array | null = null;
  private srcWords: Int32Array | null = null;
  private readonly owners: (BufferOwner | null)[] = [null];
  /** Wrapped buffers outstanding per region. */
  private held: number[] = [0];

  constructor(readonly name: string, count: number, bufSize: number, region?: Region) {
    if (!(count >= 1) || !(bufSize >= 64)) throw new RangeError(`BufferPool ${name}: count must be ≥ 1 and bufSize ≥ 64`);
    this.count = count;
    this.bufSize = bufSize;
    this.region = region ?? regionOf(new Uint8Array(count * bufSize));
    if (this.region.u8.length < count * bufSize) throw new RangeError(`BufferPool ${name}: region smaller than ${count} × ${bufSize}`);
    this.regionA = new Uint16Array(count);
    this.baseA = new Int32Array(count);
    this.capA = new Int32Array(count).fill(bufSize);
    this.startA = new Int32Array(count);
    this.endA = new Int32Array(count);
    this.refsA = new Int32Array(count);
    this.flagsA = new Uint8Array(count);
    this.cookieA = new Int32Array(count);
    this.tsA = new Float64Array(count);
    this.free = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      this.baseA[i] = i * bufSize;
      this.free[i] = count - 1 - i;
    }
    this.top = count;
    this.buf = Buffer.from(this.region.u8.buffer, this.region.u8.byteOffset, this.region.u8.byteLength);
    this.regions.push(this.region);
    this.regionBufs.push(this.buf);
    this.regionWords.push(wordsOf(this.region.u8));
  }

  /** Free slot buffers. */
  get available(): number {
    return this.top;
  }

  /** Descriptors in all (slots plus those added for wrapped memory). */
  get descriptors(): number {
    return this.refsA.length;
  }

  /** Takes a slot buffer with `headroom` bytes reserved in front; data is empty (start = end). Returns -1 when empty. */
  alloc(headroom = 0): number {
    if (this.top === 0) {
      this.counters.allocFailures++;
      return -1;
    }
    const id = this.free[--this.top];
    this.startA[id] = this.endA[id] = this.baseA[id] + headroom;
    this.refsA[id] = 1;
    this.flagsA[id] = 0;
    this.cookieA[id] = 0;
    this.tsA[id] = 0;
    const c = this.counters;
    c.allocs++;
    if (++c.outstanding > c.highWater) c.highWater = c.outstanding;
    return id;
  }

  /**
   * Copies `len` bytes from `src[off..]` into a fresh slot buffer, at least `headroom` bytes into
   * the slot (up to 3 more, to match the source's word alignment); -1 when the pool is empty
   * (counted) or the frame does not fit. `src` should be one long-lived array per source region.
   */
  allocCopy(src: Uint8Array, off: number, len: number, headroom = 0): number {
    if (headroom + len > this.bufSize) return -1;
    const id = this.alloc(headroom);
    if (id < 0) return -1;
    let s = this.startA[id];
    const a = alignedTo(s, off);
    if (a + len <= this.baseA[id] + this.bufSize) s = a;
    if (src !== this.srcU8) {
      this.srcU8 = src;
      this.srcWords = wordsOfCached(src); // sources alternate (device frames, the stack's own TX pool)
    }
    copyBytes(this.region.u8, this.regionWords[0], s, src, this.srcWords, off, len);
    this.startA[id] = s;
    this.endA[id] = s + len;
    return id;
  }

  /**
   * Adds memory owned by someone else (a device) and `descriptors` descriptors to wrap frames living
   * there. Setup only (it grows the descriptor arrays once). Returns the region id (≥ 1).
   */
  addRegion(region: Region, owner: BufferOwner, descriptors: number): number {
    if (!(descriptors >= 1)) throw new RangeError(`BufferPool ${this.name}: a region needs ≥ 1 descriptor`);
    const rid = this.regions.length;
    if (rid > 0xffff) throw new RangeError(`BufferPool ${this.name}: too many regions`);
    const old = this.refsA.length;
    const n = old + descriptors;
    const grow = <T extends Int32Array | Uint16Array | Uint8Array | Float64Array>(a: T, make: (k: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.regionA = grow(this.regionA, (k) => new Uint16Array(k));
    this.baseA = grow(this.baseA, (k) => new Int32Array(k));
    this.capA = grow(this.capA, (k) => new Int32Array(k));
    this.startA = grow(this.startA, (k) => new Int32Array(k));
    this.endA = grow(this.endA, (k) => new Int32Array(k));
    this.refsA = grow(this.refsA, (k) => new Int32Array(k));
    this.flagsA = grow(this.flagsA, (k) => new Uint8Array(k));
    this.cookieA = grow(this.cookieA, (k) => new Int32Array(k));
    this.tsA = grow(this.tsA, (k) => new Float64Array(k));
    const wf = new Int32Array(this.wrapFree.length + descriptors);
    wf.set(this.wrapFree.subarray(0, this.wrapTop));
    let top = this.wrapTop;
    for (let id = n - 1; id >= old; id--) {
      this.regionA[id] = rid;
      wf[top++] = id;
    }
    this.wrapFree = wf;
    this.wrapTop = top;
    this.regions.push(region);
    this.regionBufs.push(Buffer.from(region.u8.buffer, region.u8.byteOffset, region.u8.byteLength));
    this.regionWords.push(wordsOf(region.u8));
    this.owners.push(owner);
    this.held.push(0);
    return rid;
  }

  /**
   * Hands up `len` bytes at `offset` of region `rid` as a buffer (one reference, no copy). When the
   * last reference goes, the region's owner gets `releaseBuffer(cookie)`. Returns -1 (counted) when
   * no wrap descriptor is free: the device should then copy (`allocCopy`) or leave the frame.
   */
  wrap(rid: number, offset: number, len: number, cookie: number): number {
    if (rid < 1 || rid >= this.regions.length) throw new RangeError(`BufferPool ${this.name}: no region ${rid} to wrap`);
    if (this.wrapTop === 0) {
      this.counters.wrapFailures++;
      return -1;
    }
    const id = this.wrapFree[--this.wrapTop];
    // Descriptors are shared by all added regions: point this one at `rid`.
    this.regionA[id] = rid;
    this.baseA[id] = offset;
    this.capA[id] = len;
    this.startA[id] = offset;
    this.endA[id] = offset + len;
    this.refsA[id] = 1;
    this.flagsA[id] = 0;
    this.cookieA[id] = cookie;
    this.tsA[id] = 0;
    this.held[rid]++;
    const c = this.counters;
    c.wrapped++;
    if (++c.outstanding > c.highWater) c.highWater = c.outstanding;
    return id;
  }

  /** Wrapped buffers of region `rid` still held (a device must not unmap the region before 0). */
  heldIn(rid: number): number {
    return this.held[rid] ?? 0;
  }

  /** Free wrap descriptors. */
  get wrapAvailable(): number {
    return this.wrapTop;
  }

  /** Adds a reference (another holder: a second socket, a retransmission queue). */
  ref(id: number): void {
    if (!(this.refsA[id] > 0)) throw new Error(`BufferPool ${this.name}: ref of free buffer ${id}`);
    this.refsA[id]++;
  }

  /**
   * Drops one reference; at zero a slot buffer returns to the pool and a wrapped one to its owner.
   * Releasing a free buffer (a double release) throws.
   */
  release(id: number): void {
    const r = this.refsA[id];
    if (!(r > 0)) throw new Error(`BufferPool ${this.name}: double release of buffer ${id} (it is free, or no buffer)`);
    this.refsA[id] = r - 1;
    if (r !== 1) return;
    const c = this.counters;
    c.outstanding--;
    if (id < this.count) {
      this.free[this.top++] = id;
      return;
    }
    const rid = this.regionA[id];
    c.wrapped--;
    this.held[rid]--;
    this.wrapFree[this.wrapTop++] = id;
    this.owners[rid]!.releaseBuffer(this.cookieA[id]);
  }

  refs(id: number): number {
    return this.refsA[id];
  }

  /** Whether the buffer wraps device memory (not a slot of this pool). */
  isWrapped(id: number): boolean {
    return id >= this.count;
  }

  /** The id of the region holding the buffer's bytes (0: the pool's own). */
  regionId(id: number): number {
    return this.regionA[id];
  }

  /** The region holding the buffer's bytes (`region` for every slot buffer). */
  regionFor(id: number): Region {
    return this.regions[this.regionA[id]];
  }

  /** The same memory as a Node Buffer (for `Buffer#copy`). */
  bufFor(id: number): Buffer {
    return this.regionBufs[this.regionA[id]];
  }

  /** An Int32Array over the buffer's region (for word copies: ring/copy.ts), or null when not 4-aligned. */
  wordsFor(id: number): Int32Array | null {
    return this.regionWords[this.regionA[id]];
  }

  /** Absolute offset (in the buffer's region) of the first data byte. */
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
    return this.baseA[id];
  }

  slotEnd(id: number): number {
    return this.baseA[id] + this.capA[id];
  }

  capacity(id: number): number {
    return this.capA[id];
  }

  headroom(id: number): number {
    return this.startA[id] - this.baseA[id];
  }

  tailroom(id: number): number {
    return this.baseA[id] + this.capA[id] - this.endA[id];
  }

  /** Sets the data to [offsetInSlot, offsetInSlot + len) of the slot. */
  setData(id: number, offsetInSlot: number, len: number): void {
    if (offsetInSlot < 0 || len < 0 || offsetInSlot + len > this.capA[id]) throw new RangeError(`BufferPool ${this.name}: data outside buffer ${id}`);
    const base = this.baseA[id];
    this.startA[id] = base + offsetInSlot;
    this.endA[id] = base + offsetInSlot + len;
  }

  /** Extends the data at the end by n bytes (the caller writes them). */
  append(id: number, n: number): void {
    if (this.endA[id] + n > this.baseA[id] + this.capA[id]) throw new RangeError(`BufferPool ${this.name}: no tailroom for ${n} bytes`);
    this.endA[id] += n;
  }

  /** Grows the data at the front by n bytes (into headroom) and returns the new start. */
  prepend(id: number, n: number): number {
    const s = this.startA[id] - n;
    if (s < this.baseA[id]) throw new RangeError(`BufferPool ${this.name}: no headroom for ${n} bytes`);
    this.startA[id] = s;
    return s;
  }

  /** Skips n bytes at the front (at most the data there is). */
  consume(id: number, n: number): void {
    this.startA[id] = Math.min(this.startA[id] + n, this.endA[id]);
  }

  /** Moves the start by n bytes, forward (n > 0, like consume) or back into headroom (n < 0). */
  adjustStart(id: number, n: number): void {
    const s = this.startA[id] + n;
    if (s < this.baseA[id] || s > this.endA[id]) throw new RangeError(`BufferPool ${this.name}: start moved outside buffer ${id}`);
    this.startA[id] = s;
  }

  /** Cuts the data to n bytes. */
  truncate(id: number, n: number): void {
    this.endA[id] = Math.min(this.endA[id], this.startA[id] + n);
  }

  /** BufFlag bits. */
  flags(id: number): number {
    return this.flagsA[id];
  }

  setFlags(id: number, f: number): void {
    this.flagsA[id] = f;
  }

  /** A 32-bit value the holder keeps with the buffer (for wrapped buffers: the owner's cookie). */
  cookie(id: number): number {
    return this.cookieA[id];
  }

  setCookie(id: number, v: number): void {
    if (id >= this.count) throw new Error(`BufferPool ${this.name}: buffer ${id} wraps device memory; its cookie belongs to the device`);
    this.cookieA[id] = v;
  }

  /** Receive time in ns (the device's clock: hardware, or the poller's `now` × 10^6); 0 when unset. */
  timestampNs(id: number): number {
    return this.tsA[id];
  }

  setTimestampNs(id: number, ns: number): void {
    this.tsA[id] = ns;
  }

  /** The same time in ms (the poller's unit). */
  timestamp(id: number): number {
    return this.tsA[id] / 1e6;
  }

  setTimestamp(id: number, ms: number): void {
    this.tsA[id] = ms * 1e6;
  }
}
