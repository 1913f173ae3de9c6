import { createHash } from 'node:crypto';
import { SimNet, type Node } from '../../test/helpers/simnet';
import { parseIp } from '../wire/addr';
import { emitIcmp, IcmpRepr } from '../wire/icmp';
import { emitIpv4, IpProtocol, Ipv4Repr } from '../wire/ipv4';
import { seq } from '../wire/seq';
import { emitTcp, TcpFlag, TcpRepr } from '../wire/tcp';
import { TX_HEADROOM } from './stack';
import { Tcp, TcpErrno, TcpSocket, TcpState, type TcpOptions } from './tcp';

const MA = 0x0200c6120001;
const MB = 0x0200c6120002;
const A = parseIp('198.18.0.1');
const B = parseIp('198.18.0.2');
const KEY = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);

function setup(simOpts: ConstructorParameters<typeof SimNet>[0] = {}, tcpOpts: TcpOptions = {}) {
  const net = new SimNet(simOpts);
  const a = net.add('198.18.0.1', MA);
  const b = net.add('198.18.0.2', MB);
  const ta = new Tcp(a.stack, { isnKey: KEY, ...tcpOpts });
  const tb = new Tcp(b.stack, { isnKey: KEY, ...tcpOpts });
  net.settle();
  return { net, a, b, ta, tb };
}

/** Client on A connects to a listener on B port 80; returns both ends once established. */
function connectPair(net: SimNet, ta: Tcp, tb: Tcp) {
  const l = tb.open();
  expect(tb.bind(l, 0, 80)).toBe(0);
  expect(tb.listen(l, 16)).toBe(0);
  let accepted = 0;
  l.onAccept = () => accepted++;
  const c = ta.open();
  let connected = 0;
  c.onConnect = () => connected++;
  expect(ta.connect(c, B, 80, net.now)).toBe(0);
  expect(c.state).toBe(TcpState.SynSent);
  net.settle();
  expect(connected).toBe(1);
  expect(accepted).toBe(1);
  const s = tb.accept(l)!;
  expect(s).not.toBeNull();
  expect(s.state).toBe(TcpState.Established);
  expect(c.state).toBe(TcpState.Established);
  return { l, c, s };
}

function drain(t: Tcp, s: TcpSocket, now: number): Buffer {
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    const n = t.recv(s, buf, 0, buf.length, now);
    if (n <= 0) break;
    parts.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(parts);
}

describe('Tcp on two stacks over the sim wire', () => {
  it('connects, moves data both ways, closes with FIN both ways and ends in TIME_WAIT then CLOSED', () => {
    const { net, ta, tb } = setup();
    const { c, s, l } = connectPair(net, ta, tb);
    expect(c.localPort).toBeGreaterThanOrEqual(32768);
    expect(s.remotePort).toBe(c.localPort);
    expect(c.info()).toMatchObject({ timestamps: true, sack: true, rcvWscale: 7, sndWscale: 7 });
    expect(ta.send(c, Buffer.from('hello server'), 0, 12, net.now)).toBe(12);
    net.settle();
    expect(drain(tb, s, net.now).toString()).toBe('hello server');
    expect(tb.send(s, Buffer.from('hi client'), 0, 9, net.now)).toBe(9);
    net.settle();
    expect(drain(ta, c, net.now).toString()).toBe('hi client');
    // Active close from the client.
    let cClosed = 0;
    c.onClose = () => cClosed++;
    expect(ta.shutdown(c, net.now)).toBe(0);
    net.settle();
    expect(c.state).toBe(TcpState.FinWait2);
    expect(s.state).toBe(TcpState.CloseWait);
    expect(s.finReceived).toBe(true);
    tb.close(s, net.now);
    net.settle();
    expect(c.state).toBe(TcpState.TimeWait);
    expect(cClosed).toBe(1);
    expect(s.state).toBe(TcpState.Closed);
    net.advance(60000, 1000);
    expect(c.state).toBe(TcpState.Closed);
    expect([...ta.sockets()]).toHaveLength(0);
    tb.close(l, net.now);
    expect([...tb.sockets()]).toHaveLength(0);
    net.settle();
    expect(net.outstanding()).toBe(0);
    net.close();
  });

  it('answers a SYN to a closed port with RST: connect fails with ECONNREFUSED', () => {
    const { net, ta, tb } = setup();
    const c = ta.open();
    const errs: number[] = [];
    c.onError = (_s, e) => errs.push(e);
    expect(ta.connect(c, B, 81, net.now)).toBe(0);
    net.settle();
    expect(errs).toEqual([-TcpErrno.ECONNREFUSED]);
    expect(c.state).toBe(TcpState.Closed);
    expect(tb.counters.noSocket).toBe(1);
    expect(tb.counters.resetsOut).toBe(1);
    net.close();
  });

  for (const congestion of ['newreno', 'cubic'] as const) {
    it(`moves 3 MiB with sha256 equal under 5% loss, reordering and duplication (${congestion})`, () => {
      const { net, ta, tb } = setup({ faults: { seed: 7, drop: 0.05, reorder: 0.05, duplicate: 0.05 }, latencyMs: 1 }, { congestion });
      const l = tb.open();
      tb.bind(l, 0, 5001);
      tb.listen(l, 8);
      const c = ta.open();
      ta.connect(c, B, 5001, net.now);
      let s: TcpSocket | null = null;
      for (let i = 0; i < 200 && !s; i++) {
        net.advance(10, 1);
        s = tb.accept(l);
      }
      expect(s).not.toBeNull();
      const total = 3 * 1024 * 1024;
      const data = Buffer.alloc(total);
      let x = 12345;
      for (let i = 0; i < total; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        data[i] = x >>> 24;
      }
      let sent = 0;
      const got: Buffer[] = [];
      let gotLen = 0;
      const buf = Buffer.alloc(65536);
      const start = net.now;
      for (let i = 0; i < 200000 && gotLen < total; i++) {
        if (sent < total) {
          const n = ta.send(c, data, sent, Math.min(65536, total - sent), net.now);
          if (n > 0) sent += n;
          if (sent === total) ta.shutdown(c, net.now);
        }
        net.advance(1, 1);
        for (;;) {
          const n = tb.recv(s!, buf, 0, buf.length, net.now);
          if (n <= 0) break;
          got.push(Buffer.from(buf.subarray(0, n)));
          gotLen += n;
        }
      }
      const elapsed = net.now - start;
      const h = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      expect(gotLen).toBe(total);
      expect(h(Buffer.concat(got))).toBe(h(data));
      net.advance(100, 1);
      expect(s!.finReceived).toBe(true);
      expect(net.wire.faults.counters.dropped).toBeGreaterThan(100);
      expect(ta.counters.retransmits).toBeGreaterThan(0);
      console.log(`${congestion}: ${total} bytes in ${elapsed} simulated ms (${((total * 8) / elapsed / 1000).toFixed(1)} Mbit/s), retransmits ${ta.counters.retransmits}, fast ${ta.counters.fastRetransmits}, timeouts ${ta.counters.timeouts}, probes ${ta.counters.tailLossProbes}, lost rtx ${ta.counters.lostRetransmits}`);
      net.close();
    });
  }
});

