/**
 * The stack core: interfaces, routes, ARP, ICMP echo; later UDP and TCP register protocol handlers.
 *
 * Read first: RFC 826 (ARP), RFC 1122 §3.2 (IP for hosts), RFC 792 (ICMP).
 * Call flow: ring default sink → input() → ARP | IPv4 → protocol handler (ICMP here) → reply via
 * sendIpv4() → neighbour resolution → ring.send(). Time is passed in (`now`, ms); the stack's
 * timers live on one wheel that the poller advances through poll(now).
 * Peer bytes never throw: every dropped frame increments one named counter (counters.ts).
 */
import type { Ring } from '../../ring/ring';
import { formatIp, formatMac, isMulticastIpv4, MAC_BROADCAST, multicastMacOf } from '../wire/addr';
import { ArpOp, ArpRepr, emitArp, parseArp } from '../wire/arp';
import type { Bytes } from '../wire/bytes';
import { emitEthernet, ETHERNET_HEADER_LEN, EthernetRepr, EtherType, parseEthernet, ethernetHeaderLen } from '../wire/ethernet';
import { emitIcmp, IcmpRepr, IcmpType, parseIcmp } from '../wire/icmp';
import { emitIpv4, IpProtocol, ipv4HeaderLen, Ipv4Repr, IPV4_OPTION_ROUTER_ALERT, isFragment, parseIpv4 } from '../wire/ipv4';
import { WireStatus } from '../wire/status';
import { newStackCounters, type StackCounters } from './counters';
import { IgmpHost } from './igmp';
import { Interface, type InterfaceConfig } from './interface';
import { defaultArpOptions, Neighbor, NeighborState, neighborStateName, type ArpOptions } from './neighbor';
import { Reassembler, type ReassemblyOptions } from './reassembly';
import { TimerWheel } from './timer_wheel';

/** Headroom to reserve in TX buffers for Ethernet (with a VLAN tag) + IPv4 with options. */
export const TX_HEADROOM = 18 + 60;

/**
 * A protocol handler gets the packet's interface, its parsed IPv4 header, the RX buffer id (one
 * reference, which it now owns), the offset and length of the IP payload, and `now`.
 */
export type ProtocolHandler = (ifc: Interface, ip: Ipv4Repr, id: number, off: number, len: number, now: number) => void;

/**
 * Gets ICMP errors (destination unreachable, time exceeded) that quote a packet of its protocol:
 * the quoted IPv4 header (src, dst, protocol) and the offset of the quoted transport header's first
 * 8 bytes in `b`.
 */
export type IcmpErrorHandler = (type: number, code: number, quoted: Ipv4Repr, l4Off: number, b: Bytes) => void;

/** Gets a reassembled datagram's whole payload (a view valid during the call) with its IPv4 header. */
export type ReassembledHandler = (ifc: Interface, ip: Ipv4Repr, payload: Buffer, now: number) => void;

export interface StackOptions {
  arp?: Partial<ArpOptions>;
  /** Timer wheel tick in ms (VMA_TIMER_RESOLUTION_MSEC). */
  timerResolutionMs?: number;
  reassembly?: ReassemblyOptions;
}

/** Per-packet IPv4 send options (a socket keeps one object and passes it on every send). */
export interface Ipv4SendOptions {
  ttl?: number;
  tos?: number;
  dontFragment?: boolean;
  fragment?: { ident: number; offset: number; more: boolean };
  /** Multicast: also deliver a copy to this host when it is a member of the group (IP_MULTICAST_LOOP). */
  multicastLoop?: boolean;
  /** RFC 2113 Router Alert option (IGMP). */
  routerAlert?: boolean;
}

export interface NeighborInfo {
  ip: string;
  mac: string;
  state: string;
  queued: number;
}

