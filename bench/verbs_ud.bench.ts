/**
 * verbs bench, inside rxe-vm (soft-RoCE rxe0 ⇄ rxe1 over a veth pair, one VM run):
 *   1. UD ping-pong latency, same devices, message size (-s 1024), count (-n ITERS) and GID index,
 *      rounds alternating: C ibv_ud_pingpong; tsvma's wrappers from JS (dist/bench/verbs_peer.js);
 *      and the same peer running its loop in C inside the Node process (bench/verbs_cost.c as a
 *      shared object: what a zero-cost binding would reach there). All busy-poll their CQ.
 *   2. UDP ping-pong between two tsvma processes over the verbs-ud device (dgram → stack → ring →
 *      UD QP), for the cost of the whole stack on top.
 *   3. Cost per verbs call — ibv_poll_cq on an empty CQ, one inline 64-byte UD ibv_post_send (to
 *      the QP itself), one ibv_post_recv — from JS through koffi, from C inside this Node process,
 *      and from a plain C process (bench/verbs_cost.c), in the same VM run.
 *
 *   npm run build && node dist/bench/verbs_ud.bench.js build      # on the host: gcc the C parts
 *   ../shared/rxe/rxe-vm -- node dist/bench/verbs_ud.bench.js [ITERS] [ROUNDS]
 *   ../shared/rxe/rxe-vm -- node dist/bench/verbs_ud.bench.js pingpong|windows|ffi [ITERS] [ROUNDS]
 *
 * TSVMA_BENCH_PP lists the ping-pong variants (default `c,js,c-loop`; also `js-warm`/`c-loop-warm`:
 * TSVMA_BENCH_WARM (2000) untimed round trips first; `js-sig16`: every 16th
 * send signalled; `js-pinned`/`c-pinned`: server on CPU 0, client on CPU 1; `js-single`: node
 * --single-threaded). Numbers only (no assertion); docs/verbs.md records runs.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import koffi from 'koffi';
import { Context, IBV_QPT_UD, IBV_SEND_INLINE, IBV_SEND_SIGNALED, RecvWrs, SendWrs, WcArray } from '../verbs';

const MODE = /^[a-z]/.test(process.argv[2] ?? '') ? process.argv[2] : 'all';
const NUMS = MODE === 'all' ? process.argv.slice(2) : process.argv.slice(3);
const ITERS = Number(NUMS[0] ?? 1000);
const ROUNDS = Number(NUMS[1] ?? 2);
const SIZE = 1024;
const PEER = path.join(__dirname, 'verbs_peer.js');
const DGRAM = path.join(__dirname, '..', 'lib', 'dgram.js');
const C_SRC = path.join(__dirname, '..', '..', 'bench', 'verbs_cost.c');
const C_EXE = path.join(__dirname, 'verbs_cost');
const C_LIB = path.join(__dirname, 'libverbs_cost.so');

/** gcc bench/verbs_cost.c into dist/bench (executable + shared object) when missing or older than the source. */
function buildC(): void {
  const stale = (f: string) => !fs.existsSync(f) || fs.statSync(f).mtimeMs < fs.statSync(C_SRC).mtimeMs;
  if (stale(C_EXE)) execFileSync('gcc', ['-O2', '-Wall', '-o', C_EXE, C_SRC, '-libverbs'], { stdio: 'inherit' });
  if (stale(C_LIB)) execFileSync('gcc', ['-O2', '-Wall', '-shared', '-fPIC', '-DVERBS_COST_LIB', '-o', C_LIB, C_SRC, '-libverbs'], { stdio: 'inherit' });
}

