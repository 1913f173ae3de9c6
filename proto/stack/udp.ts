/**
 * UDP sockets in the stack (RFC 768; RFC 1122 §4.1 for hosts: port-unreachable for closed ports,
 * none for broadcast/multicast; ICMP errors reported to connected sockets as the kernel does).
 *
 * Received datagrams stay in their RX buffers (zero-copy): a socket's queue holds buffer ids with the
 * sender and payload position; the reader copies or keeps them and releases each. A queue is bounded
 * in bytes (SO_RCVBUF-like); what does not fit is dropped and counted. Errors are negative errno
 * values (Node's lib layer turns them into its own error objects).
 *
 * Datagrams larger than the MTU are sent as IPv4 fragments and reassembled on receipt (bounded; see
 * reassembly.ts).
 *
 * Multicast and broadcast (RFC 1112 §6, as Linux's __udp4_lib_mcast_deliver): a datagram to a group
 * or a broadcast address goes to every socket bound to its port (the group's address or the
 * wildcard) — one buffer, one reference per socket. A socket that joined the group for given
 * sources only gets those sources' datagrams; a socket that did not join gets the groups other
 * sockets joined (IP_MULTICAST_ALL, on by default in Linux). Memberships are per socket and
 * interface; the interface's merged state and IGMP are the IgmpHost's (igmp.ts).
 */
import type { Interface } from './interface';
import { formatIp, isMulticastIpv4 } from '../wire/addr';
import { emitIcmp, IcmpRepr, IcmpType, IcmpUnreachCode } from '../wire/icmp';
import { IpProtocol, ipv4HeaderLen, type Ipv4Repr } from '../wire/ipv4';
import { WireStatus } from '../wire/status';
import { Bytes } from '../wire/bytes';
import { emitUdp, parseUdp, UDP_HEADER_LEN, UdpRepr } from '../wire/udp';
import { TX_HEADROOM, type Stack } from './stack';

/** errno values (Linux), returned negated. */
export const enum Errno {
  EINVAL = 22,
  EMSGSIZE = 90,
  EADDRINUSE = 98,
  EADDRNOTAVAIL = 99,
  ENETUNREACH = 101,
  ENOBUFS = 105,
  EISCONN = 106,
  EDESTADDRREQ = 89,
  ECONNREFUSED = 111,
  EHOSTUNREACH = 113,
  EBADF = 9,
  ENODEV = 19,
  // TCP's (proto/tcp/types.ts TcpErrno has the same numbers).
  EAGAIN = 11,
  EPIPE = 32,
  EOPNOTSUPP = 95,
  ECONNABORTED = 103,
  ECONNRESET = 104,
  ENOTCONN = 107,
  ETIMEDOUT = 110,
  EALREADY = 114,
  EINPROGRESS = 115,
}

/** The largest UDP payload over IPv4: 65535 - 20 (IP header) - 8 (UDP header). */
export const UDP_MAX_PAYLOAD = 65507;

/** Linux's default ephemeral range (net.ipv4.ip_local_port_range). */
export const EPHEMERAL_LOW = 32768;
export const EPHEMERAL_HIGH = 60999;
/** Linux's default net.core.rmem_default. */
export const DEFAULT_RCVBUF = 212992;

export interface UdpSocketCounters {
  rxPackets: number;
  rxBytes: number;
  /** Datagrams dropped because the receive queue was full. */
  rxQueueDrops: number;
  /** Datagrams a receive filter dropped (VMA_PACKET_DROP). */
  rxFilterDrops: number;
  /** Datagrams a receive filter kept for the application (VMA_PACKET_HOLD). */
  rxHeld: number;
  /** Datagrams dropped because receiving was shut down (SO_VMA_SHUTDOWN_RX). */
  rxShutdownDrops: number;
  txPackets: number;
  txBytes: number;
  txErrors: number;
  /** Dummy sends (VMA_SND_FLAGS_DUMMY): the TX path ran, nothing went on the wire. */
  txDummy: number;
}

/** One multicast membership of a socket: a group on an interface, for any source or for `sources`. */
export interface Membership {
  readonly ifc: Interface;
  readonly group: number;
  /** null: any source (EXCLUDE {}); else the sources joined (INCLUDE). */
  sources: number[] | null;
}

/** What a receive filter decides for a datagram (VMA's vma_recv_callback_retval_t values). */
export const enum RxVerdict {
  /** Free the buffer at once (another socket of a multicast fan-out may still hold it). */
  Drop = 0,
  /** Queue it as usual. */
  Recv = 1,
  /** The filter keeps the buffer reference (released later by the application). */
  Hold = 2,
}

/**
 * A receive filter (VMA's register_recv_callback): called for each datagram after header
 * processing and before queueing, with its RX buffer `id` on `ifc`'s ring and the payload at
 * [off, off+len) of the ring's RX region — or, for a reassembled datagram, `id` -1 and the bytes in
 * `data` [0, len) (a copy the socket owns). Returns an RxVerdict; on Hold the filter owns the
 * buffer's reference (or `data`). `now` is the stack's clock (ms) at delivery.
 */
