/**
 * SocketXtreme (VMA_SOCKETXTREME=1) in one process on the sim device with the loopback interface:
 * datagrams become completions on their ring (gtest vma_poll: PACKET on UDP, user data echoed),
 * buffers are ref'd and freed as VMA's, and no 'message' event is emitted.
 */
import * as os from 'node:os';

Object.assign(process.env, { TSVMA_DEVICE: 'sim', TSVMA_LOOPBACK: '1', VMA_SOCKETXTREME: '1', VMA_CONFIG_FILE: '/nonexistent/libvma.conf', VMA_STATS_SHMEM_DIR: os.tmpdir() });

/* eslint-disable @typescript-eslint/no-require-imports */
const tsvma = require('../../lib/index') as typeof import('../../lib/index');
const dgram = require('../../lib/dgram') as typeof import('../../lib/dgram');
const { runtime, closeRuntime } = require('../../lib/runtime') as typeof import('../../lib/runtime');
/* eslint-enable @typescript-eslint/no-require-imports */

type Sock = import('../../lib/dgram').Socket;
type Completion = import('../../lib/index').VmaCompletion;
const ADDR = '198.18.0.2';
const api = tsvma.getVmaApi()!;
const sockets: Sock[] = [];

async function bound(address = ADDR): Promise<Sock> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  await new Promise<void>((res) => s.bind(0, address, () => res()));
  return s;
}

/** socketxtreme_poll until `n` completions came (the application's busy loop, with turns for timers). */
async function pollFor(ringFd: number, n: number): Promise<Completion[]> {
  const out: Completion[] = [];
  const end = Date.now() + 5000;
  while (out.length < n) {
    const r = api.socketxtreme_poll(ringFd, 16);
    if (r === -1) throw new Error(api.code);
    out.push(...r);
    if (Date.now() > end) throw new Error(`timed out with ${out.length} completions`);
    if (r.length === 0) await new Promise((res) => setImmediate(res));
  }
  return out;
}

const outstanding = (): number => runtime()!.engine.ring.rxPool.counters.outstanding;

afterEach(async () => {
  for (const s of sockets.splice(0)) await new Promise<void>((r) => s.close(() => r()));
  // Closing segments still in flight on the sim wire hold RX buffers until the next poll turns.
  for (let i = 0; i < 200 && outstanding() !== 0; i++) await new Promise((r) => setTimeout(r, 5));
  expect(outstanding()).toBe(0);
});
afterAll(() => closeRuntime());

describe('SocketXtreme on UDP', () => {
  it('PACKET completions with the sender, length, buffers over ring memory and the fd as user data; no message events', async () => {
    const rx = await bound();
    const tx = await bound();
    let messages = 0;
    rx.on('message', () => messages++);
    const [ringFd] = api.get_socket_rings_fds(rx) as number[];
    expect(api.socketxtreme_poll(ringFd, 0)).toBe(-1);
    expect(api.code).toBe('EINVAL');
    expect(api.socketxtreme_poll(api.fdOf(rx), 4)).toBe(-1); // a socket fd is not a ring's
    expect(api.code).toBe('EBADFD');
    tx.send('one', rx.address().port, ADDR);
    tx.send('two', rx.address().port, ADDR);
    const cs = await pollFor(ringFd, 2);
    expect(cs).toHaveLength(2);
    for (const [i, c] of cs.entries()) {
      expect(c.events).toBe(tsvma.VMA_SOCKETXTREME_PACKET);
      expect(c.user_data).toBe(api.fdOf(rx));
      expect(c.src).toEqual({ address: ADDR, port: tx.address().port });
      expect(c.packet.num_bufs).toBe(1);
      expect(c.packet.total_len).toBe(3);
      expect(Buffer.from(c.packet.buff_lst!.payload).toString()).toBe(['one', 'two'][i]);
      expect(c.packet.buff_lst!.next).toBeNull();
    }
    expect(outstanding()).toBe(2);
    expect(api.socketxtreme_free_vma_packets(cs)).toBe(0);
    expect(outstanding()).toBe(0);
    expect(messages).toBe(0);
  });

  it('SO_VMA_USER_DATA is echoed in completions', async () => {
    const rx = await bound();
    const tx = await bound();
    const cookie = { mine: true };
    expect(api.setsockopt(rx, tsvma.SOL_SOCKET, tsvma.SO_VMA_USER_DATA, cookie)).toBe(0);
    const [ringFd] = api.get_socket_rings_fds(rx) as number[];
    tx.send('x', rx.address().port, ADDR);
    const [c] = await pollFor(ringFd, 1);
    expect(c.user_data).toBe(cookie);
    expect(api.socketxtreme_free_vma_packets([c.packet])).toBe(0);
  });

  it('ref_vma_buff keeps a buffer past free_vma_packets; free_vma_buff returns it', async () => {
    const rx = await bound();
    const tx = await bound();
    const [ringFd] = api.get_socket_rings_fds(rx) as number[];
    tx.send('keep', rx.address().port, ADDR);
    const [c] = await pollFor(ringFd, 1);
    const b = c.packet.buff_lst!;
    expect(api.socketxtreme_ref_vma_buff(b)).toBe(2);
    expect(api.socketxtreme_free_vma_packets([c])).toBe(0);
    expect(outstanding()).toBe(1);
    expect(Buffer.from(b.payload).toString()).toBe('keep');
    expect(api.socketxtreme_free_vma_buff(b)).toBe(0);
    expect(outstanding()).toBe(0);
    // Its last reference is gone: another free is EINVAL.
    expect(api.socketxtreme_free_vma_buff(b)).toBe(-1);
    expect(api.code).toBe('EINVAL');
    expect(api.socketxtreme_free_vma_packets(null as unknown as [])).toBe(-1);
  });

  it('each ring has its own queue', async () => {
    const rx = await bound('0.0.0.0');
    const tx = await bound(ADDR);
    const txLo = await bound('127.0.0.1');
    const [ringFd, loFd] = api.get_socket_rings_fds(rx) as number[];
    tx.send('eth', rx.address().port, ADDR);
    txLo.send('lo', rx.address().port, '127.0.0.1');
    const [a] = await pollFor(ringFd, 1);
    const [b] = await pollFor(loFd, 1);
    expect(Buffer.from(a.packet.buff_lst!.payload).toString()).toBe('eth');
    expect(Buffer.from(b.packet.buff_lst!.payload).toString()).toBe('lo');
    expect(api.socketxtreme_free_vma_packets([a, b])).toBe(0);
  });
});

