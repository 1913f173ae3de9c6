/**
 * Receive rate over one veth from one sender in one run: the packet device at the ring level, a
 * tsvma/dgram socket on it, and a Node dgram socket on the kernel.
 *
 * The C sender (bench/udpblast.ts) in namespace b blasts 64-byte UDP datagrams at side a for N
 * seconds, three times:
 *   1. side a has no kernel address; b has a static ARP entry for the device's own MAC; frames land
 *      in the TPACKET_V2 ring (PacketDevice + Ring + ring/poller, no stack) and a ring flow sink
 *      counts those carrying the port; then the drain ceiling: with the poller stopped, a short
 *      blast fills the ring and one drain is timed;
 *   2. a tsvma/dgram socket (offloaded: TSVMA_DEVICE=packet, 4 MiB receive buffer) in a child process
 *      in namespace a counts 'message' events: ring + stack + socket + a Buffer per datagram;
 *   3. side a gets the address in the kernel; a Node dgram socket in a child process (4 MiB receive
 *      buffer) counts 'message' events.
 * Reported: datagrams sent/received, per second, receiver CPU (process.cpuUsage over the window) and
 * per receiver CPU-second, and the ratios against Node dgram.
 * Run as root: npm run build && node dist/bench/packet_rx.bench.js [seconds=3]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatMac, parseIp } from '../proto/wire/addr';
import { macFromIp, PacketDevice } from '../ring/packet/packet_device';
import { Poller } from '../ring/poller';
import { Ring } from '../ring/ring';
import { createLink, type Host, type Link } from '../test/helpers/netns';
import { blast, BLAST_PORT as PORT, buildBlaster } from './udpblast';

const SECS = Number(process.argv[2] ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** tsvma/dgram as built (dist/lib/dgram.js), or the TypeScript source through the tests' swc loader. */
function tsvmaDgram(): { module: string; preload: string[] } {
  const js = path.join(__dirname, '..', 'lib', 'dgram.js');
  if (fs.existsSync(js)) return { module: js, preload: [] };
  return { module: path.join(__dirname, '..', 'lib', 'dgram.ts'), preload: ['-r', path.join(__dirname, '..', 'test', 'net', 'swc-register.cjs')] };
}

/**
 * A child in `host` counting 'message' events on `module`'s dgram socket bound to ip:PORT: SIGUSR1
 * starts the window, SIGTERM ends it and prints { n, cpu }. Resolves once it is bound.
 */
async function counter(host: Host, link: Link, module: string, preload: string[], ip: string, env: string[]): Promise<{ run: () => Promise<{ n: number; cpu: number; sent: number }> }> {
  const child = host.spawn('env', ['-i', `PATH=${process.env.PATH}`, 'VMA_CONFIG_FILE=/nonexistent/libvma.conf', ...env, process.execPath, ...preload, '-e', `
    const d = require(${JSON.stringify(module)}).createSocket('udp4'); let n = 0;
    d.on('message', () => { n++; });
    d.bind(${PORT}, '${ip}', () => { d.setRecvBufferSize(4 << 20); process.stdout.write('ready ' + (d.offloaded === true) + '\\n'); });
    // \`ip netns exec\` and env exec node in place, so signals reach it: USR1 starts the window, TERM ends it.
    process.on('SIGUSR1', () => { globalThis.c0 = process.cpuUsage(); globalThis.n0 = n; });
    process.on('SIGTERM', () => { const u = process.cpuUsage(globalThis.c0); process.stdout.write(JSON.stringify({ n: n - globalThis.n0, cpu: (u.user + u.system) / 1e6 }) + '\\n'); process.exit(0); });`]);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise((r) => child.once('close', r));
  for (let i = 0; i < 500 && !out.includes('ready') && child.exitCode === null; i++) await sleep(10);
  if (!out.includes('ready')) {
    child.kill('SIGKILL');
    throw new Error(`receiver did not start: ${out}${err}`);
  }
  return {
    run: async () => {
      await link.b.exec('ping', ['-c', '1', '-W', '1', link.a.ip]); // ARP both ways
      child.kill('SIGUSR1');
      await sleep(50);
      const sent = await blast(link, blaster, SECS);
      await sleep(300);
      child.kill('SIGTERM');
      await closed;
      return { ...(JSON.parse(out.trim().split('\n').pop()!) as { n: number; cpu: number }), sent };
    },
  };
}

