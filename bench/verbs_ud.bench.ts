/**
 * verbs bench, inside rxe-vm (soft-RoCE rxe0 ⇄ rxe1 over a veth pair, one VM run):
 *   1. UD ping-pong latency: C ibv_ud_pingpong vs tsvma's wrappers (dist/bench/verbs_peer.js), same
 *      devices, message size and iteration count, alternating rounds; both busy-poll their CQ.
 *   2. UDP ping-pong between two tsvma processes over the verbs-ud device (dgram → stack → ring →
 *      UD QP), for the cost of the whole stack on top.
 *   3. FFI cost per verbs call: ibv_poll_cq on an empty CQ and ibv_post_send of one inline UD
 *      message (to the QP itself), each through context->ops as tsvma calls them.
 *
 *   npm run build && ../shared/rxe/rxe-vm -- node dist/bench/verbs_ud.bench.js [ITERS] [ROUNDS]
 *
 * Numbers only (no assertion); docs/verbs.md records a run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { Context, IBV_QPT_UD, IBV_SEND_INLINE, IBV_SEND_SIGNALED, SendWrs, WcArray } from '../verbs';

const ITERS = Number(process.argv[2] ?? 1000);
const ROUNDS = Number(process.argv[3] ?? 2);
const SIZE = 1024;
const PEER = path.join(__dirname, 'verbs_peer.js');
const DGRAM = path.join(__dirname, '..', 'lib', 'dgram.js');

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

async function cPingpong(): Promise<number> {
  const args = ['-g', '1', '-s', String(SIZE), '-n', String(ITERS)];
  const server = new Proc(spawn('ibv_ud_pingpong', ['-d', 'rxe0', ...args]));
  try {
    for (let attempt = 0; ; attempt++) {
      await sleep(500);
      const client = new Proc(spawn('ibv_ud_pingpong', ['-d', 'rxe1', ...args, '198.18.0.1']));
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

async function tsvmaPingpong(): Promise<number> {
  const server = new Proc(spawn(process.execPath, [PEER, 'ud', 'server', 'rxe0', String(ITERS), String(SIZE)]));
  const client = new Proc(spawn(process.execPath, [PEER, 'ud', 'client', 'rxe1', String(ITERS), String(SIZE)]));
  try {
    const si = (await server.until(/INFO (.*)\n/))[1];
    const ci = (await client.until(/INFO (.*)\n/))[1];
    server.send(`PEER ${ci}`);
    client.send(`PEER ${si}`);
    await server.until(/READY/);
    await client.until(/READY/);
    client.send('GO');
    const done = JSON.parse((await client.until(/DONE (.*)\n/))[1]) as { usPerIter: number; ok: boolean };
    if (!done.ok) throw new Error('tsvma ping-pong: a reply came back out of order');
    return done.usPerIter;
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

/** ns per empty ibv_poll_cq and per inline ibv_post_send (UD, to itself), through context->ops. */
function ffiCost(): { pollNs: number; postNs: number } {
  const ctx = Context.open('rxe0');
  try {
    const gi = ctx.defaultGidIndex(1);
    const pd = ctx.allocPd();
    const cq = ctx.createCq(4096);
    const qp = pd.createQp({ type: IBV_QPT_UD, sendCq: cq, maxSendWr: 1024, maxRecvWr: 1024, maxInlineData: 64 });
    qp.readyUd(1, 0x11111111);
    const wc = new WcArray(64);
    const N = 20000;
    for (let i = 0; i < 1000; i++) cq.poll(wc, 1);
    let t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) cq.poll(wc, 1);
    const pollNs = Number(process.hrtime.bigint() - t) / N;
    // One inline send at a time to the QP itself (no receive posted: UD drops it at the receiver),
    // signalled every 16th; completions are reaped outside the timed call.
    const mem = Buffer.alloc(4096);
    const mr = pd.regBuffer(mem);
    const sw = new SendWrs(1);
    const ah = pd.createAh({ port: 1, dgid: ctx.queryGid(1, gi), sgidIndex: gi });
    sw.setSge(0, mr.addr, 64, mr.lkey);
    sw.setUd(0, ah.addr, qp.qpNum, 0x11111111);
    const M = 4000;
    let spent = 0n;
    let inflight = 0;
    for (let posted = 0; posted < M; posted++) {
      sw.set(0, posted, IBV_SEND_INLINE | ((posted & 15) === 15 ? IBV_SEND_SIGNALED : 0));
      t = process.hrtime.bigint();
      const rc = qp.postSend(sw, 1);
      spent += process.hrtime.bigint() - t;
      if (rc !== 0) throw new Error(`post_send: errno ${rc}`);
      if (++inflight >= 512) {
        while (inflight > 0) {
          const n = cq.poll(wc, 64);
          inflight -= 16 * n;
        }
      }
    }
    wc.free();
    sw.free();
    return { pollNs, postNs: Number(spent) / M };
  } finally {
    ctx.close();
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === 'ffi') {
    // FFI costs alone, in a process that has spawned nothing.
    console.log(JSON.stringify(ffiCost()));
    return;
  }
  const c: number[] = [];
  const t: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    c.push(await cPingpong());
    t.push(await tsvmaPingpong());
  }
  const udp = await udpPingpong();
  const ffi = ffiCost();
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const out = {
    iters: ITERS, size: SIZE, rounds: ROUNDS,
    ibv_ud_pingpong_us: c, tsvma_ud_pingpong_us: t,
    ratio: Math.round((med(t) / med(c)) * 100) / 100,
    tsvma_udp_over_verbs_ud_us: Math.round(udp * 10) / 10,
    poll_cq_empty_ns: Math.round(ffi.pollNs), post_send_inline_ns: Math.round(ffi.postNs),
  };
  console.log(JSON.stringify(out));
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
