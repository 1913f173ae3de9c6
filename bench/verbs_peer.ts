/**
 * One side of a verbs ping-pong over tsvma's wrappers (verbs/), for the rxe test suite
 * (test/verbs/rxe) and the bench (bench/verbs_ud.bench.ts): like ibv_ud_pingpong / ibv_rc_pingpong,
 * with the address exchange done by the parent over stdin/stdout instead of TCP.
 *
 *   node dist/bench/verbs_peer.js ud|rc server|client DEV ITERS SIZE
 *
 * Environment (bench variants): TSVMA_PEER_SIGNAL_EVERY=N signals every Nth send only;
 * TSVMA_PEER_WARMUP=W runs W untimed round trips first, TSVMA_PEER_SEGMENTS=K then K timed
 * segments of ITERS (`DONE` adds `segments`: µs/iter of each; same W and K on both sides);
 * TSVMA_PEER_C_LOOP=dist/bench/libverbs_cost.so runs the timed loop in C (bench/verbs_cost.c) on
 * this process's QP/CQ/WRs, for the cost of the Node process itself without JS or koffi per call.
 *
 * Protocol (one JSON line each): prints `INFO {qpn, psn, gid, gidIndex, lid}`; reads
 * `PEER {…the other side's INFO…}`; connects; prints `READY`; the client waits for `GO`. Then the
 * client sends ITERS messages of SIZE bytes, each answered by the server, busy-polling its CQ
 * (as ibv_*_pingpong do by default), checks every reply's sequence number and prints
 * `DONE {iters, usPerIter, ok}`; the server prints `DONE {iters}` after ITERS replies.
 */
import koffi from 'koffi';
import * as readline from 'node:readline';
import { Context, IBV_QPT_RC, IBV_QPT_UD, IBV_SEND_SIGNALED, IBV_WC_RECV, IBV_WC_SUCCESS, RecvWrs, SendWrs, WcArray } from '../verbs';

const [mode, role, dev, itersArg, sizeArg] = process.argv.slice(2);
const iters = Number(itersArg ?? 1000);
const size = Number(sizeArg ?? 1024);
const QKEY = 0x11111111;
const PORT = 1;
const RX = 16;
/** Receive slots reposted per ibv_post_recv (TSVMA_PEER_RX_BATCH, 1…RX/2; default RX/2). */
const RX_BATCH = Math.min(RX / 2, Math.max(1, Number(process.env.TSVMA_PEER_RX_BATCH ?? RX / 2)));
/** Signal every Nth send (1: every send, as ibv_*_pingpong do); waits for send completions only when signalled. */
const SIGNAL_EVERY = Math.max(1, Number(process.env.TSVMA_PEER_SIGNAL_EVERY ?? 1));
/** Untimed round trips before the timed ITERS (both sides must agree), so V8 has compiled the loop. */
const WARMUP = Math.max(0, Number(process.env.TSVMA_PEER_WARMUP ?? 0));
/** The timed part as this many back-to-back segments of ITERS each, each timed on its own (same on both sides). */
const SEGMENTS = Math.max(1, Number(process.env.TSVMA_PEER_SEGMENTS ?? 1));

function out(tag: string, v?: unknown): void {
  process.stdout.write(v === undefined ? `${tag}\n` : `${tag} ${JSON.stringify(v)}\n`);
}

