import { SimNet, type Node } from '../../test/helpers/simnet';
import { parseIp } from '../wire/addr';
import { Errno, Udp, UdpDatagram, UdpSocket, EPHEMERAL_LOW } from './udp';

const MA = 0x0200c6120001;
const MB = 0x0200c6120002;
const A = parseIp('198.18.0.1');
const B = parseIp('198.18.0.2');

function text(node: Node, d: UdpDatagram): string {
  return node.ring.rxPool.buf.toString('utf8', d.offset, d.offset + d.length);
}

describe('UDP sockets in the stack', () => {
  let net: SimNet;
  let a: Node;
  let b: Node;
  let ua: Udp;
  let ub: Udp;
  beforeEach(() => {
    net = new SimNet();
    a = net.add('198.18.0.1', MA);
    b = net.add('198.18.0.2', MB);
    ua = new Udp(a.stack);
    ub = new Udp(b.stack);
    net.settle();
  });
  afterEach(() => {
    net.settle();
    expect(net.outstanding()).toBe(0);
    net.close();
  });

  const recvAll = (u: Udp, s: UdpSocket, node: Node): { from: string; port: number; data: string }[] => {
    const out: { from: string; port: number; data: string }[] = [];
    const d = new UdpDatagram();
    while (u.receive(s, d)) {
      out.push({ from: `${d.srcIp >>> 24}.${(d.srcIp >>> 16) & 255}.${(d.srcIp >>> 8) & 255}.${d.srcIp & 255}`, port: d.srcPort, data: text(node, d) });
      u.release(d);
    }
    return out;
  };

  it('binds, sends and receives datagrams both ways (zero-copy queue, buffers released)', () => {
    const sb = ub.open();
    expect(ub.bind(sb, 0, 9000)).toBe(0);
    const sa = ua.open();
    let readable = 0;
    sb.onReadable = () => readable++;
    expect(ua.send(sa, Buffer.from('hello'), 0, 5, B, 9000, net.now)).toBe(5);
    expect(sa.localPort).toBe(EPHEMERAL_LOW); // implicit bind to an ephemeral port
    expect(ua.send(sa, Buffer.from('xxworldxx'), 2, 5, B, 9000, net.now)).toBe(5);
    net.settle();
    expect(readable).toBe(2);
    expect(recvAll(ub, sb, b)).toEqual([
      { from: '198.18.0.1', port: EPHEMERAL_LOW, data: 'hello' },
      { from: '198.18.0.1', port: EPHEMERAL_LOW, data: 'world' },
    ]);
    expect(ub.send(sb, Buffer.from('back'), 0, 4, A, sa.localPort, net.now)).toBe(4);
    net.settle();
    expect(recvAll(ua, sa, a)).toEqual([{ from: '198.18.0.2', port: 9000, data: 'back' }]);
    expect(sb.counters).toMatchObject({ rxPackets: 2, rxBytes: 10, txPackets: 1, txBytes: 4 });
  });

  it('refuses a second bind of a port unless both reuse the address, and rejects foreign addresses', () => {
    const s1 = ub.open();
    const s2 = ub.open();
    expect(ub.bind(s1, B, 7000)).toBe(0);
    expect(ub.bind(s2, 0, 7000)).toBe(-Errno.EADDRINUSE);
    expect(ub.bind(s2, B, 7000)).toBe(-Errno.EADDRINUSE);
    expect(ub.bind(s2, parseIp('198.18.0.99'), 7001)).toBe(-Errno.EADDRNOTAVAIL);
    expect(ub.bind(s1, B, 7002)).toBe(-Errno.EINVAL); // already bound
    const r1 = ub.open();
    const r2 = ub.open();
    expect(ub.bind(r1, 0, 7100, true)).toBe(0);
    expect(ub.bind(r2, 0, 7100, true)).toBe(0);
    ub.close(s1);
    expect(ub.bind(s2, B, 7000)).toBe(0);
    for (const s of [s2, r1, r2]) ub.close(s);
  });

  it('a connected socket only receives from its peer and sends there by default', () => {
    const sb = ub.open();
    ub.bind(sb, 0, 9001);
    const sa = ua.open();
    const other = ua.open();
    expect(ua.connect(sa, B, 9001)).toBe(0);
    expect(ub.connect(sb, A, sa.localPort)).toBe(0);
    ua.send(other, Buffer.from('stranger'), 0, 8, B, 9001, net.now);
    expect(ua.send(sa, Buffer.from('peer'), 0, 4, 0, 0, net.now)).toBe(4);
    expect(ua.send(sa, Buffer.from('x'), 0, 1, B, 9002, net.now)).toBe(-Errno.EISCONN);
    net.settle();
    expect(recvAll(ub, sb, b).map((m) => m.data)).toEqual(['peer']);
    expect(ub.counters.noPort).toBe(1); // the stranger's datagram found no socket
    expect(ua.send(other, Buffer.from('x'), 0, 1, 0, 0, net.now)).toBe(-Errno.EDESTADDRREQ);
  });

  it('answers a closed port with ICMP port unreachable, which a connected sender sees as ECONNREFUSED', () => {
    const sa = ua.open();
    ua.connect(sa, B, 5555);
    const errors: number[] = [];
    sa.onError = (_s, e) => errors.push(e);
    ua.send(sa, Buffer.from('anyone?'), 0, 7, 0, 0, net.now);
    net.settle();
    expect(ub.counters.portUnreachSent).toBe(1);
    expect(errors).toEqual([-Errno.ECONNREFUSED]);
    expect(sa.pendingError).toBe(-Errno.ECONNREFUSED);
    // Not for broadcast
    const s2 = ua.open();
    ua.send(s2, Buffer.from('all'), 0, 3, parseIp('198.18.0.255'), 5555, net.now);
    net.settle();
    expect(ub.counters.noPortBroadcast).toBe(1);
    expect(ub.counters.portUnreachSent).toBe(1);
  });

  it('drops and counts datagrams beyond the receive buffer, memory bounded', () => {
    const sb = ub.open();
    ub.bind(sb, 0, 9003);
    sb.rcvBuf = 10_000;
    const sa = ua.open();
    const payload = Buffer.alloc(1000, 0x41);
    for (let i = 0; i < 50; i++) {
      ua.send(sa, payload, 0, 1000, B, 9003, net.now);
      net.settle();
    }
    expect(sb.queued).toBe(10);
    expect(sb.counters.rxQueueDrops).toBe(40);
    expect(b.ring.rxPool.counters.outstanding).toBe(10);
    ub.close(sb); // releases what was queued
    expect(b.ring.rxPool.counters.outstanding).toBe(0);
  });

  it('rejects datagrams over 65507 bytes and unroutable destinations', () => {
    const sa = ua.open();
    expect(ua.send(sa, Buffer.alloc(70000), 0, 65508, B, 9, net.now)).toBe(-Errno.EMSGSIZE);
    expect(ua.send(sa, Buffer.alloc(2000), 0, 1472, B, 9, net.now)).toBe(1472);
    expect(ua.send(sa, Buffer.alloc(1), 0, 1, parseIp('198.30.0.1'), 9, net.now)).toBe(-Errno.ENETUNREACH);
  });
});

