/**
 * TCP header and options (RFC 9293 §3.1; options: MSS RFC 9293 §3.2, window scale and timestamps
 * RFC 7323, SACK RFC 2018). The checksum covers the IPv4 pseudo-header, the header and the payload.
 * Unknown options are skipped by their length; a known option with a wrong length, or any option
 * running past the header, makes the segment Malformed.
 */
import type { Bytes } from './bytes';
import { finish, pseudoHeaderSum, sum16 } from './checksum';
import { seq, type SeqNum } from './seq';
import { WireStatus } from './status';

export const enum TcpFlag {
  FIN = 0x01,
  SYN = 0x02,
  RST = 0x04,
  PSH = 0x08,
  ACK = 0x10,
  URG = 0x20,
  ECE = 0x40,
  CWR = 0x80,
}

export const enum TcpOption {
  EOL = 0,
  NOP = 1,
  MSS = 2,
  WindowScale = 3,
  SackPermitted = 4,
  Sack = 5,
  Timestamps = 8,
}

export const TCP_MIN_HEADER_LEN = 20;
export const TCP_MAX_OPTIONS_LEN = 40;
/** RFC 7323 §2.3: "If a Window Scale option is received with a shift.cnt value larger than 14, the TCP SHOULD log the error but MUST use 14 instead". */
export const TCP_MAX_WINDOW_SCALE = 14;
const IPPROTO_TCP = 6;

export class TcpRepr {
  srcPort = 0;
  dstPort = 0;
  seq: SeqNum = seq(0);
  ack: SeqNum = seq(0);
  flags = 0;
  /** The raw 16-bit window field (unscaled). */
  window = 0;
  urgent = 0;
  /** Header length in bytes (parse: from the data offset field; emit: computed from the options). */
  dataOffset = TCP_MIN_HEADER_LEN;
  payloadLength = 0;
  /** MSS option value; 0 when absent. */
  mss = 0;
  /** Window scale shift count; -1 when absent. */
  windowScale = -1;
  sackPermitted = false;
  /** Number of SACK blocks in sackBlocks (left, right pairs). */
  sackCount = 0;
  readonly sackBlocks = new Uint32Array(8);
  hasTimestamp = false;
  tsVal = 0;
  tsEcr = 0;
  checksum = 0;
}

// The option layout (bytes of options, SACK blocks that fit) is computed into this one object:
// the emitter needs it twice per segment and must not allocate.
const layout = { len: 0, sacks: 0 };
function computeLayout(r: TcpRepr): typeof layout {
  let n = 0;
  if (r.mss > 0) n += 4;
  if (r.hasTimestamp) n += 12;
  else if (r.sackPermitted) n += 4;
  if (r.windowScale >= 0) n += 4;
  let sacks = 0;
  if (r.sackCount > 0) {
    sacks = Math.max(0, Math.min(r.sackCount, 4, Math.floor((TCP_MAX_OPTIONS_LEN - n - 4) / 8)));
    if (sacks > 0) n += 4 + 8 * sacks;
  }
  layout.len = n;
  layout.sacks = sacks;
  return layout;
}

export function tcpHeaderLen(repr: TcpRepr): number {
  return TCP_MIN_HEADER_LEN + computeLayout(repr).len;
}

