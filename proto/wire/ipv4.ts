/**
 * IPv4 header (RFC 791 §3.1; DSCP/ECN per RFC 2474 and RFC 3168), options kept as raw bytes.
 *
 *    0                   1                   2                   3
 *   |Version|  IHL  |   DSCP    |ECN|          Total Length         |
 *   |         Identification        |R|D|M|    Fragment Offset      |
 *   |  Time to Live |    Protocol   |         Header Checksum       |
 *   |                       Source Address                          |
 *   |                    Destination Address                        |
 *   |                    Options (0-40 bytes)                       |
 *
 * parse checks, in this order: 20 bytes present (Truncated), version 4 (Unsupported), IHL ≥ 5
 * (Malformed), IHL×4 bytes present (Truncated), Total Length ≥ IHL×4 (BadLength), Total Length
 * bytes present (Truncated), header checksum (BadChecksum, when asked). Bytes after Total Length
 * (Ethernet padding) are not part of the packet. The reserved flag bit is ignored, as Linux does.
 * Options are copied raw into the Repr and not validated (formatIpv4Options names them).
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
export const IPV4_MAX_TOTAL_LEN = 0xffff;

/** RFC 2113: Router Alert, type 148 (copied, class 0, number 20), length 4, value 0. */
export const IPV4_OPTION_ROUTER_ALERT = 148;
/** RFC 791: End of Option List and No Operation. */
export const IPV4_OPTION_EOL = 0;
export const IPV4_OPTION_NOP = 1;

// Field offsets from the start of the header.
const F_VER_IHL = 0;
const F_TOS = 1;
const F_TOTAL_LEN = 2;
const F_IDENT = 4;
const F_FLAGS_FRAG = 6;
const F_TTL = 8;
const F_PROTOCOL = 9;
const F_CHECKSUM = 10;
const F_SRC = 12;
const F_DST = 16;
const F_OPTIONS = 20;

const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAG_OFFSET_MASK = 0x1fff;

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
  /** Fragment offset in bytes (the header field × 8); a multiple of 8. */
  fragOffset = 0;
  /** Bytes after the header: Total Length − header length. emit writes Total Length from this. */
  payloadLength = 0;
  /** Bytes of options in `options`; emit pads to a multiple of 4 with End-of-Option-List bytes. */
  optionsLength = 0;
  /** Raw option bytes; only the first `optionsLength` are meaningful. */
  readonly options = new Uint8Array(IPV4_MAX_OPTIONS_LEN);
  /** Total Length as received (header + payload). parse fills it; emit ignores it. */
  totalLength = 0;
  /** Header checksum as received (for tools). parse fills it; emit computes its own. */
  checksum = 0;
}

/** 20 plus the options rounded up to a multiple of 4. */
export function ipv4HeaderLen(repr: Ipv4Repr): number {
  return IPV4_MIN_HEADER_LEN + ((repr.optionsLength + 3) & ~3);
}

/** Offset of the payload of a packet whose header is at `off`. */
export function ipv4PayloadOffset(repr: Ipv4Repr, off: number): number {
  return off + ipv4HeaderLen(repr);
}

/** True for any piece of a fragmented datagram (MF set or a non-zero offset). */
export function isFragment(repr: Ipv4Repr): boolean {
  return repr.moreFragments || repr.fragOffset !== 0;
}

/** `len` is the number of bytes available from `off` (to the end of the frame). */
export function parseIpv4(b: Bytes, off: number, len: number, out: Ipv4Repr, verifyChecksum = true): WireStatus {
  if (len < IPV4_MIN_HEADER_LEN) return WireStatus.Truncated;
  const dv = b.dv;
  const vihl = dv.getUint8(off + F_VER_IHL);
  if (vihl >>> 4 !== 4) return WireStatus.Unsupported;
  const hlen = (vihl & 0x0f) * 4;
  if (hlen < IPV4_MIN_HEADER_LEN) return WireStatus.Malformed;
  if (hlen > len) return WireStatus.Truncated;
  const total = dv.getUint16(off + F_TOTAL_LEN);
  if (total < hlen) return WireStatus.BadLength;
  if (total > len) return WireStatus.Truncated;
  if (verifyChecksum && checksum(b, off, hlen) !== 0) return WireStatus.BadChecksum;
  const tos = dv.getUint8(off + F_TOS);
  out.dscp = tos >>> 2;
  out.ecn = tos & 3;
  out.totalLength = total;
  out.ident = dv.getUint16(off + F_IDENT);
  const ff = dv.getUint16(off + F_FLAGS_FRAG);
  out.dontFragment = (ff & FLAG_DF) !== 0;
  out.moreFragments = (ff & FLAG_MF) !== 0;
  out.fragOffset = (ff & FRAG_OFFSET_MASK) * 8;
  out.ttl = dv.getUint8(off + F_TTL);
  out.protocol = dv.getUint8(off + F_PROTOCOL);
  out.checksum = dv.getUint16(off + F_CHECKSUM);
  out.src = dv.getUint32(off + F_SRC);
  out.dst = dv.getUint32(off + F_DST);
  const n = hlen - IPV4_MIN_HEADER_LEN;
  const opts = out.options;
  const u8 = b.u8;
  // Copy without a subarray view (no allocation); clear what a longer previous header left behind.
  for (let i = 0; i < n; i++) opts[i] = u8[off + F_OPTIONS + i];
  for (let i = n; i < out.optionsLength; i++) opts[i] = 0;
  out.optionsLength = n;
  out.payloadLength = total - hlen;
  return WireStatus.Ok;
}

