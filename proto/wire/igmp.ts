/**
 * IGMP v1/v2/v3 (RFC 1112 App. I, RFC 2236 §2, RFC 3376 §4). Read RFC 3376 §4 and §7.1 first.
 *
 *   v1/v2 (8 bytes):  type(1) max-resp(1) checksum(2) group(4)
 *   v3 query (≥ 12):  type 0x11, max-resp-code(1) checksum(2) group(4) resv|S|QRV(1) QQIC(1)
 *                     number-of-sources(2) source[N](4 each)
 *   v3 report:        type 0x22, reserved(1) checksum(2) reserved(2) number-of-records(2) record[M]
 *   group record:     record-type(1) aux-data-len(1, in 32-bit words) number-of-sources(2)
 *                     multicast-address(4) source[N](4 each) aux-data(4 × aux-data-len)
 *
 * The checksum covers the whole IGMP message (`len`, the IP payload length).
 * Query versions are told apart by length, RFC 3376 §7.1: "IGMPv1 Query: length = 8 octets AND Max
 * Resp Code field is zero; IGMPv2 Query: length = 8 octets AND Max Resp Code field is non-zero;
 * IGMPv3 Query: length >= 12 octets. Query messages that do not match any of the above conditions
 * (e.g., a Query of length 10 octets) MUST be silently ignored": those are BadLength here.
 * Sources and group records are read in place with accessors (`igmpSource`, `igmpV3RecordAt`,
 * `igmpRecordSource`), so parsing allocates nothing; parse walks the records once, so after an Ok
 * parse every accessor call for i < numSources / numRecords stays inside the message.
 */
import { formatIp } from './addr';
import type { Bytes } from './bytes';
import { checksum } from './checksum';
import { WireStatus } from './status';

export const enum IgmpType {
  MembershipQuery = 0x11,
  V1Report = 0x12,
  V2Report = 0x16,
  Leave = 0x17,
  V3Report = 0x22,
}

/** RFC 3376 §4.2.12 record types. */
export const enum IgmpRecordType {
  ModeIsInclude = 1,
  ModeIsExclude = 2,
  ChangeToInclude = 3,
  ChangeToExclude = 4,
  AllowNewSources = 5,
  BlockOldSources = 6,
}

export const IGMP_V2_LEN = 8;
export const IGMP_V3_QUERY_MIN_LEN = 12;
export const IGMP_V3_REPORT_MIN_LEN = 8;
export const IGMP_V3_RECORD_MIN_LEN = 8;

// Field offsets from the start of the message.
const F_TYPE = 0;
const F_MAX_RESP = 1;
const F_CHECKSUM = 2;
const F_GROUP = 4;
/** v3 query. */
const F_S_QRV = 8;
const F_QQIC = 9;
const F_NUM_SOURCES = 10;
const F_SOURCES = 12;
/** v3 report: two reserved bytes at 4, then the record count. */
const F_REPORT_RESERVED = 4;
const F_NUM_RECORDS = 6;
const F_RECORDS = 8;
// Field offsets inside a group record.
const R_TYPE = 0;
const R_AUX_LEN = 1;
const R_NUM_SOURCES = 2;
const R_GROUP = 4;
const R_SOURCES = 8;

const S_FLAG = 0x08;
const QRV_MASK = 0x07;

export class IgmpRepr {
  type = 0;
  /** 1, 2 or 3 for queries and reports; 2 for Leave; 0 for unknown types. emit reads it for queries. */
  version = 0;
  /** Max Resp Code (v2: tenths of a second; v3: RFC 3376 §4.1.1 encoding, see igmpV3DecodeCode). */
  maxRespCode = 0;
  /** Group address (0 for a general query; 0 in a v3 report, whose groups are in its records). */
  group = 0;
  /** v3 query: Suppress Router-Side Processing, Querier's Robustness Variable, QQIC (encoded). */
  suppress = false;
  qrv = 0;
  qqic = 0;
  /** v3 query: number of source addresses (read with igmpSource). */
  numSources = 0;
  /** v3 report: number of group records (read with igmpV3RecordAt). */
  numRecords = 0;
  /** Message length (the IP payload length). parse fills it; emit uses it only for a v3 report. */
  length = 0;
  /** As received (for tools); emit computes its own. */
  checksum = 0;
}

