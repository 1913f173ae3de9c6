/**
 * The extra API (lib/extra, issue 8) against 'message' events and Node's own sockets, in one run.
 * One veth per part (test/helpers/netns: namespaces a and b, 198.18.0.0/15; removed at the end, also
 * on failure). tsvma processes run in a on the packet device (TSVMA_DEVICE=packet:<a's veth>,
 * TSVMA_ADDR=<a.ip>/24: tsvma owns .2 with a MAC of its own); the Node dgram baselines run on the
 * same veth through the kernel.
 *
 * 1. Receive. The C blaster (bench/udpblast.ts) in b sends 64-byte datagrams at a receiver child in
 *    a (4 MiB receive buffer), which counts them in one of four ways:
 *    (a) 'message' events: tsvma/dgram copies each datagram into a Buffer of its own (the copying
 *        receive, as Node's API requires);
 *    (b) register_recv_callback returning VMA_PACKET_DROP: the callback gets a view of the ring
 *        buffer inside the stack's dispatch and counts it; nothing is queued, no Buffer is made;
 *    (c) no 'message' listener (datagrams wait in the socket queue) and a setImmediate loop draining
 *        it with recvfrom_zcopy + free_packets: a view of the ring buffer, no copy;
 *    (d) Node dgram on the kernel (side a's kernel gets a.ip after the tsvma modes), 'message'.
 *    Stream: RX_SECS of blast; delivered datagrams/s, receiver CPU over the window
 *    (process.cpuUsage), datagrams per receiver CPU-second. On this 2-vCPU machine the sender and
 *    the receiver share the cores, so where nearly all datagrams arrive the rate is the sender's,
 *    and a receiver that polls spends its core whatever the load.
 *    Backlog: the receiver's event loop sleeps BLOCK_MS (Atomics.wait) while a 0.3 s blast fills
 *    what is in front of it (tsvma: the packet socket's ring, 4096 frames; Node: the kernel socket
 *    queue), then the drain is timed from the first datagram counted to the last, with the sender
 *    done: the receive path's own cost per datagram. DRAINS times per mode and payload size (64 B,
 *    and 1400 B where a copy costs more), the median reported.
 * 2. Ping-pong. A real `sockperf pp -m 64 --full-rtt` (C, kernel sockets) in b against an echo
 *    server in a that answers as sockperf's server does (client flag cleared, same bytes back):
 *    (a) tsvma, 'message' + socket.send; (b) tsvma, 'message' + api.send (the extra API's
 *    synchronous send(2)); (c) tsvma, api.send from inside the receive callback, which then returns
 *    VMA_PACKET_DROP; (d) Node dgram on the kernel (a's kernel owns .3 on the same veth),
 *    'message' + socket.send. Each server is warmed by a discarded `-t 1` run (V8 compiles the
 *    reply path only after running it often; see packet_ping.bench.ts). ROUNDS rounds, interleaved.
 *    Reported: sockperf's RTT p50/p99/average (µs) and the server's CPU over the measured run.
 * 3. Sparse send. A client in a sends one 64-byte sockperf message every 10 ms to a real
 *    `sockperf sr` (kernel) in b and times each round trip (process.hrtime, from just before the
 *    send call to 'message'), after WARMUP back-to-back round trips: (a) tsvma, nothing between
 *    messages; (b) tsvma, sendDummy (VMA_SND_FLAGS_DUMMY: the TX path runs, nothing goes on the
 *    wire) every 1 ms; (c) Node dgram on the kernel (.3); (d) for reference, sockperf's own C client
 *    at --mps 100 from .3. ROUNDS rounds, interleaved; samples pooled over the rounds. A reply that
 *    comes after the next message is still timed; lost = never answered (100 ms after the last).
 *    Reported: RTT p50/p99/average/max (µs), tsvma's send() call p50 (Node's defers its sendmsg
 *    to a later tick, so its call time says nothing), the poller's sleeps and fd wake-ups.
 *
 * The same file is each child (`node extra.bench.js child <role> ...`), started through
 * `ip netns exec <ns> env -i ...` so only the variables set here reach it.
 * Run as root: npm run build && node dist/bench/extra.bench.js [rxSeconds=2] [ppSeconds=2] [sparseMessages=300] [rounds=2]
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { createLink, type Host, type Link } from '../test/helpers/netns';
import { blast, BLAST_PORT, buildBlaster } from './udpblast';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// sockperf's message header (bin/perf/message.ts): seq u64, flags u16 (1 client, 2 pong wanted, 4 warm-up), length u32.
const FLAG_CLIENT = 1;
const FLAG_PONG = 2;
const FLAG_WARMUP = 4;
const MSG_SIZE = 64;
const PP_PORT = 11111;
const SPARSE_PORT = 11112;
const SPARSE_GAP_MS = 10;
const DUMMY_EVERY_MS = 1;
const WARMUP = 5000;
const BLOCK_MS = 700;
const DRAINS = 3;
/** Payload sizes of the backlog drains: the stream's 64 bytes, and 1400 where a copy costs more. */
const DRAIN_SIZES = [64, 1400];

