/**
 * VMA's extra API on the TCP engine (fake host, fake clock): the receive filter
 * (register_recv_callback), zero-copy receive (recvfrom_zcopy / free_packets), SO_VMA_SHUTDOWN_RX
 * and dummy sends (VMA_SND_FLAGS_DUMMY). All on an ESTABLISHED connection.
 */
import { TcpFlag } from '../wire/tcp';
import { seq } from '../wire/seq';
import { TcpEngine } from './engine';
import { FakeHost, makeSeg, type SentSegment } from './fake_host';
import { TcpRxVerdict, type RxBufferPool, type RxBufferRef, type TcpSocket } from './socket';
import { TcpErrno, TcpState } from './types';

const L = 0xc6120002; // 198.18.0.2 (us)
const R = 0xc6120001; // 198.18.0.1 (peer)
const KEY = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2]);
const IRS = 0xfffff000; // near the wrap
const SYN = TcpFlag.SYN;
const ACK = TcpFlag.ACK;
const FIN = TcpFlag.FIN;
const RST = TcpFlag.RST;
const PSH = TcpFlag.PSH;

const add = (a: number, n: number): number => (a + n) >>> 0;
const seqOf = (x: number): number => x >>> 0;

/** A pool that counts references, standing in for a ring's RX pool. */
class CountingPool implements RxBufferPool {
  refs = new Map<number, number>();
  ref(id: number): void {
    this.refs.set(id, (this.refs.get(id) ?? 0) + 1);
  }
  release(id: number): void {
    this.refs.set(id, (this.refs.get(id) ?? 0) - 1);
  }
}

/** One accepted connection from a peer at R:40000 to our port 80 (no options: window 65535 unscaled, MSS 1460). */
class Conn {
  readonly host = new FakeHost(1000, L);
  readonly e = new TcpEngine(this.host, { isnKey: KEY });
  readonly s: TcpSocket;
  readonly iss: number;
  pseq = add(IRS, 1);
  events: string[] = [];
  /** The peer's timestamp clock when timestamps were negotiated (0: off). */
  tsv = 0;

  constructor(rcvBuf = 262144, peer: { ts?: boolean; sack?: boolean } = {}) {
    const l = this.e.open();
    l.rcvBuf = rcvBuf;
    this.e.bind(l, 0, 80);
    this.e.listen(l, 4);
    this.in({ flags: SYN, seq: seq(IRS), mss: 1460, sackPermitted: peer.sack ?? false, hasTimestamp: peer.ts ?? false, tsVal: 1 });
    const [synack] = this.host.take();
    this.iss = synack.seq;
    this.in({ flags: ACK, seq: seq(this.pseq), ack: seq(add(this.iss, 1)), hasTimestamp: peer.ts ?? false, tsVal: 2, tsEcr: synack.tsVal });
    this.s = this.e.accept(l)!;
    expect(this.s.state).toBe(TcpState.Established);
    this.s.onReadable = () => this.events.push('readable');
    this.host.take();
    if (peer.ts) this.tsv = 3;
  }

  in(p: Parameters<typeof makeSeg>[0], payload: Buffer = Buffer.alloc(0), ref: RxBufferRef | null = null): void {
    const r = makeSeg({ srcPort: 40000, dstPort: 80, payloadLength: payload.length, ...p });
    if (this.tsv > 0 && p.hasTimestamp === undefined) {
      r.hasTimestamp = true;
      r.tsVal = this.tsv++;
    }
    this.e.segmentIn(R, L, r, payload, 0, this.host.now, ref);
  }

  /** Peer data at sequence offset `at` from the peer's first byte (default: its next byte). */
  data(payload: Buffer | string, at?: number, ref: RxBufferRef | null = null, flags = ACK | PSH): void {
    const b = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const sq = at === undefined ? this.pseq : add(IRS, 1 + at);
    this.in({ flags, seq: seq(sq), ack: seq(add(this.iss, 1)) }, b, ref);
    if (at === undefined) this.pseq = add(this.pseq, b.length);
  }

