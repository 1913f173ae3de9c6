/**
 * Oracle B: frames the Linux kernel sends — ARP, ping, UDP, an ICMP port unreachable, IGMPv3
 * reports, a TCP connection with options, data and FIN — captured on a veth inside namespaces this
 * test creates, decode in tsvma (checksums verified) to the values tshark reports for the same
 * frames, and `tsvma decode` prints them exactly as `tcpdump -n -S -r` does.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatIp, formatMac } from '../../proto/wire/addr';
import { Bytes } from '../../proto/wire/bytes';
import { frameOk, FrameRepr, Layer, parseFrame } from '../../proto/wire/frame';
import { walkPcap } from '../../ring/pcap';
import { createLink, type Link } from '../helpers/netns';
import { one, problems, tsharkFrames, tsharkMissing } from '../helpers/tshark';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('oracle B: tsvma decodes what the kernel sends as tshark does', () => {
  let link: Link;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-kernel-'));
    link = await createLink({ tag: 'orcl' });
  });
  afterAll(async () => {
    await link?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('captures kernel traffic and decodes every frame to tshark\'s values', async () => {
    const missing = tsharkMissing();
    if (missing) throw new Error(missing);
    const pcap = path.join(dir, 'kernel.pcap');
    // --immediate-mode: libpcap's TPACKET_V3 ring otherwise holds frames until a block times out,
    // and frames still in the ring when tcpdump is stopped never reach the file.
    const cap = link.b.spawn('tcpdump', ['-i', link.b.ifname, '--immediate-mode', '-U', '-n', '-s', '0', '-w', pcap]);
    let capErr = '';
    cap.stderr!.on('data', (d: Buffer) => (capErr += d.toString()));
    for (let i = 0; i < 50 && !capErr.includes('listening'); i++) await sleep(100);
    expect(capErr).toContain('listening');

    const a = link.a.ip;
    // TCP: a server in a echoes what it gets; the client in b sends, half-closes, reads the echo.
    // (Port 7000: tcpdump decodes no application on it, so its lines end where tsvma's do.)
    const server = link.a.spawn('python3', ['-c', [
      'import socket',
      's=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
      `s.bind(("${a}", 7000)); s.listen(1); print("ready", flush=True)`,
      'c,_=s.accept(); d=b""',
      'while True:',
      '  x=c.recv(4096)',
      '  if not x: break',
      '  d+=x',
      'c.sendall(d); c.close()',
    ].join('\n')]);
    await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
    expect((await link.b.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', a])).code).toBe(0);
    const udp = await link.b.exec('python3', ['-c', `import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"hello tsvma", ("${a}", 9999))`]);
    expect(udp.code).toBe(0); // nothing listens on 9999 in a: its kernel answers ICMP port unreachable
    // A multicast join in b: the kernel sends IGMPv3 reports (with Router Alert) to 224.0.0.22.
    const join = await link.b.exec('python3', ['-c', [
      'import socket, time',
      's=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      `s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton("239.1.2.3") + socket.inet_aton("${link.b.ip}"))`,
      'time.sleep(0.2)',
    ].join('\n')]);
    expect(join.stderr).toBe('');
    const client = await link.b.exec('python3', ['-c', [
      'import socket',
      `c=socket.create_connection(("${a}", 7000))`,
      'c.sendall(b"x"*3000); c.shutdown(socket.SHUT_WR)',
      'got=b""',
      'while True:',
      '  x=c.recv(4096)',
      '  if not x: break',
      '  got+=x',
      'assert got == b"x"*3000, len(got)',
    ].join('\n')]);
    expect(client.stderr).toBe('');
    expect(client.code).toBe(0);
    await sleep(300);
    cap.kill('SIGINT');
    await new Promise((r) => cap.once('close', r));
    server.kill();

    const data = new Uint8Array(fs.readFileSync(pcap));
    const b = new Bytes(data);
    const mine: { off: number; len: number }[] = [];
    walkPcap(data, (_ts, off, len) => mine.push({ off, len }));
    const theirs = tsharkFrames(pcap);
    expect(mine.length).toBe(theirs.length);
    expect(mine.length).toBeGreaterThan(15);

    const seen = new Set<Layer>();
    const failures: string[] = [];
    const r = new FrameRepr();
    mine.forEach(({ off, len }, i) => {
      const t = theirs[i];
      const tag = `frame ${i + 1}`;
      for (const p of problems(t)) failures.push(`${tag}: tshark: ${p}`);
      parseFrame(b, off, len, r, true);
      if (!frameOk(r)) failures.push(`${tag}: tsvma status ${r.status} at layer ${r.failedLayer}, bad checksums ${r.badChecksums}`);
      seen.add(r.top);
      const eq = (what: string, mineV: string | number, key: string): void => {
        const v = one(t, key);
        if (v === undefined || String(mineV) !== v) failures.push(`${tag}: ${what}: tsvma ${mineV}, tshark ${key}=${v}`);
      };
      eq('eth src', formatMac(r.eth.src), 'eth.src');
      eq('eth dst', formatMac(r.eth.dst), 'eth.dst');
      if (r.top === Layer.Arp) {
        eq('arp op', r.arp.op, 'arp.opcode');
        eq('arp sender', formatIp(r.arp.senderIp), 'arp.src.proto_ipv4');
        eq('arp target', formatIp(r.arp.targetIp), 'arp.dst.proto_ipv4');
        return;
      }
      eq('ip src', formatIp(r.ip.src), 'ip.src');
      eq('ip dst', formatIp(r.ip.dst), 'ip.dst');
      eq('ip ttl', r.ip.ttl, 'ip.ttl');
      eq('ip id', `0x${r.ip.ident.toString(16).padStart(4, '0')}`, 'ip.id');
      eq('ip len', r.ip.payloadLength + 20 + r.ip.optionsLength, 'ip.len');
      if (r.top === Layer.Icmp) {
        eq('icmp type', r.icmp.type, 'icmp.type');
        eq('icmp code', r.icmp.code, 'icmp.code');
        if (r.icmp.type === 0 || r.icmp.type === 8) {
          eq('icmp id', r.icmp.ident, 'icmp.ident');
          eq('icmp seq', r.icmp.seq, 'icmp.seq');
        }
      } else if (r.top === Layer.Igmp) {
        eq('igmp type', `0x${r.igmp.type.toString(16).padStart(2, '0')}`, 'igmp.type');
        eq('igmp records', r.igmp.numRecords, 'igmp.num_grp_recs');
        eq('igmp group', '239.1.2.3', 'igmp.maddr');
        eq('router alert', 148, 'ip.opt.type');
      } else if (r.top === Layer.Udp) {
        eq('udp sport', r.udp.srcPort, 'udp.srcport');
        eq('udp dport', r.udp.dstPort, 'udp.dstport');
        eq('udp len', r.udp.payloadLength + 8, 'udp.length');
      } else if (r.top === Layer.Tcp) {
        const tcp = r.tcp;
        eq('tcp sport', tcp.srcPort, 'tcp.srcport');
        eq('tcp dport', tcp.dstPort, 'tcp.dstport');
        eq('tcp seq', tcp.seq >>> 0, 'tcp.seq_raw');
        eq('tcp ack', tcp.ack >>> 0, 'tcp.ack_raw');
        eq('tcp flags', `0x${tcp.flags.toString(16).padStart(4, '0')}`, 'tcp.flags');
        eq('tcp window', tcp.window, 'tcp.window_size_value');
        eq('tcp len', tcp.payloadLength, 'tcp.len');
        if (tcp.mss) eq('mss', tcp.mss, 'tcp.options.mss_val');
        if (tcp.windowScale >= 0) eq('wscale', tcp.windowScale, 'tcp.options.wscale.shift');
        if (tcp.hasTimestamp) {
          eq('tsval', tcp.tsVal, 'tcp.options.timestamp.tsval');
          eq('tsecr', tcp.tsEcr, 'tcp.options.timestamp.tsecr');
        }
        if (tcp.sackPermitted !== t.has('tcp.options.sack_perm')) failures.push(`${tag}: sackOK tsvma ${tcp.sackPermitted}`);
      }
    });
    expect(failures).toEqual([]);
    // The capture really held each kind of frame.
    for (const l of [Layer.Arp, Layer.Icmp, Layer.Igmp, Layer.Udp, Layer.Tcp]) expect(seen.has(l)).toBe(true);
    expect(theirs.some((t) => one(t, 'icmp.type') === '3' && one(t, 'icmp.code') === '3')).toBe(true);

    // And the CLI prints one line per frame without complaint.
    const cli = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'dist', 'bin', 'tsvma.js'), 'decode', pcap], { encoding: 'utf8' });
    expect(cli.status).toBe(0);
    expect(cli.stderr).toBe('');
    expect(cli.stdout.trim().split('\n')).toHaveLength(mine.length);
    expect(cli.stdout).toMatch(/Flags \[S\], seq \d+, win \d+, options \[mss 1460,sackOK,TS val \d+ ecr 0,nop,wscale \d+\]/);
    expect(cli.stdout).toMatch(new RegExp(`ICMP ${a.replace(/\./g, '\\.')} udp port 9999 unreachable`));
    // Line for line what tcpdump prints for the same file (times in UTC on both sides).
    const td = execFileSync('tcpdump', ['-n', '-S', '-r', pcap], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'ignore'] });
    expect(cli.stdout.split('\n')).toEqual(td.split('\n'));
  }, 60000);
});