export class Stack {
  readonly timers: TimerWheel;
  readonly counters: StackCounters = newStackCounters();
  readonly interfaces: Interface[] = [];
  /** route()'s result, reused (its `ifc` is only read after a non-null return). */
  private readonly routeOut: { ifc: Interface; nextHop: number } = { ifc: null as unknown as Interface, nextHop: 0 };
  readonly arp: ArpOptions;
  private readonly neighbors = new Map<Interface, Map<number, Neighbor>>();
  private readonly handlers: (ProtocolHandler | undefined)[] = new Array(256);
  private readonly icmpErrorHandlers: (IcmpErrorHandler | undefined)[] = new Array(256);
  private readonly reassembledHandlers: (ReassembledHandler | undefined)[] = new Array(256);
  readonly reassembler: Reassembler;
  /** Multicast group membership and IGMP (RFC 3376, with RFC 2236/1112 compatibility). */
  readonly igmp: IgmpHost;
  private readonly quoted = new Ipv4Repr();
  // Reprs reused for every packet (the stack is single-threaded and not re-entrant per packet).
  private readonly rxEth = new EthernetRepr();
  private readonly rxArp = new ArpRepr();
  private readonly rxIp = new Ipv4Repr();
  private readonly rxIcmp = new IcmpRepr();
  private readonly txEth = new EthernetRepr();
  private readonly txArp = new ArpRepr();
  private readonly txIp = new Ipv4Repr();
  private readonly txIcmp = new IcmpRepr();
  private ident = 1;
  /** Frames sent to one of the stack's own addresses, delivered on the next poll (no re-entrancy): parallel arrays, no object per frame. */
  // Frames to our own addresses, waiting for the next poll: parallel arrays used up to localCount
  // (kept at their size: emptying a JS array frees its store, and every burst would allocate again).
  private localIfc: (Interface | null)[] = new Array<Interface | null>(64).fill(null);
  private localIds = new Int32Array(64);
  private localCount = 0;
  /** Static routes, longest prefix first (few: a sorted array, not a trie). */
  private readonly routes: { dst: number; prefix: number; mask: number; gateway: number; ifc: Interface }[] = [];

  constructor(now: number, opts: StackOptions = {}) {
    this.timers = new TimerWheel(now, opts.timerResolutionMs ?? 1);
    this.arp = { ...defaultArpOptions, ...opts.arp };
    this.reassembler = new Reassembler(this.timers, opts.reassembly);
    this.handlers[IpProtocol.Icmp] = (ifc, ip, id, off, len, now) => this.icmpInput(ifc, ip, id, off, len, now);
    this.igmp = new IgmpHost(this);
  }

  /** Adds an interface on `ring`, takes the ring's default sink and announces the address (gratuitous ARP). */
  addInterface(ring: Ring, cfg: InterfaceConfig, now: number): Interface {
    const ifc = new Interface(ring, cfg);
    this.interfaces.push(ifc);
    this.neighbors.set(ifc, new Map());
    ring.defaultSink = (id, t) => this.input(ifc, id, t);
    if (!ifc.loopback) this.sendArp(ifc, ArpOp.Request, MAC_BROADCAST, 0, ifc.ip, now); // RFC 5227 §2.3 announcement
    this.igmp.addInterface(ifc);
    return ifc;
  }

  /**
   * Claims (IP protocol, port) on the devices that arbitrate ports among processes (ring/device.ts
   * `claimPort`: the daemon device); false, keeping nothing, when one refuses. Sockets call it at bind;
   * `shared` asks for a SO_REUSEPORT-style group with other processes.
   */
  claimPort(protocol: number, port: number, shared = false): boolean {
    const ifcs = this.interfaces;
    for (let i = 0; i < ifcs.length; i++) {
      const d = ifcs[i].ring.device;
      if (d.claimPort && !d.claimPort(protocol, port, shared)) {
        for (let j = 0; j < i; j++) ifcs[j].ring.device.releasePort?.(protocol, port);
        return false;
      }
    }
    return true;
  }

  /** Releases a `claimPort` (a socket closed). */
  releasePort(protocol: number, port: number): void {
    for (const ifc of this.interfaces) ifc.ring.device.releasePort?.(protocol, port);
  }

