/**
 * The extra API (getVmaApi) in one process, on the sim device with the in-process loopback
 * interface (TSVMA_DEVICE=sim, TSVMA_LOOPBACK=1): two rings, so ring fds and foreign-packet errors
 * can be told apart. Mirrors libvma's gtest vma_ring / vma_recvfrom_zcopy / vma_sockopt matrices
 * and its extra_api_tests (callback RECV / HOLD / DROP), for UDP; every test ends with no buffer
 * held by the application and the rings' RX pools back to what the stack itself holds.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

const logFile = path.join(os.tmpdir(), `tsvma-extra-${process.pid}.log`);
Object.assign(process.env, {
  TSVMA_DEVICE: 'sim', TSVMA_LOOPBACK: '1', VMA_CONFIG_FILE: '/nonexistent/libvma.conf', VMA_STATS_SHMEM_DIR: os.tmpdir(),
  VMA_LOG_FILE: logFile, TSVMA_LOG: 'debug',
});
delete process.env.VMA_SOCKETXTREME;

/* eslint-disable @typescript-eslint/no-require-imports */
const tsvma = require('../../lib/index') as typeof import('../../lib/index');
const dgram = require('../../lib/dgram') as typeof import('../../lib/dgram');
const { runtime, closeRuntime } = require('../../lib/runtime') as typeof import('../../lib/runtime');
const { heldCount, heldCounters } = require('../../lib/extra/held') as typeof import('../../lib/extra/held');
/* eslint-enable @typescript-eslint/no-require-imports */

type Sock = import('../../lib/dgram').Socket;
const ADDR = '198.18.0.2';

const api = tsvma.getVmaApi()!;
const sockets: Sock[] = [];

const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setImmediate(r));
  }
};

async function bound(port = 0, address = ADDR): Promise<Sock> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.bind(port, address, () => res());
  });
  return s;
}

function queued(s: Sock): number {
  const k = Object.getOwnPropertySymbols(s).find((x) => x.description === "tsvma.dgram.state")!;
  return (s as unknown as Record<symbol, { vma: { s: { queued: number } } }>)[k].vma.s.queued;
}

function outstanding(): number {
  const e = runtime()!.engine;
  return e.ring.rxPool.counters.outstanding + (e.lo?.ring.rxPool.counters.outstanding ?? 0);
}

afterEach(async () => {
  for (const s of sockets.splice(0)) await new Promise<void>((r) => s.close(() => r()));
  expect(heldCount()).toBe(0);
  // Closing segments still in flight on the sim wire hold RX buffers until the next poll turns.
  for (let i = 0; i < 200 && outstanding() !== 0; i++) await new Promise((r) => setTimeout(r, 5));
  expect(outstanding()).toBe(0);
});

afterAll(() => {
  closeRuntime();
  fs.rmSync(logFile, { force: true });
  // thread_offload's table: a program's main thread removes it at exit; jest's process may not run that hook.
  fs.rmSync(`/dev/shm/tsvma-threads.${process.pid}`, { force: true });
});

