import fc from 'fast-check';
import { frame } from '../../test/fixtures/frames';
import { a5, hex } from '../../test/helpers/wire';
import { formatIp } from './addr';
import { Bytes } from './bytes';
import { emitIcmp, formatIcmp, ICMP_HEADER_LEN, icmpHeaderLen, IcmpRepr, IcmpType, IcmpUnreachCode, parseIcmp } from './icmp';
import { Ipv4Repr, parseIpv4 } from './ipv4';
import { WireStatus } from './status';

// Independent struct-built literals (Ethernet + IPv4 + ICMP), as tcpdump prints them:
//   pingReply:    "IP 198.18.0.2 > 198.18.0.1: ICMP echo reply, id 4660, seq 1, length 16"
//   fragNeeded:   "ICMP 198.18.0.2 unreachable - need to frag (mtu 1400), length 36"
//   timeExceeded: "ICMP time exceeded in-transit, length 36"
const LIT = {
  pingReply: '0200c61200010200c6120002080045000024020200004001ecafc6120002c612000100005c35123400016162636465666768',
  fragNeeded: '0200c61200010200c6120002080045000038030300004001eb9ac6120002c61200010304557200000578450005dc000740004011a8e2c6120001c61200029c40000905c80000',
  timeExceeded: '0200c61200010200c6120002080045000038040400004001ea99c6120002c61200010b0052ee00000000450005dc000740004011a8e2c6120001c61200029c40000905c80000',
};
const lit = (k: keyof typeof LIT): Uint8Array => Uint8Array.from(Buffer.from(LIT[k], 'hex'));
const L4 = 34; // Ethernet 14 + IPv4 20

function parsed(f: Uint8Array): IcmpRepr {
  const r = new IcmpRepr();
  expect(parseIcmp(new Bytes(f), L4, f.length - L4, r)).toBe(WireStatus.Ok);
  return r;
}

/** Emits `r` into a 0xa5 buffer that holds the fixture's payload, and compares with the fixture. */
function expectEmitMatches(f: Uint8Array, r: IcmpRepr): void {
  const n = f.length - L4;
  const out = a5(n + 2);
  out.u8.set(f.subarray(L4 + 8), 1 + 8);
  expect(emitIcmp(r, out, 1)).toBe(8);
  expect(hex(out.u8.subarray(1, 1 + n))).toBe(hex(f.subarray(L4)));
  expect(out.u8[0]).toBe(0xa5);
  expect(out.u8[n + 1]).toBe(0xa5);
}

