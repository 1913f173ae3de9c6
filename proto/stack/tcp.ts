/**
 * TCP on a Stack: the wire side of the engine in proto/tcp (read proto/tcp/engine.ts first).
 *
 * RX: IPv4 protocol 6 → parseTcp (checksum verified unless the device did) → the engine's
 * segmentIn (demux by 4-tuple, then listener by (ip, port), then (0.0.0.0, port); RST to segments
 * for no socket, RFC 9293 §3.10.7.1). The RX buffer is released when the segment has been handled
 * (payload bytes are copied into the connection's receive buffer); a connection's receive filter
 * gets the buffer as an RxBufferRef and may keep it with a reference of its own (Hold).
 * TX: a TX buffer from the interface's ring (headroom for IPv4 + Ethernet), payload copied from the
 * connection's send buffer, emitTcp (checksum in software unless the device offloads it), then
 * stack.sendIpv4. On a device with TCP segmentation offload (caps.tsoMax) a segment to a remote
 * peer may carry many MSS of payload in one TX buffer, its MSS in the buffer's cookie for the
 * device to cut it (ring/device.ts); to the stack's own addresses segments stay MSS-sized (they loop
 * through RX buffers). The ring is never flushed here: the caller (lib layer / poller) flushes after each
 * API call and each poll.
 * ICMP errors quoting TCP segments go to the engine (RFC 1122 §4.2.3.9, RFC 1191 path MTU).
 *
 * Errors are negative Linux errno values (TcpErrno; the same numbers as udp.ts's Errno).
 */
import type { Bytes } from '../wire/bytes';
import { formatIp } from '../wire/addr';
import { IpProtocol, type Ipv4Repr } from '../wire/ipv4';
import { WireStatus } from '../wire/status';
import { seq } from '../wire/seq';
import { emitTcp, parseTcp, tcpHeaderLen, TcpFlag, TcpRepr } from '../wire/tcp';
import { copyRange, type ByteRing } from '../tcp/byte_ring';
import { TcpEngine, type TcpHost, type TcpOptions, type TcpRoute } from '../tcp/engine';
import { TcpSocket, type RxBufferPool } from '../tcp/socket';
import type { Interface } from './interface';
import { TX_HEADROOM, type Ipv4SendOptions, type Stack } from './stack';
import type { TimerWheel } from './timer_wheel';
import { TcpErrno, TCP_EPHEMERAL_HIGH, TCP_EPHEMERAL_LOW } from '../tcp/types';

export { TcpSocket, TcpRxVerdict, DEFAULT_RCVBUF as TCP_DEFAULT_RCVBUF, DEFAULT_SNDBUF as TCP_DEFAULT_SNDBUF } from '../tcp/socket';
export type { TcpInfo, TcpSocketCounters, TcpRxFilter, RxBufferRef, RxBufferPool } from '../tcp/socket';
export { TcpState, tcpStateName, TcpErrno, TCP_EPHEMERAL_LOW, TCP_EPHEMERAL_HIGH, defaultTcpTimings } from '../tcp/types';
export type { TcpTimings } from '../tcp/types';
export type { TcpOptions, TcpCounters } from '../tcp/engine';

/** TCP segments leave with DF set (RFC 1191 path MTU discovery), TTL 64. */
const TCP_IP_OPTIONS: Ipv4SendOptions = Object.freeze({ ttl: 64, dontFragment: true });

/** The TcpHost of a Stack: routes through the stack, TX buffers from the interface's ring. */
class StackHost implements TcpHost {
  readonly timers: TimerWheel;

  constructor(private readonly stack: Stack) {
    this.timers = stack.timers;
  }

  isLocal(ip: number): boolean {
    return this.stack.isLocal(ip >>> 0) !== null;
  }

  route(dst: number): TcpRoute | null {
    const r = this.stack.route(dst >>> 0);
    if (r === null) return null;
    // To one of our own addresses the frame loops inside the stack (sendIpv4); the source is the interface's.
    return { src: r.ifc.ip, mtu: r.ifc.mtu, handle: r.ifc };
  }

  gsoMax(s: TcpSocket): number {
    const ifc = s.routeHandle as Interface | null;
    if (ifc === null) return 0;
    const tso = ifc.ring.device.caps.tsoMax ?? 0;
    if (tso <= ifc.mtu || this.stack.isLocal(s.remoteIp >>> 0) !== null) return 0;
    // The TCP segment sits after TX_HEADROOM in a TX buffer; the IPv4 header comes out of tsoMax.
    const most = Math.min(tso - 20, ifc.ring.txPool.bufSize - TX_HEADROOM);
    return most > ifc.mtu ? most : 0;
  }

  transmit(s: TcpSocket | null, r: TcpRepr, src: number, dst: number, data: ByteRing | null, pos: number, now: number, gsoSize = 0): boolean {
    let ifc = s !== null ? (s.routeHandle as Interface | null) : null;
    if (ifc === null) {
      const rt = this.stack.route(dst >>> 0);
      if (rt === null) return false;
      ifc = rt.ifc;
    }
    return this.segmentOut(ifc, r, src, dst, data, null, pos, now, gsoSize, false);
  }