export type UdpRxFilter = (s: UdpSocket, ifc: Interface, id: number, src: number, sport: number, dst: number, off: number, len: number, data: Buffer | null, now: number) => number;

/** One received datagram, described in place (the caller owns `this` and reuses it). */
export class UdpDatagram {
  /** RX buffer id (owned by the caller after `receive`; release it with `Udp.release`). */
  id = -1;
  srcIp = 0;
  srcPort = 0;
  dstIp = 0;
  /** Absolute offset of the payload in the ring's RX region, and its length. */
  offset = 0;
  length = 0;
  /** The interface (its ring's RX pool holds the bytes). */
  ifc: Interface | null = null;
  /** For a reassembled datagram: the bytes are data[offset, offset+length) instead of the ring's (id is -1). */
  data: Buffer | null = null;
}

let nextSocketId = 1;

export class UdpSocket {
  readonly id = nextSocketId++;
  localIp = 0;
  localPort = 0;
  remoteIp = 0;
  remotePort = 0;
  bound = false;
  connected = false;
  closed = false;
  reuseAddr = false;
  /** Bound to a specific address by the application (connect does not change it, disconnect keeps it). */
  addrLocked = false;
  /** Options for every IPv4 packet this socket sends, made once (IP_TTL lives here). */
  readonly ipOptions = { ttl: 64, dontFragment: false };
  /** The same for multicast destinations: IP_MULTICAST_TTL (default 1) and IP_MULTICAST_LOOP. */
  readonly mcOptions = { ttl: 1, dontFragment: false, multicastLoop: true };
  /** IP_MULTICAST_IF: the interface multicast leaves by (null: the route's). */
  mcInterface: Interface | null = null;
  /** Multicast memberships (few per socket). */
  readonly memberships: Membership[] = [];
  rcvBuf = DEFAULT_RCVBUF;
  queuedBytes = 0;
  /** A pending asynchronous error (e.g. ECONNREFUSED from an ICMP port unreachable), as a negative errno. */
  pendingError = 0;
  readonly counters: UdpSocketCounters = { rxPackets: 0, rxBytes: 0, rxQueueDrops: 0, rxFilterDrops: 0, rxHeld: 0, rxShutdownDrops: 0, txPackets: 0, txBytes: 0, txErrors: 0, txDummy: 0 };
  /** The receive filter (null: every datagram is queued). */
  rxFilter: UdpRxFilter | null = null;
  /** SO_VMA_SHUTDOWN_RX: datagrams for this socket are dropped (counted) instead of queued. */
  rxShutdown = false;
  /** Called when a datagram was queued (once per datagram). */
  onReadable: ((s: UdpSocket) => void) | null = null;
  /** Called when an asynchronous error arrives. */
  onError: ((s: UdpSocket, errno: number) => void) | null = null;
  // The receive queue: parallel arrays used as a ring.
  private qIds = new Int32Array(64);
  private qSrc = new Uint32Array(64);
  private qPort = new Uint16Array(64);
  private qDst = new Uint32Array(64);
  private qOff = new Int32Array(64);
  private qLen = new Int32Array(64);
  private qIfc: (Interface | null)[] = new Array(64).fill(null);
  private qData: (Buffer | null)[] = new Array(64).fill(null);
  private qHead = 0;
  /** Datagrams queued. */
  queued = 0;

  /** @internal */
  enqueue(ifc: Interface, id: number, src: number, port: number, dst: number, off: number, len: number, data: Buffer | null = null): boolean {
    if (this.queuedBytes + len > this.rcvBuf && this.queued > 0) return false;
    if (this.queued === this.qIds.length) this.grow();
    const i = (this.qHead + this.queued) % this.qIds.length;
    this.qIds[i] = id;
    this.qSrc[i] = src;
    this.qPort[i] = port;
    this.qDst[i] = dst;
    this.qOff[i] = off;
    this.qLen[i] = len;
    this.qIfc[i] = ifc;
    this.qData[i] = data;
    this.queued++;
    this.queuedBytes += len;
    return true;
  }

  /** @internal */
  dequeue(out: UdpDatagram): boolean {
    if (this.queued === 0) return false;
    const i = this.qHead;
    out.id = this.qIds[i];
    out.srcIp = this.qSrc[i];
    out.srcPort = this.qPort[i];
    out.dstIp = this.qDst[i];
    out.offset = this.qOff[i];
    out.length = this.qLen[i];
    out.ifc = this.qIfc[i];
    out.data = this.qData[i];
    this.qIfc[i] = null;
    this.qData[i] = null;
    this.qHead = (this.qHead + 1) % this.qIds.length;
    this.queued--;
    this.queuedBytes -= out.length;
    return true;
  }