  /** Registers the handler for an IP protocol (UDP, TCP, IGMP arrive in later layers). */
  setProtocolHandler(protocol: number, h: ProtocolHandler | undefined): void {
    this.handlers[protocol] = h;
  }

  /** Registers who gets reassembled datagrams of `protocol` (without one, fragments are dropped and counted). */
  setReassembledHandler(protocol: number, h: ReassembledHandler | undefined): void {
    this.reassembledHandlers[protocol] = h;
  }

  /** A fresh IPv4 identification (for the fragments of one datagram). */
  nextIdent(): number {
    return (this.ident = (this.ident + 1) & 0xffff);
  }

  /** Registers who hears about ICMP errors quoting packets of `protocol`. */
  setIcmpErrorHandler(protocol: number, h: IcmpErrorHandler | undefined): void {
    this.icmpErrorHandlers[protocol] = h;
  }

  /** Delivers locally looped frames and runs due timers. */
  poll(now: number): void {
    // Frames looped during this delivery (a reply to ourselves) wait for the next poll.
    const n = this.localCount;
    if (n > 0) {
      for (let i = 0; i < n; i++) this.input(this.localIfc[i]!, this.localIds[i], now);
      // Frames looped while delivering these (replies to ourselves) move to the front.
      const more = this.localCount - n;
      const ifcs = this.localIfc;
      for (let i = 0; i < more; i++) ifcs[i] = ifcs[n + i];
      if (more > 0) this.localIds.copyWithin(0, n, n + more);
      for (let i = more; i < this.localCount; i++) ifcs[i] = null;
      this.localCount = more;
    }
    this.timers.advance(now);
  }

  /** When the stack next needs poll() (ms), or Infinity. */
  nextDeadline(): number {
    return this.localCount ? 0 : this.timers.nextDeadline();
  }

  /** The interface that owns `ip` (on a loopback interface, any address of its network), or null. */
  isLocal(ip: number): Interface | null {
    for (const ifc of this.interfaces) if (ifc.owns(ip)) return ifc;
    return null;
  }

  /**
   * Adds a static route: `dst/prefix` via `gateway`, which must be on-link on one of the interfaces.
   * A prefix of 0 is a default route.
   */
  addRoute(dst: number, prefix: number, gateway: number): void {
    const ifc = this.interfaces.find((i) => i.onLink(gateway));
    if (!ifc) throw new Error(`route ${formatIp(dst)}/${prefix} via ${formatIp(gateway)}: the gateway is not on any interface's network`);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    this.routes.push({ dst: (dst & mask) >>> 0, prefix, mask, gateway: gateway >>> 0, ifc });
    this.routes.sort((x, y) => y.prefix - x.prefix);
  }

  /**
   * The interface and next hop for a destination, or null (no route): the longest prefix among
   * connected networks and static routes, then an interface's default gateway. The result is one
   * object reused by every call (no allocation per packet): read it before routing again.
   */
  route(dst: number): Readonly<{ ifc: Interface; nextHop: number }> | null {
    let best: Interface | null = null;
    for (const ifc of this.interfaces) if (ifc.onLink(dst) && (!best || ifc.prefix > best.prefix)) best = ifc;
    for (const r of this.routes) {
      if (((dst & r.mask) >>> 0) !== r.dst) continue;
      if (best && best.prefix >= r.prefix) break;
      return this.routed(r.ifc, r.gateway);
    }
    if (best) return this.routed(best, dst);
    if (isMulticastIpv4(dst) || dst === 0xffffffff) {
      // The first interface that is not loopback (a group on loopback needs setMulticastInterface).
      for (const ifc of this.interfaces) if (!ifc.loopback) return this.routed(ifc, dst);
      return this.interfaces.length ? this.routed(this.interfaces[0], dst) : null;
    }
    for (const ifc of this.interfaces) if (ifc.gateway !== null) return this.routed(ifc, ifc.gateway);
    return null;
  }

