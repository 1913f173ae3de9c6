/**
 * The socket registry: every socket tsvma knows gets a small integer fd (VMA's fd role in
 * `tsvma stats`, `dump_fd_stats` and the extra API) and an entry the statistics writer reads.
 *
 * - fds: the lowest free number from 1 (as POSIX hands out descriptors; 0 means "every fd" in
 *   dump_fd_stats), freed when the socket closes. `fdOf(owner)` and `socketByFd(fd)` map both ways;
 *   the owner is the object the application holds (a tsvma/dgram Socket) or the stream handle under
 *   a net.Socket / net.Server (`socket._handle`).
 * - Hooks: lib/dgram.ts calls `trackUdp` when a socket is offloaded, `trackOs` for a Node socket
 *   it passes through to (or its offloaded socket's kernel twin), and `untrack` at close;
 *   lib/net_handle.ts calls `trackTcp` / `untrack` for connections and listeners. Nothing here runs
 *   per packet: offloaded counters are the stack's own, read by the writer every interval; the
 *   kernel path is counted by a 'message' listener and a wrapped `send` on the Node socket.
 * - Tracking is on only while a runtime exists (`enableRegistry`): with no device, dgram and net
 *   are Node's and nothing is registered.
 * - VMA_STATS_FILE: at untrack, the socket's counters are appended to that file in VMA's close-dump
 *   format (`%d` in the name → pid).
 */
import * as fs from 'node:fs';
import type * as nodeDgram from 'node:dgram';
import type { TcpSocket } from '../../proto/stack/tcp';
import { parseIp } from '../../proto/wire/addr';
import type { UdpSocket } from '../../proto/stack/udp';
import type { Runtime } from '../runtime';
import { formatCloseDump } from './format';
import { SOCKET_FIELDS, type SocketField } from './layout';

export const PROTO_UDP = 17;
export const PROTO_TCP = 6;

/** Traffic a socket sent or received through the kernel. */
export interface OsCounters {
  rxPackets: number;
  rxBytes: number;
  rxErrors: number;
  txPackets: number;
  txBytes: number;
  txErrors: number;
}

export class SocketEntry {
  /** Counters the lib layer keeps for this socket (the stack keeps the offloaded ones). */
  readonly os: OsCounters = { rxPackets: 0, rxBytes: 0, rxErrors: 0, txPackets: 0, txBytes: 0, txErrors: 0 };
  rxEagain = 0;
  txEagain = 0;
  /** Samples of the ready queue's maximum (taken at each copy). */
  readyPacketsMax = 0;
  readyBytesMax = 0;
  /** The writer's slot in the socket table (-1: none), and the counter values a zero request re-based to. */
  slot = -1;
  base: Float64Array | null = null;
  closed = false;
  /** The Node socket of a passed-through socket (its addresses are read from it). */
  osHandle: nodeDgram.Socket | null = null;
  /** RX buffers the application holds (lib/extra: zero-copy receive, HOLD, SocketXtreme). */
  held = 0;

  constructor(
    readonly fd: number,
    readonly proto: number,
    readonly owner: object,
    public udp: UdpSocket | null,
    public tcp: TcpSocket | null,
  ) {}

  get offloaded(): boolean {
    return this.udp !== null || this.tcp !== null;
  }
}

const byFd = new Map<number, SocketEntry>();
const byOwner = new WeakMap<object, SocketEntry>();
/** Free fds below `nextFd`, kept sorted descending so pop() gives the lowest. */
const freeFds: number[] = [];
let nextFd = 1;
let enabled = false;
let statsFile = '';
let listener: ((e: SocketEntry, added: boolean) => void) | null = null;

/** Turns tracking on (a runtime exists) with VMA_STATS_FILE's value, or off. */
export function enableRegistry(on: boolean, opts: { statsFile?: string } = {}): void {
  enabled = on;
  statsFile = (opts.statsFile ?? '').replace(/%d/g, String(process.pid));
}

/** The writer's hook: told of every socket added and removed. */
export function onRegistryChange(fn: ((e: SocketEntry, added: boolean) => void) | null): void {
  listener = fn;
}

function allocFd(): number {
  return freeFds.length > 0 ? freeFds.pop()! : nextFd++;
}

function freeFd(fd: number): void {
  if (fd === nextFd - 1) {
    nextFd--;
    // Fold free fds that are now at the top back into the counter.
    while (freeFds.length > 0 && freeFds[0] === nextFd - 1) {
      freeFds.shift();
      nextFd--;
    }
    return;
  }
  let i = freeFds.length;
  while (i > 0 && freeFds[i - 1] < fd) i--;
  freeFds.splice(i, 0, fd);
}

function add(owner: object, proto: number, udp: UdpSocket | null, tcp: TcpSocket | null): SocketEntry {
  const e = new SocketEntry(allocFd(), proto, owner, udp, tcp);
  byFd.set(e.fd, e);
  byOwner.set(owner, e);
  listener?.(e, true);
  return e;
}