describe('Tcp on two stacks: many connections', () => {
  it('20 connections move 100 KB each way under loss and reordering, close gracefully, and leave nothing behind', () => {
    const { net, ta, tb } = setup({ faults: { seed: 3, drop: 0.02, reorder: 0.05, duplicate: 0.02 }, latencyMs: 1 });
    const l = tb.open();
    tb.bind(l, 0, 9000);
    tb.listen(l, 64);
    const n = 20;
    const size = 100000;
    const payload = (k: number, side: number) => {
      const b = Buffer.alloc(size);
      for (let i = 0; i < size; i++) b[i] = (i * (k + 1) + side * 7) & 255;
      return b;
    };
    const clients = Array.from({ length: n }, () => {
      const c = ta.open();
      c.rcvBuf = 32768; // small windows: the readers below are slow, so windows close and reopen
      expect(ta.connect(c, B, 9000, net.now)).toBe(0);
      return c;
    });
    const servers: TcpSocket[] = [];
    const outC = clients.map((_, k) => payload(k, 0));
    const sentC = new Array(n).fill(0);
    const sentS = new Array(n).fill(0);
    const gotC = clients.map(() => [] as Buffer[]);
    const gotS: Buffer[][] = [];
    const outS: Buffer[] = [];
    const buf = Buffer.alloc(3000);
    for (let step = 0; step < 60000; step++) {
      for (let x = tb.accept(l); x; x = tb.accept(l)) {
        servers.push(x);
        gotS.push([]);
        outS.push(payload(clients.findIndex((c) => c.localPort === x.remotePort), 1));
      }
      for (let k = 0; k < n; k++) {
        const c = clients[k];
        if (c.state === TcpState.Established && sentC[k] < size) {
          const m = ta.send(c, outC[k], sentC[k], size - sentC[k], net.now);
          if (m > 0) sentC[k] += m;
          if (sentC[k] === size) ta.shutdown(c, net.now);
        }
        const r = ta.recv(c, buf, 0, buf.length, net.now); // slow reader: at most 3000 bytes a step
        if (r > 0) gotC[k].push(Buffer.from(buf.subarray(0, r)));
      }
      servers.forEach((x, j) => {
        if (sentS[j] < size) {
          const m = tb.send(x, outS[j], sentS[j], size - sentS[j], net.now);
          if (m > 0) sentS[j] += m;
          if (sentS[j] === size) tb.shutdown(x, net.now);
        }
        const r = tb.recv(x, buf, 0, buf.length, net.now);
        if (r > 0) gotS[j].push(Buffer.from(buf.subarray(0, r)));
      });
      net.advance(1);
      const done = servers.length === n && clients.every((c) => c.finReceived && c.rxQueued === 0) && servers.every((x) => x.finReceived && x.rxQueued === 0);
      if (done) break;
    }
    expect(servers).toHaveLength(n);
    clients.forEach((c, k) => {
      expect(Buffer.concat(gotC[k]).equals(payload(k, 1))).toBe(true);
      ta.close(c, net.now);
    });
    servers.forEach((x, j) => {
      const k = clients.findIndex((c) => c.localPort === x.remotePort);
      expect(Buffer.concat(gotS[j]).equals(payload(k, 0))).toBe(true);
      tb.close(x, net.now);
    });
    net.advance(61000, 100);
    expect([...ta.sockets()]).toEqual([]);
    expect([...tb.sockets()]).toEqual([l]);
    tb.close(l, net.now);
    net.settle();
    expect(net.outstanding()).toBe(0);
    net.close();
  });
});

