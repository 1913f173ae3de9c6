/**
 * Classic libpcap files (the format `tcpdump -w` writes): a 24-byte global header, then a 16-byte
 * header per record. Microsecond (0xa1b2c3d4) and nanosecond (0xa1b23c4d) magic, either byte order
 * on read; written little-endian. Used by the pcap device decorator and by `tsvma decode`.
 */
import * as fs from 'node:fs';

export const LINKTYPE_ETHERNET = 1;
export const PCAP_GLOBAL_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;

export class PcapError extends Error {
  readonly code = 'ERR_TSVMA_PCAP';
  constructor(message: string) {
    super(message);
    this.name = 'PcapError';
  }
}

export interface PcapInfo {
  littleEndian: boolean;
  nanos: boolean;
  snaplen: number;
  linktype: number;
  versionMajor: number;
  versionMinor: number;
}

/** Reads the global header; throws PcapError when the bytes are not a pcap file. */
export function readPcapHeader(data: Uint8Array): PcapInfo {
  if (data.length < PCAP_GLOBAL_HEADER_LEN) throw new PcapError(`not a pcap file: ${data.length} bytes, a pcap header needs 24`);
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
  } else if (be === 0x0a0d0d0a) {
    throw new PcapError('this is a pcapng file; convert it with `editcap -F pcap IN OUT` (tsvma reads classic pcap)');
  } else {
    throw new PcapError(`not a pcap file: magic 0x${be.toString(16).padStart(8, '0')}`);
  }
  return {
    littleEndian,
    nanos,
    versionMajor: dv.getUint16(4, littleEndian),
    versionMinor: dv.getUint16(6, littleEndian),
    snaplen: dv.getUint32(16, littleEndian),
    linktype: dv.getUint32(20, littleEndian),
  };
}

/** Called per record with the frame's offset and captured length in `data`. */
export type PcapRecordFn = (tsNs: bigint, off: number, caplen: number, origlen: number, index: number) => void;

export interface PcapWalk {
  info: PcapInfo;
  records: number;
  /** Set when the file ends inside a record (the records before it were delivered). */
  truncated: string | null;
}

/** Walks every record without copying. A truncated last record is reported, not thrown. */
export function walkPcap(data: Uint8Array, fn: PcapRecordFn): PcapWalk {
  const info = readPcapHeader(data);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = info.littleEndian;
  let off = PCAP_GLOBAL_HEADER_LEN;
  let n = 0;
  let truncated: string | null = null;
  while (off < data.length) {
    if (off + PCAP_RECORD_HEADER_LEN > data.length) {
      truncated = `record ${n + 1}: header cut short at byte ${off}`;
      break;
    }
    const sec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const caplen = dv.getUint32(off + 8, le);
    const origlen = dv.getUint32(off + 12, le);
    const start = off + PCAP_RECORD_HEADER_LEN;
    if (start + caplen > data.length) {
      truncated = `record ${n + 1}: ${caplen} bytes captured but only ${data.length - start} in the file`;
      break;
    }
    const tsNs = BigInt(sec) * 1_000_000_000n + BigInt(info.nanos ? frac : frac * 1000);
    fn(tsNs, start, caplen, origlen, n);
    n++;
    off = start + caplen;
  }
  return { info, records: n, truncated };
}

/** The 24-byte global header. */
export function pcapGlobalHeader(snaplen = 65535, nanos = true, linktype = LINKTYPE_ETHERNET): Uint8Array {
  const h = new Uint8Array(PCAP_GLOBAL_HEADER_LEN);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, nanos ? MAGIC_NS : MAGIC_US, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, snaplen, true);
  dv.setUint32(20, linktype, true);
  return h;
}

/** Writes a record header into `out` at `off` (16 bytes). */
export function writePcapRecordHeader(out: DataView, off: number, tsNs: number | bigint, caplen: number, origlen: number, nanos = true): void {
  let sec: number;
  let sub: number;
  if (typeof tsNs === 'bigint') {
    sec = Number(tsNs / 1_000_000_000n);
    sub = Number(tsNs % 1_000_000_000n);
  } else {
    sec = Math.floor(tsNs / 1e9);
    sub = tsNs - sec * 1e9;
  }
  out.setUint32(off, sec >>> 0, true);
  out.setUint32(off + 4, (nanos ? Math.round(sub) : Math.floor(sub / 1000)) >>> 0, true);
  out.setUint32(off + 8, caplen, true);
  out.setUint32(off + 12, origlen, true);
}

/** A sink for frames, as the pcap device decorator uses it. */
export interface FrameSink {
  write(frame: Uint8Array, off: number, len: number, tsNs: number | bigint): void;
  close(): void;
}

/**
 * Appends records to a pcap file through a small buffer (flushed when full and on close), so a
 * frame costs a copy, not a system call. Frames longer than the snap length are cut, as libpcap does.
 */
export class PcapFileWriter implements FrameSink {
  private fd: number;
  private readonly buf: Uint8Array;
  private readonly dv: DataView;
  private used = 0;
  frames = 0;

  constructor(readonly path: string, readonly snaplen = 65535, bufferBytes = 1 << 20) {
    this.fd = fs.openSync(path, 'w');
    this.buf = new Uint8Array(Math.max(bufferBytes, snaplen + PCAP_RECORD_HEADER_LEN));
    this.dv = new DataView(this.buf.buffer);
    this.buf.set(pcapGlobalHeader(snaplen, true), 0);
    this.used = PCAP_GLOBAL_HEADER_LEN;
  }

  write(frame: Uint8Array, off: number, len: number, tsNs: number | bigint): void {
    if (this.fd < 0) throw new PcapError(`pcap writer for ${this.path} is closed`);
    const cap = Math.min(len, this.snaplen);
    if (this.used + PCAP_RECORD_HEADER_LEN + cap > this.buf.length) this.flush();
    writePcapRecordHeader(this.dv, this.used, tsNs, cap, len, true);
    this.buf.set(frame.subarray(off, off + cap), this.used + PCAP_RECORD_HEADER_LEN); // a capture tool, not the data path
    this.used += PCAP_RECORD_HEADER_LEN + cap;
    this.frames++;
  }

  flush(): void {
    if (this.fd < 0 || this.used === 0) return;
    fs.writeSync(this.fd, this.buf, 0, this.used);
    this.used = 0;
  }

  close(): void {
    if (this.fd < 0) return;
    this.flush();
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}
