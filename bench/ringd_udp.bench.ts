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
 * Per-client cost (SCALE=0 skips it): 1, 2, 4 then 8 echo clients attached to ringd, and as many
 * Node dgram echo servers (node:dgram on kernel sockets, side a's .3) in the same run; a python
 * client in namespace b sends one 64-byte datagram to each server per round and waits for all the
 * echoes (closed loop, SCALE_SECS seconds per point): echoes/s, round time p50/p99, and CPU time of
 * the serving processes (ringd + clients, or the Node servers; /proc/<pid>/stat) per 1000 echoes.
 * HTTP=1 adds wrk (-t2 -c64, HTTP_SECS seconds, default 5) from namespace b against
 * test/ringd/cluster_http.ts, 4 node:cluster workers: on kernel sockets (Node's round-robin, side
 * a's .3) and through ringd (one reuse-port group).
 * Env: GAPS, TARGETS, RATE=0, SCALE=0, SCALE_SECS (default 3), HTTP=1, HTTP_SECS, CLIENT_RX_POLL, RINGD_ARGS.
 * Run as root: node -r ./test/net/swc-register.cjs bench/ringd_udp.bench.ts
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLink, type Link } from '../test/helpers/netns';
import { Child, clientReady, control, REGISTER, regionsOf, ringdReady, ROOT, sleep, spawnRingd, startPython } from '../test/ringd/helpers';
import { blast, buildBlaster } from './udpblast';

const CLIENT = path.join(ROOT, 'test', 'ringd', 'client.ts');
const SECS = Number(process.env.SECS ?? 2);

/** `c` with its stderr passing through to ours. */
function tee(c: Child): Child {
  c.proc.stderr!.on('data', (b: Buffer) => process.stderr.write(b));
  return c;
}

const isEv = (ev: string) => (e: Record<string, unknown>): boolean => e.ev === ev;

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
  const clientRxPoll = process.env.CLIENT_RX_POLL ? { VMA_RX_POLL: process.env.CLIENT_RX_POLL } : {};
  let viaRingd: Child;
  let direct: Child;
  async function debug(): Promise<void> {
    const st = (await viaRingd.request({ cmd: 'stats' }, isEv('stats'), 20000)).engine as Record<string, number>;
    process.stdout.write(`client via ringd: ${JSON.stringify(Object.fromEntries(Object.entries(st).filter(([k]) => k.startsWith('poller.') || k.startsWith('device.'))))}\n`);
    const r = (await control(sock, { op: 'stats' })) as { counters: object; engine: Record<string, number> };
    process.stdout.write(`ringd: ${JSON.stringify(r.counters)} ${JSON.stringify(Object.fromEntries(Object.entries(r.engine).filter(([k]) => k.startsWith('poller.'))))}\n`);
  }

  try {
    execIn(link.a.ns, ['ip', 'addr', 'add', `${base}.3/24`, 'dev', link.a.ifname]);
    await startPython(link.a, `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("${base}.3", 9700)); print("ready", flush=True)
while True:
    d, a = s.recvfrom(4096); s.sendto(d, a)`, procs);
    const ringd = tee(spawnRingd([`--TSVMA_DEVICE=packet:${link.a.ifname}`, `--TSVMA_ADDR=${link.a.ip}/24`, '--netns', link.a.ns, '--socket', sock, '--VMA_STATS_SHMEM_DIR=', ...(process.env.RINGD_ARGS ?? '').split(' ').filter(Boolean)]));
    procs.push(ringd.proc);
    ringdPid = ringd.proc.pid ?? 0;
    await ringdReady(ringd);
    viaRingd = tee(new Child(spawn(process.execPath, ['-r', REGISTER, CLIENT], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TSVMA_DEVICE: `daemon:${sock}`, VMA_STATS_SHMEM_DIR: '', ...clientRxPoll } }), 'client via ringd'));
    procs.push(viaRingd.proc);
    direct = tee(new Child(spawn('ip', ['netns', 'exec', link.a.ns, process.execPath, '-r', REGISTER, CLIENT], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TSVMA_DEVICE: `packet:${link.a.ifname}`, TSVMA_ADDR: `${base}.4/24`, VMA_STATS_SHMEM_DIR: '' } }), 'direct client'));
    procs.push(direct.proc);
    await clientReady(viaRingd);
    await clientReady(direct);
    await viaRingd.request({ cmd: 'echo', port: 9700 }, isEv('bound'), 20000);
    await direct.request({ cmd: 'echo', port: 9700 }, isEv('bound'), 20000);
    const targets: [string, string][] = [['kernel', `${base}.3`], ['direct', `${base}.4`], ['ringd', link.a.ip]];
    if (process.env.PAUSE) {
      // For tracing: print the pids and wait (strace -p ...), then run.
      process.stdout.write(`pids ringd ${ringd.proc.pid} client ${viaRingd.proc.pid}\n`);
      await sleep(Number(process.env.PAUSE));
    }
    const only = (process.env.TARGETS ?? 'kernel,direct,ringd').split(',');
    for (const gap of (process.env.GAPS ?? '1,30').split(',').filter(Boolean).map(Number)) {
      for (const [name, ip] of targets.filter(([t]) => only.includes(t))) process.stdout.write(`ping-pong ${gap} ms gaps  ${name.padEnd(7)} ${await pingPong(link, ip, 9700, gap === 1 ? 2000 : 200, gap)}\n`);
    }
    if (process.env.DEBUG) await debug();
    if (process.env.RATE !== '0') await rate();
    if (process.env.SCALE !== '0') await scale();
    if (process.env.HTTP === '1') await http();
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    await sleep(100);
    for (const f of regionsOf(ringdPid)) fs.rmSync(`/dev/shm/${f}`, { force: true });
    fs.rmSync(sock, { force: true });
    fs.rmSync(blaster, { force: true });
    await link.destroy();
  }

  async function rate(): Promise<void> {
    viaRingd.send({ cmd: 'sink', port: 9800 });
    direct.send({ cmd: 'sink', port: 9800 });
    await sleep(200);
    for (const [name, ip, p] of [['direct', `${base}.4`, direct], ['ringd', link.a.ip, viaRingd]] as [string, string, Child][]) {
      const sent = await blast(link, blaster, SECS, { dst: ip, port: 9800 });
      await sleep(500);
      const last = (await p.request({ cmd: 'count' }, isEv('count'))) as { n: number; ms: number };
      if (name === 'ringd' && process.env.DEBUG) await debug();
      process.stdout.write(`rate ${name.padEnd(7)} sent ${sent} in ${SECS} s (${Math.round(sent / SECS)}/s), received ${last.n} (${((100 * last.n) / sent).toFixed(1)} %), ${Math.round(last.n / (last.ms / 1000))}/s while receiving\n`);
    }
  }

  /** wrk against a 4-worker node:cluster http server: Node on kernel sockets, then over ringd. */
  async function http(): Promise<void> {
    const secs = Number(process.env.HTTP_SECS ?? 5);
    const APP = path.join(ROOT, 'test', 'ringd', 'cluster_http.ts');
    const kernelEnv: Record<string, string | undefined> = { ...process.env, TSVMA_DEVICE: '' };
    const runs: [string, string, Child][] = [
      ['node cluster (kernel)', `${base}.3:8081`, tee(new Child(spawn('ip', ['netns', 'exec', link.a.ns, process.execPath, '-r', REGISTER, APP, '4', '8081'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: kernelEnv }), 'node cluster'))],
      ['cluster over ringd', `${link.a.ip}:8080`, tee(new Child(spawn(process.execPath, ['-r', REGISTER, APP, '4', '8080'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TSVMA_DEVICE: `daemon:${sock}`, VMA_STATS_SHMEM_DIR: '', ...clientRxPoll } }), 'cluster over ringd'))],
    ];
    for (const [name, target, app] of runs) {
      procs.push(app.proc);
      await app.waitFor(isEv('ready'), 30000);
      const w = await link.b.exec('wrk', ['-t2', '-c64', `-d${secs}s`, '--timeout', '10s', `http://${target}/`], { timeoutMs: (secs + 30) * 1000 });
      const rps = /Requests\/sec:\s+(\S+)/.exec(w.stdout)?.[1] ?? '?';
      const lat = /Latency\s+(\S+)\s+(\S+)\s+(\S+)/.exec(w.stdout);
      const errs = /Socket errors:.*|Non-2xx.*/.exec(w.stdout)?.[0] ?? 'no errors';
      process.stdout.write(`http ${name.padEnd(22)} ${rps} req/s, latency avg ${lat?.[1]} stdev ${lat?.[2]} max ${lat?.[3]}; ${errs}\n`);
      app.proc.stdin!.end();
      await sleep(300);
    }
  }

  /** Per-client cost: 1, 2, 4, 8 echo servers through ringd and as Node dgram, a closed-loop round over all of them. */
  async function scale(): Promise<void> {
    const secs = Number(process.env.SCALE_SECS ?? 3);
    const clients: Child[] = [];
    const nodes: Child[] = [];
    const NODE_ECHO = "const d = require('node:dgram'); const s = d.createSocket('udp4'); s.on('message', (m, r) => s.send(m, r.port, r.address)); s.bind(Number(process.argv[2]), process.argv[1], () => console.log('ready'));";
    for (const n of [1, 2, 4, 8]) {
      while (clients.length < n) {
        const i = clients.length;
        const c = tee(new Child(spawn(process.execPath, ['-r', REGISTER, CLIENT], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TSVMA_DEVICE: `daemon:${sock}`, VMA_STATS_SHMEM_DIR: '', ...clientRxPoll } }), `client ${i}`));
        procs.push(c.proc);
        await clientReady(c);
        await c.request({ cmd: 'echo', port: 9900 + i }, isEv('bound'), 20000);
        clients.push(c);
        const k = tee(new Child(spawn('ip', ['netns', 'exec', link.a.ns, process.execPath, '-e', NODE_ECHO, `${base}.3`, String(9900 + i)], { stdio: ['pipe', 'pipe', 'pipe'] }), `node echo ${i}`));
        procs.push(k.proc);
        await k.waitFor((e) => e.ev === 'text' && e.text === 'ready', 20000);
        nodes.push(k);
      }
      for (const [name, ip, pids] of [['node dgram', `${base}.3`, nodes.map((p) => p.proc.pid!)], ['ringd', link.a.ip, [ringdPid, ...clients.map((p) => p.proc.pid!)]]] as [string, string, number[]][]) {
        const cpu0 = pids.map(cpuMs);
        const t0 = performance.now();
        const r = await rounds(link, ip, 9900, n, secs);
        const wall = (performance.now() - t0) / 1000;
        const cpu = pids.map((p, i) => cpuMs(p) - cpu0[i]);
        const total = cpu.reduce((a, b) => a + b, 0);
        // CPU over the whole exec (python's start and warm-up too): per echo of the whole exec, and as a share of its wall time.
        const per1k = (ms: number): string => (r.all > 0 ? ((1000 * ms) / r.all).toFixed(2) : '-');
        const split = name === 'ringd' ? ` (ringd ${per1k(cpu[0])}, clients ${per1k(total - cpu[0])})` : '';
        if (process.env.DEBUG && name === 'ringd') {
          for (const c of clients) {
            const st = (await c.request({ cmd: 'stats' }, isEv('stats'))) as { engine: Record<string, number> };
            process.stdout.write(`  client ${c.proc.pid}: ${JSON.stringify(Object.fromEntries(Object.entries(st.engine).filter(([k]) => /poller\.(turns|sleeps|wakeups|fdWakeups|notifyWakeups|timerWakeups|kickWakeups|frames)$|device\.(rxFrames|wakeups)/.test(k))))}\n`);
          }
        }
        process.stdout.write(`scale ${n} server(s)  ${name.padEnd(10)} ${Math.round(r.echoes / r.secs)} echoes/s, round p50 ${r.p50} µs p99 ${r.p99} µs, lost ${r.lost}; CPU ${per1k(total)} ms per 1000 echoes${split}, ${(total / wall / 10).toFixed(0)} % of a core\n`);
      }
    }
  }
}