  /** route()'s one result object, filled. */
  private routed(ifc: Interface, nextHop: number): Readonly<{ ifc: Interface; nextHop: number }> {
    const o = this.routeOut;
    o.ifc = ifc;
    o.nextHop = nextHop;
    return o;
  }

  neighborTable(ifc: Interface): NeighborInfo[] {
    return [...(this.neighbors.get(ifc)?.values() ?? [])].map((n) => ({
      ip: formatIp(n.ip), mac: n.state === NeighborState.Incomplete ? '' : formatMac(n.mac), state: neighborStateName[n.state], queued: n.pending.length,
    }));
  }

  /** The resolved MAC of `ip` on `ifc`, or -1. */
  neighborMac(ifc: Interface, ip: number): number {
    const n = this.neighbors.get(ifc)?.get(ip >>> 0);
    return n && n.state !== NeighborState.Incomplete ? n.mac : -1;
  }

  // ---------------------------------------------------------------------------------------------
  // RX

  /** Handles one received frame (owning one reference to RX buffer `id`). */
  input(ifc: Interface, id: number, now: number): void {
    const pool = ifc.ring.rxPool;
    const b = ifc.rxBytes;
    const off = pool.start(id);
    const len = pool.end(id) - off;
    const c = this.counters;
    const eth = this.rxEth;
    if (parseEthernet(b, off, len, eth) !== WireStatus.Ok) {
      c.ethTruncated++;
      pool.release(id);
      return;
    }
    if (eth.dst !== ifc.mac && eth.dst !== MAC_BROADCAST && (Math.floor(eth.dst / 0x10000000000) & 1) === 0) {
      c.ethNotForUs++;
      pool.release(id);
      return;
    }
    const l3 = off + ethernetHeaderLen(eth);
    const l3len = off + len - l3;
    if (eth.ethertype === EtherType.Arp) {
      this.arpInput(ifc, b, l3, l3len, now);
      pool.release(id);
      return;
    }
    if (eth.ethertype !== EtherType.Ipv4) {
      c.ethUnknownType++;
      pool.release(id);
      return;
    }
    const ip = this.rxIp;
    const st = parseIpv4(b, l3, l3len, ip, !ifc.ring.device.caps.rxChecksum.ipv4);
    if (st !== WireStatus.Ok) {
      if (st === WireStatus.Truncated) c.ipTruncated++;
      else if (st === WireStatus.BadLength) c.ipBadLength++;
      else if (st === WireStatus.BadChecksum) c.ipBadChecksum++;
      else if (st === WireStatus.Unsupported) c.ipUnsupported++;
      else c.ipMalformed++;
      pool.release(id);
      return;
    }
    if (ip.dst !== ifc.ip && ip.dst !== ifc.broadcast && ip.dst !== 0xffffffff) {
      if (isMulticastIpv4(ip.dst) ? !ifc.acceptsMulticast(ip.dst, ip.src) : !(ifc.loopback && ifc.onLink(ip.dst))) {
        if (isMulticastIpv4(ip.dst)) c.ipMulticastNotJoined++;
        else c.ipNotForUs++;
        pool.release(id);
        return;
      }
    }
    if (isFragment(ip)) {
      const rh = this.reassembledHandlers[ip.protocol];
      if (!rh) {
        c.ipFragmentsDropped++;
        pool.release(id);
        return;
      }
      const whole = this.reassembler.add(ip.src, ip.dst, ip.protocol, ip.ident, ip.fragOffset, ip.moreFragments, pool.buf, l3 + ipv4HeaderLen(ip), ip.payloadLength, now);
      pool.release(id);
      if (whole) {
        c.ipDelivered++;
        ip.fragOffset = 0;
        ip.moreFragments = false;
        ip.payloadLength = whole.length;
        rh(ifc, ip, whole, now);
      }
      return;
    }
    const h = this.handlers[ip.protocol];
    if (!h) {
      c.ipNoProtocol++;
      pool.release(id);
      return;
    }
    c.ipDelivered++;
    h(ifc, ip, id, l3 + ipv4HeaderLen(ip), ip.payloadLength, now);
  }

