/**
 * The packet device alone (no stack) against the Linux kernel over a veth in namespaces this test
 * creates: side a has no kernel address (the device owns a.ip and its own MAC), side b is the
 * kernel peer with a static ARP entry for the device's MAC. Frames are built and checked by hand
 * (ring/ may not use proto/).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BufferPool, BufFlag } from '../../ring/buffer_pool';
import { inNetns, macFromIp, PacketDevice } from '../../ring/packet/packet_device';
import { Poller } from '../../ring/poller';
import { Ring } from '../../ring/ring';
import { createLink, type Link } from '../helpers/netns';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const REGISTER = path.join(__dirname, 'swc-register.cjs');
const ROOT = path.join(__dirname, '..', '..');
const ipNum = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const macNum = (s: string): number => parseInt(s.replace(/:/g, ''), 16);
const macHex = (m: number): string => m.toString(16).padStart(12, '0');
const nsOfThreads = (): string[] => fs.readdirSync('/proc/self/task').map((t) => fs.readlinkSync(`/proc/self/task/${t}/ns/net`));

/** Takes frames from the device into `out` (copies) until `want` arrived or `ms` passed. */
async function collect(dev: PacketDevice, pool: BufferPool, want: number, ms = 2000): Promise<Buffer[]> {
  const out: Buffer[] = [];
  const t0 = Date.now();
  while (out.length < want && Date.now() - t0 < ms) {
    dev.rxBurst(pool, 64, 0, (id) => {
      out.push(Buffer.from(pool.buf.subarray(pool.start(id), pool.end(id))));
      pool.release(id);
    });
    if (out.length < want) await sleep(5);
  }
  return out;
}

/** Python in namespace b sending raw Ethernet frames (hex strings) out of b's veth. */
function rawSend(link: Link, frames: string[], ns: 'a' | 'b' = 'b') {
  const h = link[ns];
  return h.exec('python3', ['-c', `
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((${JSON.stringify(h.ifname)}, 0))
for f in sys.stdin.read().split():
    s.send(bytes.fromhex(f))`], { input: frames.join('\n') });
}

function ether(dst: number, src: number, type: number, payloadLen = 46): string {
  return macHex(dst) + macHex(src) + type.toString(16).padStart(4, '0') + 'ab'.repeat(payloadLen);
}

