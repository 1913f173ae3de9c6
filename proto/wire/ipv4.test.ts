import fc from 'fast-check';
import { frame, type FrameName } from '../../test/fixtures/frames';
import { a5, hex } from '../../test/helpers/wire';
import { parseIp as ip } from './addr';
import { Bytes } from './bytes';
import {
  emitIpv4, formatIpv4, formatIpv4Header, formatIpv4Options, IpProtocol, ipv4HeaderLen, ipv4PayloadOffset, Ipv4Repr,
  isFragment, parseIpv4,
} from './ipv4';
import { WireStatus } from './status';

function parsed(name: FrameName): { f: Uint8Array; r: Ipv4Repr } {
  const f = frame(name);
  const r = new Ipv4Repr();
  expect(parseIpv4(new Bytes(f), 14, f.length - 14, r)).toBe(WireStatus.Ok);
  return { f, r };
}

/** The fixtures' IPv4 headers and what `tcpdump -v` prints for them (checked with tcpdump 4.99). */
const tcpdumpV: Array<[FrameName, string]> = [
  ['pingRequest', '(tos 0x0, ttl 64, id 257, offset 0, flags [DF], proto ICMP (1), length 36)'],
  ['portUnreachable', '(tos 0x0, ttl 64, id 514, offset 0, flags [none], proto ICMP (1), length 56)'],
  ['igmpV2Report', '(tos 0xc0, ttl 1, id 9, offset 0, flags [DF], proto IGMP (2), length 32, options (RA))'],
  ['frag1', '(tos 0x0, ttl 64, id 12, offset 0, flags [+], proto UDP (17), length 532)'],
  ['frag2', '(tos 0x0, ttl 64, id 12, offset 512, flags [none], proto UDP (17), length 540)'],
];