  out(): SentSegment[] {
    return this.host.take();
  }

  /** The last ACK we sent: [ack offset from the peer's first byte, window field]. */
  lastAck(): [number, number] {
    const all = this.out();
    expect(all.length).toBeGreaterThan(0);
    const a = all[all.length - 1];
    return [(a.ack - add(IRS, 1)) >>> 0, a.window];
  }

  recvAll(): string {
    const b = Buffer.alloc(1 << 20);
    const n = this.e.recv(this.s, b, 0, b.length, this.host.now);
    return b.toString('latin1', 0, n);
  }
}

const text = (n: number, from = 0): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(0x41 + ((from + i) % 26));
  return s;
};

describe('ESTABLISHED: receive filter (register_recv_callback)', () => {
  it('Drop: the bytes are ACKed as read (window not reduced), nothing is readable, no Readable event, counted', () => {
    const c = new Conn();
    const seen: string[] = [];
    c.s.rxFilter = (_s, data, off, len, ref) => {
      seen.push(Buffer.from(data.subarray(off, off + len)).toString());
      expect(ref).toBeNull();
      return TcpRxVerdict.Drop;
    };
    c.data('hello');
    c.data(' world');
    expect(seen).toEqual(['hello', ' world']);
    expect(c.s.rxQueued).toBe(0);
    expect(c.events).toEqual([]);
    const [ack, wnd] = c.lastAck();
    expect(ack).toBe(11);
    expect(wnd).toBe(65535); // the whole buffer (capped by the unscaled field)
    expect(c.s.counters.rxFilterDrops).toBe(2);
    expect(c.s.counters.rxBytes).toBe(11);
    expect(c.recvAll()).toBe('');
  });

  it('Recv: queued as usual; while bytes are readable the filter is not called (order kept), then again once drained', () => {
    const c = new Conn();
    const seen: string[] = [];
    let verdict: number = TcpRxVerdict.Recv;
    c.s.rxFilter = (_s, data, off, len) => {
      seen.push(Buffer.from(data.subarray(off, off + len)).toString());
      return verdict;
    };
    c.data('one');
    verdict = TcpRxVerdict.Drop;
    c.data('two'); // 'one' is readable: queued behind it without the filter
    expect(seen).toEqual(['one']);
    expect(c.events).toEqual(['readable', 'readable']);
    expect(c.recvAll()).toBe('onetwo');
    c.data('three');
    expect(seen).toEqual(['one', 'three']);
    expect(c.s.rxQueued).toBe(0);
    expect(c.s.counters).toMatchObject({ rxFilterDrops: 1, rxHeld: 0, rxBytes: 11 });
  });

  it('Hold: the filter gets the host\'s RX buffer and keeps it with a reference of its own', () => {
    const c = new Conn();
    const pool = new CountingPool();
    const ref = { pool, id: 42 };
    const kept: { pool: RxBufferPool; id: number; off: number; len: number }[] = [];
    c.s.rxFilter = (_s, _data, off, len, r) => {
      r!.pool.ref(r!.id);
      kept.push({ pool: r!.pool, id: r!.id, off, len });
      return TcpRxVerdict.Hold;
    };
    c.data('held bytes', undefined, ref);
    expect(kept).toEqual([{ pool, id: 42, off: 0, len: 10 }]);
    expect(pool.refs.get(42)).toBe(1);
    expect(c.s.counters.rxHeld).toBe(1);
    expect(c.s.rxQueued).toBe(0);
    expect(c.lastAck()[0]).toBe(10);
  });

  it('sees only the new part of a segment that overlaps bytes already taken', () => {
    const c = new Conn();
    const seen: string[] = [];
    c.s.rxFilter = (_s, data, off, len) => {
      seen.push(Buffer.from(data.subarray(off, off + len)).toString());
      return TcpRxVerdict.Drop;
    };
    c.data('abcdef');
    c.data('defghi', 3); // retransmission overlapping 'def'
    expect(seen).toEqual(['abcdef', 'ghi']);
    expect(c.lastAck()[0]).toBe(9);
  });

  it('out-of-order bytes made in-order go through the filter afterwards with ref null; a Recv keeps them, in order', () => {
    const c = new Conn();
    const seen: [string, boolean][] = [];
    const verdicts = [TcpRxVerdict.Drop, TcpRxVerdict.Recv];
    c.s.rxFilter = (_s, data, off, len, ref) => {
      seen.push([Buffer.from(data.subarray(off, off + len)).toString(), ref === null]);
      return verdicts.shift() ?? TcpRxVerdict.Drop;
    };
    c.data('CCCC', 8); // out of order: kept in the buffer, not filtered
    c.data('BBBB', 4);
    expect(seen).toEqual([]);
    c.data('AAAA', 0, { pool: new CountingPool(), id: 1 }); // fills the hole: AAAA dropped, then BBBBCCCC joined
    c.pseq = add(IRS, 13);
    expect(seen).toEqual([['AAAA', false], ['BBBBCCCC', true]]);
    expect(c.recvAll()).toBe('BBBBCCCC');
    expect(c.lastAck()[0]).toBe(12);
    // The buffer's front moved past the dropped bytes: later data lands where it should.
    c.s.rxFilter = null;
    c.data('DD');
    expect(c.recvAll()).toBe('DD');
  });

  it('joined bytes that wrap around the buffer memory are offered in two pieces', () => {
    const c = new Conn();
    // Move the ring's front near the end of its first 16 KiB of memory.
    c.data(text(16000));
    expect(c.recvAll()).toBe(text(16000));
    const pieces: string[] = [];
    c.s.rxFilter = (_s, data, off, len) => {
      pieces.push(Buffer.from(data.subarray(off, off + len)).toString('latin1'));
      return TcpRxVerdict.Drop;
    };
    c.data(text(1000, 1), 16100); // out of order, across the memory's end
    c.data(text(100, 2), 16000); // the hole
    expect(pieces).toHaveLength(3);
    expect(pieces[0]).toBe(text(100, 2));
    expect(pieces[1] + pieces[2]).toBe(text(1000, 1));
    expect(pieces[1].length).toBe(16384 - 16100);
    expect(c.s.counters.rxFilterDrops).toBe(3);
    expect(c.s.rxQueued).toBe(0);
    c.s.rxFilter = null;
    c.pseq = add(IRS, 1 + 17100);
    c.data('tail');
    expect(c.recvAll()).toBe('tail');
  });

  it('with held bytes in front and nothing out of order, Drop leaves the holds intact', () => {
    const c = new Conn();
    c.data('keep');
    const id = c.e.holdReceived(c.s, 4);
    expect(id).toBe(0);
    c.s.rxFilter = () => TcpRxVerdict.Drop;
    c.data('gone');
    expect(c.s.counters.rxFilterDrops).toBe(1);
    expect(c.s.rxQueued).toBe(0);
    c.s.rxFilter = null;
    c.data('next');
    expect(c.recvAll()).toBe('next');
    expect(c.e.peekReceived(c.s)).toEqual([]);
    expect(c.e.freeHeld(c.s, id, c.host.now)).toBe(0);
    expect(c.s.rxHeldBytes).toBe(0);
  });

  it('a FIN after filtered bytes still moves to CLOSE-WAIT and is readable as EOF', () => {
    const c = new Conn();
    c.s.rxFilter = () => TcpRxVerdict.Drop;
    c.data('last', undefined, null, ACK | PSH | FIN);
    expect(c.s.state).toBe(TcpState.CloseWait);
    expect(c.s.finReceived).toBe(true);
    expect(c.events).toEqual(['readable']);
    expect(c.lastAck()[0]).toBe(5);
  });
});

