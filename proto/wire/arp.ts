/**
 * ARP for Ethernet and IPv4 (RFC 826). Other hardware or protocol types are Unsupported.
 * Layout: htype(2) ptype(2) hlen(1) plen(1) op(2) sha(6) spa(4) tha(6) tpa(4) = 28 bytes.
 */
import { formatIp, formatMac, readMac, writeMac } from './addr';
import type { Bytes } from './bytes';
import { WireStatus } from './status';

export const enum ArpOp {
  Request = 1,
  Reply = 2,
}

export const ARP_LEN = 28;

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
  // htype 1 = Ethernet, ptype 0x0800 = IPv4, hlen 6, plen 4
  if (dv.getUint16(off) !== 1 || dv.getUint16(off + 2) !== 0x0800) return WireStatus.Unsupported;
  if (dv.getUint8(off + 4) !== 6 || dv.getUint8(off + 5) !== 4) return WireStatus.Malformed;
  out.op = dv.getUint16(off + 6);
  out.senderMac = readMac(b, off + 8);
  out.senderIp = dv.getUint32(off + 14);
  out.targetMac = readMac(b, off + 18);
  out.targetIp = dv.getUint32(off + 24);
  return WireStatus.Ok;
}

export function emitArp(repr: ArpRepr, b: Bytes, off: number): number {
  const dv = b.dv;
  dv.setUint16(off, 1);
  dv.setUint16(off + 2, 0x0800);
  dv.setUint8(off + 4, 6);
  dv.setUint8(off + 5, 4);
  dv.setUint16(off + 6, repr.op);
  writeMac(b, off + 8, repr.senderMac);
  dv.setUint32(off + 14, repr.senderIp >>> 0);
  writeMac(b, off + 18, repr.targetMac);
  dv.setUint32(off + 24, repr.targetIp >>> 0);
  return ARP_LEN;
}

export function formatArp(repr: ArpRepr): string {
  switch (repr.op) {
    case ArpOp.Request:
      return `ARP, Request who-has ${formatIp(repr.targetIp)} tell ${formatIp(repr.senderIp)}, length 28`;
    case ArpOp.Reply:
      return `ARP, Reply ${formatIp(repr.senderIp)} is-at ${formatMac(repr.senderMac)}, length 28`;
    default:
      return `ARP, op ${repr.op} ${formatIp(repr.senderIp)} (${formatMac(repr.senderMac)}) > ${formatIp(repr.targetIp)}, length 28`;
  }
}