describe('getVmaApi', () => {
  it('is one frozen object, also under vma_get_api, with the mask of what works here', () => {
    expect(tsvma.getVmaApi()).toBe(api);
    expect(tsvma.vma_get_api()).toBe(api);
    expect(Object.isFrozen(api)).toBe(true);
    const m = api.vma_extra_supported_mask;
    for (const bit of [tsvma.VMA_EXTRA_API_REGISTER_RECV_CALLBACK, tsvma.VMA_EXTRA_API_RECVFROM_ZCOPY, tsvma.VMA_EXTRA_API_FREE_PACKETS, tsvma.VMA_EXTRA_API_ADD_CONF_RULE, tsvma.VMA_EXTRA_API_THREAD_OFFLOAD, tsvma.VMA_EXTRA_API_DUMP_FD_STATS, tsvma.VMA_EXTRA_API_SOCKETXTREME_POLL, tsvma.VMA_EXTRA_API_GET_SOCKET_RINGS_FDS, tsvma.VMA_EXTRA_API_IOCTL]) {
      expect(m & bit).toBe(bit);
    }
    // No verbs device: no memory registration, no direct ring descriptors.
    expect(m & tsvma.VMA_EXTRA_API_REGISTER_MEMORY_ON_RING).toBe(0);
    expect(m & tsvma.VMA_EXTRA_API_GET_RING_DIRECT_DESCRIPTORS).toBe(0);
    expect(api.get_ring_direct_descriptors(1)).toBe(-1);
    expect(api.code).toBe('EOPNOTSUPP');
  });

  it("exports VMA's constants with VMA's values", () => {
    expect([tsvma.VMA_PACKET_DROP, tsvma.VMA_PACKET_RECV, tsvma.VMA_PACKET_HOLD]).toEqual([0, 1, 2]);
    expect([tsvma.MSG_VMA_ZCOPY_FORCE, tsvma.MSG_VMA_ZCOPY]).toEqual([0x01000000, 0x00040000]);
    expect([tsvma.VMA_SOCKETXTREME_PACKET, tsvma.VMA_SOCKETXTREME_NEW_CONNECTION_ACCEPTED]).toEqual([2n ** 32n, 2n ** 33n]);
    expect([tsvma.SO_VMA_GET_API, tsvma.SO_VMA_USER_DATA, tsvma.SO_VMA_RING_ALLOC_LOGIC, tsvma.SO_VMA_FLOW_TAG, tsvma.SO_VMA_SHUTDOWN_RX]).toEqual([2800, 2801, 2810, 2820, 2821]);
    expect(tsvma.VMA_SND_FLAGS_DUMMY).toBe(0x400);
    expect([tsvma.RING_LOGIC_PER_INTERFACE, tsvma.RING_LOGIC_PER_IP, tsvma.RING_LOGIC_PER_SOCKET, tsvma.RING_LOGIC_PER_USER_ID, tsvma.RING_LOGIC_PER_THREAD, tsvma.RING_LOGIC_PER_CORE, tsvma.RING_LOGIC_PER_CORE_ATTACH_THREADS]).toEqual([0, 1, 10, 11, 20, 30, 31]);
    expect(tsvma.CMSG_VMA_IOCTL_USER_ALLOC).toBe(2900);
  });

  it('SocketXtreme members fail with EOPNOTSUPP when VMA_SOCKETXTREME is off (as VMA)', () => {
    expect(api.socketxtreme_poll(1, 8)).toBe(-1);
    expect(api.code).toBe('EOPNOTSUPP');
    expect(api.errno).toBe(95);
    expect(api.socketxtreme_free_vma_packets([])).toBe(-1);
    expect(api.errno).toBe(95);
  });
});

describe('ring fds per socket state (gtest vma_ring)', () => {
  it('unbound: no rings; a bad fd is EINVAL', () => {
    const s = dgram.createSocket('udp4');
    expect(api.get_socket_rings_num(s)).toBe(0);
    expect(api.get_socket_rings_fds(s)).toEqual([]);
    expect(api.fdOf(s)).toBe(-1);
    expect(api.get_socket_rings_fds(0)).toBe(-1);
    expect(api.code).toBe('EINVAL');
    expect(api.get_socket_rings_fds(9999)).toBe(-1);
    s.close();
  });

  it('bound to an address: its interface ring; wildcard: every interface; connected: one; fds and objects agree', async () => {
    const a = await bound(0, ADDR);
    const lo = await bound(0, '127.0.0.1');
    const any = await bound(0, '0.0.0.0');
    const fa = api.fdOf(a);
    expect(fa).toBeGreaterThan(0);
    expect(api.get_socket_rings_num(fa)).toBe(1);
    const [ra] = api.get_socket_rings_fds(fa) as number[];
    const [rl] = api.get_socket_rings_fds(lo) as number[];
    expect(ra).not.toBe(rl);
    // Ring fds are from the socket fd space: never a socket's.
    expect([api.fdOf(a), api.fdOf(lo), api.fdOf(any)]).not.toContain(ra);
    expect(api.get_socket_rings_fds(any)).toEqual([ra, rl]);
    expect(api.get_socket_rings_fds(any, 1)).toEqual([ra]);
    expect(api.get_socket_rings_num(any)).toBe(2);
    await new Promise<void>((r) => any.connect(a.address().port, ADDR, () => r()));
    expect(api.get_socket_rings_fds(any)).toEqual([ra]);
    expect(api.get_socket_tx_ring_fd(a, { address: '127.0.0.1', port: 9 })).toBe(rl);
    expect(api.get_socket_tx_ring_fd(a, { address: '198.18.0.77', port: 9 })).toBe(ra);
    expect(api.get_socket_tx_ring_fd(a, { address: '203.0.113.1', port: 9 })).toBe(-1);
    expect(api.code).toBe('ENODATA');
  });

  it('get_socket_network_header: the template of a connected socket; ENOTCONN before', async () => {
    const a = await bound(0, ADDR);
    const b = await bound(0, ADDR);
    expect(api.get_socket_network_header(a)).toBe(-1);
    expect(api.code).toBe('ENOTCONN');
    await new Promise<void>((r) => a.connect(b.address().port, ADDR, () => r()));
    const h = api.get_socket_network_header(a) as Uint8Array;
    expect(h.length).toBe(42);
    const dv = new DataView(h.buffer);
    expect(dv.getUint16(12)).toBe(0x0800);
    expect(h[14]).toBe(0x45);
    expect(h[23]).toBe(17);
    expect(Array.from(h.subarray(26, 30)).join('.')).toBe(ADDR);
    expect(dv.getUint16(34)).toBe(a.address().port);
    expect(dv.getUint16(36)).toBe(b.address().port);
  });
});

