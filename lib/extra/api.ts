/**
 * `getVmaApi()`: VMA's extra API (vma_api_t) for Node programs — the same member names, constants,
 * return conventions and errno values as libvma's, in a shape a Node programmer can use
 * (docs/extra-api.md has every member beside its C original).
 *
 * Conventions:
 * - Sockets are named by their small integer fd (`fdOf(socket)`: a tsvma dgram Socket, a net.Socket
 *   or net.Server whose handle is tsvma's) or by the socket object itself.
 * - A failed call returns -1 and sets `api.errno` (the Linux number) and `api.code` ('EINVAL', ...),
 *   as C's `-1` and `errno`; they keep their value until the next failure. Members that return data
 *   in C through pointers return it here (an array of ring fds, a zero-copy result object).
 * - `getVmaApi()` is null without a device (TSVMA_DEVICE unset), as vma_get_api() without VMA.
 *
 * Layer contract (lib/): calls into proto/ring through the runtime; nothing here runs per packet
 * unless the application installed it (a receive callback, zero-copy, SocketXtreme).
 */
import { threadId } from 'node:worker_threads';
import { addConfRule } from '../../conf';
import { formatIp, parseIp } from '../../proto/wire/addr';
import { Bytes } from '../../proto/wire/bytes';
import { emitEthernet, EthernetRepr, EtherType, ETHERNET_HEADER_LEN } from '../../proto/wire/ethernet';
import { emitIpv4, IpProtocol, Ipv4Repr, IPV4_MIN_HEADER_LEN } from '../../proto/wire/ipv4';
import { emitTcp, TcpRepr, TCP_MIN_HEADER_LEN } from '../../proto/wire/tcp';
import { emitUdp, UdpRepr, UDP_HEADER_LEN } from '../../proto/wire/udp';
import type { Interface } from '../../proto/stack/interface';
import { UdpDatagram, type UdpSocket } from '../../proto/stack/udp';
import type { Ring } from '../../ring/ring';
import { logAtVmaLevel, logger } from '../log';
import { loadedDeviceKind, runtime, setPoolAllocator, type Runtime } from '../runtime';
import { formatCloseDump } from '../stats/format';
import { entryOf, registeredSockets, ringByFd, ringFdOf, socketByFd, socketRecord, socketValues, type SocketEntry } from '../stats/registry';
import * as C from './constants';
import { hold, heldPacket, overLimit, peekPacketId, release, type HeldPacket } from './held';
import { setThreadOffload } from './threads';
import * as X from './xtreme';

/** The socket argument of a member: an fd, or the socket object (dgram Socket, net.Socket, net.Server). */
export type SocketRef = number | object;

export interface Address {
  address: string;
  port: number;
}

/** vma_info_t (valid during the callback only: the object is reused). */
export interface VmaInfo {
  struct_sz: number;
  packet_id: number;
  src: Address;
  dst: Address;
  payload_sz: number;
  socket_ready_queue_pkt_count: number;
  socket_ready_queue_byte_count: number;
  hw_timestamp: X.Timespec;
  sw_timestamp: X.Timespec;
}

/** vma_recv_callback_t: returns VMA_PACKET_DROP, VMA_PACKET_RECV or VMA_PACKET_HOLD. */
export type VmaRecvCallback = (fd: number, iov: Uint8Array[], info: VmaInfo, context: unknown) => number;

/** vma_packet_t */
export interface VmaPacket {
  packet_id: number;
  iov: Uint8Array[];
}

/** recvfrom_zcopy's result (C: the return value, *flags, *from and the vma_packets_t in buf). */
export interface ZcopyResult {
  bytes: number;
  flags: number;
  from: Address;
  packets: VmaPacket[];
}

/** Per-socket extra-API state (options, callback). */
export class Extra {
  callback: VmaRecvCallback | null = null;
  context: unknown = undefined;
  userData: unknown;
  ringLogic = C.RING_LOGIC_PER_INTERFACE;
  ringUserId = 0;
  ringProfileKey = 0;
  flowTag = 0;
  timestamping = 0;
  timestamp = false;
  timestampNs = false;
  readonly info: VmaInfo = newInfo();
  constructor(fd: number) {
    this.userData = fd;
  }
}

/** A vma_info_t to reuse for every callback of one socket. */
function newInfo(): VmaInfo {
  return {
    struct_sz: 72, packet_id: 0, src: { address: '', port: 0 }, dst: { address: '', port: 0 }, payload_sz: 0,
    socket_ready_queue_pkt_count: 0, socket_ready_queue_byte_count: 0, hw_timestamp: { ...X.ZERO_TS }, sw_timestamp: { ...X.ZERO_TS },
  };
}

const extras = new WeakMap<SocketEntry, Extra>();
/** A socket's extra-API state (made on first use). */
export function extraOf(e: SocketEntry): Extra {
  let x = extras.get(e);
  if (!x) extras.set(e, (x = new Extra(e.fd)));
  return x;
}

