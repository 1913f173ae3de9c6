/**
 * ICMP for IPv4 (RFC 792; RFC 1191 §4 for the next-hop MTU in "fragmentation needed").
 *
 *   type(1) code(1) checksum(2) rest-of-header(4) | data
 *
 * The checksum covers the whole ICMP message: `len` passed to parse is the IP payload length, and
 * emit sums 8 + `payloadLength` bytes, so the payload must already be at off + 8. Error messages
 * (destination unreachable, redirect, time exceeded, parameter problem) quote the original IP
 * header + 8 bytes at off + 8; the caller reads it there (RFC 792: "Internet Header + 64 bits of
 * Original Data Datagram"). A quote shorter than an IPv4 header is Truncated, as Linux drops it.
 * Unknown types parse Ok with type, code and the raw rest-of-header word kept.
 */
import { formatIp } from './addr';
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
  Timestamp = 13,
  TimestampReply = 14,
}

/** RFC 792 / RFC 1812 §5.2.7.1 destination-unreachable codes. */
export const enum IcmpUnreachCode {
  Net = 0,
  Host = 1,
  Protocol = 2,
  Port = 3,
  FragNeeded = 4,
  SourceRouteFailed = 5,
  AdminProhibited = 13,
}

/** RFC 792 time-exceeded codes. */
export const enum IcmpTimeExceededCode {
  TtlExceeded = 0,
  FragReassembly = 1,
}

export const ICMP_HEADER_LEN = 8;
/** The smallest quote an error may carry: an IPv4 header without options. */
export const ICMP_ERROR_MIN_QUOTE = 20;

// Field offsets from the start of the message.
const F_TYPE = 0;
const F_CODE = 1;
const F_CHECKSUM = 2;
const F_REST = 4;
/** Echo: identifier and sequence number; frag-needed: next-hop MTU in the low 16 bits of REST. */
const F_IDENT = 4;
const F_SEQ = 6;
const F_MTU = 6;

export class IcmpRepr {
  type = 0;
  code = 0;
  /** Echo request/reply (and timestamp) identifier and sequence; 0 for other types. */
  ident = 0;
  seq = 0;
  /** Destination unreachable / fragmentation needed: the next-hop MTU (RFC 1191), else 0. */
  mtu = 0;
  /**
   * The 4 bytes after the checksum, raw (parse fills it for every type). emit writes it for types
   * other than echo, destination unreachable and time exceeded (e.g. a redirect's gateway address).
   */
  rest = 0;
  /** Bytes after the 8-byte header. */
  payloadLength = 0;
  /** As received (for tools); emit computes its own. */
  checksum = 0;
}

export function icmpHeaderLen(_repr?: IcmpRepr): number {
  return ICMP_HEADER_LEN;
}

function isError(type: number): boolean {
  return type === IcmpType.DestUnreachable || type === IcmpType.Redirect || type === IcmpType.TimeExceeded || type === IcmpType.ParameterProblem;
}

/** `len` is the ICMP message length (the IP payload length). */
export function parseIcmp(b: Bytes, off: number, len: number, out: IcmpRepr, verifyChecksum = true): WireStatus {
  if (len < ICMP_HEADER_LEN) return WireStatus.Truncated;
  if (verifyChecksum && checksum(b, off, len) !== 0) return WireStatus.BadChecksum;
  const dv = b.dv;
  const type = dv.getUint8(off + F_TYPE);
  const code = dv.getUint8(off + F_CODE);
  if (isError(type) && len - ICMP_HEADER_LEN < ICMP_ERROR_MIN_QUOTE) return WireStatus.Truncated;
  out.type = type;
  out.code = code;
  out.checksum = dv.getUint16(off + F_CHECKSUM);
  out.rest = dv.getUint32(off + F_REST);
  out.payloadLength = len - ICMP_HEADER_LEN;
  out.ident = 0;
  out.seq = 0;
  out.mtu = 0;
  switch (type) {
    case IcmpType.EchoRequest:
    case IcmpType.EchoReply:
    case IcmpType.Timestamp:
    case IcmpType.TimestampReply:
      out.ident = dv.getUint16(off + F_IDENT);
      out.seq = dv.getUint16(off + F_SEQ);
      break;
    case IcmpType.DestUnreachable:
      if (code === IcmpUnreachCode.FragNeeded) out.mtu = dv.getUint16(off + F_MTU);
      break;
  }
  return WireStatus.Ok;
}