async function main(): Promise<void> {
  if ((mode !== 'ud' && mode !== 'rc') || (role !== 'server' && role !== 'client') || !dev) {
    throw new Error('usage: verbs_peer ud|rc server|client DEV ITERS SIZE');
  }
  const ud = mode === 'ud';
  const ctx = Context.open(dev);
  const gidIndex = ctx.defaultGidIndex(PORT);
  const gid = ctx.queryGid(PORT, gidIndex);
  const pd = ctx.allocPd();
  const cq = ctx.createCq(2 * RX + 4);
  const qp = pd.createQp({ type: ud ? IBV_QPT_UD : IBV_QPT_RC, sendCq: cq, maxSendWr: Math.max(4, SIGNAL_EVERY), maxRecvWr: RX });
  const grh = ud ? 40 : 0;
  const slot = grh + size;
  const mem = Buffer.alloc((RX + 1) * slot);
  const mr = pd.regBuffer(mem);
  const rw = new RecvWrs(RX);
  const sw = new SendWrs(1);
  const wc = new WcArray(4);
  const post = (k: number, s: number) => {
    rw.setWrId(k, s);
    rw.setSge(k, mr.addr + s * slot, slot, mr.lkey);
  };
  for (let s = 0; s < RX; s++) post(s, s);
  if (ud) qp.readyUd(PORT, QKEY);
  else qp.initRc(PORT);
  if (qp.postRecv(rw, RX) !== 0) throw new Error('initial ibv_post_recv failed');
  const psn = Math.floor(Math.random() * 0xffffff);
  out('INFO', { qpn: qp.qpNum, psn, gid: Buffer.from(gid).toString('hex'), gidIndex, lid: ctx.queryPort(PORT).lid });

  const rl = readline.createInterface({ input: process.stdin });
  const lines = rl[Symbol.asyncIterator]();
  const next = async (tag: string): Promise<string> => {
    for (;;) {
      const r = await lines.next();
      if (r.done) throw new Error(`stdin closed before ${tag}`);
      if (r.value.startsWith(tag)) return r.value.slice(tag.length).trim();
    }
  };
  const peer = JSON.parse(await next('PEER')) as { qpn: number; psn: number; gid: string; gidIndex: number; lid: number };
  const pgid = Uint8Array.from(Buffer.from(peer.gid, 'hex'));
  let ahAddr = 0;
  if (ud) ahAddr = pd.createAh({ port: PORT, dgid: pgid, sgidIndex: gidIndex }).addr;
  else qp.connectRc(PORT, { qpn: peer.qpn, psn: peer.psn, gid: pgid, sgidIndex: gidIndex, lid: peer.lid }, psn);
  out('READY');
  if (role === 'client') await next('GO');

  const sendOff = RX * slot;
  sw.setSge(0, mr.addr + sendOff, size, mr.lkey);
  if (ud) sw.setUd(0, ahAddr, peer.qpn, QKEY);
  let sent = 0;
  /** Posts one message carrying `seq`; true when it was signalled (a send completion will come). */
  const send = (seq: number): boolean => {
    mem.writeUInt32LE(seq, sendOff);
    const signalled = ++sent % SIGNAL_EVERY === 0;
    sw.set(0, 1000, signalled ? IBV_SEND_SIGNALED : 0);
    const rc = qp.postSend(sw, 1);
    if (rc !== 0) throw new Error(`ibv_post_send: errno ${rc}`);
    return signalled;
  };
  /** Busy-polls until a receive and a send completion arrived (in either order); returns the received sequence number. */
  let pendingSend = false;
  let freed = 0;
  const waitRecv = (): number => {
    let seq = -1;
    while (seq < 0 || pendingSend) {
      const n = cq.poll(wc, 4);
      if (n < 0) throw new Error('ibv_poll_cq failed');
      for (let i = 0; i < n; i++) {
        if (wc.status(i) !== IBV_WC_SUCCESS) throw new Error(`completion status ${wc.status(i)}`);
        if (wc.opcode(i) === IBV_WC_RECV) {
          const s = wc.wrId(i);
          seq = mem.readUInt32LE(s * slot + grh);
          // Reposted in batches of RX_BATCH (one ibv_post_recv each), as ibv_ud_pingpong batches its own.
          post(freed++, s);
          if (freed === RX_BATCH) {
            if (qp.postRecv(rw, freed) !== 0) throw new Error('ibv_post_recv failed');
            freed = 0;
          }
        } else {
          pendingSend = false;
        }
      }
    }
    return seq;
  };
  let ok = true;
  const cLoop = process.env.TSVMA_PEER_C_LOOP;
  if (cLoop) {
    // The same loop in C (bench/verbs_cost.c, built as a shared object) on this process's QP, CQ
    // and WRs: what a zero-cost binding would reach inside a Node process.
    const f = koffi.load(cLoop).func('double verbs_cost_pingpong(void *qp, void *cq, void *swr, void *rwr, void *mem, int slot, int grh, void *sendbuf, int iters, int client)');
    sw.set(0, 1000, IBV_SEND_SIGNALED);
    rw.terminate(1);
    const base = koffi.address(mem) as bigint;
    const client = role === 'client' ? 1 : 0;
    const run = (n: number) => f(qp.ptr, cq.ptr, sw.ptr, rw.ptr, base, slot, grh, base + BigInt(sendOff), n, client) as number;
    if (client && WARMUP > 0 && run(WARMUP) < 0) throw new Error('warm-up failed');
    if (!client) run(iters * SEGMENTS + WARMUP);
    const segments: number[] = [];
    for (let k = 0; client && k < SEGMENTS; k++) segments.push(Math.round(run(iters) * 10) / 10);
    const us = segments.reduce((a, b) => a + b, 0) / SEGMENTS;
    out('DONE', client ? { iters, usPerIter: Math.round(us * 10) / 10, ok: segments.every((x) => x > 0), segments } : { iters });
    rl.close();
    ctx.close();
    return;
  }
  let t0 = process.hrtime.bigint();
  let ts = t0;
  const segments: number[] = [];
  const total = WARMUP + iters * SEGMENTS;
  for (let i = 0; i < total; i++) {
    if (i === WARMUP) t0 = ts = process.hrtime.bigint();
    else if (i > WARMUP && (i - WARMUP) % iters === 0) {
      const now = process.hrtime.bigint();
      segments.push(Math.round(Number(now - ts) / iters / 100) / 10);
      ts = now;
    }
    if (role === 'client') {
      pendingSend = send(i);
      if (waitRecv() !== i) ok = false;
    } else {
      const seq = waitRecv();
      pendingSend = send(seq);
      // The send completion is taken by the next waitRecv (or below, after the last).
    }
  }
  while (pendingSend) {
    const n = cq.poll(wc, 4);
    for (let i = 0; i < n; i++) if (wc.opcode(i) !== IBV_WC_RECV) pendingSend = false;
  }
  const end = process.hrtime.bigint();
  segments.push(Math.round(Number(end - ts) / iters / 100) / 10);
  const us = Number(end - t0) / 1000 / (iters * SEGMENTS);
  out('DONE', role === 'client' ? { iters, usPerIter: Math.round(us * 10) / 10, ok, segments } : { iters });
  rl.close();
  ctx.close();
  ctx.close();
  wc.free();
  rw.free();
  sw.free();
}

main().catch((e: Error) => {
  process.stderr.write(`verbs_peer: ${e.message}\n`);
  process.exit(1);
});