/** An offloaded UDP socket (lib/dgram.ts, when its stack socket is bound). Returns its entry (null when tracking is off). */
export function trackUdp(owner: object, _rt: Runtime, s: UdpSocket): SocketEntry | null {
  if (!enabled) return null;
  const e = byOwner.get(owner);
  if (e && !e.closed) {
    e.udp = s;
    return e;
  }
  return add(owner, PROTO_UDP, s, null);
}

/** An offloaded TCP connection or listener (lib/net_handle.ts; owner: the handle). */
export function trackTcp(owner: object, _rt: Runtime, s: TcpSocket): SocketEntry | null {
  if (!enabled) return null;
  const e = byOwner.get(owner);
  if (e && !e.closed) {
    e.tcp = s;
    return e;
  }
  return add(owner, PROTO_TCP, null, s);
}

/**
 * A Node dgram socket carrying `owner`'s traffic through the kernel: the pass-through handle, or an
 * offloaded socket's kernel twin. Counts its received datagrams ('message' listener) and its sends
 * (`send` wrapped on this instance).
 */
export function trackOs(owner: object, handle: nodeDgram.Socket): SocketEntry | null {
  if (!enabled) return null;
  let e = byOwner.get(owner);
  if (!e || e.closed) e = add(owner, PROTO_UDP, null, null);
  if (!e.offloaded) e.osHandle = handle;
  const os = e.os;
  handle.on('message', (m: Buffer) => {
    os.rxPackets++;
    os.rxBytes += m.length;
  });
  const send = handle.send as (...a: unknown[]) => void;
  (handle as unknown as { send: (...a: unknown[]) => void }).send = function (this: nodeDgram.Socket, ...a: unknown[]): void {
    os.txPackets++;
    os.txBytes += sendLength(a);
    return send.apply(this, a);
  };
  return e;
}

/** Bytes of a dgram send's arguments: (msg[, offset, length], ...) with msg a Buffer, view, string or array of them. */
function sendLength(a: unknown[]): number {
  const msg = a[0];
  if (!Array.isArray(msg) && typeof a[1] === 'number' && typeof a[2] === 'number') return a[2];
  const one = (m: unknown): number => (typeof m === 'string' ? Buffer.byteLength(m) : ArrayBuffer.isView(m) ? m.byteLength : 0);
  if (Array.isArray(msg)) {
    let n = 0;
    for (const m of msg) n += one(m);
    return n;
  }
  return one(msg);
}

/** The socket closed: its fd is freed (and its counters appended to VMA_STATS_FILE when set). */
export function untrack(owner: object): void {
  const e = byOwner.get(owner);
  if (!e || e.closed) return;
  e.closed = true;
  byOwner.delete(owner);
  byFd.delete(e.fd);
  if (statsFile) dumpEntry(e);
  listener?.(e, false);
  freeFd(e.fd);
}

/** Appends one socket's counters to VMA_STATS_FILE (errors are reported once, not thrown). */
export function dumpEntry(e: SocketEntry): void {
  if (!statsFile) return;
  try {
    fs.appendFileSync(statsFile, formatCloseDump(socketRecord(socketValues(e))));
  } catch (err) {
    process.emitWarning(`tsvma: VMA_STATS_FILE=${statsFile}: ${(err as Error).message}; dump disabled`);
    statsFile = '';
  }
}

/** The live entry of a socket (or handle), or undefined. */
export function entryOf(owner: object): SocketEntry | undefined {
  const e = byOwner.get(owner);
  return e && !e.closed ? e : undefined;
}

/** The fd of a socket (or handle), or -1. */
export function fdOf(owner: object): number {
  return entryOf(owner)?.fd ?? -1;
}

const ringFds = new WeakMap<object, number>();
const ringsByFd = new Map<number, object>();

/**
 * The fd of a ring (VMA's ring fd: get_socket_rings_fds, socketxtreme_poll), from the same number
 * space as sockets' fds so the two never collide; given on first request and kept while the
 * ring lives (`forgetRing` at close).
 */
export function ringFdOf(ring: object): number {
  let fd = ringFds.get(ring);
  if (fd === undefined) {
    fd = allocFd();
    ringFds.set(ring, fd);
    ringsByFd.set(fd, ring);
  }
  return fd;
}

/** The ring of a ring fd, or undefined. */
export function ringByFd(fd: number): object | undefined {
  return ringsByFd.get(fd);
}

/** The entry of an fd, or undefined. */
export function socketByFd(fd: number): SocketEntry | undefined {
  return byFd.get(fd);
}

/** Every registered socket, by fd order of creation. */
export function registeredSockets(): IterableIterator<SocketEntry> {
  return byFd.values();
}

