/**
 * The TCP state machine with a fake host and a fake clock: segments are fed as Reprs and what the
 * engine sends is recorded. Grouped by the state the connection is in when the event happens.
 */
import { TcpFlag } from '../wire/tcp';
import { seq } from '../wire/seq';
import { TcpEngine, type TcpOptions } from './engine';
import { FakeHost, makeSeg, type SentSegment } from './fake_host';
import type { TcpSocket } from './socket';
import { TcpErrno, TcpState } from './types';

const L = 0xc6120002; // 198.18.0.2 (us)
const R = 0xc6120001; // 198.18.0.1 (peer)
const RP = 40000;
const KEY = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2]);
const IRS = 0xfffff000; // the peer's ISN, near the wrap to exercise modular arithmetic
const SYN = TcpFlag.SYN;
const ACK = TcpFlag.ACK;
const FIN = TcpFlag.FIN;
const RST = TcpFlag.RST;
const PSH = TcpFlag.PSH;
const MSS = 1460;

const add = (a: number, n: number): number => (a + n) >>> 0;

interface PeerOpts {
  ts?: boolean;
  sack?: boolean;
  ws?: number;
  mss?: number;
  window?: number;
}

class Harness {
  readonly host: FakeHost;
  readonly e: TcpEngine;
  /** The port the peer sends to (our port) and from. */
  lport = 80;
  rport = RP;
  /** The peer's next sequence number and timestamp clock. */
  pseq = add(IRS, 1);
  tsv = 5000;
  peer: PeerOpts = {};
  events: string[] = [];

  constructor(opts: TcpOptions = {}) {
    this.host = new FakeHost(1000, L);
    this.e = new TcpEngine(this.host, { isnKey: KEY, ...opts });
  }

  get now(): number {
    return this.host.now;
  }

  /** The window field the peer sends: 1000 (× 2^ws) with window scaling, else 65535. */
  get wnd(): number {
    return this.peer.window ?? ((this.peer.ws ?? -1) >= 0 ? 1000 : 65535);
  }

  /** Feeds a segment from the peer (ports and timestamps filled in). */
  in(p: Parameters<typeof makeSeg>[0], payload: Buffer = Buffer.alloc(0)): void {
    const r = makeSeg({ srcPort: this.rport, dstPort: this.lport, payloadLength: payload.length, ...p });
    if (this.peer.ts && p.hasTimestamp === undefined) {
      r.hasTimestamp = true;
      r.tsVal = this.tsv++;
      r.tsEcr = this.lastTs;
    }
    this.e.segmentIn(R, L, r, payload, 0, this.host.now);
  }

  get lastTs(): number {
    for (let i = this.host.sent.length - 1; i >= 0; i--) if (this.host.sent[i].hasTimestamp) return this.host.sent[i].tsVal;
    return this.lastTsSeen;
  }

  lastTsSeen = 0;

  out(): SentSegment[] {
    const s = this.host.take();
    for (const x of s) if (x.hasTimestamp) this.lastTsSeen = x.tsVal;
    return s;
  }

  watch(s: TcpSocket, name: string): void {
    s.onConnect = () => this.events.push(`${name}:connect`);
    s.onAccept = () => this.events.push(`${name}:accept`);
    s.onReadable = () => this.events.push(`${name}:readable`);
    s.onWritable = () => this.events.push(`${name}:writable`);
    s.onError = (_s, e) => this.events.push(`${name}:error ${e}`);
    s.onClose = () => this.events.push(`${name}:close`);
  }

  /** A listener on port 80. */
  listener(backlog = 8): TcpSocket {
    const l = this.e.open();
    expect(this.e.bind(l, 0, 80)).toBe(0);
    expect(this.e.listen(l, backlog)).toBe(0);
    return l;
  }

  synOpts(): Parameters<typeof makeSeg>[0] {
    const p = this.peer;
    return {
      mss: p.mss ?? MSS, windowScale: p.ws ?? -1, sackPermitted: p.sack ?? false,
      hasTimestamp: p.ts ?? false, tsVal: p.ts ? this.tsv++ : 0, tsEcr: 0, window: 65535,
    };
  }

  /** Passive open to a listener: SYN, SYN-ACK, ACK; returns the accepted connection and our ISS. */
  passive(peer: PeerOpts = {}, l = this.listener()): { l: TcpSocket; s: TcpSocket; iss: number; synack: SentSegment } {
    this.peer = peer;
    this.in({ flags: SYN, seq: seq(IRS), ...this.synOpts() });
    const [synack] = this.out();
    expect(synack.flags).toBe(SYN | ACK);
    expect(synack.ack).toBe(add(IRS, 1));
    const iss = synack.seq;
    this.in({ flags: ACK, seq: seq(this.pseq), ack: seq(add(iss, 1)), window: this.wnd });
    const s = this.e.accept(l)!;
    expect(s).not.toBeNull();
    expect(s.state).toBe(TcpState.Established);
    expect(this.out()).toEqual([]);
    return { l, s, iss, synack };
  }

  /** Active open: connect, SYN-ACK after `rttMs`; returns the connection and our ISS. */
  active(peer: PeerOpts = {}, rttMs = 100): { s: TcpSocket; iss: number; syn: SentSegment } {
    this.peer = peer;
    this.lport = 0;
    const s = this.e.open();
    this.watch(s, 'c');
    expect(this.e.connect(s, R, 80, this.now)).toBe(0);
    const [syn] = this.out();
    expect(syn.flags).toBe(SYN);
    this.lport = syn.srcPort;
    this.rport = 80;
    this.host.advance(rttMs);
    const iss = syn.seq;
    this.in({ flags: SYN | ACK, seq: seq(IRS), ack: seq(add(iss, 1)), ...this.synOpts(), tsEcr: syn.tsVal, window: 65535 });
    expect(s.state).toBe(TcpState.Established);
    const [ack] = this.out();
    expect(ack.flags).toBe(ACK);
    expect(ack.ack).toBe(add(IRS, 1));
    if ((this.peer.ws ?? -1) >= 0) {
      // A window update with the scaled window the tests ask for.
      this.in({ flags: ACK, seq: seq(this.pseq), ack: seq(add(iss, 1)), window: this.wnd });
    }
    return { s, iss, syn };
  }

  /** Peer data at its next sequence number. */
  data(ack: number, payload: Buffer | string, extra: Parameters<typeof makeSeg>[0] = {}): void {
    const b = typeof payload === 'string' ? Buffer.from(payload) : payload;
    this.in({ flags: ACK | PSH, seq: seq(this.pseq), ack: seq(ack), window: this.wnd, ...extra }, b);
    this.pseq = add(this.pseq, b.length);
  }