  private arpInput(ifc: Interface, b: Bytes, off: number, len: number, now: number): void {
    const c = this.counters;
    const a = this.rxArp;
    const st = parseArp(b, off, len, a);
    if (st !== WireStatus.Ok) {
      if (st === WireStatus.Truncated) c.arpTruncated++;
      else if (st === WireStatus.Unsupported) c.arpUnsupported++;
      else c.arpMalformed++;
      return;
    }
    if (a.senderMac === MAC_BROADCAST || (Math.floor(a.senderMac / 0x10000000000) & 1) === 1 || a.senderIp === 0 && a.op !== ArpOp.Request) {
      c.arpMalformed++;
      return;
    }
    // RFC 826 "Packet Reception": if the sender is in the table, update it (merge); if we are the
    // target, add it; then answer requests for our address.
    const table = this.neighbors.get(ifc)!;
    const forUs = a.targetIp === ifc.ip;
    const known = table.get(a.senderIp);
    if (a.senderIp !== 0 && a.senderIp !== ifc.ip) {
      if (known) this.confirm(ifc, known, a.senderMac, now);
      else if (forUs) {
        const n = this.newNeighbor(ifc, a.senderIp);
        this.confirm(ifc, n, a.senderMac, now);
      }
    }
    if (!forUs) {
      if (a.op === ArpOp.Request && !known) c.arpNotForUs++;
      return;
    }
    if (a.op === ArpOp.Request) {
      c.arpRequestsAnswered++;
      this.sendArp(ifc, ArpOp.Reply, a.senderMac, a.senderMac, a.senderIp, now);
    }
  }

  private icmpInput(ifc: Interface, ip: Ipv4Repr, id: number, off: number, len: number, now: number): void {
    const c = this.counters;
    const pool = ifc.ring.rxPool;
    const m = this.rxIcmp;
    const st = parseIcmp(ifc.rxBytes, off, len, m);
    if (st !== WireStatus.Ok) {
      if (st === WireStatus.BadChecksum) c.icmpBadChecksum++;
      else c.icmpTruncated++;
      pool.release(id);
      return;
    }
    if ((m.type === IcmpType.DestUnreachable || m.type === IcmpType.TimeExceeded) && ip.dst === ifc.ip) {
      this.icmpErrorInput(ifc.rxBytes, off + 8, len - 8, m.type, m.code);
      pool.release(id);
      return;
    }
    if (m.type !== IcmpType.EchoRequest || ip.dst !== ifc.ip) {
      // Echo to broadcast/multicast is not answered (RFC 1122 §3.2.2.6 allows silence).
      c.icmpOther++;
      pool.release(id);
      return;
    }
    c.icmpEchoRequests++;
    const src = ip.src;
    const tx = ifc.ring.allocTx(TX_HEADROOM);
    if (tx < 0) {
      c.txNoBuffer++;
      pool.release(id);
      return;
    }
    // RFC 792: the echo reply carries the request's identifier, sequence and data.
    const txPool = ifc.ring.txPool;
    if (len > txPool.tailroom(tx)) {
      c.icmpTruncated++;
      txPool.release(tx);
      pool.release(id);
      return;
    }
    const start = txPool.start(tx);
    pool.buf.copy(txPool.buf, start + 8, off + 8, off + len);
    pool.release(id);
    txPool.append(tx, len);
    const r = this.txIcmp;
    r.type = IcmpType.EchoReply;
    r.code = 0;
    r.ident = m.ident;
    r.seq = m.seq;
    r.payloadLength = len - 8;
    emitIcmp(r, ifc.txBytes, start);
    c.icmpEchoReplies++;
    this.sendIpv4(ifc, tx, src, IpProtocol.Icmp, now);
  }