/** VMA_ERRNO inverted: the name of a Linux errno number. */
const ERRNO_NAMES = new Map((Object.keys(C.VMA_ERRNO) as C.VmaErrnoName[]).map((k) => [C.VMA_ERRNO[k] as number, k]));

let errnoValue = 0;
let errnoCode = '';
function fail(code: C.VmaErrnoName): -1 {
  errnoValue = C.VMA_ERRNO[code];
  errnoCode = code;
  return -1;
}

/** The registry entry of a socket argument (undefined: not a tsvma socket, or closed). */
function entry(s: SocketRef): SocketEntry | undefined {
  if (typeof s === 'number') return Number.isInteger(s) && s > 0 ? socketByFd(s) : undefined;
  if (s === null || typeof s !== 'object') return undefined;
  const direct = entryOf(s);
  if (direct) return direct;
  const h = (s as { _handle?: unknown })._handle;
  return h !== null && typeof h === 'object' ? entryOf(h) : undefined;
}

/** The small integer fd of a tsvma socket (dgram Socket, net.Socket, net.Server), or -1. */
export function fdOf(socket: object): number {
  return entry(socket)?.fd ?? -1;
}

function rt(): Runtime {
  return runtime()!;
}

/** The interfaces (rings) a socket receives on: its bound address's, or every one for a wildcard or group bind. */
function socketIfcs(e: SocketEntry): Interface[] {
  const stack = rt().engine.stack;
  let ip = 0;
  if (e.udp) {
    if (!e.udp.bound || e.udp.closed) return [];
    ip = e.udp.localIp;
  } else if (e.tcp) {
    ip = e.tcp.localIp >>> 0;
    if (ip === 0 && e.tcp.remoteIp === 0 && e.tcp.localPort === 0) return [];
  } else return [];
  if (ip === 0) return stack.interfaces;
  const own = stack.isLocal(ip);
  if (own) return [own];
  const r = stack.route(ip);
  return r ? [r.ifc] : [];
}

function ringsOf(e: SocketEntry): Ring[] {
  return socketIfcs(e).map((i) => i.ring);
}

function addressOf(to: Address | string): { ip: number; port: number } {
  if (typeof to === 'string') return { ip: parseIp(to), port: 0 };
  if (to === null || typeof to !== 'object') return { ip: -1, port: 0 };
  return { ip: typeof to.address === 'string' ? parseIp(to.address) : -1, port: Number(to.port) || 0 };
}

// ---------------------------------------------------------------------------------------------
// Receive callback (UDP; TCP through lib/extra/tcp when the TCP stack supports it)

/** Installs the UDP socket's filter: SocketXtreme's and/or the application's callback. */
function installUdpFilter(e: SocketEntry): void {
  const s = e.udp!;
  const x = extraOf(e);
  const xtreme = rt().loaded.config.vma.socketXtreme;
  if (!x.callback && !xtreme) {
    s.rxFilter = null;
    return;
  }
  // The last sender's and destination's address text: formatted once per new address, not per datagram.
  let lastSrc = -1;
  let lastSrcText = '';
  let lastDst = -1;
  let lastDstText = '';
  s.rxFilter = (sock: UdpSocket, ifc, id, src, sport, dst, off, len, data, now) => {
    const ring = ifc.ring;
    const pool = ring.rxPool;
    if (src !== lastSrc) {
      lastSrc = src;
      lastSrcText = formatIp(src);
    }
    // Past the copy-fallback mark a payload is given as a heap copy; the ring buffer goes back on HOLD.
    const copy = data === null && overLimit(ring) ? Buffer.from(pool.buf.subarray(off, off + len)) : null;
    const view = data !== null ? data.subarray(0, len) : copy ?? pool.buf.subarray(off, off + len);
    const tsMs = id >= 0 ? pool.timestamp(id) || now : now;
    if (x.callback) {
      const info = x.info;
      info.packet_id = peekPacketId();
      info.src.address = lastSrcText;
      info.src.port = sport;
      if (dst !== lastDst) {
        lastDst = dst;
        lastDstText = formatIp(dst);
      }
      info.dst.address = lastDstText;
      info.dst.port = sock.localPort;
      info.payload_sz = len;
      info.socket_ready_queue_pkt_count = sock.queued;
      info.socket_ready_queue_byte_count = sock.queuedBytes;
      X.setTimespec(info.sw_timestamp, tsMs);
      const verdict = invokeCallback(x, e.fd, view);
      if (verdict === C.VMA_PACKET_HOLD) {
        if (copy && id >= 0) pool.release(id);
        hold(e, ring, copy || data ? -1 : id, copy ?? data);
        return C.VMA_PACKET_HOLD;
      }
      if (verdict === C.VMA_PACKET_DROP) return C.VMA_PACKET_DROP;
    }
    if (!xtreme) return C.VMA_PACKET_RECV;
    // SocketXtreme: the datagram becomes a completion on its ring's queue.
    if (copy && id >= 0) pool.release(id);
    X.postPacket(ring, e, view, copy || data ? -1 : id, x.userData, { address: lastSrcText, port: sport }, tsMs);
    return C.VMA_PACKET_HOLD;
  };
}

