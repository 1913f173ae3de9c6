/**
 * Multicast against the Linux kernel over veth (packet device): tsvma's join is an IGMPv3 report
 * the kernel side captures and tshark decodes without complaint, the kernel's datagrams to the group
 * reach the tsvma socket, tsvma's datagrams to the group reach a kernel socket that joined it, and
 * the leave is reported.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Engine } from '../../lib/engine';
import { formatIp, parseIp } from '../../proto/wire/addr';
import { Udp, UdpDatagram } from '../../proto/stack/udp';
import { openEngine } from '../helpers/engine';
import { createLink, type Link } from '../helpers/netns';
import { one, problems, tsharkFrames, tsharkMissing } from '../helpers/tshark';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GROUP = '239.7.7.7';

describe('multicast with the kernel peer', () => {
  let link: Link;
  let engine: Engine;
  let udp: Udp;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-mcast-'));
    link = await createLink({ tag: 'mcast', assignIpA: false });
    engine = openEngine(link);
    udp = new Udp(engine.stack);
  });
  afterAll(async () => {
    engine?.close();
    await link?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('joins with an IGMPv3 report the kernel side sees, receives the group from the kernel, sends to a kernel member, and reports the leave', async () => {
    const missing = tsharkMissing();
    if (missing) throw new Error(missing);
    const pcap = path.join(dir, 'igmp.pcap');
    const cap = link.b.spawn('tcpdump', ['-i', link.b.ifname, '--immediate-mode', '-U', '-n', '-s', '0', '-w', pcap, 'igmp or udp']);
    let capErr = '';
    cap.stderr!.on('data', (d: Buffer) => (capErr += d.toString()));
    for (let i = 0; i < 50 && !capErr.includes('listening'); i++) await sleep(100);
    expect(capErr).toContain('listening');

    const s = udp.open();
    expect(udp.bind(s, 0, 9910)).toBe(0);
    expect(udp.addMembership(s, parseIp(GROUP), 0, engine.clock())).toBe(0);
    engine.flush();
    // The kernel side: a member of the group on port 9911 that prints what it gets, then a sender to tsvma's port.
    const peer = link.b.spawn('python3', ['-c', `
import socket, struct
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("0.0.0.0", 9911)); r.settimeout(5)
r.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton("${GROUP}") + socket.inet_aton("${link.b.ip}"))
t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("${link.b.ip}"))
print("ready", flush=True)
for i in range(3): t.sendto(b"kernel to group %d" % i, ("${GROUP}", 9910))
d, a = r.recvfrom(2048); print(d.decode(), a[0], flush=True)`]);
    let out = '';
    peer.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 300 && s.queued < 3; i++) await sleep(10);
    const d = new UdpDatagram();
    const got: string[] = [];
    while (udp.receive(s, d)) {
      got.push(`${engine.ring.rxPool.buf.toString('utf8', d.offset, d.offset + d.length)} from ${formatIp(d.srcIp)} to ${formatIp(d.dstIp)}`);
      udp.release(d);
    }
    expect(got).toEqual([0, 1, 2].map((i) => `kernel to group ${i} from ${link.b.ip} to ${GROUP}`));
    // tsvma → the group: the kernel member gets it (TTL 1 by default is enough on the link).
    expect(udp.send(s, Buffer.from('tsvma to group'), 0, 14, parseIp(GROUP), 9911, engine.clock())).toBe(14);
    engine.flush();
    await new Promise((r) => peer.once('close', r));
    expect(out.trim().split('\n')).toEqual(['ready', `tsvma to group ${link.a.ip}`]);
    expect(udp.dropMembership(s, parseIp(GROUP), 0, engine.clock())).toBe(0);
    engine.flush();
    await sleep(300);
    cap.kill('SIGINT');
    await new Promise((r) => cap.once('close', r));
    udp.close(s);

    // What the kernel side captured from tsvma: IGMPv3 reports that tshark finds well-formed.
    const frames = tsharkFrames(pcap).filter((f) => one(f, 'ip.src') === link.a.ip && one(f, 'igmp.type') !== undefined);
    const records = frames.map((f) => `${one(f, 'igmp.type')} ${one(f, 'igmp.record_type')} ${one(f, 'igmp.maddr')} ttl=${one(f, 'ip.ttl')} ra=${one(f, 'ip.opt.ra') ?? one(f, 'ip.opt.type')}`);
    if (process.env.TSVMA_TEST_VERBOSE) console.log(records);
    for (const f of frames) expect(problems(f)).toEqual([]);
    // Join: CHANGE_TO_EXCLUDE_MODE {} (4); leave: CHANGE_TO_INCLUDE_MODE {} (3); to 224.0.0.22, TTL 1, Router Alert.
    expect(records[0]).toMatch(new RegExp(`^0x22 4 ${GROUP.replace(/\./g, '\\.')} ttl=1 ra=0$`));
    expect(records).toContainEqual(expect.stringMatching(new RegExp(`^0x22 3 ${GROUP.replace(/\./g, '\\.')} ttl=1`)));
    expect(frames.every((f) => one(f, 'ip.dst') === '224.0.0.22')).toBe(true);
    expect(engine.stack.igmp.counters.reportsSent).toBeGreaterThanOrEqual(2);
  }, 30000);
});
