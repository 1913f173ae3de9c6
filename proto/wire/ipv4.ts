/**
 * IPv4 header (RFC 791 §3.1), with options kept as raw bytes and fragment fields.
 *
 *   0                   1                   2                   3
 *   |Version|  IHL  |   DSCP  |ECN|          Total Length         |
 *   |         Identification        |Flags|     Fragment Offset     |
 *   |  Time to Live |    Protocol   |         Header Checksum       |
 *   |                       Source Address                          |
 *   |                    Destination Address                        |
 *   |                    Options (0-40 bytes)                       |
 */
import { formatIp } from './addr';
import type { Bytes } from './bytes';
import { checksum } from './checksum';
import { WireStatus } from './status';

export const enum IpProtocol {
  Icmp = 1,
  Igmp = 2,
  Tcp = 6,
  Udp = 17,
}

export const IPV4_MIN_HEADER_LEN = 20;
export const IPV4_MAX_OPTIONS_LEN = 40;

/** RFC 2113: Router Alert, type 148 (copied, class 0, number 20), length 4, value 0. */
export const IPV4_OPTION_ROUTER_ALERT = 148;

export class Ipv4Repr {
  src = 0;
  dst = 0;
  protocol = 0;
  ttl = 64;
  dscp = 0;
  ecn = 0;
  ident = 0;
  dontFragment = false;
  moreFragments = false;
  /** Fragment offset in bytes (the header field × 8). */
  fragOffset = 0;
  /** Bytes after the header, from total length. */
  payloadLength = 0;
  /** Bytes of options in `options` (a multiple of 4 on emit). */
  optionsLength = 0;
  readonly options = new Uint8Array(IPV4_MAX_OPTIONS_LEN);
  /** Header checksum as received (parse) — emit computes it. */
  checksum = 0;
}

export function ipv4HeaderLen(repr: Ipv4Repr): number {
  return IPV4_MIN_HEADER_LEN + ((repr.optionsLength + 3) & ~3);
}

/** Offset of the payload of a packet parsed at `off`. */
export function ipv4PayloadOffset(repr: Ipv4Repr, off: number): number {
  return off + ipv4HeaderLen(repr);
}

export function isFragment(repr: Ipv4Repr): boolean {
  return repr.moreFragments || repr.fragOffset !== 0;
}

export function parseIpv4(b: Bytes, off: number, len: number, out: Ipv4Repr, verifyChecksum = true): WireStatus {
  if (len < IPV4_MIN_HEADER_LEN) return WireStatus.Truncated;
  const dv = b.dv;
  const vihl = dv.getUint8(off);
  if (vihl >>> 4 !== 4) return WireStatus.Unsupported;
  const hlen = (vihl & 0x0f) * 4;
  if (hlen < IPV4_MIN_HEADER_LEN) return WireStatus.Malformed;
  if (hlen > len) return WireStatus.Truncated;
  const total = dv.getUint16(off + 2);
  if (total < hlen) return WireStatus.BadLength;
  if (total > len) return WireStatus.Truncated;
  if (verifyChecksum && checksum(b, off, hlen) !== 0) return WireStatus.BadChecksum;
  const tos = dv.getUint8(off + 1);
  out.dscp = tos >>> 2;
  out.ecn = tos & 3;
  out.ident = dv.getUint16(off + 4);
  const ff = dv.getUint16(off + 6);
  out.dontFragment = (ff & 0x4000) !== 0;
  out.moreFragments = (ff & 0x2000) !== 0;
  out.fragOffset = (ff & 0x1fff) * 8;
  out.ttl = dv.getUint8(off + 8);
  out.protocol = dv.getUint8(off + 9);
  out.checksum = dv.getUint16(off + 10);
  out.src = dv.getUint32(off + 12);
  out.dst = dv.getUint32(off + 16);
  out.optionsLength = hlen - IPV4_MIN_HEADER_LEN;
  if (out.optionsLength > 0) out.options.set(b.u8.subarray(off + 20, off + hlen));
  out.payloadLength = total - hlen;
  // The reserved flag bit must be zero (RFC 791); a set bit is a malformed header.
  if (ff & 0x8000) return WireStatus.Malformed;
  return WireStatus.Ok;
}

/** Writes the header (payload length from the Repr) and its checksum. Returns the header length. */
export function emitIpv4(repr: Ipv4Repr, b: Bytes, off: number): number {
  const dv = b.dv;
  const hlen = ipv4HeaderLen(repr);
  dv.setUint8(off, 0x40 | (hlen >>> 2));
  dv.setUint8(off + 1, ((repr.dscp & 0x3f) << 2) | (repr.ecn & 3));
  dv.setUint16(off + 2, hlen + repr.payloadLength);
  dv.setUint16(off + 4, repr.ident & 0xffff);
  dv.setUint16(off + 6, (repr.dontFragment ? 0x4000 : 0) | (repr.moreFragments ? 0x2000 : 0) | ((repr.fragOffset >>> 3) & 0x1fff));
  dv.setUint8(off + 8, repr.ttl);
  dv.setUint8(off + 9, repr.protocol);
  dv.setUint16(off + 10, 0);
  dv.setUint32(off + 12, repr.src >>> 0);
  dv.setUint32(off + 16, repr.dst >>> 0);
  const n = repr.optionsLength;
  for (let i = 0; i < n; i++) b.u8[off + 20 + i] = repr.options[i];
  for (let i = n; i < hlen - 20; i++) b.u8[off + 20 + i] = 0; // EOL padding
  dv.setUint16(off + 10, checksum(b, off, hlen));
  return hlen;
}

export function protocolName(p: number): string {
  switch (p) {
    case IpProtocol.Icmp: return 'ICMP';
    case IpProtocol.Igmp: return 'IGMP';
    case IpProtocol.Tcp: return 'TCP';
    case IpProtocol.Udp: return 'UDP';
    default: return `ip-proto-${p}`;
  }
}

/** Describes the options minimally: `RA` for Router Alert, else `opt-N`. */
export function formatIpv4Options(repr: Ipv4Repr): string {
  const parts: string[] = [];
  let i = 0;
  while (i < repr.optionsLength) {
    const t = repr.options[i];
    if (t === 0) break;
    if (t === 1) { i++; continue; }
    const l = i + 1 < repr.optionsLength ? repr.options[i + 1] : 0;
    parts.push(t === IPV4_OPTION_ROUTER_ALERT ? 'RA' : `opt-${t}`);
    if (l < 2) break;
    i += l;
  }
  return parts.join(',');
}

export function formatIpv4Header(repr: Ipv4Repr): string {
  const flags = repr.dontFragment ? '[DF]' : repr.moreFragments ? '[+]' : '[none]';
  const opts = repr.optionsLength ? `, options (${formatIpv4Options(repr)})` : '';
  return `(tos 0x${((repr.dscp << 2) | repr.ecn).toString(16)}, ttl ${repr.ttl}, id ${repr.ident}, offset ${repr.fragOffset}, flags ${flags}, proto ${protocolName(repr.protocol)} (${repr.protocol}), length ${ipv4HeaderLen(repr) + repr.payloadLength}${opts})`;
}

export function formatIpv4Packet(repr: Ipv4Repr): string {
  return `IP ${formatIp(repr.src)} > ${formatIp(repr.dst)}: ${protocolName(repr.protocol)}, length ${repr.payloadLength}`;
}