describe('ESTABLISHED: zero-copy receive (recvfrom_zcopy / free_packets)', () => {
  it('peeks views of the readable bytes, holds them (window stays reduced), frees out of order', () => {
    const c = new Conn(4096);
    c.data(text(1000));
    let v = c.e.peekReceived(c.s);
    expect(v).toHaveLength(1);
    expect(Buffer.from(v[0]).toString()).toBe(text(1000));
    const a = c.e.holdReceived(c.s, 600);
    const b = c.e.holdReceived(c.s, 400);
    expect([a, b]).toEqual([0, 1]);
    expect(c.s.rxQueued).toBe(0);
    expect(c.s.rxHeldBytes).toBe(1000);
    expect(c.e.peekReceived(c.s)).toEqual([]);
    c.out();
    // Later bytes arrive behind the holds; the advertised window counts the held bytes.
    c.data(text(1000, 5));
    expect(c.lastAck()[1]).toBe(4096 - 2000);
    v = c.e.peekReceived(c.s);
    expect(Buffer.from(v[0]).toString()).toBe(text(1000, 5));
    // The held bytes are unchanged under later writes.
    expect(Buffer.from(c.s.rx!.buf.subarray(0, 1000)).toString()).toBe(text(1000));
    expect(c.e.freeHeld(c.s, b, c.host.now)).toBe(0); // out of order: waits for `a`
    expect(c.s.rxHeldBytes).toBe(1000);
    expect(c.e.freeHeld(c.s, b, c.host.now)).toBe(-TcpErrno.EINVAL); // freed already
    expect(c.e.freeHeld(c.s, 7, c.host.now)).toBe(-TcpErrno.EINVAL); // unknown
    expect(c.e.freeHeld(c.s, a, c.host.now)).toBe(0);
    expect(c.s.rxHeldBytes).toBe(0);
    expect(c.s.rxQueued).toBe(1000);
    expect(c.recvAll()).toBe(text(1000, 5));
  });

  it('sends the window update when freeing reopens the window (as recv does)', () => {
    const c = new Conn(4096);
    c.data(text(1460));
    c.data(text(1460, 1));
    c.data(text(1176, 2)); // the buffer is full: window 0
    expect(c.lastAck()[1]).toBe(0);
    const id = c.e.holdReceived(c.s, 4096);
    expect(id).toBeGreaterThanOrEqual(0);
    expect(c.out()).toEqual([]); // a hold opens nothing
    expect(c.e.freeHeld(c.s, id, c.host.now)).toBe(0);
    const [ack, wnd] = c.lastAck();
    expect(ack).toBe(4096);
    expect(wnd).toBe(4096);
  });

  it('recv while holds are outstanding copies the bytes after them; they leave the buffer with the hold', () => {
    const c = new Conn(4096);
    c.data('AAAABBBB');
    const id = c.e.holdReceived(c.s, 4);
    expect(c.recvAll()).toBe('BBBB');
    expect(c.s.rxQueued).toBe(0);
    expect(c.s.rxHeldBytes).toBe(8);
    expect(c.e.peekReceived(c.s)).toEqual([]);
    c.data('CC');
    expect(c.recvAll()).toBe('CC');
    expect(c.e.freeHeld(c.s, id, c.host.now)).toBe(0);
    expect(c.s.rxHeldBytes).toBe(0);
    expect(c.s.rx!.len).toBe(0);
  });

  it('returns two views when the readable bytes wrap around the buffer memory', () => {
    const c = new Conn();
    c.data(text(16000));
    c.recvAll();
    c.data(text(1000, 3));
    const v = c.e.peekReceived(c.s);
    expect(v).toHaveLength(2);
    expect(v[0].length).toBe(384);
    expect(Buffer.concat(v).toString()).toBe(text(1000, 3));
  });

  it('rejects holds of nothing or of more than is readable', () => {
    const c = new Conn();
    c.data('abc');
    expect(c.e.holdReceived(c.s, 0)).toBe(-TcpErrno.EINVAL);
    expect(c.e.holdReceived(c.s, 4)).toBe(-TcpErrno.EINVAL);
    expect(c.e.holdReceived(c.s, 1.5)).toBe(-TcpErrno.EINVAL);
    expect(c.e.holdReceived(c.s, 3)).toBe(0);
    expect(c.e.holdReceived(c.s, 1)).toBe(-TcpErrno.EINVAL);
  });

  it('close() with only held bytes sends FIN (they were read); held views survive a reset and frees still work', () => {
    const c = new Conn();
    c.data('zero-copy');
    c.out();
    const v = c.e.peekReceived(c.s)[0];
    const id = c.e.holdReceived(c.s, 9);
    c.e.close(c.s, c.host.now);
    const [fin] = c.out();
    expect(fin.flags & (FIN | RST)).toBe(FIN);
    // The peer resets; the connection is gone but the held bytes are intact.
    c.in({ flags: RST, seq: seq(c.pseq) });
    expect(c.s.state).toBe(TcpState.Closed);
    expect(Buffer.from(v).toString()).toBe('zero-copy');
    expect(c.e.freeHeld(c.s, id, c.host.now)).toBe(0);
    expect(c.out()).toEqual([]);
  });

  it('close() with readable bytes behind a hold still resets (RFC 2525)', () => {
    const c = new Conn();
    c.data('abcdef');
    c.out();
    c.e.holdReceived(c.s, 3);
    c.e.close(c.s, c.host.now);
    expect(c.out().map((x) => x.flags & RST)).toEqual([RST]);
  });
});

