/**
 * VMA's extra API for TCP on real stacks over the sim wire: a receive filter holding RX buffers of
 * the ring, zero-copy reads and filters under loss and reordering (sha256 of what the application
 * saw), SO_VMA_SHUTDOWN_RX, and dummy sends stopped before the wire (to a peer and to ourselves).
 */
import { createHash } from 'node:crypto';
import { SimNet } from '../../test/helpers/simnet';
import { parseIp } from '../wire/addr';
import { Tcp, TcpRxVerdict, TcpState, type RxBufferPool, type TcpOptions, type TcpSocket } from './tcp';

const A = parseIp('198.18.0.1');
const B = parseIp('198.18.0.2');
const KEY = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);

function setup(simOpts: ConstructorParameters<typeof SimNet>[0] = {}, tcpOpts: TcpOptions = {}) {
  const net = new SimNet(simOpts);
  const a = net.add('198.18.0.1', 0x0200c6120001);
  const b = net.add('198.18.0.2', 0x0200c6120002);
  const ta = new Tcp(a.stack, { isnKey: KEY, ...tcpOpts });
  const tb = new Tcp(b.stack, { isnKey: KEY, ...tcpOpts });
  net.settle();
  return { net, a, b, ta, tb };
}

/** Client on A, accepted connection on B port 80. */
function connectPair(net: SimNet, ta: Tcp, tb: Tcp): { c: TcpSocket; s: TcpSocket } {
  const l = tb.open();
  expect(tb.bind(l, 0, 80)).toBe(0);
  expect(tb.listen(l, 16)).toBe(0);
  const c = ta.open();
  expect(ta.connect(c, B, 80, net.now)).toBe(0);
  for (let i = 0; i < 200 && c.state !== TcpState.Established; i++) net.advance(10, 1);
  let s: TcpSocket | null = null;
  for (let i = 0; i < 200 && !s; i++) {
    s = tb.accept(l);
    if (!s) net.advance(10, 1);
  }
  expect(s).not.toBeNull();
  return { c, s: s! };
}

/** setup and connectPair over a wire that drops 3%, duplicates 2% and reorders `reorder` of the frames (1 ms latency). */
function lossyPair(seed: number, reorder: number) {
  const env = setup({ faults: { seed, drop: 0.03, reorder, duplicate: 0.02 }, latencyMs: 1 });
  return { ...env, ...connectPair(env.net, env.ta, env.tb) };
}

function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >>> 11)) & 0xff;
  return b;
}

/** Fault and choice seeds for the mixed test (200 seeds were run once while writing it: the stream stayed whole in all). */
const SEEDS = [21, 22];

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Sends all of `data` from c, calling `poll` after each step of the clock. */
function pump(net: SimNet, ta: Tcp, c: TcpSocket, data: Buffer, done: () => boolean, poll: () => void): void {
  let sent = 0;
  for (let i = 0; i < 20000 && !done(); i++) {
    if (sent < data.length) sent += Math.max(0, ta.send(c, data, sent, data.length - sent, net.now));
    net.advance(1, 1);
    poll();
  }
}