  ack(ack: number, extra: Parameters<typeof makeSeg>[0] = {}): void {
    this.in({ flags: ACK, seq: seq(this.pseq), ack: seq(ack), window: this.wnd, ...extra });
  }

  recvAll(s: TcpSocket): string {
    const b = Buffer.alloc(1 << 20);
    const n = this.e.recv(s, b, 0, b.length, this.now);
    return b.toString('latin1', 0, Math.max(n, 0));
  }
}

const bytes = (n: number, c = 0x61): Buffer => Buffer.alloc(n, c);

describe('CLOSED: bind, connect and segments for no socket', () => {
  it('binds ports: EADDRINUSE without SO_REUSEADDR, EADDRNOTAVAIL for foreign addresses, EINVAL twice', () => {
    const h = new Harness();
    const a = h.e.open();
    const b = h.e.open();
    expect(h.e.bind(a, L, 8080)).toBe(0);
    expect(h.e.bind(b, 0, 8080)).toBe(-TcpErrno.EADDRINUSE);
    expect(h.e.bind(b, 0x0a000001, 8081)).toBe(-TcpErrno.EADDRNOTAVAIL);
    expect(h.e.bind(a, L, 8082)).toBe(-TcpErrno.EINVAL);
    const r1 = h.e.open();
    const r2 = h.e.open();
    expect(h.e.bind(r1, 0, 9000, true)).toBe(0);
    expect(h.e.bind(r2, 0, 9000, true)).toBe(0);
    expect(h.e.listen(r1, 4)).toBe(0);
    expect(h.e.listen(r2, 4)).toBe(-TcpErrno.EADDRINUSE); // two listeners on one address
    const e = h.e.open();
    expect(h.e.bind(e, 0, 0)).toBe(0);
    expect(e.localPort).toBeGreaterThanOrEqual(32768);
    expect(e.localPort).toBeLessThanOrEqual(60999);
  });

  it('answers a SYN for no socket with <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>, an ACK with <SEQ=SEG.ACK><CTL=RST>, and an RST with nothing', () => {
    const h = new Harness();
    h.in({ flags: SYN, seq: seq(1000) });
    h.in({ flags: ACK, seq: seq(5), ack: seq(777) });
    h.in({ flags: RST, seq: seq(5) });
    h.in({ flags: ACK | PSH, seq: seq(5), ack: seq(9) }, bytes(10));
    expect(h.out().map((x) => [x.flags, x.seq, x.ack])).toEqual([
      [RST | ACK, 0, 1001],
      [RST, 777, 0],
      [RST, 9, 0],
    ]);
    expect(h.e.counters.noSocket).toBe(4);
  });

  it('derives ISNs from the 4-tuple and a 4 µs clock (RFC 6528)', () => {
    const h = new Harness();
    const a = h.e.open();
    h.e.connect(a, R, 80, h.now);
    const b = h.e.open();
    h.e.connect(b, R, 81, h.now);
    const [sa, sb] = h.out();
    expect(sa.seq).not.toBe(sb.seq);
    h.e.abort(a, h.now);
    h.host.advance(1000);
    // Same tuple again a second later: the clock part moved by 250 000 ticks.
    const c = h.e.open();
    h.e.bind(c, 0, sa.srcPort);
    h.e.connect(c, R, 80, h.now);
    const sc = h.out().pop()!;
    expect(sc.srcPort).toBe(sa.srcPort);
    expect((sc.seq - sa.seq) >>> 0).toBe(250000);
  });

  it('refuses connect without a route and twice on the same socket', () => {
    const h = new Harness();
    const s = h.e.open();
    h.host.localIps.clear();
    expect(h.e.connect(s, R, 80, h.now)).toBe(-TcpErrno.ENETUNREACH);
    h.host.localIps.add(L);
    expect(h.e.connect(s, R, 80, h.now)).toBe(0);
    expect(h.e.connect(s, R, 80, h.now)).toBe(-TcpErrno.EALREADY);
    expect(h.e.send(h.e.open(), bytes(1), 0, 1, h.now)).toBe(-TcpErrno.ENOTCONN);
  });
});

describe('LISTEN', () => {
  it('answers a SYN with a SYN-ACK carrying MSS, SACK-permitted, timestamps and window scale, and queues the connection on the ACK', () => {
    const h = new Harness();
    const l = h.listener();
    h.watch(l, 'l');
    const { s, synack } = h.passive({ ts: true, sack: true, ws: 7 }, l);
    expect(synack).toMatchObject({ mss: 1460, sackPermitted: true, hasTimestamp: true, windowScale: 7, tsEcr: 5000 });
    expect(h.events).toEqual(['l:accept']);
    expect(s.info()).toMatchObject({ timestamps: true, sack: true, sndWscale: 7, rcvWscale: 7, mss: 1448, sndWnd: 128000 });
    expect(s.localIp).toBe(L);
    expect(s.remotePort).toBe(RP);
  });

  it('offers no option the SYN did not (no window scale, no SACK, no timestamps)', () => {
    const h = new Harness();
    const { synack, s } = h.passive({});
    expect(synack).toMatchObject({ windowScale: -1, sackPermitted: false, hasTimestamp: false });
    expect(s.info()).toMatchObject({ timestamps: false, sack: false, sndWscale: 0, rcvWscale: 0, mss: 1460, sndWnd: 65535 });
  });

  it('ignores an RST and answers a bare ACK with an RST', () => {
    const h = new Harness();
    h.listener();
    h.in({ flags: RST, seq: seq(1) });
    h.in({ flags: ACK, seq: seq(1), ack: seq(12345) });
    expect(h.out().map((x) => [x.flags, x.seq])).toEqual([[RST, 12345]]);
  });

  it('drops SYNs while the accept queue is full (backlog)', () => {
    const h = new Harness();
    const l = h.listener(1);
    h.in({ flags: SYN, seq: seq(IRS), mss: 1460 });
    const [sa] = h.out();
    h.in({ flags: ACK, seq: seq(add(IRS, 1)), ack: seq(add(sa.seq, 1)) });
    expect(l.acceptQueue).toHaveLength(1);
    h.rport = RP + 1;
    h.in({ flags: SYN, seq: seq(IRS), mss: 1460 });
    expect(h.out()).toEqual([]);
    expect(h.e.counters.listenOverflows).toBe(1);
    h.e.accept(l);
    h.in({ flags: SYN, seq: seq(IRS), mss: 1460 });
    expect(h.out()[0].flags).toBe(SYN | ACK);
  });

  it('answers with a SYN cookie when the SYN queue is full, and builds the connection from the cookie ACK', () => {
    const h = new Harness({ synBacklog: 1 });
    const l = h.listener();
    h.in({ flags: SYN, seq: seq(IRS), mss: 1460 });
    expect(h.out()[0].flags).toBe(SYN | ACK);
    h.rport = RP + 1;
    h.peer = { ts: true, ws: 5, sack: true, mss: 1400 };
    h.in({ flags: SYN, seq: seq(IRS), ...h.synOpts() });
    const [cookie] = h.out();
    expect(cookie.flags).toBe(SYN | ACK);
    expect(h.e.counters.synCookiesSent).toBe(1);
    expect(l.synQueue).toHaveLength(1); // no state kept for the cookie
    // A forged ACK fails the cookie check and is reset.
    h.in({ flags: ACK, seq: seq(add(IRS, 1)), ack: seq(add(cookie.seq, 99)), hasTimestamp: true, tsVal: 9, tsEcr: cookie.tsVal });
    expect(h.out().map((x) => x.flags)).toEqual([RST]);
    expect(h.e.counters.synCookiesFailed).toBe(1);
    h.in({ flags: ACK, seq: seq(add(IRS, 1)), ack: seq(add(cookie.seq, 1)), window: 100, hasTimestamp: true, tsVal: 10, tsEcr: cookie.tsVal });
    const s = h.e.accept(l)!;
    expect(s.state).toBe(TcpState.Established);
    expect(s.info()).toMatchObject({ mss: 1400 - 12, sndWscale: 5, timestamps: true, sack: true, sndWnd: 100 << 5 });
    expect(h.e.counters.synCookiesOk).toBe(1);
  });

  it('resets queued, unaccepted connections when the listener closes', () => {
    const h = new Harness();
    const l = h.listener();
    const { s } = h.passive({}, l);
    // accepted one stays; queue one more
    h.rport = RP + 1;
    h.in({ flags: SYN, seq: seq(IRS), mss: 1460 });
    const [sa] = h.out();
    h.in({ flags: ACK, seq: seq(add(IRS, 1)), ack: seq(add(sa.seq, 1)) });
    h.e.close(l, h.now);
    expect(h.out().map((x) => [x.flags, x.dstPort])).toEqual([[RST | ACK, RP + 1]]);
    expect(s.state).toBe(TcpState.Established);
  });
});