  private grow(): void {
    const n = this.qIds.length;
    const order = (a: Int32Array | Uint32Array | Uint16Array): void => {
      const c = a.slice();
      for (let k = 0; k < n; k++) a[k] = c[(this.qHead + k) % n];
    };
    const grow32 = <T extends Int32Array | Uint32Array | Uint16Array>(a: T, make: (len: number) => T): T => {
      order(a);
      const b = make(n * 2);
      b.set(a);
      return b;
    };
    this.qIds = grow32(this.qIds, (l) => new Int32Array(l));
    this.qSrc = grow32(this.qSrc, (l) => new Uint32Array(l));
    this.qPort = grow32(this.qPort, (l) => new Uint16Array(l));
    this.qDst = grow32(this.qDst, (l) => new Uint32Array(l));
    this.qOff = grow32(this.qOff, (l) => new Int32Array(l));
    this.qLen = grow32(this.qLen, (l) => new Int32Array(l));
    const ifcs = this.qIfc;
    const datas = this.qData;
    this.qIfc = new Array(n * 2).fill(null);
    this.qData = new Array(n * 2).fill(null);
    for (let k = 0; k < n; k++) {
      this.qIfc[k] = ifcs[(this.qHead + k) % n];
      this.qData[k] = datas[(this.qHead + k) % n];
    }
    this.qHead = 0;
  }
}

export interface UdpCounters {
  /** Datagrams for a port no socket has; answered with ICMP port unreachable (rate-limited). */
  noPort: number;
  /** Of those, to broadcast/multicast (never answered). */
  noPortBroadcast: number;
  malformed: number;
  badChecksum: number;
  portUnreachSent: number;
  portUnreachRateLimited: number;
  icmpErrorsDelivered: number;
}

/** Whether a datagram to `dst` on `ifc` goes to every socket on its port: multicast or broadcast. */
const isGroupDestination = (ifc: Interface, dst: number): boolean => isMulticastIpv4(dst) || dst === 0xffffffff || dst === ifc.broadcast;

export class Udp {
  readonly counters: UdpCounters = { noPort: 0, noPortBroadcast: 0, malformed: 0, badChecksum: 0, portUnreachSent: 0, portUnreachRateLimited: 0, icmpErrorsDelivered: 0 };
  /**
   * Bound sockets by local port, in bind order, whatever their address (a group or the wildcard
   * included). Keyed by the port alone: a port is a small integer, so a probe never boxes a number
   * (an (address, port) key above 2^31 would be a heap number per lookup, two per datagram).
   */
  private readonly bound = new Map<number, UdpSocket[]>();
  private nextEphemeral = EPHEMERAL_LOW;
  /** The sockets of the multicast/broadcast datagram being delivered (reused: no array per datagram). */
  private readonly targets: UdpSocket[] = [];
  private readonly rx = new UdpRepr();
  private readonly tx = new UdpRepr();
  private readonly icmp = new IcmpRepr();
  // ICMP error rate limit: a token bucket, 1000 per second, burst 50 (Linux icmp_msgs_per_sec/burst).
  private tokens = 50;
  private tokensAt = 0;

  constructor(readonly stack: Stack) {
    stack.setProtocolHandler(IpProtocol.Udp, (ifc, ip, id, off, len, now) => this.input(ifc, ip, id, off, len, now));
    stack.setReassembledHandler(IpProtocol.Udp, (ifc, ip, payload, now) => this.inputReassembled(ifc, ip, payload, now));
    stack.setIcmpErrorHandler(IpProtocol.Udp, (type, code, quotedIp, quotedOff, b) => this.icmpError(type, code, quotedIp, quotedOff, b));
  }

  open(): UdpSocket {
    return new UdpSocket();
  }

  /** Binds to (ip, port); port 0 picks an ephemeral port. Returns 0 or a negative errno. */
  bind(s: UdpSocket, ip: number, port: number, reuseAddr = false): number {
    if (s.closed) return -Errno.EBADF;
    if (s.bound) return -Errno.EINVAL;
    ip >>>= 0;
    // Linux binds to a local, multicast or broadcast address (inet_bind's RTN_LOCAL/MULTICAST/BROADCAST).
    if (ip !== 0 && !this.stack.isLocal(ip) && !this.stack.interfaces.some((i) => isGroupDestination(i, ip))) return -Errno.EADDRNOTAVAIL;
    if (port === 0) {
      port = this.ephemeral(ip);
      if (port === 0) return -Errno.EADDRINUSE;
    } else if (!this.available(ip, port, reuseAddr) || !this.stack.claimPort(IpProtocol.Udp, port, reuseAddr)) return -Errno.EADDRINUSE;
    s.localIp = ip;
    s.localPort = port;
    s.addrLocked = ip !== 0;
    s.reuseAddr = reuseAddr;
    s.bound = true;
    this.link(s);
    return 0;
  }

