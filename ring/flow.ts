/**
 * Flow keys and the demux table (VMA's rfs). A received frame goes to the first of:
 *   1. a 5-tuple flow (protocol, source address and port, destination address and port) — a
 *      connected socket, an established TCP connection;
 *   2. a 3-tuple flow (protocol, destination address, destination port) — a bound socket;
 *   3. a port flow (protocol, destination port, any local address) — a socket bound to 0.0.0.0;
 *   4. the sink of its ethertype (IPv4 frames no flow claimed, ARP, …);
 *   5. the ring's default sink.
 * Keys are hashed to one number and chained in a Map, so a lookup allocates nothing, builds no
 * string and never scans all flows.
 *
 * The key extractor reads the few header fields a NIC's steering reads, at fixed offsets, because
 * ring/ may not import proto/: the ethertype (after one 802.1Q or 802.1ad tag), then for IPv4 the
 * protocol, addresses and, for UDP and TCP, the ports. IP fragments (MF set or a fragment offset)
 * carry no usable ports — the first one has them but its datagram is not whole — so every fragment
 * goes to the ethertype/default sink, where the stack reassembles. Nothing here validates checksums
 * or lengths beyond what it reads: the sink's parser does that and counts what it drops.
 */
import type { Region } from './buffer_pool';
import { formatIpv4Text } from '../conf/text';
import type { FlowSpec } from './device';
import type { Ring } from './ring';

/**
 * A flow's receiver: gets the buffer (owning one reference: release it or keep it), the poll time
 * (ms) and the ring it came from (the pool to read it from is `ring.rxPool`).
 */
export type FlowSink = (id: number, now: number, ring: Ring) => void;

/**
 * A classified frame's 5-tuple. Addresses are kept as signed 32-bit numbers (`addr | 0`): V8 holds
 * those unboxed, where unsigned values above 2^31 would be boxed on every call (measured: ~40 bytes
 * of garbage per frame). `>>> 0` gives the usual unsigned form.
 */
export interface FlowKey {
  protocol: number;
  srcIp: number;
  srcPort: number;
  dstIp: number;
  dstPort: number;
}

class Entry {
  next: Entry | null = null;
  constructor(
    readonly kind: number,
    readonly protocol: number,
    readonly srcIp: number,
    readonly srcPort: number,
    readonly dstIp: number,
    readonly dstPort: number,
    public sink: FlowSink,
  ) {}

  matches(kind: number, p: number, si: number, sp: number, di: number, dp: number): boolean {
    return this.kind === kind && this.protocol === p && this.srcIp === si && this.srcPort === sp && this.dstIp === di && this.dstPort === dp;
  }
}

const K5 = 0;
const K3 = 1;
const KPORT = 2;

const ETH_HEADER = 14;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

/** A 32-bit hash of two words (flow keys here; ring/daemon/conns.ts hashes its connections with it). */
export function mix(a: number, b: number): number {
  let h = Math.imul(a ^ (a >>> 16), 0x45d9f3b) ^ b;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 13)) | 0;
}

function hash(kind: number, protocol: number, srcIp: number, srcPort: number, dstIp: number, dstPort: number): number {
  return mix(mix(mix(kind * 256 + protocol, srcIp), dstIp), srcPort * 65536 + dstPort);
}

/** Result of classifying a frame. */
export const enum FrameClass {
  /** IPv4 UDP/TCP, unfragmented: `key` holds its 5-tuple. */
  L4 = 0,
  /** Anything else (ARP, ICMP, IGMP, IP fragments, other ethertypes): `ethertype` says which. */
  Other = 1,
  /** Too short for an Ethernet header (with its VLAN tag). */
  Runt = 2,
}

function checkPort(what: string, v: number): void {
  if (!(Number.isInteger(v) && v >= 0 && v <= 0xffff)) throw new RangeError(`flow ${what} must be a 16-bit number, not ${v}`);
}

function checkByte(what: string, v: number): void {
  if (!(Number.isInteger(v) && v >= 0 && v <= 0xff)) throw new RangeError(`flow ${what} must be an 8-bit number, not ${v}`);
}

