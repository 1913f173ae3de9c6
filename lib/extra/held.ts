/**
 * Packets the application holds: buffers taken by recvfrom_zcopy or kept by a receive callback's
 * VMA_PACKET_HOLD, until free_packets. Each gets a `packet_id` that is never reused (a stale or
 * double free is recognised: EINVAL), remembers its ring (free_packets' ENOENT when the socket
 * freeing it has no such ring) and its socket entry (the `held` count in `tsvma stats`).
 *
 * Copy fallback: a ring whose RX buffers are half held by the application would soon have none
 * to receive into; past that mark (`overLimit`) receive paths copy the payload to the heap and give
 * the ring buffer back at once, unless MSG_VMA_ZCOPY_FORCE asks otherwise.
 */
import type { Ring } from '../../ring/ring';
import type { SocketEntry } from '../stats/registry';

export interface HeldPacket {
  readonly packetId: number;
  readonly entry: SocketEntry;
  readonly ring: Ring;
  /** The RX buffer (-1: the bytes are a heap copy, `data`). */
  readonly id: number;
  readonly data: Buffer | null;
  /** TCP zero-copy: the connection's hold id (proto Tcp.holdReceived), -1 otherwise. */
  readonly tcpHold: number;
}

const held = new Map<number, HeldPacket>();
const perRing = new Map<Ring, number>();
let nextPacketId = 1;

export const heldCounters = { holds: 0, frees: 0 };

/** The id the next held packet will get (a receive callback sees it before it decides). */
export function peekPacketId(): number {
  return nextPacketId;
}

/** Whether `ring`'s application-held RX buffers reached half its RX pool: copy instead of holding. */
export function overLimit(ring: Ring): boolean {
  return (perRing.get(ring) ?? 0) * 2 >= ring.rxPool.count;
}

/** Records a held packet (the caller transferred one buffer reference to it). Returns its packet_id. */
export function hold(entry: SocketEntry, ring: Ring, id: number, data: Buffer | null, tcpHold = -1): number {
  const packetId = nextPacketId++;
  held.set(packetId, { packetId, entry, ring, id, data, tcpHold });
  if (id >= 0) perRing.set(ring, (perRing.get(ring) ?? 0) + 1);
  entry.held++;
  heldCounters.holds++;
  return packetId;
}

/** The held packet of an id, or undefined (never given, or freed already). */
export function heldPacket(packetId: number): HeldPacket | undefined {
  return held.get(packetId);
}

/** Returns a held packet's buffer to its ring. */
export function release(p: HeldPacket): void {
  held.delete(p.packetId);
  if (p.id >= 0) {
    perRing.set(p.ring, (perRing.get(p.ring) ?? 1) - 1);
    p.ring.rxPool.release(p.id);
  }
  p.entry.held--;
  heldCounters.frees++;
}

/** Buffers the application holds in all (tests: 0 after every one). */
export function heldCount(): number {
  return held.size;
}