describe('SocketXtreme on TCP (gtest vma_poll)', () => {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const net = require('../../lib/net') as typeof import('../../lib/net');
  /* eslint-enable @typescript-eslint/no-require-imports */

  it('NEW_CONNECTION_ACCEPTED with listen_fd and the peer, then PACKET completions for its data with its user data', async () => {
    const conns: import('node:net').Socket[] = [];
    const server = net.createServer((c) => conns.push(c));
    await new Promise<void>((r) => server.listen(0, ADDR, () => r()));
    const [ringFd] = api.get_socket_rings_fds(server) as number[];
    const client = net.connect((server.address() as { port: number }).port, ADDR);
    await new Promise<void>((r) => client.once('connect', () => r()));
    // Client and server share the ring: the client's connect (EPOLLOUT) and the accept both come here.
    const first = await pollFor(ringFd, 2);
    const acc = first.find((c) => (c.events & tsvma.VMA_SOCKETXTREME_NEW_CONNECTION_ACCEPTED) !== 0n)!;
    expect(acc).toBeDefined();
    expect(first.find((c) => c !== acc)).toMatchObject({ events: BigInt(tsvma.EPOLLOUT), user_data: api.fdOf(client) });
    expect(acc.listen_fd).toBe(api.fdOf(server));
    expect(acc.src).toEqual({ address: ADDR, port: client.localPort });
    await new Promise((r) => setImmediate(r));
    expect(conns).toHaveLength(1);
    const childFd = api.fdOf(conns[0]);
    expect(acc.user_data).toBe(childFd);
    expect(api.setsockopt(childFd, tsvma.SOL_SOCKET, tsvma.SO_VMA_USER_DATA, 'child-cookie')).toBe(0);
    let dataEvents = 0;
    conns[0].on('data', () => dataEvents++);
    client.write('tcp payload');
    const [p] = await pollFor(ringFd, 1);
    expect(p.events).toBe(tsvma.VMA_SOCKETXTREME_PACKET);
    expect(p.user_data).toBe('child-cookie');
    expect(Buffer.from(p.packet.buff_lst!.payload).toString()).toBe('tcp payload');
    expect(api.socketxtreme_free_vma_packets([p])).toBe(0);
    expect(dataEvents).toBe(0);
    // The server closes: the client's connection gets EPOLLIN | EPOLLRDHUP for the FIN.
    const clientFd = api.fdOf(client);
    conns[0].end();
    const events: bigint[] = [];
    const end = Date.now() + 5000;
    while (!events.some((ev) => (ev & BigInt(tsvma.EPOLLRDHUP)) !== 0n) && Date.now() < end) {
      const r = api.socketxtreme_poll(ringFd, 8);
      if (r === -1) throw new Error(api.code);
      for (const c of r) if (c.user_data === clientFd) events.push(c.events);
      if (r.length === 0) await new Promise((res) => setImmediate(res));
    }
    expect(events).toContain(BigInt(tsvma.EPOLLIN | tsvma.EPOLLRDHUP));
    client.destroy();
    conns[0].destroy();
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise((r) => setTimeout(r, 5));
  });
});
