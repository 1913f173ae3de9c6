/**
 * Ethernet II (IEEE 802.3 §3.2.6 type field), with one optional 802.1Q tag (IEEE 802.1Q-2018 §9.6).
 *
 *   untagged: dst(6) src(6) ethertype(2)                                   = 14 bytes
 *   tagged:   dst(6) src(6) TPID 0x8100 (2) TCI: PCP(3) DEI(1) VID(12) (2) ethertype(2) = 18 bytes
 *
 * Double tagging (802.1ad S-tag 0x88a8, or a 0x8100 tag inside another): only the outer tag is
 * parsed; the ethertype reported is the inner tag's TPID (0x8100), as a value the caller can
 * dispatch on or drop, not an error. Emit always writes a 0x8100 TPID when `vlan >= 0`.
 * The 4-byte FCS is not part of what this codec sees (devices strip it).
 */
import { formatMac, readMac, writeMac } from './addr';
import type { Bytes } from './bytes';
import { WireStatus } from './status';

/** Ethertypes this stack names; any other value is kept as a number. */
export const enum EtherType {
  Ipv4 = 0x0800,
  Arp = 0x0806,
  Vlan = 0x8100,
  QinQ = 0x88a8,
  Ipv6 = 0x86dd,
}

export const ETHERNET_HEADER_LEN = 14;
export const VLAN_TAG_LEN = 4;

// Field offsets from the start of the frame.
const F_DST = 0;
const F_SRC = 6;
const F_TYPE = 12;
/** Tagged frames only: the Tag Control Information, then the encapsulated ethertype. */
const F_TCI = 14;
const F_INNER_TYPE = 16;

const TCI_DEI = 0x1000;
const TCI_VID = 0x0fff;

export class EthernetRepr {
  dst = 0;
  src = 0;
  ethertype = 0;
  /** The 12-bit VLAN id, or -1 when the frame is untagged (0 is a priority-tagged frame). */
  vlan = -1;
  /** 802.1Q Priority Code Point (0..7); 0 when untagged. */
  pcp = 0;
  /** 802.1Q Drop Eligible Indicator; false when untagged. */
  dei = false;
}

export function ethernetHeaderLen(repr: EthernetRepr): number {
  return repr.vlan >= 0 ? ETHERNET_HEADER_LEN + VLAN_TAG_LEN : ETHERNET_HEADER_LEN;
}

/** `len` is the number of frame bytes from `off`. Frames shorter than their header are Truncated. */
export function parseEthernet(b: Bytes, off: number, len: number, out: EthernetRepr): WireStatus {
  if (len < ETHERNET_HEADER_LEN) return WireStatus.Truncated;
  const dv = b.dv;
  const t = dv.getUint16(off + F_TYPE);
  if (t === EtherType.Vlan || t === EtherType.QinQ) {
    if (len < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) return WireStatus.Truncated;
    const tci = dv.getUint16(off + F_TCI);
    out.pcp = tci >>> 13;
    out.dei = (tci & TCI_DEI) !== 0;
    out.vlan = tci & TCI_VID;
    out.ethertype = dv.getUint16(off + F_INNER_TYPE);
  } else {
    out.vlan = -1;
    out.pcp = 0;
    out.dei = false;
    out.ethertype = t;
  }
  out.dst = readMac(b, off + F_DST);
  out.src = readMac(b, off + F_SRC);
  return WireStatus.Ok;
}

/** Writes the 14- or 18-byte header (tagged when `repr.vlan >= 0`) and returns its length. */
export function emitEthernet(repr: EthernetRepr, b: Bytes, off: number): number {
  const dv = b.dv;
  writeMac(b, off + F_DST, repr.dst);
  writeMac(b, off + F_SRC, repr.src);
  if (repr.vlan >= 0) {
    dv.setUint16(off + F_TYPE, EtherType.Vlan);
    dv.setUint16(off + F_TCI, ((repr.pcp & 7) << 13) | (repr.dei ? TCI_DEI : 0) | (repr.vlan & TCI_VID));
    dv.setUint16(off + F_INNER_TYPE, repr.ethertype);
    return ETHERNET_HEADER_LEN + VLAN_TAG_LEN;
  }
  dv.setUint16(off + F_TYPE, repr.ethertype);
  return ETHERNET_HEADER_LEN;
}

/** tcpdump's names for ethertypes; others print as `0x88cc`. */
export function formatEtherType(t: number): string {
  switch (t) {
    case EtherType.Ipv4: return 'IPv4';
    case EtherType.Arp: return 'ARP';
    case EtherType.Ipv6: return 'IPv6';
    case EtherType.Vlan: return '802.1Q';
    case EtherType.QinQ: return '802.1Q-QinQ';
    default: return hex16(t);
  }
}

/** `0x0800`: a 16-bit value as tcpdump prints ethertypes and checksums. */
export function hex16(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}

/** Like `tcpdump -e`: `02:00:c6:12:00:01 > ff:ff:ff:ff:ff:ff, vlan 100, p 3, ethertype IPv4 (0x0800)`. */
export function formatEthernet(repr: EthernetRepr): string {
  const vlan = repr.vlan >= 0 ? `vlan ${repr.vlan}, p ${repr.pcp}${repr.dei ? ', DEI' : ''}, ` : '';
  return `${formatMac(repr.src)} > ${formatMac(repr.dst)}, ${vlan}ethertype ${formatEtherType(repr.ethertype)} (${hex16(repr.ethertype)})`;
}