describe('SYN-SENT', () => {
  it('sends a SYN with options and reaches ESTABLISHED on the SYN-ACK (onConnect, ACK sent, RTT sampled)', () => {
    const h = new Harness();
    const { s, syn } = h.active({ ts: true, sack: true, ws: 2 });
    expect(syn).toMatchObject({ mss: 1460, sackPermitted: true, hasTimestamp: true, windowScale: 7, window: 65535 });
    h.e.segmentIn(R, L, makeSeg({}), Buffer.alloc(0), 0, h.now); // no-op delivery to flush events
    expect(h.events).toEqual(['c:connect']);
    expect(s.info()).toMatchObject({ sndWscale: 2, rttMs: 100, rtoMs: 300 });
  });

  it('retransmits the SYN with exponential backoff and fails with ETIMEDOUT after the retries', () => {
    const h = new Harness({ timings: { synRetries: 3 } });
    const s = h.e.open();
    h.watch(s, 'c');
    h.e.connect(s, R, 80, h.now);
    h.host.advance(20000, 10);
    const sent = h.out();
    expect(sent.map((x) => x.at - 1000)).toEqual([0, 1000, 3000, 7000]);
    expect(sent.every((x) => x.flags === SYN && x.seq === sent[0].seq)).toBe(true);
    expect(h.events).toEqual([`c:error ${-TcpErrno.ETIMEDOUT}`, 'c:close']);
    expect(s.state).toBe(TcpState.Closed);
  });

  it('ECONNREFUSED on an RST with an acceptable ACK; an RST with a bad ACK is ignored; a bad ACK draws an RST', () => {
    const h = new Harness();
    const s = h.e.open();
    h.watch(s, 'c');
    h.e.connect(s, R, 80, h.now);
    const [syn] = h.out();
    h.lport = syn.srcPort;
    h.rport = 80;
    h.in({ flags: RST | ACK, seq: seq(0), ack: seq(add(syn.seq, 5)) });
    expect(s.state).toBe(TcpState.SynSent);
    expect(h.out()).toEqual([]);
    h.in({ flags: ACK, seq: seq(0), ack: seq(add(syn.seq, 5)) });
    expect(h.out().map((x) => [x.flags, x.seq])).toEqual([[RST, add(syn.seq, 5)]]);
    h.in({ flags: RST | ACK, seq: seq(0), ack: seq(add(syn.seq, 1)) });
    expect(s.state).toBe(TcpState.Closed);
    expect(h.events).toEqual([`c:error ${-TcpErrno.ECONNREFUSED}`, 'c:close']);
  });

  it('simultaneous open: a SYN without ACK → SYN-RECEIVED and SYN-ACK, then ESTABLISHED on the ACK', () => {
    const h = new Harness();
    const s = h.e.open();
    h.watch(s, 'c');
    h.e.connect(s, R, 80, h.now);
    const [syn] = h.out();
    h.lport = syn.srcPort;
    h.rport = 80;
    h.in({ flags: SYN, seq: seq(IRS), mss: 1460 });
    expect(s.state).toBe(TcpState.SynReceived);
    const [sa] = h.out();
    expect([sa.flags, sa.seq, sa.ack]).toEqual([SYN | ACK, syn.seq, add(IRS, 1)]);
    h.in({ flags: SYN | ACK, seq: seq(IRS), ack: seq(add(syn.seq, 1)), mss: 1460 });
    // The peer's SYN-ACK repeats its SYN: the state is still SYN-RECEIVED → its SYN is old; challenge ACK.
    h.in({ flags: ACK, seq: seq(add(IRS, 1)), ack: seq(add(syn.seq, 1)) });
    expect(s.state).toBe(TcpState.Established);
    expect(h.events).toContain('c:connect');
  });

  it('an ICMP host unreachable during the handshake fails the connect (EHOSTUNREACH)', () => {
    const h = new Harness();
    const s = h.e.open();
    h.watch(s, 'c');
    h.e.connect(s, R, 80, h.now);
    const [syn] = h.out();
    h.e.icmpError(L, syn.srcPort, R, 80, syn.seq, 3, 1, 0, h.now);
    expect(h.events).toEqual([`c:error ${-TcpErrno.EHOSTUNREACH}`, 'c:close']);
  });
});