  /** Connects (fixes the peer; binds first if needed). Returns 0 or a negative errno. */
  connect(s: UdpSocket, ip: number, port: number): number {
    if (s.closed) return -Errno.EBADF;
    if (port === 0) return -Errno.EINVAL;
    const r = this.stack.route(ip >>> 0);
    if (!r) return -Errno.ENETUNREACH;
    if (!s.bound) {
      const b = this.bind(s, 0, 0);
      if (b < 0) return b;
    }
    // As Linux (ip4_datagram_connect): a wildcard socket takes the route's source address, until disconnect.
    if (s.localIp === 0 && !isMulticastIpv4(ip) && ip >>> 0 !== 0xffffffff) this.rebind(s, r.ifc.ip);
    s.remoteIp = ip >>> 0;
    s.remotePort = port;
    s.connected = true;
    return 0;
  }

  disconnect(s: UdpSocket): void {
    s.connected = false;
    s.remoteIp = 0;
    s.remotePort = 0;
    if (!s.addrLocked && s.localIp !== 0) this.rebind(s, 0);
  }

  /** Moves a bound socket to another local address (same port) in the table. */
  private rebind(s: UdpSocket, ip: number): void {
    this.unlink(s);
    s.localIp = ip >>> 0;
    this.link(s);
  }

  /** Adds a bound socket to the table under its (address, port). */
  private link(s: UdpSocket): void {
    const list = this.bound.get(s.localPort);
    if (list) list.push(s);
    else this.bound.set(s.localPort, [s]);
  }

  private unlink(s: UdpSocket): void {
    const k = s.localPort;
    const list = this.bound.get(k);
    if (!list) return;
    const i = list.indexOf(s);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.bound.delete(k);
  }

  /**
   * Sends `len` bytes of `data` from `off` to (dstIp, dstPort) — or to the connected peer when
   * dstPort is 0. Binds to an ephemeral port first if needed. Returns the bytes sent or a negative errno.
   */
  send(s: UdpSocket, data: Uint8Array, off: number, len: number, dstIp: number, dstPort: number, now: number, dummy = false): number {
    if (s.closed) return -Errno.EBADF;
    if (dstPort === 0) {
      if (!s.connected) return -Errno.EDESTADDRREQ;
      dstIp = s.remoteIp;
      dstPort = s.remotePort;
    } else if (s.connected && (dstIp >>> 0 !== s.remoteIp || dstPort !== s.remotePort)) {
      return -Errno.EISCONN;
    }
    const mc = isMulticastIpv4(dstIp);
    const ifc = mc && s.mcInterface !== null ? s.mcInterface : this.stack.route(dstIp >>> 0)?.ifc;
    if (!ifc) {
      s.counters.txErrors++;
      return -Errno.ENETUNREACH;
    }
    if (len > UDP_MAX_PAYLOAD) return -Errno.EMSGSIZE;
    if (!s.bound) {
      const b = this.bind(s, 0, 0);
      if (b < 0) return b;
    }
    if (len + UDP_HEADER_LEN + 20 > ifc.mtu) {
      // VMA's dummy send is one packet's TX path: a datagram that needs fragments is refused.
      if (dummy) return -Errno.EMSGSIZE;
      return this.sendFragmented(s, ifc, data, off, len, dstIp >>> 0, dstPort, now, mc);
    }
    const ring = ifc.ring;
    const id = ring.allocTx(TX_HEADROOM + UDP_HEADER_LEN);
    if (id < 0) {
      s.counters.txErrors++;
      return -Errno.ENOBUFS;
    }
    const pool = ring.txPool;
    // BufFlag.Dummy (ring/buffer_pool.ts): the device (or the stack, to its own addresses) stops it before the wire.
    if (dummy) pool.setFlags(id, 1);
    if (pool.tailroom(id) < len) {
      pool.release(id);
      return -Errno.EMSGSIZE;
    }
    const start = pool.start(id);
    if (off === 0 && len === data.length) pool.buf.set(data, start);
    else pool.buf.set(data.subarray(off, off + len), start);
    pool.append(id, len);
    const u = this.tx;
    u.srcPort = s.localPort;
    u.dstPort = dstPort;
    u.payloadLength = len;
    const h = pool.prepend(id, UDP_HEADER_LEN);
    const src = Udp.source(s, ifc);
    emitUdp(u, ifc.txBytes, h, src | 0, dstIp | 0, !ifc.ring.device.caps.txChecksum.udp);
    this.stack.sendIpv4(ifc, id, dstIp >>> 0, IpProtocol.Udp, now, mc ? s.mcOptions : s.ipOptions, src);
    if (dummy) s.counters.txDummy++;
    else {
      s.counters.txPackets++;
      s.counters.txBytes += len;
    }
    return len;
  }