describe('UDP fragmentation over the sim wire', () => {
  it('sends 8 KiB and 60 KiB datagrams as fragments and reassembles them, also with reordering', () => {
    for (const faults of [{}, { seed: 3, reorder: 0.3 }]) {
      const net = new SimNet({ faults });
      const a = net.add('198.18.0.1', 0x0200c6120001);
      const b = net.add('198.18.0.2', 0x0200c6120002);
      const ua = new Udp(a.stack);
      const ub = new Udp(b.stack);
      net.settle();
      const sb = ub.open();
      ub.bind(sb, 0, 7000);
      sb.rcvBuf = 1 << 20;
      const sa = ua.open();
      const sizes = [8192, 60 * 1024, 1473, 65507];
      for (const n of sizes) {
        const payload = Buffer.from(Array.from({ length: n }, (_, i) => (i * 7) & 0xff));
        expect(ua.send(sa, payload, 0, n, parseIp('198.18.0.2'), 7000, net.now)).toBe(n);
        net.settle();
        const d = new UdpDatagram();
        expect(ub.receive(sb, d)).toBe(true);
        expect(d.length).toBe(n);
        expect(Buffer.compare(d.data!.subarray(d.offset, d.offset + d.length), payload)).toBe(0);
        ub.release(d);
      }
      expect(ua.send(sa, Buffer.alloc(65508), 0, 65508, parseIp('198.18.0.2'), 7000, net.now)).toBe(-Errno.EMSGSIZE);
      expect(b.stack.reassembler.counters.reassembled).toBe(sizes.length);
      net.settle();
      expect(net.outstanding()).toBe(0);
      net.close();
    }
  });
});
