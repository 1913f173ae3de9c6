/**
 * verbs/ and the verbs-ud device on real verbs devices: soft-RoCE rxe0 (198.18.0.1) and rxe1
 * (198.18.0.2) inside ../shared/rxe/rxe-vm. Run with `npm run test:rxe` (builds on the host, then
 * runs this file in one VM). Outside the VM (no device) every test is skipped with the reason.
 *
 * Two-process tests run the built programs: dist/bench/verbs_peer.js (UD and RC ping-pong over the
 * wrappers) and tsvma's own dgram (dist/lib/dgram.js) on TSVMA_DEVICE=verbs-ud:rxeN.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import {
  Context, IBV_LINK_LAYER_ETHERNET, IBV_PORT_ACTIVE, IBV_QPS_INIT, IBV_QPS_RESET, IBV_QPS_RTR, IBV_QPS_RTS, IBV_QP_STATE, IBV_QPT_RAW_PACKET,
  IBV_QPT_RC, IBV_QPT_UD, isV4Mapped, listDevices, VerbsError, VerbsUnavailableError, verbsAvailable,
} from '../../../verbs';

const ROOT = path.join(__dirname, '..', '..', '..');
const PEER = path.join(ROOT, 'dist', 'bench', 'verbs_peer.js');
const DGRAM = path.join(ROOT, 'dist', 'lib', 'dgram.js');
const INDEX = path.join(ROOT, 'dist', 'lib', 'index.js');

const avail = verbsAvailable('rxe1');
const maybe = avail.ok && process.env.RXE_VM === '1' ? describe : describe.skip;
if (!avail.ok || process.env.RXE_VM !== '1') {
  console.warn(`test/verbs/rxe skipped: ${avail.ok ? 'not inside rxe-vm (RXE_VM unset)' : avail.reason}; run: npm run test:rxe`);
}

/** Lines a child prints, and a way to wait for one starting with `tag`. */
class Child {
  out = '';
  err = '';
  constructor(readonly p: ChildProcess) {
    p.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (this.err += d.toString()));
  }

  async line(tag: string, limitMs = 240000): Promise<string> {
    for (let waited = 0; waited < limitMs; waited += 20) {
      const l = this.out.split('\n').find((x) => x.startsWith(`${tag}`));
      if (l !== undefined) return l.slice(tag.length).trim();
      if (this.p.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no ${tag} line; exit ${this.p.exitCode}; stdout: ${this.out}; stderr: ${this.err}`);
  }

  send(s: string): void {
    this.p.stdin!.write(`${s}\n`);
  }

  async exit(limitMs = 240000): Promise<number> {
    for (let waited = 0; waited < limitMs && this.p.exitCode === null; waited += 20) await new Promise((r) => setTimeout(r, 20));
    if (this.p.exitCode === null) this.p.kill('SIGKILL');
    return this.p.exitCode ?? -1;
  }
}

/** Runs verbs_peer server on rxe0 and client on rxe1 and returns the client's DONE record. */
async function pingpong(mode: 'ud' | 'rc', iters: number, size: number): Promise<{ iters: number; usPerIter: number; ok: boolean }> {
  const server = new Child(spawn(process.execPath, [PEER, mode, 'server', 'rxe0', String(iters), String(size)]));
  const client = new Child(spawn(process.execPath, [PEER, mode, 'client', 'rxe1', String(iters), String(size)]));
  try {
    const si = await server.line('INFO');
    const ci = await client.line('INFO');
    server.send(`PEER ${ci}`);
    client.send(`PEER ${si}`);
    await server.line('READY');
    await client.line('READY');
    client.send('GO');
    const done = JSON.parse(await client.line('DONE'));
    await server.line('DONE');
    expect(await client.exit()).toBe(0);
    expect(await server.exit()).toBe(0);
    return done;
  } finally {
    server.p.kill();
    client.p.kill();
  }
}

maybe('verbs on soft-RoCE (rxe0, rxe1)', () => {
  it('enumerates the devices and queries device, port and GID', () => {
    expect(avail.devices).toEqual(expect.arrayContaining(['rxe0', 'rxe1']));
    expect(listDevices().map((d) => d.name)).toEqual(expect.arrayContaining(['rxe0', 'rxe1']));
    expect(() => Context.open('nosuchdev0')).toThrow(VerbsUnavailableError);
    expect(() => Context.open('nosuchdev0')).toThrow(/no verbs device 'nosuchdev0' \(found: .*rxe0/);
    const ctx = Context.open('rxe0');
    try {
      const d = ctx.queryDevice();
      expect(d.max_qp as number).toBeGreaterThan(0);
      expect(d.max_raw_ethy_qp).toBe(0);
      const p = ctx.queryPort(1);
      expect(p.state).toBe(IBV_PORT_ACTIVE);
      expect(p.link_layer).toBe(IBV_LINK_LAYER_ETHERNET);
      expect(p.gid_tbl_len).toBeGreaterThan(1);
      const gi = ctx.defaultGidIndex(1);
      const gid = ctx.queryGid(1, gi);
      expect(isV4Mapped(gid)).toBe(true);
      expect([...gid.subarray(12)]).toEqual([198, 18, 0, 1]);
      expect(ctx.isMlx5).toBe(false);
    } finally {
      ctx.close();
    }
  });

  it('PD, MR, CQ, QP life cycle: UD and RC through INIT/RTR/RTS, children closed first, close idempotent', () => {
    const ctx = Context.open('rxe0');
    const pd = ctx.allocPd();
    const mem = Buffer.alloc(1 << 16);
    const mr = pd.regBuffer(mem);
    expect(mr.length).toBe(1 << 16);
    expect(mr.lkey).not.toBe(0);
    const ch = ctx.createCompChannel();
    expect(ch.fd).toBeGreaterThanOrEqual(0);
    const cq = ctx.createCq(64, ch);
    expect(cq.reqNotify()).toBe(0);
    expect(ch.getEvent()).toBe(false); // non-blocking, nothing happened
    const ud = pd.createQp({ type: IBV_QPT_UD, sendCq: cq });
    expect(ud.state).toBe(IBV_QPS_RESET);
    ud.readyUd(1, 0x1234);
    expect(ud.state).toBe(IBV_QPS_RTS);
    const rc = pd.createQp({ type: IBV_QPT_RC, sendCq: cq });
    rc.initRc(1);
    expect(rc.state).toBe(IBV_QPS_INIT);
    // Connect the RC QP to itself (rxe loopback): RTR, RTS.
    rc.connectRc(1, { qpn: rc.qpNum, psn: 1, gid: ctx.queryGid(1, ctx.defaultGidIndex(1)), sgidIndex: ctx.defaultGidIndex(1) }, 1);
    expect(rc.state).toBe(IBV_QPS_RTS);
    // Closing the CQ closes the QPs on it first (ibv_destroy_cq would be EBUSY otherwise).
    cq.close();
    expect(ud.closed && rc.closed).toBe(true);
    expect(mr.closed).toBe(false);
    ctx.close();
    expect(pd.closed && mr.closed && ch.closed).toBe(true);
    // Double destroy: a no-op on every object.
    expect(() => {
      ud.close();
      mr.close();
      pd.close();
      ctx.close();
    }).not.toThrow();
    expect(() => ud.state).toThrow(/qp \(UD\) is closed/);
    expect(() => ctx.allocPd()).toThrow(/is closed/);
  });

  it('error paths: a bad QP transition, RAW_PACKET QPs and flow steering are typed errors', () => {
    const ctx = Context.open('rxe1');
    try {
      const pd = ctx.allocPd();
      const cq = ctx.createCq(16);
      const qp = pd.createQp({ type: IBV_QPT_UD, sendCq: cq });
      // RESET → RTS skips INIT and RTR.
      let err: unknown = null;
      try {
        qp.modify({ qp_state: IBV_QPS_RTS }, IBV_QP_STATE);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(VerbsError);
      expect((err as VerbsError).message).toBe('ibv_modify_qp: EINVAL (22)');
      expect((err as VerbsError).code).toBe('EINVAL');
      expect(qp.state).toBe(IBV_QPS_RESET);
      qp.readyUd(1, 1);
      // RTS → RTR is not a legal transition either.
      expect(() => qp.modify({ qp_state: IBV_QPS_RTR }, IBV_QP_STATE)).toThrow(/^ibv_modify_qp: EINVAL \(22\)$/);
      expect(() => pd.createQp({ type: IBV_QPT_RAW_PACKET, sendCq: cq })).toThrow(/^ibv_create_qp\(RAW_PACKET\): EOPNOTSUPP \(95\): rxe1 has no raw-packet QPs/);
      expect(() => qp.createFlow({ dstMac: 0x020000000001, etherType: 0x0800, l4: { protocol: 'udp', dstPort: 9 } }, 1)).toThrow(/^ibv_create_flow: EOPNOTSUPP \(95\): rxe1 has no flow steering/);
      expect(qp.state).toBe(IBV_QPS_RTS);
    } finally {
      ctx.close();
    }
  });

  it('UD ping-pong between two processes (rxe1 → rxe0 → rxe1), every reply in order', async () => {
    const r = await pingpong('ud', 200, 1024);
    expect(r).toMatchObject({ iters: 200, ok: true });
    console.log(`UD ping-pong over tsvma wrappers: ${r.usPerIter} µs/iter (200 × 1024 B)`);
  });

  it('RC ping-pong between two processes, every reply in order', async () => {
    const r = await pingpong('rc', 200, 4096);
    expect(r).toMatchObject({ iters: 200, ok: true });
    console.log(`RC ping-pong over tsvma wrappers: ${r.usPerIter} µs/iter (200 × 4096 B)`);
  });

  it('UDP between two tsvma processes over verbs-ud (ARP through the broadcast group, then unicast)', async () => {
    const env = (dev: string, addr: string) => ({ ...process.env, TSVMA_DEVICE: `verbs-ud:${dev}`, TSVMA_ADDR: addr, VMA_CONFIG_FILE: '/nonexistent/libvma.conf' });
    const server = new Child(spawn(process.execPath, ['-e', `
      const dgram = require(${JSON.stringify(DGRAM)});
      const s = dgram.createSocket('udp4');
      let n = 0;
      s.on('message', (m, r) => s.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address, () => { if (++n === 20) setTimeout(() => s.close(), 200); }));
      s.bind(7000, () => console.log('READY', s.offloaded));`], { env: env('rxe0', '198.19.0.1/24') }));
    await server.line('READY');
    const client = new Child(spawn(process.execPath, ['-e', `
      const dgram = require(${JSON.stringify(DGRAM)});
      const s = dgram.createSocket('udp4');
      const got = [];
      let i = 0;
      const next = () => { if (i < 20) s.send('m' + i++, 7000, '198.19.0.1'); };
      s.on('message', (m, r) => { got.push(m.toString() + '@' + r.address + ':' + r.port); next(); if (got.length === 20) { console.log('DONE', JSON.stringify(got)); s.close(); } });
      s.bind(7001, () => { console.log('BOUND', s.offloaded); next(); });`], { env: env('rxe1', '198.19.0.2/24') }));
    try {
      expect(await client.line('BOUND')).toBe('true');
      const got = JSON.parse(await client.line('DONE')) as string[];
      expect(got).toEqual(Array.from({ length: 20 }, (_, k) => `echo:m${k}@198.19.0.1:7000`));
      expect(await server.line('READY')).toBe('true');
      expect(await client.exit()).toBe(0);
      expect(await server.exit()).toBe(0);
    } finally {
      server.p.kill();
      client.p.kill();
    }
  });

  it('extra API on verbs-ud: register_memory_on_ring gives an lkey on the device PD, deregister undoes it, a receive filter sees the datagrams', async () => {
    const env = (dev: string, addr: string) => ({ ...process.env, TSVMA_DEVICE: `verbs-ud:${dev}`, TSVMA_ADDR: addr, VMA_CONFIG_FILE: '/nonexistent/libvma.conf' });
    const server = new Child(spawn(process.execPath, ['-e', `
      const tsvma = require(${JSON.stringify(INDEX)});
      const dgram = require(${JSON.stringify(DGRAM)});
      const api = tsvma.getVmaApi();
      const s = dgram.createSocket('udp4');
      const seen = [];
      s.bind(7100, () => {
        const mask = api.vma_extra_supported_mask;
        const mem = new Uint8Array(1 << 16);
        const lkey = api.register_memory_on_ring(s, mem);
        const again = api.register_memory_on_ring(s, mem);
        const dereg = api.deregister_memory_on_ring(s, mem);
        const dereg2 = api.deregister_memory_on_ring(s, mem);
        console.log('MEM', JSON.stringify({ bits: (mask & tsvma.VMA_EXTRA_API_REGISTER_MEMORY_ON_RING) !== 0, lkey, same: again === lkey, dereg, dereg2, code: api.code }));
        api.register_recv_callback(s, (fd, iov) => { seen.push(Buffer.from(iov[0]).toString()); if (seen.length === 3) { console.log('SEEN', JSON.stringify(seen)); s.close(); } return tsvma.VMA_PACKET_DROP; });
        console.log('READY');
      });`], { env: env('rxe0', '198.19.0.1/24') }));
    const mem = JSON.parse(await server.line('MEM')) as { bits: boolean; lkey: number; same: boolean; dereg: number; dereg2: number; code: string };
    expect(mem.bits).toBe(true);
    expect(mem.lkey).toBeGreaterThan(0);
    expect(mem).toMatchObject({ same: true, dereg: 0, dereg2: -1, code: 'EINVAL' });
    await server.line('READY');
    const client = new Child(spawn(process.execPath, ['-e', `
      const s = require(${JSON.stringify(DGRAM)}).createSocket('udp4');
      s.bind(7101, () => { for (const m of ['a', 'b', 'c']) s.send(m, 7100, '198.19.0.1'); setTimeout(() => s.close(), 3000); });`], { env: env('rxe1', '198.19.0.2/24') }));
    try {
      expect(JSON.parse(await server.line('SEEN'))).toEqual(['a', 'b', 'c']);
      expect(await server.exit()).toBe(0);
    } finally {
      server.p.kill();
      client.p.kill();
    }
  });
});