/** An Ethernet/IPv4/UDP frame (UDP checksum 0: none) written into pool buffer `id`. */
function writeUdp(pool: BufferPool, id: number, m: { dstMac: number; srcMac: number; src: number; dst: number; sport: number; dport: number; payload: string }): void {
  const b = pool.buf;
  const s = pool.start(id);
  const pl = Buffer.from(m.payload);
  const ipLen = 20 + 8 + pl.length;
  b.writeUIntBE(m.dstMac, s, 6);
  b.writeUIntBE(m.srcMac, s + 6, 6);
  b.writeUInt16BE(0x0800, s + 12);
  const ip = s + 14;
  b.writeUInt8(0x45, ip);
  b.writeUInt8(0, ip + 1);
  b.writeUInt16BE(ipLen, ip + 2);
  b.writeUInt32BE(0x00014000, ip + 4); // id 1, DF
  b.writeUInt8(64, ip + 8);
  b.writeUInt8(17, ip + 9);
  b.writeUInt16BE(0, ip + 10);
  b.writeUInt32BE(m.src >>> 0, ip + 12);
  b.writeUInt32BE(m.dst >>> 0, ip + 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += b.readUInt16BE(ip + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  b.writeUInt16BE(~sum & 0xffff, ip + 10);
  b.writeUInt16BE(m.sport, ip + 20);
  b.writeUInt16BE(m.dport, ip + 22);
  b.writeUInt16BE(8 + pl.length, ip + 24);
  b.writeUInt16BE(0, ip + 26);
  pl.copy(b, ip + 28);
  pool.append(id, 14 + ipLen);
}

describe('packet device against the kernel peer', () => {
  let link: Link;
  let dev: PacketDevice;
  let mac: number;
  let pool: BufferPool;
  let before: string[];

  beforeAll(async () => {
    link = await createLink({ tag: 'pdev', assignIpA: false });
    before = nsOfThreads();
    mac = macFromIp(ipNum(link.a.ip));
    dev = new PacketDevice({ ifname: link.a.ifname, ip: ipNum(link.a.ip), netns: link.a.ns, maxBurst: 32 });
    pool = new BufferPool('test.rx', 512, 2048);
    const arp = await link.b.exec('ip', ['neigh', 'replace', link.a.ip, 'lladdr', macHex(mac).replace(/(..)(?!$)/g, '$1:'), 'dev', link.b.ifname, 'nud', 'permanent']);
    expect(arp.stderr).toBe('');
  });
  afterAll(async () => {
    dev?.close();
    await link?.destroy();
  });

  it('opens inside the namespace through setns and leaves every thread of the process where it was', () => {
    expect(fs.existsSync(`/sys/class/net/${link.a.ifname}`)).toBe(false); // only inside namespace a
    expect(nsOfThreads()).toEqual(before);
    expect(new Set(before).size).toBe(1);
    expect(dev.caps).toMatchObject({ kind: 'packet', name: `packet:${link.a.ifname}`, mtu: 1500, mac, dummySend: true, hwTimestamps: false, flowSteering: false });
    // PACKET_VNET_HDR: TCP checksums and segmentation left to the kernel, coalesced frames received whole.
    expect(dev.vnet).toBe(true);
    expect(dev.caps.txChecksum).toEqual({ ipv4: false, udp: false, tcp: true });
    expect(dev.caps).toMatchObject({ tsoMax: 65535, rxFrameMax: 65590 });
    const plain = new PacketDevice({ ifname: link.a.ifname, ip: ipNum(link.a.ip), netns: link.a.ns, offload: false });
    expect([plain.vnet, plain.caps.txChecksum.tcp, plain.caps.tsoMax, plain.caps.rxFrameMax]).toEqual([false, false, 0, 0]);
    plain.close();
    expect(dev.netdevMac).toBe(macNum(link.a.mac));
    expect(dev.caps.mac).not.toBe(dev.netdevMac);
    expect(macHex(mac)).toBe(`0200${ipNum(link.a.ip).toString(16).padStart(8, '0')}`);
    // A failed open (missing namespace) also leaves the thread where it was.
    expect(() => new PacketDevice({ ifname: 'lo', mac: 0x020000000001, netns: `${link.a.ns}-gone` })).toThrow(/no network namespace/);
    expect(() => new PacketDevice({ ifname: 'tsvnosuch0', mac: 0x020000000001, netns: link.a.ns })).toThrow(/if_nametoindex\(tsvnosuch0\): ENODEV \(No such device\): no such interface 'tsvnosuch0' in network namespace/);
    expect(nsOfThreads()).toEqual(before);
  });

  it('setns moves only the calling thread, and only for the duration of the call', () => {
    const main = `/proc/self/task/${process.pid}/ns/net`;
    const inside = inNetns(link.a.ns, () => {
      const byTask = fs.readdirSync('/proc/self/task').map((t) => [t, fs.readlinkSync(`/proc/self/task/${t}/ns/net`)] as const);
      return { self: fs.readlinkSync(main), others: byTask.filter(([t]) => t !== String(process.pid)).map(([, ns]) => ns) };
    });
    expect(inside.self).toBe(`net:[${fs.statSync(`/run/netns/${link.a.ns}`).ino}]`);
    expect(inside.self).not.toBe(before[0]);
    expect(inside.others.length).toBeGreaterThan(0); // Node has its libuv/V8 threads
    expect(new Set(inside.others)).toEqual(new Set([before[0]]));
    expect(fs.readlinkSync(main)).toBe(before[0]);
    expect(() => inNetns(link.a.ns, () => { throw new Error('inside'); })).toThrow('inside');
    expect(fs.readlinkSync(main)).toBe(before[0]);
  });

  it('refuses the netdev\'s own MAC, a multicast MAC, and no MAC at all', () => {
    expect(() => new PacketDevice({ ifname: link.a.ifname, netns: link.a.ns, mac: macNum(link.a.mac) })).toThrow(/own address; the packet device needs a MAC of its own/);
    expect(() => new PacketDevice({ ifname: link.a.ifname, netns: link.a.ns, mac: 0x01005e000001 })).toThrow(RangeError);
    expect(() => new PacketDevice({ ifname: link.a.ifname, netns: link.a.ns })).toThrow(/give `mac` or `ip`/);
  });

  it('receives UDP datagrams the kernel sends to its address, byte for byte', async () => {
    const n = 50;
    const r = await link.b.exec('python3', ['-c', `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('${link.b.ip}', 40001))
for i in range(${n}):
    s.sendto(b'tsvma-%04d' % i, ('${link.a.ip}', 9999))`]);
    expect(r.stderr).toBe('');
    const frames = await collect(dev, pool, n);
    expect(frames.length).toBe(n);
    frames.forEach((f, i) => {
      expect(f.length).toBe(14 + 20 + 8 + 10);
      expect(f.readUIntBE(0, 6)).toBe(mac);
      expect(f.readUIntBE(6, 6)).toBe(macNum(link.b.mac));
      expect(f.readUInt16BE(12)).toBe(0x0800);
      expect(f[14]).toBe(0x45);
      expect(f[23]).toBe(17);
      expect(f.readUInt32BE(26)).toBe(ipNum(link.b.ip));
      expect(f.readUInt32BE(30)).toBe(ipNum(link.a.ip));
      expect(f.readUInt16BE(34)).toBe(40001);
      expect(f.readUInt16BE(36)).toBe(9999);
      expect(f.subarray(42).toString()).toBe(`tsvma-${String(i).padStart(4, '0')}`);
    });
    expect(pool.counters.outstanding).toBe(0);
    expect(dev.stats().kernelPackets).toBeGreaterThanOrEqual(n);
  });

  it('filters in the kernel: own MAC and broadcast pass, other MACs and the interface\'s outgoing frames do not', async () => {
    const b = macNum(link.b.mac);
    const other = 0x020000000099;
    const r = await rawSend(link, [ether(other, b, 0x88b5), ether(mac, b, 0x88b5), ether(other, b, 0x88b5), ether(0xffffffffffff, b, 0x88b6), ether(other + 1, b, 0x88b5)]);
    expect(r.stderr).toBe('');
    // Broadcast sent out of a's veth by another packet socket: an outgoing frame on the interface.
    const out = await rawSend(link, [ether(0xffffffffffff, macNum(link.a.mac), 0x88b7)], 'a');
    expect(out.stderr).toBe('');
    await sleep(100);
    const frames = await collect(dev, pool, 10, 300);
    expect(frames.map((f) => [f.readUIntBE(0, 6), f.readUInt16BE(12)])).toEqual([[mac, 0x88b5], [0xffffffffffff, 0x88b6]]);
    expect(frames[0].length).toBe(60);
  });

  it('passes a multicast MAC while a flow holds it, and re-installs the filter when it goes', async () => {
    const group = 0x01005e0a0b0c;
    const b = macNum(link.b.mac);
    dev.attachFlow({ kind: 'multicast-mac', mac: group });
    dev.attachFlow({ kind: 'multicast-mac', mac: group }); // second holder
    await rawSend(link, [ether(group, b, 0x88b5)]);
    expect((await collect(dev, pool, 1)).length).toBe(1);
    dev.detachFlow({ kind: 'multicast-mac', mac: group });
    await rawSend(link, [ether(group, b, 0x88b5)]);
    expect((await collect(dev, pool, 1)).length).toBe(1); // still held once
    dev.detachFlow({ kind: 'multicast-mac', mac: group });
    await rawSend(link, [ether(group, b, 0x88b5), ether(mac, b, 0x88b6)]);
    const after = await collect(dev, pool, 2, 300);
    expect(after.map((f) => f.readUInt16BE(12))).toEqual([0x88b6]);
  });

  it('transmits hand-built UDP frames in order, in batches larger than maxBurst, and stops dummy sends before the wire', async () => {
    const listener = link.b.spawn('python3', ['-u', '-c', `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('${link.b.ip}', 7777))
print('ready', flush=True)
s.settimeout(3)
got = []
try:
    while True:
        d, a = s.recvfrom(2048)
        got.append(d.decode())
        if d == b'end': break
except socket.timeout:
    pass
print(' '.join(got), flush=True)`]);
    let out = '';
    listener.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 200 && !out.includes('ready'); i++) await sleep(10);
    const rx0 = Number((await link.b.exec('cat', [`/sys/class/net/${link.b.ifname}/statistics/rx_packets`])).stdout);
    const tx = new BufferPool('test.tx', 256, 2048);
    const ids = new Int32Array(101);
    const base = { dstMac: macNum(link.b.mac), srcMac: mac, src: ipNum(link.a.ip), dst: ipNum(link.b.ip), sport: 5555, dport: 7777 };
    for (let i = 0; i < 101; i++) {
      ids[i] = tx.alloc(0);
      writeUdp(tx, ids[i], { ...base, payload: i === 100 ? 'end' : `m${i}` });
      if (i % 10 === 5) tx.setFlags(ids[i], BufFlag.Dummy);
    }
    let took = 0;
    for (let tries = 0; took < 101 && tries < 100; tries++) {
      took += dev.txBurst(tx, ids.subarray(took), 101 - took, 0);
      if (took < 101) await sleep(5);
    }
    expect(took).toBe(101);
    for (let i = 0; i < 101; i++) tx.release(ids[i]);
    await new Promise((r) => listener.once('close', r));
    const got = out.split('\n')[1].trim().split(' ');
    const want = [...Array(100).keys()].filter((i) => i % 10 !== 5).map((i) => `m${i}`).concat('end');
    expect(got).toEqual(want);
    const rx1 = Number((await link.b.exec('cat', [`/sys/class/net/${link.b.ifname}/statistics/rx_packets`])).stdout);
    expect(rx1 - rx0).toBe(want.length);
    const s = dev.stats();
    expect(s.txDummy).toBe(10);
    expect(s.txFrames).toBe(91);
    expect(s.txCalls).toBeGreaterThanOrEqual(3); // 91 frames, at most 32 per sendmmsg
    expect(s.txErrors).toBe(0);
  });

  it('drops a frame the kernel refuses (larger than the MTU) and keeps going', async () => {
    const tx = new BufferPool('test.big', 4, 2048);
    const big = tx.alloc(0);
    writeUdp(tx, big, { dstMac: macNum(link.b.mac), srcMac: mac, src: ipNum(link.a.ip), dst: ipNum(link.b.ip), sport: 1, dport: 9, payload: 'x'.repeat(1600) });
    const ok = tx.alloc(0);
    writeUdp(tx, ok, { dstMac: macNum(link.b.mac), srcMac: mac, src: ipNum(link.a.ip), dst: ipNum(link.b.ip), sport: 1, dport: 9, payload: 'fine' });
    const e0 = dev.stats().txErrors;
    expect(dev.txBurst(tx, Int32Array.of(big, ok), 2, 0)).toBe(2);
    const s = dev.stats();
    expect(s.txErrors).toBe(e0 + 1);
    expect(s.txLastErrno).toBe(90); // EMSGSIZE
  });
});

describe('packet device kernel counters and limits', () => {
  it('counts kernel drops when the ring is full, and close is idempotent', async () => {
    const link = await createLink({ tag: 'pdrop', assignIpA: false });
    try {
      const mac = macFromIp(ipNum(link.a.ip));
      const dev = new PacketDevice({ ifname: link.a.ifname, mac, netns: link.a.ns, rxFrames: 32 });
      const frames = Array.from({ length: 100 }, () => ether(mac, macNum(link.b.mac), 0x88b5));
      expect((await rawSend(link, frames)).stderr).toBe('');
      await sleep(50);
      const pool = new BufferPool('drops', 128, 2048);
      const got = await collect(dev, pool, 100, 200);
      expect(got.length).toBe(32); // one 64 KiB block of 2 KiB slots
      const s = dev.stats();
      expect(s.kernelPackets).toBe(100); // tp_packets counts drops too
      expect(s.kernelDrops).toBe(68);
      dev.close();
      dev.close();
      expect(dev.rxBurst(pool, 8, 0, () => undefined)).toBe(0);
      expect(dev.stats().kernelDrops).toBe(68);
    } finally {
      await link.destroy();
    }
  });

  it('says what is missing without CAP_NET_RAW', () => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, '-r', REGISTER, '-e', `
      const { PacketDevice } = require('./ring/packet/packet_device.ts');
      try { new PacketDevice({ ifname: 'lo', mac: 0x020000000001 }); } catch (e) { console.log(e.name + ': ' + e.message); }`], { cwd: ROOT, encoding: 'utf8', timeout: 10000 });
    expect(r.stdout.trim()).toBe('PacketError: socket(AF_PACKET): EPERM (Operation not permitted): the packet device needs root or CAP_NET_RAW');
  });
});