  /** RFC 1122 §3.2.2.1: an ICMP error is passed to the transport protocol it quotes. */
  private icmpErrorInput(b: Bytes, off: number, len: number, type: number, code: number): void {
    if (len < 28) {
      this.counters.icmpTruncated++;
      return;
    }
    const vihl = b.dv.getUint8(off);
    const ihl = (vihl & 15) * 4;
    if (vihl >>> 4 !== 4 || ihl < 20 || ihl + 8 > len) {
      this.counters.icmpTruncated++;
      return;
    }
    const q = this.quoted;
    q.protocol = b.dv.getUint8(off + 9);
    q.src = b.dv.getUint32(off + 12);
    q.dst = b.dv.getUint32(off + 16);
    const h = this.icmpErrorHandlers[q.protocol];
    if (!h || !this.isLocal(q.src)) {
      this.counters.icmpOther++;
      return;
    }
    h(type, code, q, off + ihl, b);
  }

  // ---------------------------------------------------------------------------------------------
  // TX

  /** Queues an RX buffer holding a frame to our own address for the next poll. */
  private pushLocal(ifc: Interface, id: number): void {
    const c = this.localCount;
    if (c === this.localIds.length) {
      const ids = new Int32Array(c * 2);
      ids.set(this.localIds);
      this.localIds = ids;
      this.localIfc.length = c * 2;
      this.localIfc.fill(null, c);
    }
    this.localIfc[c] = ifc;
    this.localIds[c] = id;
    this.localCount = c + 1;
  }

  /**
   * Sends TX buffer `id` (its data is the IP payload) to `dst` over `ifc`: writes the IPv4 header in
   * front, resolves the next hop and sends, or queues while ARP resolves. Takes over the reference.
   * `src` is one of the interface's own addresses (the interface's by default).
   */
  sendIpv4(ifc: Interface, id: number, dst: number, protocol: number, now: number, opts?: Ipv4SendOptions, src = ifc.ip): void {
    const pool = ifc.ring.txPool;
    const ip = this.txIp;
    ip.src = src;
    ip.dst = dst >>> 0;
    ip.protocol = protocol;
    ip.ttl = opts?.ttl ?? 64;
    ip.dscp = (opts?.tos ?? 0) >>> 2;
    ip.ecn = (opts?.tos ?? 0) & 3;
    const frag = opts?.fragment;
    ip.ident = frag ? frag.ident : this.nextIdent();
    ip.dontFragment = frag ? false : opts?.dontFragment ?? true;
    ip.moreFragments = frag ? frag.more : false;
    ip.fragOffset = frag ? frag.offset : 0;
    ip.optionsLength = 0;
    if (opts?.routerAlert) {
      ip.options[0] = IPV4_OPTION_ROUTER_ALERT;
      ip.options[1] = 4;
      ip.options[2] = 0;
      ip.options[3] = 0;
      ip.optionsLength = 4;
    }
    ip.payloadLength = pool.length(id);
    const start = pool.prepend(id, ipv4HeaderLen(ip));
    emitIpv4(ip, ifc.txBytes, start);
    let nextHop = dst >>> 0;
    if (isMulticastIpv4(nextHop)) {
      this.sendMulticast(ifc, id, nextHop, ip.ttl, opts?.multicastLoop ?? false, now);
      return;
    }
    if (nextHop !== 0xffffffff) {
      const r = this.route(nextHop);
      if (!r || r.ifc !== ifc) {
        this.counters.noRoute++;
        pool.release(id);
        return;
      }
      nextHop = r.nextHop;
    }
    this.sendToNextHop(ifc, id, nextHop, now);
  }

