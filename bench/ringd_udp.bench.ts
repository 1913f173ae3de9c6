/**
 * UDP through tsvma ringd, one run, the kernel in the peer namespace as the client (docs/ringd.md):
 *   kernel:  a python echo server on a kernel address of side a (.3): the kernel's own path;
 *   direct:  test/ringd/client.ts echoing on the packet device itself, in namespace a (.4);
 *   ringd:   ringd on the packet device (.2), the same echo client attached with TSVMA_DEVICE=daemon.
 * All three share one veth. Ping-pong: a python client in namespace b sends 64-byte datagrams and
 * times each reply (warm-up first, then at 1 ms gaps — the tsvma pollers stay hot in their adaptive
 * window — and at 30 ms gaps — every poller sleeps, so each datagram pays the wake-ups: for ringd,
 * its packet fd and then the client's control-socket byte). Rate: bench/udpblast.c blasts 64-byte
 * datagrams for SECS seconds at a counting client (ringd vs direct, one after the other).
 * Run as root: node -r ./test/net/swc-register.cjs bench/ringd_udp.bench.ts
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createLink, type Link } from '../test/helpers/netns';
import { blast, buildBlaster } from './udpblast';

const ROOT = path.join(__dirname, '..');
const REGISTER = path.join(ROOT, 'test', 'net', 'swc-register.cjs');
const CLIENT = path.join(ROOT, 'test', 'ringd', 'client.ts');
const SECS = Number(process.env.SECS ?? 2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Proc {
  out = '';
  constructor(readonly p: ChildProcess) {
    p.stdout!.on('data', (b: Buffer) => (this.out += b.toString()));
    p.stderr!.on('data', (b: Buffer) => process.stderr.write(b));
  }

  async waitFor(re: RegExp, ms = 20000): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(this.out)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}: ${this.out.slice(-500)}`);
      await sleep(10);
    }
  }

  send(o: object): void {
    this.p.stdin!.write(`${JSON.stringify(o)}\n`);
  }
}

async function pingPong(link: Link, dst: string, port: number, n: number, gapMs: number): Promise<string> {
  const r = await link.b.exec('python3', ['-c', `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
for i in range(3000):
    s.sendto(b"x" * 64, ("${dst}", ${port}))
    try: s.recv(2048)
    except socket.timeout: pass
rtt = []
lost = 0
for i in range(${n}):
    time.sleep(${gapMs / 1000})
    t = time.monotonic_ns(); s.sendto(b"y" * 64, ("${dst}", ${port}))
    try:
        s.recv(2048); rtt.append((time.monotonic_ns() - t) / 1000)
    except socket.timeout: lost += 1
rtt.sort()
print("p50 %.0f µs  p99 %.0f µs  (n %d, lost %d)" % (rtt[len(rtt) // 2], rtt[min(len(rtt) - 1, len(rtt) * 99 // 100)], len(rtt), lost))`], { timeoutMs: 120000 });
  return r.code === 0 ? r.stdout.trim() : `failed: ${r.stderr.trim().slice(-300)}`;
}

async function main(): Promise<void> {
  const link = await createLink({ tag: 'rdb', assignIpA: false });
  const base = link.a.ip.split('.').slice(0, 3).join('.');
  const sock = `/tmp/tsvma-ringd-bench-${process.pid}.sock`;
  const procs: ChildProcess[] = [];
  let ringdPid = 0;
  const blaster = buildBlaster();
  let viaRingd: Proc;
  async function debug(): Promise<void> {
      viaRingd.send({ cmd: 'stats' });
      await viaRingd.waitFor(/"stats"/);
      const st = JSON.parse(viaRingd.out.split('\n').filter((l) => l.includes('"stats"')).pop()!) as { engine: Record<string, number> };
      process.stdout.write(`client via ringd: ${JSON.stringify(Object.fromEntries(Object.entries(st.engine).filter(([k]) => k.startsWith('poller.') || k.startsWith('device.'))))}\n`);
      const rs = await new Promise<string>((resolve) => {
        const c = net.connect(sock, () => c.write('{"op":"stats"}\n'));
        let b = '';
        c.on('data', (d) => {
          b += d.toString();
          if (b.includes('\n')) {
            c.destroy();
            resolve(b);
          }
        });
      });
      const r = JSON.parse(rs) as { counters: object; engine: Record<string, number> };
      process.stdout.write(`ringd: ${JSON.stringify(r.counters)} ${JSON.stringify(Object.fromEntries(Object.entries(r.engine).filter(([k]) => k.startsWith('poller.'))))}\n`);
    }

  try {
    execIn(link.a.ns, ['ip', 'addr', 'add', `${base}.3/24`, 'dev', link.a.ifname]);
    const kernelEcho = spawn('ip', ['netns', 'exec', link.a.ns, 'python3', '-u', '-c', `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("${base}.3", 9700)); print("ready", flush=True)
while True:
    d, a = s.recvfrom(4096); s.sendto(d, a)`], { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(kernelEcho);
    await new Proc(kernelEcho).waitFor(/ready/);
    const ringd = new Proc(spawn(process.execPath, ['-r', REGISTER, '-e', "require('./bin/main').main(process.argv.slice(1)).then((c) => { process.exitCode = c; })",
      'ringd', `--TSVMA_DEVICE=packet:${link.a.ifname}`, `--TSVMA_ADDR=${link.a.ip}/24`, '--netns', link.a.ns, '--socket', sock, ...(process.env.RINGD_ARGS ?? '').split(' ').filter(Boolean)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
    procs.push(ringd.p);
    ringdPid = ringd.p.pid ?? 0;
    await ringd.waitFor(/ready on/);
    viaRingd = new Proc(spawn(process.execPath, ['-r', REGISTER, CLIENT], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TSVMA_DEVICE: `daemon:${sock}`, ...(process.env.CLIENT_RX_POLL ? { VMA_RX_POLL: process.env.CLIENT_RX_POLL } : {}) } }));
    procs.push(viaRingd.p);
    const direct = new Proc(spawn('ip', ['netns', 'exec', link.a.ns, process.execPath, '-r', REGISTER, CLIENT], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TSVMA_DEVICE: `packet:${link.a.ifname}`, TSVMA_ADDR: `${base}.4/24` } }));
    procs.push(direct.p);
    await viaRingd.waitFor(/"ready"/);
    await direct.waitFor(/"ready"/);
    viaRingd.send({ cmd: 'echo', port: 9700 });
    direct.send({ cmd: 'echo', port: 9700 });
    await viaRingd.waitFor(/"bound"/);
    await direct.waitFor(/"bound"/);
    const targets: [string, string][] = [['kernel', `${base}.3`], ['direct', `${base}.4`], ['ringd', link.a.ip]];
    if (process.env.PAUSE) {
      // For tracing: print the pids and wait (strace -p ...), then run.
      process.stdout.write(`pids ringd ${ringd.p.pid} client ${viaRingd.p.pid}\n`);
      await sleep(Number(process.env.PAUSE));
    }
    const only = (process.env.TARGETS ?? 'kernel,direct,ringd').split(',');
    for (const gap of (process.env.GAPS ?? '1,30').split(',').filter(Boolean).map(Number)) {
      for (const [name, ip] of targets.filter(([t]) => only.includes(t))) process.stdout.write(`ping-pong ${gap} ms gaps  ${name.padEnd(7)} ${await pingPong(link, ip, 9700, gap === 1 ? 2000 : 200, gap)}\n`);
    }
    if (process.env.DEBUG) await debug();
    if (process.env.RATE === '0') return;
    viaRingd.send({ cmd: 'sink', port: 9800 });
    direct.send({ cmd: 'sink', port: 9800 });
    await sleep(200);
    for (const [name, ip, p] of [['direct', `${base}.4`, direct], ['ringd', link.a.ip, viaRingd]] as [string, string, Proc][]) {
      const before = (p.out.match(/"count"/g) ?? []).length;
      const sent = await blast(link, blaster, SECS, { dst: ip, port: 9800 });
      await sleep(500);
      p.send({ cmd: 'count' });
      while ((p.out.match(/"count"/g) ?? []).length === before) await sleep(10);
      const last = JSON.parse(p.out.trim().split('\n').filter((l) => l.includes('"count"')).pop()!) as { n: number; ms: number };
      if (name === 'ringd' && process.env.DEBUG) await debug();
      process.stdout.write(`rate ${name.padEnd(7)} sent ${sent} in ${SECS} s (${Math.round(sent / SECS)}/s), received ${last.n} (${((100 * last.n) / sent).toFixed(1)} %), ${Math.round(last.n / (last.ms / 1000))}/s while receiving\n`);
    }
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    await sleep(100);
    for (const f of fs.readdirSync('/dev/shm')) if (f.startsWith(`tsvma-ringd.${ringdPid}.`)) fs.rmSync(`/dev/shm/${f}`, { force: true });
    fs.rmSync(sock, { force: true });
    fs.rmSync(blaster, { force: true });
    await link.destroy();
  }
}

function execIn(ns: string, cmd: string[]): void {
  execFileSync('ip', ['netns', 'exec', ns, ...cmd]);
}

void main();