// ---------------------------------------------------------------------------------------------
// Children

type Dgram = typeof import('node:dgram');

/**
 * A child's UDP socket: dist/lib/dgram.js for tsvma, with the extra API's module (`lib`); node:dgram
 * on the kernel (mode 'node', `lib` null).
 */
async function openSocket(mode: string): Promise<{ d: import('node:dgram').Socket; lib: typeof import('../lib/index') | null }> {
  if (mode === 'node') return { d: (await import('node:dgram')).createSocket('udp4'), lib: null };
  const dgram = (await import('../lib/dgram')) as unknown as Dgram;
  return { d: dgram.createSocket('udp4'), lib: await import('../lib/index') };
}

/** One line of JSON the parent waits for. */
function say(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const isOffloaded = (d: object): boolean => (d as { offloaded?: boolean }).offloaded === true;

/**
 * Receiver. SIGUSR1 starts the stream window; the first SIGUSR2 ends it, and every SIGUSR2 puts the
 * event loop to sleep for BLOCK_MS, after which the datagrams counted are timed (the drain); SIGTERM
 * prints the window and the drains.
 */
async function childRx(mode: string, ip: string): Promise<void> {
  const { d, lib } = await openSocket(mode);
  let n = 0;
  let zc = 0;
  let err = '';
  let armed = false;
  let drained = 0;
  let first = 0n;
  let last = 0n;
  const drains: { n: number; ns: number }[] = [];
  const got = (): void => {
    n++;
    if (armed) {
      last = process.hrtime.bigint();
      if (drained++ === 0) first = last;
    }
  };
  const endDrain = (): void => {
    if (armed) drains.push({ n: drained, ns: Number(last - first) });
    armed = false;
    drained = 0;
  };
  if (mode === 'message' || mode === 'node') d.on('message', got);
  d.bind(BLAST_PORT, ip, () => {
    d.setRecvBufferSize(4 << 20);
    if (lib) {
      const api = lib.getVmaApi()!;
      if (mode === 'drop') {
        const r = api.register_recv_callback(d, () => {
          got();
          return lib.VMA_PACKET_DROP;
        });
        if (r !== 0) err = `register_recv_callback: ${api.code}`;
      } else if (mode === 'zcopy') {
        const loop = (): void => {
          for (;;) {
            const r = api.recvfrom_zcopy(d, 2048);
            if (r === -1) {
              if (api.code !== 'EAGAIN') err = `recvfrom_zcopy: ${api.code}`;
              break;
            }
            got();
            if ((r.flags & lib.MSG_VMA_ZCOPY) !== 0) zc++;
            api.free_packets(d, r.packets);
          }
          setImmediate(loop);
        };
        setImmediate(loop);
      }
    }
    let c0 = process.cpuUsage();
    let n0 = 0;
    let zc0 = 0;
    let win: { n: number; cpu: number; zcopy: number } | null = null;
    process.on('SIGUSR1', () => {
      c0 = process.cpuUsage();
      n0 = n;
      zc0 = zc;
    });
    process.on('SIGUSR2', () => {
      if (!win) {
        const u = process.cpuUsage(c0);
        win = { n: n - n0, cpu: (u.user + u.system) / 1e6, zcopy: zc - zc0 };
      }
      endDrain();
      setImmediate(() => {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, BLOCK_MS);
        armed = true;
      });
    });
    process.on('SIGTERM', () => {
      endDrain();
      say({ ...win, err, drains });
      process.exit(0);
    });
    say({ ready: true, offloaded: isOffloaded(d) });
  });
}

