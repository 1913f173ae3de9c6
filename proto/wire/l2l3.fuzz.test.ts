/**
 * Fuzz: Ethernet, ARP, IPv4, ICMP and IGMP parsers (and the IGMPv3 record walk and the formatters
 * behind an Ok parse) never throw on any bytes, only return a WireStatus, and what they report as
 * Ok stays inside the bytes they were given. 10^5 inputs: random bytes, and real frames mutated
 * (bytes overwritten, bits flipped, cut short, extended with junk).
 */
import fc from 'fast-check';
import { frame, frameHex, type FrameName } from '../../test/fixtures/frames';
import { ArpRepr, formatArp, parseArp } from './arp';
import { Bytes } from './bytes';
import { EtherType, ethernetHeaderLen, EthernetRepr, formatEthernet, parseEthernet } from './ethernet';
import { formatIcmp, IcmpRepr, parseIcmp } from './icmp';
import { formatIgmp, IgmpGroupRecordRepr, IgmpRepr, IgmpType, igmpHeaderLen, igmpRecordSource, igmpSource, igmpV3FirstRecord, igmpV3RecordAt, parseIgmp } from './igmp';
import { formatIpv4, formatIpv4Header, IpProtocol, ipv4HeaderLen, Ipv4Repr, parseIpv4 } from './ipv4';
import { WireStatus } from './status';

const eth = new EthernetRepr();
const arp = new ArpRepr();
const ip = new Ipv4Repr();
const icmp = new IcmpRepr();
const igmp = new IgmpRepr();
const rec = new IgmpGroupRecordRepr();

/** A plain check: jest's expect costs microseconds per call, too much for 10^5 frames × 20 checks. */
function must(ok: boolean, what: string): void {
  if (!ok) throw new Error(`invariant broken: ${what}`);
}

function isStatus(s: number): boolean {
  return s >= WireStatus.Ok && s <= WireStatus.Malformed;
}

function checkIgmp(b: Bytes, off: number, len: number, verify: boolean): void {
  const st = parseIgmp(b, off, len, igmp, verify);
  must(isStatus(st), 'status');
  if (st !== WireStatus.Ok) return;
  formatIgmp(igmp);
  if (igmp.type === IgmpType.MembershipQuery && igmp.version === 3) {
    must(igmpHeaderLen(igmp) <= len, 'v3 query sources inside the message');
    for (let i = 0; i < igmp.numSources; i++) igmpSource(b, off, i);
  }
  if (igmp.type === IgmpType.V3Report) {
    let p = igmpV3FirstRecord(off);
    for (let i = 0; i < igmp.numRecords; i++) {
      p = igmpV3RecordAt(b, off, p, rec, len);
      must(p > off, 'every record of an Ok report fits');
      must(p <= off + len, 'records inside the message');
      for (let j = 0; j < rec.numSources; j++) igmpRecordSource(b, rec, j);
    }
  }
}

/** Walks a frame as the stack would, at every layer with and without checksum verification. */
function walk(u8: Uint8Array, verify: boolean): void {
  const b = new Bytes(u8);
  const len = u8.length;
  const st = parseEthernet(b, 0, len, eth);
  must(isStatus(st), 'status');
  if (st !== WireStatus.Ok) return;
  formatEthernet(eth);
  const l3 = ethernetHeaderLen(eth);
  must(l3 <= len, 'ethernet header inside the frame');
  if (eth.ethertype === EtherType.Arp) {
    if (parseArp(b, l3, len - l3, arp) === WireStatus.Ok) formatArp(arp);
    return;
  }
  if (eth.ethertype !== EtherType.Ipv4) return;
  const ist = parseIpv4(b, l3, len - l3, ip, verify);
  must(isStatus(ist), 'status');
  if (ist !== WireStatus.Ok) return;
  formatIpv4(ip);
  formatIpv4Header(ip);
  const l4 = l3 + ipv4HeaderLen(ip);
  must(l4 + ip.payloadLength <= len, 'IPv4 packet inside the frame');
  must(ip.totalLength === ipv4HeaderLen(ip) + ip.payloadLength, 'total length');
  if (ip.protocol === IpProtocol.Icmp) {
    const s = parseIcmp(b, l4, ip.payloadLength, icmp, verify);
    must(isStatus(s), 'status');
    if (s === WireStatus.Ok) {
      must(icmp.payloadLength === ip.payloadLength - 8, 'ICMP payload length');
      formatIcmp(icmp);
    }
  } else if (ip.protocol === IpProtocol.Igmp) {
    checkIgmp(b, l4, ip.payloadLength, verify);
  }
}