describe('recvfrom_zcopy and free_packets (gtest vma_recvfrom_zcopy)', () => {
  it('ENOBUFS for a buffer that cannot hold the headers; EAGAIN when nothing is queued', async () => {
    const a = await bound();
    expect(api.recvfrom_zcopy(a, 16)).toBe(-1);
    expect(api.code).toBe('ENOBUFS');
    expect(api.recvfrom_zcopy(a, 1024)).toBe(-1);
    expect(api.code).toBe('EAGAIN');
  });

  it('one datagram per call, over ring memory, until free_packets; a double free is EINVAL', async () => {
    const rx = await bound(); // no 'message' listener: datagrams wait in the queue
    const tx = await bound();
    tx.send('hello', rx.address().port, ADDR);
    tx.send('world', rx.address().port, ADDR);
    await until(() => queued(rx) === 2);
    const r1 = api.recvfrom_zcopy(rx, 1024);
    const r2 = api.recvfrom_zcopy(rx, 1024, tsvma.MSG_VMA_ZCOPY_FORCE);
    if (r1 === -1 || r2 === -1) throw new Error(api.code);
    expect(r1.bytes).toBe(5);
    expect(r1.flags & tsvma.MSG_VMA_ZCOPY).toBe(tsvma.MSG_VMA_ZCOPY);
    expect(r1.from).toEqual({ address: ADDR, port: tx.address().port });
    expect(r1.packets).toHaveLength(1);
    expect(Buffer.from(r1.packets[0].iov[0]).toString()).toBe('hello');
    expect(Buffer.from(r2.packets[0].iov[0]).toString()).toBe('world');
    // The iov is ring memory: the buffer stays out of the pool until freed.
    expect(outstanding()).toBe(2);
    expect(heldCount()).toBe(2);
    expect(api.free_packets(rx, r1.packets)).toBe(0);
    expect(api.free_packets(rx, [r2.packets[0].packet_id])).toBe(0);
    expect(api.free_packets(rx, r1.packets)).toBe(-1);
    expect(api.code).toBe('EINVAL');
    expect(api.recvfrom_zcopy(rx, 1024)).toBe(-1);
  });

  it('a packet of another ring is ENOENT', async () => {
    const lo = await bound(0, '127.0.0.1');
    const other = await bound(0, ADDR);
    const tx = await bound(0, '127.0.0.1');
    tx.send('x', lo.address().port, '127.0.0.1');
    await until(() => queued(lo) === 1);
    const r = api.recvfrom_zcopy(lo, 1024);
    if (r === -1) throw new Error(api.code);
    expect(api.free_packets(other, r.packets)).toBe(-1);
    expect(api.code).toBe('ENOENT');
    expect(api.free_packets(lo, r.packets)).toBe(0);
  });

  it('a large (reassembled) datagram comes whole, without MSG_VMA_ZCOPY', async () => {
    const rx = await bound();
    const tx = await bound();
    const big = Buffer.alloc(8192, 7);
    big.write('start');
    tx.send(big, rx.address().port, ADDR);
    await until(() => queued(rx) === 1);
    const r = api.recvfrom_zcopy(rx, 1024);
    if (r === -1) throw new Error(api.code);
    expect(r.bytes).toBe(8192);
    expect(r.flags & tsvma.MSG_VMA_ZCOPY).toBe(0);
    expect(Buffer.compare(Buffer.from(r.packets[0].iov[0]), big)).toBe(0);
    expect(api.free_packets(rx, r.packets)).toBe(0);
  });

  it("a 'message' listener added later gets what waited in the queue", async () => {
    const rx = await bound();
    const tx = await bound();
    tx.send('early', rx.address().port, ADDR);
    await until(() => queued(rx) === 1);
    const got = await new Promise<string>((r) => rx.once('message', (m) => r(m.toString())));
    expect(got).toBe('early');
  });
});