/** Echo server: answers sockperf client messages that want a pong, as sockperf's server does. */
async function childEcho(mode: string, ip: string): Promise<void> {
  const { d, lib } = await openSocket(mode);
  let n = 0;
  let err = '';
  const wantsPong = (b: Uint8Array): boolean => b.length >= 14 && (b[9] & FLAG_CLIENT) !== 0 && (b[9] & FLAG_WARMUP) === 0 && (b[9] & FLAG_PONG) !== 0;
  d.bind(PP_PORT, ip, () => {
    const api = lib?.getVmaApi() ?? null;
    const to = { address: '', port: 0 };
    if (mode === 'message' || mode === 'node') {
      d.on('message', (msg, rinfo) => {
        if (!wantsPong(msg)) return;
        msg[9] &= ~FLAG_CLIENT;
        n++;
        d.send(msg, rinfo.port, rinfo.address);
      });
    } else if (mode === 'message-apisend') {
      d.on('message', (msg, rinfo) => {
        if (!wantsPong(msg)) return;
        msg[9] &= ~FLAG_CLIENT;
        n++;
        to.address = rinfo.address;
        to.port = rinfo.port;
        if (api!.send(d, msg, 0, to) < 0) err = `send: ${api!.code}`;
      });
    } else if (mode === 'callback') {
      const r = api!.register_recv_callback(d, (fd, iov, info) => {
        const b = iov[0];
        if (wantsPong(b)) {
          b[9] &= ~FLAG_CLIENT; // the ring buffer itself: it is dropped right after
          n++;
          if (api!.send(fd, b, 0, info.src) < 0) err = `send: ${api!.code}`;
        }
        return lib!.VMA_PACKET_DROP;
      });
      if (r !== 0) err = `register_recv_callback: ${api!.code}`;
    }
    let c0 = process.cpuUsage();
    let n0 = 0;
    process.on('SIGUSR1', () => {
      c0 = process.cpuUsage();
      n0 = n;
    });
    process.on('SIGTERM', () => {
      const u = process.cpuUsage(c0);
      say({ n: n - n0, cpu: (u.user + u.system) / 1e6, err });
      process.exit(0);
    });
    say({ ready: true, offloaded: isOffloaded(d) });
  });
}

/** Sparse client: WARMUP back-to-back round trips, then `count` messages SPARSE_GAP_MS apart; prints the samples and exits. */
async function childSparse(mode: string, ip: string, server: string, countArg: string): Promise<void> {
  const count = Number(countArg);
  const dummy = mode === 'dummy';
  const { d, lib } = await openSocket(mode);
  const rtMod = lib ? await import('../lib/runtime') : null;
  const msg = Buffer.alloc(MSG_SIZE);
  msg.writeUInt16BE(FLAG_CLIENT | FLAG_PONG, 8);
  msg.writeUInt32BE(MSG_SIZE, 10);
  const dummyMsg = Buffer.from(msg);
  let seq = 0;
  let t0 = 0n;
  let onReply: (() => void) | null = null;
  // Sparse phase: each message's send time by seq, so a reply that comes after the next message still counts.
  let base = -1;
  const sentAt: bigint[] = new Array(count).fill(0n);
  const answered = new Uint8Array(count);
  const rtt: number[] = [];
  d.on('message', (m) => {
    if (m.length < 14) return;
    const s = m.readUInt32BE(4);
    if (base >= 0) {
      const i = s - base - 1;
      if (i >= 0 && i < count && answered[i] === 0) {
        answered[i] = 1;
        rtt.push(Number(process.hrtime.bigint() - sentAt[i]) / 1000);
      }
      return;
    }
    if (s !== seq || onReply === null) return; // warm-up: one outstanding message
    const f = onReply;
    onReply = null;
    f();
  });
  const send = (): void => {
    seq++;
    msg.writeUInt32BE(seq, 4);
    t0 = process.hrtime.bigint();
    if (base >= 0) sentAt[seq - base - 1] = t0;
    d.send(msg, SPARSE_PORT, server);
  };
  await new Promise<void>((r) => d.bind(0, ip, () => r()));
  let dummies = 0;
  const sendDummy = (): void => {
    lib!.sendDummy(d, dummyMsg, SPARSE_PORT, server);
    dummies++;
  };
  // Warm-up: back-to-back round trips (each with a dummy send first, in the mode that uses them).
  await new Promise<void>((resolve) => {
    let left = WARMUP;
    const next = (): void => {
      if (left-- === 0) return resolve();
      if (dummy) sendDummy();
      onReply = next;
      send();
    };
    next();
  });
  await sleep(50);
  const poller = rtMod?.runtime()?.engine.poller;
  const p0 = poller ? { ...poller.counters } : null;
  const dummies0 = dummies;
  const ticker = dummy ? setInterval(sendDummy, DUMMY_EVERY_MS) : null;
  const sendCall: number[] = [];
  base = seq;
  const start = Date.now();
  await new Promise<void>((resolve) => {
    let k = 0;
    const tick = (): void => {
      if (k === count) return void setTimeout(resolve, 100); // the last reply's time
      const due = start + ++k * SPARSE_GAP_MS;
      send();
      sendCall.push(Number(process.hrtime.bigint() - t0) / 1000);
      setTimeout(tick, Math.max(0, due - Date.now()));
    };
    tick();
  });
  const lost = count - rtt.length;
  const secs = (Date.now() - start) / 1000 - 0.1;
  if (ticker) clearInterval(ticker);
  const pc = poller?.counters;
  say({
    offloaded: isOffloaded(d), rtt, lost, sendP50: summary(sendCall).p50,
    sleeps: pc && p0 ? pc.sleeps - p0.sleeps : 0, fdWakeups: pc && p0 ? pc.fdWakeups - p0.fdWakeups : 0,
    dummies: dummies - dummies0, secs,
  });
  d.close();
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Parent

interface Summary { n: number; p50: number; p99: number; avg: number; max: number }

function summary(xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50: at(0.5), p99: at(0.99), avg: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length), max: s[s.length - 1] };
}

