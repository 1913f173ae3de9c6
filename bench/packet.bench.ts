/**
 * The packet device against Node's own sockets, same run, same veth, same kernel peer:
 *  1. receive rate: a C sender in the peer namespace blasts 64-byte UDP datagrams for N seconds at
 *     (a) tsvma's packet ring (frames counted by a ring flow sink) and (b) a Node dgram socket in a
 *     child process; frames received, frames/s, and receiver CPU (frames per CPU-second).
 *  2. ping RTT from the kernel peer: to tsvma's address vs to a kernel address over an identical veth.
 * Run as root: npm run build && node dist/bench/packet.bench.js [seconds]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Engine } from '../lib/engine';
import { parseIp } from '../proto/wire/addr';
import { macFromIp, PacketDevice } from '../ring/packet/packet_device';
import { createLink, type Link } from '../test/helpers/netns';

const SECS = Number(process.argv[2] ?? 3);
const PORT = 9200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function buildBlaster(): string {
  const out = '/tmp/tsvma-udpblast';
  const src = path.join(__dirname, '..', '..', 'bench', 'udpblast.c');
  execFileSync('gcc', ['-O2', '-o', out, src]);
  return out;
}

async function blast(link: Link, blaster: string, dst: string): Promise<number> {
  const r = await link.b.exec(blaster, [dst, String(PORT), String(SECS), '64'], { timeoutMs: (SECS + 10) * 1000 });
  return Number(r.stdout.trim());
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function pingTimes(link: Link, dst: string, n: number): Promise<number[]> {
  const r = await link.b.exec('ping', ['-c', String(n), '-i', '0.005', '-W', '1', dst], { timeoutMs: 60000 });
  return [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000);
}

async function main(): Promise<void> {
  const blaster = buildBlaster();
  const tl = await createLink({ tag: 'bt', assignIpA: false });
  const kl = await createLink({ tag: 'bk' });
  try {
    // tsvma side
    const ip = parseIp(tl.a.ip);
    const engine = new Engine({ device: new PacketDevice({ ifname: tl.a.ifname, mac: macFromIp(ip), netns: tl.a.ns, rxFrames: 4096 }), ip, prefix: 24, ring: { rxBufs: 8192 }, poller: { idleTurns: Number(process.env.IDLE_TURNS ?? 200) } });
    let got = 0;
    engine.ring.flows.attachPort(17, PORT, (id) => { got++; engine.ring.rxPool.release(id); });
    await tl.b.exec('ping', ['-c', '1', tl.a.ip]); // resolve ARP both ways first
    const c0 = process.cpuUsage();
    const sentT = await blast(tl, blaster, tl.a.ip);
    await sleep(200);
    const cpuT = process.cpuUsage(c0);
    const cpuTs = (cpuT.user + cpuT.system) / 1e6;
    const dropsT = engine.ring.stats()['device.kernelDrops'];

    // Node dgram in a child process inside the kernel-addressed namespace
    const child = kl.a.spawn(process.execPath, ['-e', `
      const d = require('node:dgram').createSocket('udp4'); let n = 0;
      d.on('message', () => { n++; });
      d.bind(${PORT}, '${kl.a.ip}', () => { d.setRecvBufferSize(4 << 20); process.stdout.write('ready\\n'); });
      process.on('SIGTERM', () => { const u = process.cpuUsage(); process.stdout.write(JSON.stringify({ n, cpu: (u.user + u.system) / 1e6 }) + '\\n'); process.exit(0); });`]);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    while (!out.includes('ready')) await sleep(20);
    await kl.b.exec('ping', ['-c', '1', kl.a.ip]);
    const sentD = await blast(kl, blaster, kl.a.ip);
    await sleep(300);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
    const d = JSON.parse(out.trim().split('\n').pop()!) as { n: number; cpu: number };

    const rateT = got / SECS;
    const rateD = d.n / SECS;
    console.log(`receive, ${SECS} s of 64-byte UDP from a sendmmsg blaster in the peer namespace:`);
    console.log(`  tsvma packet ring: ${got} of ${sentT} sent (${((100 * got) / sentT).toFixed(1)} %), ${Math.round(rateT)} frames/s, receiver CPU ${cpuTs.toFixed(2)} s → ${Math.round(got / Math.max(cpuTs, 1e-3))} frames per CPU-second; kernel ring drops ${dropsT}`);
    console.log(`  Node dgram:        ${d.n} of ${sentD} sent (${((100 * d.n) / sentD).toFixed(1)} %), ${Math.round(rateD)} frames/s, receiver CPU ${d.cpu.toFixed(2)} s → ${Math.round(d.n / Math.max(d.cpu, 1e-3))} frames per CPU-second`);
    console.log(`  ratio tsvma/dgram: delivered rate ${(rateT / rateD).toFixed(2)}×, frames per CPU-second ${((got / Math.max(cpuTs, 1e-3)) / (d.n / Math.max(d.cpu, 1e-3))).toFixed(1)}×`);

    await sleep(500);
    // Warm-up, as sockperf does: V8 runs the reply path interpreted until it has seen it often
    // enough; cold, one ping costs ~50 µs of JS (measured), warm ~3 µs.
    await tl.b.exec('ping', ['-f', '-c', '20000', '-q', tl.a.ip], { timeoutMs: 60000 });
    await kl.b.exec('ping', ['-f', '-c', '20000', '-q', kl.a.ip], { timeoutMs: 60000 });
    const pt = await pingTimes(tl, tl.a.ip, 500);
    const pk = await pingTimes(kl, kl.a.ip, 500);
    console.log(`ping RTT from the kernel peer, 500 pings at 5 ms after 20000 warm-up pings (poller idleTurns ${process.env.IDLE_TURNS ?? 200}):`);
    console.log(`  to tsvma:  p50 ${pct(pt, 50).toFixed(0)} µs, p99 ${pct(pt, 99).toFixed(0)} µs (${pt.length} replies)`);
    console.log(`  to kernel: p50 ${pct(pk, 50).toFixed(0)} µs, p99 ${pct(pk, 99).toFixed(0)} µs (${pk.length} replies)`);
    console.log(`  ratio p50 tsvma/kernel: ${(pct(pt, 50) / pct(pk, 50)).toFixed(2)}×`);
    engine.close();
  } finally {
    await tl.destroy();
    await kl.destroy();
    fs.rmSync(blaster, { force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
