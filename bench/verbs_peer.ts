/**
 * One side of a verbs ping-pong over tsvma's wrappers (verbs/), for the rxe test suite
 * (test/verbs/rxe) and the bench (bench/verbs_ud.bench.ts): like ibv_ud_pingpong / ibv_rc_pingpong,
 * with the address exchange done by the parent over stdin/stdout instead of TCP.
 *
 *   node dist/bench/verbs_peer.js ud|rc server|client DEV ITERS SIZE
 *
 * Protocol (one JSON line each): prints `INFO {qpn, psn, gid, gidIndex, lid}`; reads
 * `PEER {…the other side's INFO…}`; connects; prints `READY`; the client waits for `GO`. Then the
 * client sends ITERS messages of SIZE bytes, each answered by the server, busy-polling its CQ
 * (as ibv_*_pingpong do by default), checks every reply's sequence number and prints
 * `DONE {iters, usPerIter, ok}`; the server prints `DONE {iters}` after ITERS replies.
 */
import * as readline from 'node:readline';
import { Context, IBV_QPT_RC, IBV_QPT_UD, IBV_SEND_SIGNALED, IBV_WC_RECV, IBV_WC_SUCCESS, RecvWrs, SendWrs, WcArray } from '../verbs';

const [mode, role, dev, itersArg, sizeArg] = process.argv.slice(2);
const iters = Number(itersArg ?? 1000);
const size = Number(sizeArg ?? 1024);
const QKEY = 0x11111111;
const PORT = 1;
const RX = 16;

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
  const qp = pd.createQp({ type: ud ? IBV_QPT_UD : IBV_QPT_RC, sendCq: cq, maxSendWr: 4, maxRecvWr: RX });
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
  const send = (seq: number): void => {
    mem.writeUInt32LE(seq, sendOff);
    sw.set(0, 1000, IBV_SEND_SIGNALED);
    const rc = qp.postSend(sw, 1);
    if (rc !== 0) throw new Error(`ibv_post_send: errno ${rc}`);
  };
  /** Busy-polls until a receive and a send completion arrived (in either order); returns the received sequence number. */
  let pendingSend = false;
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
          post(0, s);
          if (qp.postRecv(rw, 1) !== 0) throw new Error('ibv_post_recv failed');
        } else {
          pendingSend = false;
        }
      }
    }
    return seq;
  };
  let ok = true;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) {
    if (role === 'client') {
      pendingSend = true;
      send(i);
      if (waitRecv() !== i) ok = false;
    } else {
      const seq = waitRecv();
      pendingSend = true;
      send(seq);
      // The send completion is taken by the next waitRecv (or below, after the last).
    }
  }
  while (pendingSend) {
    const n = cq.poll(wc, 4);
    for (let i = 0; i < n; i++) if (wc.opcode(i) !== IBV_WC_RECV) pendingSend = false;
  }
  const us = Number(process.hrtime.bigint() - t0) / 1000 / iters;
  out('DONE', role === 'client' ? { iters, usPerIter: Math.round(us * 10) / 10, ok } : { iters });
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
