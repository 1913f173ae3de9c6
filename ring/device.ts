/**
 * The Device interface: anything that receives and transmits bursts of Ethernet frames and says
 * what it can do (smoltcp `phy::Device`, gVisor `link/channel`, Seastar `device`/`qp`). The Ring
 * and the stack above are generic over it; test devices (sim, pcap decorator) wrap or replace real
 * ones.
 *
 * Contract:
 * - `rxBurst(pool, max, now, sink)` hands up to `max` received frames to the ring as buffers of
 *   `pool` — copied into slot buffers (`pool.allocCopy`) or, zero-copy, device memory wrapped as
 *   buffers (`pool.addRegion` once, then `pool.wrap` per frame; the pool calls the device back when
 *   the last holder releases one). It stamps each with its receive time in ns
 *   (`pool.setTimestampNs`: a hardware timestamp, else `now` × 10^6) and calls `sink(id, now)` once
 *   per frame; the sink owns that reference. A frame that finds no buffer is dropped and counted
 *   by the device (`rxNoBuffer`), never queued without bound.
 * - `txBurst(pool, ids, count, now)` transmits `ids[0, count)` in order and returns how many it took
 *   (the ring keeps the rest, in order, and offers them again). A buffer flagged BufFlag.Dummy runs
 *   every step but the wire (VMA_SND_FLAGS_DUMMY) and counts as taken. The caller keeps its
 *   references and releases them after the call; a device that needs a buffer after returning
 *   (asynchronous DMA) takes its own reference with `pool.ref`. txBurst must not call back into the
 *   ring (no RX dispatch from inside it): the ring's TX queue is being drained.
 * - Checksum offload on TX (`caps.txChecksum.tcp`/`.udp`): the stack leaves that L4 checksum field
 *   0 and the device fills it in (hardware, or the kernel through a virtio_net_hdr).
 * - TCP segmentation offload (`caps.tsoMax` > 0, which implies `txChecksum.tcp`): a TX buffer may
 *   hold one IPv4/TCP packet of up to `tsoMax` bytes (IPv4 header included) whose pool cookie is
 *   the segment size (MSS, > 0): the device sends it as consecutive segments of that many payload
 *   bytes, each with the same headers (sequence numbers, IPv4 length/ident/checksum and TCP
 *   checksum fixed up; FIN and PSH only on the last, CWR only on the first) as Linux GSO does. A
 *   cookie of 0 (what `alloc` sets) is an ordinary frame. Such a device's ring gives its TX pool
 *   buffers large enough for `tsoMax` (ring/ring.ts).
 * - A device that receives coalesced frames (Linux GSO/GRO over a packet socket) hands them up whole
 *   when the RX pool's buffers hold them (`caps.rxFrameMax`), else cuts them back into MTU-sized
 *   frames; the pieces of one coalesced frame are handed up in the same burst, which may then exceed
 *   `max` when that frame alone is larger than `max` pieces.
 * - `attachFlow`/`detachFlow`: a device that steers in hardware (`caps.flowSteering`) installs the
 *   rule; others accept and ignore what they cannot use (a multicast MAC still opens their filter).
 * - Waiting: one abstraction with two forms. `waitFd >= 0`: an fd that becomes readable when RX
 *   work arrives (packet socket, CQ event channel); the poller watches it with a libuv poll handle.
 *   `waitFd === -1`: the device calls the callback given to `setNotify` (synchronously, from the
 *   producer) when frames arrive (sim). A device with delayed frames says when the next is due
 *   (`nextDue`), so a sleeping poller can set one timer.
 * - A release of a buffer id the pool already freed throws, but once the slot is handed out again a
 *   stale id is indistinguishable from the new holder's: holders must drop their ids on release.
 * - Devices never throw on peer bytes. `close()` is idempotent; after it rxBurst returns 0 and
 *   txBurst takes everything (dropping it).
 */
import type { BufferPool } from './buffer_pool';

export type DeviceKind = 'sim' | 'packet' | 'verbs-eth' | 'verbs-ud' | 'daemon';

/** Checksums a device handles itself (smoltcp ChecksumCapabilities, VMA's HW csum flags). */
export interface ChecksumCaps {
  readonly ipv4: boolean;
  readonly udp: boolean;
  readonly tcp: boolean;
}

export const NO_CHECKSUM_OFFLOAD: ChecksumCaps = Object.freeze({ ipv4: false, udp: false, tcp: false });

