/**
 * TCP header and options. Read first: RFC 9293 §3.1 (header, checksum, options MSS/EOL/NOP), RFC 7323
 * (window scale §2, timestamps §3), RFC 2018 (SACK-permitted and SACK).
 *
 *    0                   1                   2                   3
 *   |          Source Port          |       Destination Port        |
 *   |                        Sequence Number                        |
 *   |                    Acknowledgment Number                      |
 *   |  Data |       |C|E|U|A|P|R|S|F|                               |
 *   | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 *   |           Checksum            |         Urgent Pointer        |
 *   |                    Options (0-40 bytes)                       |
 *
 * parse checks, in this order: 20 bytes present (Truncated), Data Offset ≥ 20 bytes (BadLength),
 * Data Offset bytes present (Truncated), checksum over pseudo-header + all `len` bytes (BadChecksum,
 * when asked), options (Malformed). Options: EOL ends the list, NOP is skipped, an unknown kind is
 * skipped by its length; a length below 2, an option running past the header, or a known kind with
 * the wrong length makes the segment Malformed. Options are recorded whatever the SYN flag says;
 * the TCP layer decides which ones count (MSS and window scale only on a SYN).
 *
 * emit writes options from the Repr in Linux's order (tcp_options_write): MSS; SACK-permitted +
 * timestamps (or NOP NOP + timestamps, or NOP NOP + SACK-permitted); NOP + window scale; NOP NOP +
 * SACK blocks. Each piece is a multiple of 4 bytes, so no padding is needed. SACK blocks that do not
 * fit in the 40 option bytes left are not sent (4 blocks without timestamps, 3 with).
 */
import type { Bytes } from './bytes';
import { checksum, pseudoHeaderSum } from './checksum';
import { IpProtocol } from './ipv4';
import { seq, seqAdd, type SeqNum } from './seq';
import { WireStatus } from './status';

/** The flag bits of header byte 13. */
export const enum TcpFlag {
  FIN = 0x01,
  SYN = 0x02,
  RST = 0x04,
  PSH = 0x08,
  ACK = 0x10,
  URG = 0x20,
  /** RFC 3168 ECN-Echo. */
  ECE = 0x40,
  /** RFC 3168 Congestion Window Reduced. */
  CWR = 0x80,
}

/** Option kinds (IANA "TCP Option Kind Numbers"). */
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
/** RFC 9293 §3.1: Data Offset is 4 bits of 32-bit words, so at most 60 bytes: 40 of options. */
export const TCP_MAX_OPTIONS_LEN = 40;
/** RFC 7323 §2.3: "If a Window Scale option is received with a shift.cnt value larger than 14, the TCP SHOULD log the error but MUST use 14 instead of the specified value." */
export const TCP_MAX_WINDOW_SCALE = 14;
/** RFC 2018 §3: at most 4 blocks fit in the option space (3 with timestamps). */
export const TCP_MAX_SACK_BLOCKS = 4;

// Field offsets from the start of the header.
const F_SRC_PORT = 0;
const F_DST_PORT = 2;
const F_SEQ = 4;
const F_ACK = 8;
const F_DATA_OFFSET = 12;
const F_FLAGS = 13;
const F_WINDOW = 14;
const F_CHECKSUM = 16;
const F_URGENT = 18;
const F_OPTIONS = 20;

// Option lengths (kind + length + value) as RFC 9293 / 7323 / 2018 define them.
const LEN_MSS = 4;
const LEN_WINDOW_SCALE = 3;
const LEN_SACK_PERMITTED = 2;
const LEN_TIMESTAMPS = 10;
const SACK_BLOCK_LEN = 8;

export class TcpRepr {
  srcPort = 0;
  dstPort = 0;
  seq: SeqNum = seq(0);
  ack: SeqNum = seq(0);
  /** TcpFlag bits (header byte 13). */
  flags = 0;
  /** The raw 16-bit window field (not scaled). */
  window = 0;
  urgent = 0;
  /** Header length in bytes. parse: from the Data Offset field; emit ignores it (tcpHeaderLen decides). */
  dataOffset = TCP_MIN_HEADER_LEN;
  /** Bytes after the header: parse sets `len − dataOffset`; emit sums the checksum over this many. */
  payloadLength = 0;
  /** MSS option value; 0 when absent. */
  mss = 0;
  /** Window scale shift count (0..14); -1 when absent. */
  windowScale = -1;
  sackPermitted = false;
  /** Number of SACK blocks (0..4) in sackBlocks. */
  sackCount = 0;
  /** SACK blocks as (left edge, right edge) pairs; only the first 2 × sackCount entries mean anything. */
  readonly sackBlocks = new Uint32Array(2 * TCP_MAX_SACK_BLOCKS);
  hasTimestamp = false;
  tsVal = 0;
  tsEcr = 0;
  /** The checksum field as received. emit computes its own and ignores this. */
  checksum = 0;
}