/** One group record of a v3 report, as read in place by igmpV3RecordAt. */
export class IgmpGroupRecordRepr {
  recordType = 0;
  /** Auxiliary data length in 32-bit words (RFC 3376 §4.2.6). */
  auxDataLen = 0;
  numSources = 0;
  group = 0;
  /** Offset (absolute, in the same Bytes) of the first source address; read with igmpRecordSource. */
  sourcesOffset = 0;
}

/** A group record to emit in a v3 report; callers may keep a small array of these and reuse it. */
export interface IgmpV3Record {
  recordType: number;
  group: number;
  sources: readonly number[];
}

/**
 * Header bytes emitIgmp writes: 8 for v1/v2 messages and for a v3 report's fixed part, 12 + 4 ×
 * numSources for a v3 query (sources included: they are part of the query's fixed layout).
 */
export function igmpHeaderLen(repr: IgmpRepr): number {
  if (repr.type === IgmpType.MembershipQuery && repr.version === 3) return IGMP_V3_QUERY_MIN_LEN + 4 * repr.numSources;
  return IGMP_V2_LEN;
}

/** `len` is the IGMP message length (the IP payload length). */
export function parseIgmp(b: Bytes, off: number, len: number, out: IgmpRepr, verifyChecksum = true): WireStatus {
  if (len < IGMP_V2_LEN) return WireStatus.Truncated;
  if (verifyChecksum && checksum(b, off, len) !== 0) return WireStatus.BadChecksum;
  const dv = b.dv;
  const type = dv.getUint8(off + F_TYPE);
  out.type = type;
  out.maxRespCode = dv.getUint8(off + F_MAX_RESP);
  out.checksum = dv.getUint16(off + F_CHECKSUM);
  out.group = dv.getUint32(off + F_GROUP);
  out.length = len;
  out.version = 0;
  out.suppress = false;
  out.qrv = 0;
  out.qqic = 0;
  out.numSources = 0;
  out.numRecords = 0;
  switch (type) {
    case IgmpType.MembershipQuery:
      if (len === IGMP_V2_LEN) {
        out.version = out.maxRespCode === 0 ? 1 : 2;
      } else if (len >= IGMP_V3_QUERY_MIN_LEN) {
        out.version = 3;
        const sq = dv.getUint8(off + F_S_QRV);
        out.suppress = (sq & S_FLAG) !== 0;
        out.qrv = sq & QRV_MASK;
        out.qqic = dv.getUint8(off + F_QQIC);
        out.numSources = dv.getUint16(off + F_NUM_SOURCES);
        if (IGMP_V3_QUERY_MIN_LEN + 4 * out.numSources > len) return WireStatus.Truncated;
      } else {
        return WireStatus.BadLength;
      }
      break;
    case IgmpType.V1Report:
      out.version = 1;
      break;
    case IgmpType.V2Report:
    case IgmpType.Leave:
      out.version = 2;
      break;
    case IgmpType.V3Report: {
      out.version = 3;
      out.group = 0;
      const n = dv.getUint16(off + F_NUM_RECORDS);
      out.numRecords = n;
      // Walk the records once to prove they fit, so igmpV3RecordAt never finds one that does not.
      let r = off + F_RECORDS;
      const end = off + len;
      for (let i = 0; i < n; i++) {
        if (r + IGMP_V3_RECORD_MIN_LEN > end) return WireStatus.Truncated;
        r += IGMP_V3_RECORD_MIN_LEN + 4 * dv.getUint16(r + R_NUM_SOURCES) + 4 * dv.getUint8(r + R_AUX_LEN);
        if (r > end) return WireStatus.Truncated;
      }
      break;
    }
  }
  return WireStatus.Ok;
}