/**
 * Calls the application's receive callback with one iovec, as VMA does; a callback that throws: the
 * packet is queued as usual (RECV) and the exception surfaces on the next tick, as a throwing
 * listener's would. lib/extra/tcp.ts calls it too.
 */
export function invokeCallback(x: Extra, fd: number, view: Uint8Array): number {
  try {
    return x.callback!(fd, [view], x.info, x.context);
  } catch (err) {
    process.nextTick(() => {
      throw err;
    });
    return C.VMA_PACKET_RECV;
  }
}

/** Called by lib/dgram.ts when a UDP socket is offloaded (SocketXtreme sockets get their filter at once). */
export function onUdpOffloaded(owner: object): void {
  const e = entryOf(owner);
  if (e && e.udp && runtime()?.loaded.config.vma.socketXtreme) installUdpFilter(e);
}

function register_recv_callback(s: SocketRef, callback: VmaRecvCallback | null, context?: unknown): number {
  const e = entry(s);
  if (!e || !e.offloaded) return fail('EINVAL');
  if (callback !== null && callback !== undefined && typeof callback !== 'function') return fail('EINVAL');
  const x = extraOf(e);
  x.callback = callback ?? null;
  x.context = context;
  if (e.udp) installUdpFilter(e);
  else if (e.tcp) {
    if (!tcpHooks) return fail('EOPNOTSUPP');
    tcpHooks.setCallback(e);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Zero-copy receive

/** Bytes of a vma_packets_t with one packet of `iovs` iovecs: n_packet_num, packet_id, sz_iov, iovecs. */
const zcopyHeaderBytes = (iovs: number): number => 8 + 8 + 8 + 16 * iovs;

function recvfrom_zcopy(s: SocketRef, len: number, flags = 0): ZcopyResult | -1 {
  const e = entry(s);
  if (!e || !e.offloaded) return fail('EINVAL');
  if (typeof len !== 'number' || !(len >= 0)) return fail('EINVAL');
  if (len < zcopyHeaderBytes(1)) return fail('ENOBUFS');
  if (e.tcp) {
    if (!tcpHooks) return fail('EOPNOTSUPP');
    return tcpHooks.recvZcopy(e, len, flags, fail);
  }
  const sock = e.udp!;
  const r = rt();
  const d = zd;
  if (!r.udp.receive(sock, d)) {
    e.rxEagain++;
    return fail('EAGAIN');
  }
  let outFlags = 0;
  let view: Uint8Array;
  let packetId: number;
  const ring = d.ifc!.ring;
  if (d.data) {
    view = d.data.subarray(d.offset, d.offset + d.length);
    packetId = hold(e, ring, -1, d.data);
  } else if ((flags & C.MSG_VMA_ZCOPY_FORCE) === 0 && overLimit(ring)) {
    const copy = Buffer.from(ring.rxPool.buf.subarray(d.offset, d.offset + d.length));
    ring.rxPool.release(d.id);
    view = copy;
    packetId = hold(e, ring, -1, copy);
  } else {
    view = ring.rxPool.buf.subarray(d.offset, d.offset + d.length);
    packetId = hold(e, ring, d.id, null);
    outFlags |= C.MSG_VMA_ZCOPY;
  }
  d.id = -1;
  d.ifc = null;
  d.data = null;
  if (d.srcIp !== zLastSrc) {
    zLastSrc = d.srcIp;
    zLastSrcText = formatIp(d.srcIp);
  }
  return { bytes: view.length, flags: outFlags, from: { address: zLastSrcText, port: d.srcPort }, packets: [{ packet_id: packetId, iov: [view] }] };
}
// The last sender's address text (a stream usually has one sender): formatted once per new sender.
let zLastSrc = -1;
let zLastSrcText = '';
// The datagram descriptor recvfrom_zcopy dequeues into.
const zd = new UdpDatagram();

function free_packets(s: SocketRef, pkts: (VmaPacket | number)[], count = pkts?.length): number {
  const e = entry(s);
  if (!e || !e.offloaded) return fail('EINVAL');
  if (!Array.isArray(pkts) || !Number.isInteger(count) || count < 0 || count > pkts.length) return fail('EINVAL');
  const rings = ringsOf(e);
  let bad: C.VmaErrnoName | null = null;
  for (let i = 0; i < count; i++) {
    const p = pkts[i];
    const id = typeof p === 'number' ? p : (p as VmaPacket | null)?.packet_id;
    const h = typeof id === 'number' ? heldPacket(id) : undefined;
    if (!h) {
      bad ??= 'EINVAL';
      continue;
    }
    if (!rings.includes(h.ring) && h.entry !== e) {
      bad ??= 'ENOENT';
      continue;
    }
    if (h.entry.tcp && tcpHooks) tcpHooks.freeHeld(h);
    release(h);
  }
  return bad ? fail(bad) : 0;
}

// ---------------------------------------------------------------------------------------------
// Rings

function get_socket_rings_num(s: SocketRef): number {
  const e = entry(s);
  return e && e.offloaded ? socketIfcs(e).length : 0;
}

/** The socket's RX ring fds (C fills `ring_fds` and returns the count): [] for a socket object with no rings yet (unbound). */
function get_socket_rings_fds(s: SocketRef, max = Infinity): number[] | -1 {
  if (!(max > 0)) return fail('EINVAL');
  const e = entry(s);
  if (!e) return typeof s === 'object' && s !== null ? [] : fail('EINVAL');
  if (!e.offloaded) return [];
  return ringsOf(e).slice(0, max).map((r) => ringFdOf(r));
}

function get_socket_tx_ring_fd(s: SocketRef, to: Address | string): number {
  const e = entry(s);
  if (!e || !e.offloaded) return fail('EINVAL');
  const a = addressOf(to);
  if (a.ip < 0) return fail('EINVAL');
  const r = rt().engine.stack.route(a.ip >>> 0);
  if (!r) return fail('ENODATA');
  return ringFdOf(r.ifc.ring);
}

/** The Ethernet + IPv4 + UDP/TCP header template of a connected socket (length fields and checksums 0). */
function get_socket_network_header(s: SocketRef): Uint8Array | -1 {
  const e = entry(s);
  if (!e) return fail('EINVAL');
  const u = e.udp;
  const t = e.tcp;
  const connected = u ? u.connected : t ? t.remoteIp !== 0 && t.remotePort !== 0 : false;
  if (!connected) return fail('ENOTCONN');
  const stack = rt().engine.stack;
  const local = u ? u.localIp : t!.localIp >>> 0;
  const remote = u ? u.remoteIp : t!.remoteIp >>> 0;
  const lport = u ? u.localPort : t!.localPort;
  const rport = u ? u.remotePort : t!.remotePort;
  const r = stack.route(remote);
  if (!r) return fail('ENOTCONN');
  // To one of our own addresses the frame never leaves the stack: the interface's own MAC.
  const mac = r.ifc.loopback || stack.isLocal(r.nextHop) ? r.ifc.mac : stack.neighborMac(r.ifc, r.nextHop);
  if (mac < 0) return fail('ENOTCONN'); // the neighbour is not resolved yet
  const l4 = u ? UDP_HEADER_LEN : TCP_MIN_HEADER_LEN;
  const b = new Bytes(new Uint8Array(ETHERNET_HEADER_LEN + IPV4_MIN_HEADER_LEN + l4));
  const eth = new EthernetRepr();
  eth.dst = mac;
  eth.src = r.ifc.mac;
  eth.ethertype = EtherType.Ipv4;
  const ipOff = emitEthernet(eth, b, 0);
  const ip = new Ipv4Repr();
  ip.src = (local || r.ifc.ip) >>> 0;
  ip.dst = remote;
  ip.protocol = u ? IpProtocol.Udp : IpProtocol.Tcp;
  ip.ttl = u ? u.ipOptions.ttl : 64;
  ip.dontFragment = !u; // TCP sets DF (path MTU discovery)
  ip.payloadLength = l4; // total length: the headers' own, the payload is added per packet
  const l4Off = ipOff + emitIpv4(ip, b, ipOff);
  b.dv.setUint16(ipOff + 10, 0); // the header checksum too is the sender's (it covers the total length)
  if (u) {
    const ur = new UdpRepr();
    ur.srcPort = lport;
    ur.dstPort = rport;
    emitUdp(ur, b, l4Off, 0, 0, false);
  } else {
    const tr = new TcpRepr();
    tr.srcPort = lport;
    tr.dstPort = rport;
    emitTcp(tr, b, l4Off, 0, 0, false);
  }
  return b.u8;
}

// ---------------------------------------------------------------------------------------------
// Policy, threads, statistics

function add_conf_rule(line: string): number {
  if (typeof line !== 'string') return fail('EINVAL');
  return addConfRule(rt().loaded.rules, line) === 0 ? 0 : fail('EINVAL');
}

function thread_offload(offload: number | boolean, tid: number = threadId): number {
  if (!Number.isInteger(tid) || tid < 0) return fail('EINVAL');
  return setThreadOffload(tid, !!offload) ? 0 : fail('ENOMEM');
}

function dump_fd_stats(fd: number, logLevel: number): number {
  if (!Number.isInteger(logLevel)) return fail('EINVAL');
  const list: SocketEntry[] = [];
  if (fd === 0) list.push(...registeredSockets());
  else {
    const e = socketByFd(fd);
    if (!e) return fail('EINVAL');
    list.push(e);
  }
  logger(rt().loaded.config.vma.logFile);
  for (const e of list) logAtVmaLevel(logLevel, formatCloseDump(socketRecord(socketValues(e))).trimEnd());
  return 0;
}

// ---------------------------------------------------------------------------------------------
// SocketXtreme

function xtremeOn(): boolean {
  return rt().loaded.config.vma.socketXtreme;
}

function socketxtreme_poll(ringFd: number, max: number, flags = 0): X.VmaCompletion[] | -1 {
  if (!xtremeOn()) return fail('EOPNOTSUPP');
  void flags;
  const ring = ringByFd(ringFd) as Ring | undefined;
  if (!ring) return fail('EBADFD');
  if (!Number.isInteger(max) || max < 1) return fail('EINVAL');
  if (X.pending(ring) === 0) rt().engine.poller.pollOnce();
  return X.take(ring, max);
}

function freeBuff(b: X.VmaBuff): number {
  if (b.id < 0 || !b.ring) return 0;
  const pool = b.ring.rxPool;
  const left = pool.refs(b.id) - 1;
  if (left === 0) {
    const owner = X.ownerOf(b);
    if (owner) owner.held--;
  }
  pool.release(b.id);
  if (left === 0) b.id = -1;
  return left;
}

function socketxtreme_free_vma_packets(packets: (X.VmaPacketDesc | X.VmaCompletion)[], num = packets?.length): number {
  if (!xtremeOn()) return fail('EOPNOTSUPP');
  if (!Array.isArray(packets) || !Number.isInteger(num) || num < 0 || num > packets.length) return fail('EINVAL');
  for (let i = 0; i < num; i++) {
    const p = packets[i] as X.VmaPacketDesc & Partial<X.VmaCompletion>;
    const desc = p && 'packet' in p && p.packet ? p.packet : p;
    if (!desc) return fail('EINVAL');
    for (let b = desc.buff_lst; b; b = b.next) freeBuff(b);
  }
  return 0;
}

function socketxtreme_ref_vma_buff(b: X.VmaBuff): number {
  if (!xtremeOn()) return fail('EOPNOTSUPP');
  if (!(b instanceof X.VmaBuff) || b.id < 0 || !b.ring) return fail('EINVAL');
  b.ring.rxPool.ref(b.id);
  return b.ring.rxPool.refs(b.id);
}

function socketxtreme_free_vma_buff(b: X.VmaBuff): number {
  if (!xtremeOn()) return fail('EOPNOTSUPP');
  if (!(b instanceof X.VmaBuff) || b.id < 0 || !b.ring) return fail('EINVAL');
  return freeBuff(b);
}

// ---------------------------------------------------------------------------------------------
// Socket options (setsockopt/getsockopt for VMA's own and the timestamp options)

function setsockopt(s: SocketRef, level: number, optname: number, value: unknown): number {
  const e = entry(s);
  if (!e) return fail('EBADF');
  if (level !== C.SOL_SOCKET) return fail('EOPNOTSUPP');
  const x = extraOf(e);
  switch (optname) {
    case C.SO_VMA_USER_DATA:
      x.userData = value;
      return 0;
    case C.SO_VMA_RING_ALLOC_LOGIC: {
      const v = value as { comp_mask?: number; ring_alloc_logic?: number; user_id?: number; ring_profile_key?: number } | null;
      if (!v || typeof v !== 'object') return fail('EINVAL');
      const logic = v.ring_alloc_logic;
      const valid = [C.RING_LOGIC_PER_INTERFACE, C.RING_LOGIC_PER_IP, C.RING_LOGIC_PER_SOCKET, C.RING_LOGIC_PER_USER_ID, C.RING_LOGIC_PER_THREAD, C.RING_LOGIC_PER_CORE, C.RING_LOGIC_PER_CORE_ATTACH_THREADS];
      if (typeof logic !== 'number' || !valid.includes(logic)) return fail('EINVAL');
      const mask = v.comp_mask ?? 0;
      // As VMA: PER_USER_ID needs a user id in the mask; a profile key must be one vma_add_ring_profile gave.
      if (logic === C.RING_LOGIC_PER_USER_ID && (mask & C.VMA_RING_ALLOC_MASK_RING_USER_ID) === 0) return fail('EINVAL');
      if (mask & C.VMA_RING_ALLOC_MASK_RING_PROFILE_KEY && !profiles.has(v.ring_profile_key ?? -1)) return fail('EINVAL');
      x.ringLogic = logic;
      x.ringUserId = mask & C.VMA_RING_ALLOC_MASK_RING_USER_ID ? (v.user_id ?? 0) : 0;
      x.ringProfileKey = mask & C.VMA_RING_ALLOC_MASK_RING_PROFILE_KEY ? (v.ring_profile_key ?? 0) : 0;
      return 0;
    }
    case C.SO_VMA_FLOW_TAG: {
      const tag = Number(value);
      if (!Number.isInteger(tag) || tag < 0 || tag > 0xffffffff) return fail('EINVAL');
      x.flowTag = tag;
      return 0;
    }
    case C.SO_VMA_SHUTDOWN_RX:
      if (e.udp) e.udp.rxShutdown = true;
      else if (e.tcp && tcpHooks) tcpHooks.shutdownRx(e);
      else return fail('EOPNOTSUPP');
      return 0;
    case C.SO_TIMESTAMP:
      x.timestamp = !!value;
      return 0;
    case C.SO_TIMESTAMPNS:
      x.timestampNs = !!value;
      return 0;
    case C.SO_TIMESTAMPING: {
      const f = Number(value);
      if (!Number.isInteger(f) || f < 0) return fail('EINVAL');
      // RX stamps only (TX timestamping is EOPNOTSUPP in VMA); hardware ones need a device that has them.
      if (f & 0x3) return fail('EOPNOTSUPP');
      if (f & (C.SOF_TIMESTAMPING_RX_HARDWARE | C.SOF_TIMESTAMPING_RAW_HARDWARE)) return fail('EPERM');
      x.timestamping = f;
      return 0;
    }
    default:
      return fail('EOPNOTSUPP');
  }
}

function getsockopt(s: SocketRef, level: number, optname: number): unknown {
  const e = entry(s);
  if (!e) return fail('EBADF');
  if (level !== C.SOL_SOCKET) return fail('EOPNOTSUPP');
  const x = extraOf(e);
  switch (optname) {
    case C.SO_VMA_USER_DATA: return x.userData;
    case C.SO_VMA_RING_ALLOC_LOGIC: return { ring_alloc_logic: x.ringLogic, user_id: x.ringUserId, ring_profile_key: x.ringProfileKey };
    case C.SO_VMA_FLOW_TAG: return x.flowTag;
    case C.SO_VMA_SHUTDOWN_RX: return (e.udp ? e.udp.rxShutdown : !!e.tcp?.rxShutdown) ? 1 : 0;
    case C.SO_TIMESTAMP: return x.timestamp ? 1 : 0;
    case C.SO_TIMESTAMPNS: return x.timestampNs ? 1 : 0;
    case C.SO_TIMESTAMPING: return x.timestamping;
    default: return fail('EOPNOTSUPP');
  }
}


// ---------------------------------------------------------------------------------------------
// Dummy send

/**
 * send(2) with flags for an offloaded socket: `VMA_SND_FLAGS_DUMMY` runs the TX path and puts
 * nothing on the wire (n_tx_dummy). `to` is needed for an unconnected UDP socket. Returns the bytes
 * or -1.
 */
function send(s: SocketRef, data: Uint8Array | string, flags = 0, to?: Address): number {
  const e = entry(s);
  if (!e || !e.offloaded) return fail('EBADF');
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  if (!(buf instanceof Uint8Array)) return fail('EFAULT');
  if ((flags & ~C.VMA_SND_FLAGS_DUMMY) !== 0) return fail('EOPNOTSUPP');
  const dummy = (flags & C.VMA_SND_FLAGS_DUMMY) !== 0;
  const r = rt();
  const now = r.engine.clock();
  let n: number;
  if (e.udp) {
    const dst = to ? addressOf(to) : { ip: 0, port: 0 };
    if (dst.ip < 0) return fail('EINVAL');
    n = r.udp.send(e.udp, buf, 0, buf.length, dst.ip, dst.port, now, dummy);
  } else {
    if (!tcpHooks) return fail('EOPNOTSUPP');
    n = tcpHooks.send(e, buf, dummy, now);
  }
  r.engine.flush(now);
  r.engine.poller.touch(); // a send (also a dummy one) is activity: the poller stays hot for what follows
  if (n < 0) {
    const name = ERRNO_NAMES.get(-n);
    if (name === 'EAGAIN') e.txEagain++;
    if (name) return fail(name);
    errnoValue = -n;
    errnoCode = `E${-n}`;
    return -1;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Ring profiles, moderation, memory, ioctl

const profiles = new Map<number, { ring_type: number }>();
let nextProfileKey = 1;

function vma_add_ring_profile(profile: { ring_type: number }): number {
  if (!profile || typeof profile !== 'object') return fail('EINVAL');
  // Only packet rings exist in tsvma; external-memory rings need a NIC that writes into user memory.
  if (profile.ring_type === C.VMA_RING_EXTERNAL_MEM) return fail('EOPNOTSUPP');
  if (profile.ring_type !== C.VMA_RING_PACKET) return fail('EINVAL');
  const key = nextProfileKey++;
  profiles.set(key, { ring_type: profile.ring_type });
  return key;
}

function vma_modify_ring(attr: { ring_fd: number; comp_bit_mask: number; cq_moderation?: { cq_moderation_count: number; cq_moderation_period_usec: number } }): number {
  if (!attr || typeof attr !== 'object') return fail('EINVAL');
  const ring = ringByFd(attr.ring_fd) as Ring | undefined;
  if (!ring) return fail('EINVAL');
  if (attr.comp_bit_mask & C.VMA_MODIFY_RING_CQ_ARM) return fail('EOPNOTSUPP'); // direct rings only
  if (attr.comp_bit_mask & C.VMA_MODIFY_RING_CQ_MODERATION) {
    const m = attr.cq_moderation;
    if (!m || !Number.isInteger(m.cq_moderation_count) || m.cq_moderation_count < 0) return fail('EINVAL');
    const dev = ring.device as { setModeration?: (count: number, periodUs: number) => number };
    if (typeof dev.setModeration === 'function') {
      const r = dev.setModeration(m.cq_moderation_count, m.cq_moderation_period_usec | 0);
      if (r < 0) return fail('EINVAL');
    } else {
      // No CQ on this device: the count is the poller's budget (frames per ring per turn).
      rt().engine.poller.setBudget(Math.max(1, m.cq_moderation_count));
    }
  }
  return 0;
}

function unsupported(): number {
  return fail('EOPNOTSUPP');
}

/** A device that registers application memory (the verbs devices: ibv_reg_mr on their PD). */
interface MemoryRegistrar {
  registerMemory(mem: Uint8Array): number;
  deregisterMemory(mem: Uint8Array): boolean;
}

function registrar(ring: Ring): MemoryRegistrar | null {
  const d = ring.device as Partial<MemoryRegistrar>;
  return typeof d.registerMemory === 'function' && typeof d.deregisterMemory === 'function' ? (d as MemoryRegistrar) : null;
}

/** register_memory_on_ring(sock, mem): registers `mem` on the device of the socket's (first) ring; returns the lkey. */
function register_memory_on_ring(s: SocketRef, mem: Uint8Array): number {
  const e = entry(s);
  if (!e || !e.offloaded) return fail('EINVAL');
  if (!(mem instanceof Uint8Array) || mem.byteLength === 0) return fail('EINVAL');
  const ring = ringsOf(e)[0];
  if (!ring) return fail('EINVAL');
  const reg = registrar(ring);
  if (!reg) return fail('EOPNOTSUPP');
  try {
    return reg.registerMemory(mem);
  } catch {
    return fail('ENOMEM');
  }
}

function deregister_memory_on_ring(s: SocketRef, mem: Uint8Array): number {
  const e = entry(s);
  if (!e || !e.offloaded) return fail('EINVAL');
  const ring = ringsOf(e)[0];
  const reg = ring ? registrar(ring) : null;
  if (!reg) return fail(ring ? 'EOPNOTSUPP' : 'EINVAL');
  return reg.deregisterMemory(mem) ? 0 : fail('EINVAL');
}

/**
 * ioctl(cmsgs): `[{ level: SOL_SOCKET, type: CMSG_VMA_IOCTL_USER_ALLOC, data: { flags, memalloc, memfree } }]`
 * — the application allocates the ring pools' memory (`memalloc(bytes)` → a Uint8Array of at least
 * that size; `memfree(mem)` when the ring closes). As VMA, only before the library starts: here
 * before the runtime exists (the first offloaded socket or a member that needs the rings), else EINVAL.
 */
function ioctl(cmsgs: { level: number; type: number; data?: unknown }[]): number {
  if (!Array.isArray(cmsgs) || cmsgs.length === 0) return fail('EINVAL');
  for (const m of cmsgs) {
    if (!m || m.level !== C.SOL_SOCKET || m.type !== C.CMSG_VMA_IOCTL_USER_ALLOC) return fail('EINVAL');
    const d = m.data as { flags?: number; memalloc?: unknown; memfree?: unknown } | undefined;
    if (!d || typeof d.memalloc !== 'function' || typeof d.memfree !== 'function') return fail('EINVAL');
    const flags = d.flags ?? C.VMA_IOCTL_USER_ALLOC_FLAG_RX | C.VMA_IOCTL_USER_ALLOC_FLAG_TX;
    if ((flags & ~(C.VMA_IOCTL_USER_ALLOC_FLAG_RX | C.VMA_IOCTL_USER_ALLOC_FLAG_TX)) !== 0 || flags === 0) return fail('EINVAL');
    const memalloc = d.memalloc as (n: number) => Uint8Array;
    const ok = setPoolAllocator({
      rx: flags & C.VMA_IOCTL_USER_ALLOC_FLAG_RX ? memalloc : undefined,
      tx: flags & C.VMA_IOCTL_USER_ALLOC_FLAG_TX ? memalloc : undefined,
      free: d.memfree as (mem: Uint8Array) => void,
    });
    if (!ok) return fail('EINVAL');
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// TCP's parts (lib/extra/tcp.ts registers them when the TCP stack has the primitives)

export interface TcpExtraHooks {
  /** The socket's callback (extraOf(e)) changed: install or clear its filter. */
  setCallback(e: SocketEntry): void;
  recvZcopy(e: SocketEntry, len: number, flags: number, fail: (c: C.VmaErrnoName) => -1): ZcopyResult | -1;
  freeHeld(h: HeldPacket): void;
  shutdownRx(e: SocketEntry): void;
  send(e: SocketEntry, data: Uint8Array, dummy: boolean, now: number): number;
}
let tcpHooks: TcpExtraHooks | null = null;
export function setTcpExtraHooks(h: TcpExtraHooks): void {
  tcpHooks = h;
}

// ---------------------------------------------------------------------------------------------

export interface VmaApi {
  readonly vma_extra_supported_mask: number;
  readonly errno: number;
  readonly code: string;
  register_recv_callback: typeof register_recv_callback;
  recvfrom_zcopy: typeof recvfrom_zcopy;
  free_packets: typeof free_packets;
  add_conf_rule: typeof add_conf_rule;
  thread_offload: typeof thread_offload;
  dump_fd_stats: typeof dump_fd_stats;
  socketxtreme_poll: typeof socketxtreme_poll;
  socketxtreme_free_vma_packets: typeof socketxtreme_free_vma_packets;
  socketxtreme_ref_vma_buff: typeof socketxtreme_ref_vma_buff;
  socketxtreme_free_vma_buff: typeof socketxtreme_free_vma_buff;
  get_socket_rings_num: typeof get_socket_rings_num;
  get_socket_rings_fds: typeof get_socket_rings_fds;
  get_socket_tx_ring_fd: typeof get_socket_tx_ring_fd;
  get_socket_network_header: typeof get_socket_network_header;
  register_memory_on_ring: typeof register_memory_on_ring;
  deregister_memory_on_ring: typeof deregister_memory_on_ring;
  vma_modify_ring: typeof vma_modify_ring;
  vma_add_ring_profile: typeof vma_add_ring_profile;
  ioctl: typeof ioctl;
  get_ring_direct_descriptors: (fd: SocketRef) => number;
  /** Not in vma_api_t: setsockopt/getsockopt for SO_VMA_* and timestamp options, send(2) with flags, and the fd accessor. */
  setsockopt: typeof setsockopt;
  getsockopt: typeof getsockopt;
  send: typeof send;
  fdOf: typeof fdOf;
}

let api: VmaApi | null = null;

/** VMA's vma_get_api(): the extra API, or null when no device is configured. The same object on every call. */
export function getVmaApi(): VmaApi | null {
  if (api) return api;
  // The runtime itself starts on the first member that needs it (ioctl's allocator must come first).
  const kind = loadedDeviceKind();
  if (kind === null) return null;
  // Only the verbs devices register memory (their kind is known from the configuration, before the device opens).
  const memory = kind === 'verbs-ud' || kind === 'verbs-eth' ? C.VMA_EXTRA_API_REGISTER_MEMORY_ON_RING | C.VMA_EXTRA_API_DEREGISTER_MEMORY_ON_RING : 0;
  const mask = memory |
    C.VMA_EXTRA_API_REGISTER_RECV_CALLBACK | C.VMA_EXTRA_API_RECVFROM_ZCOPY | C.VMA_EXTRA_API_FREE_PACKETS | C.VMA_EXTRA_API_ADD_CONF_RULE |
    C.VMA_EXTRA_API_THREAD_OFFLOAD | C.VMA_EXTRA_API_DUMP_FD_STATS | C.VMA_EXTRA_API_SOCKETXTREME_POLL | C.VMA_EXTRA_API_SOCKETXTREME_FREE_VMA_PACKETS |
    C.VMA_EXTRA_API_SOCKETXTREME_REF_VMA_BUFF | C.VMA_EXTRA_API_SOCKETXTREME_FREE_VMA_BUFF | C.VMA_EXTRA_API_GET_SOCKET_RINGS_NUM |
    C.VMA_EXTRA_API_GET_SOCKET_RINGS_FDS | C.VMA_EXTRA_API_GET_SOCKET_TX_RING_FD | C.VMA_EXTRA_API_GET_SOCKET_NETWORK_HEADER |
    C.VMA_EXTRA_API_ADD_RING_PROFILE | C.VMA_EXTRA_API_MODIFY_RING | C.VMA_EXTRA_API_IOCTL;
  const obj = {
    vma_extra_supported_mask: mask,
    get errno(): number {
      return errnoValue;
    },
    get code(): string {
      return errnoCode;
    },
    register_recv_callback, recvfrom_zcopy, free_packets, add_conf_rule, thread_offload, dump_fd_stats,
    socketxtreme_poll, socketxtreme_free_vma_packets, socketxtreme_ref_vma_buff, socketxtreme_free_vma_buff,
    get_socket_rings_num, get_socket_rings_fds, get_socket_tx_ring_fd, get_socket_network_header,
    // Memory registration needs a verbs device's PD (mask bits set only there); direct descriptors mlx5 queue access (not done).
    register_memory_on_ring, deregister_memory_on_ring, get_ring_direct_descriptors: unsupported,
    vma_modify_ring, vma_add_ring_profile, ioctl,
    setsockopt, getsockopt, send, fdOf,
  };
  api = Object.freeze(obj);
  return api;
}