describe('ICMP', () => {
  it('parses and emits an echo request', () => {
    const f = frame('pingRequest');
    const r = parsed(f);
    expect(r.type).toBe(IcmpType.EchoRequest);
    expect(r.code).toBe(0);
    expect(r.ident).toBe(0x1234);
    expect(r.seq).toBe(1);
    expect(r.payloadLength).toBe(8);
    expect(icmpHeaderLen(r)).toBe(ICMP_HEADER_LEN);
    expect(formatIcmp(r)).toBe('ICMP echo request, id 4660, seq 1, length 16');
    expectEmitMatches(f, r);
  });

  it('parses and emits an echo reply', () => {
    const f = lit('pingReply');
    const r = parsed(f);
    expect(r.type).toBe(IcmpType.EchoReply);
    expect(r.ident).toBe(0x1234);
    expect(r.seq).toBe(1);
    expect(formatIcmp(r)).toBe('ICMP echo reply, id 4660, seq 1, length 16');
    expectEmitMatches(f, r);
  });

  it('parses a port unreachable quoting the original datagram', () => {
    const f = frame('portUnreachable');
    const b = new Bytes(f);
    const r = parsed(f);
    expect(r.type).toBe(IcmpType.DestUnreachable);
    expect(r.code).toBe(IcmpUnreachCode.Port);
    expect(r.mtu).toBe(0);
    expect(r.payloadLength).toBe(28);
    expect(formatIcmp(r)).toBe('ICMP port unreachable, length 36');
    // The quote is at off + 8; its total length names the original datagram, so parse the header only.
    const inner = new Ipv4Repr();
    expect(parseIpv4(b, L4 + 8, 20, inner)).toBe(WireStatus.Truncated);
    // With the quoted length as the bound (a copy padded to the original's total length) it parses.
    const padded = new Uint8Array(30);
    padded.set(f.subarray(L4 + 8));
    expect(parseIpv4(new Bytes(padded), 0, 30, inner)).toBe(WireStatus.Ok);
    expect(formatIp(inner.dst)).toBe('198.18.0.2');
    expect(inner.protocol).toBe(17);
    expect(b.dv.getUint16(L4 + 8 + 20 + 2)).toBe(9); // quoted UDP destination port
    expectEmitMatches(f, r);
  });

  it('parses fragmentation needed with the next-hop MTU', () => {
    const f = lit('fragNeeded');
    const r = parsed(f);
    expect(r.type).toBe(IcmpType.DestUnreachable);
    expect(r.code).toBe(IcmpUnreachCode.FragNeeded);
    expect(r.mtu).toBe(1400);
    expect(r.rest).toBe(1400);
    expect(formatIcmp(r)).toBe('ICMP unreachable - need to frag (mtu 1400), length 36');
    expectEmitMatches(f, r);
  });

  it('parses time exceeded', () => {
    const f = lit('timeExceeded');
    const r = parsed(f);
    expect(r.type).toBe(IcmpType.TimeExceeded);
    expect(r.code).toBe(0);
    expect(formatIcmp(r)).toBe('ICMP time exceeded in-transit, length 36');
    expectEmitMatches(f, r);
  });

  it('clears echo fields left by a previous message', () => {
    const r = parsed(frame('pingRequest'));
    const f = lit('timeExceeded');
    expect(parseIcmp(new Bytes(f), L4, f.length - L4, r)).toBe(WireStatus.Ok);
    expect(r.ident).toBe(0);
    expect(r.seq).toBe(0);
    expect(r.mtu).toBe(0);
    const g = frame('pingRequest');
    parseIcmp(new Bytes(lit('fragNeeded')), L4, 36, r);
    expect(parseIcmp(new Bytes(g), L4, g.length - L4, r)).toBe(WireStatus.Ok);
    expect(r.mtu).toBe(0);
  });

  describe('error statuses', () => {
    const r = new IcmpRepr();
    it('Truncated: fewer than 8 bytes', () => {
      const f = frame('pingRequest');
      expect(parseIcmp(new Bytes(f), L4, 7, r, false)).toBe(WireStatus.Truncated);
      expect(parseIcmp(new Bytes(f), L4, 0, r, false)).toBe(WireStatus.Truncated);
    });
    it('Truncated: an error quoting less than an IPv4 header', () => {
      for (const type of [IcmpType.DestUnreachable, IcmpType.Redirect, IcmpType.TimeExceeded, IcmpType.ParameterProblem]) {
        const m = Object.assign(new IcmpRepr(), { type, payloadLength: 19 });
        const out = a5(8 + 19);
        emitIcmp(m, out, 0);
        expect(parseIcmp(out, 0, 27, r)).toBe(WireStatus.Truncated);
        m.payloadLength = 20;
        const ok = a5(8 + 20);
        emitIcmp(m, ok, 0);
        expect(parseIcmp(ok, 0, 28, r)).toBe(WireStatus.Ok);
      }
    });
    it('BadChecksum: a flipped bit in the header or the payload, unless verification is off', () => {
      const f = frame('pingRequest');
      for (const i of [0, 2, 5, 8, 15]) {
        const g = f.slice();
        g[L4 + i] ^= 0x01;
        expect(parseIcmp(new Bytes(g), L4, g.length - L4, r)).toBe(WireStatus.BadChecksum);
        expect(parseIcmp(new Bytes(g), L4, g.length - L4, r, false)).toBe(WireStatus.Ok);
      }
    });
    it('the checksum covers exactly `len` bytes', () => {
      const f = frame('pingRequest');
      expect(parseIcmp(new Bytes(f), L4, f.length - L4 - 1, r)).toBe(WireStatus.BadChecksum);
    });
  });

  it('keeps unknown types as values, with the rest-of-header word raw', () => {
    const u = a5(12);
    const x = Object.assign(new IcmpRepr(), { type: 42, code: 7, rest: 0x01020304, payloadLength: 4 });
    emitIcmp(x, u, 0);
    const r = new IcmpRepr();
    expect(parseIcmp(u, 0, 12, r)).toBe(WireStatus.Ok);
    expect(r.type).toBe(42);
    expect(r.code).toBe(7);
    expect(r.rest).toBe(0x01020304);
    expect(r.payloadLength).toBe(4);
    expect(formatIcmp(r)).toBe('ICMP type-#42, code 7, length 12');
  });

  it('prints redirect, parameter problem and timestamps', () => {
    const m = (type: number, code: number, rest: number, ident = 0, seq = 0): IcmpRepr =>
      Object.assign(new IcmpRepr(), { type, code, rest, ident, seq, payloadLength: 28 });
    expect(formatIcmp(m(IcmpType.Redirect, 1, 0xc6120009))).toBe('ICMP redirect to host 198.18.0.9, length 36');
    expect(formatIcmp(m(IcmpType.ParameterProblem, 0, 0x14000000))).toBe('ICMP parameter problem - octet 20, length 36');
    expect(formatIcmp(m(IcmpType.Timestamp, 0, 0, 1, 2))).toBe('ICMP time stamp query id 1 seq 2, length 36');
    expect(formatIcmp(m(IcmpType.DestUnreachable, 13, 0))).toBe('ICMP unreachable - admin prohibited filter, length 36');
    expect(formatIcmp(m(IcmpType.DestUnreachable, 99, 0))).toBe('ICMP unreachable, code 99, length 36');
  });

  it('property: parse(emit(repr)) == repr (echo, frag-needed, unknown types; odd and even payloads)', () => {
    const payload = fc.uint8Array({ maxLength: 64 });
    const echo = fc.record({ type: fc.constantFrom(0, 8), code: fc.constant(0), ident: fc.nat({ max: 0xffff }), seq: fc.nat({ max: 0xffff }), mtu: fc.constant(0), payload });
    const frag = fc.record({ type: fc.constant(3), code: fc.constant(4), ident: fc.constant(0), seq: fc.constant(0), mtu: fc.nat({ max: 0xffff }), payload: fc.uint8Array({ minLength: 28, maxLength: 64 }) });
    const other = fc.record({ type: fc.constantFrom(9, 10, 42, 200), code: fc.nat({ max: 255 }), ident: fc.constant(0), seq: fc.constant(0), mtu: fc.constant(0), payload, rest: fc.nat({ max: 0xffffffff }) });
    fc.assert(
      fc.property(fc.oneof(echo, frag, other), (v) => {
        const r = Object.assign(new IcmpRepr(), { type: v.type, code: v.code, ident: v.ident, seq: v.seq, mtu: v.mtu, payloadLength: v.payload.length });
        r.rest = 'rest' in v ? v.rest : v.type === 3 ? v.mtu : ((v.ident << 16) | v.seq) >>> 0;
        const out = a5(8 + v.payload.length);
        out.u8.set(v.payload, 8);
        expect(emitIcmp(r, out, 0)).toBe(8);
        const back = new IcmpRepr();
        expect(parseIcmp(out, 0, out.length, back)).toBe(WireStatus.Ok);
        const { checksum: _c, ...got } = back;
        const { checksum: _d, ...want } = r;
        expect(got).toEqual(want);
      }),
      { numRuns: 500 },
    );
  });
});