describe('packet device + poller', () => {
  it('sleeps on the socket fd at ~0 CPU, wakes for frames, and is woken by the fd', async () => {
    const link = await createLink({ tag: 'ppoll', assignIpA: false });
    const mac = macFromIp(ipNum(link.a.ip));
    const ring = new Ring(new PacketDevice({ ifname: link.a.ifname, mac, netns: link.a.ns }), { rxBufs: 256, txBufs: 64 });
    let got = 0;
    ring.defaultSink = (id) => {
      got++;
      ring.rxPool.release(id);
    };
    const poller = new Poller([ring], [], { idleTurns: 50 });
    try {
      poller.start();
      await sleep(200);
      expect(poller.isSleeping).toBe(true);
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      await sleep(2000);
      const cpu = process.cpuUsage(c0);
      const share = (cpu.user + cpu.system) / 1000 / (performance.now() - w0);
      console.log(`idle CPU with an open packet ring and a sleeping poller: ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms over ${(performance.now() - w0).toFixed(0)} ms = ${(share * 100).toFixed(2)} %`);
      expect(share).toBeLessThan(0.05);
      expect(poller.isSleeping).toBe(true);
      await rawSend(link, Array.from({ length: 20 }, () => ether(mac, macNum(link.b.mac), 0x88b5)));
      for (let i = 0; i < 100 && got < 20; i++) await sleep(10);
      expect(got).toBe(20);
      expect(poller.counters.fdWakeups).toBeGreaterThanOrEqual(1);
      await sleep(100);
      expect(poller.isSleeping).toBe(true);
      expect(ring.rxPool.counters.outstanding).toBe(0);
    } finally {
      poller.stop();
      ring.close();
      await link.destroy();
    }
  });

  it('an open packet ring with a sleeping poller does not keep the process alive', async () => {
    const link = await createLink({ tag: 'palive', assignIpA: false });
    try {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, ['-r', REGISTER, '-e', `
        const { PacketDevice } = require('./ring/packet/packet_device.ts');
        const { Poller } = require('./ring/poller.ts');
        const { Ring } = require('./ring/ring.ts');
        const ring = new Ring(new PacketDevice({ ifname: ${JSON.stringify(link.a.ifname)}, ip: ${ipNum(link.a.ip)}, netns: ${JSON.stringify(link.a.ns)} }));
        const p = new Poller([ring], [], { idleTurns: 20 });
        p.start();
        setTimeout(() => console.log('sleeping', p.isSleeping), 300);
        process.on('exit', () => console.log('exited'));`], { cwd: ROOT, encoding: 'utf8', timeout: 10000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toBe('sleeping true\nexited\n');
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      await link.destroy();
    }
  });
});

/** An Ethernet/IPv4/TCP frame (hex) with `payload` bytes of pattern, seq `sq`, flags PSH|ACK; checksums left 0 (the sender's vnet header asks for them). */
function tcpFrameHex(dstMac: number, srcMac: number, src: number, dst: number, sq: number, payload: number): string {
  const b = Buffer.alloc(54 + payload);
  b.writeUIntBE(dstMac, 0, 6);
  b.writeUIntBE(srcMac, 6, 6);
  b.writeUInt16BE(0x0800, 12);
  b.writeUInt8(0x45, 14);
  b.writeUInt16BE(40 + payload, 16);
  b.writeUInt32BE(0x12344000, 18); // id 0x1234, DF
  b.writeUInt8(64, 22);
  b.writeUInt8(6, 23);
  b.writeUInt32BE(src >>> 0, 26);
  b.writeUInt32BE(dst >>> 0, 30);
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += b.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  b.writeUInt16BE(~sum & 0xffff, 24);
  b.writeUInt16BE(40000, 34);
  b.writeUInt16BE(9, 36);
  b.writeUInt32BE(sq >>> 0, 38);
  b.writeUInt32BE(1, 42);
  b.writeUInt8(0x50, 46);
  b.writeUInt8(0x18, 47); // PSH|ACK
  b.writeUInt16BE(1000, 48);
  for (let i = 0; i < payload; i++) b[54 + i] = (i * 7 + (i >>> 8)) & 0xff;
  return b.toString('hex');
}

describe('packet device with the kernel\'s offloads on (PACKET_VNET_HDR)', () => {
  let link: Link;
  let dev: PacketDevice;
  let mac: number;

  beforeAll(async () => {
    link = await createLink({ tag: 'pvnet', assignIpA: false, offloads: true });
    mac = macFromIp(ipNum(link.a.ip));
    dev = new PacketDevice({ ifname: link.a.ifname, ip: ipNum(link.a.ip), netns: link.a.ns });
  });
  afterAll(async () => {
    dev?.close();
    await link?.destroy();
  });

  /** The kernel in namespace b sends GSO frames (virtio_net_hdr: NEEDS_CSUM, GSO_TCPV4, gso_size) through a packet socket of its own; veth passes them on whole. */
  function sendGso(frames: { hex: string; gsoSize: number }[]) {
    return link.b.exec('python3', ['-c', `
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.setsockopt(263, 15, 1)  # PACKET_VNET_HDR
s.bind((${JSON.stringify(link.b.ifname)}, 0))
for line in sys.stdin.read().split():
    size, f = line.split(':')
    s.send(struct.pack('<BBHHHH', 1, 1, 54, int(size), 34, 16) + bytes.fromhex(f))`], { input: frames.map((f) => `${f.gsoSize}:${f.hex}`).join('\n') });
  }

  /** Frames (copies) and their buffer flags, taken into `pool` until `want` arrived. */
  async function take(pool: BufferPool, want: number): Promise<{ f: Buffer; flags: number }[]> {
    const out: { f: Buffer; flags: number }[] = [];
    for (let i = 0; i < 200 && out.length < want; i++) {
      dev.rxBurst(pool, 64, 0, (id) => {
        out.push({ f: Buffer.from(pool.buf.subarray(pool.start(id), pool.end(id))), flags: pool.flags(id) });
        pool.release(id);
      });
      if (out.length < want) await sleep(5);
    }
    return out;
  }

  const ipSumOk = (f: Buffer): boolean => {
    let sum = 0;
    for (let i = 14; i < 34; i += 2) sum += f.readUInt16BE(i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    return sum === 0xffff;
  };

  it('reads the vnet header at tp_mac − 10 in a slot, and at the start of a TP_STATUS_COPY frame: whole into big buffers, cut at gso_size into small ones', async () => {
    const b = macNum(link.b.mac);
    const small = { hex: tcpFrameHex(mac, b, ipNum(link.b.ip), ipNum(link.a.ip), 1000, 1200), gsoSize: 400 }; // fits a 2 KiB slot
    const large = { hex: tcpFrameHex(mac, b, ipNum(link.b.ip), ipNum(link.a.ip), 5000, 40000), gsoSize: 1000 }; // does not: TP_STATUS_COPY
    const big = new BufferPool('vnet.big', 8, 65792);
    expect((await sendGso([small, large])).stderr).toBe('');
    const whole = await take(big, 2);
    expect(whole.map((w) => w.f.length)).toEqual([1254, 40054]);
    // Byte for byte apart from the TCP checksum field (the pseudo-header sum the kernel keeps for a partial checksum).
    for (const [w, want] of [[whole[0], small], [whole[1], large]] as const) {
      const got = Buffer.from(w.f);
      got.writeUInt16BE(0, 50);
      expect(got.toString('hex')).toBe(want.hex);
      expect(w.flags & BufFlag.RxL4ChecksumOk).toBeTruthy();
    }
    let s = dev.stats();
    expect([s.rxCopied, s.rxGso]).toEqual([1, 1]);

    const pool = new BufferPool('vnet.small', 128, 2048);
    const cut = new BufferPool('vnet.cut', 8, 512);
    expect((await sendGso([small])).stderr).toBe('');
    const pieces = await take(cut, 3);
    expect((await sendGso([large])).stderr).toBe('');
    const segs = await take(pool, 40);
    for (const [got, want, size, seq0] of [[pieces, small, 400, 1000], [segs, large, 1000, 5000]] as const) {
      const src = Buffer.from(want.hex, 'hex');
      expect(got.length).toBe(Math.ceil((src.length - 54) / size));
      got.forEach(({ f, flags }, i) => {
        expect(f.length).toBe(54 + size);
        expect(f.readUInt16BE(16)).toBe(40 + size);
        expect(f.readUInt16BE(18)).toBe((0x1234 + i) & 0xffff);
        expect(ipSumOk(f)).toBe(true);
        expect(f.readUInt32BE(38)).toBe(seq0 + i * size);
        expect(f[47]).toBe(i === got.length - 1 ? 0x18 : 0x10); // PSH on the last segment only
        expect(f.subarray(54).equals(src.subarray(54 + i * size, 54 + (i + 1) * size))).toBe(true);
        expect(flags & BufFlag.RxL4ChecksumOk).toBeTruthy();
      });
    }
    s = dev.stats();
    expect([s.rxGso, s.rxGsoSegments, s.rxGsoMalformed, s.rxNoBuffer]).toEqual([3, 43, 0, 0]);
    expect(pool.counters.outstanding + cut.counters.outstanding + big.counters.outstanding).toBe(0);
  });

  it('sends a TCP packet larger than the MTU as one GSO_TCPV4 frame: NEEDS_CSUM with the pseudo-header sum, gso_size from the cookie', async () => {
    const listener = link.b.spawn('python3', ['-u', '-c', `
import socket, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.setsockopt(263, 15, 1)  # PACKET_VNET_HDR
s.bind((${JSON.stringify(link.b.ifname)}, 0x0800))
s.settimeout(3)
print('ready', flush=True)
while True:
    d = s.recv(70000)
    if len(d) > 10 + 34 and d[10 + 23] == 6 and struct.unpack('>H', d[10 + 34:10 + 36])[0] == 40000:
        print(*struct.unpack('<BBHHHH', d[:10]), len(d) - 10, d[10:].hex(), flush=True)
        break`]);
    let out = '';
    listener.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 200 && !out.includes('ready'); i++) await sleep(10);
    const tx = new BufferPool('vnet.tx', 4, 65792);
    const id = tx.alloc(0);
    const frame = Buffer.from(tcpFrameHex(macNum(link.b.mac), mac, ipNum(link.a.ip), ipNum(link.b.ip), 77, 10000), 'hex');
    frame.copy(tx.buf, tx.start(id));
    tx.append(id, frame.length);
    tx.setCookie(id, 1448);
    expect(dev.txBurst(tx, Int32Array.of(id), 1, 0)).toBe(1);
    tx.release(id);
    await new Promise((r) => listener.once('close', r));
    const [flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset, len, hex] = out.split('\n')[1].trim().split(' ');
    expect([flags, gsoType, hdrLen, gsoSize, csumStart, csumOffset, len].map(Number)).toEqual([1, 1, 54, 1448, 34, 16, frame.length]);
    const got = Buffer.from(hex, 'hex');
    // The checksum field carries the pseudo-header sum: src, dst, protocol 6, TCP length.
    let sum = 6 + 10020;
    for (let i = 26; i < 34; i += 2) sum += frame.readUInt16BE(i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(got.readUInt16BE(50)).toBe(sum);
    got.writeUInt16BE(0, 50);
    expect(got.equals(frame)).toBe(true);
    const s = dev.stats();
    expect([s.txTso, s.txErrors]).toEqual([1, 0]);
  });
});
