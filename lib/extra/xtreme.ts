/**
 * SocketXtreme (VMA_SOCKETXTREME=1): offloaded sockets hand their packets and events to per-ring
 * completion queues instead of Node events; `socketxtreme_poll(ringFd, max)` polls the ring and
 * returns up to `max` completions. A packet's buffers stay in ring memory (vma_buff_t objects with
 * a reference each) until `socketxtreme_free_vma_packets`; `socketxtreme_ref_vma_buff` /
 * `socketxtreme_free_vma_buff` move single references as VMA's do.
 *
 * Queues are bounded by the ring's RX pool: a completion holds a buffer, and past half the pool
 * (the copy-fallback mark in held.ts) payloads are copied so the ring never runs dry.
 */
import type { Ring } from '../../ring/ring';
import { VMA_SOCKETXTREME_PACKET } from './constants';

/** vma_buff_t: one buffer of a packet (`next` chains them; null on the last). */
export class VmaBuff {
  next: VmaBuff | null = null;
  /** @internal -1 once its last reference went back (ref/free then fail with EINVAL). */
  id: number;
  constructor(
    readonly payload: Uint8Array,
    readonly len: number,
    /** @internal */ readonly ring: Ring | null,
    id: number,
  ) {
    this.id = id;
  }
}

export interface Timespec {
  tv_sec: number;
  tv_nsec: number;
}

/** vma_packet_desc_t */
export interface VmaPacketDesc {
  num_bufs: number;
  total_len: number;
  buff_lst: VmaBuff | null;
  hw_timestamp: Timespec;
  sw_timestamp: Timespec;
}

/** vma_completion_t: `events` is VMA_SOCKETXTREME_* bits and EPOLL* bits (a BigInt: 64 bits, as in C). */
export interface VmaCompletion {
  packet: VmaPacketDesc;
  events: bigint;
  user_data: unknown;
  src: { address: string; port: number };
  listen_fd: number;
}

const queues = new Map<Ring, VmaCompletion[]>();
/** Which socket entry (its `held` count) each ring-backed buffer was given to. */
const owners = new WeakMap<VmaBuff, { held: number }>();

export function ownerOf(b: VmaBuff): { held: number } | undefined {
  return owners.get(b);
}

function post(ring: Ring, c: VmaCompletion): void {
  let q = queues.get(ring);
  if (!q) queues.set(ring, (q = []));
  q.push(c);
}

/** Up to `max` completions of `ring`, oldest first (removed from its queue). */
export function take(ring: Ring, max: number): VmaCompletion[] {
  const q = queues.get(ring);
  if (!q || q.length === 0) return [];
  return q.splice(0, max);
}

export function pending(ring: Ring): number {
  return queues.get(ring)?.length ?? 0;
}

export const ZERO_TS: Readonly<Timespec> = Object.freeze({ tv_sec: 0, tv_nsec: 0 });

/** A ring buffer timestamp (ms on performance.now's clock) as wall-clock time, into `out`. */
export function setTimespec(out: Timespec, ms: number): Timespec {
  const ns = Math.round((performance.timeOrigin + ms) * 1e6);
  out.tv_sec = Math.floor(ns / 1e9);
  out.tv_nsec = ns % 1e9;
  return out;
}

/**
 * Posts a PACKET completion of one buffer on `ring`: `id` ≥ 0 is an RX buffer whose reference the
 * completion takes over (counted in the owner's `held` until its last reference goes), -1 a payload
 * that is a heap copy.
 */
export function postPacket(ring: Ring, owner: { held: number }, payload: Uint8Array, id: number, userData: unknown, src: { address: string; port: number }, tsMs: number): void {
  const b = new VmaBuff(payload, payload.length, id >= 0 ? ring : null, id);
  if (id >= 0) {
    owner.held++;
    owners.set(b, owner);
  }
  post(ring, {
    packet: { num_bufs: 1, total_len: payload.length, buff_lst: b, hw_timestamp: { ...ZERO_TS }, sw_timestamp: setTimespec({ tv_sec: 0, tv_nsec: 0 }, tsMs) },
    events: VMA_SOCKETXTREME_PACKET,
    user_data: userData,
    src,
    listen_fd: -1,
  });
}

/** Posts an event completion (no packet) on `ring`: `events` VMA_SOCKETXTREME_* and EPOLL* bits. */
export function postEvent(ring: Ring, events: bigint, userData: unknown, src: { address: string; port: number }, listenFd = -1): void {
  post(ring, {
    packet: { num_bufs: 0, total_len: 0, buff_lst: null, hw_timestamp: { ...ZERO_TS }, sw_timestamp: { ...ZERO_TS } },
    events,
    user_data: userData,
    src,
    listen_fd: listenFd,
  });
}
