/** UDP sockets of the stack against the Linux kernel peer over veth (packet device). */
import type { Engine } from '../../lib/engine';
import { parseIp } from '../../proto/wire/addr';
import { Errno, Udp, UdpDatagram } from '../../proto/stack/udp';
import { openEngine } from '../helpers/engine';
import { createLink, type Link } from '../helpers/netns';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('UDP over the packet device against the kernel', () => {
  let link: Link;
  let engine: Engine;
  let udp: Udp;
  beforeAll(async () => {
    link = await createLink({ tag: 'udp', assignIpA: false });
    engine = openEngine(link);
    udp = new Udp(engine.stack);
  });
  afterAll(async () => {
    engine?.close();
    await link?.destroy();
  });

  it('receives datagrams the kernel sends', async () => {
    const s = udp.open();
    expect(udp.bind(s, 0, 9100)).toBe(0);
    const r = await link.b.exec('python3', ['-c', `
import socket
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20): c.sendto(b"msg %d" % i, ("${link.a.ip}", 9100))`]);
    expect(r.stderr).toBe('');
    for (let i = 0; i < 50 && s.queued < 20; i++) await sleep(10);
    const d = new UdpDatagram();
    const got: string[] = [];
    while (udp.receive(s, d)) {
      got.push(engine.ring.rxPool.buf.toString('utf8', d.offset, d.offset + d.length));
      expect(d.srcIp).toBe(parseIp(link.b.ip));
      udp.release(d);
    }
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `msg ${i}`));
    udp.close(s);
  });

  it('sends datagrams the kernel receives, with checksums it accepts', async () => {
    const listener = link.b.spawn('python3', ['-c', `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("${link.b.ip}", 9200)); print("ready", flush=True)
for i in range(10):
    data, addr = s.recvfrom(2048); print(data.decode(), addr[1], flush=True)`]);
    let out = '';
    listener.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    while (!out.includes('ready')) await sleep(10);
    const s = udp.open();
    udp.bind(s, 0, 9201);
    for (let i = 0; i < 10; i++) expect(udp.send(s, Buffer.from(`to kernel ${i}`), 0, `to kernel ${i}`.length, parseIp(link.b.ip), 9200, engine.clock())).toBeGreaterThan(0);
    engine.poller.kick();
    await new Promise((r) => listener.once('close', r));
    const lines = out.trim().split('\n').slice(1);
    expect(lines).toEqual(Array.from({ length: 10 }, (_, i) => `to kernel ${i} 9201`));
    udp.close(s);
  });

  it('answers a closed port with ICMP port unreachable (the kernel client sees ECONNREFUSED), and learns ECONNREFUSED itself', async () => {
    const r = await link.b.exec('python3', ['-c', `
import socket, time
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.connect(("${link.a.ip}", 9999)); c.send(b"hello?"); c.settimeout(2)
try:
    c.recv(100); print("no error")
except ConnectionRefusedError:
    print("refused")`]);
    expect(r.stdout.trim()).toBe('refused');
    expect(udp.counters.portUnreachSent).toBeGreaterThanOrEqual(1);
    const s = udp.open();
    udp.connect(s, parseIp(link.b.ip), 9998);
    const errors: number[] = [];
    s.onError = (_s, e) => errors.push(e);
    udp.send(s, Buffer.from('x'), 0, 1, 0, 0, engine.clock());
    engine.poller.kick();
    for (let i = 0; i < 100 && errors.length === 0; i++) await sleep(10);
    expect(errors).toEqual([-Errno.ECONNREFUSED]);
    udp.close(s);
  });
});

describe('UDP fragments with the kernel', () => {
  let link: Link;
  let engine: Engine;
  let udp: Udp;
  beforeAll(async () => {
    link = await createLink({ tag: 'frag', assignIpA: false });
    engine = openEngine(link);
    udp = new Udp(engine.stack);
  });
  afterAll(async () => {
    engine?.close();
    await link?.destroy();
  });

  it('8 KiB and 60 KiB datagrams reach tsvma from the kernel (reassembled) and the kernel from tsvma (fragmented)', async () => {
    const s = udp.open();
    udp.bind(s, 0, 9300);
    s.rcvBuf = 1 << 20;
    const sizes = [8192, 61440];
    // kernel → tsvma, then the kernel waits for tsvma's datagrams and prints their length and a digest
    const peer = link.b.spawn('python3', ['-c', `
import socket, hashlib
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.bind(("${link.b.ip}", 9301))
for n in (${sizes.join(', ')}): c.sendto(bytes((i * 7) & 255 for i in range(n)), ("${link.a.ip}", 9300))
print("sent", flush=True)
for n in (${sizes.join(', ')}):
    d = c.recv(70000); print(len(d), hashlib.sha256(d).hexdigest(), flush=True)`]);
    let out = '';
    peer.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 300 && s.queued < 2; i++) await sleep(10);
    const d = new UdpDatagram();
    const got: number[] = [];
    while (udp.receive(s, d)) {
      const expect8 = Buffer.from(Array.from({ length: d.length }, (_, i) => (i * 7) & 0xff));
      expect(Buffer.compare(d.data!.subarray(d.offset, d.offset + d.length), expect8)).toBe(0);
      got.push(d.length);
      udp.release(d);
    }
    expect(got).toEqual(sizes);
    expect(engine.stack.reassembler.counters.reassembled).toBe(2);
    const { createHash } = await import('node:crypto');
    const want: string[] = [];
    for (const n of sizes) {
      const p = Buffer.from(Array.from({ length: n }, (_, i) => (i * 3) & 0xff));
      want.push(`${n} ${createHash('sha256').update(p).digest('hex')}`);
      expect(udp.send(s, p, 0, n, parseIp(link.b.ip), 9301, engine.clock())).toBe(n);
    }
    engine.poller.kick();
    await new Promise((r) => peer.once('close', r));
    expect(out.trim().split('\n').slice(1)).toEqual(want);
    udp.close(s);
  }, 30000);
});
