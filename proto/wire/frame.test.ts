import fc from 'fast-check';
import { frame, frameHex, type FrameName } from '../../test/fixtures/frames';
import { Bytes } from './bytes';
import { formatFrame, frameOk, FrameRepr, Layer, parseFrame } from './frame';
import { WireStatus } from './status';

/**
 * As `tcpdump -n -S -r` prints these frames (checked against tcpdump 4.99), except where tsvma says
 * more: the VLAN tag, fragment notes, and the v3 query's max response code.
 */
const expected: Record<FrameName, string> = {
  arpRequest: 'ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 28',
  arpReply: 'ARP, Reply 198.18.0.2 is-at 02:00:c6:12:00:02, length 28',
  pingRequest: 'IP 198.18.0.1 > 198.18.0.2: ICMP echo request, id 4660, seq 1, length 16',
  portUnreachable: 'IP 198.18.0.2 > 198.18.0.1: ICMP 198.18.0.2 udp port 9 unreachable, length 36',
  udp: 'IP 198.18.0.1.40000 > 198.18.0.2.9: UDP, length 5',
  udpNoChecksum: 'IP 198.18.0.1.40001 > 198.18.0.2.9: UDP, length 5',
  udpVlan: 'vlan 100, IP 198.18.0.1.40000 > 198.18.0.2.9: UDP, length 4',
  tcpSyn: 'IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [S], seq 1000, win 64240, options [mss 1460,sackOK,TS val 1000 ecr 0,nop,wscale 7], length 0',
  tcpSack: 'IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [.], ack 7001, win 502, options [nop,nop,TS val 2000 ecr 1500,nop,nop,sack 2 {3000:4000}{5000:6000}], length 0',
  tcpData: 'IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [P.], seq 1001:1019, ack 7001, win 502, length 18',
  igmpV2Report: 'IP 198.18.0.1 > 239.1.2.3: igmp v2 report 239.1.2.3',
  igmpV3Report: 'IP 198.18.0.1 > 224.0.0.22: igmp v3 report, 2 group record(s)',
  igmpV3Query: 'IP 198.18.0.2 > 239.1.2.3: igmp query v3 [gaddr 239.1.2.3] [max resp code 100] [1 source(s)]',
  frag1: 'IP 198.18.0.1.40000 > 198.18.0.2.9: UDP, length 1024 (frag 12:512@0+)',
  frag2: 'IP 198.18.0.1 > 198.18.0.2: UDP (frag 12:520@512), length 520',
};