describe('register_recv_callback (VMA extra_api_tests: RECV / HOLD / DROP)', () => {
  it('DROP frees at once, RECV queues for message, HOLD keeps the buffer until free_packets', async () => {
    const rx = await bound();
    const tx = await bound();
    const fd = api.fdOf(rx);
    const held: { id: number; text: string }[] = [];
    const infos: unknown[] = [];
    const ctx = { tag: 'ctx' };
    expect(
      api.register_recv_callback(rx, (cbFd, iov, info, context) => {
        expect(cbFd).toBe(fd);
        expect(context).toBe(ctx);
        const text = Buffer.from(iov[0]).toString();
        infos.push({ src: { ...info.src }, dst: { ...info.dst }, size: info.payload_sz, ts: info.sw_timestamp.tv_sec > 1e9 });
        if (text.startsWith('drop')) return tsvma.VMA_PACKET_DROP;
        if (text.startsWith('hold')) {
          held.push({ id: info.packet_id, text });
          return tsvma.VMA_PACKET_HOLD;
        }
        return tsvma.VMA_PACKET_RECV;
      }, ctx),
    ).toBe(0);
    const messages: string[] = [];
    rx.on('message', (m) => messages.push(m.toString()));
    for (const t of ['drop-1', 'recv-1', 'hold-1', 'drop-2', 'recv-2', 'hold-2']) tx.send(t, rx.address().port, ADDR);
    await until(() => messages.length === 2 && held.length === 2);
    await new Promise((r) => setImmediate(r));
    expect(messages).toEqual(['recv-1', 'recv-2']);
    expect(held.map((h) => h.text)).toEqual(['hold-1', 'hold-2']);
    expect(infos[0]).toEqual({ src: { address: ADDR, port: tx.address().port }, dst: { address: ADDR, port: rx.address().port }, size: 6, ts: true });
    expect(outstanding()).toBe(2);
    expect(api.free_packets(rx, held.map((h) => h.id))).toBe(0);
    // Cleared: everything is queued again.
    expect(api.register_recv_callback(rx, null)).toBe(0);
    tx.send('drop-3', rx.address().port, ADDR);
    await until(() => messages.length === 3);
    expect(messages[2]).toBe('drop-3');
    expect(api.register_recv_callback(12345, null)).toBe(-1);
    expect(api.code).toBe('EINVAL');
  });

  it('an application that holds and never frees does not stall the ring: past half the pool, payloads are copies', async () => {
    const rx = await bound();
    const tx = await bound();
    const ids: number[] = [];
    api.register_recv_callback(rx, (_fd, _iov, info) => {
      ids.push(info.packet_id);
      return tsvma.VMA_PACKET_HOLD;
    });
    const pool = runtime()!.engine.ring.rxPool;
    const before = heldCounters.holds;
    const n = pool.count; // twice the copy-fallback mark
    for (let i = 0; i < n; i++) {
      tx.send(`m${i}`, rx.address().port, ADDR);
      if (i % 256 === 255) await until(() => ids.length === i + 1);
    }
    await until(() => ids.length === n);
    expect(heldCounters.holds - before).toBe(n);
    // Ring buffers held by the application stop at the mark; the rest were copied and given back.
    expect(pool.counters.outstanding).toBeLessThanOrEqual(pool.count / 2 + 1);
    expect(api.free_packets(rx, ids)).toBe(0);
  });
});

