/**
 * Oracle A: frames tsvma's codecs emit, written to a pcap and decoded by tshark with checksum
 * validation on, show no malformed field, no expert error, only good checksums, and the field
 * values of the Reprs they were emitted from. Runs in CI: a missing tshark fails the test.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseIp as ip, multicastMacOf, parseMac } from '../../proto/wire/addr';
import { Bytes } from '../../proto/wire/bytes';
import { formatFrame } from '../../proto/wire/frame';
import { IcmpRepr, IcmpType } from '../../proto/wire/icmp';
import { emitIpv4 } from '../../proto/wire/ipv4';
import { IgmpRepr, IgmpType } from '../../proto/wire/igmp';
import { seq } from '../../proto/wire/seq';
import { TcpFlag, TcpRepr } from '../../proto/wire/tcp';
import { PcapFileWriter } from '../../ring/pcap';
import { arpFrame, eth, icmpFrame, igmpFrame, igmpV3ReportFrame, ipv4, tcpFrame, udpFrame, withRouterAlert } from '../helpers/build';
import { one, problems, tsharkFrames, tsharkMissing, type Fields } from '../helpers/tshark';

const A = ip('198.18.0.1');
const B = ip('198.18.0.2');
const MA = parseMac('02:00:c6:12:00:01');
const MB = parseMac('02:00:c6:12:00:02');
const BCAST = 0xffffffffffff;

interface Case {
  name: string;
  frame: Uint8Array;
  expect: Record<string, string | string[]>;
}

function tcp(t: Partial<TcpRepr>): TcpRepr {
  return Object.assign(new TcpRepr(), { srcPort: 40000, dstPort: 7000, window: 64240 }, t);
}

function cases(): Case[] {
  const payload = Uint8Array.from(Buffer.from('tsvma oracle payload'));
  const quoted = udpFrame(eth(MB, MA, 0), ipv4(A, B, 17, { ident: 7 }), 40000, 9, Uint8Array.of(1, 2)).subarray(14, 14 + 28);
  const sack = tcp({ seq: seq(5000), ack: seq(9000), flags: TcpFlag.ACK, hasTimestamp: true, tsVal: 77, tsEcr: 66, sackCount: 2 });
  sack.sackBlocks.set([9100, 9200, 9300, 9400]);
  const big = new Uint8Array(1200).map((_, i) => i & 0xff);
  const fragFull = udpFrame(eth(MB, MA, 0), ipv4(A, B, 17), 40000, 9, big);
  // Split the UDP datagram (8 + 1200 bytes) into two IPv4 fragments: 600 + 608.
  const l4 = fragFull.subarray(34);
  const frag = (off: number, len: number, more: boolean): Uint8Array => {
    const ipr = ipv4(A, B, 17, { ident: 0x4242, dontFragment: false, moreFragments: more, fragOffset: off, payloadLength: len });
    const f = new Uint8Array(34 + len);
    f.set(fragFull.subarray(0, 14));
    f.set(l4.subarray(off, off + len), 34);
    emitIpv4(ipr, new Bytes(f), 14);
    return f;
  };
  return [
    { name: 'ARP request', frame: arpFrame(eth(BCAST, MA, 0), { op: 1, senderMac: MA, senderIp: A, targetMac: 0, targetIp: B }),
      expect: { 'arp.opcode': '1', 'arp.src.proto_ipv4': '198.18.0.1', 'arp.dst.proto_ipv4': '198.18.0.2', 'arp.src.hw_mac': '02:00:c6:12:00:01' } },
    { name: 'ARP reply', frame: arpFrame(eth(MA, MB, 0), { op: 2, senderMac: MB, senderIp: B, targetMac: MA, targetIp: A }),
      expect: { 'arp.opcode': '2', 'arp.src.hw_mac': '02:00:c6:12:00:02', 'arp.dst.hw_mac': '02:00:c6:12:00:01' } },
    { name: 'ICMP echo request', frame: icmpFrame(eth(MB, MA, 0), ipv4(A, B, 1, { ident: 0x1111 }), Object.assign(new IcmpRepr(), { type: IcmpType.EchoRequest, ident: 0x77, seq: 5 }), payload),
      expect: { 'icmp.checksum.status': '1', 'icmp.type': '8', 'icmp.code': '0', 'icmp.ident': '119', 'icmp.seq': '5', 'ip.id': '0x1111', 'ip.ttl': '64', 'ip.flags.df': '1' } },
    { name: 'ICMP echo reply', frame: icmpFrame(eth(MA, MB, 0), ipv4(B, A, 1), Object.assign(new IcmpRepr(), { type: IcmpType.EchoReply, ident: 0x77, seq: 5 }), payload),
      expect: { 'icmp.checksum.status': '1', 'icmp.type': '0', 'icmp.seq': '5' } },
    { name: 'ICMP port unreachable', frame: icmpFrame(eth(MA, MB, 0), ipv4(B, A, 1, { dontFragment: false }), Object.assign(new IcmpRepr(), { type: IcmpType.DestUnreachable, code: 3 }), quoted),
      expect: { 'icmp.checksum.status': '1', 'icmp.type': '3', 'icmp.code': '3', 'udp.dstport': '9' } },
    { name: 'IGMPv2 report', frame: igmpFrame(eth(multicastMacOf(ip('239.1.2.3')), MA, 0), withRouterAlert(ipv4(A, ip('239.1.2.3'), 2, { ttl: 1, dscp: 0x30 })), Object.assign(new IgmpRepr(), { type: IgmpType.V2Report, version: 2, group: ip('239.1.2.3') })),
      expect: { 'igmp.checksum.status': '1', 'igmp.type': '0x16', 'igmp.maddr': '239.1.2.3', 'ip.opt.type': '148', 'eth.dst': '01:00:5e:01:02:03' } },
    { name: 'IGMPv2 leave', frame: igmpFrame(eth(multicastMacOf(ip('224.0.0.2')), MA, 0), withRouterAlert(ipv4(A, ip('224.0.0.2'), 2, { ttl: 1 })), Object.assign(new IgmpRepr(), { type: IgmpType.Leave, version: 2, group: ip('239.1.2.3') })),
      expect: { 'igmp.checksum.status': '1', 'igmp.type': '0x17', 'igmp.maddr': '239.1.2.3' } },
    { name: 'IGMPv3 report', frame: igmpV3ReportFrame(eth(multicastMacOf(ip('224.0.0.22')), MA, 0), withRouterAlert(ipv4(A, ip('224.0.0.22'), 2, { ttl: 1 })), [
      { recordType: 4, group: ip('239.1.2.3'), sources: [] },
      { recordType: 1, group: ip('232.1.1.1'), sources: [ip('198.18.5.5'), ip('198.18.6.6')] },
    ]), expect: { 'igmp.checksum.status': '1', 'igmp.type': '0x22', 'igmp.num_grp_recs': '2', 'igmp.maddr': ['239.1.2.3', '232.1.1.1'], 'igmp.saddr': ['198.18.5.5', '198.18.6.6'], 'igmp.record_type': ['4', '1'] } },
    { name: 'UDP with checksum', frame: udpFrame(eth(MB, MA, 0), ipv4(A, B, 17, { ident: 0x2222 }), 40000, 9999, payload),
      expect: { 'udp.checksum.status': '1', 'udp.srcport': '40000', 'udp.dstport': '9999', 'udp.length': String(8 + payload.length), 'ip.src': '198.18.0.1', 'ip.dst': '198.18.0.2' } },
    { name: 'UDP without checksum', frame: udpFrame(eth(MB, MA, 0), ipv4(A, B, 17), 40001, 9999, payload, false),
      expect: { 'udp.checksum.status': '3', 'udp.checksum': '0x0000', 'udp.srcport': '40001' } },
    { name: 'UDP in VLAN 100', frame: udpFrame(eth(MB, MA, 0, 100), ipv4(A, B, 17), 40002, 9999, payload),
      expect: { 'udp.checksum.status': '1', 'vlan.id': '100', 'udp.srcport': '40002' } },
    { name: 'IPv4 first fragment', frame: frag(0, 600, true),
      expect: { 'ip.flags.mf': '1', 'ip.frag_offset': '0', 'ip.id': '0x4242' } },
    { name: 'IPv4 last fragment', frame: frag(600, 608, false),
      expect: { 'ip.flags.mf': '0', 'ip.frag_offset': '75' /* tshark shows the field in 8-byte units */, 'ip.id': '0x4242' } },
    { name: 'TCP SYN with options', frame: tcpFrame(eth(MB, MA, 0), ipv4(A, B, 6), tcp({ seq: seq(0xfffffff0), flags: TcpFlag.SYN, mss: 1460, sackPermitted: true, hasTimestamp: true, tsVal: 12345, tsEcr: 0, windowScale: 7 })),
      expect: { 'tcp.checksum.status': '1', 'tcp.flags.syn': '1', 'tcp.seq_raw': String(0xfffffff0), 'tcp.options.mss_val': '1460', 'tcp.options.wscale.shift': '7', 'tcp.options.timestamp.tsval': '12345', 'tcp.window_size_value': '64240' } },
    { name: 'TCP SYN-ACK', frame: tcpFrame(eth(MA, MB, 0), ipv4(B, A, 6), tcp({ srcPort: 7000, dstPort: 40000, seq: seq(7000), ack: seq(0xfffffff1), flags: TcpFlag.SYN | TcpFlag.ACK, mss: 1400, sackPermitted: true, windowScale: 9 })),
      expect: { 'tcp.checksum.status': '1', 'tcp.flags.syn': '1', 'tcp.flags.ack': '1', 'tcp.ack_raw': String(0xfffffff1), 'tcp.options.mss_val': '1400', 'tcp.options.sack_perm': '04:02' } },
    { name: 'TCP ACK with SACK', frame: tcpFrame(eth(MB, MA, 0), ipv4(A, B, 6), sack),
      expect: { 'tcp.checksum.status': '1', 'tcp.options.sack.count': '2', 'tcp.options.sack_le': ['9100', '9300'], 'tcp.options.sack_re': ['9200', '9400'], 'tcp.options.timestamp.tsecr': '66' } },
    { name: 'TCP data PSH', frame: tcpFrame(eth(MB, MA, 0), ipv4(A, B, 6), tcp({ seq: seq(5000), ack: seq(9000), flags: TcpFlag.PSH | TcpFlag.ACK }), payload),
      expect: { 'tcp.checksum.status': '1', 'tcp.len': String(payload.length), 'tcp.flags.push': '1' } },
    { name: 'TCP FIN', frame: tcpFrame(eth(MB, MA, 0), ipv4(A, B, 6), tcp({ seq: seq(5020), ack: seq(9000), flags: TcpFlag.FIN | TcpFlag.ACK })),
      expect: { 'tcp.checksum.status': '1', 'tcp.flags.fin': '1' } },
    { name: 'TCP RST', frame: tcpFrame(eth(MB, MA, 0), ipv4(A, B, 6), tcp({ seq: seq(5021), flags: TcpFlag.RST, window: 0 })),
      expect: { 'tcp.checksum.status': '1', 'tcp.flags.reset': '1' } },
  ];
}