/** `len` is the IP payload length; src/dst are the IPv4 addresses for the pseudo-header. */
export function parseTcp(b: Bytes, off: number, len: number, out: TcpRepr, src: number, dst: number, verifyChecksum = true): WireStatus {
  if (len < TCP_MIN_HEADER_LEN) return WireStatus.Truncated;
  const dv = b.dv;
  const doff = (dv.getUint8(off + 12) >>> 4) * 4;
  if (doff < TCP_MIN_HEADER_LEN) return WireStatus.BadLength;
  if (doff > len) return WireStatus.Truncated;
  if (verifyChecksum && finish(sum16(b, off, len, pseudoHeaderSum(src, dst, IPPROTO_TCP, len))) !== 0) {
    return WireStatus.BadChecksum;
  }
  out.srcPort = dv.getUint16(off);
  out.dstPort = dv.getUint16(off + 2);
  out.seq = dv.getUint32(off + 4) as SeqNum;
  out.ack = dv.getUint32(off + 8) as SeqNum;
  out.flags = dv.getUint8(off + 13);
  out.window = dv.getUint16(off + 14);
  out.checksum = dv.getUint16(off + 16);
  out.urgent = dv.getUint16(off + 18);
  out.dataOffset = doff;
  out.payloadLength = len - doff;
  out.mss = 0;
  out.windowScale = -1;
  out.sackPermitted = false;
  out.sackCount = 0;
  out.hasTimestamp = false;
  out.tsVal = 0;
  out.tsEcr = 0;
  const u8 = b.u8;
  let i = off + TCP_MIN_HEADER_LEN;
  const end = off + doff;
  while (i < end) {
    const kind = u8[i];
    if (kind === TcpOption.EOL) break;
    if (kind === TcpOption.NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return WireStatus.Malformed;
    const olen = u8[i + 1];
    if (olen < 2 || i + olen > end) return WireStatus.Malformed;
    switch (kind) {
      case TcpOption.MSS:
        if (olen !== 4) return WireStatus.Malformed;
        out.mss = dv.getUint16(i + 2);
        break;
      case TcpOption.WindowScale:
        if (olen !== 3) return WireStatus.Malformed;
        out.windowScale = Math.min(u8[i + 2], TCP_MAX_WINDOW_SCALE);
        break;
      case TcpOption.SackPermitted:
        if (olen !== 2) return WireStatus.Malformed;
        out.sackPermitted = true;
        break;
      case TcpOption.Sack: {
        const n = (olen - 2) / 8;
        if (!Number.isInteger(n) || n < 1 || n > 4) return WireStatus.Malformed;
        for (let k = 0; k < n; k++) {
          out.sackBlocks[2 * k] = dv.getUint32(i + 2 + 8 * k);
          out.sackBlocks[2 * k + 1] = dv.getUint32(i + 6 + 8 * k);
        }
        out.sackCount = n;
        break;
      }
      case TcpOption.Timestamps:
        if (olen !== 10) return WireStatus.Malformed;
        out.hasTimestamp = true;
        out.tsVal = dv.getUint32(i + 2);
        out.tsEcr = dv.getUint32(i + 6);
        break;
      default:
        break; // unknown: skipped by its length
    }
    i += olen;
  }
  return WireStatus.Ok;
}

/**
 * Writes the header with options in a Linux-like order (MSS, SACK-permitted + timestamps, NOP +
 * window scale, NOP NOP + SACK blocks — as many blocks as fit in 40 bytes); the payload
 * (repr.payloadLength bytes) is already at off + tcpHeaderLen(repr). Computes the checksum.
 * Returns the header length.
 */
export function emitTcp(repr: TcpRepr, b: Bytes, off: number, src: number, dst: number, withChecksum = true): number {
  const dv = b.dv;
  const u8 = b.u8;
  const lay = computeLayout(repr);
  const hlen = TCP_MIN_HEADER_LEN + lay.len;
  dv.setUint16(off, repr.srcPort);
  dv.setUint16(off + 2, repr.dstPort);
  dv.setUint32(off + 4, repr.seq >>> 0);
  dv.setUint32(off + 8, repr.ack >>> 0);
  dv.setUint8(off + 12, (hlen >>> 2) << 4);
  dv.setUint8(off + 13, repr.flags & 0xff);
  dv.setUint16(off + 14, repr.window);
  dv.setUint16(off + 16, 0);
  dv.setUint16(off + 18, repr.urgent);
  let p = off + TCP_MIN_HEADER_LEN;
  if (repr.mss > 0) {
    u8[p] = TcpOption.MSS;
    u8[p + 1] = 4;
    dv.setUint16(p + 2, repr.mss);
    p += 4;
  }
  if (repr.hasTimestamp) {
    if (repr.sackPermitted) {
      u8[p] = TcpOption.SackPermitted;
      u8[p + 1] = 2;
    } else {
      u8[p] = TcpOption.NOP;
      u8[p + 1] = TcpOption.NOP;
    }
    u8[p + 2] = TcpOption.Timestamps;
    u8[p + 3] = 10;
    dv.setUint32(p + 4, repr.tsVal >>> 0);
    dv.setUint32(p + 8, repr.tsEcr >>> 0);
    p += 12;
  } else if (repr.sackPermitted) {
    u8[p] = TcpOption.NOP;
    u8[p + 1] = TcpOption.NOP;
    u8[p + 2] = TcpOption.SackPermitted;
    u8[p + 3] = 2;
    p += 4;
  }
  if (repr.windowScale >= 0) {
    u8[p] = TcpOption.NOP;
    u8[p + 1] = TcpOption.WindowScale;
    u8[p + 2] = 3;
    u8[p + 3] = repr.windowScale;
    p += 4;
  }
  if (lay.sacks > 0) {
    u8[p] = TcpOption.NOP;
    u8[p + 1] = TcpOption.NOP;
    u8[p + 2] = TcpOption.Sack;
    u8[p + 3] = 2 + 8 * lay.sacks;
    p += 4;
    for (let k = 0; k < lay.sacks; k++) {
      dv.setUint32(p, repr.sackBlocks[2 * k]);
      dv.setUint32(p + 4, repr.sackBlocks[2 * k + 1]);
      p += 8;
    }
  }
  if (withChecksum) {
    const len = hlen + repr.payloadLength;
    dv.setUint16(off + 16, finish(sum16(b, off, len, pseudoHeaderSum(src, dst, IPPROTO_TCP, len))));
  }
  return hlen;
}

export function formatTcpFlags(flags: number): string {
  let s = '';
  if (flags & TcpFlag.FIN) s += 'F';
  if (flags & TcpFlag.SYN) s += 'S';
  if (flags & TcpFlag.RST) s += 'R';
  if (flags & TcpFlag.PSH) s += 'P';
  if (flags & TcpFlag.URG) s += 'U';
  if (flags & TcpFlag.ECE) s += 'E';
  if (flags & TcpFlag.CWR) s += 'W';
  if (flags & TcpFlag.ACK) s += '.';
  return s || 'none';
}

export function formatTcpOptions(r: TcpRepr): string {
  const o: string[] = [];
  if (r.mss > 0) o.push(`mss ${r.mss}`);
  if (r.sackPermitted) o.push('sackOK');
  if (r.hasTimestamp) o.push(`TS val ${r.tsVal} ecr ${r.tsEcr}`);
  if (r.windowScale >= 0) o.push(`wscale ${r.windowScale}`);
  if (r.sackCount > 0) {
    const blocks: string[] = [];
    for (let k = 0; k < r.sackCount; k++) blocks.push(`{${r.sackBlocks[2 * k]}:${r.sackBlocks[2 * k + 1]}}`);
    o.push(`sack ${r.sackCount} ${blocks.join('')}`);
  }
  return o.join(',');
}

export function formatTcp(r: TcpRepr): string {
  const ack = r.flags & TcpFlag.ACK ? `, ack ${r.ack >>> 0}` : '';
  const opts = formatTcpOptions(r);
  return `${r.srcPort} > ${r.dstPort}: Flags [${formatTcpFlags(r.flags)}], seq ${r.seq >>> 0}${ack}, win ${r.window}${opts ? `, options [${opts}]` : ''}, length ${r.payloadLength}`;
}