export interface DeviceCaps {
  readonly name: string;
  readonly kind: DeviceKind;
  /** L3 MTU (the largest IPv4 packet the device carries). */
  readonly mtu: number;
  /** Frames per RX or TX burst the device handles well. */
  readonly maxBurst: number;
  /** The device's own Ethernet address (48-bit number). */
  readonly mac: number;
  /** Checksums the device verifies on receive / computes on transmit. */
  readonly rxChecksum: ChecksumCaps;
  readonly txChecksum: ChecksumCaps;
  /** Whether receive timestamps come from the hardware clock. */
  readonly hwTimestamps: boolean;
  /** Whether dummy sends (VMA_SND_FLAGS_DUMMY) stop before the wire on this device. */
  readonly dummySend: boolean;
  /** Whether the device filters by flow itself (hardware steering). Otherwise the Ring demuxes all. */
  readonly flowSteering: boolean;
  /**
   * TCP segmentation offload: the largest IPv4 packet (header included, ≤ 65535) a TX buffer may
   * hold for the device to cut into MSS-sized segments (see the contract above). 0 or absent: none.
   */
  readonly tsoMax?: number;
  /**
   * Large receive: the largest frame (Ethernet header included) the device may hand up, when it
   * passes coalesced frames (Linux GSO/GRO, up to 64 KiB) whole. The ring sizes RX buffers for it;
   * with smaller RX buffers the device cuts such frames into MTU-sized ones. 0 or absent: MTU frames.
   */
  readonly rxFrameMax?: number;
}

/**
 * A flow a device may steer to this ring (devices without steering accept and ignore it).
 * Addresses are IPv4 as unsigned 32-bit numbers, MACs 48-bit numbers, ports 16-bit. A 3-tuple with
 * `dstIp` 0 is a listener on the port for every local address (a socket bound to 0.0.0.0).
 */
export type FlowSpec =
  | { readonly kind: 'ethertype'; readonly ethertype: number }
  | { readonly kind: 'multicast-mac'; readonly mac: number }
  | { readonly kind: '3-tuple'; readonly protocol: number; readonly dstIp: number; readonly dstPort: number }
  | { readonly kind: '5-tuple'; readonly protocol: number; readonly srcIp: number; readonly srcPort: number; readonly dstIp: number; readonly dstPort: number };

/** Receives one buffer id (owning one reference) and the poll time (ms). */
export type RxSink = (id: number, now: number) => void;

export interface Device {
  readonly caps: DeviceCaps;
  /** Moves up to `max` received frames into buffers of `pool`, calling `sink` for each. Returns how many. */
  rxBurst(pool: BufferPool, max: number, now: number, sink: RxSink): number;
  /** Transmits `count` buffers from `ids`; returns how many the device took (the rest: retry later, in order). */
  txBurst(pool: BufferPool, ids: Int32Array, count: number, now: number): number;
  attachFlow(spec: FlowSpec): void;
  detachFlow(spec: FlowSpec): void;
  /** An fd that becomes readable when received frames wait, or -1 when the device has none (then: setNotify). */
  readonly waitFd: number;
  /** For devices without an fd: `cb` is called (synchronously, from the producer) when frames arrive; null disarms. */
  setNotify(cb: (() => void) | null): void;
  /** Optional: when the next frame already in flight is due (ms, the poller's clock), or Infinity. */
  nextDue?(): number;
  /** Optional: whether a received frame waits now (a cheap check without a burst). */
  readonly rxReady?: boolean;
  /**
   * Optional: port arbitration with other processes sharing the device (the `daemon` device). The
   * stack claims (IP protocol, port) when a socket binds and releases it when the socket closes;
   * false means another process holds the port (the bind fails with EADDRINUSE). `shared`: a
   * SO_REUSEPORT-style claim, which other processes that ask to share may make too. Synchronous.
   */
  claimPort?(protocol: number, port: number, shared?: boolean): boolean;
  releasePort?(protocol: number, port: number): void;
  /** Device counters (e.g. kernel drops), merged into the ring's stats. */
  stats(): Readonly<Record<string, number>>;
  close(): void;
}

/** ff:ff:ff:ff:ff:ff as a 48-bit number. */
export const MAC_BROADCAST = 0xffffffffffff;

/** Whether `mac` is a 48-bit unicast MAC (I/G bit clear, not zero): what a device may own. */
export function isUnicastMac(mac: number): boolean {
  return Number.isInteger(mac) && mac > 0 && mac < MAC_BROADCAST && (Math.floor(mac / 2 ** 40) & 1) === 0;
}