  /** A segment as `transmit` builds it, payload from `payload`, on a TX buffer flagged BufFlag.Dummy (never on the wire). */
  transmitDummy(s: TcpSocket, r: TcpRepr, src: number, dst: number, payload: Uint8Array, off: number, now: number): boolean {
    const ifc = s.routeHandle as Interface | null;
    return ifc !== null && this.segmentOut(ifc, r, src, dst, null, payload, off, now, 0, true);
  }

  /**
   * Builds `r` on a TX buffer of `ifc` — header, then r.payloadLength bytes from the send buffer
   * `data` or from `payload`, at `pos` — and sends it through the stack. False when there is no TX
   * buffer or it has no room.
   */
  private segmentOut(
    ifc: Interface, r: TcpRepr, src: number, dst: number, data: ByteRing | null, payload: Uint8Array | null, pos: number, now: number, gsoSize: number,
    dummy: boolean,
  ): boolean {
    const ring = ifc.ring;
    const id = ring.allocTx(TX_HEADROOM);
    if (id < 0) {
      this.stack.counters.txNoBuffer++;
      return false;
    }
    const pool = ring.txPool;
    // BufFlag.Dummy (ring/buffer_pool.ts): the device (or the stack, to its own addresses) stops it before the wire.
    if (dummy) pool.setFlags(id, 1);
    const start = pool.start(id);
    const hlen = tcpHeaderLen(r);
    const len = r.payloadLength;
    if (pool.tailroom(id) < hlen + len) {
      pool.release(id);
      return false;
    }
    if (len > 0) {
      if (data !== null) data.copyOut(pos, pool.buf, start + hlen, len);
      else if (payload !== null) copyRange(pool.buf, start + hlen, payload, pos, len);
    }
    pool.append(id, hlen + len);
    if (gsoSize > 0) pool.setCookie(id, gsoSize);
    emitTcp(r, ifc.txBytes, start, src | 0, dst | 0, !ring.device.caps.txChecksum.tcp);
    // Addresses as `| 0`: an unsigned address above 2^31 becomes a heap number per call (sendIpv4 normalises them).
    this.stack.sendIpv4(ifc, id, dst | 0, IpProtocol.Tcp, now, TCP_IP_OPTIONS, src | 0);
    return true;
  }
}

/** The RX buffer of the segment being handled, as a receive filter sees it (one object per Tcp, reused). */
class RxRef {
  constructor(public pool: RxBufferPool, public id: number) {}
}

const NO_POOL: RxBufferPool = {
  ref(): void {
    throw new Error('no RX buffer');
  },
  release(): void {
    throw new Error('no RX buffer');
  },
};

export class Tcp extends TcpEngine {
  private readonly rx = new TcpRepr();
  private readonly rxRef = new RxRef(NO_POOL, -1);

  constructor(readonly stack: Stack, opts: TcpOptions = {}) {
    super(new StackHost(stack), opts);
    stack.setProtocolHandler(IpProtocol.Tcp, (ifc, ip, id, off, len, now) => this.input(ifc, ip, id, off, len, now));
    stack.setIcmpErrorHandler(IpProtocol.Tcp, (type, code, quoted, l4Off, b) => this.icmpInput(type, code, quoted, l4Off, b));
  }

  /**
   * Ports claimed on a device shared with other processes (the daemon device: Stack.claimPort), by
   * socket. A closed socket keeps its claim while the engine still holds its port (FIN exchange,
   * TIME-WAIT): released once the engine unbinds it, checked at every bind, close and abort.
   */
  private readonly claims = new Map<TcpSocket, number>();
  /** Where this process's search for a shared ephemeral port starts (random: processes sharing ringd rarely collide). */
  private nextShared = TCP_EPHEMERAL_LOW + Math.floor(Math.random() * (TCP_EPHEMERAL_HIGH - TCP_EPHEMERAL_LOW + 1));

  /**
   * The engine's bind, plus port arbitration when a device is shared with other processes (ringd):
   * the port is claimed first (refused: EADDRINUSE) and an ephemeral port is one no process holds.
   * `reusePort` (an explicit port only): a SO_REUSEPORT-style claim other processes may share.
   */
  override bind(s: TcpSocket, ip: number, port: number, reuseAddr = false, reusePort = false): number {
    this.reapClaims();
    if (s.bound || !(port >= 0 && port <= 0xffff) || !this.stack.interfaces.some((i) => i.ring.device.claimPort)) return super.bind(s, ip, port, reuseAddr);
    const tries = port === 0 ? TCP_EPHEMERAL_HIGH - TCP_EPHEMERAL_LOW + 1 : 1;
    for (let i = 0; i < tries; i++) {
      let p = port;
      if (p === 0) {
        p = this.nextShared;
        this.nextShared = p === TCP_EPHEMERAL_HIGH ? TCP_EPHEMERAL_LOW : p + 1;
      }
      if (!this.stack.claimPort(IpProtocol.Tcp, p, reusePort && port !== 0)) continue;
      const r = super.bind(s, ip, p, reuseAddr);
      if (r === 0) {
        this.claims.set(s, p);
        return 0;
      }
      this.stack.releasePort(IpProtocol.Tcp, p);
      if (port !== 0 || r !== -TcpErrno.EADDRINUSE) return r;
    }
    return -TcpErrno.EADDRINUSE;
  }

