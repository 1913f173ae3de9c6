import { frame } from '../../test/fixtures/frames';
import { a5, hex } from '../../test/helpers/wire';
import { Bytes } from './bytes';
import { emitIcmp, formatIcmp, IcmpRepr, IcmpType, parseIcmp } from './icmp';
import { Ipv4Repr, parseIpv4 } from './ipv4';
import { WireStatus } from './status';

describe('ICMP', () => {
  it('parses and emits an echo request', () => {
    const f = frame('pingRequest');
    const r = new IcmpRepr();
    expect(parseIcmp(new Bytes(f), 34, f.length - 34, r)).toBe(WireStatus.Ok);
    expect(r.type).toBe(IcmpType.EchoRequest);
    expect(r.ident).toBe(0x1234);
    expect(r.seq).toBe(1);
    expect(r.payloadLength).toBe(8);
    expect(formatIcmp(r)).toBe('ICMP echo request, id 4660, seq 1, length 16');
    const out = a5(16);
    out.u8.set(f.subarray(42), 8);
    expect(emitIcmp(r, out, 0)).toBe(8);
    expect(hex(out.u8)).toBe(hex(f.subarray(34)));
  });
  it('parses a port unreachable quoting the original datagram', () => {
    const f = frame('portUnreachable');
    const b = new Bytes(f);
    const r = new IcmpRepr();
    expect(parseIcmp(b, 34, f.length - 34, r)).toBe(WireStatus.Ok);
    expect(r.type).toBe(IcmpType.DestUnreachable);
    expect(r.code).toBe(3);
    expect(formatIcmp(r)).toBe('ICMP port unreachable, length 36');
    const inner = new Ipv4Repr();
    // The quoted header's total length covers the original datagram, not the 8 bytes quoted: parse the header only.
    expect(parseIpv4(b, 42, 20, inner)).toBe(WireStatus.Truncated);
    expect(b.dv.getUint16(42 + 20 + 2)).toBe(9); // quoted UDP destination port
    const out = a5(f.length - 34);
    out.u8.set(f.subarray(42), 8);
    emitIcmp(r, out, 0);
    expect(hex(out.u8)).toBe(hex(f.subarray(34)));
  });
  it('reports truncation and bad checksums; unknown types are values', () => {
    const f = frame('pingRequest').slice();
    const r = new IcmpRepr();
    expect(parseIcmp(new Bytes(f), 34, 7, r)).toBe(WireStatus.Truncated);
    f[36] ^= 1;
    expect(parseIcmp(new Bytes(f), 34, f.length - 34, r)).toBe(WireStatus.BadChecksum);
    const u = a5(8);
    const x = new IcmpRepr();
    x.type = 42;
    x.rest = 0x01020304;
    emitIcmp(x, u, 0);
    expect(parseIcmp(u, 0, 8, r)).toBe(WireStatus.Ok);
    expect(r.type).toBe(42);
    expect(r.rest).toBe(0x01020304);
    expect(formatIcmp(r)).toContain('type-#42');
    const e = frame('portUnreachable');
    expect(parseIcmp(new Bytes(e), 34, 8 + 19, r, false)).toBe(WireStatus.Truncated);
  });
});
