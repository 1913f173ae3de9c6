/**
 * IGMP v1/v2/v3 (RFC 1112, RFC 2236, RFC 3376).
 *
 * Query versions are told apart by length as RFC 3376 §7.1 says: 8 bytes with Max Resp Code 0 is
 * v1, 8 bytes otherwise is v2, 12 or more is v3; any other length is not a valid query and is
 * reported as BadLength. Sources and group records are read in place with accessors
 * (`igmpSource`, `igmpV3RecordAt`) so parsing allocates nothing.
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

export class IgmpRepr {
  type = 0;
  /** 1, 2 or 3 for queries and reports; 2 for Leave; 0 for unknown types. */
  version = 0;
  /** Max Resp Code (v2: tenths of a second; v3: RFC 3376 §4.1.1 encoding). */
  maxRespCode = 0;
  /** Group address (0 for a general query; unused in v3 reports). */
  group = 0;
  /** v3 query fields. */
  suppress = false;
  qrv = 0;
  qqic = 0;
  /** v3 query: number of source addresses (read with igmpSource). */
  numSources = 0;
  /** v3 report: number of group records (read with igmpV3RecordAt). */
  numRecords = 0;
  /** Total message length (the IP payload). */
  length = 0;
  checksum = 0;
}

export class IgmpGroupRecordRepr {
  recordType = 0;
  auxDataLen = 0;
  numSources = 0;
  group = 0;
  /** Offset (absolute, in the same Bytes) of the first source address. */
  sourcesOffset = 0;
}

/** A group record to emit in a v3 report. */
export interface IgmpV3Record {
  recordType: number;
  group: number;
  sources: readonly number[];
}

export function igmpHeaderLen(repr: IgmpRepr): number {
  if (repr.type === IgmpType.MembershipQuery && repr.version === 3) return IGMP_V3_QUERY_MIN_LEN + 4 * repr.numSources;
  if (repr.type === IgmpType.V3Report) return IGMP_V3_REPORT_MIN_LEN;
  return IGMP_V2_LEN;
}

export function parseIgmp(b: Bytes, off: number, len: number, out: IgmpRepr, verifyChecksum = true): WireStatus {
  if (len < IGMP_V2_LEN) return WireStatus.Truncated;
  if (verifyChecksum && checksum(b, off, len) !== 0) return WireStatus.BadChecksum;
  const dv = b.dv;
  out.type = dv.getUint8(off);
  out.maxRespCode = dv.getUint8(off + 1);
  out.checksum = dv.getUint16(off + 2);
  out.group = dv.getUint32(off + 4);
  out.length = len;
  out.suppress = false;
  out.qrv = 0;
  out.qqic = 0;
  out.numSources = 0;
  out.numRecords = 0;
  switch (out.type) {
    case IgmpType.MembershipQuery:
      if (len === IGMP_V2_LEN) {
        out.version = out.maxRespCode === 0 ? 1 : 2;
      } else if (len >= IGMP_V3_QUERY_MIN_LEN) {
        out.version = 3;
        const sq = dv.getUint8(off + 8);
        out.suppress = (sq & 8) !== 0;
        out.qrv = sq & 7;
        out.qqic = dv.getUint8(off + 9);
        out.numSources = dv.getUint16(off + 10);
        if (IGMP_V3_QUERY_MIN_LEN + 4 * out.numSources > len) return WireStatus.Truncated;
      } else {
        out.version = 0;
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
      out.numRecords = dv.getUint16(off + 6);
      // Walk the records once to prove they fit; readers then use igmpV3RecordAt without checks failing.
      let r = off + IGMP_V3_REPORT_MIN_LEN;
      const end = off + len;
      for (let i = 0; i < out.numRecords; i++) {
        if (r + IGMP_V3_RECORD_MIN_LEN > end) return WireStatus.Truncated;
        const recLen = IGMP_V3_RECORD_MIN_LEN + 4 * dv.getUint16(r + 2) + 4 * dv.getUint8(r + 1);
        if (r + recLen > end) return WireStatus.Truncated;
        r += recLen;
      }
      break;
    }
    default:
      out.version = 0;
  }
  return WireStatus.Ok;
}

