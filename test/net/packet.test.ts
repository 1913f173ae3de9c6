/**
 * The packet device against the Linux kernel over a veth in namespaces this test creates: tsvma
 * owns 198.18.X.2 (side a, no kernel address), the kernel peer is 198.18.X.1 (side b).
 */
import { resolveConfig } from '../../conf';
import { Engine } from '../../lib/engine';
import { formatMac, parseIp } from '../../proto/wire/addr';
import { tsvmaEnv } from '../helpers/engine';
import { createLink, type Link } from '../helpers/netns';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('packet device + stack against the kernel peer', () => {
  let link: Link;
  let engine: Engine;
  let mac: string;

  beforeAll(async () => {
    link = await createLink({ tag: 'pkt', assignIpA: false });
    const cfg = resolveConfig(tsvmaEnv(link));
    engine = Engine.open(cfg, { netns: link.a.ns });
    mac = formatMac(cfg.mac!);
  });
  afterAll(async () => {
    engine?.close();
    await link?.destroy();
  });

  it('answers 1000 pings at 2 ms intervals with 0% loss', async () => {
    const r = await link.b.exec('ping', ['-c', '1000', '-i', '0.002', '-W', '1', '-q', link.a.ip], { timeoutMs: 30000 });
    expect(r.stdout).toMatch(/1000 packets transmitted, 1000 received, 0% packet loss/);
    expect(engine.stack.counters.icmpEchoReplies).toBeGreaterThanOrEqual(1000);
  }, 40000);

  it('is seen by arping and in the kernel neighbour table with its own MAC, and resolves the kernel', async () => {
    const r = await link.b.exec('arping', ['-c', '3', '-i', link.b.ifname, link.a.ip], { timeoutMs: 15000 });
    expect(r.stdout.toLowerCase()).toContain(mac);
    expect(r.stdout).toMatch(/3 packets transmitted, 3 packets received/);
    const neigh = await link.b.exec('ip', ['neigh', 'show', link.a.ip, 'dev', link.b.ifname]);
    expect(neigh.stdout.toLowerCase()).toContain(`lladdr ${mac}`);
    expect(engine.stack.neighborMac(engine.ifc, parseIp(link.b.ip))).toBeGreaterThan(0);
    expect(formatMac(engine.stack.neighborMac(engine.ifc, parseIp(link.b.ip)))).toBe(link.b.mac);
  }, 20000);

  it('drops malformed frames from a raw socket and counts each by reason, and filters other MACs', async () => {
    const before = { ...engine.stack.counters };
    const rxBefore = engine.ring.counters.rxFrames;
    // A raw AF_PACKET sender in the kernel's namespace: Ethernet to tsvma's MAC, then crafted IPv4/ICMP.
    const script = `
import socket, struct
def cs(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
dst = bytes.fromhex('${mac.replace(/:/g, '')}')
src = bytes.fromhex('${link.b.mac.replace(/:/g, '')}')
a = socket.inet_aton('${link.b.ip}'); b = socket.inet_aton('${link.a.ip}')
def ip(payload, total=None, fix=True, ver=0x45):
    t = total if total is not None else 20 + len(payload)
    h = struct.pack('!BBHHHBBH4s4s', ver, 0, t, 1, 0x4000, 64, 1, 0, a, b)
    if fix: h = h[:10] + struct.pack('!H', cs(h)) + h[12:]
    return h + payload
def icmp(good=True):
    m = struct.pack('!BBHHH', 8, 0, 0, 7, 1) + b'x' * 16
    c = cs(m) if good else 0x1234
    return m[:2] + struct.pack('!H', c) + m[4:]
frames = {
  'truncated': ip(icmp())[:12],
  'badChecksum': ip(icmp(), fix=False),
  'bogusLength': ip(icmp(), total=400),
  'badIcmpChecksum': ip(icmp(good=False)),
  'notIpv4': ip(icmp(), ver=0x65),
}
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('${link.b.ifname}', 0))
for name in ['truncated', 'badChecksum', 'bogusLength', 'badIcmpChecksum', 'notIpv4']:
    s.send(dst + src + b'\\x08\\x00' + frames[name])
other = bytes.fromhex('020000000099')
for i in range(5):
    s.send(other + src + b'\\x08\\x00' + ip(icmp()))
`;
    const r = await link.b.exec('python3', ['-c', script]);
    expect(r.stderr).toBe('');
    await sleep(300);
    const c = engine.stack.counters;
    expect(c.ipTruncated - before.ipTruncated).toBe(2); // 12 bytes of header; 400 bytes claimed in a short frame
    expect(c.ipBadChecksum - before.ipBadChecksum).toBe(1);
    expect(c.icmpBadChecksum - before.icmpBadChecksum).toBe(1);
    expect(c.ipUnsupported - before.ipUnsupported).toBe(1);
    expect(c.icmpEchoReplies - before.icmpEchoReplies).toBe(0);
    // The five frames to 02:00:00:00:00:99 never reached the ring (BPF filter).
    expect(engine.ring.counters.rxFrames - rxBefore).toBe(5);
    expect(engine.stats()['stack.ipBadChecksum']).toBe(c.ipBadChecksum);
  }, 20000);

  it('sleeps when idle and uses almost no CPU', async () => {
    await sleep(300);
    expect(engine.poller.isSleeping).toBe(true);
    const t0 = process.cpuUsage();
    const w0 = Date.now();
    await sleep(2000);
    const used = process.cpuUsage(t0);
    const share = (used.user + used.system) / 1000 / (Date.now() - w0);
    expect(share).toBeLessThan(0.05);
    // and wakes up again for traffic
    const r = await link.b.exec('ping', ['-c', '3', '-i', '0.2', '-W', '1', '-q', link.a.ip]);
    expect(r.stdout).toMatch(/3 received/);
  }, 20000);

  it('recovers every buffer', async () => {
    await sleep(100);
    expect(engine.ring.rxPool.counters.outstanding).toBe(0);
    expect(engine.ring.txPool.counters.outstanding).toBe(engine.ring.txPending);
  });
});

describe('packet device errors say what is missing', () => {
  it('names a missing interface and a missing namespace', async () => {
    const { PacketDevice } = await import('../../ring/packet/packet_device');
    expect(() => new PacketDevice({ ifname: 'tsvnosuch0', mac: 0x020000000001 })).toThrow(/if_nametoindex\(tsvnosuch0\): ENODEV .*no such interface 'tsvnosuch0' \(ip link show\)/);
    expect(() => new PacketDevice({ ifname: 'lo', mac: 0x020000000001, netns: 'tsv-no-such-ns' })).toThrow(/open\(\/run\/netns\/tsv-no-such-ns\): ENOENT .*no network namespace 'tsv-no-such-ns' \(ip netns list\)/);
  });

  it('says what is missing for a verbs device on a host without one, and for a daemon device without ringd', () => {
    // This host has no RDMA device: the message says how to get one (a driver, or rxe on a netdev).
    for (const dev of ['verbs-eth:mlx5_0', 'verbs-ud:rxe0']) {
      expect(() => Engine.open(resolveConfig({ TSVMA_DEVICE: dev, TSVMA_ADDR: '198.18.0.2/24' }))).toThrow(/no RDMA device found|no verbs device|libibverbs/);
    }
    expect(() => Engine.open(resolveConfig({ TSVMA_DEVICE: 'daemon:/tmp/tsvma-no-such-ringd.sock' }))).toThrow(/tsvma ringd is not running: no control socket at \/tmp\/tsvma-no-such-ringd.sock/);
    expect(() => Engine.open(resolveConfig({}))).toThrow(/TSVMA_DEVICE is not set/);
  });
});