/** The i-th source address of a v3 query whose message starts at `off`. */
export function igmpSource(b: Bytes, off: number, i: number): number {
  return b.dv.getUint32(off + F_SOURCES + 4 * i);
}

/** Offset of the first group record of a v3 report whose message starts at `off`. */
export function igmpV3FirstRecord(off: number): number {
  return off + F_RECORDS;
}

/**
 * Reads the group record at `recordOffset` (absolute; the first is at `igmpV3FirstRecord(off)`) of
 * the v3 report that starts at `off`, and returns the offset of the next record, or -1 when this
 * record does not fit in the `len` bytes of the message (default: to the end of `b`). Never throws.
 *
 *   for (let p = igmpV3FirstRecord(off), i = 0; i < repr.numRecords; i++) p = igmpV3RecordAt(b, off, p, rec, len);
 */
export function igmpV3RecordAt(b: Bytes, off: number, recordOffset: number, out: IgmpGroupRecordRepr, len = b.length - off): number {
  const end = Math.min(off + len, b.length);
  if (recordOffset < off + F_RECORDS || recordOffset + IGMP_V3_RECORD_MIN_LEN > end) return -1;
  const dv = b.dv;
  out.recordType = dv.getUint8(recordOffset + R_TYPE);
  out.auxDataLen = dv.getUint8(recordOffset + R_AUX_LEN);
  out.numSources = dv.getUint16(recordOffset + R_NUM_SOURCES);
  out.group = dv.getUint32(recordOffset + R_GROUP);
  out.sourcesOffset = recordOffset + R_SOURCES;
  const next = recordOffset + IGMP_V3_RECORD_MIN_LEN + 4 * out.numSources + 4 * out.auxDataLen;
  return next > end ? -1 : next;
}

/** The i-th source address of a group record read by igmpV3RecordAt. */
export function igmpRecordSource(b: Bytes, rec: IgmpGroupRecordRepr, i: number): number {
  return b.dv.getUint32(rec.sourcesOffset + 4 * i);
}

/**
 * Max Resp Code / QQIC of a v3 query as a plain number (RFC 3376 §4.1.1, §4.1.7): below 128 the
 * code is the value; otherwise |1|exp(3)|mant(4)| means (mant | 0x10) << (exp + 3). Max Resp Code
 * is in tenths of a second, QQIC in seconds.
 */
export function igmpV3DecodeCode(code: number): number {
  if (code < 128) return code;
  return ((code & 0x0f) | 0x10) << (((code >>> 4) & 7) + 3);
}

/**
 * Writes a v1/v2 message, a v3 query or a v3 report's fixed part and the checksum; returns
 * igmpHeaderLen(repr). Whatever follows the header is already in place: a v3 query's sources go at
 * off + 12 before the call (the header length counts them); a v3 report's records at off + 8, with
 * `repr.length` the whole message length (to write records from values use emitIgmpV3Report).
 * The checksum covers igmpHeaderLen(repr) bytes, or `repr.length` for a v3 report.
 */
export function emitIgmp(repr: IgmpRepr, b: Bytes, off: number): number {
  const dv = b.dv;
  const n = igmpHeaderLen(repr);
  if (repr.type === IgmpType.V3Report) {
    if (repr.length < IGMP_V3_REPORT_MIN_LEN) throw new RangeError(`IGMPv3 report length ${repr.length} is below 8`);
    writeV3ReportHead(b, off, repr.numRecords, repr.length);
    return n;
  }
  dv.setUint8(off + F_TYPE, repr.type);
  dv.setUint16(off + F_CHECKSUM, 0);
  // v1 reports and queries have an unused (zero) second byte; v2 reports and leaves send 0 too
  // (RFC 2236 §2.2) but carry what the Repr says, so a parsed message re-emits byte-exactly.
  const v1 = repr.type === IgmpType.V1Report || (repr.type === IgmpType.MembershipQuery && repr.version === 1);
  dv.setUint8(off + F_MAX_RESP, v1 ? 0 : repr.maxRespCode);
  dv.setUint32(off + F_GROUP, repr.group >>> 0);
  if (repr.type === IgmpType.MembershipQuery && repr.version === 3) {
    dv.setUint8(off + F_S_QRV, (repr.suppress ? S_FLAG : 0) | (repr.qrv & QRV_MASK));
    dv.setUint8(off + F_QQIC, repr.qqic);
    dv.setUint16(off + F_NUM_SOURCES, repr.numSources);
  }
  dv.setUint16(off + F_CHECKSUM, checksum(b, off, n));
  return n;
}