/**
 * Writes the header, sized from the Repr (options + payloadLength), with its checksum; returns the
 * header length. Throws RangeError on a Repr no header can carry (programmer error, not peer input).
 */
export function emitIpv4(repr: Ipv4Repr, b: Bytes, off: number): number {
  const hlen = ipv4HeaderLen(repr);
  const total = hlen + repr.payloadLength;
  if (repr.optionsLength > IPV4_MAX_OPTIONS_LEN || repr.optionsLength < 0) throw new RangeError(`IPv4 options length ${repr.optionsLength} is outside 0..40`);
  if (total > IPV4_MAX_TOTAL_LEN || repr.payloadLength < 0) throw new RangeError(`IPv4 total length ${total} is outside 20..65535`);
  const dv = b.dv;
  const u8 = b.u8;
  dv.setUint8(off + F_VER_IHL, 0x40 | (hlen >>> 2));
  dv.setUint8(off + F_TOS, ((repr.dscp & 0x3f) << 2) | (repr.ecn & 3));
  dv.setUint16(off + F_TOTAL_LEN, total);
  dv.setUint16(off + F_IDENT, repr.ident & 0xffff);
  dv.setUint16(
    off + F_FLAGS_FRAG,
    (repr.dontFragment ? FLAG_DF : 0) | (repr.moreFragments ? FLAG_MF : 0) | ((repr.fragOffset >>> 3) & FRAG_OFFSET_MASK),
  );
  dv.setUint8(off + F_TTL, repr.ttl);
  dv.setUint8(off + F_PROTOCOL, repr.protocol);
  dv.setUint16(off + F_CHECKSUM, 0);
  dv.setUint32(off + F_SRC, repr.src >>> 0);
  dv.setUint32(off + F_DST, repr.dst >>> 0);
  const n = repr.optionsLength;
  for (let i = 0; i < n; i++) u8[off + F_OPTIONS + i] = repr.options[i];
  for (let i = F_OPTIONS + n; i < hlen; i++) u8[off + i] = IPV4_OPTION_EOL;
  dv.setUint16(off + F_CHECKSUM, checksum(b, off, hlen));
  return hlen;
}

/** tcpdump's protocol names (`ICMP`, `IGMP`, `TCP`, `UDP`), else `ip-proto-N`. */
export function protocolName(p: number): string {
  switch (p) {
    case IpProtocol.Icmp: return 'ICMP';
    case IpProtocol.Igmp: return 'IGMP';
    case IpProtocol.Tcp: return 'TCP';
    case IpProtocol.Udp: return 'UDP';
    default: return `ip-proto-${p}`;
  }
}

/**
 * Names the options minimally, comma-separated: `RA` for Router Alert, `NOP`, `EOL`, else
 * `opt-N`; `[bad length]` where an option's length byte does not fit.
 */
export function formatIpv4Options(repr: Ipv4Repr): string {
  let s = '';
  let i = 0;
  const n = repr.optionsLength;
  while (i < n) {
    const t = repr.options[i];
    const sep = s === '' ? '' : ',';
    if (t === IPV4_OPTION_EOL) return `${s}${sep}EOL`;
    if (t === IPV4_OPTION_NOP) {
      s += `${sep}NOP`;
      i++;
      continue;
    }
    const l = i + 1 < n ? repr.options[i + 1] : 0;
    s += sep + (t === IPV4_OPTION_ROUTER_ALERT ? 'RA' : `opt-${t}`);
    if (l < 2 || i + l > n) return `${s} [bad length]`;
    i += l;
  }
  return s;
}

const ecnNames = ['', ',ECT(1)', ',ECT(0)', ',CE'];

/** The `tcpdump -v` header part: `(tos 0x0, ttl 64, id 257, offset 0, flags [DF], proto ICMP (1), length 36)`. */
export function formatIpv4Header(repr: Ipv4Repr): string {
  const flags = repr.moreFragments ? (repr.dontFragment ? '+, DF' : '+') : repr.dontFragment ? 'DF' : 'none';
  const opts = repr.optionsLength ? `, options (${formatIpv4Options(repr)})` : '';
  const tos = (repr.dscp << 2) | repr.ecn;
  return `(tos 0x${tos.toString(16)}${ecnNames[repr.ecn & 3]}, ttl ${repr.ttl}, id ${repr.ident}, offset ${repr.fragOffset}, flags [${flags}], proto ${protocolName(repr.protocol)} (${repr.protocol}), length ${ipv4HeaderLen(repr) + repr.payloadLength}${opts})`;
}

/**
 * One line for the IPv4 layer alone: `IP 198.18.0.1 > 198.18.0.2: UDP, length 512`, with a fragment
 * as tcpdump notes it, `(frag 12:512@0+)` (id:payload bytes@offset, `+` for more fragments).
 */
export function formatIpv4(repr: Ipv4Repr): string {
  return `IP ${formatIp(repr.src)} > ${formatIp(repr.dst)}: ${protocolName(repr.protocol)}, length ${repr.payloadLength}${formatIpv4Frag(repr)}`;
}

/** ` (frag 12:512@0+)` for a fragment (id:payload bytes@offset, `+` for more fragments), else ''. */
export function formatIpv4Frag(repr: Ipv4Repr): string {
  return isFragment(repr) ? ` (frag ${repr.ident}:${repr.payloadLength}@${repr.fragOffset}${repr.moreFragments ? '+' : ''})` : '';
}