/** Bytes of options before the SACK blocks, in the emitter's layout (every piece is 4-aligned). */
function fixedOptionsLen(r: TcpRepr): number {
  let n = 0;
  if (r.mss > 0) n += 4;
  if (r.hasTimestamp) n += 12;
  else if (r.sackPermitted) n += 4;
  if (r.windowScale >= 0) n += 4;
  return n;
}

/** How many of the Repr's SACK blocks the emitter sends (what fits after the fixed options). */
function sackBlocksSent(r: TcpRepr, fixed: number): number {
  if (r.sackCount <= 0) return 0;
  return Math.min(r.sackCount, (TCP_MAX_OPTIONS_LEN - fixed - 4) >> 3);
}

/** 20 + the options the Repr describes (always a multiple of 4; at most 60). */
export function tcpHeaderLen(repr: TcpRepr): number {
  const fixed = fixedOptionsLen(repr);
  const sacks = sackBlocksSent(repr, fixed);
  return TCP_MIN_HEADER_LEN + fixed + (sacks > 0 ? 4 + SACK_BLOCK_LEN * sacks : 0);
}

/**
 * `len` is the number of bytes available from `off` (the IP payload length); `src`/`dst` are the
 * IPv4 addresses of the pseudo-header, unsigned or as signed 32-bit (`addr | 0`): the sum is the
 * same. Hot callers pass `addr | 0`: V8 boxes an unsigned address above 2^31 into a new heap
 * number when it is passed to a function it does not inline, and parseTcp is too big to inline.
 * Never throws, never allocates. On Ok every field of `out` is set (absent options to their
 * "absent" values, unused SACK entries to 0).
 */