describe('oracle A: tshark decodes what tsvma emits', () => {
  const missing = tsharkMissing();
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-oracle-')); });
  afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  it('every frame decodes cleanly with the Repr values', () => {
    if (missing) throw new Error(missing);
    const all = cases();
    const file = path.join(dir, 'emitted.pcap');
    const w = new PcapFileWriter(file);
    all.forEach((c, i) => w.write(c.frame, 0, c.frame.length, 1_000_000_000 * (i + 1)));
    w.close();
    const decoded = tsharkFrames(file);
    expect(decoded).toHaveLength(all.length);
    const failures: string[] = [];
    all.forEach((c, i) => {
      const f: Fields = decoded[i];
      for (const p of problems(f)) failures.push(`${c.name}: ${p}`);
      for (const [k, v] of Object.entries(c.expect)) {
        const got = f.get(k);
        const want = Array.isArray(v) ? v : [v];
        if (!got || (Array.isArray(v) ? got.join('|') !== want.join('|') : one(f, k) !== v)) failures.push(`${c.name}: ${k} = ${got?.join('|') ?? '(absent)'}, expected ${want.join('|')}`);
      }
    });
    expect(failures).toEqual([]);
    // Every IPv4 header checksum was verified good (the oracle really checked them).
    const ipStatus = decoded.map((f) => f.get('ip.checksum.status')?.[0]).filter((x) => x !== undefined);
    expect(ipStatus.length).toBe(all.length - 2); // all but the two ARP frames
    expect(new Set(ipStatus)).toEqual(new Set(['1']));
  });

  it('tsvma prints each frame as tcpdump -n -S does', () => {
    const all = cases();
    const file = path.join(dir, 'printed.pcap');
    const w = new PcapFileWriter(file, 65535, 1 << 16, false);
    all.forEach((c) => w.write(c.frame, 0, c.frame.length, 0));
    w.close();
    let td: string;
    try {
      td = execFileSync('tcpdump', ['-n', '-S', '-t', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch (e) {
      throw (e as NodeJS.ErrnoException).code === 'ENOENT' ? new Error('tcpdump is missing: apt-get install tcpdump (as .ci/run does)') : e;
    }
    const theirs = td.trimEnd().split('\n');
    expect(theirs).toHaveLength(all.length);
    // Where tsvma says more than tcpdump (without -e/-v) on purpose: the VLAN tag, fragment notes;
    // a later fragment tcpdump calls `ip-proto-17`, tsvma `UDP (frag id:len@off), length n`.
    const asTcpdump = (line: string): string => {
      const later = /^(IP \S+ > \S+): UDP \(frag \d+:\d+@[1-9]\d*\), length \d+$/.exec(line);
      if (later) return `${later[1]}: ip-proto-17`;
      return line.replace(/^vlan \d+, /, '').replace(/ \(frag \d+:\d+@0\+\)$/, '');
    };
    const mine = all.map((c) => formatFrame(new Bytes(c.frame), 0, c.frame.length));
    expect(mine.map(asTcpdump)).toEqual(theirs);
    expect(mine.filter((l, i) => l !== theirs[i])).toHaveLength(3); // exactly the VLAN and the two fragments
  });
});
