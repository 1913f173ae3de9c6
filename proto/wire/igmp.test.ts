import fc from 'fast-check';
import { frame } from '../../test/fixtures/frames';
import { a5, hex } from '../../test/helpers/wire';
import { formatIp, parseIp as ip } from './addr';
import { Bytes } from './bytes';
import {
  emitIgmp, emitIgmpV3Report, formatIgmp, IGMP_V2_LEN, IgmpGroupRecordRepr, igmpHeaderLen, igmpRecordSource, IgmpRecordType,
  IgmpRepr, igmpSource, IgmpType, igmpV3DecodeCode, igmpV3FirstRecord, igmpV3RecordAt, igmpV3ReportLen, parseIgmp, type IgmpV3Record,
} from './igmp';
import { Ipv4Repr, parseIpv4 } from './ipv4';
import { WireStatus } from './status';

// Independent struct-built literals (Ethernet + IPv4 [+ Router Alert] + IGMP), as tcpdump prints them:
//   igmpV2Leave        "198.18.0.1 > 224.0.0.2: igmp leave 239.1.2.3"
//   igmpV2Query        "198.18.0.2 > 224.0.0.1: igmp query v2"              (max resp 100 = 10 s)
//   igmpV1Query        "198.18.0.2 > 224.0.0.1: igmp query v1"              (no IP options)
//   igmpV1Report       "198.18.0.1 > 239.9.9.9: igmp v1 report 239.9.9.9"   (no IP options)
//   igmpV3QuerySources "igmp query v3 [max resp time 24.8s] [gaddr 239.1.2.3, 2 source(s)]" (S, QRV 7, QQIC 60)
//   igmpV3ReportAux    "igmp v3 report, 1 group record(s) [gaddr 239.4.4.4 allow { 198.18.7.7 }]" (1 aux word)
const LIT = {
  igmpV2Leave: '01005e0000020200c6120001080046c00020000d400001023df5c6120001e0000002940400001700f7faef010203',
  igmpV2Query: '01005e0000010200c6120002080046c00020000e000001027df4c6120002e0000001940400001164ee9b00000000',
  igmpV1Query: '01005e0000010200c612000208004500001c000f0000010213bcc6120002e00000011100eeff00000000',
  igmpV1Report: '01005e0909090200c612000108004500001c001000000102fbaac6120001ef0909091200f5ecef090909',
  igmpV3QuerySources: '01005e0102030200c6120002080046c0002c0011000001026ce2c6120002ef01020394040000118f56fdef0102030f3c0002c6120505c6120606',
  igmpV3ReportAux: '01005e0000160200c6120001080046c000300012400001023dccc6120001e00000169404000022007b3c0000000105010001ef040404c6120707deadbeef',
};

/** A frame by name (shared fixtures or the literals above) with its IGMP offset and length, found through IPv4. */
function msg(name: keyof typeof LIT | 'igmpV2Report' | 'igmpV3Report' | 'igmpV3Query'): { b: Bytes; f: Uint8Array; off: number; len: number } {
  const f = name in LIT ? Uint8Array.from(Buffer.from(LIT[name as keyof typeof LIT], 'hex')) : frame(name as 'igmpV2Report');
  const b = new Bytes(f);
  const ipr = new Ipv4Repr();
  expect(parseIpv4(b, 14, f.length - 14, ipr)).toBe(WireStatus.Ok);
  return { b, f, off: 14 + 20 + ipr.optionsLength, len: ipr.payloadLength };
}

function parsed(name: Parameters<typeof msg>[0]): IgmpRepr & { m: ReturnType<typeof msg> } {
  const m = msg(name);
  const r = new IgmpRepr();
  expect(parseIgmp(m.b, m.off, m.len, r)).toBe(WireStatus.Ok);
  return Object.assign(r, { m });
}