/**
 * Writes the 8-byte header; the payload (`repr.payloadLength` bytes) is already at off + 8.
 * Computes the checksum over header + payload. Returns 8.
 */
export function emitIcmp(repr: IcmpRepr, b: Bytes, off: number): number {
  const dv = b.dv;
  dv.setUint8(off + F_TYPE, repr.type);
  dv.setUint8(off + F_CODE, repr.code);
  dv.setUint16(off + F_CHECKSUM, 0);
  switch (repr.type) {
    case IcmpType.EchoRequest:
    case IcmpType.EchoReply:
    case IcmpType.Timestamp:
    case IcmpType.TimestampReply:
      dv.setUint16(off + F_IDENT, repr.ident);
      dv.setUint16(off + F_SEQ, repr.seq);
      break;
    case IcmpType.DestUnreachable:
      // RFC 1191: unused (zero) high half, next-hop MTU in the low half for code 4.
      dv.setUint16(off + F_REST, 0);
      dv.setUint16(off + F_MTU, repr.code === IcmpUnreachCode.FragNeeded ? repr.mtu : 0);
      break;
    case IcmpType.TimeExceeded:
      dv.setUint32(off + F_REST, 0); // RFC 792: unused
      break;
    default:
      dv.setUint32(off + F_REST, repr.rest >>> 0);
  }
  dv.setUint16(off + F_CHECKSUM, checksum(b, off, ICMP_HEADER_LEN + repr.payloadLength));
  return ICMP_HEADER_LEN;
}

/** The destination-unreachable wording, e.g. `port unreachable`, `unreachable - need to frag (mtu 1400)`. */
export function unreachText(repr: IcmpRepr): string {
  switch (repr.code) {
    case IcmpUnreachCode.Net: return 'net unreachable';
    case IcmpUnreachCode.Host: return 'host unreachable';
    case IcmpUnreachCode.Protocol: return 'protocol unreachable';
    case IcmpUnreachCode.Port: return 'port unreachable';
    case IcmpUnreachCode.FragNeeded: return `unreachable - need to frag (mtu ${repr.mtu})`;
    case IcmpUnreachCode.SourceRouteFailed: return 'unreachable - source route failed';
    case IcmpUnreachCode.AdminProhibited: return 'unreachable - admin prohibited filter';
    default: return `unreachable, code ${repr.code}`;
  }
}

/**
 * tcpdump's wording without the quoted datagram's details, e.g. `ICMP echo request, id 7, seq 1,
 * length 64`, `ICMP port unreachable, length 36`, `ICMP unreachable - need to frag (mtu 1400), length 36`.
 */
export function formatIcmp(repr: IcmpRepr): string {
  const len = ICMP_HEADER_LEN + repr.payloadLength;
  switch (repr.type) {
    case IcmpType.EchoRequest:
      return `ICMP echo request, id ${repr.ident}, seq ${repr.seq}, length ${len}`;
    case IcmpType.EchoReply:
      return `ICMP echo reply, id ${repr.ident}, seq ${repr.seq}, length ${len}`;
    case IcmpType.DestUnreachable:
      return `ICMP ${unreachText(repr)}, length ${len}`;
    case IcmpType.Redirect:
      return `ICMP redirect to ${repr.code === 0 || repr.code === 2 ? 'net' : 'host'} ${formatIp(repr.rest >>> 0)}, length ${len}`;
    case IcmpType.TimeExceeded:
      return `ICMP time exceeded ${repr.code === IcmpTimeExceededCode.TtlExceeded ? 'in-transit' : 'reassembly'}, length ${len}`;
    case IcmpType.ParameterProblem:
      return `ICMP parameter problem - octet ${repr.rest >>> 24}, length ${len}`;
    case IcmpType.Timestamp:
      return `ICMP time stamp query id ${repr.ident} seq ${repr.seq}, length ${len}`;
    case IcmpType.TimestampReply:
      return `ICMP time stamp reply id ${repr.ident} seq ${repr.seq}, length ${len}`;
    default:
      return `ICMP type-#${repr.type}, code ${repr.code}, length ${len}`;
  }
}
