/**
 * TX by sendmmsg(2) batches straight from the ring's TX pool memory (no copy in JS; the kernel
 * copies once into its skb). Chosen over PACKET_TX_RING from the measured table
 * (../shared/reference/koffi-notes.md §4, 64-frame batches): sendmmsg 357-371 k frames/s, TX ring
 * 335-339 k, one koffi send() per frame 267-273 k, Node dgram 190 k; and a TX ring would need a
 * copy from the pool into its slots.
 *
 * The mmsghdr and iovec arrays live in koffi.alloc memory built once; per frame only iov_base and
 * iov_len are written (as two u32 halves: no BigInt per frame). Pool memory must not move: it is an
 * ArrayBuffer backing store, which V8 never relocates.
 */
import koffi from 'koffi';
import { IOV_BASE, IOV_LEN, IOVEC_SIZE, libc, MMSGHDR_SIZE, MSG_DONTWAIT, MSG_IOV, MSG_IOVLEN } from './libc';

export class MmsgBatch {
  readonly capacity: number;
  private base: bigint | null;
  private readonly dv: DataView;
  private readonly iovOff: number;
  /** Address of the region iovecs point into, as a Number (user-space addresses are < 2^47). */
  private regionAddr = 0;
  private region: Uint8Array | null = null;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.iovOff = capacity * MMSGHDR_SIZE;
    const bytes = capacity * (MMSGHDR_SIZE + IOVEC_SIZE);
    const base = koffi.alloc('uint8_t', bytes) as unknown as bigint;
    this.base = base;
    this.dv = new DataView(koffi.view(base as unknown as never, bytes) as ArrayBuffer);
    new Uint8Array(this.dv.buffer).fill(0);
    for (let i = 0; i < capacity; i++) {
      const m = i * MMSGHDR_SIZE;
      this.dv.setBigUint64(m + MSG_IOV, base + BigInt(this.iovOff + i * IOVEC_SIZE), true);
      this.dv.setBigUint64(m + MSG_IOVLEN, 1n, true);
    }
  }

  /** Points iovecs into `region` from now on (cached: one koffi.address per new region). */
  useRegion(region: Uint8Array): void {
    if (this.region === region) return;
    this.region = region;
    this.regionAddr = Number(koffi.address(region) as bigint);
  }

  /** Message i sends region[offset, offset + len). */
  set(i: number, offset: number, len: number): void {
    const addr = this.regionAddr + offset;
    const o = this.iovOff + i * IOVEC_SIZE;
    this.dv.setUint32(o + IOV_BASE, addr % 0x100000000, true);
    this.dv.setUint32(o + IOV_BASE + 4, Math.floor(addr / 0x100000000), true);
    this.dv.setUint32(o + IOV_LEN, len, true);
    this.dv.setUint32(o + IOV_LEN + 4, 0, true);
  }

  /** sendmmsg(fd, msgs, count, MSG_DONTWAIT) for messages 0..count-1: messages sent, or -1 with errno set. */
  send(fd: number, count: number): number {
    if (this.base === null) throw new Error('MmsgBatch: used after free');
    return libc().sendmmsg(fd, this.base, count, MSG_DONTWAIT) as number;
  }

  free(): void {
    if (this.base === null) return;
    koffi.free(this.base as unknown as never);
    this.base = null;
  }
}