/** The i-th source address of a v3 query parsed at `off`. */
export function igmpSource(b: Bytes, off: number, i: number): number {
  return b.dv.getUint32(off + IGMP_V3_QUERY_MIN_LEN + 4 * i);
}

/**
 * Reads the group record at `recordOffset` (absolute) of a v3 report that starts at `off` and is
 * `len` bytes long. Returns the offset of the next record, or -1 when the record does not fit.
 * The first record is at `off + 8`.
 */
export function igmpV3RecordAt(b: Bytes, off: number, len: number, recordOffset: number, out: IgmpGroupRecordRepr): number {
  const end = off + len;
  if (recordOffset + IGMP_V3_RECORD_MIN_LEN > end) return -1;
  const dv = b.dv;
  out.recordType = dv.getUint8(recordOffset);
  out.auxDataLen = dv.getUint8(recordOffset + 1);
  out.numSources = dv.getUint16(recordOffset + 2);
  out.group = dv.getUint32(recordOffset + 4);
  out.sourcesOffset = recordOffset + 8;
  const next = recordOffset + IGMP_V3_RECORD_MIN_LEN + 4 * out.numSources + 4 * out.auxDataLen;
  return next > end ? -1 : next;
}

/**
 * Writes a v1/v2 message or a v3 query (v3 query sources must already be at off + 12) and its
 * checksum. Returns the message length. For v3 reports use `emitIgmpV3Report`.
 */
export function emitIgmp(repr: IgmpRepr, b: Bytes, off: number): number {
  const dv = b.dv;
  const n = igmpHeaderLen(repr);
  dv.setUint8(off, repr.type);
  dv.setUint8(off + 1, repr.type === IgmpType.MembershipQuery || repr.version >= 2 ? repr.maxRespCode : 0);
  dv.setUint16(off + 2, 0);
  dv.setUint32(off + 4, repr.group >>> 0);
  if (repr.type === IgmpType.MembershipQuery && repr.version === 3) {
    dv.setUint8(off + 8, (repr.suppress ? 8 : 0) | (repr.qrv & 7));
    dv.setUint8(off + 9, repr.qqic);
    dv.setUint16(off + 10, repr.numSources);
  }
  dv.setUint16(off + 2, checksum(b, off, n));
  return n;
}

/** Writes a complete v3 membership report with the given records. Returns its length. */
export function emitIgmpV3Report(records: readonly IgmpV3Record[], b: Bytes, off: number): number {
  const dv = b.dv;
  dv.setUint8(off, IgmpType.V3Report);
  dv.setUint8(off + 1, 0);
  dv.setUint16(off + 2, 0);
  dv.setUint16(off + 4, 0);
  dv.setUint16(off + 6, records.length);
  let p = off + IGMP_V3_REPORT_MIN_LEN;
  for (const r of records) {
    dv.setUint8(p, r.recordType);
    dv.setUint8(p + 1, 0);
    dv.setUint16(p + 2, r.sources.length);
    dv.setUint32(p + 4, r.group >>> 0);
    p += 8;
    for (const s of r.sources) {
      dv.setUint32(p, s >>> 0);
      p += 4;
    }
  }
  const n = p - off;
  dv.setUint16(off + 2, checksum(b, off, n));
  return n;
}

/** Length of a v3 report with these records. */
export function igmpV3ReportLen(records: readonly IgmpV3Record[]): number {
  let n = IGMP_V3_REPORT_MIN_LEN;
  for (const r of records) n += IGMP_V3_RECORD_MIN_LEN + 4 * r.sources.length;
  return n;
}

export function formatIgmp(repr: IgmpRepr): string {
  switch (repr.type) {
    case IgmpType.MembershipQuery:
      if (repr.version === 3) {
        const g = repr.group ? ` [gaddr ${formatIp(repr.group)}]` : '';
        return `igmp query v3${g} [max resp code ${repr.maxRespCode}] [${repr.numSources} source(s)]`;
      }
      return `igmp query v${repr.version}${repr.group ? ` [gaddr ${formatIp(repr.group)}]` : ''}${repr.version === 2 ? ` [max resp time ${repr.maxRespCode / 10}s]` : ''}`;
    case IgmpType.V1Report:
      return `igmp report v1 ${formatIp(repr.group)}`;
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
