/**
 * UDP (RFC 768). The checksum covers the IPv4 pseudo-header, the UDP header and the payload; a
 * transmitted checksum of zero means "none", so a computed zero is sent as 0xffff.
 */
import type { Bytes } from './bytes';
import { finish, pseudoHeaderSum, sum16 } from './checksum';
import { WireStatus } from './status';

export const UDP_HEADER_LEN = 8;
const IPPROTO_UDP = 17;

export class UdpRepr {
  srcPort = 0;
  dstPort = 0;
  payloadLength = 0;
  /** As received; 0 means the sender sent none. */
  checksum = 0;
}

export function udpHeaderLen(_repr?: UdpRepr): number {
  return UDP_HEADER_LEN;
}

/** `len` is the IP payload length; src/dst are the IPv4 addresses for the pseudo-header. */
export function parseUdp(b: Bytes, off: number, len: number, out: UdpRepr, src: number, dst: number, verifyChecksum = true): WireStatus {
  if (len < UDP_HEADER_LEN) return WireStatus.Truncated;
  const dv = b.dv;
  const ulen = dv.getUint16(off + 4);
  if (ulen < UDP_HEADER_LEN) return WireStatus.BadLength;
  if (ulen > len) return WireStatus.Truncated;
  const cs = dv.getUint16(off + 6);
  if (verifyChecksum && cs !== 0 && finish(sum16(b, off, ulen, pseudoHeaderSum(src, dst, IPPROTO_UDP, ulen))) !== 0) {
    return WireStatus.BadChecksum;
  }
  out.srcPort = dv.getUint16(off);
  out.dstPort = dv.getUint16(off + 2);
  out.payloadLength = ulen - UDP_HEADER_LEN;
  out.checksum = cs;
  return WireStatus.Ok;
}

/** Writes the header; the payload (repr.payloadLength bytes) is already at off + 8. Returns 8. */
export function emitUdp(repr: UdpRepr, b: Bytes, off: number, src: number, dst: number, withChecksum = true): number {
  const dv = b.dv;
  const ulen = UDP_HEADER_LEN + repr.payloadLength;
  dv.setUint16(off, repr.srcPort);
  dv.setUint16(off + 2, repr.dstPort);
  dv.setUint16(off + 4, ulen);
  dv.setUint16(off + 6, 0);
  if (withChecksum) {
    const c = finish(sum16(b, off, ulen, pseudoHeaderSum(src, dst, IPPROTO_UDP, ulen)));
    dv.setUint16(off + 6, c === 0 ? 0xffff : c);
  }
  return UDP_HEADER_LEN;
}

export function formatUdp(repr: UdpRepr): string {
  return `${repr.srcPort} > ${repr.dstPort}: UDP, length ${repr.payloadLength}`;
}
