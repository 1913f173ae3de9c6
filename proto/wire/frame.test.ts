import fc from 'fast-check';
import { frame, frameHex, type FrameName } from '../../test/fixtures/frames';
import { Bytes } from './bytes';
import { formatFrame, FrameRepr, Layer, parseFrame } from './frame';
import { WireStatus } from './status';

const expected: Record<FrameName, string> = {
  arpRequest: 'ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 28',
  arpReply: 'ARP, Reply 198.18.0.2 is-at 02:00:c6:12:00:02, length 28',
  pingRequest: 'IP 198.18.0.1 > 198.18.0.2: ICMP echo request, id 4660, seq 1, length 16',
  portUnreachable: 'IP 198.18.0.2 > 198.18.0.1: ICMP port unreachable, length 36',
  udp: 'IP 198.18.0.1.40000 > 198.18.0.2.9: UDP, length 5',
  udpNoChecksum: 'IP 198.18.0.1.40001 > 198.18.0.2.9: UDP, length 5',
  udpVlan: 'vlan 100, IP 198.18.0.1.40000 > 198.18.0.2.9: UDP, length 4',
  tcpSyn: 'IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [S], seq 1000, win 64240, options [mss 1460,sackOK,TS val 1000 ecr 0,wscale 7], length 0',
  tcpSack: 'IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [.], seq 1001, ack 7001, win 502, options [TS val 2000 ecr 1500,sack 2 {3000:4000}{5000:6000}], length 0',
  tcpData: 'IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [P.], seq 1001, ack 7001, win 502, length 18',
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
    expect(r.status).toBe(WireStatus.BadChecksum);
    expect(r.failedLayer).toBe(Layer.Udp);
    expect(formatFrame(new Bytes(f), 0, f.length)).toContain('[udp bad-checksum]');
    expect(formatFrame(new Bytes(f), 0, 10)).toBe('[|ether] length 10 [ethernet truncated]');
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
          formatFrame(b, 0, f.length, verify);
        },
      ),
      { numRuns: 50_000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (f) => {
        parseFrame(new Bytes(f), 0, f.length, out, false);
      }),
      { numRuns: 50_000 },
    );
  });
});