describe('dummy send', () => {
  it('runs the TX path, counts n_tx_dummy and puts nothing on the wire', async () => {
    const rx = await bound();
    const tx = await bound();
    const got: string[] = [];
    rx.on('message', (m) => got.push(m.toString()));
    const ring = runtime()!.engine.ring;
    const d0 = ring.counters.txDummy;
    expect(api.send(tx, 'dummy', tsvma.VMA_SND_FLAGS_DUMMY, { address: ADDR, port: rx.address().port })).toBe(5);
    expect(tsvma.sendDummy(tx, 'dummy2', rx.address().port, ADDR)).toBe(6);
    expect(ring.counters.txDummy - d0).toBe(2);
    tx.send('real', rx.address().port, ADDR);
    await until(() => got.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual(['real']);
    // A datagram that needs fragments is not one packet's path.
    expect(api.send(tx, Buffer.alloc(4000), tsvma.VMA_SND_FLAGS_DUMMY, { address: ADDR, port: rx.address().port })).toBe(-1);
    expect(api.send(tx, 'x', 0x8000, { address: ADDR, port: 9 })).toBe(-1);
    expect(api.code).toBe('EOPNOTSUPP');
  });
});

describe('socket options', () => {
  it('SO_VMA_USER_DATA round-trips (default: the fd); SO_VMA_RING_ALLOC_LOGIC good and bad flows (gtest vma_sockopt)', async () => {
    const s = await bound();
    expect(api.getsockopt(s, tsvma.SOL_SOCKET, tsvma.SO_VMA_USER_DATA)).toBe(api.fdOf(s));
    expect(api.setsockopt(s, tsvma.SOL_SOCKET, tsvma.SO_VMA_USER_DATA, 0xabcdef)).toBe(0);
    expect(api.getsockopt(s, tsvma.SOL_SOCKET, tsvma.SO_VMA_USER_DATA)).toBe(0xabcdef);
    expect(api.setsockopt(s, tsvma.SOL_SOCKET, tsvma.SO_VMA_RING_ALLOC_LOGIC, { comp_mask: tsvma.VMA_RING_ALLOC_MASK_RING_USER_ID, ring_alloc_logic: tsvma.RING_LOGIC_PER_USER_ID, user_id: 7 })).toBe(0);
    expect(api.getsockopt(s, tsvma.SOL_SOCKET, tsvma.SO_VMA_RING_ALLOC_LOGIC)).toEqual({ ring_alloc_logic: 11, user_id: 7, ring_profile_key: 0 });
    expect(api.setsockopt(s, tsvma.SOL_SOCKET, tsvma.SO_VMA_RING_ALLOC_LOGIC, { comp_mask: 0, ring_alloc_logic: tsvma.RING_LOGIC_PER_USER_ID })).toBe(-1);
    expect(api.code).toBe('EINVAL');
    expect(api.setsockopt(s, tsvma.SOL_SOCKET, tsvma.SO_VMA_RING_ALLOC_LOGIC, { ring_alloc_logic: 99 })).toBe(-1);
    expect(api.setsockopt(s, tsvma.SOL_SOCKET, tsvma.SO_VMA_FLOW_TAG, 5)).toBe(0);
    expect(api.getsockopt(s, tsvma.SOL_SOCKET, tsvma.SO_VMA_FLOW_TAG)).toBe(5);
    expect(api.setsockopt(s, tsvma.SOL_SOCKET, tsvma.SO_TIMESTAMPING, tsvma.SOF_TIMESTAMPING_RX_SOFTWARE | tsvma.SOF_TIMESTAMPING_SOFTWARE)).toBe(0);
    expect(api.setsockopt(s, tsvma.SOL_SOCKET, tsvma.SO_TIMESTAMPING, 1)).toBe(-1); // TX stamps
    expect(api.code).toBe('EOPNOTSUPP');
    expect(api.setsockopt(9999, tsvma.SOL_SOCKET, tsvma.SO_VMA_USER_DATA, 1)).toBe(-1);
    expect(api.code).toBe('EBADF');
  });

  it('SO_VMA_SHUTDOWN_RX stops receiving (counted), the socket stays open', async () => {
    const rx = await bound();
    const tx = await bound();
    const got: string[] = [];
    rx.on('message', (m) => got.push(m.toString()));
    tx.send('a', rx.address().port, ADDR);
    await until(() => got.length === 1);
    expect(api.setsockopt(rx, tsvma.SOL_SOCKET, tsvma.SO_VMA_SHUTDOWN_RX, 1)).toBe(0);
    tx.send('b', rx.address().port, ADDR);
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual(['a']);
    expect(rx.address().port).toBeGreaterThan(0);
  });
});

describe('policy, threads, statistics, rings', () => {
  it("add_conf_rule changes the next socket's decision, not existing ones", async () => {
    const before = await bound(9711, ADDR);
    expect(before.offloaded).toBe(true);
    await new Promise<void>((r) => before.close(() => r()));
    sockets.splice(sockets.indexOf(before), 1);
    expect(api.add_conf_rule('use os udp_receiver *:9711')).toBe(0);
    const after = await bound(9711, '0.0.0.0');
    expect(after.offloaded).toBe(false);
    expect(api.add_conf_rule('use nonsense')).toBe(-1);
    expect(api.code).toBe('EINVAL');
    expect(api.add_conf_rule('use vma udp_receiver *:9711')).toBe(0);
  });

  it('thread_offload(0) in a worker thread: its sockets go to the OS; other threads are unaffected', async () => {
    const dist = path.join(__dirname, '..', '..', 'dist', 'lib');
    const code = `
      const { parentPort, threadId, workerData } = require('node:worker_threads');
      const tsvma = require(${JSON.stringify(path.join(dist, 'index.js'))});
      const dgram = require(${JSON.stringify(path.join(dist, 'dgram.js'))});
      const api = tsvma.getVmaApi();
      if (workerData.off) api.thread_offload(0, threadId);
      const s = dgram.createSocket('udp4');
      s.bind(0, '0.0.0.0', () => { parentPort.postMessage(s.offloaded); s.close(() => process.exit(0)); });`;
    const run = (off: boolean): Promise<boolean> =>
      new Promise((res, rej) => {
        const w = new Worker(code, { eval: true, workerData: { off }, env: { ...process.env, VMA_LOG_FILE: '' } });
        w.once('message', res);
        w.once('error', rej);
      });
    expect(await run(true)).toBe(false);
    expect(await run(false)).toBe(true);
    const s = await bound(0, '0.0.0.0');
    expect(s.offloaded).toBe(true);
  });

  it('dump_fd_stats logs a socket (or all with fd 0) at the level given', async () => {
    const s = await bound();
    expect(api.dump_fd_stats(api.fdOf(s), 3)).toBe(0);
    expect(api.dump_fd_stats(0, 3)).toBe(0);
    expect(api.dump_fd_stats(4242, 3)).toBe(-1);
    const text = fs.readFileSync(logFile, 'utf8');
    expect(text).toContain(`Fd=[${api.fdOf(s)}]`);
  });

  it('vma_add_ring_profile, vma_modify_ring; ioctl is refused once the rings exist', async () => {
    const key = api.vma_add_ring_profile({ ring_type: tsvma.VMA_RING_PACKET });
    expect(key).toBeGreaterThan(0);
    expect(api.vma_add_ring_profile({ ring_type: tsvma.VMA_RING_EXTERNAL_MEM })).toBe(-1);
    expect(api.code).toBe('EOPNOTSUPP');
    const s = await bound();
    expect(api.setsockopt(s, tsvma.SOL_SOCKET, tsvma.SO_VMA_RING_ALLOC_LOGIC, { comp_mask: tsvma.VMA_RING_ALLOC_MASK_RING_PROFILE_KEY, ring_alloc_logic: 0, ring_profile_key: key })).toBe(0);
    const [rfd] = api.get_socket_rings_fds(s) as number[];
    expect(api.vma_modify_ring({ ring_fd: rfd, comp_bit_mask: tsvma.VMA_MODIFY_RING_CQ_MODERATION, cq_moderation: { cq_moderation_count: 32, cq_moderation_period_usec: 10 } })).toBe(0);
    expect(api.vma_modify_ring({ ring_fd: rfd, comp_bit_mask: tsvma.VMA_MODIFY_RING_CQ_ARM })).toBe(-1);
    expect(api.vma_modify_ring({ ring_fd: 4242, comp_bit_mask: 1 })).toBe(-1);
    const alloc = { level: tsvma.SOL_SOCKET, type: tsvma.CMSG_VMA_IOCTL_USER_ALLOC, data: { flags: 3, memalloc: (n: number) => new Uint8Array(n), memfree: () => undefined } };
    expect(api.ioctl([alloc])).toBe(-1);
    expect(api.code).toBe('EINVAL');
  });
});

describe('before the runtime starts', () => {
  it('getVmaApi is null without a device', () => {
    jest.isolateModules(() => {
      const saved = process.env.TSVMA_DEVICE;
      delete process.env.TSVMA_DEVICE;
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        expect((require('../../lib/index') as typeof import('../../lib/index')).getVmaApi()).toBeNull();
      } finally {
        process.env.TSVMA_DEVICE = saved;
      }
    });
  });

  it('ioctl(CMSG_VMA_IOCTL_USER_ALLOC) before the first socket: the ring pools come from the allocator and go back at close', async () => {
    const calls: number[] = [];
    let freed = 0;
    await jest.isolateModulesAsync(async () => {
      /* eslint-disable @typescript-eslint/no-require-imports */
      const t = require('../../lib/index') as typeof import('../../lib/index');
      const d = require('../../lib/dgram') as typeof import('../../lib/dgram');
      const r = require('../../lib/runtime') as typeof import('../../lib/runtime');
      /* eslint-enable @typescript-eslint/no-require-imports */
      const a = t.getVmaApi()!;
      const memalloc = (n: number): Uint8Array => {
        calls.push(n);
        return new Uint8Array(n);
      };
      expect(a.ioctl([{ level: t.SOL_SOCKET, type: t.CMSG_VMA_IOCTL_USER_ALLOC, data: { flags: t.VMA_IOCTL_USER_ALLOC_FLAG_RX, memalloc, memfree: () => freed++ } }])).toBe(0);
      expect(a.ioctl([{ level: t.SOL_SOCKET, type: 1, data: {} }])).toBe(-1);
      const s = d.createSocket('udp4');
      await new Promise<void>((res) => s.bind(0, ADDR, () => res()));
      expect(calls.length).toBe(2); // the RX pools of both rings (sim and loopback)
      expect(r.runtime()!.engine.ring.rxPool.region.u8.byteLength).toBe(calls[0]);
      await new Promise<void>((res) => s.close(() => res()));
      r.closeRuntime();
    });
    expect(freed).toBe(2);
  });
});

