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
    this.rxBytes = new Bytes(ring.rxPool.region.u8);
    this.txBytes = new Bytes(ring.txPool.region.u8);
  }

  onLink(ip: number): boolean {
    return ((ip & this.mask) >>> 0) === this.network;
  }
}