/** A v3 report's fixed part (type, zero max-resp and reserved, record count) and its checksum over `length` bytes. */
function writeV3ReportHead(b: Bytes, off: number, count: number, length: number): void {
  const dv = b.dv;
  dv.setUint8(off + F_TYPE, IgmpType.V3Report);
  dv.setUint8(off + F_MAX_RESP, 0);
  dv.setUint16(off + F_CHECKSUM, 0);
  dv.setUint16(off + F_REPORT_RESERVED, 0);
  dv.setUint16(off + F_NUM_RECORDS, count);
  dv.setUint16(off + F_CHECKSUM, checksum(b, off, length));
}

/** Length of a v3 report carrying the first `count` records. */
export function igmpV3ReportLen(records: readonly IgmpV3Record[], count = records.length): number {
  let n = IGMP_V3_REPORT_MIN_LEN;
  for (let i = 0; i < count; i++) n += IGMP_V3_RECORD_MIN_LEN + 4 * records[i].sources.length;
  return n;
}

/**
 * Writes a complete v3 membership report carrying the first `count` records (so a caller can keep
 * one small array and reuse it), with aux data length 0, and its checksum. Returns its length.
 */
export function emitIgmpV3Report(records: readonly IgmpV3Record[], b: Bytes, off: number, count = records.length): number {
  const dv = b.dv;
  let p = off + F_RECORDS;
  for (let i = 0; i < count; i++) {
    const r = records[i];
    const sources = r.sources;
    dv.setUint8(p + R_TYPE, r.recordType);
    dv.setUint8(p + R_AUX_LEN, 0);
    dv.setUint16(p + R_NUM_SOURCES, sources.length);
    dv.setUint32(p + R_GROUP, r.group >>> 0);
    p += R_SOURCES;
    for (let j = 0; j < sources.length; j++, p += 4) dv.setUint32(p, sources[j] >>> 0);
  }
  const n = p - off;
  writeV3ReportHead(b, off, count, n);
  return n;
}

/** As tcpdump prints IGMP (non-verbose), e.g. `igmp v2 report 239.1.2.3`, `igmp query v2 [max resp time 50] [gaddr 239.1.2.3]`. */
export function formatIgmp(repr: IgmpRepr): string {
  const gaddr = repr.group ? ` [gaddr ${formatIp(repr.group)}]` : '';
  switch (repr.type) {
    case IgmpType.MembershipQuery:
      if (repr.version === 3) return `igmp query v3${gaddr} [max resp code ${repr.maxRespCode}] [${repr.numSources} source(s)]`;
      if (repr.version === 2) return `igmp query v2${repr.maxRespCode !== 100 ? ` [max resp time ${repr.maxRespCode}]` : ''}${gaddr}`;
      return `igmp query v1${gaddr}`;
    case IgmpType.V1Report:
      return `igmp v1 report ${formatIp(repr.group)}`;
    case IgmpType.V2Report:
      return `igmp v2 report ${formatIp(repr.group)}`;
    case IgmpType.Leave:
      return `igmp leave ${formatIp(repr.group)}`;
    case IgmpType.V3Report:
      return `igmp v3 report, ${repr.numRecords} group record(s)`;
    default:
      return `igmp type 0x${repr.type.toString(16)}, length ${repr.length}`;
  }
}