  private sendToNextHop(ifc: Interface, id: number, nextHop: number, now: number): void {
    const local = this.isLocal(nextHop);
    if (local) {
      // To ourselves: the frame never reaches the device; it is copied into the RX pool, as a
      // host's own traffic goes through its loopback.
      this.loopLocal(local, ifc, id);
      return;
    }
    if (nextHop === 0xffffffff || nextHop === ifc.broadcast) {
      // A host hears its own broadcasts (as Linux loops them back).
      this.prependEthernet(ifc, id, MAC_BROADCAST);
      this.loopCopy(ifc, id);
      if (ifc.loopback) ifc.ring.txPool.release(id);
      else ifc.ring.send(id, now);
      return;
    }
    const table = this.neighbors.get(ifc)!;
    let n = table.get(nextHop);
    if (n && n.state !== NeighborState.Incomplete) {
      if (n.state === NeighborState.Stale) this.startProbe(ifc, n, now);
      this.sendFrame(ifc, id, n.mac, now);
      return;
    }
    if (!n) {
      n = this.newNeighbor(ifc, nextHop);
      n.tries = 1;
      this.sendArp(ifc, ArpOp.Request, MAC_BROADCAST, 0, nextHop, now);
      this.timers.schedule(n.timer, now + this.arp.retransmitMs);
    }
    if (n.pending.length >= this.arp.queueLimit) {
      // RFC 1122 §2.3.2.2: "... SHOULD save at least one (the latest) packet" — drop the oldest.
      ifc.ring.txPool.release(n.pending.shift()!);
      this.counters.arpQueueFull++;
    }
    n.pending.push(id);
  }

  private loopLocal(to: Interface, from: Interface, id: number): void {
    const tx = from.ring.txPool;
    const e = this.txEth;
    e.dst = to.mac;
    e.src = to.mac;
    e.ethertype = EtherType.Ipv4;
    e.vlan = -1;
    const start = tx.prepend(id, ETHERNET_HEADER_LEN);
    emitEthernet(e, from.txBytes, start);
    if (tx.flags(id) & 1 /* BufFlag.Dummy */) {
      // A dummy send to ourselves: the TX path ran; the loop is this host's wire.
      from.ring.counters.txDummy++;
      tx.release(id);
      return;
    }
    const rx = to.ring.rxPool.allocCopy(tx.buf, start, tx.end(id) - start);
    tx.release(id);
    if (rx < 0) {
      this.counters.txNoBuffer++;
      return;
    }
    this.pushLocal(to, rx);
  }

  /**
   * A multicast packet (IPv4 header written): a copy to this host first when it loops and the
   * interface is a member (RFC 1112 §6.4), then to the wire unless the TTL is 0 or the interface is
   * loopback.
   */
  private sendMulticast(ifc: Interface, id: number, group: number, ttl: number, loop: boolean, now: number): void {
    this.prependEthernet(ifc, id, multicastMacOf(group));
    if (loop && ifc.acceptsMulticast(group, ifc.ip)) this.loopCopy(ifc, id);
    if (ttl === 0 || ifc.loopback) ifc.ring.txPool.release(id);
    else ifc.ring.send(id, now);
  }

  /** Copies a TX frame (Ethernet header in place) into the RX pool for delivery on the next poll. */
  private loopCopy(ifc: Interface, id: number): void {
    const tx = ifc.ring.txPool;
    if (tx.flags(id) & 1 /* BufFlag.Dummy */) return; // never looped back
    const rx = ifc.ring.rxPool.allocCopy(tx.buf, tx.start(id), tx.length(id));
    if (rx < 0) {
      this.counters.txNoBuffer++;
      return;
    }
    this.pushLocal(ifc, rx);
  }

  private prependEthernet(ifc: Interface, id: number, dstMac: number): void {
    const e = this.txEth;
    e.dst = dstMac;
    e.src = ifc.mac;
    e.ethertype = EtherType.Ipv4;
    e.vlan = -1;
    const start = ifc.ring.txPool.prepend(id, ETHERNET_HEADER_LEN);
    emitEthernet(e, ifc.txBytes, start);
  }

  /** Prepends the Ethernet header and queues the frame on the ring. */
  private sendFrame(ifc: Interface, id: number, dstMac: number, now: number): void {
    this.prependEthernet(ifc, id, dstMac);
    ifc.ring.send(id, now);
  }