describe('ESTABLISHED: SO_VMA_SHUTDOWN_RX', () => {
  it('ACKs and discards in-order payload; bytes queued before stay readable; out-of-order payload is not kept; FIN still taken', () => {
    const c = new Conn(4096);
    c.data('before');
    c.s.rxShutdown = true;
    c.data(text(2000));
    const [ack, wnd] = c.lastAck();
    expect(ack).toBe(2006);
    expect(wnd).toBe(4096 - 6); // only the readable bytes take room
    expect(c.s.rxQueued).toBe(6);
    c.data('later', 3000); // out of order: dropped, answered with a duplicate ACK (no SACK: nothing kept)
    const dup = c.out();
    expect(dup).toHaveLength(1);
    expect(dup[0].ack).toBe(add(IRS, 1 + 2006));
    c.data(text(994, 1)); // up to 3000: ACKed, but nothing beyond was kept
    expect(c.lastAck()[0]).toBe(3000);
    c.data('x', undefined, null, ACK | FIN);
    expect(c.s.state).toBe(TcpState.CloseWait);
    expect(c.lastAck()[0]).toBe(3002);
    expect(c.s.counters.rxShutdownDrops).toBe(4);
    expect(c.recvAll()).toBe('before');
    expect(c.s.finReceived).toBe(true);
    expect(c.events).toEqual(['readable', 'readable']); // the first data, then the FIN
  });

  it('forgets out-of-order ranges kept before the shutdown (they are retransmitted and discarded)', () => {
    const c = new Conn();
    c.data('later', 10);
    expect(c.s.oooCount).toBe(1);
    c.s.rxShutdown = true;
    c.data(text(10));
    expect(c.s.oooCount).toBe(0);
    expect(c.lastAck()[0]).toBe(10);
    c.data('later');
    expect(c.lastAck()[0]).toBe(15);
    expect(c.s.rxQueued).toBe(0);
  });
});