/** utime + stime of a process, ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
}

/** A closed loop from namespace b: one datagram to each of n ports (from `port`), then all n echoes; `secs` seconds after 200 warm-up rounds. */
async function rounds(link: Link, dst: string, port: number, n: number, secs: number): Promise<{ echoes: number; all: number; secs: number; p50: number; p99: number; lost: number }> {
  const r = await link.b.exec('python3', ['-c', `
import json, socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
dsts = [("${dst}", ${port} + i) for i in range(${n})]
def one():
    t = time.monotonic_ns()
    for d in dsts: s.sendto(b"x" * 64, d)
    got = 0
    try:
        while got < ${n}: s.recv(2048); got += 1
    except socket.timeout: pass
    return (time.monotonic_ns() - t) / 1000, got
warm = sum(one()[1] for i in range(200))
rtt = []; lost = 0; echoes = 0
t0 = time.monotonic(); end = t0 + ${secs}
while time.monotonic() < end:
    us, got = one(); rtt.append(us); echoes += got; lost += ${n} - got
el = time.monotonic() - t0
rtt.sort()
print(json.dumps({"echoes": echoes, "all": echoes + warm, "secs": el, "p50": round(rtt[len(rtt) // 2]), "p99": round(rtt[min(len(rtt) - 1, len(rtt) * 99 // 100)]), "lost": lost}))`], { timeoutMs: (secs + 60) * 1000 });
  if (r.code !== 0) throw new Error(`rounds failed: ${r.stderr.slice(-300)}`);
  return JSON.parse(r.stdout.trim()) as { echoes: number; all: number; secs: number; p50: number; p99: number; lost: number };
}

function execIn(ns: string, cmd: string[]): void {
  execFileSync('ip', ['netns', 'exec', ns, ...cmd]);
}

void main();