describe('SYN-RECEIVED', () => {
  it('answers a retransmitted SYN with the same SYN-ACK and retransmits the SYN-ACK on timeout', () => {
    const h = new Harness();
    h.listener();
    h.in({ flags: SYN, seq: seq(IRS), mss: 1460 });
    const [a] = h.out();
    h.in({ flags: SYN, seq: seq(IRS), mss: 1460 });
    const [b] = h.out();
    expect([b.flags, b.seq, b.ack]).toEqual([a.flags, a.seq, a.ack]);
    h.host.advance(1000);
    const [c] = h.out();
    expect([c.flags, c.seq]).toEqual([SYN | ACK, a.seq]);
  });

  it('an RST at RCV.NXT returns the listener to LISTEN (the embryo goes); a bad ACK draws an RST', () => {
    const h = new Harness();
    const l = h.listener();
    h.in({ flags: SYN, seq: seq(IRS), mss: 1460 });
    const [a] = h.out();
    h.in({ flags: ACK, seq: seq(add(IRS, 1)), ack: seq(add(a.seq, 7)) });
    expect(h.out().map((x) => [x.flags, x.seq])).toEqual([[RST, add(a.seq, 7)]]);
    expect(l.synQueue).toHaveLength(1);
    h.in({ flags: RST, seq: seq(add(IRS, 1)) });
    expect(l.synQueue).toHaveLength(0);
    expect(l.state).toBe(TcpState.Listen);
    expect([...h.e.sockets()]).toEqual([l]);
  });
});

