/**
 * Classic libpcap files (the format `tcpdump -w` writes; pcap-savefile(5)): a 24-byte global header,
 * then a 16-byte header per record (seconds, microseconds or nanoseconds, captured length, length
 * on the wire) followed by the captured bytes. Microsecond (0xa1b2c3d4) and nanosecond
 * (0xa1b23c4d) magic, either byte order on read; written little-endian. pcapng is recognised and
 * refused with a hint. Used by the pcap device decorator, `tsvma decode` and the tests.
 *
 * Reading never copies a frame: the walker hands out offsets into the caller's bytes. A file that
 * ends inside a record is reported (`truncated`) after the whole records before it were delivered;
 * only a file that is not pcap at all throws (PcapError).
 */
import * as fs from 'node:fs';
import { copyBytes } from './copy';

export const LINKTYPE_ETHERNET = 1;
export const PCAP_GLOBAL_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;

export class PcapError extends Error {
  readonly code = 'ERR_TSVMA_PCAP';
  constructor(message: string) {
    super(message);
    this.name = 'PcapError';
  }
}

export interface PcapInfo {
  littleEndian: boolean;
  /** Record timestamps carry nanoseconds (else microseconds). */
  nanos: boolean;
  snaplen: number;
  linktype: number;
  versionMajor: number;
  versionMinor: number;
}

/** Reads the global header; throws PcapError when the bytes are not a pcap file. */
export function readPcapHeader(data: Uint8Array): PcapInfo {
  if (data.length < PCAP_GLOBAL_HEADER_LEN) {
    throw new PcapError(`not a pcap file: ${data.length} bytes, a pcap file header alone is ${PCAP_GLOBAL_HEADER_LEN}`);
  }
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = dv.getUint32(0, true);
  const be = dv.getUint32(0, false);
  let littleEndian: boolean;
  let nanos: boolean;
  if (le === MAGIC_US || le === MAGIC_NS) {
    littleEndian = true;
    nanos = le === MAGIC_NS;
  } else if (be === MAGIC_US || be === MAGIC_NS) {
    littleEndian = false;
    nanos = be === MAGIC_NS;
  } else if (be === PCAPNG_SHB) {
    throw new PcapError('this is a pcapng file; tsvma reads classic pcap: convert it with `editcap -F pcap IN OUT` or capture with `tcpdump -w`');
  } else {
    throw new PcapError(`not a pcap file: magic 0x${be.toString(16).padStart(8, '0')} (pcap starts with a1b2c3d4 or a1b23c4d, either byte order)`);
  }
  const info: PcapInfo = {
    littleEndian,
    nanos,
    versionMajor: dv.getUint16(4, littleEndian),
    versionMinor: dv.getUint16(6, littleEndian),
    snaplen: dv.getUint32(16, littleEndian),
    linktype: dv.getUint32(20, littleEndian) & 0xffff, // the upper bits say whether frames carry an FCS
  };
  if (info.versionMajor !== 2) throw new PcapError(`not a pcap file: format version ${info.versionMajor}.${info.versionMinor} (expected 2.x)`);
  return info;
}

/** Called per record with the frame's offset and captured length in `data` (no copy). */
export type PcapRecordFn = (tsNs: bigint, off: number, caplen: number, origlen: number, index: number) => void;

export interface PcapWalk {
  info: PcapInfo;
  /** Whole records delivered. */
  records: number;
  /** Set when the file ends inside a record (the records before it were delivered). */
  truncated: string | null;
}

/**
 * Walks every record without copying. A truncated last record is reported, not thrown; the
 * callback's own exceptions propagate.
 */
export function walkPcap(data: Uint8Array, fn: PcapRecordFn): PcapWalk {
  const info = readPcapHeader(data);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = info.littleEndian;
  const end = data.length;
  let off = PCAP_GLOBAL_HEADER_LEN;
  let n = 0;
  let truncated: string | null = null;
  while (off < end) {
    if (off + PCAP_RECORD_HEADER_LEN > end) {
      truncated = `record ${n + 1} at byte ${off}: the file ends inside the record header (${end - off} of ${PCAP_RECORD_HEADER_LEN} bytes)`;
      break;
    }
    const sec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const caplen = dv.getUint32(off + 8, le);
    const origlen = dv.getUint32(off + 12, le);
    const start = off + PCAP_RECORD_HEADER_LEN;
    if (caplen > end - start) {
      truncated = `record ${n + 1} at byte ${off}: ${caplen} bytes captured but only ${end - start} left in the file`;
      break;
    }
    fn(BigInt(sec) * 1_000_000_000n + BigInt(info.nanos ? frac : frac * 1000), start, caplen, origlen, n);
    n++;
    off = start + caplen;
  }
  return { info, records: n, truncated };
}

function putU32le(out: Uint8Array, off: number, v: number): void {
  out[off] = v & 0xff;
  out[off + 1] = (v >>> 8) & 0xff;
  out[off + 2] = (v >>> 16) & 0xff;
  out[off + 3] = (v >>> 24) & 0xff;
}

function putU16le(out: Uint8Array, off: number, v: number): void {
  out[off] = v & 0xff;
  out[off + 1] = (v >>> 8) & 0xff;
}

export interface PcapWriteOptions {
  /** Longest frame kept; longer ones are cut (caplen < origlen), as libpcap does. Default 65535. */
  snaplen?: number;
  /** Nanosecond timestamps (magic a1b23c4d); default true. false writes microseconds. */
  nanos?: boolean;
  /** Default LINKTYPE_ETHERNET. */
  linktype?: number;
}