export class FlowTable {
  private readonly table = new Map<number, Entry>();
  private readonly ethertypes = new Map<number, FlowSink>();
  /** Flows per kind (a kind with none is not looked up). */
  private readonly perKind = new Int32Array(3);
  /** Output of the last `classify`. */
  readonly key: FlowKey = { protocol: 0, srcIp: 0, srcPort: 0, dstIp: 0, dstPort: 0 };
  /** Ethertype of the last classified frame (after a VLAN tag). */
  ethertype = 0;
  /** Offsets (in the region) of the IPv4 and the UDP/TCP header of the last frame classified L4. */
  l3 = 0;
  l4 = 0;

  /** Tuple flows attached (5-tuple, 3-tuple and port). */
  get size(): number {
    return this.perKind[K5] + this.perKind[K3] + this.perKind[KPORT];
  }

  private add(kind: number, p: number, si: number, sp: number, di: number, dp: number, sink: FlowSink): void {
    checkByte('protocol', p);
    checkPort('port', sp);
    checkPort('port', dp);
    const h = hash(kind, p, si, sp, di, dp);
    const head = this.table.get(h) ?? null;
    for (let e = head; e; e = e.next) {
      if (e.matches(kind, p, si, sp, di, dp)) {
        throw new Error(`flow already attached: ${describe(kind, p, si, sp, di, dp)}`);
      }
    }
    const entry = new Entry(kind, p, si, sp, di, dp, sink);
    entry.next = head;
    this.table.set(h, entry);
    this.perKind[kind]++;
  }

  private remove(kind: number, p: number, si: number, sp: number, di: number, dp: number): boolean {
    const h = hash(kind, p, si, sp, di, dp);
    let prev: Entry | null = null;
    for (let e = this.table.get(h) ?? null; e; prev = e, e = e.next) {
      if (e.matches(kind, p, si, sp, di, dp)) {
        if (prev) prev.next = e.next;
        else if (e.next) this.table.set(h, e.next);
        else this.table.delete(h);
        this.perKind[kind]--;
        return true;
      }
    }
    return false;
  }

  private find(kind: number, p: number, si: number, sp: number, di: number, dp: number): FlowSink | null {
    if (this.perKind[kind] === 0) return null;
    for (let e = this.table.get(hash(kind, p, si, sp, di, dp)) ?? null; e; e = e.next) {
      if (e.matches(kind, p, si, sp, di, dp)) return e.sink;
    }
    return null;
  }

  /** Attaches a 5-tuple flow (a connected socket). Throws if that exact flow is attached already. */
  attach5(protocol: number, srcIp: number, srcPort: number, dstIp: number, dstPort: number, sink: FlowSink): void {
    this.add(K5, protocol, srcIp | 0, srcPort, dstIp | 0, dstPort, sink);
  }
  detach5(protocol: number, srcIp: number, srcPort: number, dstIp: number, dstPort: number): boolean {
    return this.remove(K5, protocol, srcIp | 0, srcPort, dstIp | 0, dstPort);
  }
  /** Attaches a 3-tuple flow (a socket bound to one address); `dstIp` 0 means any address (attachPort). */
  attach3(protocol: number, dstIp: number, dstPort: number, sink: FlowSink): void {
    if ((dstIp | 0) === 0) this.attachPort(protocol, dstPort, sink);
    else this.add(K3, protocol, 0, 0, dstIp | 0, dstPort, sink);
  }
  detach3(protocol: number, dstIp: number, dstPort: number): boolean {
    if ((dstIp | 0) === 0) return this.detachPort(protocol, dstPort);
    return this.remove(K3, protocol, 0, 0, dstIp | 0, dstPort);
  }
  /** A listener on a port for any local address (a socket bound to 0.0.0.0). */
  attachPort(protocol: number, dstPort: number, sink: FlowSink): void {
    this.add(KPORT, protocol, 0, 0, 0, dstPort, sink);
  }
  detachPort(protocol: number, dstPort: number): boolean {
    return this.remove(KPORT, protocol, 0, 0, 0, dstPort);
  }
  /** Frames of this ethertype that no tuple flow claimed (replaces an earlier sink for it). */
  attachEthertype(ethertype: number, sink: FlowSink): void {
    checkPort('ethertype', ethertype);
    this.ethertypes.set(ethertype, sink);
  }
  detachEthertype(ethertype: number): boolean {
    return this.ethertypes.delete(ethertype);
  }