describe('ESTABLISHED', () => {
  it('takes in-order data, ACKs at once while quick-acking, then every second segment or after 40 ms', () => {
    const h = new Harness();
    const { s, iss } = h.passive({});
    h.watch(s, 's');
    const una = add(iss, 1);
    for (let i = 0; i < 16; i++) {
      h.data(una, bytes(100));
      expect(h.out().map((x) => x.ack)).toEqual([h.pseq]);
    }
    h.data(una, bytes(100));
    expect(h.out()).toEqual([]); // delayed
    h.host.advance(39);
    expect(h.out()).toEqual([]);
    h.host.advance(1);
    expect(h.out().map((x) => [x.flags, x.ack])).toEqual([[ACK, h.pseq]]);
    h.data(una, bytes(100));
    expect(h.out()).toEqual([]);
    h.data(una, bytes(100));
    expect(h.out().map((x) => x.ack)).toEqual([h.pseq]); // second segment: ACK now
    expect(s.rxQueued).toBe(1900);
    expect(h.events.filter((e) => e === 's:readable')).toHaveLength(19);
  });

  it('never lets TSval go backwards when a caller passes an older `now` (RFC 7323 §5.4; the peer would drop it by PAWS)', () => {
    const h = new Harness();
    const { s } = h.passive({ ts: true });
    h.e.setNoDelay(s, true);
    expect(h.e.send(s, bytes(100), 0, 100, h.now + 5)).toBe(100); // an API call with a fresher clock read
    const [first] = h.out();
    expect(first.hasTimestamp).toBe(true);
    expect(h.e.send(s, bytes(100), 0, 100, h.now)).toBe(100); // then the poll turn's older `now`
    const later = h.out();
    expect(later.length).toBeGreaterThan(0);
    for (const x of later) expect(((x.tsVal - first.tsVal) | 0) >= 0).toBe(true);
  });

  it('sends data in MSS segments with PSH on the last, and frees the send buffer on ACK', () => {
    const h = new Harness();
    const { s, iss } = h.passive({});
    expect(h.e.send(s, bytes(4000), 0, 4000, h.now)).toBe(4000);
    const sent = h.out();
    expect(sent.map((x) => [x.seq - add(iss, 1), x.payload.length, x.flags])).toEqual([
      [0, 1460, ACK],
      [1460, 1460, ACK],
      [2920, 1080, ACK | PSH],
    ]);
    expect(s.txQueued).toBe(4000);
    h.ack(add(iss, 2921));
    expect(s.txQueued).toBe(1080);
    h.ack(add(iss, 4001));
    expect(s.txQueued).toBe(0);
  });

  it('reassembles out-of-order data, sends duplicate ACKs with SACK blocks (RFC 2018), and ACKs the filled hole at once', () => {
    const h = new Harness();
    const { s, iss } = h.passive({ sack: true });
    const una = add(iss, 1);
    const base = h.pseq;
    h.in({ flags: ACK, seq: seq(add(base, 100)), ack: seq(una), window: 1000 }, Buffer.from('B'.repeat(100)));
    h.in({ flags: ACK, seq: seq(add(base, 300)), ack: seq(una), window: 1000 }, Buffer.from('D'.repeat(100)));
    const dups = h.out();
    expect(dups.map((x) => [x.ack, x.sack])).toEqual([
      [base, [add(base, 100), add(base, 200)]],
      [base, [add(base, 300), add(base, 400), add(base, 100), add(base, 200)]],
    ]);
    expect(s.rxQueued).toBe(0);
    h.in({ flags: ACK, seq: seq(base), ack: seq(una), window: 1000 }, Buffer.from('A'.repeat(100)));
    expect(h.out().map((x) => [x.ack, x.sack])).toEqual([[add(base, 200), [add(base, 300), add(base, 400)]]]);
    h.in({ flags: ACK, seq: seq(add(base, 200)), ack: seq(una), window: 1000 }, Buffer.from('C'.repeat(100)));
    expect(h.out().map((x) => [x.ack, x.sack])).toEqual([[add(base, 400), []]]);
    expect(h.recvAll(s)).toBe('A'.repeat(100) + 'B'.repeat(100) + 'C'.repeat(100) + 'D'.repeat(100));
  });

  it('retransmits on RTO with exponential backoff, takes no RTT sample from a retransmission (Karn), and times out', () => {
    const h = new Harness({ timings: { dataRetries: 3 } });
    const { s, iss } = h.active({}); // RTT 100 ms from the handshake: RTO 300 ms
    expect(s.info().rtoMs).toBe(300);
    const t0 = h.now;
    h.e.send(s, bytes(100), 0, 100, h.now);
    h.host.advance(1000);
    const sent = h.out();
    expect(sent.map((x) => x.at - t0)).toEqual([0, 300, 900]);
    expect(sent.every((x) => x.seq === add(iss, 1) && x.payload.length === 100)).toBe(true);
    expect(s.counters.retransmits).toBe(2);
    // The ACK of the retransmitted segment (at 1000 ms): no sample, so SRTT stays 100.
    h.ack(add(iss, 101));
    expect(s.info().rttMs).toBe(100);
    expect(s.info().cwnd).toBeLessThanOrEqual(2 * 1460); // RFC 5681 loss window, then slow start
    // A fresh segment acknowledged 50 ms later is sampled: SRTT = 7/8·100 + 1/8·50.
    h.e.send(s, bytes(10), 0, 10, h.now);
    h.out();
    h.host.advance(50);
    h.ack(add(iss, 111));
    expect(s.info().rttMs).toBeCloseTo(93.75, 5);
    // Nothing acknowledged any more: three retransmissions, then ETIMEDOUT.
    h.e.send(s, bytes(10), 0, 10, h.now);
    h.host.advance(60000, 10);
    expect(h.out().length).toBe(4);
    expect(h.events).toEqual(['c:connect', `c:error ${-TcpErrno.ETIMEDOUT}`, 'c:close']);
  });

  it('fast retransmit on three duplicate ACKs and NewReno partial ACKs (RFC 6582)', () => {
    const h = new Harness();
    const { s, iss } = h.passive({ ws: 7 });
    const una = add(iss, 1);
    const seg = (k: number): number => add(una, k * 1460);
    h.e.send(s, bytes(5 * 1460), 0, 5 * 1460, h.now);
    expect(h.out()).toHaveLength(5);
    h.ack(una);
    h.ack(una);
    expect(h.out()).toEqual([]);
    h.ack(una);
    const [fr] = h.out();
    expect([fr.seq, fr.payload.length]).toEqual([seg(0), 1460]);
    expect(s.counters.fastRetransmits).toBe(1);
    expect(s.info().ssthresh).toBe(Math.max((5 * 1460) >>> 1, 2 * 1460));
    // Partial ACK (two segments): the next hole goes at once.
    h.ack(seg(2));
    const [pr] = h.out();
    expect([pr.seq, pr.payload.length]).toEqual([seg(2), 1460]);
    // Full ACK: recovery ends; cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
    h.ack(seg(5));
    expect(s.info().cwnd).toBe(Math.min(3650, 1460 + 1460));
    expect(h.out()).toEqual([]);
  });

  it('SACK recovery retransmits only the holes (RFC 2018 / RFC 6675)', () => {
    const h = new Harness();
    const { s, iss } = h.passive({ sack: true, ws: 7 });
    const una = add(iss, 1);
    const S = (k: number): number => add(una, k * 1460);
    h.e.send(s, bytes(10 * 1460), 0, 10 * 1460, h.now);
    expect(h.out()).toHaveLength(10);
    h.ack(S(1)); // S0 arrived; S1 and S3 are lost
    expect(h.out()).toEqual([]); // nothing new to send
    h.ack(S(1), { sack: [S(2), S(3)] });
    expect(h.out()).toEqual([]);
    // SACKed data reaches 3 × SMSS: recovery; S1 is resent, pipe (S6..S10 + S1) now fills cwnd.
    h.ack(S(1), { sack: [S(4), S(6), S(2), S(3)] });
    expect(h.out().map((x) => [x.seq, x.payload.length])).toEqual([[S(1), 1460]]);
    expect(s.info().cwnd).toBe(Math.floor((9 * 1460) / 2));
    h.ack(S(1), { sack: [S(4), S(7), S(2), S(3)] });
    expect(h.out().map((x) => [x.seq, x.payload.length])).toEqual([[S(3), 1460]]);
    h.ack(S(1), { sack: [S(4), S(10), S(2), S(3)] });
    expect(h.out()).toEqual([]); // no hole left below the highest SACK; S2 and S4.. never resent
    h.ack(S(10));
    expect(s.counters).toMatchObject({ fastRetransmits: 1, retransmits: 2, timeouts: 0 });
    expect(s.txQueued).toBe(0);
  });

  it('probes a zero window with backoff and resumes when it opens', () => {
    const h = new Harness();
    const { s, iss } = h.active({});
    h.e.send(s, bytes(3000), 0, 3000, h.now);
    expect(h.out().map((x) => x.payload.length)).toEqual([1460, 1460, 80]);
    h.ack(add(iss, 3001), { window: 0 });
    h.e.send(s, bytes(500), 0, 500, h.now);
    expect(h.out()).toEqual([]);
    const t0 = h.now;
    const rto = s.info().rtoMs;
    h.host.advance(Math.ceil(7.5 * rto));
    const probes = h.out();
    // Probes at SND.UNA − 1 without data, backing off: RTO, 2·RTO, 4·RTO apart.
    expect(probes.map((x) => [x.seq, x.payload.length])).toEqual([
      [add(iss, 3000), 0],
      [add(iss, 3000), 0],
      [add(iss, 3000), 0],
    ]);
    const gaps = probes.map((x, i) => x.at - (i === 0 ? t0 : probes[i - 1].at));
    expect(gaps.map((g) => Math.round(g / rto))).toEqual([1, 2, 4]);
    expect(s.counters.zeroWindowProbes).toBe(3);
    h.ack(add(iss, 3001), { window: 0 }); // the answer to a probe: still closed
    expect(h.out()).toEqual([]);
    h.ack(add(iss, 3001), { window: 1000 });
    expect(h.out().map((x) => [x.seq, x.payload.length])).toEqual([[add(iss, 3001), 500]]);
  });

  it('closes its own window when the application does not read and reopens it with a window update', () => {
    const h = new Harness();
    const l = h.e.open();
    l.rcvBuf = 4096;
    h.e.bind(l, 0, 80);
    h.e.listen(l, 4);
    const { s, iss } = h.passive({}, l);
    const una = add(iss, 1);
    h.data(una, bytes(1460));
    h.data(una, bytes(1460));
    h.data(una, bytes(1176));
    const acks = h.out();
    expect(acks[acks.length - 1].window).toBe(0);
    // A probe at RCV.NXT with one byte is answered with the zero window.
    h.in({ flags: ACK, seq: seq(h.pseq), ack: seq(una), window: 1000 }, bytes(1));
    expect(h.out().map((x) => [x.ack, x.window])).toEqual([[h.pseq, 0]]);
    expect(h.recvAll(s).length).toBe(4096);
    expect(h.out().map((x) => [x.ack, x.window])).toEqual([[h.pseq, 4096]]);
  });

  it('scales windows both ways (RFC 7323 §2)', () => {
    const h = new Harness();
    const { s, iss } = h.passive({ ws: 3 });
    expect(s.info().sndWnd).toBe(1000 << 3);
    h.data(add(iss, 1), bytes(100));
    const [a] = h.out();
    expect(a.window).toBe(Math.ceil((262144 - 100) / 128));
  });

  it('drops segments with an old timestamp (PAWS, RFC 7323 §5) and echoes TS.Recent', () => {
    const h = new Harness();
    const { s, iss } = h.passive({ ts: true });
    const una = add(iss, 1);
    h.data(una, 'fresh', { hasTimestamp: true, tsVal: 6000, tsEcr: 0 });
    const [a] = h.out();
    expect(a.tsEcr).toBe(6000);
    h.in({ flags: ACK, seq: seq(h.pseq), ack: seq(una), window: 1000, hasTimestamp: true, tsVal: 5999, tsEcr: 0 }, Buffer.from('stale'));
    const [b] = h.out();
    expect(b.ack).toBe(h.pseq); // the stale data was not taken
    expect(s.counters.pawsDropped).toBe(1);
    expect(h.recvAll(s)).toBe('fresh');
  });

  it('RST validation (RFC 5961 §3): outside the window ignored, inside but not exact → challenge ACK, exact → ECONNRESET', () => {
    const h = new Harness();
    const { s } = h.passive({});
    h.watch(s, 's');
    h.in({ flags: RST, seq: seq(add(h.pseq, 10000000)) });
    expect(h.out()).toEqual([]);
    h.in({ flags: RST, seq: seq(add(h.pseq, 10)) });
    const [ch] = h.out();
    expect([ch.flags, ch.ack]).toEqual([ACK, h.pseq]);
    expect(s.state).toBe(TcpState.Established);
    expect(h.e.counters.challengeAcks).toBe(1);
    h.in({ flags: RST, seq: seq(h.pseq) });
    expect(s.state).toBe(TcpState.Closed);
    expect(h.events).toEqual([`s:error ${-TcpErrno.ECONNRESET}`, 's:close']);
    expect(h.e.send(s, bytes(1), 0, 1, h.now)).toBe(-TcpErrno.EPIPE);
  });

  it('answers a SYN with a challenge ACK (RFC 5961 §4) and an ACK of unsent data with an ACK', () => {
    const h = new Harness();
    const { s, iss } = h.passive({});
    h.in({ flags: SYN, seq: seq(add(h.pseq, 5)) });
    expect(h.out().map((x) => [x.flags, x.seq, x.ack])).toEqual([[ACK, add(iss, 1), h.pseq]]);
    h.ack(add(iss, 500));
    expect(h.out().map((x) => x.flags)).toEqual([ACK]);
    expect(h.e.counters.ackTooNew).toBe(1);
    expect(s.state).toBe(TcpState.Established);
  });

  it('Nagle holds a small segment while data is unacknowledged; TCP_NODELAY does not', () => {
    const h = new Harness();
    const { s, iss } = h.passive({});
    h.e.send(s, bytes(10), 0, 10, h.now);
    h.e.send(s, bytes(10), 0, 10, h.now);
    expect(h.out().map((x) => x.payload.length)).toEqual([10]);
    h.ack(add(iss, 11));
    expect(h.out().map((x) => x.payload.length)).toEqual([10]);
    h.e.setNoDelay(s, true, h.now);
    h.e.send(s, bytes(10), 0, 10, h.now);
    h.e.send(s, bytes(10), 0, 10, h.now);
    expect(h.out().map((x) => x.payload.length)).toEqual([10, 10]);
  });

  it('keep-alive: probes after the idle time, every interval, and gives up with ETIMEDOUT', () => {
    const h = new Harness({ timings: { keepIntervalMs: 1000, keepProbes: 3 } });
    const { s, iss } = h.active({});
    h.e.setKeepAlive(s, true, 5000, h.now);
    const t0 = h.now;
    h.host.advance(5000);
    const [p1] = h.out();
    expect([p1.seq, p1.payload.length, p1.at - t0]).toEqual([iss, 0, 5000]);
    h.ack(add(iss, 1)); // answered: idle again
    h.host.advance(4999);
    expect(h.out()).toEqual([]);
    h.host.advance(1 + 3000 + 1000, 10);
    expect(h.out().length).toBe(3);
    expect(h.events).toEqual(['c:connect', `c:error ${-TcpErrno.ETIMEDOUT}`, 'c:close']);
  });

  it('lowers the MSS on an ICMP fragmentation-needed and resends in smaller segments (RFC 1191)', () => {
    const h = new Harness();
    const { s, iss } = h.passive({});
    h.e.send(s, bytes(2920), 0, 2920, h.now);
    expect(h.out().map((x) => x.payload.length)).toEqual([1460, 1460]);
    h.e.icmpError(L, 80, R, RP, add(iss, 1), 3, 4, 1000, h.now);
    expect(s.info().mss).toBe(960);
    expect(h.out().map((x) => x.payload.length)).toEqual([960, 960, 960, 40]);
    // A quoted sequence number outside the flight is not believed.
    h.e.icmpError(L, 80, R, RP, add(iss, 900000), 3, 4, 600, h.now);
    expect(s.info().mss).toBe(960);
  });

  it('an ICMP host unreachable is a soft error: reported when the connection times out (RFC 1122 §4.2.3.9)', () => {
    const h = new Harness({ timings: { dataRetries: 2 } });
    const { s, iss } = h.active({});
    h.e.send(s, bytes(100), 0, 100, h.now);
    h.e.icmpError(L, s.localPort, R, 80, add(iss, 1), 3, 1, 0, h.now);
    expect(s.state).toBe(TcpState.Established);
    h.host.advance(10000, 10);
    expect(h.events).toEqual(['c:connect', `c:error ${-TcpErrno.EHOSTUNREACH}`, 'c:close']);
  });

  it('rate-limits challenge ACKs to 1000 per second (RFC 5961 §7)', () => {
    const h = new Harness();
    const { s } = h.passive({});
    for (let i = 0; i < 1005; i++) h.in({ flags: RST, seq: seq(add(h.pseq, 1)) });
    expect(h.out()).toHaveLength(1000);
    expect(h.e.counters.challengeAcksLimited).toBe(5);
    h.host.advance(10);
    h.in({ flags: RST, seq: seq(add(h.pseq, 1)) });
    expect(h.out()).toHaveLength(1);
    expect(s.state).toBe(TcpState.Established);
  });

  it('holds a FIN that arrives beyond a hole until the data before it is in (then CLOSE-WAIT)', () => {
    const h = new Harness();
    const { s, iss } = h.passive({ sack: true });
    const base = h.pseq;
    h.in({ flags: ACK | FIN, seq: seq(add(base, 5)), ack: seq(add(iss, 1)), window: 65535 }, Buffer.from('world'));
    expect(s.state).toBe(TcpState.Established);
    expect(s.finReceived).toBe(false);
    expect(h.out().map((x) => x.ack)).toEqual([base]);
    h.in({ flags: ACK, seq: seq(base), ack: seq(add(iss, 1)), window: 65535 }, Buffer.from('hello'));
    expect(s.state).toBe(TcpState.CloseWait);
    expect(s.finReceived).toBe(true);
    expect(h.out().map((x) => x.ack)).toEqual([add(base, 11)]);
    expect(h.recvAll(s)).toBe('helloworld');
  });

  it('close() with unread data sends RST (RFC 2525); abort() sends RST', () => {
    const h = new Harness();
    const { s, iss } = h.passive({});
    h.data(add(iss, 1), 'unread');
    h.out();
    h.e.close(s, h.now);
    expect(h.out().map((x) => x.flags)).toEqual([RST | ACK]);
    expect(s.state).toBe(TcpState.Closed);
    const h2 = new Harness();
    const { s: s2 } = h2.passive({});
    h2.e.abort(s2, h2.now);
    expect(h2.out().map((x) => x.flags)).toEqual([RST | ACK]);
  });

  it('callbacks may call back into the engine (recv in onReadable, send in onWritable)', () => {
    const h = new Harness();
    const l = h.e.open();
    l.sndBuf = 4096;
    h.e.bind(l, 0, 80);
    h.e.listen(l, 4);
    const { s, iss } = h.passive({ ws: 7 }, l);
    let got = '';
    s.onReadable = (x) => {
      got += h.recvAll(x);
      h.e.send(x, Buffer.from('echo'), 0, 4, h.now);
    };
    h.data(add(iss, 1), 'ping');
    expect(got).toBe('ping');
    const big = bytes(10000);
    const n = h.e.send(s, big, 0, big.length, h.now);
    expect(n).toBe(4096 - 4);
    let wrote = 0;
    s.onWritable = (x) => {
      wrote = h.e.send(x, big, n, big.length - n, h.now);
    };
    const last = h.out().pop()!;
    const acked = add(last.seq, last.payload.length);
    h.ack(acked);
    expect(wrote).toBe(acked - add(iss, 1));
  });
});

