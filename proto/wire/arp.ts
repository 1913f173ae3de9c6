/**
 * ARP for Ethernet and IPv4 (RFC 826), the only pairing the stack resolves.
 *
 *   htype(2)=1 ptype(2)=0x0800 hlen(1)=6 plen(1)=4 op(2) sha(6) spa(4) tha(6) tpa(4) = 28 bytes
 *
 * Any other hardware type, protocol type or address length is Unsupported (a value this codec does
 * not handle, not a broken packet). Unknown opcodes (RARP 3/4, InARP 8/9, ...) parse Ok and keep
 * their number. Bytes after the 28 (Ethernet padding to 60) are ignored.
 */
import { formatIp, formatMac, readMac, writeMac } from './addr';
import type { Bytes } from './bytes';
import { WireStatus } from './status';

export const enum ArpOp {
  Request = 1,
  Reply = 2,
}

export const ARP_LEN = 28;

/** RFC 826 / IANA: hardware type 1 is Ethernet (10Mb); protocol type is an ethertype. */
const HTYPE_ETHERNET = 1;
const PTYPE_IPV4 = 0x0800;
const HLEN_ETHERNET = 6;
const PLEN_IPV4 = 4;

// Field offsets from the start of the ARP packet.
const F_HTYPE = 0;
const F_PTYPE = 2;
const F_HLEN = 4;
const F_PLEN = 5;
const F_OP = 6;
const F_SHA = 8;
const F_SPA = 14;
const F_THA = 18;
const F_TPA = 24;

export class ArpRepr {
  op = 0;
  senderMac = 0;
  senderIp = 0;
  targetMac = 0;
  targetIp = 0;
}

export function arpHeaderLen(_repr?: ArpRepr): number {
  return ARP_LEN;
}

export function parseArp(b: Bytes, off: number, len: number, out: ArpRepr): WireStatus {
  if (len < ARP_LEN) return WireStatus.Truncated;
  const dv = b.dv;
  if (
    dv.getUint16(off + F_HTYPE) !== HTYPE_ETHERNET ||
    dv.getUint16(off + F_PTYPE) !== PTYPE_IPV4 ||
    dv.getUint8(off + F_HLEN) !== HLEN_ETHERNET ||
    dv.getUint8(off + F_PLEN) !== PLEN_IPV4
  ) {
    return WireStatus.Unsupported;
  }
  out.op = dv.getUint16(off + F_OP);
  out.senderMac = readMac(b, off + F_SHA);
  out.senderIp = dv.getUint32(off + F_SPA);
  out.targetMac = readMac(b, off + F_THA);
  out.targetIp = dv.getUint32(off + F_TPA);
  return WireStatus.Ok;
}

/** Writes all 28 bytes (Ethernet/IPv4 types and lengths included) and returns 28. */
export function emitArp(repr: ArpRepr, b: Bytes, off: number): number {
  const dv = b.dv;
  dv.setUint16(off + F_HTYPE, HTYPE_ETHERNET);
  dv.setUint16(off + F_PTYPE, PTYPE_IPV4);
  dv.setUint8(off + F_HLEN, HLEN_ETHERNET);
  dv.setUint8(off + F_PLEN, PLEN_IPV4);
  dv.setUint16(off + F_OP, repr.op);
  writeMac(b, off + F_SHA, repr.senderMac);
  dv.setUint32(off + F_SPA, repr.senderIp >>> 0);
  writeMac(b, off + F_THA, repr.targetMac);
  dv.setUint32(off + F_TPA, repr.targetIp >>> 0);
  return ARP_LEN;
}

/**
 * As tcpdump prints ARP: `ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 28`, with the
 * target MAC in parentheses when a request carries one, and `ARP, Reply A is-at MAC`.
 */
export function formatArp(repr: ArpRepr): string {
  return `ARP, ${formatArpBody(repr)}`;
}

/** formatArp after `ARP, `: `Request who-has 198.18.0.2 tell 198.18.0.1, length 28`. */
export function formatArpBody(repr: ArpRepr): string {
  switch (repr.op) {
    case ArpOp.Request: {
      const tha = repr.targetMac !== 0 ? ` (${formatMac(repr.targetMac)})` : '';
      return `Request who-has ${formatIp(repr.targetIp)}${tha} tell ${formatIp(repr.senderIp)}, length 28`;
    }
    case ArpOp.Reply:
      return `Reply ${formatIp(repr.senderIp)} is-at ${formatMac(repr.senderMac)}, length 28`;
    default:
      return `op ${repr.op} ${formatIp(repr.senderIp)} (${formatMac(repr.senderMac)}) > ${formatIp(repr.targetIp)} (${formatMac(repr.targetMac)}), length 28`;
  }
}
