/**
 * Ethernet II, with one optional 802.1Q tag (IEEE 802.1Q-2018 §9.6).
 * Double tagging (802.1ad 0x88a8, or 0x8100 nested): the outer tag is parsed and the inner tag's
 * TPID is reported as the ethertype, as a value, not an error.
 */
import { readMac, writeMac, formatMac } from './addr';
import type { Bytes } from './bytes';
import { WireStatus } from './status';

export const enum EtherType {
  Ipv4 = 0x0800,
  Arp = 0x0806,
  Vlan = 0x8100,
  QinQ = 0x88a8,
  Ipv6 = 0x86dd,
}

export const ETHERNET_HEADER_LEN = 14;
export const VLAN_TAG_LEN = 4;

export class EthernetRepr {
  dst = 0;
  src = 0;
  ethertype = 0;
  /** The 12-bit VLAN id, or -1 when the frame is untagged. */
  vlan = -1;
  pcp = 0;
  dei = false;
}

export function ethernetHeaderLen(repr: EthernetRepr): number {
  return repr.vlan >= 0 ? ETHERNET_HEADER_LEN + VLAN_TAG_LEN : ETHERNET_HEADER_LEN;
}

export function parseEthernet(b: Bytes, off: number, len: number, out: EthernetRepr): WireStatus {
  if (len < ETHERNET_HEADER_LEN) return WireStatus.Truncated;
  out.dst = readMac(b, off);
  out.src = readMac(b, off + 6);
  const t = b.dv.getUint16(off + 12);
  if (t === EtherType.Vlan || t === EtherType.QinQ) {
    if (len < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) return WireStatus.Truncated;
    const tci = b.dv.getUint16(off + 14);
    out.pcp = tci >>> 13;
    out.dei = (tci & 0x1000) !== 0;
    out.vlan = tci & 0x0fff;
    out.ethertype = b.dv.getUint16(off + 16);
  } else {
    out.vlan = -1;
    out.pcp = 0;
    out.dei = false;
    out.ethertype = t;
  }
  return WireStatus.Ok;
}

export function emitEthernet(repr: EthernetRepr, b: Bytes, off: number): number {
  writeMac(b, off, repr.dst);
  writeMac(b, off + 6, repr.src);
  if (repr.vlan >= 0) {
    b.dv.setUint16(off + 12, EtherType.Vlan);
    b.dv.setUint16(off + 14, ((repr.pcp & 7) << 13) | (repr.dei ? 0x1000 : 0) | (repr.vlan & 0x0fff));
    b.dv.setUint16(off + 16, repr.ethertype);
    return ETHERNET_HEADER_LEN + VLAN_TAG_LEN;
  }
  b.dv.setUint16(off + 12, repr.ethertype);
  return ETHERNET_HEADER_LEN;
}

export function formatEtherType(t: number): string {
  switch (t) {
    case EtherType.Ipv4: return 'IPv4';
    case EtherType.Arp: return 'ARP';
    case EtherType.Ipv6: return 'IPv6';
    case EtherType.Vlan: return '802.1Q';
    case EtherType.QinQ: return '802.1ad';
    default: return `0x${t.toString(16).padStart(4, '0')}`;
  }
}

export function formatEthernet(repr: EthernetRepr): string {
  const vlan = repr.vlan >= 0 ? `vlan ${repr.vlan}, p ${repr.pcp}, ` : '';
  return `${formatMac(repr.src)} > ${formatMac(repr.dst)}, ${vlan}ethertype ${formatEtherType(repr.ethertype)} (0x${repr.ethertype.toString(16).padStart(4, '0')})`;
}