/** Forgets every socket and fd (tests, runtime close). VMA_STATS_FILE gets the open sockets first. */
export function resetRegistry(): void {
  for (const e of byFd.values()) {
    e.closed = true;
    if (statsFile) dumpEntry(e);
    byOwner.delete(e.owner);
  }
  byFd.clear();
  for (const r of ringsByFd.values()) ringFds.delete(r);
  ringsByFd.clear();
  freeFds.length = 0;
  nextFd = 1;
}

/**
 * A socket's record values, live (before any zero re-basing), into `out` in SOCKET_FIELDS order.
 * Allocation-free with `out` given; the writer calls it once per socket per copy.
 */
export function socketValues(e: SocketEntry, out: Float64Array = new Float64Array(SOCKET_FIELDS.length)): Float64Array {
  const u = e.udp;
  const t = e.tcp;
  const os = e.os;
  const k = e.osHandle !== null ? osAddresses(e.osHandle) : null;
  let i = 0;
  // Keep in SOCKET_FIELDS order (layout.ts); the test checks the count.
  out[i++] = 1; // inUse
  out[i++] = e.fd;
  out[i++] = e.proto;
  out[i++] = e.offloaded ? 1 : 0;
  out[i++] = u ? u.localIp : t ? t.localIp >>> 0 : k ? k[0] : 0;
  out[i++] = u ? u.localPort : t ? t.localPort : k ? k[1] : 0;
  out[i++] = u ? (u.connected ? u.remoteIp >>> 0 : 0) : t ? t.remoteIp >>> 0 : k ? k[2] : 0;
  out[i++] = u ? (u.connected ? u.remotePort : 0) : t ? t.remotePort : k ? k[3] : 0;
  out[i++] = t ? t.state : -1;
  out[i++] = u ? u.memberships.length : 0;
  out[i++] = u ? u.counters.rxPackets : t ? t.counters.rxSegments : 0;
  out[i++] = u ? u.counters.rxBytes : t ? t.counters.rxBytes : 0;
  out[i++] = u ? u.counters.rxQueueDrops : t ? t.counters.oooDropped + t.counters.pawsDropped : 0;
  out[i++] = 0; // rxErrors: no per-socket receive errors in tsvma (bad frames are dropped before demux, counted by the stack)
  out[i++] = e.rxEagain;
  out[i++] = os.rxPackets;
  out[i++] = os.rxBytes;
  out[i++] = os.rxErrors;
  out[i++] = u ? u.counters.txPackets : t ? t.counters.txSegments : 0;
  out[i++] = u ? u.counters.txBytes : t ? t.counters.txBytes : 0;
  out[i++] = u ? u.counters.txErrors : 0;
  out[i++] = e.txEagain;
  out[i++] = t ? t.counters.retransmits : 0;
  out[i++] = u ? u.counters.txDummy : t ? t.counters.txDummy : 0; // the stack counts dummy sends per socket
  out[i++] = os.txPackets;
  out[i++] = os.txBytes;
  out[i++] = os.txErrors;
  const readyP = u ? u.queued : 0;
  const readyB = u ? u.queuedBytes : t ? t.rxQueued : 0;
  if (readyP > e.readyPacketsMax) e.readyPacketsMax = readyP;
  if (readyB > e.readyBytesMax) e.readyBytesMax = readyB;
  out[i++] = readyP;
  out[i++] = readyB;
  out[i++] = u ? u.rcvBuf : t ? t.rcvBuf : 0;
  out[i++] = e.readyPacketsMax;
  out[i++] = e.readyBytesMax;
  out[i++] = t ? t.txQueued : 0;
  out[i++] = e.held;
  return out;
}

/** A Node socket's IPv4 addresses [local ip, port, remote ip, port] (zeros where unbound, unconnected or IPv6). Allocates; stats only. */
function osAddresses(h: nodeDgram.Socket): [number, number, number, number] {
  const r: [number, number, number, number] = [0, 0, 0, 0];
  try {
    const a = h.address();
    const ip = parseIp(a.address);
    if (ip >= 0) [r[0], r[1]] = [ip >>> 0, a.port];
    const p = h.remoteAddress();
    const rip = parseIp(p.address);
    if (rip >= 0) [r[2], r[3]] = [rip >>> 0, p.port];
  } catch {
    // not bound, or not connected: Node throws
  }
  return r;
}

/** A socket record as an object keyed by SOCKET_FIELDS' names. */
export function socketRecord(v: Float64Array): Record<SocketField, number> {
  const r = {} as Record<SocketField, number>;
  SOCKET_FIELDS.forEach(([name], i) => (r[name] = v[i]));
  return r;
}

/** SOCKET_FIELDS' index of a field. */
export function socketFieldIndex(name: SocketField): number {
  return SOCKET_FIELDS.findIndex((f) => f[0] === name);
}

/** A write that could not go whole into the send buffer (VMA's tx EAGAIN): lib/net_handle.ts. */
export function noteTxEagain(owner: object): void {
  const e = byOwner.get(owner);
  if (e) e.txEagain++;
}