describe('ESTABLISHED: dummy send (VMA_SND_FLAGS_DUMMY)', () => {
  it('builds the segment a send would (SND.NXT, ACK, window, options, payload) and changes no TCP state', () => {
    const c = new Conn(262144, { ts: true, sack: true });
    c.data('ping');
    c.out();
    const s = c.s;
    const state = (): unknown => ({
      nxt: s.sndNxt, max: s.sndMax, una: s.sndUna, small: s.sndSmall, adv: s.rcvAdv, acked: s.lastAckSent, tx: s.txQueued, timing: s.timing,
      segs: s.counters.txSegments, bytes: s.counters.txBytes, out: c.e.counters.segmentsOut,
    });
    const before = state();
    const payload = Buffer.from('xxdummy!xx');
    expect(c.e.sendDummy(s, payload, 2, 6, c.host.now)).toBe(6);
    expect(c.out()).toEqual([]);
    expect(c.host.dummies).toHaveLength(1);
    const d = c.host.dummies[0];
    expect(d.payload.toString()).toBe('dummy!');
    expect(d.seq).toBe(add(c.iss, 1));
    expect(d.ack).toBe(add(IRS, 5));
    expect(d.flags).toBe(ACK | PSH);
    expect(d.hasTimestamp).toBe(true);
    expect(s.counters.txDummy).toBe(1);
    expect(state()).toEqual(before);
    expect(s.rtoTimer!.scheduled).toBe(false);
    // A real send afterwards goes at the same sequence number.
    expect(c.e.send(s, payload, 2, 6, c.host.now)).toBe(6);
    const [real] = c.out();
    expect(real.seq).toBe(d.seq);
    expect(real.payload.toString()).toBe('dummy!');
  });

  it('is refused with EAGAIN outside VMA\'s conditions, and with the state\'s errno when not connected', () => {
    const c = new Conn();
    const b = Buffer.alloc(3000, 1);
    const s = c.s;
    expect(c.e.sendDummy(s, b, 0, 0, c.host.now)).toBe(-TcpErrno.EAGAIN); // nothing to send
    expect(c.e.sendDummy(s, b, 0, s.mssData + 1, c.host.now)).toBe(-TcpErrno.EAGAIN); // more than a segment
    expect(c.e.sendDummy(s, b, 0, s.mssData, c.host.now)).toBe(s.mssData);
    expect(c.e.sendDummy(s, b, 2000, 1001, c.host.now)).toBe(-TcpErrno.EINVAL); // past the buffer
    // The peer's window is 100: a segment larger than it does not fit.
    c.in({ flags: ACK, seq: seq(c.pseq), ack: seq(add(c.iss, 1)), window: 100 });
    expect(c.e.sendDummy(s, b, 0, 101, c.host.now)).toBe(-TcpErrno.EAGAIN);
    expect(c.e.sendDummy(s, b, 0, 50, c.host.now)).toBe(50);
    // Unsent data queued (the window holds it back): refused.
    expect(c.e.send(s, b, 0, 200, c.host.now)).toBe(200);
    expect(seqOf(s.sndNxt)).not.toBe(add(c.iss, 201));
    expect(c.e.sendDummy(s, b, 0, 1, c.host.now)).toBe(-TcpErrno.EAGAIN);
    expect(s.counters.txDummy).toBe(2);
    // No TX buffer.
    const c2 = new Conn();
    c2.host.failTx = true;
    expect(c2.e.sendDummy(c2.s, b, 0, 10, c2.host.now)).toBe(-TcpErrno.ENOBUFS);
    c2.host.failTx = false;
    // Not connected (yet, or any more).
    const fresh = c2.e.open();
    expect(c2.e.sendDummy(fresh, b, 0, 10, c2.host.now)).toBe(-TcpErrno.ENOTCONN);
    expect(c2.e.connect(fresh, R, 81, c2.host.now)).toBe(0);
    expect(c2.e.sendDummy(fresh, b, 0, 10, c2.host.now)).toBe(-TcpErrno.EAGAIN); // SYN-SENT
    expect(c2.e.shutdown(c2.s, c2.host.now)).toBe(0);
    expect(c2.e.sendDummy(c2.s, b, 0, 10, c2.host.now)).toBe(-TcpErrno.EPIPE); // FIN-WAIT-1
    expect(c2.host.dummies).toHaveLength(0);
  });
});