const median = (xs: number[]): number => summary(xs).p50;

/** Every child this process started (killed in main's finally if still running). */
const children = new Set<ChildProcess>();

interface Child {
  /** The next JSON line the child prints. */
  line(timeoutMs: number): Promise<Record<string, unknown>>;
  signal(sig: NodeJS.Signals): void;
  closed: Promise<unknown>;
}

function startChild(host: Host, env: string[], args: string[]): Child {
  const child = host.spawn('env', ['-i', `PATH=${process.env.PATH}`, 'VMA_CONFIG_FILE=/nonexistent/libvma.conf', ...env, process.execPath, __filename, 'child', ...args]);
  children.add(child);
  let out = '';
  let err = '';
  let used = 0;
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise((r) => child.once('close', r)).then(() => children.delete(child));
  return {
    async line(timeoutMs) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const nl = out.indexOf('\n', used);
        if (nl >= 0) {
          const l = out.slice(used, nl);
          used = nl + 1;
          return JSON.parse(l) as Record<string, unknown>;
        }
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > until) {
          child.kill('SIGKILL');
          throw new Error(`child ${args.join(' ')} gave no result: ${out}${err}`);
        }
        await sleep(10);
      }
    },
    signal: (sig) => child.kill(sig),
    closed,
  };
}

const tsvmaEnv = (link: Link): string[] => [`TSVMA_DEVICE=packet:${link.a.ifname}`, `TSVMA_ADDR=${link.a.ip}/24`];
/** The address a's kernel owns beside tsvma's .2 (parts 2 and 3), as in perf_veth.bench.ts. */
const kernelIp = (link: Link): string => link.subnet.replace(/\.0$/, '.3');

interface RxResult { n: number; cpu: number; sent: number; zcopy: number; err: string; drains: { n: number; ns: number }[] }

async function rxRound(link: Link, blaster: string, secs: number, mode: string): Promise<RxResult> {
  const c = startChild(link.a, mode === 'node' ? [] : tsvmaEnv(link), ['rx', mode, link.a.ip]);
  const ready = await c.line(10000);
  if (mode !== 'node' && ready.offloaded !== true) throw new Error(`rx ${mode}: the socket is not offloaded`);
  await link.b.exec('ping', ['-c', '1', '-W', '1', link.a.ip]); // ARP both ways
  c.signal('SIGUSR1');
  await sleep(50);
  const sent = await blast(link, blaster, secs);
  await sleep(300);
  for (const size of DRAIN_SIZES) {
    for (let i = 0; i < DRAINS; i++) {
      // The receiver sleeps BLOCK_MS from now; a 0.3 s blast fills what is in front of it.
      c.signal('SIGUSR2');
      const t = Date.now();
      await sleep(100);
      await blast(link, blaster, 0.3, { size });
      await sleep(Math.max(0, BLOCK_MS - (Date.now() - t)) + 400);
    }
  }
  c.signal('SIGTERM');
  const r = (await c.line(5000)) as unknown as RxResult;
  await c.closed;
  return { ...r, sent };
}

