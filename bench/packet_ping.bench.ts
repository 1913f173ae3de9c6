/**
 * Ping RTT from the kernel peer: to tsvma's address (an Engine on the packet device: ring, stack,
 * poller answering ICMP echo) vs to a kernel address over an identical veth, same run.
 *
 * Warm-up first, as sockperf does: V8 runs the reply path interpreted until it has seen it often
 * enough (cold, one reply costs ~50 µs of JS; warm ~3 µs), so 20 000 flood pings go to each side
 * before 500 pings at 5 ms spacing are timed. At that spacing the poller's adaptive window (2× the
 * gap, up to 10 ms) keeps it hot between pings; ADAPTIVE_US=0 turns the window off, so it sleeps
 * after IDLE_TURNS empty turns (default 200) and each ping pays the wake-up; IDLE_TURNS=-1 busy-polls
 * (VMA_RX_POLL=-1; the poller is kept alive for it, as an open socket would).
 * Run as root: npm run build && node dist/bench/packet_ping.bench.js [pings=500]
 */
import { Engine } from '../lib/engine';
import { parseIp } from '../proto/wire/addr';
import { macFromIp, PacketDevice } from '../ring/packet/packet_device';
import { createLink, type Link } from '../test/helpers/netns';

const PINGS = Number(process.argv[2] ?? 500);
const IDLE_TURNS = Number(process.env.IDLE_TURNS ?? 200);
const ADAPTIVE_US = process.env.ADAPTIVE_US === undefined ? undefined : Number(process.env.ADAPTIVE_US);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function pingTimes(link: Link, dst: string, n: number): Promise<number[]> {
  const r = await link.b.exec('ping', ['-c', String(n), '-i', '0.005', '-W', '1', dst], { timeoutMs: 60000 + n * 20 });
  return [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000);
}

async function main(): Promise<void> {
  const tl = await createLink({ tag: 'bt', assignIpA: false });
  const kl = await createLink({ tag: 'bk' });
  let engine: Engine | null = null;
  try {
    const ip = parseIp(tl.a.ip);
    engine = new Engine({ device: new PacketDevice({ ifname: tl.a.ifname, mac: macFromIp(ip), netns: tl.a.ns, rxFrames: 4096 }), ip, prefix: 24, ring: { rxBufs: 8192 }, poller: { idleTurns: IDLE_TURNS, adaptiveUs: ADAPTIVE_US } });
    // Never sleeping holds only while something keeps the process alive (a ref'd socket, in a program).
    if (IDLE_TURNS < 0) engine.poller.setKeepAlive(true);
    await tl.b.exec('ping', ['-c', '1', tl.a.ip]); // resolve ARP both ways first
    await tl.b.exec('ping', ['-f', '-c', '20000', '-q', tl.a.ip], { timeoutMs: 60000 });
    await kl.b.exec('ping', ['-f', '-c', '20000', '-q', kl.a.ip], { timeoutMs: 60000 });
    const p0 = { ...engine.poller.counters };
    const pt = await pingTimes(tl, tl.a.ip, PINGS);
    const pk = await pingTimes(kl, kl.a.ip, PINGS);
    const pc = engine.poller.counters;
    console.log(`ping RTT from the kernel peer, ${PINGS} pings at 5 ms after 20000 warm-up pings (poller idleTurns ${IDLE_TURNS}, adaptiveUs ${ADAPTIVE_US ?? 'default'}; ${pc.sleeps - p0.sleeps} sleeps, ${pc.fdWakeups - p0.fdWakeups} fd wake-ups while timed), ${new Date().toISOString()}:`);
    console.log(`  to tsvma:  p50 ${pct(pt, 50).toFixed(0)} µs, p99 ${pct(pt, 99).toFixed(0)} µs (${pt.length} replies)`);
    console.log(`  to kernel: p50 ${pct(pk, 50).toFixed(0)} µs, p99 ${pct(pk, 99).toFixed(0)} µs (${pk.length} replies)`);
    console.log(`  ratio p50 tsvma/kernel: ${(pct(pt, 50) / pct(pk, 50)).toFixed(2)}×`);
  } finally {
    engine?.close();
    await tl.destroy();
    await kl.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