  /**
   * Attaches a FlowSpec. A multicast MAC is a filter for the device, not a demux key: it is
   * accepted and ignored here (its frames are demuxed by their IP flow).
   */
  attach(spec: FlowSpec, sink: FlowSink): void {
    switch (spec.kind) {
      case '5-tuple': return this.attach5(spec.protocol, spec.srcIp, spec.srcPort, spec.dstIp, spec.dstPort, sink);
      case '3-tuple': return this.attach3(spec.protocol, spec.dstIp, spec.dstPort, sink);
      case 'ethertype': return this.attachEthertype(spec.ethertype, sink);
      case 'multicast-mac': return;
    }
  }

  /** Detaches a FlowSpec; false when it was not attached (a multicast MAC: always true). */
  detach(spec: FlowSpec): boolean {
    switch (spec.kind) {
      case '5-tuple': return this.detach5(spec.protocol, spec.srcIp, spec.srcPort, spec.dstIp, spec.dstPort);
      case '3-tuple': return this.detach3(spec.protocol, spec.dstIp, spec.dstPort);
      case 'ethertype': return this.detachEthertype(spec.ethertype);
      case 'multicast-mac': return true;
    }
  }

  /** Reads the flow key of the frame region[off, off + len) into `key` / `ethertype`. */
  classify(r: Region, off: number, len: number): FrameClass {
    if (len < ETH_HEADER) return FrameClass.Runt;
    const dv = r.dv;
    let l3 = off + ETH_HEADER;
    let et = dv.getUint16(off + 12);
    if (et === ETHERTYPE_VLAN || et === ETHERTYPE_QINQ) {
      if (len < ETH_HEADER + 4) return FrameClass.Runt;
      et = dv.getUint16(off + 16);
      l3 += 4;
    }
    this.ethertype = et;
    if (et !== ETHERTYPE_IPV4) return FrameClass.Other;
    const end = off + len;
    if (l3 + 20 > end) return FrameClass.Other;
    const vihl = dv.getUint8(l3);
    const ihl = (vihl & 15) * 4;
    if (vihl >>> 4 !== 4 || ihl < 20 || l3 + ihl + 4 > end) return FrameClass.Other;
    if ((dv.getUint16(l3 + 6) & 0x3fff) !== 0) return FrameClass.Other; // MF or fragment offset: a fragment
    const p = dv.getUint8(l3 + 9);
    if (p !== IPPROTO_UDP && p !== IPPROTO_TCP) return FrameClass.Other;
    const k = this.key;
    k.protocol = p;
    k.srcIp = dv.getInt32(l3 + 12);
    k.dstIp = dv.getInt32(l3 + 16);
    k.srcPort = dv.getUint16(l3 + ihl);
    k.dstPort = dv.getUint16(l3 + ihl + 2);
    this.l3 = l3;
    this.l4 = l3 + ihl;
    return FrameClass.L4;
  }

  /** The sink for the last classified frame by rfs precedence (5-tuple, 3-tuple, port, ethertype), or null. */
  lookup(cls: FrameClass): FlowSink | null {
    if (cls === FrameClass.L4) {
      const k = this.key;
      return this.find(K5, k.protocol, k.srcIp, k.srcPort, k.dstIp, k.dstPort)
        ?? this.find(K3, k.protocol, 0, 0, k.dstIp, k.dstPort)
        ?? this.find(KPORT, k.protocol, 0, 0, 0, k.dstPort)
        ?? this.ethertypes.get(ETHERTYPE_IPV4) ?? null;
    }
    if (cls === FrameClass.Other) return this.ethertypes.get(this.ethertype) ?? null;
    return null;
  }
}

function describe(kind: number, p: number, si: number, sp: number, di: number, dp: number): string {
  const proto = p === IPPROTO_UDP ? 'udp' : p === IPPROTO_TCP ? 'tcp' : `proto ${p}`;
  if (kind === K5) return `${proto} ${formatIpv4Text(si)}:${sp} > ${formatIpv4Text(di)}:${dp}`;
  if (kind === K3) return `${proto} *:* > ${formatIpv4Text(di)}:${dp}`;
  return `${proto} *:* > *:${dp}`;
}