let blaster = '';

async function main(): Promise<void> {
  blaster = buildBlaster();
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
    const sentRing = await blast(link, blaster, SECS);
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

    // 2. tsvma/dgram, offloaded on the packet device (it answers ARP itself)
    await link.b.exec('ip', ['neigh', 'del', link.a.ip, 'dev', link.b.ifname]);
    const td = tsvmaDgram();
    const tsvma = await (await counter(link.a, link, td.module, td.preload, '0.0.0.0', [`TSVMA_DEVICE=packet:${link.a.ifname}`, `TSVMA_ADDR=${link.a.ip}/24`])).run();

    // 3. Node dgram on the same link, the kernel owning the address now
    await link.b.exec('ip', ['neigh', 'del', link.a.ip, 'dev', link.b.ifname]);
    await link.a.exec('ip', ['addr', 'add', `${link.a.ip}/24`, 'dev', link.a.ifname]);
    const dgram = await (await counter(link.a, link, 'node:dgram', [], link.a.ip, [])).run();
    const sentDgram = dgram.sent;

    const fpsRing = got / SECS;
    const fpsDgram = dgram.n / SECS;
    const perCpuRing = got / Math.max(cpuRing, 1e-3);
    const perCpuDgram = dgram.n / Math.max(dgram.cpu, 1e-3);
    console.log(`receive, ${SECS} s of 64-byte UDP from udpblast (sendmmsg ×64) in the peer namespace, one veth, ${new Date().toISOString()}:`);
    console.log(`  packet ring (PacketDevice + Ring + Poller): ${got} of ${sentRing} sent (${((100 * got) / sentRing).toFixed(1)} %), ${Math.round(fpsRing)} frames/s; receiver CPU ${cpuRing.toFixed(2)} s → ${Math.round(perCpuRing)} frames per CPU-second; kernel ring drops ${devStats.kernelDrops}; poller ${turns} turns, ${sleeps} sleeps; other frames ${other}`);
    const perCpuTsvma = tsvma.n / Math.max(tsvma.cpu, 1e-3);
    console.log(`  tsvma/dgram offloaded (4 MiB rcvbuf):       ${tsvma.n} of ${tsvma.sent} sent (${((100 * tsvma.n) / tsvma.sent).toFixed(1)} %), ${Math.round(tsvma.n / SECS)} datagrams/s; receiver CPU ${tsvma.cpu.toFixed(2)} s → ${Math.round(perCpuTsvma)} per CPU-second`);
    console.log(`  Node dgram (4 MiB rcvbuf):                  ${dgram.n} of ${sentDgram} sent (${((100 * dgram.n) / sentDgram).toFixed(1)} %), ${Math.round(fpsDgram)} frames/s; receiver CPU ${dgram.cpu.toFixed(2)} s → ${Math.round(perCpuDgram)} frames per CPU-second`);
    console.log(`  packet ring drain ceiling: ${drained} frames waiting in the ring drained in ${(drainNs / 1e6).toFixed(2)} ms = ${(drainNs / Math.max(drained, 1)).toFixed(0)} ns/frame (${((drained / drainNs) * 1e3).toFixed(2)} M frames/s): device slot → pool copy → flow demux → sink`);
    console.log(`  ratio ring/Node dgram: delivered rate ${(fpsRing / fpsDgram).toFixed(2)}×, frames per CPU-second ${(perCpuRing / perCpuDgram).toFixed(2)}×`);
    console.log(`  ratio tsvma/dgram / Node dgram: delivered rate ${(tsvma.n / SECS / fpsDgram).toFixed(2)}×, per CPU-second ${(perCpuTsvma / perCpuDgram).toFixed(2)}×`);
  } finally {
    await link.destroy();
    fs.rmSync(blaster, { force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
