/**
 * UDP header (RFC 768).
 *
 *    0      7 8     15 16    23 24    31
 *   |     Source      |   Destination   |
 *   |      Port       |      Port       |
 *   |     Length      |    Checksum     |
 *
 * Length counts the header and the data (so it is at least 8). The checksum covers the IPv4
 * pseudo-header (source, destination, zero, protocol 17, UDP length), the header and the data.
 * RFC 768: "An all zero transmitted checksum value means that the transmitter generated no
 * checksum"; so a computed checksum of zero is sent as all ones (0xffff), which verifies the same.
 *
 * parse checks, in this order: 8 bytes present (Truncated), Length ≥ 8 (BadLength), Length bytes
 * present (Truncated), checksum unless it is zero or the caller does not ask (BadChecksum). Bytes
 * after Length (IP padding) are not part of the datagram.
 */
import type { Bytes } from './bytes';
import { checksum, pseudoHeaderSum } from './checksum';
import { IpProtocol } from './ipv4';
import { WireStatus } from './status';

export const UDP_HEADER_LEN = 8;
/** Largest value of the Length field. */
export const UDP_MAX_LEN = 0xffff;

// Field offsets from the start of the header.
const F_SRC_PORT = 0;
const F_DST_PORT = 2;
const F_LENGTH = 4;
const F_CHECKSUM = 6;

export class UdpRepr {
  srcPort = 0;
  dstPort = 0;
  /** Bytes of data after the header (Length − 8). emit writes Length from this. */
  payloadLength = 0;
  /** The checksum field as received (0: the sender sent none). emit computes its own and ignores this. */
  checksum = 0;
}

/** Always 8; here so that every header has an `xHeaderLen`. */
export function udpHeaderLen(_repr?: UdpRepr): number {
  return UDP_HEADER_LEN;
}

/**
 * `len` is the number of bytes available from `off` (the IP payload length); `src`/`dst` are the
 * IPv4 addresses of the pseudo-header, unsigned or as signed 32-bit (`addr | 0`): the sum is the
 * same. Hot callers pass `addr | 0`: V8 boxes an unsigned address above 2^31 into a new heap
 * number when it is passed to a function it does not inline. Never throws, never allocates.
 */
export function parseUdp(
  b: Bytes,
  off: number,
  len: number,
  out: UdpRepr,
  src: number,
  dst: number,
  verifyChecksum = true,
): WireStatus {
  if (len < UDP_HEADER_LEN) return WireStatus.Truncated;
  const dv = b.dv;
  const ulen = dv.getUint16(off + F_LENGTH);
  if (ulen < UDP_HEADER_LEN) return WireStatus.BadLength;
  if (ulen > len) return WireStatus.Truncated;
  const cs = dv.getUint16(off + F_CHECKSUM);
  if (verifyChecksum && cs !== 0 && checksum(b, off, ulen, pseudoHeaderSum(src, dst, IpProtocol.Udp, ulen)) !== 0) {
    return WireStatus.BadChecksum;
  }
  out.srcPort = dv.getUint16(off + F_SRC_PORT);
  out.dstPort = dv.getUint16(off + F_DST_PORT);
  out.payloadLength = ulen - UDP_HEADER_LEN;
  out.checksum = cs;
  return WireStatus.Ok;
}

/**
 * Writes the 8-byte header; the data (repr.payloadLength bytes) is already at off + 8. `src`/`dst`
 * as for parseUdp (unsigned or `| 0`). With
 * `withChecksum` the checksum covers pseudo-header, header and data (a computed 0 is sent as 0xffff);
 * without, the field is 0 ("none"). Returns 8. Throws RangeError for a port outside 16 bits or a
 * length the Length field cannot hold (programmer error).
 */
export function emitUdp(repr: UdpRepr, b: Bytes, off: number, src: number, dst: number, withChecksum = true): number {
  const ulen = UDP_HEADER_LEN + repr.payloadLength;
  if ((repr.srcPort | repr.dstPort) >>> 16 !== 0) throw new RangeError(`UDP port ${repr.srcPort}/${repr.dstPort} is outside 0..65535`);
  if (repr.payloadLength < 0 || ulen > UDP_MAX_LEN) throw new RangeError(`UDP payload length ${repr.payloadLength} is outside 0..65527`);
  const dv = b.dv;
  dv.setUint16(off + F_SRC_PORT, repr.srcPort);
  dv.setUint16(off + F_DST_PORT, repr.dstPort);
  dv.setUint16(off + F_LENGTH, ulen);
  dv.setUint16(off + F_CHECKSUM, 0);
  if (withChecksum) {
    const c = checksum(b, off, ulen, pseudoHeaderSum(src, dst, IpProtocol.Udp, ulen));
    dv.setUint16(off + F_CHECKSUM, c === 0 ? 0xffff : c);
  }
  return UDP_HEADER_LEN;
}

/** `40000 > 9: UDP, length 12` (tcpdump prints the addresses before the ports; the IP line adds them). */
export function formatUdp(repr: UdpRepr): string {
  return `${repr.srcPort} > ${repr.dstPort}: UDP, length ${repr.payloadLength}`;
}