describe('CLOSE-WAIT and LAST-ACK (half-close by the peer)', () => {
  it('takes the FIN, still sends, then close() → LAST-ACK → CLOSED on the ACK of our FIN', () => {
    const h = new Harness();
    const { s, iss } = h.passive({});
    h.watch(s, 's');
    h.in({ flags: ACK | FIN, seq: seq(h.pseq), ack: seq(add(iss, 1)), window: 1000 });
    h.pseq = add(h.pseq, 1);
    expect(s.state).toBe(TcpState.CloseWait);
    expect(s.finReceived).toBe(true);
    expect(h.out().map((x) => [x.flags, x.ack])).toEqual([[ACK, h.pseq]]);
    expect(h.e.send(s, Buffer.from('bye'), 0, 3, h.now)).toBe(3);
    h.e.shutdown(s, h.now);
    expect(s.state).toBe(TcpState.LastAck);
    const sent = h.out();
    expect(sent.map((x) => [x.flags & FIN, x.payload.toString()])).toEqual([[0, 'bye'], [FIN, '']].slice(0, sent.length));
    h.ack(add(iss, 5));
    expect(s.state).toBe(TcpState.Closed);
    expect(h.events).toEqual(['s:readable', 's:close']);
  });
});

describe('FIN-WAIT-1, FIN-WAIT-2, CLOSING and TIME-WAIT', () => {
  it('simultaneous close goes through CLOSING to TIME-WAIT, which ends after 2 MSL (60 s)', () => {
    const h = new Harness();
    const { s, iss } = h.passive({});
    h.watch(s, 's');
    h.e.shutdown(s, h.now);
    expect(s.state).toBe(TcpState.FinWait1);
    const [fin] = h.out();
    expect([fin.flags, fin.seq]).toEqual([ACK | FIN, add(iss, 1)]);
    h.in({ flags: ACK | FIN, seq: seq(h.pseq), ack: seq(add(iss, 1)), window: 1000 });
    h.pseq = add(h.pseq, 1);
    expect(s.state).toBe(TcpState.Closing);
    h.ack(add(iss, 2));
    expect(s.state).toBe(TcpState.TimeWait);
    expect(h.events).toEqual(['s:readable', 's:close']);
    h.host.advance(59999, 100);
    expect(s.state).toBe(TcpState.TimeWait);
    h.host.advance(1);
    expect(s.state).toBe(TcpState.Closed);
    expect([...h.e.sockets()]).not.toContain(s);
  });

  it('FIN-WAIT-2 receives data after our FIN (half-close), TIME-WAIT re-ACKs a retransmitted FIN', () => {
    const h = new Harness();
    const { s, iss } = h.passive({});
    h.e.shutdown(s, h.now);
    h.out();
    h.ack(add(iss, 2));
    expect(s.state).toBe(TcpState.FinWait2);
    h.data(add(iss, 2), 'late');
    expect(h.recvAll(s)).toBe('late');
    h.in({ flags: ACK | FIN, seq: seq(h.pseq), ack: seq(add(iss, 2)), window: 1000 });
    expect(s.state).toBe(TcpState.TimeWait);
    h.out();
    h.host.advance(30000, 100);
    h.in({ flags: ACK | FIN, seq: seq(h.pseq), ack: seq(add(iss, 2)), window: 1000 });
    expect(h.out().map((x) => [x.flags, x.ack])).toEqual([[ACK, add(h.pseq, 1)]]);
    h.host.advance(59000, 100); // the wait restarted with the retransmitted FIN
    expect(s.state).toBe(TcpState.TimeWait);
    h.host.advance(1000, 100);
    expect(s.state).toBe(TcpState.Closed);
  });

  it('a new SYN with a higher sequence number ends TIME-WAIT and opens a new connection', () => {
    const h = new Harness();
    const l = h.listener();
    const { s, iss } = h.passive({}, l);
    h.in({ flags: ACK | FIN, seq: seq(h.pseq), ack: seq(add(iss, 1)), window: 1000 });
    h.pseq = add(h.pseq, 1);
    h.e.close(s, h.now);
    h.out();
    h.ack(add(iss, 2));
    expect(s.state).toBe(TcpState.Closed); // LAST-ACK → CLOSED on our side; make the peer's side wait instead:
    const h2 = new Harness();
    const { s: t, iss: iss2 } = h2.passive({}, h2.listener());
    h2.e.shutdown(t, h2.now);
    h2.out();
    h2.in({ flags: ACK | FIN, seq: seq(h2.pseq), ack: seq(add(iss2, 2)), window: 1000 });
    expect(t.state).toBe(TcpState.TimeWait);
    h2.out();
    h2.in({ flags: SYN, seq: seq(add(h2.pseq, 100000)), mss: 1460 });
    const [sa] = h2.out();
    expect(sa.flags).toBe(SYN | ACK);
    expect(h2.e.counters.timeWaitRecycled).toBe(1);
  });

  it('an orphaned FIN-WAIT-2 ends after the FIN timeout', () => {
    const h = new Harness({ timings: { finWait2Ms: 5000 } });
    const { s, iss } = h.passive({});
    h.e.close(s, h.now);
    h.out();
    h.ack(add(iss, 2));
    expect(s.state).toBe(TcpState.FinWait2);
    h.host.advance(5000, 100);
    expect(s.state).toBe(TcpState.Closed);
  });
});