/** Emits r (with anything after the header copied from the fixture first) and compares byte for byte. */
function expectEmitMatches(r: IgmpRepr, m: ReturnType<typeof msg>): void {
  const out = a5(m.len + 2);
  const hl = igmpHeaderLen(r);
  // Copy what follows the fixed part: a v3 query's sources, a v3 report's records.
  const tail = r.type === IgmpType.V3Report ? 8 : r.type === IgmpType.MembershipQuery && r.version === 3 ? 12 : hl;
  out.u8.set(m.f.subarray(m.off + tail, m.off + m.len), 1 + tail);
  expect(emitIgmp(r, out, 1)).toBe(hl);
  expect(hex(out.u8.subarray(1, 1 + m.len))).toBe(hex(m.f.subarray(m.off, m.off + m.len)));
  expect(out.u8[0]).toBe(0xa5);
  expect(out.u8[m.len + 1]).toBe(0xa5);
}

describe('IGMP', () => {
  it('v2 report: parse, print, emit', () => {
    const r = parsed('igmpV2Report');
    expect(r.type).toBe(IgmpType.V2Report);
    expect(r.version).toBe(2);
    expect(formatIp(r.group)).toBe('239.1.2.3');
    expect(r.length).toBe(8);
    expect(formatIgmp(r)).toBe('igmp v2 report 239.1.2.3');
    expectEmitMatches(r, r.m);
  });

  it('v2 leave, v1 report: parse, print, emit', () => {
    const l = parsed('igmpV2Leave');
    expect(l.type).toBe(IgmpType.Leave);
    expect(l.version).toBe(2);
    expect(formatIgmp(l)).toBe('igmp leave 239.1.2.3');
    expectEmitMatches(l, l.m);
    const v1 = parsed('igmpV1Report');
    expect(v1.type).toBe(IgmpType.V1Report);
    expect(v1.version).toBe(1);
    expect(formatIgmp(v1)).toBe('igmp v1 report 239.9.9.9');
    expectEmitMatches(v1, v1.m);
  });

  it('tells v1 and v2 queries apart by Max Resp Code (RFC 3376 §7.1)', () => {
    const q2 = parsed('igmpV2Query');
    expect(q2.type).toBe(IgmpType.MembershipQuery);
    expect(q2.version).toBe(2);
    expect(q2.maxRespCode).toBe(100);
    expect(q2.group).toBe(0);
    expect(formatIgmp(q2)).toBe('igmp query v2');
    expectEmitMatches(q2, q2.m);
    const q1 = parsed('igmpV1Query');
    expect(q1.version).toBe(1);
    expect(q1.maxRespCode).toBe(0);
    expect(formatIgmp(q1)).toBe('igmp query v1');
    expectEmitMatches(q1, q1.m);
    const gs = Object.assign(new IgmpRepr(), { type: IgmpType.MembershipQuery, version: 2, maxRespCode: 50, group: ip('239.1.2.3') });
    expect(formatIgmp(gs)).toBe('igmp query v2 [max resp time 50] [gaddr 239.1.2.3]');
  });

  it('v3 query: fields, sources in place, emit', () => {
    const r = parsed('igmpV3Query');
    expect(r.version).toBe(3);
    expect(r.maxRespCode).toBe(100);
    expect(r.qrv).toBe(2);
    expect(r.qqic).toBe(125);
    expect(r.suppress).toBe(false);
    expect(r.numSources).toBe(1);
    expect(formatIp(igmpSource(r.m.b, r.m.off, 0))).toBe('198.18.5.5');
    expect(igmpHeaderLen(r)).toBe(16);
    expect(formatIgmp(r)).toBe('igmp query v3 [gaddr 239.1.2.3] [max resp code 100] [1 source(s)]');
    expectEmitMatches(r, r.m);
    const s = parsed('igmpV3QuerySources');
    expect(s.suppress).toBe(true);
    expect(s.qrv).toBe(7);
    expect(s.qqic).toBe(60);
    expect(s.maxRespCode).toBe(0x8f);
    expect(igmpV3DecodeCode(s.maxRespCode)).toBe(248); // tenths: tcpdump's "24.8s"
    expect(s.numSources).toBe(2);
    expect(formatIp(igmpSource(s.m.b, s.m.off, 1))).toBe('198.18.6.6');
    expectEmitMatches(s, s.m);
  });

  it('decodes the v3 exponential code form', () => {
    expect(igmpV3DecodeCode(0)).toBe(0);
    expect(igmpV3DecodeCode(127)).toBe(127);
    expect(igmpV3DecodeCode(0x80)).toBe(128); // exp 0, mant 0: 16 << 3
    expect(igmpV3DecodeCode(0xff)).toBe(31744); // exp 7, mant 15: 31 << 10 (RFC 3376: max 31744)
  });

  it('v3 report: records and sources read in place; emitted from values byte-exactly', () => {
    const r = parsed('igmpV3Report');
    const { b, off, len } = r.m;
    expect(r.version).toBe(3);
    expect(r.group).toBe(0);
    expect(r.numRecords).toBe(2);
    expect(formatIgmp(r)).toBe('igmp v3 report, 2 group record(s)');
    const rec = new IgmpGroupRecordRepr();
    let p = igmpV3RecordAt(b, off, igmpV3FirstRecord(off), rec, len);
    expect(rec.recordType).toBe(IgmpRecordType.ChangeToExclude);
    expect(formatIp(rec.group)).toBe('239.1.2.3');
    expect(rec.numSources).toBe(0);
    p = igmpV3RecordAt(b, off, p, rec, len);
    expect(rec.recordType).toBe(IgmpRecordType.ModeIsInclude);
    expect(formatIp(rec.group)).toBe('232.1.1.1');
    expect(rec.numSources).toBe(2);
    expect(formatIp(igmpRecordSource(b, rec, 0))).toBe('198.18.5.5');
    expect(formatIp(igmpRecordSource(b, rec, 1))).toBe('198.18.6.6');
    expect(p).toBe(off + len);
    expect(igmpV3RecordAt(b, off, p, rec, len)).toBe(-1); // nothing after the last record
    expect(igmpV3RecordAt(b, off, p, rec)).toBe(-1); // default bound: the end of the buffer
    expect(igmpV3RecordAt(b, off, off + 4, rec, len)).toBe(-1); // not inside the record area
    const records: IgmpV3Record[] = [
      { recordType: 4, group: ip('239.1.2.3'), sources: [] },
      { recordType: 1, group: ip('232.1.1.1'), sources: [ip('198.18.5.5'), ip('198.18.6.6')] },
    ];
    const out = a5(igmpV3ReportLen(records) + 1);
    expect(emitIgmpV3Report(records, out, 0)).toBe(len);
    expect(hex(out.u8.subarray(0, len))).toBe(hex(r.m.f.subarray(off)));
    expect(out.u8[len]).toBe(0xa5);
    // emitIgmp re-emits the fixed part over records already in place.
    expectEmitMatches(r, r.m);
  });

  it('v3 report: aux data is skipped by the record walk', () => {
    const r = parsed('igmpV3ReportAux');
    const { b, off, len } = r.m;
    const rec = new IgmpGroupRecordRepr();
    const next = igmpV3RecordAt(b, off, igmpV3FirstRecord(off), rec, len);
    expect(rec.recordType).toBe(IgmpRecordType.AllowNewSources);
    expect(rec.auxDataLen).toBe(1);
    expect(rec.numSources).toBe(1);
    expect(formatIp(rec.group)).toBe('239.4.4.4');
    expect(formatIp(igmpRecordSource(b, rec, 0))).toBe('198.18.7.7');
    expect(next).toBe(off + len);
    expectEmitMatches(r, r.m);
  });

  it('emits only the first `count` records of a reused array', () => {
    const records: IgmpV3Record[] = [
      { recordType: IgmpRecordType.ChangeToExclude, group: ip('239.1.2.3'), sources: [] },
      { recordType: IgmpRecordType.ModeIsInclude, group: ip('232.1.1.1'), sources: [ip('198.18.5.5'), ip('198.18.6.6')] },
    ];
    const n = igmpV3ReportLen(records, 1);
    expect(n).toBe(16);
    const out = a5(n + 4);
    expect(emitIgmpV3Report(records, out, 0, 1)).toBe(16);
    expect(out.u8[16]).toBe(0xa5);
    const r = new IgmpRepr();
    expect(parseIgmp(out, 0, 16, r)).toBe(WireStatus.Ok);
    expect(r.numRecords).toBe(1);
  });

  it('clears v3 fields left by a previous message', () => {
    const q = msg('igmpV3QuerySources');
    const r = new IgmpRepr();
    expect(parseIgmp(q.b, q.off, q.len, r)).toBe(WireStatus.Ok);
    expect(r.numSources).toBe(2);
    const { b, off, len } = msg('igmpV2Report');
    expect(parseIgmp(b, off, len, r)).toBe(WireStatus.Ok);
    expect({ ...r }).toEqual({ ...new IgmpRepr(), type: IgmpType.V2Report, version: 2, group: ip('239.1.2.3'), length: 8, checksum: r.checksum });
  });

  it('keeps unknown types as values', () => {
    const out = a5(8);
    emitIgmp(Object.assign(new IgmpRepr(), { type: 0x33, maxRespCode: 5, group: ip('239.1.2.3') }), out, 0);
    const r = new IgmpRepr();
    expect(parseIgmp(out, 0, 8, r)).toBe(WireStatus.Ok);
    expect(r.type).toBe(0x33);
    expect(r.version).toBe(0);
    expect(r.maxRespCode).toBe(5);
    expect(formatIgmp(r)).toBe('igmp type 0x33, length 8');
  });

  describe('error statuses', () => {
    const r = new IgmpRepr();
    it('Truncated: fewer than 8 bytes', () => {
      const { b, off } = msg('igmpV2Report');
      expect(parseIgmp(b, off, 7, r)).toBe(WireStatus.Truncated);
      expect(parseIgmp(b, off, 0, r)).toBe(WireStatus.Truncated);
    });
    it('BadLength: a query of 9 to 11 bytes is no version', () => {
      for (const n of [9, 10, 11]) {
        const q = Bytes.alloc(n);
        q.u8[0] = IgmpType.MembershipQuery;
        q.u8[1] = 100;
        q.dv.setUint16(2, 0xffff - ((IgmpType.MembershipQuery << 8) | 100));
        expect(parseIgmp(q, 0, n, r)).toBe(WireStatus.BadLength);
      }
    });
    it('Truncated: a v3 query whose sources run past the end', () => {
      const { b, off, len } = msg('igmpV3QuerySources');
      expect(parseIgmp(b, off, len - 4, r, false)).toBe(WireStatus.Truncated);
      expect(parseIgmp(b, off, 12, r, false)).toBe(WireStatus.Truncated);
    });
    it('Truncated: v3 report records that run past the end (fixed part, sources, aux data)', () => {
      const { b, off, len } = msg('igmpV3Report');
      expect(parseIgmp(b, off, 12, r, false)).toBe(WireStatus.Truncated); // first record's fixed part
      expect(parseIgmp(b, off, 20, r, false)).toBe(WireStatus.Truncated); // second record's fixed part
      expect(parseIgmp(b, off, len - 4, r, false)).toBe(WireStatus.Truncated); // its second source
      const aux = msg('igmpV3ReportAux');
      expect(parseIgmp(aux.b, aux.off, aux.len - 1, r, false)).toBe(WireStatus.Truncated); // aux word
    });
    it('BadChecksum: any flipped bit, unless verification is off', () => {
      const { f, off, len } = msg('igmpV3Report');
      for (let i = 0; i < len; i += 3) {
        const g = f.slice();
        g[off + i] ^= 0x04;
        expect(parseIgmp(new Bytes(g), off, len, r)).toBe(WireStatus.BadChecksum);
      }
      const g = f.slice();
      g[off + 4] ^= 0x04; // a reserved byte: nothing else depends on it
      expect(parseIgmp(new Bytes(g), off, len, r, false)).toBe(WireStatus.Ok);
    });
  });

  it('throws RangeError when asked to emit a v3 report shorter than its fixed part (programmer error)', () => {
    expect(() => emitIgmp(Object.assign(new IgmpRepr(), { type: IgmpType.V3Report, version: 3, length: 4 }), a5(8), 0)).toThrow(RangeError);
  });

  it('property: parse(emit(repr)) == repr for v1/v2 messages and v3 queries', () => {
    const addr = fc.nat({ max: 0xffffffff });
    const v12 = fc.record({
      type: fc.constantFrom(IgmpType.V1Report, IgmpType.V2Report, IgmpType.Leave, IgmpType.MembershipQuery),
      maxRespCode: fc.nat({ max: 255 }), group: addr,
    });
    const v3q = fc.record({
      maxRespCode: fc.nat({ max: 255 }), group: addr, suppress: fc.boolean(), qrv: fc.nat({ max: 7 }), qqic: fc.nat({ max: 255 }),
      sources: fc.array(addr, { maxLength: 8 }),
    });
    fc.assert(
      fc.property(fc.oneof(v12, v3q), (v) => {
        const r = new IgmpRepr();
        if ('type' in v) {
          const version = v.type === IgmpType.V1Report || (v.type === IgmpType.MembershipQuery && v.maxRespCode === 0) ? 1 : 2;
          Object.assign(r, { type: v.type, version, maxRespCode: v.type === IgmpType.V1Report ? 0 : v.maxRespCode, group: v.group, length: IGMP_V2_LEN });
        } else {
          Object.assign(r, { type: IgmpType.MembershipQuery, version: 3, maxRespCode: v.maxRespCode, group: v.group, suppress: v.suppress, qrv: v.qrv, qqic: v.qqic, numSources: v.sources.length });
          r.length = igmpHeaderLen(r);
        }
        const out = a5(igmpHeaderLen(r));
        if (!('type' in v)) v.sources.forEach((s, i) => out.dv.setUint32(12 + 4 * i, s));
        expect(emitIgmp(r, out, 0)).toBe(out.length);
        const back = new IgmpRepr();
        expect(parseIgmp(out, 0, out.length, back)).toBe(WireStatus.Ok);
        const { checksum: _c, ...got } = back;
        const { checksum: _d, ...want } = r;
        expect(got).toEqual(want);
        if (!('type' in v)) v.sources.forEach((s, i) => expect(igmpSource(out, 0, i)).toBe(s));
      }),
      { numRuns: 500 },
    );
  });

  it('property: v3 reports read back record for record', () => {
    const addr = fc.nat({ max: 0xffffffff });
    const record = fc.record({ recordType: fc.integer({ min: 1, max: 6 }), group: addr, sources: fc.array(addr, { maxLength: 5 }) });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 6 }), (records) => {
        const n = igmpV3ReportLen(records);
        const out = a5(n);
        expect(emitIgmpV3Report(records, out, 0)).toBe(n);
        const r = new IgmpRepr();
        expect(parseIgmp(out, 0, n, r)).toBe(WireStatus.Ok);
        expect(r.numRecords).toBe(records.length);
        const rec = new IgmpGroupRecordRepr();
        let p = igmpV3FirstRecord(0);
        for (const want of records) {
          p = igmpV3RecordAt(out, 0, p, rec, n);
          expect(p).toBeGreaterThan(0);
          expect(rec.recordType).toBe(want.recordType);
          expect(rec.group).toBe(want.group);
          expect(rec.auxDataLen).toBe(0);
          expect(Array.from({ length: rec.numSources }, (_, i) => igmpRecordSource(out, rec, i))).toEqual(want.sources);
        }
        expect(p).toBe(n);
      }),
      { numRuns: 300 },
    );
  });
});
