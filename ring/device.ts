/**
 * The Device interface: anything that can receive and transmit bursts of Ethernet frames and say
 * what it can do. The Ring and the stack above are generic over it (smoltcp `phy`, gVisor
 * `link/channel`, Seastar `device`/`qp`).
 *
 * Contract: `rxBurst` copies or hands received frames into buffers of the given pool and passes
 * each buffer id to the sink, which then owns that reference. `txBurst` puts frames on the wire (or,
 * for buffers flagged dummy, runs everything but the last step); the caller keeps its references
 * and releases them after the call — a device that needs a buffer after returning takes its own
 * reference. Devices never throw on peer bytes; `close()` is idempotent.
 */
import type { BufferPool } from './buffer_pool';

export type DeviceKind = 'sim' | 'packet' | 'verbs-eth' | 'verbs-ud' | 'daemon';

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
  readonly hwTimestamps: boolean;
  /** Whether dummy sends (VMA_SND_FLAGS_DUMMY) stop before the wire on this device. */
  readonly dummySend: boolean;
  /** Whether the device filters by flow itself (hardware steering). Otherwise the Ring demuxes all. */
  readonly flowSteering: boolean;
}

/** A flow a device may steer to this ring (devices without steering accept and ignore it). */
export type FlowSpec =
  | { readonly kind: 'ethertype'; readonly ethertype: number }
  | { readonly kind: 'multicast-mac'; readonly mac: number }
  | { readonly kind: '3-tuple'; readonly protocol: number; readonly dstIp: number; readonly dstPort: number }
  | { readonly kind: '5-tuple'; readonly protocol: number; readonly srcIp: number; readonly srcPort: number; readonly dstIp: number; readonly dstPort: number };

/** Receives one buffer id (owning one reference) and the receive time. */
export type RxSink = (id: number, now: number) => void;

export interface Device {
  readonly caps: DeviceCaps;
  /** Moves up to `max` received frames into buffers from `pool`, calling `sink` for each. Returns how many. */
  rxBurst(pool: BufferPool, max: number, now: number, sink: RxSink): number;
  /** Transmits `count` buffers from `ids`; returns how many the device took (the rest: retry later, in order). */
  txBurst(pool: BufferPool, ids: Int32Array, count: number, now: number): number;
  attachFlow(spec: FlowSpec): void;
  detachFlow(spec: FlowSpec): void;
  /** An fd that becomes readable when received frames wait, or -1 when the device has none. */
  readonly waitFd: number;
  /** For devices without an fd: called (synchronously, from the producer) when frames arrive. */
  setNotify(cb: (() => void) | null): void;
  /** Device counters (e.g. kernel drops), merged into the ring's stats. */
  stats(): Readonly<Record<string, number>>;
  close(): void;
}