describe('TCP', () => {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const net = require('../../lib/net') as typeof import('../../lib/net');
  /* eslint-enable @typescript-eslint/no-require-imports */
  type NetSocket = import('node:net').Socket;
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  /** A tsvma server on ADDR (paused connections unless `flowing`) and a connected client; resolves both ends. */
  async function pair(opts: { flowing?: boolean; address?: string; onConnection?: (c: NetSocket) => void } = {}): Promise<{ server: import('node:net').Server; client: NetSocket; conn: NetSocket }> {
    let conn: NetSocket | null = null;
    const server = net.createServer({ pauseOnConnect: !opts.flowing }, (c) => {
      conn = c;
      opts.onConnection?.(c);
    });
    await new Promise<void>((r) => server.listen(0, opts.address ?? ADDR, () => r()));
    const port = (server.address() as { port: number }).port;
    const client = net.connect(port, ADDR);
    await new Promise<void>((r) => client.once('connect', () => r()));
    await until(() => conn !== null);
    closers.push(async () => {
      client.destroy();
      conn?.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise((r) => setTimeout(r, 5));
    });
    return { server, client, conn: conn! };
  }

  it('ring fds per state: unbound, listening (address and wildcard), connected', async () => {
    const s = new net.Socket();
    expect(api.get_socket_rings_num(s)).toBe(0);
    expect(api.get_socket_rings_fds(s)).toEqual([]);
    const { server, client, conn } = await pair();
    const [ra] = api.get_socket_rings_fds(server) as number[];
    expect(api.get_socket_rings_num(server)).toBe(1);
    expect(api.get_socket_rings_fds(client)).toEqual([ra]);
    expect(api.get_socket_rings_fds(conn)).toEqual([ra]);
    expect(api.fdOf(client)).toBeGreaterThan(0);
    const wild = await pair({ address: '0.0.0.0' });
    expect(api.get_socket_rings_num(wild.server)).toBe(2);
    const h = api.get_socket_network_header(client) as Uint8Array;
    expect(h.length).toBe(54);
    expect(h[23]).toBe(6);
  });

  it('SO_VMA_SHUTDOWN_RX on a connection: set, then read back by getsockopt', async () => {
    const { conn } = await pair();
    expect(api.getsockopt(conn, tsvma.SOL_SOCKET, tsvma.SO_VMA_SHUTDOWN_RX)).toBe(0);
    expect(api.setsockopt(conn, tsvma.SOL_SOCKET, tsvma.SO_VMA_SHUTDOWN_RX, 1)).toBe(0);
    expect(api.getsockopt(conn, tsvma.SOL_SOCKET, tsvma.SO_VMA_SHUTDOWN_RX)).toBe(1);
  });

  it('recvfrom_zcopy (gtest vma_recvfrom_zcopy): ENOBUFS, a single exchange, large data with free_packets', async () => {
    const { client, conn } = await pair();
    expect(api.recvfrom_zcopy(conn, 16)).toBe(-1);
    expect(api.code).toBe('ENOBUFS');
    expect(api.recvfrom_zcopy(conn, 1024)).toBe(-1);
    expect(api.code).toBe('EAGAIN');
    client.write('hello');
    const results: import('../../lib/index').ZcopyResult[] = [];
    await until(() => {
      const z = api.recvfrom_zcopy(conn, 1024);
      if (z !== -1) results.push(z);
      return results.length > 0;
    });
    const one = results[0];
    expect(one.bytes).toBe(5);
    expect(one.flags & tsvma.MSG_VMA_ZCOPY).toBe(tsvma.MSG_VMA_ZCOPY);
    expect(Buffer.concat(one.packets.map((p) => Buffer.from(p.iov[0]))).toString()).toBe('hello');
    expect(one.from.port).toBe(client.localPort);
    expect(api.free_packets(conn, one.packets)).toBe(0);
    // Large: 1 MiB, read only by recvfrom_zcopy, freed as it goes (the window reopens on each free).
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 9)) & 0xff;
    client.write(big);
    const parts: Buffer[] = [];
    let n = 0;
    while (n < big.length) {
      const z = api.recvfrom_zcopy(conn, 4096);
      if (z === -1) {
        expect(api.code).toBe('EAGAIN');
        await new Promise((res) => setImmediate(res));
        continue;
      }
      for (const p of z.packets) parts.push(Buffer.from(p.iov[0]));
      n += z.bytes;
      expect(api.free_packets(conn, z.packets)).toBe(0);
    }
    expect(Buffer.compare(Buffer.concat(parts), big)).toBe(0);
  });

  it('register_recv_callback: DROP, HOLD (freed later) and RECV on a connection', async () => {
    const seen: string[] = [];
    const held: number[] = [];
    const data: string[] = [];
    const { client, conn } = await pair({
      flowing: true,
      onConnection: (c) => {
        c.on('data', (d) => data.push(d.toString()));
        api.register_recv_callback(c, (_fd, iov, info) => {
          const t = Buffer.from(iov[0]).toString();
          seen.push(t);
          if (t.startsWith('drop')) return tsvma.VMA_PACKET_DROP;
          if (t.startsWith('hold')) {
            held.push(info.packet_id);
            return tsvma.VMA_PACKET_HOLD;
          }
          return tsvma.VMA_PACKET_RECV;
        });
      },
    });
    for (const t of ['drop-1', 'hold-1', 'recv-1', 'drop-2']) {
      const before = seen.length;
      client.write(t);
      await until(() => seen.length === before + 1);
    }
    await until(() => data.length === 1);
    expect(seen).toEqual(['drop-1', 'hold-1', 'recv-1', 'drop-2']);
    expect(data).toEqual(['recv-1']);
    expect(held).toHaveLength(1);
    expect(api.free_packets(conn, held)).toBe(0);
  });

  it('dummy send on a connection: nothing reaches the peer; more than one segment is EAGAIN', async () => {
    const got: string[] = [];
    const { client } = await pair({ flowing: true, onConnection: (c) => c.on('data', (d) => got.push(d.toString())) });
    const ring = runtime()!.engine.ring;
    const d0 = ring.counters.txDummy;
    expect(api.send(client, 'warm', tsvma.VMA_SND_FLAGS_DUMMY)).toBe(4);
    expect(ring.counters.txDummy - d0).toBe(1);
    expect(api.send(client, Buffer.alloc(5000), tsvma.VMA_SND_FLAGS_DUMMY)).toBe(-1);
    expect(api.code).toBe('EAGAIN');
    expect(() => tsvma.sendDummy(client, Buffer.alloc(5000))).toThrow(expect.objectContaining({ code: 'EAGAIN' }));
    client.write('real');
    await until(() => got.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual(['real']);
  });
});