export function parseTcp(
  b: Bytes,
  off: number,
  len: number,
  out: TcpRepr,
  src: number,
  dst: number,
  verifyChecksum = true,
): WireStatus {
  if (len < TCP_MIN_HEADER_LEN) return WireStatus.Truncated;
  const dv = b.dv;
  const u8 = b.u8;
  const hlen = (u8[off + F_DATA_OFFSET] >>> 4) * 4;
  if (hlen < TCP_MIN_HEADER_LEN) return WireStatus.BadLength;
  if (hlen > len) return WireStatus.Truncated;
  if (verifyChecksum && checksum(b, off, len, pseudoHeaderSum(src, dst, IpProtocol.Tcp, len)) !== 0) {
    return WireStatus.BadChecksum;
  }
  out.srcPort = dv.getUint16(off + F_SRC_PORT);
  out.dstPort = dv.getUint16(off + F_DST_PORT);
  out.seq = dv.getUint32(off + F_SEQ) as SeqNum;
  out.ack = dv.getUint32(off + F_ACK) as SeqNum;
  out.flags = u8[off + F_FLAGS];
  out.window = dv.getUint16(off + F_WINDOW);
  out.checksum = dv.getUint16(off + F_CHECKSUM);
  out.urgent = dv.getUint16(off + F_URGENT);
  out.dataOffset = hlen;
  out.payloadLength = len - hlen;
  out.mss = 0;
  out.windowScale = -1;
  out.sackPermitted = false;
  out.hasTimestamp = false;
  out.tsVal = 0;
  out.tsEcr = 0;
  const blocks = out.sackBlocks;
  for (let k = 2 * out.sackCount - 1; k >= 0; k--) blocks[k] = 0;
  out.sackCount = 0;

  const end = off + hlen;
  let i = off + F_OPTIONS;
  while (i < end) {
    const kind = u8[i];
    if (kind === TcpOption.EOL) break;
    if (kind === TcpOption.NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return WireStatus.Malformed; // a kind byte with no room for its length
    const olen = u8[i + 1];
    if (olen < 2 || i + olen > end) return WireStatus.Malformed;
    switch (kind) {
      case TcpOption.MSS:
        if (olen !== LEN_MSS) return WireStatus.Malformed;
        out.mss = dv.getUint16(i + 2);
        break;
      case TcpOption.WindowScale:
        if (olen !== LEN_WINDOW_SCALE) return WireStatus.Malformed;
        out.windowScale = Math.min(u8[i + 2], TCP_MAX_WINDOW_SCALE);
        break;
      case TcpOption.SackPermitted:
        if (olen !== LEN_SACK_PERMITTED) return WireStatus.Malformed;
        out.sackPermitted = true;
        break;
      case TcpOption.Sack: {
        // RFC 2018 §3: length 8n + 2, at least one block; 40 option bytes hold at most 4.
        const n = (olen - 2) >>> 3;
        if ((olen - 2) & 7 || n < 1 || n > TCP_MAX_SACK_BLOCKS) return WireStatus.Malformed;
        for (let k = 2 * n; k < 2 * out.sackCount; k++) blocks[k] = 0; // a second SACK option
        for (let k = 0; k < n; k++) {
          blocks[2 * k] = dv.getUint32(i + 2 + SACK_BLOCK_LEN * k);
          blocks[2 * k + 1] = dv.getUint32(i + 6 + SACK_BLOCK_LEN * k);
        }
        out.sackCount = n;
        break;
      }
      case TcpOption.Timestamps:
        if (olen !== LEN_TIMESTAMPS) return WireStatus.Malformed;
        out.hasTimestamp = true;
        out.tsVal = dv.getUint32(i + 2);
        out.tsEcr = dv.getUint32(i + 6);
        break;
      default:
        break; // unknown kind: skipped by its length
    }
    i += olen;
  }
  return WireStatus.Ok;
}

/**
 * Writes the header and options (sized by tcpHeaderLen(repr), never by bytes already in the buffer);
 * the payload (repr.payloadLength bytes) is already at off + tcpHeaderLen(repr). `src`/`dst` as for
 * parseTcp (unsigned or `| 0`, which hot callers should use). With `withChecksum`
 * computes the checksum over pseudo-header, header and payload; without, writes 0 (for devices that
 * offload it). Returns the header length. Throws RangeError for a Repr no header can carry (a port,
 * window, urgent pointer or MSS outside 16 bits, window scale outside -1..14, sackCount outside 0..4,
 * a segment longer than 65535 bytes).
 */
export function emitTcp(repr: TcpRepr, b: Bytes, off: number, src: number, dst: number, withChecksum = true): number {
  const fixed = fixedOptionsLen(repr);
  const sacks = sackBlocksSent(repr, fixed);
  const hlen = TCP_MIN_HEADER_LEN + fixed + (sacks > 0 ? 4 + SACK_BLOCK_LEN * sacks : 0);
  const segLen = hlen + repr.payloadLength;
  checkEmittable(repr, segLen);
  const dv = b.dv;
  const u8 = b.u8;
  dv.setUint16(off + F_SRC_PORT, repr.srcPort);
  dv.setUint16(off + F_DST_PORT, repr.dstPort);
  dv.setUint32(off + F_SEQ, repr.seq);
  dv.setUint32(off + F_ACK, repr.ack);
  u8[off + F_DATA_OFFSET] = (hlen >>> 2) << 4;
  u8[off + F_FLAGS] = repr.flags;
  dv.setUint16(off + F_WINDOW, repr.window);
  dv.setUint16(off + F_CHECKSUM, 0);
  dv.setUint16(off + F_URGENT, repr.urgent);
  let p = off + F_OPTIONS;
  if (repr.mss > 0) {
    u8[p] = TcpOption.MSS;
    u8[p + 1] = LEN_MSS;
    dv.setUint16(p + 2, repr.mss);
    p += 4;
  }
  if (repr.hasTimestamp) {
    if (repr.sackPermitted) {
      u8[p] = TcpOption.SackPermitted;
      u8[p + 1] = LEN_SACK_PERMITTED;
    } else {
      u8[p] = TcpOption.NOP;
      u8[p + 1] = TcpOption.NOP;
    }
    u8[p + 2] = TcpOption.Timestamps;
    u8[p + 3] = LEN_TIMESTAMPS;
    dv.setUint32(p + 4, repr.tsVal);
    dv.setUint32(p + 8, repr.tsEcr);
    p += 12;
  } else if (repr.sackPermitted) {
    u8[p] = TcpOption.NOP;
    u8[p + 1] = TcpOption.NOP;
    u8[p + 2] = TcpOption.SackPermitted;
    u8[p + 3] = LEN_SACK_PERMITTED;
    p += 4;
  }
  if (repr.windowScale >= 0) {
    u8[p] = TcpOption.NOP;
    u8[p + 1] = TcpOption.WindowScale;
    u8[p + 2] = LEN_WINDOW_SCALE;
    u8[p + 3] = repr.windowScale;
    p += 4;
  }
  if (sacks > 0) {
    u8[p] = TcpOption.NOP;
    u8[p + 1] = TcpOption.NOP;
    u8[p + 2] = TcpOption.Sack;
    u8[p + 3] = 2 + SACK_BLOCK_LEN * sacks;
    p += 4;
    const blocks = repr.sackBlocks;
    for (let k = 0; k < 2 * sacks; k++, p += 4) dv.setUint32(p, blocks[k]);
  }
  if (withChecksum) {
    dv.setUint16(off + F_CHECKSUM, checksum(b, off, segLen, pseudoHeaderSum(src, dst, IpProtocol.Tcp, segLen)));
  }
  return hlen;
}

function checkEmittable(r: TcpRepr, segLen: number): void {
  if ((r.srcPort | r.dstPort | r.window | r.urgent | r.mss) >>> 16 !== 0) {
    throw new RangeError(`TCP ports ${r.srcPort}/${r.dstPort}, window ${r.window}, urgent ${r.urgent} or MSS ${r.mss} outside 0..65535`);
  }
  if ((r.flags & ~0xff) !== 0) throw new RangeError(`TCP flags 0x${r.flags.toString(16)} outside 8 bits`);
  if (r.windowScale < -1 || r.windowScale > TCP_MAX_WINDOW_SCALE) throw new RangeError(`TCP window scale ${r.windowScale} outside -1..14`);
  if (r.sackCount < 0 || r.sackCount > TCP_MAX_SACK_BLOCKS) throw new RangeError(`TCP sackCount ${r.sackCount} outside 0..4`);
  if (r.payloadLength < 0 || segLen > 0xffff) throw new RangeError(`TCP payload length ${r.payloadLength} outside 0..${0xffff - (segLen - r.payloadLength)}`);
}

/**
 * Flags as tcpdump prints them, in its order (F S R P . U E W), `none` for no flag: `S.` is SYN+ACK,
 * `P.` is PSH+ACK.
 */
export function formatTcpFlags(flags: number): string {
  let s = '';
  if (flags & TcpFlag.FIN) s += 'F';
  if (flags & TcpFlag.SYN) s += 'S';
  if (flags & TcpFlag.RST) s += 'R';
  if (flags & TcpFlag.PSH) s += 'P';
  if (flags & TcpFlag.ACK) s += '.';
  if (flags & TcpFlag.URG) s += 'U';
  if (flags & TcpFlag.ECE) s += 'E';
  if (flags & TcpFlag.CWR) s += 'W';
  return s || 'none';
}

/**
 * The options as tcpdump prints them, laid out as emitTcp would send them (NOPs included), e.g.
 * `mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7`. For a segment from Linux, or one tsvma emitted,
 * this is tcpdump's text; a peer that orders or pads its options differently prints in this
 * canonical layout instead (the Repr does not keep the raw bytes). Empty when there are none.
 */
export function formatTcpOptions(r: TcpRepr): string {
  const o: string[] = [];
  if (r.mss > 0) o.push(`mss ${r.mss}`);
  if (r.hasTimestamp) {
    if (r.sackPermitted) o.push('sackOK');
    else o.push('nop', 'nop');
    o.push(`TS val ${r.tsVal} ecr ${r.tsEcr}`);
  } else if (r.sackPermitted) {
    o.push('nop', 'nop', 'sackOK');
  }
  if (r.windowScale >= 0) o.push('nop', `wscale ${r.windowScale}`);
  if (r.sackCount > 0) {
    let blocks = '';
    for (let k = 0; k < r.sackCount; k++) blocks += `{${r.sackBlocks[2 * k]}:${r.sackBlocks[2 * k + 1]}}`;
    o.push('nop', 'nop', `sack ${r.sackCount} ${blocks}`);
  }
  return o.join(',');
}

/**
 * One line as `tcpdump -n -S` prints it after the addresses:
 * `49152 > 80: Flags [S.], seq 1000, ack 2000, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0`.
 * Like tcpdump: seq only when there is data or SYN/FIN/RST (`seq a:b` with data), ack only with
 * ACK, urg only with URG; sequence numbers absolute.
 */
export function formatTcp(r: TcpRepr): string {
  return `${r.srcPort} > ${r.dstPort}: ${formatTcpBody(r, formatTcpOptions(r))}`;
}

/**
 * formatTcp after the ports: `Flags [S.], seq 1000, ack 2000, win 64240, options [...], length 0`,
 * with `options` as given (none when empty) and `cksum` (`, cksum 0x1234 (correct)`) after the flags.
 */
export function formatTcpBody(r: TcpRepr, options: string, cksum = ''): string {
  let s = `Flags [${formatTcpFlags(r.flags)}]${cksum}`;
  if (r.payloadLength > 0 || r.flags & (TcpFlag.SYN | TcpFlag.FIN | TcpFlag.RST)) {
    s += `, seq ${r.seq}`;
    if (r.payloadLength > 0) s += `:${seqAdd(r.seq, r.payloadLength)}`;
  }
  if (r.flags & TcpFlag.ACK) s += `, ack ${r.ack}`;
  s += `, win ${r.window}`;
  if (r.flags & TcpFlag.URG) s += `, urg ${r.urgent}`;
  if (options) s += `, options [${options}]`;
  return `${s}, length ${r.payloadLength}`;
}