class Proc {
  out = '';
  err = '';
  constructor(readonly p: ChildProcess) {
    p.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (this.err += d.toString()));
  }
  async until(re: RegExp, limitMs = 600000): Promise<RegExpMatchArray> {
    for (let w = 0; w < limitMs; w += 20) {
      const m = this.out.match(re);
      if (m) return m;
      if (this.p.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no ${re} (exit ${this.p.exitCode}): ${this.out} ${this.err}`);
  }
  send(s: string): void {
    this.p.stdin!.write(`${s}\n`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** argv for `cmd` pinned to `cpu` (taskset) when cpu ≥ 0. */
const pinned = (cpu: number, cmd: string, args: string[]): [string, string[]] => (cpu >= 0 ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]);

async function cPingpong(pin = false): Promise<number> {
  const args = ['-g', '1', '-s', String(SIZE), '-n', String(ITERS)];
  const server = new Proc(spawn(...pinned(pin ? 0 : -1, 'ibv_ud_pingpong', ['-d', 'rxe0', ...args])));
  try {
    for (let attempt = 0; ; attempt++) {
      await sleep(500);
      const client = new Proc(spawn(...pinned(pin ? 1 : -1, 'ibv_ud_pingpong', ['-d', 'rxe1', ...args, '198.18.0.1'])));
      try {
        const m = await client.until(/([\d.]+) usec\/iter/);
        return Number(m[1]);
      } catch (e) {
        if (attempt >= 5) throw e; // the server was not listening yet
      } finally {
        client.p.kill();
      }
    }
  } finally {
    server.p.kill();
  }
}

interface PeerOptions { nodeArgs?: string[]; env?: Record<string, string>; pin?: boolean; segments?: boolean }

async function tsvmaPingpong(o: PeerOptions & { segments: true }): Promise<number[]>;
async function tsvmaPingpong(o?: PeerOptions): Promise<number>;
async function tsvmaPingpong(o: PeerOptions = {}): Promise<number | number[]> {
  const peer = (role: string, dev: string, cpu: number) => {
    const [cmd, args] = pinned(o.pin ? cpu : -1, process.execPath, [...(o.nodeArgs ?? []), PEER, 'ud', role, dev, String(ITERS), String(SIZE)]);
    return new Proc(spawn(cmd, args, { env: { ...process.env, ...o.env } }));
  };
  const server = peer('server', 'rxe0', 0);
  const client = peer('client', 'rxe1', 1);
  try {
    const si = (await server.until(/INFO (.*)\n/))[1];
    const ci = (await client.until(/INFO (.*)\n/))[1];
    server.send(`PEER ${ci}`);
    client.send(`PEER ${si}`);
    await server.until(/READY/);
    await client.until(/READY/);
    client.send('GO');
    const done = JSON.parse((await client.until(/DONE (.*)\n/))[1]) as { usPerIter: number; ok: boolean; segments?: number[] };
    if (!done.ok) throw new Error('tsvma ping-pong: a reply came back out of order');
    return o.segments ? done.segments! : done.usPerIter;
  } finally {
    server.p.kill();
    client.p.kill();
  }
}

/** UDP echo between two tsvma processes over verbs-ud: µs per round trip (after 20 warm-up round trips). */
async function udpPingpong(): Promise<number> {
  const env = (dev: string, addr: string) => ({ ...process.env, TSVMA_DEVICE: `verbs-ud:${dev}`, TSVMA_ADDR: addr, VMA_CONFIG_FILE: '/nonexistent/libvma.conf', VMA_RX_POLL: '-1' });
  const server = new Proc(spawn(process.execPath, ['-e', `
    const s = require(${JSON.stringify(DGRAM)}).createSocket('udp4');
    s.on('message', (m, r) => s.send(m, r.port, r.address));
    s.bind(7100, () => console.log('READY'));`], { env: env('rxe0', '198.19.0.1/24') }));
  try {
    await server.until(/READY/);
    const n = ITERS;
    const client = new Proc(spawn(process.execPath, ['-e', `
      const s = require(${JSON.stringify(DGRAM)}).createSocket('udp4');
      const msg = Buffer.alloc(${SIZE - 14 - 28});
      let i = 0, t0 = 0n;
      s.on('message', () => {
        if (++i === 20) t0 = process.hrtime.bigint();
        if (i === 20 + ${n}) { console.log('DONE', Number(process.hrtime.bigint() - t0) / 1000 / ${n}); s.close(); process.exit(0); }
        s.send(msg, 7100, '198.19.0.1');
      });
      s.bind(7101, () => s.send(msg, 7100, '198.19.0.1'));`], { env: env('rxe1', '198.19.0.2/24') }));
    try {
      return Number((await client.until(/DONE ([\d.]+)/))[1]);
    } finally {
      client.p.kill();
    }
  } finally {
    server.p.kill();
  }
}

interface CallCost { pollNs: number; postNs: number; recvNs: number }

/**
 * ns per empty ibv_poll_cq, per inline ibv_post_send (UD, 64 B, to the QP itself; signalled every
 * 16th, completions reaped outside the timed call) and per ibv_post_recv (one WR): from JS through
 * context->ops as tsvma calls them, and from C (bench/verbs_cost.c) inside this process on the
 * same QP/CQ/WRs.
 */
function ffiCost(): { js: CallCost; cInNode: CallCost } {
  const ctx = Context.open('rxe0');
  const lib = koffi.load(C_LIB);
  const cPoll = lib.func('double verbs_cost_poll(void *cq, int n)');
  const cPost = lib.func('double verbs_cost_post(void *qp, void *cq, void *wr, int n)');
  const cRecv = lib.func('double verbs_cost_recv(void *qp, void *wr, int n)');
  try {
    const gi = ctx.defaultGidIndex(1);
    const pd = ctx.allocPd();
    const cq = ctx.createCq(4096);
    const qp = pd.createQp({ type: IBV_QPT_UD, sendCq: cq, maxSendWr: 1024, maxRecvWr: 1024, maxInlineData: 64 });
    qp.readyUd(1, 0x11111111);
    const wc = new WcArray(64);
    const N = 20000;
    const M = 4000;
    for (let i = 0; i < 1000; i++) cq.poll(wc, 1);
    let t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) cq.poll(wc, 1);
    const pollNs = Number(process.hrtime.bigint() - t) / N;
    const mem = Buffer.alloc(4096);
    const mr = pd.regBuffer(mem);
    const sw = new SendWrs(1);
    const ah = pd.createAh({ port: 1, dgid: ctx.queryGid(1, gi), sgidIndex: gi });
    sw.setSge(0, mr.addr, 64, mr.lkey);
    sw.setUd(0, ah.addr, qp.qpNum, 0x11111111);
    let spent = 0n;
    let inflight = 0;
    // The first 512 posts are not counted (V8 compiles the loop meanwhile).
    for (let posted = -512; posted < M; posted++) {
      sw.set(0, posted, IBV_SEND_INLINE | ((posted & 15) === 15 ? IBV_SEND_SIGNALED : 0));
      t = process.hrtime.bigint();
      const rc = qp.postSend(sw, 1);
      if (posted >= 0) spent += process.hrtime.bigint() - t;
      if (rc !== 0) throw new Error(`post_send: errno ${rc}`);
      if (++inflight >= 512) {
        while (inflight > 0) inflight -= 16 * cq.poll(wc, 64);
      }
    }
    while (inflight > 0) inflight -= 16 * cq.poll(wc, 64);
    const postNs = Number(spent) / M;
    // post_recv: one WR at a time onto a QP with room for all of them (nothing arrives).
    const rqp = (n: number) => {
      const q = pd.createQp({ type: IBV_QPT_UD, sendCq: cq, maxSendWr: 4, maxRecvWr: n });
      q.readyUd(1, 0x22222222);
      return q;
    };
    const rw = new RecvWrs(1);
    rw.setSge(0, mr.addr, 4096, mr.lkey);
    const q1 = rqp(M + 1000);
    spent = 0n;
    for (let i = -1000; i < M; i++) {
      rw.setWrId(0, i);
      t = process.hrtime.bigint();
      const rc = q1.postRecv(rw, 1);
      if (i >= 0) spent += process.hrtime.bigint() - t;
      if (rc !== 0) throw new Error(`post_recv: errno ${rc}`);
    }
    const recvNs = Number(spent) / M;
    const cInNode = {
      pollNs: cPoll(cq.ptr, N) as number,
      postNs: cPost(qp.ptr, cq.ptr, sw.ptr, M) as number,
      recvNs: cRecv(rqp(M).ptr, rw.ptr, M) as number,
    };
    wc.free();
    sw.free();
    rw.free();
    return { js: { pollNs, postNs, recvNs }, cInNode };
  } finally {
    ctx.close();
  }
}

/** The same three costs from a plain C process (dist/bench/verbs_cost). */
function cProcessCost(): CallCost {
  return JSON.parse(execFileSync(C_EXE, ['rxe0', '20000', '4000']).toString()) as CallCost;
}

const round = (c: CallCost) => ({ pollNs: Math.round(c.pollNs), postNs: Math.round(c.postNs), recvNs: Math.round(c.recvNs) });

/** Untimed round trips before the timed ones in the *-warm variants and `windows` (TSVMA_BENCH_WARM; V8 compiles the loop meanwhile). */
const WARM = Number(process.env.TSVMA_BENCH_WARM ?? 2000);
type Variant = () => Promise<number>;
const VARIANTS: Record<string, Variant> = {
  c: () => cPingpong(),
  'c-pinned': () => cPingpong(true),
  js: () => tsvmaPingpong(),
  'js-warm': () => tsvmaPingpong({ env: { TSVMA_PEER_WARMUP: String(WARM) } }),
  'c-loop-warm': () => tsvmaPingpong({ env: { TSVMA_PEER_C_LOOP: C_LIB, TSVMA_PEER_WARMUP: String(WARM) } }),
  'js-warm-rx1': () => tsvmaPingpong({ env: { TSVMA_PEER_WARMUP: String(WARM), TSVMA_PEER_RX_BATCH: '1' } }),
  'js-warm-sig16': () => tsvmaPingpong({ env: { TSVMA_PEER_WARMUP: String(WARM), TSVMA_PEER_SIGNAL_EVERY: '16' } }),
  'js-sig16': () => tsvmaPingpong({ env: { TSVMA_PEER_SIGNAL_EVERY: '16' } }),
  'js-pinned': () => tsvmaPingpong({ pin: true }),
  'js-single': () => tsvmaPingpong({ nodeArgs: ['--single-threaded'] }),
  'c-loop': () => tsvmaPingpong({ env: { TSVMA_PEER_C_LOOP: C_LIB } }),
};

async function main(): Promise<void> {
  buildC();
  if (MODE === 'build') return;
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const out: Record<string, unknown> = { iters: ITERS, size: SIZE, rounds: ROUNDS };
  if (MODE === 'all' || MODE === 'pingpong') {
    const names = (process.env.TSVMA_BENCH_PP ?? 'c,js,js-warm,c-loop-warm').split(',');
    const bad = names.filter((n) => !VARIANTS[n]);
    if (bad.length) throw new Error(`unknown TSVMA_BENCH_PP variant(s): ${bad.join(', ')} (known: ${Object.keys(VARIANTS).join(', ')})`);
    const us: Record<string, number[]> = {};
    for (let r = 0; r < ROUNDS; r++) {
      for (const n of names) (us[n] ??= []).push(await VARIANTS[n]());
    }
    out.pingpong_us_per_iter = us;
    if (us.c) {
      const ratio: Record<string, number> = {};
      for (const n of names) if (n !== 'c') ratio[n] = Math.round((med(us[n]) / med(us.c)) * 100) / 100;
      out.median_ratio_to_c = ratio;
    }
  }
  if (MODE === 'windows') {
    // Host load makes single runs swing 10×: K back-to-back windows of ITERS per side and round,
    // C as K ibv_ud_pingpong runs, tsvma as K timed segments after WARM untimed round trips.
    const K = 5;
    const env = { TSVMA_PEER_WARMUP: String(WARM), TSVMA_PEER_SEGMENTS: String(K) };
    const w: Record<string, number[]> = { c: [], js: [], 'c-loop': [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < K; k++) w.c.push(await cPingpong());
      w.js.push(...(await tsvmaPingpong({ env, segments: true })));
      w['c-loop'].push(...(await tsvmaPingpong({ env: { ...env, TSVMA_PEER_C_LOOP: C_LIB }, segments: true })));
    }
    const min = (a: number[]) => Math.min(...a);
    out.windows_us_per_iter = w;
    out.windows_min = { c: min(w.c), js: min(w.js), 'c-loop': min(w['c-loop']) };
    out.windows_median = { c: med(w.c), js: med(w.js), 'c-loop': med(w['c-loop']) };
  }
  if (MODE === 'all') out.tsvma_udp_over_verbs_ud_us = Math.round((await udpPingpong()) * 10) / 10;
  if (MODE === 'all' || MODE === 'ffi') {
    const c1 = cProcessCost();
    const f = ffiCost();
    const c2 = cProcessCost();
    out.cost_ns = { js: round(f.js), c_in_node: round(f.cInNode), c_process: [round(c1), round(c2)] };
  }
  console.log(JSON.stringify(out));
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
