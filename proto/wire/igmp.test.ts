import { frame } from '../../test/fixtures/frames';
import { a5, hex } from '../../test/helpers/wire';
import { formatIp, parseIp as ip } from './addr';
import { Bytes } from './bytes';
import { emitIgmp, emitIgmpV3Report, formatIgmp, IgmpGroupRecordRepr, IgmpRepr, IgmpType, igmpSource, igmpV3RecordAt, igmpV3ReportLen, parseIgmp } from './igmp';
import { WireStatus } from './status';

const L3 = 14 + 24; // Ethernet + IPv4 with Router Alert

describe('IGMP', () => {
  it('parses and emits a v2 report', () => {
    const f = frame('igmpV2Report');
    const r = new IgmpRepr();
    expect(parseIgmp(new Bytes(f), L3, f.length - L3, r)).toBe(WireStatus.Ok);
    expect(r.type).toBe(IgmpType.V2Report);
    expect(r.version).toBe(2);
    expect(formatIp(r.group)).toBe('239.1.2.3');
    expect(formatIgmp(r)).toBe('igmp v2 report 239.1.2.3');
    const out = a5(8);
    expect(emitIgmp(r, out, 0)).toBe(8);
    expect(hex(out.u8)).toBe(hex(f.subarray(L3)));
  });
  it('parses a v3 report with records and sources, and emits it byte-exactly', () => {
    const f = frame('igmpV3Report');
    const b = new Bytes(f);
    const r = new IgmpRepr();
    const len = f.length - L3;
    expect(parseIgmp(b, L3, len, r)).toBe(WireStatus.Ok);
    expect(r.version).toBe(3);
    expect(r.numRecords).toBe(2);
    const rec = new IgmpGroupRecordRepr();
    let p = igmpV3RecordAt(b, L3, len, L3 + 8, rec);
    expect(rec.recordType).toBe(4);
    expect(formatIp(rec.group)).toBe('239.1.2.3');
    expect(rec.numSources).toBe(0);
    p = igmpV3RecordAt(b, L3, len, p, rec);
    expect(rec.recordType).toBe(1);
    expect(formatIp(rec.group)).toBe('232.1.1.1');
    expect(rec.numSources).toBe(2);
    expect(formatIp(b.dv.getUint32(rec.sourcesOffset + 4))).toBe('198.18.6.6');
    expect(p).toBe(L3 + len);
    expect(igmpV3RecordAt(b, L3, len, p, rec)).toBe(-1);
    const records = [
      { recordType: 4, group: ip('239.1.2.3'), sources: [] },
      { recordType: 1, group: ip('232.1.1.1'), sources: [ip('198.18.5.5'), ip('198.18.6.6')] },
    ];
    const out = a5(igmpV3ReportLen(records));
    expect(emitIgmpV3Report(records, out, 0)).toBe(len);
    expect(hex(out.u8)).toBe(hex(f.subarray(L3)));
  });
  it('parses a v3 query by its length and emits it', () => {
    const f = frame('igmpV3Query');
    const b = new Bytes(f);
    const r = new IgmpRepr();
    expect(parseIgmp(b, L3, f.length - L3, r)).toBe(WireStatus.Ok);
    expect(r.version).toBe(3);
    expect(r.maxRespCode).toBe(100);
    expect(r.qrv).toBe(2);
    expect(r.qqic).toBe(125);
    expect(r.numSources).toBe(1);
    expect(formatIp(igmpSource(b, L3, 0))).toBe('198.18.5.5');
    const out = a5(16);
    out.u8.set(f.subarray(L3 + 12), 12);
    expect(emitIgmp(r, out, 0)).toBe(16);
    expect(hex(out.u8)).toBe(hex(f.subarray(L3)));
  });
  it('tells v1 and v2 queries apart and rejects odd query lengths', () => {
    const q = new IgmpRepr();
    q.type = IgmpType.MembershipQuery;
    q.version = 2;
    q.maxRespCode = 100;
    const out = a5(8);
    emitIgmp(q, out, 0);
    const r = new IgmpRepr();
    expect(parseIgmp(out, 0, 8, r)).toBe(WireStatus.Ok);
    expect(r.version).toBe(2);
    q.maxRespCode = 0;
    emitIgmp(q, out, 0);
    expect(parseIgmp(out, 0, 8, r)).toBe(WireStatus.Ok);
    expect(r.version).toBe(1);
    const odd = a5(10);
    odd.u8.fill(0);
    odd.u8[0] = 0x11;
    odd.dv.setUint16(2, 0xffff - 0x1100);
    expect(parseIgmp(odd, 0, 10, r)).toBe(WireStatus.BadLength);
  });
  it('reports truncation and bad checksums', () => {
    const f = frame('igmpV3Report').slice();
    const r = new IgmpRepr();
    expect(parseIgmp(new Bytes(f), L3, 7, r)).toBe(WireStatus.Truncated);
    expect(parseIgmp(new Bytes(f), L3, 20, r, false)).toBe(WireStatus.Truncated); // records run past the end
    f[L3 + 5] ^= 1;
    expect(parseIgmp(new Bytes(f), L3, f.length - L3, r)).toBe(WireStatus.BadChecksum);
  });
});