  /**
   * A datagram larger than the MTU: built whole once (to checksum it), then sent as IPv4 fragments
   * of the largest multiple of 8 bytes that fits (RFC 791 §3.2). Large sends are not the fast path.
   */
  private sendFragmented(s: UdpSocket, ifc: Interface, data: Uint8Array, off: number, len: number, dst: number, dstPort: number, now: number, mc: boolean): number {
    const whole = new Bytes(new Uint8Array(UDP_HEADER_LEN + len));
    whole.u8.set(data.subarray(off, off + len), UDP_HEADER_LEN);
    const u = this.tx;
    u.srcPort = s.localPort;
    u.dstPort = dstPort;
    u.payloadLength = len;
    const src = Udp.source(s, ifc);
    emitUdp(u, whole, 0, src | 0, dst | 0, !ifc.ring.device.caps.txChecksum.udp);
    const chunk = (ifc.mtu - 20) & ~7;
    const total = whole.u8.length;
    const frags = Math.ceil(total / chunk);
    const ring = ifc.ring;
    if (ring.txPool.available < frags) {
      s.counters.txErrors++;
      return -Errno.ENOBUFS;
    }
    const ident = this.stack.nextIdent();
    const wb = Buffer.from(whole.u8.buffer, whole.u8.byteOffset, total);
    for (let at = 0; at < total; at += chunk) {
      const n = Math.min(chunk, total - at);
      const id = ring.allocTx(TX_HEADROOM);
      const pool = ring.txPool;
      wb.copy(pool.buf, pool.start(id), at, at + n);
      pool.append(id, n);
      const o = mc ? s.mcOptions : s.ipOptions;
      this.stack.sendIpv4(ifc, id, dst, IpProtocol.Udp, now, { ttl: o.ttl, multicastLoop: mc && s.mcOptions.multicastLoop, fragment: { ident, offset: at, more: at + n < total } }, src);
    }
    s.counters.txPackets++;
    s.counters.txBytes += len;
    return len;
  }

  /**
   * The source address of a socket's datagrams on `ifc`: its bound address when that is one of the
   * interface's own (127.0.0.5 on loopback), else the interface's (a wildcard, group or broadcast bind).
   */
  private static source(s: UdpSocket, ifc: Interface): number {
    return s.localIp !== 0 && ifc.owns(s.localIp) ? s.localIp : ifc.ip;
  }

  /** A reassembled datagram: its UDP header and payload are in `payload` (valid during this call). */
  private inputReassembled(ifc: Interface, ip: Ipv4Repr, payload: Buffer, now: number): void {
    const b = new Bytes(payload);
    const u = this.rx;
    const st = parseUdp(b, 0, payload.length, u, ip.src | 0, ip.dst | 0, !ifc.ring.device.caps.rxChecksum.udp);
    if (st !== WireStatus.Ok) {
      if (st === WireStatus.BadChecksum) this.counters.badChecksum++;
      else this.counters.malformed++;
      return;
    }
    const group = isGroupDestination(ifc, ip.dst);
    const targets = this.targets;
    if (group) this.groupTargets(ifc, ip.dst, u.dstPort, ip.src, u.srcPort);
    else {
      targets.length = 0;
      const s = this.lookup(ip.dst, u.dstPort, ip.src, u.srcPort);
      if (s) targets.push(s);
    }
    if (targets.length === 0) {
      if (group) this.counters.noPortBroadcast++;
      else this.counters.noPort++;
      return;
    }
    for (const t of targets) {
      // The reassembly buffer is reused: each socket gets its own copy.
      const copy = Buffer.from(payload.subarray(UDP_HEADER_LEN, UDP_HEADER_LEN + u.payloadLength));
      if ((t.rxFilter !== null || t.rxShutdown) && this.filtered(t, ifc, -1, ip, u.srcPort, 0, copy.length, copy, now)) continue;
      if (!t.enqueue(ifc, -1, ip.src, u.srcPort, ip.dst, 0, copy.length, copy)) {
        t.counters.rxQueueDrops++;
        continue;
      }
      t.counters.rxPackets++;
      t.counters.rxBytes += u.payloadLength;
      t.onReadable?.(t);
    }
  }

  /** Fills `this.targets` with the sockets a multicast or broadcast datagram goes to: bound to its address, then to the wildcard. */
  private groupTargets(ifc: Interface, dst: number, dport: number, src: number, sport: number): void {
    this.targets.length = 0;
    const list = this.bound.get(dport);
    if (!list) return;
    this.addTargets(list, dst >>> 0, ifc, dst, src, sport);
    this.addTargets(list, 0, ifc, dst, src, sport);
  }

  /** Adds the sockets of `list` bound to `local` that take a group datagram from (src, sport). */
  private addTargets(list: UdpSocket[], local: number, ifc: Interface, dst: number, src: number, sport: number): void {
    const mc = isMulticastIpv4(dst);
    for (const s of list) {
      if (s.localIp !== local) continue;
      if (s.connected && (s.remoteIp !== src || s.remotePort !== sport)) continue;
      if (mc && !Udp.mcAllowed(s, ifc, dst, src)) continue;
      this.targets.push(s);
    }
  }

