/**
 * Receive rate of the packet device at the ring level (PacketDevice + Ring + ring/poller, no stack)
 * against a Node dgram socket, over the same veth from the same sender in the same run.
 *
 * A C sender (bench/udpblast.c: sendmmsg, 64 datagrams per call, 64-byte payloads; compiled into
 * /tmp here, never committed as a binary) in namespace b blasts UDP at side a for N seconds, twice:
 *   1. side a has no kernel address; b has a static ARP entry for the device's own MAC; frames land
 *      in the TPACKET_V2 ring and a ring flow sink counts those carrying the port;
 *   2. side a gets the address in the kernel; a Node dgram socket in a child process in namespace a
 *      (4 MiB receive buffer) counts 'message' events.
 * Reported: frames sent/received, frames/s, receiver CPU (process.cpuUsage over the window) and
 * frames per receiver CPU-second, and the ratios.
 * Run as root: npm run build && node dist/bench/packet_rx.bench.js [seconds=3]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatMac, parseIp } from '../proto/wire/addr';
import { macFromIp, PacketDevice } from '../ring/packet/packet_device';
import { Poller } from '../ring/poller';
import { Ring } from '../ring/ring';
import { createLink, type Link } from '../test/helpers/netns';

const SECS = Number(process.argv[2] ?? 3);
const PORT = 9200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function buildBlaster(): string {
  const out = `/tmp/tsvma-udpblast-${process.pid}`;
  // dist/bench/… or bench/… (run through a TS loader): find the C source either way.
  const src = [path.join(__dirname, 'udpblast.c'), path.join(__dirname, '..', '..', 'bench', 'udpblast.c')].find((p) => fs.existsSync(p))!;
  execFileSync('gcc', ['-O2', '-o', out, src]);
  return out;
}

async function blast(link: Link, blaster: string, secs = SECS): Promise<number> {
  const r = await link.b.exec(blaster, [link.a.ip, String(PORT), String(secs), '64'], { timeoutMs: (secs + 10) * 1000 });
  if (r.code !== 0) throw new Error(`udpblast failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

async function main(): Promise<void> {
  const blaster = buildBlaster();
  const link = await createLink({ tag: 'brx', assignIpA: false });
  try {
    // 1. the packet ring
    const ip = parseIp(link.a.ip);
    const mac = macFromIp(ip);
    const dev = new PacketDevice({ ifname: link.a.ifname, mac, netns: link.a.ns, rxFrames: 4096, maxBurst: 64 });
    const ring = new Ring(dev, { rxBufs: 8192, txBufs: 64, burst: 64 });
    let got = 0;
    ring.flows.attachPort(17, PORT, (id) => {
      got++;
      ring.rxPool.release(id);
    });
    let other = 0;
    ring.defaultSink = (id) => {
      other++;
      ring.rxPool.release(id);
    };
    const poller = new Poller([ring], [], { budget: 256, idleTurns: Number(process.env.IDLE_TURNS ?? 200) });
    poller.start();
    await link.b.exec('ip', ['neigh', 'replace', link.a.ip, 'lladdr', formatMac(mac), 'dev', link.b.ifname, 'nud', 'permanent']);
    await sleep(300);
    const p0 = { ...poller.counters };
    const c0 = process.cpuUsage();
    const sentRing = await blast(link, blaster);
    await sleep(200);
    const cpu = process.cpuUsage(c0);
    const cpuRing = (cpu.user + cpu.system) / 1e6;
    const devStats = dev.stats();
    const turns = poller.counters.turns - p0.turns;
    const sleeps = poller.counters.sleeps - p0.sleeps;
    poller.stop();
    // Drain ceiling: with the poller stopped, let a short blast fill the ring, then time one drain.
    await sleep(100);
    await blast(link, blaster, 0.3);
    await sleep(100);
    const before = got;
    const t0 = process.hrtime.bigint();
    while (ring.poll(0, 1 << 20) > 0);
    const drainNs = Number(process.hrtime.bigint() - t0);
    const drained = got - before;
    ring.close();

    // 2. Node dgram on the same link, the kernel owning the address now
    await link.b.exec('ip', ['neigh', 'del', link.a.ip, 'dev', link.b.ifname]);
    await link.a.exec('ip', ['addr', 'add', `${link.a.ip}/24`, 'dev', link.a.ifname]);
    const child = link.a.spawn(process.execPath, ['-e', `
      const d = require('node:dgram').createSocket('udp4'); let n = 0;
      d.on('message', () => { n++; });
      d.bind(${PORT}, '${link.a.ip}', () => { d.setRecvBufferSize(4 << 20); process.stdout.write('ready\\n'); });
      // \`ip netns exec\` execs node in place, so signals reach it: USR1 starts the window, TERM ends it.
      process.on('SIGUSR1', () => { globalThis.c0 = process.cpuUsage(); globalThis.n0 = n; });
      process.on('SIGTERM', () => { const u = process.cpuUsage(globalThis.c0); process.stdout.write(JSON.stringify({ n: n - globalThis.n0, cpu: (u.user + u.system) / 1e6 }) + '\\n'); process.exit(0); });`]);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 500 && !out.includes('ready'); i++) await sleep(10);
    await link.b.exec('ping', ['-c', '1', '-W', '1', link.a.ip]); // ARP both ways
    child.kill('SIGUSR1');
    const sentDgram = await blast(link, blaster);
    await sleep(300);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
    const dgram = JSON.parse(out.trim().split('\n').pop()!) as { n: number; cpu: number };

    const fpsRing = got / SECS;
    const fpsDgram = dgram.n / SECS;
    const perCpuRing = got / Math.max(cpuRing, 1e-3);
    const perCpuDgram = dgram.n / Math.max(dgram.cpu, 1e-3);
    console.log(`receive, ${SECS} s of 64-byte UDP from udpblast (sendmmsg ×64) in the peer namespace, one veth, ${new Date().toISOString()}:`);
    console.log(`  packet ring (PacketDevice + Ring + Poller): ${got} of ${sentRing} sent (${((100 * got) / sentRing).toFixed(1)} %), ${Math.round(fpsRing)} frames/s; receiver CPU ${cpuRing.toFixed(2)} s → ${Math.round(perCpuRing)} frames per CPU-second; kernel ring drops ${devStats.kernelDrops}; poller ${turns} turns, ${sleeps} sleeps; other frames ${other}`);
    console.log(`  Node dgram (4 MiB rcvbuf):                  ${dgram.n} of ${sentDgram} sent (${((100 * dgram.n) / sentDgram).toFixed(1)} %), ${Math.round(fpsDgram)} frames/s; receiver CPU ${dgram.cpu.toFixed(2)} s → ${Math.round(perCpuDgram)} frames per CPU-second`);
    console.log(`  packet ring drain ceiling: ${drained} frames waiting in the ring drained in ${(drainNs / 1e6).toFixed(2)} ms = ${(drainNs / Math.max(drained, 1)).toFixed(0)} ns/frame (${((drained / drainNs) * 1e3).toFixed(2)} M frames/s): device slot → pool copy → flow demux → sink`);
    console.log(`  ratio ring/dgram: delivered rate ${(fpsRing / fpsDgram).toFixed(2)}×, frames per CPU-second ${(perCpuRing / perCpuDgram).toFixed(2)}×`);
  } finally {
    await link.destroy();
    fs.rmSync(blaster, { force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
