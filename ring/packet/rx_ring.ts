/**
 * The TPACKET_V2 receive ring: `frames` slots of `frameSize` bytes in blocks, mmap'd once and seen
 * from JS through one Buffer and one Int32Array (no view per frame).
 *
 * Why V2 and not V3: V3 hands a block to user space only when it is full or its retire timeout
 * (tp_retire_blk_tov, ≥ 1 ms) expires, whether JS busy-polls or not. Measured on this project's VM
 * (../shared/reference/koffi-notes.md §4): V3 at tov 1 ms gave p50 574 µs / p99 1.04 ms send → JS;
 * V2 gave 32-60 µs / 133-143 µs woken by koffi.node.poll and 11-21 µs / 98-160 µs busy-polled. V2
 * hands over each frame as it lands; latency is the point of VMA.
 *
 * Slots are handed over in ring order: the kernel writes the slot at its head only when that slot's
 * tp_status is TP_STATUS_KERNEL (otherwise it drops and counts tp_drops), so a slot user space holds
 * stalls the ring at that point. `release(slot)` gives a slot back (tp_status = TP_STATUS_KERNEL).
 */
import * as os from 'node:os';
import type { PacketSocket } from './socket';
import {
  PACKET_RX_RING, SOL_PACKET, TP2_LEN, TP2_MAC, TP2_SNAPLEN, TP2_STATUS, TP_STATUS_KERNEL, TP_STATUS_USER, TPACKET_REQ_SIZE,
} from './libc';

export interface RxRingOptions {
  /** Slots wanted (rounded up to whole blocks). */
  frames: number;
  /** Bytes per slot, header included; a power of two ≥ 64 dividing blockSize (2048 holds a 1500-byte MTU frame). */
  frameSize: number;
  blockSize: number;
}

export class RxRing {
  readonly frames: number;
  readonly frameSize: number;
  readonly byteLength: number;
  /** The whole ring as bytes (slot s starts at s * frameSize). */
  readonly bytes: Buffer;
  private readonly words: Int32Array;
  private cur = 0;

  /** Sets PACKET_RX_RING on `sock` (PACKET_VERSION must already be TPACKET_V2) and maps it. */
  constructor(sock: PacketSocket, opts: RxRingOptions) {
    const { frameSize, blockSize } = opts;
    if (os.endianness() !== 'LE') throw new Error('RxRing reads TPACKET headers as little-endian words');
    if (frameSize < 64 || (frameSize & (frameSize - 1)) !== 0 || blockSize % frameSize !== 0) {
      throw new RangeError(`frameSize ${frameSize} must be a power of two ≥ 64 dividing the block size ${blockSize}`);
    }
    const perBlock = blockSize / frameSize;
    const blocks = Math.max(1, Math.ceil(opts.frames / perBlock));
    this.frames = blocks * perBlock;
    this.frameSize = frameSize;
    this.byteLength = blocks * blockSize;
    const req = Buffer.alloc(TPACKET_REQ_SIZE);
    req.writeUInt32LE(blockSize, 0);
    req.writeUInt32LE(blocks, 4);
    req.writeUInt32LE(frameSize, 8);
    req.writeUInt32LE(this.frames, 12);
    sock.setRaw(SOL_PACKET, PACKET_RX_RING, req, 'PACKET_RX_RING');
    const ab = sock.map(this.byteLength);
    this.bytes = Buffer.from(ab);
    this.words = new Int32Array(ab);
  }

  /** The slot holding the next received frame (and advances past it), or -1 when none waits. */
  next(): number {
    const s = this.cur;
    if ((Atomics.load(this.words, (s * this.frameSize + TP2_STATUS) >> 2) & TP_STATUS_USER) === 0) return -1;
    this.cur = s + 1 === this.frames ? 0 : s + 1;
    return s;
  }

  /** Whether a frame waits (without taking it). */
  get ready(): boolean {
    return (Atomics.load(this.words, (this.cur * this.frameSize + TP2_STATUS) >> 2) & TP_STATUS_USER) !== 0;
  }

  /** Raw tp_status of a slot (TP_STATUS_* bits). */
  status(slot: number): number {
    return this.words[(slot * this.frameSize + TP2_STATUS) >> 2];
  }

  // The header is read through the Int32Array (host byte order, as the kernel writes it; Linux
  // hosts this runs on are little-endian): one typed-array load per field.

  /** Offset in `bytes` of the frame's first (Ethernet) byte (tp_mac is the low half of word 3). */
  dataOffset(slot: number): number {
    const base = slot * this.frameSize;
    return base + (this.words[(base + TP2_MAC) >> 2] & 0xffff);
  }

  /** Bytes of the frame in the slot (tp_snaplen). */
  captured(slot: number): number {
    return this.words[(slot * this.frameSize + TP2_SNAPLEN) >> 2] >>> 0;
  }

  /** Length of the frame on the wire (tp_len; larger than captured() when the slot truncated it). */
  wireLength(slot: number): number {
    return this.words[(slot * this.frameSize + TP2_LEN) >> 2] >>> 0;
  }

  /** Gives the slot back to the kernel. */
  release(slot: number): void {
    Atomics.store(this.words, (slot * this.frameSize + TP2_STATUS) >> 2, TP_STATUS_KERNEL);
  }
}