/** Every parser directly at an arbitrary offset with an arbitrary (in-bounds) length. */
function direct(u8: Uint8Array, off: number, cut: number): void {
  const b = new Bytes(u8);
  const o = Math.min(off, u8.length);
  const len = Math.max(0, u8.length - o - cut);
  for (const verify of [false, true]) {
    must(isStatus(parseIpv4(b, o, len, ip, verify)), 'status');
    if (parseIcmp(b, o, len, icmp, verify) === WireStatus.Ok) formatIcmp(icmp);
    checkIgmp(b, o, len, verify);
  }
  must(isStatus(parseArp(b, o, len, arp)), 'status');
  must(isStatus(parseEthernet(b, o, len, eth)), 'status');
}

const names = Object.keys(frameHex) as FrameName[];
const fixtures = names.map((n) => frame(n));

const randomBytes = fc.uint8Array({ maxLength: 96 });
const mutated = fc
  .record({
    which: fc.nat({ max: fixtures.length - 1 }),
    edits: fc.array(fc.record({ at: fc.nat(), value: fc.nat({ max: 255 }), flip: fc.boolean() }), { maxLength: 4 }),
    cut: fc.nat({ max: 600 }),
    extra: fc.uint8Array({ maxLength: 8 }),
  })
  .map(({ which, edits, cut, extra }) => {
    const f = fixtures[which];
    const out = new Uint8Array(Math.max(0, f.length - (cut % (f.length + 1))) + extra.length);
    out.set(f.subarray(0, out.length - extra.length));
    out.set(extra, out.length - extra.length);
    for (const e of edits) {
      if (out.length === 0) break;
      const i = e.at % out.length;
      out[i] = e.flip ? out[i] ^ (1 << (e.value & 7)) : e.value;
    }
    return out;
  });

describe('L2/L3 parsers under fuzzing', () => {
  it('never throw on 10^5 random and mutated frames', () => {
    fc.assert(
      fc.property(fc.oneof(randomBytes, mutated, mutated), fc.nat({ max: 64 }), fc.nat({ max: 8 }), (u8, off, cut) => {
        walk(u8, false);
        walk(u8, true);
        direct(u8, off, cut);
      }),
      { numRuns: 100_000, seed: 0x5eed, endOnFailure: true },
    );
  });

  it('mutations reach deep: many mutated frames still parse through IPv4 to ICMP/IGMP', () => {
    // Guards the fuzz above against testing only the first length check.
    let deep = 0;
    fc.assert(
      fc.property(mutated, (u8) => {
        const b = new Bytes(u8);
        if (parseEthernet(b, 0, u8.length, eth) !== WireStatus.Ok || eth.ethertype !== EtherType.Ipv4) return;
        const l3 = ethernetHeaderLen(eth);
        if (parseIpv4(b, l3, u8.length - l3, ip, false) !== WireStatus.Ok) return;
        const l4 = l3 + ipv4HeaderLen(ip);
        if (ip.protocol === IpProtocol.Igmp && parseIgmp(b, l4, ip.payloadLength, igmp, false) === WireStatus.Ok) deep++;
        if (ip.protocol === IpProtocol.Icmp && parseIcmp(b, l4, ip.payloadLength, icmp, false) === WireStatus.Ok) deep++;
      }),
      { numRuns: 5000, seed: 42 },
    );
    expect(deep).toBeGreaterThan(200);
  });
});
