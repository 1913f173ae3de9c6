/**
 * The extra API against the kernel peer on the packet device (root; veth in namespaces): a receive
 * filter drops datagrams by payload prefix while the kernel sends as fast as its socket goes —
 * dropped datagrams never reach 'message', and `tsvma stats -p PID --json` counts every datagram
 * the kernel sent as received by the socket. Runs the built library and CLI (dist/).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { spawnNode, tsvmaEnv } from '../helpers/engine';
import { createLink, netnsUnavailable, type Link } from '../helpers/netns';

const root = path.join(__dirname, '..', '..');
const dist = (m: string): string => JSON.stringify(path.join(root, 'dist', 'lib', m));
const why = netnsUnavailable();
const maybe = why ? describe.skip : describe;
if (why) console.warn(`extra_kernel: skipped: ${why}`);

maybe('a receive filter against the kernel peer', () => {
  let link: Link;
  let dir: string;
  beforeAll(async () => {
    link = await createLink({ tag: 'xapi', assignIpA: false });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-xapi-'));
  });
  afterAll(async () => {
    await link?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("drops by payload prefix: no dropped datagram reaches 'message', stats count all the kernel sent", async () => {
    const N = 3000; // each kind
    const child = spawnNode(link.a, { ...tsvmaEnv(link), VMA_STATS_SHMEM_DIR: dir }, `
      const tsvma = require(${dist('index.js')});
      const dgram = require(${dist('dgram.js')});
      const api = tsvma.getVmaApi();
      const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
      let dropped = 0, got = 0, leaked = 0;
      s.on('message', (m) => { got++; if (m[0] === 0x44) leaked++; });
      s.bind(9977, () => {
        api.register_recv_callback(s, (fd, iov) => (iov[0][0] === 0x44 /* D */ ? (dropped++, tsvma.VMA_PACKET_DROP) : tsvma.VMA_PACKET_RECV));
        console.log('ready ' + api.fdOf(s));
      });
      setInterval(() => console.log('count ' + JSON.stringify({ dropped, got, leaked })), 100);
      process.on('SIGTERM', () => process.exit(0));`);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      for (let i = 0; i < 1000 && !/ready (\d+)/.test(out); i++) await new Promise((r) => setTimeout(r, 10));
      const fd = Number(/ready (\d+)/.exec(out)?.[1]);
      expect(fd).toBeGreaterThan(0);
      // The kernel sends in bursts of 200 back to back (as fast as its socket takes them), D and K alternating.
      const sent = await link.b.exec('python3', ['-c', `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = 0
for burst in range(${(2 * N) / 200}):
    for i in range(200):
        s.sendto((b"D" if n % 2 == 0 else b"K") + b"%06d" % n + b"x" * 56, ("${link.a.ip}", 9977)); n += 1
    time.sleep(0.002)
print(n)`], { timeoutMs: 30000 });
      expect(sent.stdout.trim()).toBe(String(2 * N));
      const last = (): { dropped: number; got: number; leaked: number } => JSON.parse([...out.matchAll(/count (.*)/g)].pop()?.[1] ?? '{"dropped":0,"got":0,"leaked":0}');
      for (let i = 0; i < 500 && last().dropped + last().got < 2 * N; i++) await new Promise((r) => setTimeout(r, 20));
      expect(last()).toEqual({ dropped: N, got: N, leaked: 0 });
      const st = spawnSync(process.execPath, [path.join(root, 'dist', 'bin', 'tsvma.js'), 'stats', '-p', String(child.pid), '--json'], { encoding: 'utf8', env: { PATH: process.env.PATH, VMA_STATS_SHMEM_DIR: dir } });
      expect(st.stderr).toBe('');
      const proc = JSON.parse(st.stdout).processes[0];
      const sock = proc.sockets.find((x: { fd: number }) => x.fd === fd);
      expect(sock).toBeDefined();
      expect(sock.rxPackets).toBe(2 * N);
      expect(sock.rxBytes).toBe(2 * N * 63);
    } finally {
      child.kill();
    }
  }, 60000);
});
