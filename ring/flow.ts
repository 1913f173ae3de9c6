/**
 * Flow keys and the demux table (VMA's rfs): received frames are matched against 5-tuple flows,
 * then 3-tuple (protocol, destination address, destination port), then "any address" listeners
 * (protocol, port), then per-ethertype sinks, then the default sink. Keys are hashed to numbers and
 * chained, so a lookup allocates nothing and never scans all flows.
 *
 * The key extractor reads the few header fields a NIC's steering reads — ethertype (after one
 * 802.1Q tag), IPv4 protocol, addresses, ports of first fragments only — because ring/ may not
 * import proto/. Anything it cannot classify goes to the default sink.
 */
import type { Region } from './buffer_pool';
import type { RxSink } from './device';

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
    public sink: RxSink,
  ) {}
}

const K5 = 5;
const K3 = 3;
const KPORT = 1;

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ (a >>> 16), 0x45d9f3b) ^ b;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 13)) | 0;
}

function hash(kind: number, protocol: number, srcIp: number, srcPort: number, dstIp: number, dstPort: number): number {
  return mix(mix(mix(kind * 256 + protocol, srcIp), dstIp), srcPort * 65536 + dstPort);
}

/** Result of classifying a frame. */
export const enum FrameClass {
  /** IPv4 UDP/TCP with ports (first fragment or unfragmented). */
  L4 = 0,
  /** Anything else (ARP, ICMP, IGMP, non-first fragments, other ethertypes). */
  Other = 1,
  /** Too short to classify. */
  Runt = 2,
}

export class FlowTable {
  private readonly table = new Map<number, Entry>();
  private readonly ethertypes = new Map<number, RxSink>();
  /** Output of the last `classify`. */
  readonly key: FlowKey = { protocol: 0, srcIp: 0, srcPort: 0, dstIp: 0, dstPort: 0 };
  /** Ethertype of the last classified frame. */
  ethertype = 0;
  size = 0;

  private add(kind: number, p: number, si: number, sp: number, di: number, dp: number, sink: RxSink): void {
    const h = hash(kind, p, si, sp, di, dp);
    for (let e = this.table.get(h) ?? null; e; e = e.next) {
      if (e.kind === kind && e.protocol === p && e.srcIp === si && e.srcPort === sp && e.dstIp === di && e.dstPort === dp) {
        throw new Error(`flow already attached: ${describe(kind, p, si, sp, di, dp)}`);
      }
    }
    const entry = new Entry(kind, p, si, sp, di, dp, sink);
    entry.next = this.table.get(h) ?? null;
    this.table.set(h, entry);
    this.size++;
  }

  private remove(kind: number, p: number, si: number, sp: number, di: number, dp: number): boolean {
    const h = hash(kind, p, si, sp, di, dp);
    let prev: Entry | null = null;
    for (let e = this.table.get(h) ?? null; e; prev = e, e = e.next) {
      if (e.kind === kind && e.protocol === p && e.srcIp === si && e.srcPort === sp && e.dstIp === di && e.dstPort === dp) {
        if (prev) prev.next = e.next;
        else if (e.next) this.table.set(h, e.next);
        else this.table.delete(h);
        this.size--;
        return true;
      }
    }
    return false;
  }

  private find(kind: number, p: number, si: number, sp: number, di: number, dp: number): RxSink | null {
    for (let e = this.table.get(hash(kind, p, si, sp, di, dp)) ?? null; e; e = e.next) {
      if (e.kind === kind && e.protocol === p && e.srcIp === si && e.srcPort === sp && e.dstIp === di && e.dstPort === dp) return e.sink;
    }
    return null;
  }

  attach5(protocol: number, srcIp: number, srcPort: number, dstIp: number, dstPort: number, sink: RxSink): void {
    this.add(K5, protocol, srcIp >>> 0, srcPort, dstIp >>> 0, dstPort, sink);
  }
  detach5(protocol: number, srcIp: number, srcPort: number, dstIp: number, dstPort: number): boolean {
    return this.remove(K5, protocol, srcIp >>> 0, srcPort, dstIp >>> 0, dstPort);
  }
  attach3(protocol: number, dstIp: number, dstPort: number, sink: RxSink): void {
    this.add(K3, protocol, 0, 0, dstIp >>> 0, dstPort, sink);
  }
  detach3(protocol: number, dstIp: number, dstPort: number): boolean {
    return this.remove(K3, protocol, 0, 0, dstIp >>> 0, dstPort);
  }
  /** A listener on a port for any local address (a socket bound to 0.0.0.0). */
  attachPort(protocol: number, dstPort: number, sink: RxSink): void {
    this.add(KPORT, protocol, 0, 0, 0, dstPort, sink);
  }
  detachPort(protocol: number, dstPort: number): boolean {
    return this.remove(KPORT, protocol, 0, 0, 0, dstPort);
  }
  attachEthertype(ethertype: number, sink: RxSink): void {
    this.ethertypes.set(ethertype, sink);
  }
  detachEthertype(ethertype: number): boolean {
    return this.ethertypes.delete(ethertype);
  }

  /** Reads the frame's flow key into `this.key` / `this.ethertype`. */
  classify(r: Region, off: number, len: number): FrameClass {
    if (len < 14) return FrameClass.Runt;
    const dv = r.dv;
    let l3 = off + 14;
    let et = dv.getUint16(off + 12);
    if (et === 0x8100 || et === 0x88a8) {
      if (len < 18) return FrameClass.Runt;
      et = dv.getUint16(off + 16);
      l3 = off + 18;
    }
    this.ethertype = et;
    if (et !== 0x0800) return FrameClass.Other;
    const end = off + len;
    if (l3 + 20 > end) return FrameClass.Other;
    const vihl = dv.getUint8(l3);
    const ihl = (vihl & 15) * 4;
    if (vihl >>> 4 !== 4 || ihl < 20 || l3 + ihl + 4 > end) return FrameClass.Other;
    if ((dv.getUint16(l3 + 6) & 0x1fff) !== 0) return FrameClass.Other; // not the first fragment: no ports here
    const p = dv.getUint8(l3 + 9);
    if (p !== 17 && p !== 6) return FrameClass.Other;
    const k = this.key;
    k.protocol = p;
    k.srcIp = dv.getUint32(l3 + 12);
    k.dstIp = dv.getUint32(l3 + 16);
    k.srcPort = dv.getUint16(l3 + ihl);
    k.dstPort = dv.getUint16(l3 + ihl + 2);
    return FrameClass.L4;
  }

  /** The sink for the last classified frame, by rfs precedence, or null. */
  lookup(cls: FrameClass): RxSink | null {
    if (cls === FrameClass.L4) {
      const k = this.key;
      return this.find(K5, k.protocol, k.srcIp, k.srcPort, k.dstIp, k.dstPort)
        ?? this.find(K3, k.protocol, 0, 0, k.dstIp, k.dstPort)
        ?? this.find(KPORT, k.protocol, 0, 0, 0, k.dstPort)
        ?? this.ethertypes.get(0x0800) ?? null;
    }
    if (cls === FrameClass.Other) return this.ethertypes.get(this.ethertype) ?? null;
    return null;
  }
}

function ip(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function describe(kind: number, p: number, si: number, sp: number, di: number, dp: number): string {
  const proto = p === 17 ? 'udp' : p === 6 ? 'tcp' : `proto ${p}`;
  if (kind === K5) return `${proto} ${ip(si)}:${sp} > ${ip(di)}:${dp}`;
  if (kind === K3) return `${proto} *:* > ${ip(di)}:${dp}`;
  return `${proto} *:* > *:${dp}`;
}
