/**
 * ICMP for IPv4 (RFC 792; RFC 1191 for the next-hop MTU in "fragmentation needed").
 * The checksum covers the whole ICMP message; `len` passed to parse is the IP payload length.
 * Error messages carry the original IP header + 8 bytes at off + 8.
 */
import type { Bytes } from './bytes';
import { checksum } from './checksum';
import { WireStatus } from './status';

export const enum IcmpType {
  EchoReply = 0,
  DestUnreachable = 3,
  Redirect = 5,
  EchoRequest = 8,
  TimeExceeded = 11,
  ParameterProblem = 12,
}

export const enum IcmpUnreachCode {
  Net = 0,
  Host = 1,
  Protocol = 2,
  Port = 3,
  FragNeeded = 4,
}

export const ICMP_HEADER_LEN = 8;

export class IcmpRepr {
  type = 0;
  code = 0;
  /** Echo request/reply identifier and sequence. */
  ident = 0;
  seq = 0;
  /** Destination unreachable / fragmentation needed: the next-hop MTU (RFC 1191), else 0. */
  mtu = 0;
  /** The 4 bytes after the checksum, raw (for types this codec does not name). */
  rest = 0;
  /** Bytes after the 8-byte header. */
  payloadLength = 0;
  checksum = 0;
}

export function icmpHeaderLen(_repr?: IcmpRepr): number {
  return ICMP_HEADER_LEN;
}

export function parseIcmp(b: Bytes, off: number, len: number, out: IcmpRepr, verifyChecksum = true): WireStatus {
  if (len < ICMP_HEADER_LEN) return WireStatus.Truncated;
  if (verifyChecksum && checksum(b, off, len) !== 0) return WireStatus.BadChecksum;
  const dv = b.dv;
  out.type = dv.getUint8(off);
  out.code = dv.getUint8(off + 1);
  out.checksum = dv.getUint16(off + 2);
  out.rest = dv.getUint32(off + 4);
  out.payloadLength = len - ICMP_HEADER_LEN;
  out.ident = 0;
  out.seq = 0;
  out.mtu = 0;
  switch (out.type) {
    case IcmpType.EchoRequest:
    case IcmpType.EchoReply:
      out.ident = dv.getUint16(off + 4);
      out.seq = dv.getUint16(off + 6);
      break;
    case IcmpType.DestUnreachable:
      if (out.code === IcmpUnreachCode.FragNeeded) out.mtu = dv.getUint16(off + 6);
      // An error must quote at least the original IP header (RFC 792: header + 64 bits).
      if (out.payloadLength < 20) return WireStatus.Truncated;
      break;
    case IcmpType.TimeExceeded:
    case IcmpType.ParameterProblem:
      if (out.payloadLength < 20) return WireStatus.Truncated;
      break;
  }
  return WireStatus.Ok;
}

/** Writes the header; the payload (repr.payloadLength bytes) is already at off + 8. Computes the checksum. */
export function emitIcmp(repr: IcmpRepr, b: Bytes, off: number): number {
  const dv = b.dv;
  dv.setUint8(off, repr.type);
  dv.setUint8(off + 1, repr.code);
  dv.setUint16(off + 2, 0);
  switch (repr.type) {
    case IcmpType.EchoRequest:
    case IcmpType.EchoReply:
      dv.setUint16(off + 4, repr.ident);
      dv.setUint16(off + 6, repr.seq);
      break;
    case IcmpType.DestUnreachable:
      dv.setUint16(off + 4, 0);
      dv.setUint16(off + 6, repr.code === IcmpUnreachCode.FragNeeded ? repr.mtu : 0);
      break;
    case IcmpType.TimeExceeded:
      dv.setUint32(off + 4, 0);
      break;
    default:
      dv.setUint32(off + 4, repr.rest >>> 0);
  }
  dv.setUint16(off + 2, checksum(b, off, ICMP_HEADER_LEN + repr.payloadLength));
  return ICMP_HEADER_LEN;
}

const unreachNames = ['net', 'host', 'protocol', 'port', 'fragmentation needed'];

export function formatIcmp(repr: IcmpRepr): string {
  const len = ICMP_HEADER_LEN + repr.payloadLength;
  switch (repr.type) {
    case IcmpType.EchoRequest:
      return `ICMP echo request, id ${repr.ident}, seq ${repr.seq}, length ${len}`;
    case IcmpType.EchoReply:
      return `ICMP echo reply, id ${repr.ident}, seq ${repr.seq}, length ${len}`;
    case IcmpType.DestUnreachable: {
      const what = unreachNames[repr.code] ?? `code ${repr.code}`;
      const mtu = repr.code === IcmpUnreachCode.FragNeeded ? ` (mtu ${repr.mtu})` : '';
      return `ICMP ${what} unreachable${mtu}, length ${len}`;
    }
    case IcmpType.TimeExceeded:
      return `ICMP time exceeded ${repr.code === 0 ? 'in-transit' : 'reassembly'}, length ${len}`;
    default:
      return `ICMP type-#${repr.type}, code ${repr.code}, length ${len}`;
  }
}