describe('frame walker and printer', () => {
  for (const name of Object.keys(frameHex) as FrameName[]) {
    it(`prints ${name}`, () => {
      const f = frame(name);
      expect(formatFrame(new Bytes(f), 0, f.length)).toBe(expected[name]);
    });
  }

  it('locates the payload', () => {
    const f = frame('tcpData');
    const r = parseFrame(new Bytes(f), 0, f.length, new FrameRepr());
    expect(r.top).toBe(Layer.Tcp);
    expect(Buffer.from(f.subarray(r.payloadOffset, r.payloadOffset + r.payloadLength)).toString()).toBe('GET / HTTP/1.0\r\n\r\n');
  });

  it('names the failing layer', () => {
    const f = frame('udp').slice();
    f[f.length - 1] ^= 0xff;
    const r = parseFrame(new Bytes(f), 0, f.length, new FrameRepr());
    expect(r.status).toBe(WireStatus.Ok); // a bad checksum does not stop the walk
    expect(r.top).toBe(Layer.Udp);
    expect(r.badChecksums).toBe(1 << Layer.Udp);
    expect(formatFrame(new Bytes(f), 0, 10)).toBe('[|ether] length 10 [ethernet truncated]');
    const t = frame('tcpSyn').slice();
    t[t.length - 4] = 0x03; // the NOP before wscale becomes a window scale that leaves a kind without a length
    expect(formatFrame(new Bytes(t), 0, t.length, false)).toBe('IP 198.18.0.1 > 198.18.0.2: TCP, length 40 [tcp malformed]');
    const arp = frame('arpRequest');
    expect(formatFrame(new Bytes(arp), 0, 30)).toBe('ARP, length 16 [arp truncated]');
    const ip = frame('udp');
    ip[14] = 0x65; // version 6 in an IPv4 ethertype
    expect(formatFrame(new Bytes(ip), 0, ip.length)).toBe('IP, length 33 [ip unsupported]');
  });

  // Each fixture with its checksum field at [offset]; the note must name the value that verifies.
  const cksumAt: [FrameName, string, number][] = [
    ['pingRequest', 'ip', 24], ['pingRequest', 'icmp', 36], ['igmpV3Report', 'igmp', 40], ['igmpV2Report', 'ip', 24],
    ['udp', 'udp', 40], ['tcpSyn', 'tcp', 50], ['tcpData', 'ip', 24],
  ];
  for (const [name, layer, at] of cksumAt) {
    it(`a bad ${layer} checksum (${name}) still prints the frame and names the right value`, () => {
      const f = frame(name).slice();
      const good = (f[at] << 8) | f[at + 1];
      f[at] ^= 0x5a;
      const bad = (f[at] << 8) | f[at + 1];
      const line = formatFrame(new Bytes(f), 0, f.length);
      const h = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;
      expect(line).toBe(`${expected[name]} [bad ${layer} cksum ${h(bad)} -> ${h(good)}!]`);
      const r = parseFrame(new Bytes(f), 0, f.length, new FrameRepr());
      expect(r.status).toBe(WireStatus.Ok);
      expect(frameOk(r)).toBe(false);
      expect(parseFrame(new Bytes(frame(name)), 0, f.length, new FrameRepr()).badChecksums).toBe(0);
      // Not verifying: no note.
      expect(formatFrame(new Bytes(f), 0, f.length, false)).toBe(expected[name]);
    });
  }

  it('prints unknown ethertypes, other ICMP unreachables and unknown TCP options', () => {
    const lldp = Uint8Array.from(Buffer.from('0180c200000e0200c612000188cc020704', 'hex'));
    expect(formatFrame(new Bytes(lldp), 0, lldp.length)).toBe('02:00:c6:12:00:01 > 01:80:c2:00:00:0e, ethertype 0x88cc, length 17');
    const pu = frame('portUnreachable').slice();
    const reCksum = (code: number): string => {
      pu[35] = code;
      pu[36] = pu[37] = 0;
      const b = new Bytes(pu);
      let s = 0;
      for (let i = 34; i < pu.length; i += 2) s += (pu[i] << 8) | (pu[i + 1] ?? 0);
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      b.dv.setUint16(36, ~s & 0xffff);
      return formatFrame(b, 0, pu.length);
    };
    expect(reCksum(0)).toBe('IP 198.18.0.2 > 198.18.0.1: ICMP net 198.18.0.2 unreachable, length 36');
    expect(reCksum(1)).toBe('IP 198.18.0.2 > 198.18.0.1: ICMP host 198.18.0.2 unreachable, length 36');
    expect(reCksum(2)).toBe('IP 198.18.0.2 > 198.18.0.1: ICMP 198.18.0.2 protocol 17 unreachable, length 36');
    expect(reCksum(13)).toBe('IP 198.18.0.2 > 198.18.0.1: ICMP 198.18.0.2 unreachable - admin prohibited filter, length 36');
    const opt = frame('tcpSyn').slice();
    opt.set([0xfd, 4, 0xab, 0xcd], opt.length - 4); // an experimental option (RFC 4727) instead of NOP + wscale
    expect(formatFrame(new Bytes(opt), 0, opt.length, false)).toBe( // as tcpdump prints it
      'IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [S], seq 1000, win 64240, options [mss 1460,sackOK,TS val 1000 ecr 0,unknown-253 0xabcd], length 0');
  });

  it('10^5 random and mutated frames never throw', () => {
    const seeds = (Object.keys(frameHex) as FrameName[]).map(frame);
    const out = new FrameRepr();
    // Mutations of real frames reach deep layers; pure random bytes exercise the outer checks.
    fc.assert(
      fc.property(
        fc.nat({ max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.nat({ max: 1500 }), fc.nat({ max: 255 })), { maxLength: 6 }),
        fc.nat({ max: 1600 }),
        fc.boolean(),
        (si, flips, cut, verify) => {
          const src = seeds[si];
          const f = new Uint8Array(Math.min(src.length, cut + 1));
          f.set(src.subarray(0, f.length));
          for (const [pos, v] of flips) if (pos < f.length) f[pos] = v;
          const b = new Bytes(f);
          parseFrame(b, 0, f.length, out, verify);
          formatFrame(b, 0, f.length, verify, !verify);
        },
      ),
      { numRuns: 50_000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (f) => {
        const b = new Bytes(f);
        parseFrame(b, 0, f.length, out, false);
        formatFrame(b, 0, f.length, true, true);
      }),
      { numRuns: 50_000 },
    );
  });
});