interface PpResult { p50: number; p99: number; avg: number; obs: number; cpu: number; n: number; err: string }

function parseSockperf(out: string): { p50: number; p99: number; avg: number; obs: number } {
  const clean = out.replace(new RegExp(`${String.fromCharCode(27)}\\[[\\d;]*m`, 'g'), '');
  const f = (re: RegExp): number => Number(re.exec(clean)?.[1] ?? NaN);
  return {
    p50: f(/percentile 50\.000 = +([\d.]+)/),
    p99: f(/percentile 99\.000 = +([\d.]+)/),
    avg: f(/Summary: (?:Latency|Round trip) is ([\d.]+)/),
    obs: f(/Total (\d+) observations/),
  };
}

async function ppRound(link: Link, secs: number, mode: string): Promise<PpResult> {
  const ip = mode === 'node' ? kernelIp(link) : link.a.ip;
  const c = startChild(link.a, mode === 'node' ? [] : tsvmaEnv(link), ['echo', mode, ip]);
  const ready = await c.line(10000);
  if (mode !== 'node' && ready.offloaded !== true) throw new Error(`echo ${mode}: the socket is not offloaded`);
  const pp = (t: number) => link.b.exec('sockperf', ['pp', '-i', ip, '-p', String(PP_PORT), '-m', String(MSG_SIZE), '-t', String(t), '--full-rtt'], { timeoutMs: (t + 15) * 1000 });
  await pp(1); // warm-up, discarded
  c.signal('SIGUSR1');
  const r = await pp(secs);
  c.signal('SIGTERM');
  const w = await c.line(5000);
  await c.closed;
  const s = parseSockperf(r.stdout + r.stderr);
  if (!Number.isFinite(s.p50)) throw new Error(`sockperf pp against echo ${mode}: ${r.stdout}${r.stderr}`);
  return { ...s, cpu: w.cpu as number, n: w.n as number, err: w.err as string };
}

interface SparseResult { rtt: number[]; lost: number; sendP50: number; sleeps: number; fdWakeups: number; dummies: number; secs: number; offloaded: boolean }

async function sparseRound(link: Link, count: number, mode: string): Promise<SparseResult> {
  const ip = mode === 'node' ? kernelIp(link) : link.a.ip;
  const c = startChild(link.a, mode === 'node' ? [] : tsvmaEnv(link), ['sparse', mode, ip, link.b.ip, String(count)]);
  const r = (await c.line(30000 + count * SPARSE_GAP_MS * 3)) as unknown as SparseResult;
  await c.closed;
  if (mode !== 'node' && r.offloaded !== true) throw new Error(`sparse ${mode}: the socket is not offloaded`);
  return r;
}