  /** Linux's ip_mc_sf_allow with IP_MULTICAST_ALL on: the socket's own membership filters; without one, it hears what the host joined. */
  private static mcAllowed(s: UdpSocket, ifc: Interface, group: number, src: number): boolean {
    for (const m of s.memberships) {
      if (m.group !== group || m.ifc !== ifc) continue;
      return m.sources === null || m.sources.includes(src >>> 0);
    }
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Multicast membership (IP_ADD_MEMBERSHIP and friends): 0 or a negative errno, as Linux answers.

  /** The interface for a membership: the one owning `ifcIp`, or (0) the route to the group's. */
  private mcIfc(group: number, ifcIp: number): Interface | null {
    if (ifcIp >>> 0 !== 0) return this.stack.isLocal(ifcIp >>> 0);
    return this.stack.route(group >>> 0)?.ifc ?? null;
  }

  /** Joins `group` for any source. EINVAL: not a group; ENODEV: no such interface; EADDRINUSE: already joined. */
  addMembership(s: UdpSocket, group: number, ifcIp: number, now: number): number {
    if (s.closed) return -Errno.EBADF;
    group >>>= 0;
    if (!isMulticastIpv4(group)) return -Errno.EINVAL;
    const ifc = this.mcIfc(group, ifcIp);
    if (!ifc) return -Errno.ENODEV;
    if (s.memberships.some((m) => m.group === group && m.ifc === ifc)) return -Errno.EADDRINUSE;
    s.memberships.push({ ifc, group, sources: null });
    this.stack.igmp.join(ifc, group, 0, now);
    return 0;
  }

  /** Leaves `group` (whatever sources were joined). EADDRNOTAVAIL: not a member. */
  dropMembership(s: UdpSocket, group: number, ifcIp: number, now: number): number {
    if (s.closed) return -Errno.EBADF;
    group >>>= 0;
    if (!isMulticastIpv4(group)) return -Errno.EINVAL;
    const ifc = this.mcIfc(group, ifcIp);
    const i = s.memberships.findIndex((m) => m.group === group && (ifc === null || m.ifc === ifc));
    if (i < 0) return -Errno.EADDRNOTAVAIL;
    this.dropAt(s, i, now);
    return 0;
  }

  /** Joins `group` for `source` only. EINVAL: not a group, or joined for any source; EADDRNOTAVAIL: that source already. */
  addSourceMembership(s: UdpSocket, source: number, group: number, ifcIp: number, now: number): number {
    if (s.closed) return -Errno.EBADF;
    group >>>= 0;
    source >>>= 0;
    if (!isMulticastIpv4(group)) return -Errno.EINVAL;
    const ifc = this.mcIfc(group, ifcIp);
    if (!ifc) return -Errno.ENODEV;
    const m = s.memberships.find((x) => x.group === group && x.ifc === ifc);
    if (m) {
      if (m.sources === null) return -Errno.EINVAL;
      if (m.sources.includes(source)) return -Errno.EADDRNOTAVAIL;
      m.sources.push(source);
    } else s.memberships.push({ ifc, group, sources: [source] });
    this.stack.igmp.join(ifc, group, source, now);
    return 0;
  }

  /** Leaves `source` of `group`; the last source leaves the group. EINVAL: no source-specific membership; EADDRNOTAVAIL: not that source. */
  dropSourceMembership(s: UdpSocket, source: number, group: number, ifcIp: number, now: number): number {
    if (s.closed) return -Errno.EBADF;
    group >>>= 0;
    source >>>= 0;
    if (!isMulticastIpv4(group)) return -Errno.EINVAL;
    const ifc = this.mcIfc(group, ifcIp);
    const i = s.memberships.findIndex((x) => x.group === group && (ifc === null || x.ifc === ifc));
    const m = i >= 0 ? s.memberships[i] : null;
    // Linux's ip_mc_source: no membership, or an any-source one, is EINVAL; a source not joined EADDRNOTAVAIL.
    if (!m || m.sources === null) return -Errno.EINVAL;
    const j = m.sources.indexOf(source);
    if (j < 0) return -Errno.EADDRNOTAVAIL;
    if (m.sources.length === 1) {
      this.dropAt(s, i, now);
      return 0;
    }
    m.sources.splice(j, 1);
    this.stack.igmp.leave(m.ifc, group, source, now);
    return 0;
  }

  /** IP_MULTICAST_IF: multicast leaves by the interface owning `ifcIp` (0: by route). EADDRNOTAVAIL: no such address. */
  setMulticastInterface(s: UdpSocket, ifcIp: number): number {
    if (s.closed) return -Errno.EBADF;
    if (ifcIp >>> 0 === 0) {
      s.mcInterface = null;
      return 0;
    }
    const ifc = this.stack.isLocal(ifcIp >>> 0);
    if (!ifc) return -Errno.EADDRNOTAVAIL;
    s.mcInterface = ifc;
    return 0;
  }

  private dropAt(s: UdpSocket, i: number, now: number): void {
    const m = s.memberships[i];
    s.memberships.splice(i, 1);
    if (m.sources === null) this.stack.igmp.leave(m.ifc, m.group, 0, now);
    else for (const src of m.sources) this.stack.igmp.leave(m.ifc, m.group, src, now);
  }

  /** Takes the next queued datagram into `out` (the caller then owns out.id). False when empty. */
  receive(s: UdpSocket, out: UdpDatagram): boolean {
    return s.dequeue(out);
  }

  /** Returns a datagram's buffer to its ring. */
  release(d: UdpDatagram): void {
    if (d.ifc && d.id >= 0) d.ifc.ring.rxPool.release(d.id);
    d.id = -1;
    d.ifc = null;
    d.data = null;
  }

  close(s: UdpSocket, now = 0): void {
    if (s.closed) return;
    while (s.memberships.length) this.dropAt(s, s.memberships.length - 1, now);
    s.closed = true;
    if (s.bound) {
      this.unlink(s);
      this.stack.releasePort(IpProtocol.Udp, s.localPort);
    }
    const d = new UdpDatagram();
    while (s.dequeue(d)) this.release(d);
    s.onReadable = null;
    s.onError = null;
  }

  /** Every bound socket (not per packet: lib/ringd_watch.ts reports tsvma ringd going away to each). */
  *sockets(): IterableIterator<UdpSocket> {
    for (const list of this.bound.values()) yield* list;
  }

  /** The socket a datagram to (dst, dport) from (src, sport) goes to: connected first, then bound, specific address before wildcard. */
  lookup(dst: number, dport: number, src: number, sport: number): UdpSocket | null {
    // One table probe (the port), one pass over its few sockets; no per-packet array or closure.
    const list = this.bound.get(dport);
    if (!list) return null;
    dst >>>= 0;
    // Per address (specific, wildcard): the connected socket whose peer is (src, sport), else the
    // most recently bound unconnected socket (as Linux picks among SO_REUSEADDR sockets).
    let specificFallback: UdpSocket | null = null;
    let wildcardConnected: UdpSocket | null = null;
    let wildcardFallback: UdpSocket | null = null;
    for (let i = list.length - 1; i >= 0; i--) {
      const s = list[i];
      const ip = s.localIp;
      if (ip !== dst && ip !== 0) continue;
      if (s.connected) {
        if (s.remoteIp !== src || s.remotePort !== sport) continue;
        if (ip === dst) return s;
        wildcardConnected ??= s;
      } else if (ip === dst) specificFallback ??= s;
      else wildcardFallback ??= s;
    }
    return wildcardConnected ?? specificFallback ?? wildcardFallback;
  }

  private available(ip: number, port: number, reuse: boolean): boolean {
    const list = this.bound.get(port);
    if (!list) return true;
    // A wildcard bind conflicts with any bind of the port; an address's with its own and the wildcard's.
    ip >>>= 0;
    for (const s of list) if ((ip === 0 || s.localIp === ip || s.localIp === 0) && !(reuse && s.reuseAddr)) return false;
    return true;
  }

  private ephemeral(ip: number): number {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    for (let i = 0; i < span; i++) {
      const p = this.nextEphemeral;
      this.nextEphemeral = p === EPHEMERAL_HIGH ? EPHEMERAL_LOW : p + 1;
      if (this.available(ip, p, false) && this.stack.claimPort(IpProtocol.Udp, p)) return p;
    }
    return 0;
  }

  private input(ifc: Interface, ip: Ipv4Repr, id: number, off: number, len: number, now: number): void {
    const pool = ifc.ring.rxPool;
    const u = this.rx;
    // Addresses as signed int32 (`| 0`): unsigned values above 2^31 are boxed per call when V8 does not inline.
    const verify = !ifc.ring.device.caps.rxChecksum.udp && (pool.flags(id) & 2 /* BufFlag.RxL4ChecksumOk */) === 0;
    const st = parseUdp(ifc.rxBytes, off, len, u, ip.src | 0, ip.dst | 0, verify);
    if (st !== WireStatus.Ok) {
      if (st === WireStatus.BadChecksum) this.counters.badChecksum++;
      else this.counters.malformed++;
      pool.release(id);
      return;
    }
    if (isGroupDestination(ifc, ip.dst)) {
      this.inputGroup(ifc, ip, id, off, u, now);
      return;
    }
    const s = this.lookup(ip.dst, u.dstPort, ip.src, u.srcPort);
    if (!s) {
      this.counters.noPort++;
      this.portUnreachable(ifc, ip, off - ipv4HeaderLen(ip), now);
      pool.release(id);
      return;
    }
    if ((s.rxFilter !== null || s.rxShutdown) && this.filtered(s, ifc, id, ip, u.srcPort, off + UDP_HEADER_LEN, u.payloadLength, null, now)) return;
    if (!s.enqueue(ifc, id, ip.src, u.srcPort, ip.dst, off + UDP_HEADER_LEN, u.payloadLength)) {
      s.counters.rxQueueDrops++;
      pool.release(id);
      return;
    }
    s.counters.rxPackets++;
    s.counters.rxBytes += u.payloadLength;
    s.onReadable?.(s);
  }

  /**
   * Runs a socket's receive filter (or its RX shutdown) on a datagram; true when it was consumed
   * (dropped: the buffer reference released; held: the filter owns it). Counted as received either way.
   */
  private filtered(s: UdpSocket, ifc: Interface, id: number, ip: Ipv4Repr, sport: number, off: number, len: number, data: Buffer | null, now: number): boolean {
    if (s.rxShutdown) {
      s.counters.rxShutdownDrops++;
      if (id >= 0) ifc.ring.rxPool.release(id);
      return true;
    }
    const v = s.rxFilter!(s, ifc, id, ip.src, sport, ip.dst, off, len, data, now);
    if (v === RxVerdict.Recv) return false;
    s.counters.rxPackets++;
    s.counters.rxBytes += len;
    if (v === RxVerdict.Hold) s.counters.rxHeld++;
    else {
      s.counters.rxFilterDrops++;
      if (id >= 0) ifc.ring.rxPool.release(id);
    }
    return true;
  }

  /** A multicast or broadcast datagram: one reference to the buffer per receiving socket. */
  private inputGroup(ifc: Interface, ip: Ipv4Repr, id: number, off: number, u: UdpRepr, now: number): void {
    const pool = ifc.ring.rxPool;
    this.groupTargets(ifc, ip.dst, u.dstPort, ip.src, u.srcPort);
    const targets = this.targets;
    if (targets.length === 0) {
      this.counters.noPortBroadcast++;
      pool.release(id);
      return;
    }
    for (let i = 1; i < targets.length; i++) pool.ref(id);
    for (const t of targets) {
      if ((t.rxFilter !== null || t.rxShutdown) && this.filtered(t, ifc, id, ip, u.srcPort, off + UDP_HEADER_LEN, u.payloadLength, null, now)) continue;
      if (!t.enqueue(ifc, id, ip.src, u.srcPort, ip.dst, off + UDP_HEADER_LEN, u.payloadLength)) {
        t.counters.rxQueueDrops++;
        pool.release(id);
        continue;
      }
      t.counters.rxPackets++;
      t.counters.rxBytes += u.payloadLength;
    }
    for (const t of targets) if (t.queued > 0) t.onReadable?.(t);
  }

  /** RFC 1122 §4.1.3.1: "If a datagram arrives addressed to a UDP port for which there is no pending LISTEN call, UDP SHOULD send an ICMP Port Unreachable message." */
  private portUnreachable(ifc: Interface, ip: Ipv4Repr, ipOff: number, now: number): void {
    // Token bucket refill.
    this.tokens = Math.min(50, this.tokens + (now - this.tokensAt));
    this.tokensAt = now;
    if (this.tokens < 1) {
      this.counters.portUnreachRateLimited++;
      return;
    }
    this.tokens--;
    const quote = Math.min(ipv4HeaderLen(ip) + 8, ipv4HeaderLen(ip) + ip.payloadLength);
    const id = ifc.ring.allocTx(TX_HEADROOM);
    if (id < 0) return;
    const tx = ifc.ring.txPool;
    const start = tx.start(id);
    ifc.ring.rxPool.buf.copy(tx.buf, start + 8, ipOff, ipOff + quote);
    tx.append(id, 8 + quote);
    const m = this.icmp;
    m.type = IcmpType.DestUnreachable;
    m.code = IcmpUnreachCode.Port;
    m.mtu = 0;
    m.payloadLength = quote;
    emitIcmp(m, ifc.txBytes, start);
    this.counters.portUnreachSent++;
    this.stack.sendIpv4(ifc, id, ip.src, IpProtocol.Icmp, now, { dontFragment: false });
  }

  /** An ICMP error quoting one of our datagrams: reported to the connected socket it concerns (as Linux does). */
  private icmpError(type: number, code: number, quoted: Ipv4Repr, l4Off: number, b: { dv: DataView }): void {
    const sport = b.dv.getUint16(l4Off);
    const dport = b.dv.getUint16(l4Off + 2);
    for (const list of this.bound.values()) {
      for (const s of list) {
        if (s.connected && s.localPort === sport && s.remoteIp === quoted.dst && s.remotePort === dport) {
          const errno = type === IcmpType.DestUnreachable && code === IcmpUnreachCode.Port ? Errno.ECONNREFUSED : Errno.EHOSTUNREACH;
          s.pendingError = -errno;
          this.counters.icmpErrorsDelivered++;
          s.onError?.(s, -errno);
          return;
        }
      }
    }
  }

  /** For logs: `udp 198.18.0.2:9 > 198.18.0.1:40000`. */
  static describe(s: UdpSocket): string {
    const remote = s.connected ? ` > ${formatIp(s.remoteIp)}:${s.remotePort}` : '';
    return `udp ${formatIp(s.localIp)}:${s.localPort}${remote}`;
  }
}