  override close(s: TcpSocket, now: number): void {
    super.close(s, now);
    this.reapClaims();
  }

  override abort(s: TcpSocket, now: number): void {
    super.abort(s, now);
    this.reapClaims();
  }

  private readonly rstTx = new TcpRepr();

  /**
   * <SEQ=seqNo><ACK=ackNo><CTL=RST,ACK> from (src, srcPort) to (dst, dstPort), with no socket: what
   * tsvma ringd sends for each open connection of a client that died (ring/daemon/ringd.ts). False
   * when there is no route or TX buffer.
   */
  resetConnection(src: number, srcPort: number, dst: number, dstPort: number, seqNo: number, ackNo: number, now: number): boolean {
    const r = this.rstTx;
    r.srcPort = srcPort;
    r.dstPort = dstPort;
    r.seq = seq(seqNo >>> 0);
    r.ack = seq(ackNo >>> 0);
    r.flags = TcpFlag.RST | TcpFlag.ACK;
    r.window = 0;
    r.payloadLength = 0;
    return this.host.transmit(null, r, src, dst, null, 0, now);
  }

  /** Releases the claims of sockets the engine no longer binds. */
  private reapClaims(): void {
    if (this.claims.size === 0) return;
    for (const [s, p] of this.claims) {
      if (s.bound) continue;
      this.claims.delete(s);
      this.stack.releasePort(IpProtocol.Tcp, p);
    }
  }

  private input(ifc: Interface, ip: Ipv4Repr, id: number, off: number, len: number, now: number): void {
    const pool = ifc.ring.rxPool;
    const seg = this.rx;
    const verify = !ifc.ring.device.caps.rxChecksum.tcp && (pool.flags(id) & 2 /* BufFlag.RxL4ChecksumOk */) === 0;
    const st = parseTcp(ifc.rxBytes, off, len, seg, ip.src | 0, ip.dst | 0, verify);
    if (st !== WireStatus.Ok) {
      if (st === WireStatus.BadChecksum) this.counters.badChecksum++;
      else this.counters.malformed++;
      pool.release(id);
      return;
    }
    // RFC 9293 §3.9.1 / RFC 1122 §4.2.3.10: segments to or from broadcast/multicast are not for TCP.
    if (ip.dst !== ifc.ip && !ifc.owns(ip.dst)) {
      this.counters.malformed++;
      pool.release(id);
      return;
    }
    const ref = this.rxRef;
    ref.pool = pool;
    ref.id = id;
    try {
      this.segmentIn(ip.src | 0, ip.dst | 0, seg, ifc.rxBytes.u8, off + seg.dataOffset, now, ref); // `| 0`: no heap number per call (see parseTcp)
    } finally {
      ref.id = -1;
      pool.release(id);
    }
  }

  /**
   * The ICMP error's quoted header: ports and sequence number (the first 8 bytes). The next-hop MTU
   * of a fragmentation-needed message sits in the ICMP header just before the quoted IPv4 header.
   */
  private icmpInput(type: number, code: number, quoted: Ipv4Repr, l4Off: number, b: Bytes): void {
    const dv = b.dv;
    const sport = dv.getUint16(l4Off);
    const dport = dv.getUint16(l4Off + 2);
    const sq = dv.getUint32(l4Off + 4);
    let mtu = 0;
    if (type === 3 && code === 4) {
      // Find the quoted IPv4 header's start (its IHL says how far back it is), then the MTU 2 bytes before it.
      for (let ihl = 20; ihl <= 60; ihl += 4) {
        const at = l4Off - ihl;
        if (at < 8) break;
        if (dv.getUint8(at) === (0x40 | (ihl >>> 2))) {
          mtu = dv.getUint16(at - 2);
          break;
        }
      }
    }
    // ICMP errors carry no `now`: the time of the last segment or timer stands in.
    this.icmpError(quoted.src >>> 0, sport, quoted.dst >>> 0, dport, sq, type, code, mtu, this.lastNow);
  }

  /** For logs: `tcp 198.18.0.2:80 > 198.18.0.1:40000 ESTABLISHED`. */
  static describe(s: TcpSocket): string {
    const remote = s.remotePort ? ` > ${formatIp(s.remoteIp)}:${s.remotePort}` : '';
    return `tcp ${formatIp(s.localIp)}:${s.localPort}${remote} ${s.info().state}`;
  }
}
