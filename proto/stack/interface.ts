/** An IPv4 interface of the stack: an address on a ring's device. */
import { Bytes } from '../wire/bytes';
import { prefixMask } from '../wire/addr';
import type { Ring } from '../../ring/ring';

export interface InterfaceConfig {
  name?: string;
  ip: number;
  prefix: number;
  /** The interface's MAC (defaults to the device's). */
  mac?: number;
  /** L3 MTU (defaults to the device's). */
  mtu?: number;
  gateway?: number | null;
  /** A loopback interface: every address of its network is local (127.0.0.0/8), nothing reaches a wire. */
  loopback?: boolean;
}

/** 224.0.0.1, which every multicast host is a member of without joining (RFC 1112 §4). */
export const ALL_HOSTS = 0xe0000001;

/**
 * One group's reception state on an interface, merged from its members (RFC 3376 §3.2): EXCLUDE {}
 * while any member joined for any source, else INCLUDE the union of the members' sources.
 */
export class McGroup {
  /** Members joined for any source. */
  anySource = 0;
  /** Source → members joined for that source (source-specific membership). */
  readonly sources = new Map<number, number>();
  constructor(readonly group: number) {}

  get exclude(): boolean {
    return this.anySource > 0;
  }

  accepts(src: number): boolean {
    return this.anySource > 0 || this.sources.has(src >>> 0);
  }
}

export class Interface {
  readonly name: string;
  readonly ip: number;
  readonly prefix: number;
  readonly mask: number;
  readonly network: number;
  readonly broadcast: number;
  readonly mac: number;
  readonly mtu: number;
  readonly gateway: number | null;
  readonly loopback: boolean;
  /** Joined multicast groups (the IGMP host keeps them; RX filtering reads them). */
  readonly groups = new Map<number, McGroup>();
  /** Views over the ring's RX and TX pool memory, made once. */
  readonly rxBytes: Bytes;
  readonly txBytes: Bytes;

  constructor(readonly ring: Ring, cfg: InterfaceConfig) {
    this.name = cfg.name ?? ring.device.caps.name;
    this.ip = cfg.ip >>> 0;
    this.prefix = cfg.prefix;
    this.mask = prefixMask(cfg.prefix);
    this.network = (this.ip & this.mask) >>> 0;
    this.broadcast = (this.network | ~this.mask) >>> 0;
    this.mac = cfg.mac ?? ring.device.caps.mac;
    this.mtu = cfg.mtu ?? ring.device.caps.mtu;
    this.gateway = cfg.gateway ?? null;
    this.loopback = cfg.loopback ?? false;
    this.rxBytes = new Bytes(ring.rxPool.region.u8);
    this.txBytes = new Bytes(ring.txPool.region.u8);
  }

  onLink(ip: number): boolean {
    return ((ip & this.mask) >>> 0) === this.network;
  }

  /** Whether `ip` is one of this interface's own addresses (on a loopback interface: its whole network). */
  owns(ip: number): boolean {
    return ip >>> 0 === this.ip || (this.loopback && this.onLink(ip));
  }

  /** Whether the host takes multicast to `group` from `src` on this interface (joined, source allowed). */
  acceptsMulticast(group: number, src: number): boolean {
    if (group >>> 0 === ALL_HOSTS) return true;
    const g = this.groups.get(group >>> 0);
    return g !== undefined && g.accepts(src);
  }
}