const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const k = (x: number): string => Math.round(x).toLocaleString('en-US').replace(/,/g, ' ');
const us = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  const RX_SECS = Number(process.argv[2] ?? 2);
  const PP_SECS = Number(process.argv[3] ?? 2);
  const SPARSE = Number(process.argv[4] ?? 300);
  const ROUNDS = Number(process.argv[5] ?? 2);
  const t0 = Date.now();
  console.log(`extra API bench, ${new Date().toISOString()}, load ${load()}, node ${process.version}, ${os.cpus().length} CPUs`);
  const blaster = buildBlaster();
  const links: Link[] = [];
  try {
    // 1. Receive
    const rl = await createLink({ tag: 'xrx', assignIpA: false });
    links.push(rl);
    const rx: Record<string, RxResult> = {};
    for (const mode of ['message', 'drop', 'zcopy']) {
      await rl.b.exec('ip', ['neigh', 'del', rl.a.ip, 'dev', rl.b.ifname]);
      rx[mode] = await rxRound(rl, blaster, RX_SECS, mode);
    }
    // Node dgram: the kernel owns a.ip now (tsvma is gone), as packet_rx.bench.ts does.
    await rl.b.exec('ip', ['neigh', 'del', rl.a.ip, 'dev', rl.b.ifname]);
    await rl.a.exec('ip', ['addr', 'add', `${rl.a.ip}/24`, 'dev', rl.a.ifname]);
    rx.node = await rxRound(rl, blaster, RX_SECS, 'node');
    console.log(`\n1. receive: 64-byte UDP from udpblast (C, sendmmsg ×64) in b, one veth, receiver in a (4 MiB rcvbuf); load ${load()}`);
    console.log(`   stream: ${RX_SECS} s of blast; backlog: receiver asleep ${BLOCK_MS} ms while 0.3 s of blast fills its ring/queue, then the drain timed (median of ${DRAINS}, payloads ${DRAIN_SIZES.join(' and ')} B)`);
    const rxNames: Record<string, string> = {
      message: "(a) tsvma 'message' events (copying receive)",
      drop: '(b) tsvma register_recv_callback → DROP',
      zcopy: "(c) tsvma recvfrom_zcopy + free_packets, no 'message'",
      node: '(d) Node dgram (kernel)',
    };
    const drainsOf = (r: RxResult, si: number): { n: number; ns: number }[] => r.drains.slice(si * DRAINS, (si + 1) * DRAINS);
    const drainNs = (r: RxResult, si: number): number => median(drainsOf(r, si).map((x) => x.ns / Math.max(1, x.n)));
    const base = rx.node;
    for (const [mode, r] of Object.entries(rx)) {
      const rate = r.n / RX_SECS;
      const per = r.n / Math.max(r.cpu, 1e-3);
      const zc = mode === 'zcopy' ? `, ${k(r.zcopy)} of them zero-copy` : '';
      console.log(`  ${rxNames[mode].padEnd(56)} stream: ${k(r.n)} of ${k(r.sent)} sent (${((100 * r.n) / r.sent).toFixed(1)} %), ${k(rate)}/s; CPU ${r.cpu.toFixed(2)} s → ${k(per)} per CPU-s${zc}; vs Node ${ratio(rate, base.n / RX_SECS)} rate, ${ratio(per, base.n / Math.max(base.cpu, 1e-3))} per CPU-s${r.err ? `; error ${r.err}` : ''}`);
      DRAIN_SIZES.forEach((size, si) => {
        const dn = drainNs(r, si);
        console.log(`  ${''.padEnd(56)} backlog ${size} B: ${drainsOf(r, si).map((x) => `${k(x.n)} in ${(x.ns / 1e6).toFixed(2)} ms`).join(', ')} → ${dn.toFixed(0)} ns each (${k(1e9 / dn)}/s), vs Node ${ratio(drainNs(base, si), dn)} speed`);
      });
    }

    // 2. Ping-pong
    const pl = await createLink({ tag: 'xpp', assignIpA: false });
    links.push(pl);
    await pl.a.exec('ip', ['addr', 'add', `${kernelIp(pl)}/24`, 'dev', pl.a.ifname]);
    const ppModes = ['message', 'message-apisend', 'callback', 'node'];
    const pp: Record<string, PpResult[]> = Object.fromEntries(ppModes.map((m) => [m, []]));
    for (let round = 0; round < ROUNDS; round++) for (const mode of ppModes) pp[mode].push(await ppRound(pl, PP_SECS, mode));
    console.log(`\n2. ping-pong: sockperf pp -m 64 -t ${PP_SECS} --full-rtt (C, kernel) in b → echo server in a, each after a 1 s warm-up run; ${ROUNDS} rounds interleaved; RTT µs; load ${load()}`);
    const ppNames: Record<string, string> = {
      message: "(a) tsvma 'message' + socket.send",
      'message-apisend': "(b) tsvma 'message' + api.send",
      callback: '(c) tsvma callback: api.send, then DROP',
      node: '(d) Node dgram (kernel) message + send',
    };
    const nodeP50 = mean(pp.node.map((r) => r.p50));
    const nodeP99 = mean(pp.node.map((r) => r.p99));
    for (const mode of ppModes) {
      const rs = pp[mode];
      const list = (f: (r: PpResult) => number): string => rs.map((r) => us(f(r))).join(', ');
      const errs = rs.map((r) => r.err).filter((e) => e).join('; ');
      console.log(`  ${ppNames[mode].padEnd(42)} p50 ${list((r) => r.p50)}  p99 ${list((r) => r.p99)}  avg ${list((r) => r.avg)}  (obs ${rs.map((r) => r.obs).join(', ')}; server CPU ${rs.map((r) => `${((100 * r.cpu) / PP_SECS).toFixed(0)} %`).join(', ')}); mean p50 vs Node ${ratio(mean(rs.map((r) => r.p50)), nodeP50)}, p99 ${ratio(mean(rs.map((r) => r.p99)), nodeP99)}${errs ? `; errors ${errs}` : ''}`);
    }

    // 3. Sparse send
    const sl = await createLink({ tag: 'xsp', assignIpA: false });
    links.push(sl);
    await sl.a.exec('ip', ['addr', 'add', `${kernelIp(sl)}/24`, 'dev', sl.a.ifname]);
    const server = sl.b.spawn('sockperf', ['sr', '-i', sl.b.ip, '-p', String(SPARSE_PORT)]);
    children.add(server);
    await sleep(300);
    const spModes = ['plain', 'dummy', 'node'];
    const sp: Record<string, SparseResult[]> = Object.fromEntries(spModes.map((m) => [m, []]));
    const spc: ReturnType<typeof parseSockperf>[] = [];
    const spSecs = Math.max(1, Math.round((SPARSE * SPARSE_GAP_MS) / 1000));
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of spModes) sp[mode].push(await sparseRound(sl, SPARSE, mode));
      // Reference: sockperf's own client (C, blocking receive) at the same pace from a's kernel address.
      const sr = await sl.a.exec('sockperf', ['pp', '-i', sl.b.ip, '-p', String(SPARSE_PORT), '--client_ip', kernelIp(sl), '-m', String(MSG_SIZE), '--mps', String(1000 / SPARSE_GAP_MS), '-t', String(spSecs), '--full-rtt'], { timeoutMs: (spSecs + 15) * 1000 });
      spc.push(parseSockperf(sr.stdout + sr.stderr));
    }
    server.kill('SIGTERM');
    console.log(`\n3. sparse send: one 64-byte message every ${SPARSE_GAP_MS} ms, ${SPARSE} per round × ${ROUNDS} rounds (pooled), from a to sockperf sr (kernel) in b, after ${WARMUP} back-to-back round trips; RTT µs; load ${load()}`);
    const spNames: Record<string, string> = {
      plain: '(a) tsvma, nothing between messages',
      dummy: `(b) tsvma, sendDummy every ${DUMMY_EVERY_MS} ms`,
      node: '(c) Node dgram (kernel)',
    };
    const pooled = (mode: string): Summary => summary(sp[mode].flatMap((r) => r.rtt));
    const nodeSp = pooled('node');
    for (const mode of spModes) {
      const rs = sp[mode];
      const s = pooled(mode);
      const perRound = rs.map((r) => us(summary(r.rtt).p50)).join(', ');
      const lost = rs.reduce((a, r) => a + r.lost, 0);
      const poll = mode !== 'node' ? `; send() call p50 ${rs.map((r) => us(r.sendP50)).join(', ')}; poller ${rs.map((r) => r.sleeps).join(', ')} sleeps, ${rs.map((r) => r.fdWakeups).join(', ')} fd wake-ups` : '';
      const dm = mode === 'dummy' ? `; ${rs.map((r) => k(r.dummies / r.secs)).join(', ')} dummies/s` : '';
      console.log(`  ${spNames[mode].padEnd(38)} p50 ${us(s.p50)}  p99 ${us(s.p99)}  avg ${us(s.avg)}  max ${us(s.max)}  (${s.n} samples, ${lost} lost; p50 per round ${perRound}${poll}${dm}); p50 vs Node ${ratio(s.p50, nodeSp.p50)}, p99 ${ratio(s.p99, nodeSp.p99)}`);
    }
    const list = (f: (r: ReturnType<typeof parseSockperf>) => number): string => spc.map((r) => us(f(r))).join(', ');
    console.log(`  ${'(d) sockperf pp --mps 100 (C, kernel)'.padEnd(38)} p50 ${list((r) => r.p50)}  p99 ${list((r) => r.p99)}  avg ${list((r) => r.avg)}  (per round, -t ${spSecs}, ${spc.map((r) => r.obs).join(', ')} observations); mean p50 vs Node ${ratio(mean(spc.map((r) => r.p50)), nodeSp.p50)}`);
    console.log(`\ndone in ${((Date.now() - t0) / 1000).toFixed(0)} s, load ${load()}`);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    for (const l of links) await l.destroy();
    fs.rmSync(blaster, { force: true });
  }
}

if (process.argv[2] === 'child') {
  const [role, ...args] = process.argv.slice(3);
  const run = role === 'rx' ? childRx(args[0], args[1]) : role === 'echo' ? childEcho(args[0], args[1]) : role === 'sparse' ? childSparse(args[0], args[1], args[2], args[3]) : Promise.reject(new Error(`unknown role ${role}`));
  run.catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