/** Writes the 24-byte global header into `out` at `off`; returns 24. */
export function writePcapGlobalHeader(out: Uint8Array, off: number, opts: PcapWriteOptions = {}): number {
  if (off < 0 || off + PCAP_GLOBAL_HEADER_LEN > out.length) throw new RangeError(`pcap header needs ${PCAP_GLOBAL_HEADER_LEN} bytes at ${off}, buffer has ${out.length}`);
  putU32le(out, off, (opts.nanos ?? true) ? MAGIC_NS : MAGIC_US);
  putU16le(out, off + 4, 2);
  putU16le(out, off + 6, 4);
  putU32le(out, off + 8, 0); // thiszone
  putU32le(out, off + 12, 0); // sigfigs
  putU32le(out, off + 16, opts.snaplen ?? 65535);
  putU32le(out, off + 20, opts.linktype ?? LINKTYPE_ETHERNET);
  return PCAP_GLOBAL_HEADER_LEN;
}

/** Bytes a record of a `len`-byte frame takes (header + the frame cut at `snaplen`). */
export function pcapRecordLen(len: number, snaplen = 65535): number {
  return PCAP_RECORD_HEADER_LEN + Math.min(len, snaplen);
}

/**
 * Writes one record (header + frame[frameOff, frameOff + len), cut at the snap length) into `out`
 * at `off`; returns the bytes written. Allocates nothing. Throws RangeError when `out` is too short.
 */
export function writePcapRecord(out: Uint8Array, off: number, frame: Uint8Array, frameOff: number, len: number, tsNs: number | bigint, opts: PcapWriteOptions = {}): number {
  const cap = Math.min(len, opts.snaplen ?? 65535);
  const n = PCAP_RECORD_HEADER_LEN + cap;
  if (off < 0 || off + n > out.length) throw new RangeError(`pcap record needs ${n} bytes at ${off}, buffer has ${out.length}`);
  // The timestamp in nanoseconds (a bigint, or a number when microsecond precision is enough).
  let sec: number;
  let sub: number;
  if (typeof tsNs === 'bigint') {
    sec = Number(tsNs / 1_000_000_000n);
    sub = Number(tsNs % 1_000_000_000n);
  } else {
    sec = Math.floor(tsNs / 1e9);
    sub = Math.min(999_999_999, Math.max(0, Math.round(tsNs - sec * 1e9)));
  }
  putU32le(out, off, sec >>> 0);
  putU32le(out, off + 4, (opts.nanos ?? true) ? sub : Math.floor(sub / 1000));
  putU32le(out, off + 8, cap);
  putU32le(out, off + 12, len);
  copyBytes(out, null, off + PCAP_RECORD_HEADER_LEN, frame, null, frameOff, cap);
  return n;
}

/** One frame for encodePcap. */
export interface PcapRecord {
  frame: Uint8Array;
  tsNs: number | bigint;
}

/** A whole pcap file in memory (fixtures, tests, small tools). */
export function encodePcap(records: readonly PcapRecord[], opts: PcapWriteOptions = {}): Uint8Array {
  let n = PCAP_GLOBAL_HEADER_LEN;
  for (const r of records) n += pcapRecordLen(r.frame.length, opts.snaplen);
  const out = new Uint8Array(n);
  let off = writePcapGlobalHeader(out, 0, opts);
  for (const r of records) off += writePcapRecord(out, off, r.frame, 0, r.frame.length, r.tsNs, opts);
  return out;
}

/** A sink for frames, as the pcap device decorator uses it. */
export interface FrameSink {
  write(frame: Uint8Array, off: number, len: number, tsNs: number | bigint): void;
  close(): void;
}

/**
 * Appends records to a pcap file through a small buffer (flushed when full, on `flush()` and on
 * close), so a frame costs a copy, not a system call. Frames longer than the snap length are cut,
 * as libpcap does. Given a path it creates (truncates) the file and closes it on close(); given an
 * open fd (a pipe, stdout) it writes the global header there and leaves the fd open.
 */
export class PcapFileWriter implements FrameSink {
  private fd: number;
  private readonly ownsFd: boolean;
  private readonly buf: Uint8Array;
  /** The options every record is written with (made once). */
  private readonly wopts: PcapWriteOptions;
  private used = 0;
  frames = 0;

  constructor(readonly path: string | number, readonly snaplen = 65535, bufferBytes = 1 << 20, nanos = true) {
    if (typeof path === 'number') {
      this.fd = path;
      this.ownsFd = false;
    } else {
      this.fd = fs.openSync(path, 'w');
      this.ownsFd = true;
    }
    this.wopts = { snaplen, nanos };
    this.buf = new Uint8Array(Math.max(bufferBytes, pcapRecordLen(snaplen, snaplen), PCAP_GLOBAL_HEADER_LEN));
    this.used = writePcapGlobalHeader(this.buf, 0, { snaplen, nanos });
  }

  write(frame: Uint8Array, off: number, len: number, tsNs: number | bigint): void {
    if (this.fd < 0) throw new PcapError(`pcap writer for ${this.path} is closed`);
    if (this.used + pcapRecordLen(len, this.snaplen) > this.buf.length) this.flush();
    // A copy into the writer's buffer: a capture tool, not the data path.
    this.used += writePcapRecord(this.buf, this.used, frame, off, len, tsNs, this.wopts);
    this.frames++;
  }

  flush(): void {
    if (this.fd < 0 || this.used === 0) return;
    let done = 0;
    while (done < this.used) done += fs.writeSync(this.fd, this.buf, done, this.used - done);
    this.used = 0;
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      this.flush();
    } finally {
      if (this.ownsFd) fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}