describe('TCP extra API over the sim wire', () => {
  it('a filter that holds keeps the ring\'s RX buffer alive past the stack\'s release; releasing it returns it', () => {
    const { net, b, ta, tb } = setup();
    const { c, s } = connectPair(net, ta, tb);
    const kept: { pool: RxBufferPool; id: number; data: Uint8Array; off: number; len: number }[] = [];
    s.rxFilter = (_s, data, off, len, ref) => {
      ref!.pool.ref(ref!.id);
      kept.push({ pool: ref!.pool, id: ref!.id, data, off, len });
      return TcpRxVerdict.Hold;
    };
    expect(ta.send(c, Buffer.from('zero copy payload'), 0, 17, net.now)).toBe(17);
    net.advance(50, 1);
    expect(kept).toHaveLength(1);
    const k = kept[0];
    expect(k.pool).toBe(b.ring.rxPool);
    expect(k.data).toBe(b.ifc.rxBytes.u8);
    expect(b.ring.rxPool.refs(k.id)).toBe(1); // the stack's reference went, the application's stays
    net.advance(50, 1);
    expect(Buffer.from(k.data.subarray(k.off, k.off + k.len)).toString()).toBe('zero copy payload');
    expect(s.counters.rxHeld).toBe(1);
    expect(s.rxQueued).toBe(0);
    expect(c.txQueued).toBe(0); // acknowledged
    expect(net.outstanding()).toBe(1);
    k.pool.release(k.id);
    expect(net.outstanding()).toBe(0);
    net.close();
  });

  it('moves 1 MiB under loss and reordering to a receiver that reads only zero-copy (peek, hold, free out of order)', () => {
    const { net, ta, tb, c, s } = lossyPair(11, 0.05);
    const data = pattern(1 << 20);
    const got: Buffer[] = [];
    let gotLen = 0;
    const pending: number[] = [];
    pump(net, ta, c, data, () => gotLen >= data.length, () => {
      const views = tb.peekReceived(s);
      let n = 0;
      for (const v of views) {
        got.push(Buffer.from(v));
        n += v.length;
      }
      if (n > 0) {
        gotLen += n;
        pending.push(tb.holdReceived(s, n));
      }
      // Free in pairs, the later hold first.
      if (pending.length >= 2) {
        const y = pending.pop()!;
        const x = pending.pop()!;
        expect(tb.freeHeld(s, y, net.now)).toBe(0);
        expect(tb.freeHeld(s, x, net.now)).toBe(0);
      }
    });
    for (const id of pending) expect(tb.freeHeld(s, id, net.now)).toBe(0);
    expect(gotLen).toBe(data.length);
    expect(sha(Buffer.concat(got))).toBe(sha(data));
    expect(s.rxHeldBytes).toBe(0);
    expect(s.counters.outOfOrder).toBeGreaterThan(0);
    net.close();
  });

  it('moves 1 MiB under loss and reordering through a filter that drops everything (out-of-order bytes reach it later, with ref null)', () => {
    const { net, ta, c, s } = lossyPair(5, 0.05);
    const data = pattern(1 << 20);
    const got: Buffer[] = [];
    let gotLen = 0;
    let fromRing = 0;
    s.rxFilter = (_s, d, off, len, ref) => {
      got.push(Buffer.from(d.subarray(off, off + len)));
      gotLen += len;
      if (ref === null) fromRing++;
      return TcpRxVerdict.Drop;
    };
    pump(net, ta, c, data, () => gotLen >= data.length && c.txQueued === 0, () => {
      // Whatever the filter did not see (none expected) would be readable here.
      expect(s.rxQueued).toBe(0);
    });
    expect(gotLen).toBe(data.length);
    expect(sha(Buffer.concat(got))).toBe(sha(data));
    expect(fromRing).toBeGreaterThan(0);
    expect(s.counters.rxBytes).toBe(data.length);
    expect(net.outstanding()).toBe(0);
    net.close();
  });

  it.each(SEEDS)('keeps the byte stream whole when filter verdicts, recv, zero-copy holds and frees are mixed at random under loss (seed %i)', (seed) => {
    const { net, b, ta, tb, c, s } = lossyPair(seed, 0.08);
    const data = pattern(600000);
    let rnd = 12345 + seed;
    const rand = (n: number): number => {
      rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0;
      return (rnd >>> 8) % n;
    };
    const got: Buffer[] = [];
    let gotLen = 0;
    const buffers: { pool: RxBufferPool; id: number }[] = [];
    const holds: number[] = [];
    const verdicts = [0, 0, 0, 0, 0, 0];
    s.rxFilter = (_s, d, off, len, ref) => {
      const v = rand(3);
      verdicts[v + (ref === null ? 3 : 0)]++;
      if (v === TcpRxVerdict.Recv) return v;
      got.push(Buffer.from(d.subarray(off, off + len)));
      gotLen += len;
      if (v === TcpRxVerdict.Hold && ref !== null) {
        ref.pool.ref(ref.id);
        buffers.push({ pool: ref.pool, id: ref.id });
      }
      return v;
    };
    const tmp = Buffer.alloc(5000);
    pump(net, ta, c, data, () => gotLen >= data.length, () => {
      const act = rand(4);
      if (act < 2) {
        // recv: a random amount, or everything readable
        for (;;) {
          const n = tb.recv(s, tmp, 0, act === 0 ? 1 + rand(tmp.length) : tmp.length, net.now);
          got.push(Buffer.from(tmp.subarray(0, n)));
          gotLen += n;
          if (act === 0 || n === 0) break;
        }
      } else if (s.rxQueued > 0) {
        // zero-copy: everything readable, or a random part
        const n = act === 2 ? s.rxQueued : 1 + rand(s.rxQueued);
        let left = n;
        for (const v of tb.peekReceived(s)) {
          const k = Math.min(left, v.length);
          got.push(Buffer.from(v.subarray(0, k)));
          left -= k;
        }
        gotLen += n;
        holds.push(tb.holdReceived(s, n));
      }
      // Free a random hold and a random held RX buffer now and then.
      if (holds.length > 0 && rand(2) === 0) expect(tb.freeHeld(s, holds.splice(rand(holds.length), 1)[0], net.now)).toBe(0);
      if (buffers.length > 0 && rand(2) === 0) {
        const x = buffers.splice(rand(buffers.length), 1)[0];
        x.pool.release(x.id);
      }
    });
    expect(gotLen).toBe(data.length);
    expect(sha(Buffer.concat(got))).toBe(sha(data));
    for (const id of holds) expect(tb.freeHeld(s, id, net.now)).toBe(0);
    for (const x of buffers) x.pool.release(x.id);
    expect(s.rxHeldBytes).toBe(0);
    expect(s.counters.rxHeld).toBeGreaterThan(0);
    expect(s.counters.rxFilterDrops).toBeGreaterThan(0);
    // Every verdict was given for bytes in an RX buffer; bytes joined from out of order reached the filter too.
    expect(verdicts.slice(0, 3).every((n) => n > 0)).toBe(true);
    expect(verdicts[3] + verdicts[4] + verdicts[5]).toBeGreaterThan(0);
    net.settle();
    expect(b.ring.rxPool.counters.outstanding).toBe(0);
    net.close();
  });

  it('SO_VMA_SHUTDOWN_RX: the sender sees everything acknowledged, the receiver nothing readable', () => {
    const { net, ta, tb } = setup({ faults: { seed: 3, drop: 0.02, reorder: 0.02 }, latencyMs: 1 });
    const { c, s } = connectPair(net, ta, tb);
    s.rxShutdown = true;
    const data = pattern(300000);
    pump(net, ta, c, data, () => c.txQueued === 0 && c.counters.txBytes >= data.length, () => undefined);
    expect(c.txQueued).toBe(0);
    expect(s.rxQueued).toBe(0);
    expect(s.counters.rxShutdownDrops).toBeGreaterThan(0);
    expect(s.state).toBe(TcpState.Established);
    net.close();
  });

  it('a dummy send runs the TX path and stops before the wire; the connection goes on unchanged', () => {
    const { net, a, ta, tb } = setup();
    const { c, s } = connectPair(net, ta, tb);
    const segsIn = tb.counters.segmentsIn;
    const nxt = c.sndNxt;
    expect(ta.sendDummy(c, Buffer.from('warm'), 0, 4, net.now)).toBe(4);
    net.settle();
    expect(a.ring.counters.txDummy).toBe(1);
    expect(tb.counters.segmentsIn).toBe(segsIn);
    expect(c.sndNxt).toBe(nxt);
    expect(c.counters.txDummy).toBe(1);
    expect(ta.send(c, Buffer.from('real'), 0, 4, net.now)).toBe(4);
    net.advance(50, 1);
    const buf = Buffer.alloc(16);
    expect(buf.toString('latin1', 0, tb.recv(s, buf, 0, 16, net.now))).toBe('real');
    expect(net.outstanding()).toBe(0);
    net.close();
  });

  it('a dummy send to our own address is stopped by the stack\'s loop (counted by the ring)', () => {
    const { net, a, ta } = setup();
    const l = ta.open();
    ta.bind(l, A, 7000);
    ta.listen(l, 4);
    const c = ta.open();
    expect(ta.connect(c, A, 7000, net.now)).toBe(0);
    net.advance(5);
    const s = ta.accept(l)!;
    expect(s.state).toBe(TcpState.Established);
    const segsIn = ta.counters.segmentsIn;
    expect(ta.sendDummy(c, Buffer.from('self'), 0, 4, net.now)).toBe(4);
    net.advance(5);
    expect(a.ring.counters.txDummy).toBe(1);
    expect(ta.counters.segmentsIn).toBe(segsIn);
    expect(s.rxQueued).toBe(0);
    expect(net.outstanding()).toBe(0);
    net.close();
  });
});