  /** Sends an ARP message in an Ethernet frame to `ethDst`. */
  private sendArp(ifc: Interface, op: number, ethDst: number, targetMac: number, targetIp: number, now: number): void {
    const ring = ifc.ring;
    const id = ring.allocTx(0);
    if (id < 0) {
      this.counters.txNoBuffer++;
      return;
    }
    const pool = ring.txPool;
    const start = pool.start(id);
    const e = this.txEth;
    e.dst = ethDst;
    e.src = ifc.mac;
    e.ethertype = EtherType.Arp;
    e.vlan = -1;
    emitEthernet(e, ifc.txBytes, start);
    const a = this.txArp;
    a.op = op;
    a.senderMac = ifc.mac;
    a.senderIp = ifc.ip;
    a.targetMac = op === ArpOp.Reply ? targetMac : 0;
    a.targetIp = targetIp;
    emitArp(a, ifc.txBytes, start + ETHERNET_HEADER_LEN);
    // Pad to the 60-byte Ethernet minimum (the padding is zeroed, not stale pool bytes).
    const n = ETHERNET_HEADER_LEN + 28;
    pool.buf.fill(0, start + n, start + 60);
    pool.append(id, 60);
    if (op === ArpOp.Request) this.counters.arpRequestsSent++;
    else this.counters.arpRepliesSent++;
    ring.send(id, now);
  }

  // ---------------------------------------------------------------------------------------------
  // Neighbours

  private newNeighbor(ifc: Interface, ip: number): Neighbor {
    const n = new Neighbor(ip >>> 0, (nb, now) => this.neighborTimer(ifc, nb, now));
    this.neighbors.get(ifc)!.set(n.ip, n);
    return n;
  }

  private confirm(ifc: Interface, n: Neighbor, mac: number, now: number): void {
    const wasIncomplete = n.state === NeighborState.Incomplete;
    n.mac = mac;
    n.state = NeighborState.Reachable;
    n.tries = 0;
    this.timers.schedule(n.timer, now + this.arp.reachableMs);
    if (wasIncomplete) {
      this.counters.arpResolved++;
      const q = n.pending.splice(0);
      for (const id of q) this.sendFrame(ifc, id, mac, now);
    }
  }

  private startProbe(ifc: Interface, n: Neighbor, now: number): void {
    n.state = NeighborState.Probe;
    n.tries = 1;
    this.sendArp(ifc, ArpOp.Request, n.mac, 0, n.ip, now);
    this.timers.schedule(n.timer, now + this.arp.retransmitMs);
  }

  private neighborTimer(ifc: Interface, n: Neighbor, now: number): void {
    switch (n.state) {
      case NeighborState.Reachable:
        n.state = NeighborState.Stale;
        return;
      case NeighborState.Incomplete:
        if (n.tries < this.arp.requests) {
          n.tries++;
          this.sendArp(ifc, ArpOp.Request, MAC_BROADCAST, 0, n.ip, now);
          this.timers.schedule(n.timer, now + this.arp.retransmitMs);
          return;
        }
        this.counters.arpFailed++;
        for (const id of n.pending.splice(0)) ifc.ring.txPool.release(id);
        this.neighbors.get(ifc)!.delete(n.ip);
        return;
      case NeighborState.Probe:
        if (n.tries < this.arp.unicastProbes) {
          n.tries++;
          this.sendArp(ifc, ArpOp.Request, n.mac, 0, n.ip, now);
          this.timers.schedule(n.timer, now + this.arp.retransmitMs);
          return;
        }
        this.neighbors.get(ifc)!.delete(n.ip);
        return;
      default:
        return;
    }
  }

  /** Drops every queued packet and cancels timers (shutdown). */
  close(): void {
    this.igmp.close();
    this.reassembler.clear();
    for (let i = 0; i < this.localCount; i++) {
      this.localIfc[i]!.ring.rxPool.release(this.localIds[i]);
      this.localIfc[i] = null;
    }
    this.localCount = 0;
    for (const [ifc, table] of this.neighbors) {
      for (const n of table.values()) {
        this.timers.cancel(n.timer);
        for (const id of n.pending.splice(0)) ifc.ring.txPool.release(id);
      }
      table.clear();
    }
  }
}