describe('Tcp in the stack: wire details', () => {
  it('drops a segment with a bad checksum (counted, no RST)', () => {
    const { net, a, tb } = setup();
    const r = new TcpRepr();
    Object.assign(r, { srcPort: 1234, dstPort: 80, seq: seq(1), flags: TcpFlag.SYN, window: 1000, payloadLength: 4 });
    const pool = a.ring.txPool;
    const id = a.ring.allocTx(TX_HEADROOM);
    const start = pool.start(id);
    pool.buf.write('abcd', start + 20);
    pool.append(id, 24);
    emitTcp(r, a.ifc.txBytes, start, A, B, true);
    pool.buf[start + 21] ^= 0x40; // corrupt the payload after the checksum
    a.stack.sendIpv4(a.ifc, id, B, IpProtocol.Tcp, net.now);
    net.settle();
    expect(tb.counters.badChecksum).toBe(1);
    expect(tb.counters.resetsOut).toBe(0);
    expect(tb.counters.segmentsIn).toBe(0);
    net.close();
  });

  it('lowers the MSS when an ICMP fragmentation-needed quotes one of its segments (RFC 1191)', () => {
    const { net, b, ta, tb } = setup();
    const { c } = connectPair(net, ta, tb);
    expect(c.info().mss).toBe(1448);
    // B's "router" answers A's segment with type 3 code 4, next-hop MTU 1000, quoting A's header and the TCP ports + seq.
    const quotedSeq = c.sndUna;
    ta.send(c, Buffer.alloc(3000, 1), 0, 3000, net.now); // in flight, so the quoted seq is believable
    const pool = b.ring.txPool;
    const id = b.ring.allocTx(TX_HEADROOM);
    const start = pool.start(id);
    const q = new Ipv4Repr();
    Object.assign(q, { src: A, dst: B, protocol: IpProtocol.Tcp, payloadLength: 8, dontFragment: true });
    emitIpv4(q, b.ifc.txBytes, start + 8);
    const dv = b.ifc.txBytes.dv;
    dv.setUint16(start + 28, c.localPort);
    dv.setUint16(start + 30, c.remotePort);
    dv.setUint32(start + 32, quotedSeq);
    pool.append(id, 36);
    const m = new IcmpRepr();
    Object.assign(m, { type: 3, code: 4, mtu: 1000, payloadLength: 28 });
    emitIcmp(m, b.ifc.txBytes, start);
    b.stack.sendIpv4(b.ifc, id, A, IpProtocol.Icmp, net.now);
    net.settle();
    expect(ta.counters.pmtuUpdates).toBe(1);
    expect(c.info().mss).toBe(1000 - 40 - 12);
    net.close();
  });

  it('connects to its own address through the stack', () => {
    const { net, ta } = setup();
    const l = ta.open();
    ta.bind(l, A, 7000);
    ta.listen(l, 4);
    const c = ta.open();
    expect(ta.connect(c, A, 7000, net.now)).toBe(0);
    net.advance(5); // frames to ourselves are delivered on the next stack poll (SimNet.settle does not count them)
    const s = ta.accept(l)!;
    expect(s.state).toBe(TcpState.Established);
    ta.send(c, Buffer.from('self'), 0, 4, net.now);
    net.advance(5);
    expect(drain(ta, s, net.now).toString()).toBe('self');
    net.close();
  });

  it('an abort is seen by the peer as ECONNRESET', () => {
    const { net, ta, tb } = setup();
    const { c, s } = connectPair(net, ta, tb);
    const errs: number[] = [];
    s.onError = (_x, e) => errs.push(e);
    ta.abort(c, net.now);
    net.settle();
    expect(errs).toEqual([-TcpErrno.ECONNRESET]);
    expect(s.state).toBe(TcpState.Closed);
    net.close();
  });

  it('establishes through SYN cookies when the SYN queue is full, keeping window scale, SACK and timestamps', () => {
    const { net, ta, tb } = setup({}, { synBacklog: 0 });
    const { c, s } = connectPair(net, ta, tb);
    expect(tb.counters.synCookiesSent).toBe(1);
    expect(tb.counters.synCookiesOk).toBe(1);
    expect(s.info()).toMatchObject({ sndWscale: 7, sack: true, timestamps: true });
    const big = Buffer.alloc(200000, 3);
    let sent = 0;
    let got = 0;
    for (let i = 0; i < 100 && got < big.length; i++) {
      if (sent < big.length) sent += Math.max(0, ta.send(c, big, sent, big.length - sent, net.now));
      net.advance(1);
      got += drain(tb, s, net.now).length;
    }
    expect(got).toBe(big.length);
    net.close();
  });
});

export type { Node };
