import fc from 'fast-check';
import { frame } from '../../test/fixtures/frames';
import { a5, hex } from '../../test/helpers/wire';
import { parseIp as ip } from './addr';
import { Bytes } from './bytes';
import { emitIpv4, formatIpv4Header, formatIpv4Options, IpProtocol, ipv4HeaderLen, Ipv4Repr, isFragment, parseIpv4 } from './ipv4';
import { WireStatus } from './status';

function parsed(name: Parameters<typeof frame>[0]): { f: Uint8Array; r: Ipv4Repr } {
  const f = frame(name);
  const r = new Ipv4Repr();
  expect(parseIpv4(new Bytes(f), 14, f.length - 14, r)).toBe(WireStatus.Ok);
  return { f, r };
}

describe('IPv4', () => {
  it('parses a ping request header', () => {
    const { r } = parsed('pingRequest');
    expect(r.src).toBe(ip('198.18.0.1'));
    expect(r.dst).toBe(ip('198.18.0.2'));
    expect(r.protocol).toBe(IpProtocol.Icmp);
    expect(r.ttl).toBe(64);
    expect(r.ident).toBe(0x0101);
    expect(r.dontFragment).toBe(true);
    expect(r.payloadLength).toBe(16);
    expect(ipv4HeaderLen(r)).toBe(20);
    expect(isFragment(r)).toBe(false);
  });
  it('parses options (Router Alert) and DSCP', () => {
    const { r } = parsed('igmpV2Report');
    expect(r.optionsLength).toBe(4);
    expect(formatIpv4Options(r)).toBe('RA');
    expect(r.dscp).toBe(0x30);
    expect(r.ttl).toBe(1);
    expect(formatIpv4Header(r)).toContain('options (RA)');
  });
  it('parses fragment fields', () => {
    const a = parsed('frag1').r;
    expect(a.moreFragments).toBe(true);
    expect(a.fragOffset).toBe(0);
    expect(a.payloadLength).toBe(512);
    const b = parsed('frag2').r;
    expect(b.moreFragments).toBe(false);
    expect(b.fragOffset).toBe(512);
    expect(isFragment(b)).toBe(true);
  });
  it('emits every fixture header byte-exactly into a 0xa5 buffer', () => {
    for (const name of ['pingRequest', 'udp', 'tcpSyn', 'igmpV2Report', 'igmpV3Report', 'frag1', 'frag2', 'portUnreachable'] as const) {
      const { f, r } = parsed(name);
      const out = a5(ipv4HeaderLen(r));
      expect(emitIpv4(r, out, 0)).toBe(ipv4HeaderLen(r));
      expect(hex(out.u8)).toBe(hex(f.subarray(14, 14 + ipv4HeaderLen(r))));
    }
  });
  it('ignores Ethernet padding after total length', () => {
    const f = frame('pingRequest');
    const padded = new Uint8Array(f.length + 10);
    padded.set(f);
    const r = new Ipv4Repr();
    expect(parseIpv4(new Bytes(padded), 14, padded.length - 14, r)).toBe(WireStatus.Ok);
    expect(r.payloadLength).toBe(16);
  });
  it('reports every error status', () => {
    const r = new Ipv4Repr();
    const f = frame('pingRequest').slice();
    const b = new Bytes(f);
    expect(parseIpv4(b, 14, 19, r)).toBe(WireStatus.Truncated);
    expect(parseIpv4(b, 14, 30, r)).toBe(WireStatus.Truncated); // total length 36 > 30
    f[14 + 10] ^= 0xff;
    expect(parseIpv4(b, 14, f.length - 14, r)).toBe(WireStatus.BadChecksum);
    expect(parseIpv4(b, 14, f.length - 14, r, false)).toBe(WireStatus.Ok);
    f[14 + 10] ^= 0xff;
    f[14] = 0x65;
    expect(parseIpv4(b, 14, f.length - 14, r)).toBe(WireStatus.Unsupported);
    f[14] = 0x44;
    expect(parseIpv4(b, 14, f.length - 14, r)).toBe(WireStatus.Malformed);
    f[14] = 0x45;
    f[14 + 2] = 0;
    f[14 + 3] = 10; // total length < header length
    expect(parseIpv4(b, 14, f.length - 14, r, false)).toBe(WireStatus.BadLength);
    const g = frame('pingRequest').slice();
    g[14] = 0x4f; // IHL 60 > available bytes
    expect(parseIpv4(new Bytes(g), 14, g.length - 14, r)).toBe(WireStatus.Truncated);
  });
  it('property: parse(emit(repr)) == repr', () => {
    fc.assert(
      fc.property(
        fc.record({
          src: fc.nat({ max: 0xffffffff }), dst: fc.nat({ max: 0xffffffff }), protocol: fc.nat({ max: 255 }),
          ttl: fc.nat({ max: 255 }), dscp: fc.nat({ max: 63 }), ecn: fc.nat({ max: 3 }), ident: fc.nat({ max: 0xffff }),
          dontFragment: fc.boolean(), moreFragments: fc.boolean(), frag: fc.nat({ max: 0x1fff }),
          payloadLength: fc.nat({ max: 200 }), opts: fc.uint8Array({ maxLength: 10 }).map((o) => o.length),
        }),
        (v) => {
          const r = new Ipv4Repr();
          Object.assign(r, { ...v, fragOffset: v.frag * 8 });
          r.optionsLength = v.opts * 4;
          for (let i = 0; i < r.optionsLength; i++) r.options[i] = 1; // NOPs
          const out = a5(ipv4HeaderLen(r) + r.payloadLength);
          emitIpv4(r, out, 0);
          const back = new Ipv4Repr();
          expect(parseIpv4(out, 0, out.length, back)).toBe(WireStatus.Ok);
          for (const k of ['src', 'dst', 'protocol', 'ttl', 'dscp', 'ecn', 'ident', 'dontFragment', 'moreFragments', 'fragOffset', 'payloadLength', 'optionsLength'] as const) {
            expect(back[k]).toBe(r[k]);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
