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
 *
 * With `vnet` (the socket has PACKET_VNET_HDR) each message is two iovecs: its own struct
 * virtio_net_hdr (10 bytes in this batch's memory, written per frame with `setVnet`, all zero by
 * default: no offload) and then the frame. The header never has to fit in the frame's headroom.
 */
import koffi from 'koffi';
import {
  IOV_BASE, IOV_LEN, IOVEC_SIZE, libc, MMSGHDR_SIZE, MSG_DONTWAIT, MSG_IOV, MSG_IOVLEN, VNET_CSUM_OFFSET, VNET_CSUM_START, VNET_FLAGS,
  VNET_GSO_SIZE, VNET_GSO_TYPE, VNET_HDR_LEN, VNET_HDR_SIZE,
} from './libc';

/** Bytes per message's virtio_net_hdr slot (10 used, rounded up for alignment). */
const VNET_SLOT = 16;

export class MmsgBatch {
  readonly capacity: number;
  private base: bigint | null;
  private readonly dv: DataView;
  private readonly iovOff: number;
  /** Offset of message 0's virtio_net_hdr, or -1 without vnet; iovecs per message. */
  private readonly vnetOff: number;
  private readonly iovPer: number;
  /** Address of the region iovecs point into, as a Number (user-space addresses are < 2^47). */
  private regionAddr = 0;
  private region: Uint8Array | null = null;

  constructor(capacity: number, vnet = false) {
    this.capacity = capacity;
    this.iovPer = vnet ? 2 : 1;
    this.iovOff = capacity * MMSGHDR_SIZE;
    this.vnetOff = vnet ? this.iovOff + capacity * 2 * IOVEC_SIZE : -1;
    const bytes = capacity * (MMSGHDR_SIZE + this.iovPer * IOVEC_SIZE + (vnet ? VNET_SLOT : 0));
    const base = koffi.alloc('uint8_t', bytes) as unknown as bigint;
    this.base = base;
    this.dv = new DataView(koffi.view(base as unknown as never, bytes) as ArrayBuffer);
    new Uint8Array(this.dv.buffer).fill(0);
    for (let i = 0; i < capacity; i++) {
      const m = i * MMSGHDR_SIZE;
      const iov = this.iovOff + i * this.iovPer * IOVEC_SIZE;
      this.dv.setBigUint64(m + MSG_IOV, base + BigInt(iov), true);
      this.dv.setBigUint64(m + MSG_IOVLEN, BigInt(this.iovPer), true);
      if (vnet) {
        this.dv.setBigUint64(iov + IOV_BASE, base + BigInt(this.vnetOff + i * VNET_SLOT), true);
        this.dv.setBigUint64(iov + IOV_LEN, BigInt(VNET_HDR_SIZE), true);
      }
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
    const o = this.iovOff + (i * this.iovPer + this.iovPer - 1) * IOVEC_SIZE;
    this.dv.setUint32(o + IOV_BASE, addr % 0x100000000, true);
    this.dv.setUint32(o + IOV_BASE + 4, Math.floor(addr / 0x100000000), true);
    this.dv.setUint32(o + IOV_LEN, len, true);
    this.dv.setUint32(o + IOV_LEN + 4, 0, true);
  }

  /**
   * Message i's virtio_net_hdr (only with vnet): flags (VIRTIO_NET_HDR_F_*), gso_type, hdr_len,
   * gso_size, csum_start, csum_offset. `setVnet(i, 0, 0, 0, 0, 0, 0)` is a frame without offload.
   */
  setVnet(i: number, flags: number, gsoType: number, hdrLen: number, gsoSize: number, csumStart: number, csumOffset: number): void {
    const dv = this.dv;
    const o = this.vnetOff + i * VNET_SLOT;
    dv.setUint8(o + VNET_FLAGS, flags);
    dv.setUint8(o + VNET_GSO_TYPE, gsoType);
    dv.setUint16(o + VNET_HDR_LEN, hdrLen, true);
    dv.setUint16(o + VNET_GSO_SIZE, gsoSize, true);
    dv.setUint16(o + VNET_CSUM_START, csumStart, true);
    dv.setUint16(o + VNET_CSUM_OFFSET, csumOffset, true);
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