describe('IPv4', () => {
  it('parses a ping request header', () => {
    const { r } = parsed('pingRequest');
    expect(r.src).toBe(ip('198.18.0.1'));
    expect(r.dst).toBe(ip('198.18.0.2'));
    expect(r.protocol).toBe(IpProtocol.Icmp);
    expect(r.ttl).toBe(64);
    expect(r.ident).toBe(0x0101);
    expect(r.dontFragment).toBe(true);
    expect(r.moreFragments).toBe(false);
    expect(r.totalLength).toBe(36);
    expect(r.payloadLength).toBe(16);
    expect(r.checksum).toBe(0xadb0);
    expect(ipv4HeaderLen(r)).toBe(20);
    expect(ipv4PayloadOffset(r, 14)).toBe(34);
    expect(isFragment(r)).toBe(false);
    expect(formatIpv4(r)).toBe('IP 198.18.0.1 > 198.18.0.2: ICMP, length 16');
  });

  it('parses options (Router Alert) and DSCP', () => {
    const { r } = parsed('igmpV2Report');
    expect(r.optionsLength).toBe(4);
    expect(Array.from(r.options.subarray(0, 4))).toEqual([148, 4, 0, 0]);
    expect(formatIpv4Options(r)).toBe('RA');
    expect(r.dscp).toBe(0x30);
    expect(r.ecn).toBe(0);
    expect(r.ttl).toBe(1);
    expect(ipv4HeaderLen(r)).toBe(24);
    expect(ipv4PayloadOffset(r, 14)).toBe(38);
    expect(r.payloadLength).toBe(8);
  });

  it('parses fragment fields', () => {
    const a = parsed('frag1').r;
    expect(a.moreFragments).toBe(true);
    expect(a.fragOffset).toBe(0);
    expect(a.payloadLength).toBe(512);
    expect(isFragment(a)).toBe(true);
    expect(formatIpv4(a)).toBe('IP 198.18.0.1 > 198.18.0.2: UDP, length 512 (frag 12:512@0+)');
    const b = parsed('frag2').r;
    expect(b.moreFragments).toBe(false);
    expect(b.fragOffset).toBe(512);
    expect(b.ident).toBe(a.ident);
    expect(isFragment(b)).toBe(true);
    expect(formatIpv4(b)).toBe('IP 198.18.0.1 > 198.18.0.2: UDP, length 520 (frag 12:520@512)');
  });

  it('prints the header as tcpdump -v does', () => {
    for (const [name, line] of tcpdumpV) expect(formatIpv4Header(parsed(name).r)).toBe(line);
    const r = Object.assign(new Ipv4Repr(), { ecn: 3, dontFragment: true, moreFragments: true, fragOffset: 128, protocol: 17, payloadLength: 16 });
    expect(formatIpv4Header(r)).toBe('(tos 0x3,CE, ttl 64, id 0, offset 128, flags [+, DF], proto UDP (17), length 36)');
  });

  it('emits every fixture header byte-exactly into a 0xa5 buffer', () => {
    const names: FrameName[] = ['pingRequest', 'udp', 'tcpSyn', 'igmpV2Report', 'igmpV3Report', 'igmpV3Query', 'frag1', 'frag2', 'portUnreachable'];
    for (const name of names) {
      const { f, r } = parsed(name);
      const hl = ipv4HeaderLen(r);
      const out = a5(hl + 2);
      expect(emitIpv4(r, out, 1)).toBe(hl);
      expect(hex(out.u8.subarray(1, 1 + hl))).toBe(hex(f.subarray(14, 14 + hl)));
      expect(out.u8[0]).toBe(0xa5);
      expect(out.u8[hl + 1]).toBe(0xa5);
    }
  });

  it('pads options to a multiple of 4 with End-of-Option-List bytes', () => {
    const r = Object.assign(new Ipv4Repr(), { src: ip('198.18.0.1'), dst: ip('224.0.0.22'), protocol: IpProtocol.Igmp, optionsLength: 1 });
    r.options[0] = 1; // NOP
    const out = a5(24);
    expect(emitIpv4(r, out, 0)).toBe(24);
    expect(Array.from(out.u8.subarray(20, 24))).toEqual([1, 0, 0, 0]);
    const back = new Ipv4Repr();
    expect(parseIpv4(out, 0, 24, back)).toBe(WireStatus.Ok);
    expect(back.optionsLength).toBe(4);
    expect(formatIpv4Options(back)).toBe('NOP,EOL');
  });

  it('names options and flags a bad option length', () => {
    const r = new Ipv4Repr();
    r.options.set([1, 7, 7, 0, 0, 0, 0, 0, 148, 4, 0, 0]);
    r.optionsLength = 12;
    expect(formatIpv4Options(r)).toBe('NOP,opt-7,RA');
    r.options.set([68, 1, 0, 0]);
    r.optionsLength = 4;
    expect(formatIpv4Options(r)).toBe('opt-68 [bad length]');
    r.options.set([68, 40, 0, 0]);
    expect(formatIpv4Options(r)).toBe('opt-68 [bad length]');
  });

  it('ignores Ethernet padding after total length', () => {
    const f = frame('pingRequest');
    const padded = new Uint8Array(60);
    padded.set(f);
    padded.fill(0xee, f.length);
    const r = new Ipv4Repr();
    expect(parseIpv4(new Bytes(padded), 14, padded.length - 14, r)).toBe(WireStatus.Ok);
    expect(r.payloadLength).toBe(16);
    expect(r.totalLength).toBe(36);
  });

  it('clears option bytes a longer previous header left in the Repr', () => {
    const r = new Ipv4Repr();
    const a = frame('igmpV2Report');
    expect(parseIpv4(new Bytes(a), 14, a.length - 14, r)).toBe(WireStatus.Ok);
    const b = frame('pingRequest');
    expect(parseIpv4(new Bytes(b), 14, b.length - 14, r)).toBe(WireStatus.Ok);
    expect(r.optionsLength).toBe(0);
    expect(r.options.every((x) => x === 0)).toBe(true);
    const fresh = parsed('pingRequest').r;
    expect({ ...r, options: Array.from(r.options) }).toEqual({ ...fresh, options: Array.from(fresh.options) });
  });

  it('accepts the reserved flag bit (as Linux does)', () => {
    const f = frame('pingRequest').slice();
    f[14 + 6] |= 0x80;
    const r = new Ipv4Repr();
    expect(parseIpv4(new Bytes(f), 14, f.length - 14, r, false)).toBe(WireStatus.Ok);
    expect(r.dontFragment).toBe(true);
    expect(r.fragOffset).toBe(0);
  });

  describe('error statuses', () => {
    const r = new Ipv4Repr();
    it('Truncated: fewer than 20 bytes', () => {
      const f = frame('pingRequest');
      expect(parseIpv4(new Bytes(f), 14, 19, r)).toBe(WireStatus.Truncated);
      expect(parseIpv4(new Bytes(f), 14, 0, r)).toBe(WireStatus.Truncated);
    });
    it('Unsupported: version other than 4', () => {
      const f = frame('pingRequest').slice();
      f[14] = 0x65;
      expect(parseIpv4(new Bytes(f), 14, f.length - 14, r)).toBe(WireStatus.Unsupported);
      f[14] = 0x05;
      expect(parseIpv4(new Bytes(f), 14, f.length - 14, r)).toBe(WireStatus.Unsupported);
    });
    it('Malformed: IHL below 5', () => {
      const f = frame('pingRequest').slice();
      f[14] = 0x44;
      expect(parseIpv4(new Bytes(f), 14, f.length - 14, r, false)).toBe(WireStatus.Malformed);
      f[14] = 0x40;
      expect(parseIpv4(new Bytes(f), 14, f.length - 14, r, false)).toBe(WireStatus.Malformed);
    });
    it('Truncated: header length beyond the bytes present', () => {
      const f = frame('igmpV2Report'); // IHL 6
      expect(parseIpv4(new Bytes(f), 14, 23, r)).toBe(WireStatus.Truncated);
      const g = frame('pingRequest').slice();
      g[14] = 0x4f; // IHL 15 = 60 bytes > 36 present
      expect(parseIpv4(new Bytes(g), 14, g.length - 14, r)).toBe(WireStatus.Truncated);
    });
    it('BadLength: total length below the header length', () => {
      const f = frame('pingRequest').slice();
      f[14 + 2] = 0;
      f[14 + 3] = 19;
      expect(parseIpv4(new Bytes(f), 14, f.length - 14, r, false)).toBe(WireStatus.BadLength);
      const g = frame('igmpV2Report').slice();
      g[14 + 3] = 22; // 22 < 24-byte header
      expect(parseIpv4(new Bytes(g), 14, g.length - 14, r, false)).toBe(WireStatus.BadLength);
    });
    it('Truncated: total length beyond the bytes present', () => {
      const f = frame('pingRequest');
      expect(parseIpv4(new Bytes(f), 14, 35, r)).toBe(WireStatus.Truncated); // total length 36
      expect(parseIpv4(new Bytes(f), 14, 20, r)).toBe(WireStatus.Truncated);
    });
    it('BadChecksum: any header bit flipped, unless verification is off', () => {
      const f = frame('igmpV2Report');
      for (let i = 0; i < 24; i++) {
        if (i === 0 || i === 2 || i === 3) continue; // version/IHL/length fail earlier
        const g = f.slice();
        g[14 + i] ^= 0x10;
        expect(parseIpv4(new Bytes(g), 14, g.length - 14, r)).toBe(WireStatus.BadChecksum);
        expect(parseIpv4(new Bytes(g), 14, g.length - 14, r, false)).toBe(WireStatus.Ok);
      }
    });
  });

  it('throws RangeError on a Repr no header can carry (programmer error)', () => {
    const out = a5(100);
    expect(() => emitIpv4(Object.assign(new Ipv4Repr(), { optionsLength: 41 }), out, 0)).toThrow(RangeError);
    expect(() => emitIpv4(Object.assign(new Ipv4Repr(), { payloadLength: 65516 }), out, 0)).toThrow(RangeError);
    expect(emitIpv4(Object.assign(new Ipv4Repr(), { payloadLength: 65515 }), out, 0)).toBe(20);
  });

  it('property: parse(emit(repr)) == repr', () => {
    fc.assert(
      fc.property(
        fc.record({
          src: fc.nat({ max: 0xffffffff }), dst: fc.nat({ max: 0xffffffff }), protocol: fc.nat({ max: 255 }),
          ttl: fc.nat({ max: 255 }), dscp: fc.nat({ max: 63 }), ecn: fc.nat({ max: 3 }), ident: fc.nat({ max: 0xffff }),
          dontFragment: fc.boolean(), moreFragments: fc.boolean(), frag: fc.nat({ max: 0x1fff }),
          payloadLength: fc.nat({ max: 200 }), words: fc.nat({ max: 10 }), optionBytes: fc.uint8Array({ minLength: 40, maxLength: 40 }),
        }),
        (v) => {
          const r = new Ipv4Repr();
          Object.assign(r, {
            src: v.src, dst: v.dst, protocol: v.protocol, ttl: v.ttl, dscp: v.dscp, ecn: v.ecn, ident: v.ident,
            dontFragment: v.dontFragment, moreFragments: v.moreFragments, fragOffset: v.frag * 8,
            payloadLength: v.payloadLength, optionsLength: v.words * 4,
          });
          r.options.set(v.optionBytes.subarray(0, r.optionsLength));
          r.totalLength = ipv4HeaderLen(r) + r.payloadLength;
          const out = a5(ipv4HeaderLen(r) + r.payloadLength);
          expect(emitIpv4(r, out, 0)).toBe(20 + r.optionsLength);
          const back = new Ipv4Repr();
          expect(parseIpv4(out, 0, out.length, back)).toBe(WireStatus.Ok);
          const { checksum: _c, options, ...rest } = back;
          const { checksum: _d, options: want, ...wantRest } = r;
          expect(rest).toEqual(wantRest);
          expect(Array.from(options.subarray(0, back.optionsLength))).toEqual(Array.from(want.subarray(0, r.optionsLength)));
        },
      ),
      { numRuns: 500 },
    );
  });
});