describe('loss recovery against a Linux receiver (window updates in duplicate ACKs, few ACKs, timeouts)', () => {
  const setup = () => {
    const h = new Harness();
    const { s, iss } = h.passive({ sack: true, ws: 7 });
    const una = add(iss, 1);
    const S = (k: number): number => add(una, k * 1460);
    return { h, s, S };
  };
  const segs = (h: Harness): number[][] => h.out().map((x) => [x.seq, x.payload.length, x.flags]);

  it('counts an ACK that SACKs new data as a duplicate even when its window changed (RFC 6675 §2)', () => {
    const { h, s, S } = setup();
    h.e.send(s, bytes(10 * 1460), 0, 10 * 1460, h.now);
    expect(h.out()).toHaveLength(10);
    // S0 is lost; Linux grows its window in every ACK while it queues S1, S2, S3 out of order.
    h.ack(S(0), { sack: [S(1), S(2)], window: 1001 });
    h.ack(S(0), { sack: [S(1), S(3)], window: 1002 });
    expect(h.out()).toEqual([]);
    h.ack(S(0), { sack: [S(1), S(4)], window: 1003 });
    expect(segs(h)).toEqual([[S(0), 1460, ACK | PSH]]);
    expect(s.counters).toMatchObject({ dupAcksIn: 3, fastRetransmits: 1, timeouts: 0 });
    // An ACK repeating known SACK blocks (a window update) is not a duplicate.
    h.ack(S(0), { sack: [S(1), S(4)], window: 1004 });
    expect(s.counters.dupAcksIn).toBe(3);
  });

  it('enters recovery on a cumulative ACK that stops at a hole with three segments SACKed above it (IsLost)', () => {
    const { h, s, S } = setup();
    h.e.send(s, bytes(10 * 1460), 0, 10 * 1460, h.now);
    h.out();
    // One (compressed) ACK: S0 in, S1 lost, S2..S4 in.
    h.ack(S(1), { sack: [S(2), S(5)] });
    expect(segs(h)[0]).toEqual([S(1), 1460, ACK | PSH]);
    expect(s.counters).toMatchObject({ fastRetransmits: 1, timeouts: 0 });
  });

  it('after a timeout, resends lost again are resent on the SACKs of later resends instead of waiting for another timeout', () => {
    const { h, s, S } = setup();
    h.e.send(s, bytes(10 * 1460), 0, 10 * 1460, h.now);
    h.out();
    // Nothing comes back: the tail loss probe, then the timeout resends S0 with a one-segment window.
    for (let i = 0; i < 2000 && s.counters.timeouts === 0; i++) h.host.advance(1);
    expect(segs(h).pop()).toEqual([S(0), 1460, ACK | PSH]);
    expect(s.counters.timeouts).toBe(1);
    // Slow start resends S1, S2, then S3, S4.
    h.ack(S(1));
    expect(segs(h).map((x) => x[0])).toEqual([S(1), S(2)]);
    h.ack(S(2));
    expect(segs(h).map((x) => x[0])).toEqual([S(3), S(4)]);
    // S2 and S3 are lost again; S4's SACK shows it: S2 goes again at once (no new timeout).
    h.ack(S(2), { sack: [S(4), S(5)] });
    expect(segs(h).map((x) => x[0])).toEqual([S(2)]);
    // S2 arrives; the ACK stops at S3, which the resend had passed before S2 went again: lost as well.
    h.ack(S(3), { sack: [S(4), S(5)] });
    expect(segs(h).map((x) => x[0])[0]).toBe(S(3));
    // Each hole once: another duplicate for S3 sends nothing more.
    h.ack(S(3), { sack: [S(4), S(5)], window: 1010 });
    expect(h.out().filter((x) => x.seq === S(3))).toEqual([]);
    expect(s.counters).toMatchObject({ timeouts: 1, fastRetransmits: 0 });
  });

  it('in recovery, when nothing comes back after the resends, a probe goes after 2·SRTT instead of the 200 ms timeout', () => {
    const { h, s, S } = setup();
    h.e.send(s, bytes(20 * 1460), 0, 20 * 1460, h.now);
    expect(h.out()).toHaveLength(10); // the initial window; ten segments wait
    h.host.advance(1);
    h.ack(S(1), { sack: [S(2), S(5)] });
    expect(segs(h)[0][0]).toBe(S(1));
    expect(s.info().rtoMs).toBe(200);
    // The one (compressed) ACK for the resend is lost: the probe goes within 2·SRTT (10 ms at least).
    h.host.advance(20);
    const probe = h.out();
    expect(probe.map((x) => [x.seq, x.payload.length])).toEqual([[S(10), 1460]]); // new data, beyond the pipe
    expect(h.e.counters.tailLossProbes).toBe(1);
    expect(s.counters.timeouts).toBe(0);
    // Its SACK shows the resend of S1 lost (data sent after it arrived): S1 goes again, still no timeout.
    h.ack(S(1), { sack: [S(2), S(5), S(10), add(S(10), probe[0].payload.length)] });
    expect(h.out().map((x) => x.seq)).toContain(S(1));
    expect(s.counters.timeouts).toBe(0);
  });

  it('a reset with data or a FIN unacknowledged goes at SND.UNA and at SND.MAX (RFC 5961: only an exact one is taken)', () => {
    const { h, s, S } = setup();
    h.data(S(0), 'bye');
    h.in({ flags: FIN | ACK, seq: seq(h.pseq), ack: seq(S(0)), window: h.wnd });
    h.recvAll(s);
    h.e.close(s, h.now);
    const [fin] = h.out().filter((x) => x.flags & FIN);
    expect(s.state).toBe(TcpState.LastAck);
    expect(h.e.finishing()).toBe(1);
    h.e.resetAll(h.now);
    expect(segs(h).filter((x) => x[2] & RST).map((x) => x[0])).toEqual([fin.seq, add(fin.seq, 1)]);
    expect(s.state).toBe(TcpState.Closed);
    expect(h.e.finishing()).toBe(0);
  });

  it('resetAll leaves listeners, FIN-WAIT-2 and TIME-WAIT without a reset', () => {
    const { h, s, S } = setup();
    h.e.close(s, h.now);
    h.out();
    h.ack(add(S(0), 1));
    expect(s.state).toBe(TcpState.FinWait2);
    expect(h.e.finishing()).toBe(0);
    h.e.resetAll(h.now);
    expect(h.out()).toEqual([]);
  });
});
