import fc from 'fast-check';
import { frame } from '../../test/fixtures/frames';
import { a5, hex } from '../../test/helpers/wire';
import { parseIp as ip } from './addr';
import { Bytes } from './bytes';
import { WireStatus } from './status';
import { emitUdp, formatUdp, parseUdp, UdpRepr } from './udp';

const A = ip('198.18.0.1');
const B = ip('198.18.0.2');

describe('UDP', () => {
  it('parses and emits a datagram with checksum', () => {
    const f = frame('udp');
    const r = new UdpRepr();
    expect(parseUdp(new Bytes(f), 34, f.length - 34, r, A, B)).toBe(WireStatus.Ok);
    expect(r.srcPort).toBe(40000);
    expect(r.dstPort).toBe(9);
    expect(r.payloadLength).toBe(5);
    expect(formatUdp(r)).toBe('40000 > 9: UDP, length 5');
    const out = a5(13);
    out.u8.set(f.subarray(42), 8);
    expect(emitUdp(r, out, 0, A, B)).toBe(8);
    expect(hex(out.u8)).toBe(hex(f.subarray(34)));
  });
  it('accepts a zero checksum as "none" and can emit one', () => {
    const f = frame('udpNoChecksum');
    const r = new UdpRepr();
    expect(parseUdp(new Bytes(f), 34, f.length - 34, r, A, B)).toBe(WireStatus.Ok);
    expect(r.checksum).toBe(0);
    const out = a5(13);
    out.u8.set(f.subarray(42), 8);
    emitUdp(r, out, 0, A, B, false);
    expect(hex(out.u8)).toBe(hex(f.subarray(34)));
  });
  it('reports bad checksum, bad length and truncation', () => {
    const f = frame('udp').slice();
    const b = new Bytes(f);
    const r = new UdpRepr();
    expect(parseUdp(b, 34, 7, r, A, B)).toBe(WireStatus.Truncated);
    expect(parseUdp(b, 34, 10, r, A, B)).toBe(WireStatus.Truncated); // length field 13 > 10
    expect(parseUdp(b, 34, f.length - 34, r, A, ip('198.18.0.3'))).toBe(WireStatus.BadChecksum);
    f[34 + 5] = 4;
    expect(parseUdp(b, 34, f.length - 34, r, A, B)).toBe(WireStatus.BadLength);
  });
  it('sends a computed zero checksum as 0xffff (RFC 768)', () => {
    // Find a 2-byte payload whose checksum would be zero, by search over the payload word.
    const r = new UdpRepr();
    r.srcPort = 1;
    r.dstPort = 2;
    r.payloadLength = 2;
    const out = a5(10);
    for (let w = 0; w < 0x10000; w++) {
      out.dv.setUint16(8, w);
      emitUdp(r, out, 0, A, B);
      if (out.dv.getUint16(6) === 0xffff) {
        const back = new UdpRepr();
        expect(parseUdp(out, 0, 10, back, A, B)).toBe(WireStatus.Ok);
        return;
      }
    }
    throw new Error('no payload gives a zero checksum');
  });
  it('property: parse(emit(repr)) == repr', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffff }), fc.nat({ max: 0xffff }), fc.uint8Array({ maxLength: 64 }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), (sp, dp, payload, s, d) => {
        const r = new UdpRepr();
        r.srcPort = sp;
        r.dstPort = dp;
        r.payloadLength = payload.length;
        const out = a5(8 + payload.length);
        out.u8.set(payload, 8);
        emitUdp(r, out, 0, s, d);
        const back = new UdpRepr();
        expect(parseUdp(out, 0, out.length, back, s, d)).toBe(WireStatus.Ok);
        expect([back.srcPort, back.dstPort, back.payloadLength]).toEqual([sp, dp, payload.length]);
      }),
      { numRuns: 300 },
    );
  });
});
