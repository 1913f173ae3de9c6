import { SimNet, type Node } from '../../test/helpers/simnet';
import { formatIp, parseIp } from '../wire/addr';
import { Bytes } from '../wire/bytes';
import { emitIgmp, IgmpGroupRecordRepr, IgmpRepr, IgmpType, igmpRecordSource, igmpV3FirstRecord, igmpV3RecordAt, parseIgmp } from '../wire/igmp';
import { IpProtocol } from '../wire/ipv4';
import { ALL_IGMPV3_ROUTERS } from './igmp';
import { TX_HEADROOM } from './stack';
import { Errno, Udp, UdpDatagram, type UdpSocket } from './udp';

const A = parseIp('198.18.0.1');
const G = parseIp('239.1.2.3');
const SSM = parseIp('232.1.1.1');

/** What node `obs` hears of IGMP: one line per message (v3 records expanded). */
function listen(obs: Node): string[] {
  const heard: string[] = [];
  obs.stack.igmp.join(obs.ifc, ALL_IGMPV3_ROUTERS, 0, 0);
  obs.stack.igmp.join(obs.ifc, G, 0, 0); // to hear v2 reports sent to the group itself
  obs.stack.igmp.join(obs.ifc, parseIp('224.0.0.2'), 0, 0);
  const m = new IgmpRepr();
  const r = new IgmpGroupRecordRepr();
  obs.stack.setProtocolHandler(IpProtocol.Igmp, (ifc, ip, id, off, len) => {
    expect(parseIgmp(ifc.rxBytes, off, len, m)).toBe(0);
    if (ip.src === obs.ifc.ip) {
      ifc.ring.rxPool.release(id);
      return;
    }
    // Every report carries TTL 1 and the Router Alert option.
    expect(ip.ttl).toBe(1);
    expect(ip.optionsLength).toBe(4);
    expect(ip.options[0]).toBe(148);
    if (m.type === IgmpType.V3Report) {
      let at = igmpV3FirstRecord(off);
      const recs: string[] = [];
      for (let i = 0; i < m.numRecords; i++) {
        at = igmpV3RecordAt(ifc.rxBytes, off, at, r, len);
        const srcs = Array.from({ length: r.numSources }, (_, k) => formatIp(igmpRecordSource(ifc.rxBytes, r, k)));
        recs.push(`${r.recordType}:${formatIp(r.group)}{${srcs.join(',')}}`);
      }
      heard.push(`v3 to ${formatIp(ip.dst)} ${recs.join(' ')}`);
    } else heard.push(`${m.type === IgmpType.Leave ? 'leave' : `v${m.version} report`} ${formatIp(m.group)} to ${formatIp(ip.dst)}`);
    ifc.ring.rxPool.release(id);
  });
  return heard;
}

function query(from: Node, version: 2 | 3, group: number, maxRespCode: number, now: number): void {
  const id = from.ring.allocTx(TX_HEADROOM);
  const pool = from.ring.txPool;
  const m = Object.assign(new IgmpRepr(), { type: IgmpType.MembershipQuery, version, group, maxRespCode, qrv: 2, qqic: 125 });
  pool.append(id, emitIgmp(m, new Bytes(pool.buf), pool.start(id)));
  from.stack.sendIpv4(from.ifc, id, group || parseIp('224.0.0.1'), IpProtocol.Igmp, now, { ttl: 1, routerAlert: true });
}

describe('multicast: IGMP host and UDP group delivery', () => {
  let net: SimNet;
  let a: Node;
  let b: Node;
  let ua: Udp;
  let ub: Udp;
  beforeEach(() => {
    net = new SimNet();
    a = net.add('198.18.0.1', 0x0200c6120001);
    b = net.add('198.18.0.2', 0x0200c6120002);
    a.stack.igmp.configure({ random: () => 0.5 });
    ua = new Udp(a.stack);
    ub = new Udp(b.stack);
    net.settle();
  });
  afterEach(() => {
    net.settle();
    expect(net.outstanding()).toBe(0);
    net.close();
  });

  const texts = (u: Udp, s: UdpSocket, node: Node): string[] => {
    const out: string[] = [];
    const d = new UdpDatagram();
    while (u.receive(s, d)) {
      out.push(`${formatIp(d.srcIp)}:${d.data ? d.data.length : node.ring.rxPool.buf.toString('utf8', d.offset, d.offset + d.length)}`);
      u.release(d);
    }
    return out;
  };

  it('reports joins and leaves as IGMPv3 state changes, each retransmitted once', () => {
    const heard = listen(b);
    const s1 = ua.open();
    const s2 = ua.open();
    expect(ua.addMembership(s1, G, 0, net.now)).toBe(0);
    expect(ua.addMembership(s2, G, A, net.now)).toBe(0); // same interface state: no new report
    net.settle();
    expect(heard).toEqual(['v3 to 224.0.0.22 4:239.1.2.3{}']);
    net.advance(600); // the retransmission, at half the 1 s unsolicited report interval (random 0.5)
    expect(heard).toEqual(['v3 to 224.0.0.22 4:239.1.2.3{}', 'v3 to 224.0.0.22 4:239.1.2.3{}']);
    heard.length = 0;
    ua.close(s1, net.now);
    net.settle();
    expect(heard).toEqual([]); // s2 still a member
    expect(ua.dropMembership(s2, G, 0, net.now)).toBe(0);
    net.settle();
    expect(heard).toEqual(['v3 to 224.0.0.22 3:239.1.2.3{}']);
    expect(a.stack.igmp.groups(a.ifc)).toEqual([]);
  });

  it('source-specific membership: ALLOW and BLOCK records, only those sources delivered', () => {
    const heard = listen(b);
    const s = ua.open();
    expect(ua.bind(s, 0, 5000)).toBe(0);
    expect(ua.addSourceMembership(s, parseIp('198.18.0.2'), SSM, 0, net.now)).toBe(0);
    expect(ua.addSourceMembership(s, parseIp('198.18.0.2'), SSM, 0, net.now)).toBe(-Errno.EADDRNOTAVAIL);
    expect(ua.addSourceMembership(s, parseIp('198.18.0.9'), SSM, 0, net.now)).toBe(0);
    expect(ua.addMembership(s, SSM, 0, net.now)).toBe(-Errno.EADDRINUSE);
    net.settle();
    expect(heard).toEqual(['v3 to 224.0.0.22 5:232.1.1.1{198.18.0.2}', 'v3 to 224.0.0.22 5:232.1.1.1{198.18.0.9}']);
    // From an allowed source: delivered; a third node's datagrams are not.
    const c = net.add('198.18.0.3', 0x0200c6120003);
    const uc = new Udp(c.stack);
    const sb = ub.open();
    const sc = uc.open();
    expect(ub.send(sb, Buffer.from('yes'), 0, 3, SSM, 5000, net.now)).toBe(3);
    expect(uc.send(sc, Buffer.from('no'), 0, 2, SSM, 5000, net.now)).toBe(2);
    net.settle();
    expect(texts(ua, s, a)).toEqual(['198.18.0.2:yes']);
    expect(a.stack.counters.ipMulticastNotJoined).toBe(1);
    heard.length = 0;
    expect(ua.dropSourceMembership(s, parseIp('198.18.0.2'), SSM, 0, net.now)).toBe(0);
    expect(ua.dropSourceMembership(s, parseIp('198.18.0.2'), SSM, 0, net.now)).toBe(-Errno.EADDRNOTAVAIL);
    expect(ua.dropSourceMembership(s, parseIp('198.18.0.9'), SSM, 0, net.now)).toBe(0);
    net.settle();
    // INCLUDE {a} → INCLUDE {}: BLOCK {a} (RFC 3376 §5.1's table).
    expect(heard).toEqual(['v3 to 224.0.0.22 6:232.1.1.1{198.18.0.2}', 'v3 to 224.0.0.22 6:232.1.1.1{198.18.0.9}']);
    ub.close(sb);
    uc.close(sc);
    ua.close(s);
    c.stack.close();
  });

  it('answers general and group queries with current-state records, and falls back to v2 under a v2 querier', () => {
    const heard = listen(b);
    const s = ua.open();
    ua.addMembership(s, G, 0, net.now);
    ua.addSourceMembership(s, parseIp('198.18.0.7'), SSM, 0, net.now);
    net.advance(1000);
    heard.length = 0;
    query(b, 3, 0, 100, net.now); // general, max response 10 s
    net.advance(4000);
    expect(heard).toEqual([]); // not before half of the maximum response time
    net.advance(1100);
    expect(heard).toEqual(['v3 to 224.0.0.22 2:239.1.2.3{} 1:232.1.1.1{198.18.0.7}']);
    heard.length = 0;
    query(b, 2, G, 20, net.now); // a v2 querier: group-specific, 2 s
    net.advance(1100);
    expect(heard).toEqual(['v2 report 239.1.2.3 to 239.1.2.3']);
    expect(a.stack.igmp.version(a.ifc, net.now)).toBe(2);
    heard.length = 0;
    ua.dropMembership(s, G, 0, net.now);
    net.settle();
    expect(heard).toEqual(['leave 239.1.2.3 to 224.0.0.2']);
    expect(a.stack.igmp.counters.queriesReceived).toBe(2);
    ua.close(s);
  });

  it('delivers a group datagram to every member socket on the port (one buffer, a reference each), loops it back to the sender host, and drops groups not joined', () => {
    const r1 = ua.open();
    const r2 = ua.open();
    const other = ua.open();
    expect(ua.bind(r1, 0, 6000, true)).toBe(0);
    expect(ua.bind(r2, G, 6000, true)).toBe(0);
    expect(ua.bind(other, 0, 6001)).toBe(0);
    expect(ua.addMembership(r1, G, 0, net.now)).toBe(0);
    const tx = ub.open();
    expect(ub.send(tx, Buffer.from('hi'), 0, 2, G, 6000, net.now)).toBe(2);
    expect(ub.send(tx, Buffer.from('nobody'), 0, 6, parseIp('239.9.9.9'), 6000, net.now)).toBe(6);
    net.settle();
    // r2 did not join but hears the group the host joined (IP_MULTICAST_ALL), as on Linux.
    expect(texts(ua, r1, a)).toEqual(['198.18.0.2:hi']);
    expect(texts(ua, r2, a)).toEqual(['198.18.0.2:hi']);
    expect(texts(ua, other, a)).toEqual([]);
    // Sent by a member host with IP_MULTICAST_LOOP (default on): its own sockets get a copy too.
    const self = ua.open();
    expect(ua.send(self, Buffer.from('loop'), 0, 4, G, 6000, net.now)).toBe(4);
    net.settle();
    expect(texts(ua, r1, a)).toEqual(['198.18.0.1:loop']);
    expect(texts(ua, r2, a)).toEqual(['198.18.0.1:loop']);
    self.mcOptions.multicastLoop = false;
    ua.send(self, Buffer.from('noloop'), 0, 6, G, 6000, net.now);
    net.settle();
    expect(texts(ua, r1, a)).toEqual([]);
    // 8 KiB to the group: fragments, reassembled, a copy per socket.
    ub.send(tx, Buffer.alloc(8192, 1), 0, 8192, G, 6000, net.now);
    net.settle();
    expect(texts(ua, r1, a)).toEqual(['198.18.0.2:8192']);
    expect(texts(ua, r2, a)).toEqual(['198.18.0.2:8192']);
    for (const s of [r1, r2, other, self]) ua.close(s, net.now);
    ub.close(tx);
  });

  it('a socket bound to a group address sends from the interface\'s address (checksum and header agree)', () => {
    const g = ua.open();
    expect(ua.bind(g, G, 6100)).toBe(0);
    const rb = ub.open();
    ub.bind(rb, 0, 6101);
    expect(ua.send(g, Buffer.from('uni'), 0, 3, parseIp('198.18.0.2'), 6101, net.now)).toBe(3);
    net.settle();
    expect(texts(ub, rb, b)).toEqual(['198.18.0.1:uni']);
    expect(ub.counters.badChecksum).toBe(0);
    ua.close(g);
    ub.close(rb);
  });

  it('uses multicast TTL 1 by default and the socket\'s multicast TTL and interface', () => {
    const ttls: number[] = [];
    b.stack.igmp.join(b.ifc, G, 0, 0);
    b.stack.setProtocolHandler(IpProtocol.Udp, (ifc, ip, id) => {
      ttls.push(ip.ttl);
      ifc.ring.rxPool.release(id);
    });
    const s = ua.open();
    ua.send(s, Buffer.from('x'), 0, 1, G, 7000, net.now);
    s.mcOptions.ttl = 9;
    ua.send(s, Buffer.from('x'), 0, 1, G, 7000, net.now);
    s.mcOptions.ttl = 0; // TTL 0: this host only
    ua.send(s, Buffer.from('x'), 0, 1, G, 7000, net.now);
    net.settle();
    expect(ttls).toEqual([1, 9]);
    expect(ua.setMulticastInterface(s, parseIp('198.18.0.77'))).toBe(-Errno.EADDRNOTAVAIL);
    expect(ua.setMulticastInterface(s, A)).toBe(0);
    expect(ua.addMembership(s, parseIp('10.0.0.1'), 0, net.now)).toBe(-Errno.EINVAL);
    expect(ua.addMembership(s, G, parseIp('198.18.0.77'), net.now)).toBe(-Errno.ENODEV);
    expect(ua.dropMembership(s, G, 0, net.now)).toBe(-Errno.EADDRNOTAVAIL);
    ua.close(s);
  });

  it('delivers a broadcast to every socket on the port, and to the sending host', () => {
    const r1 = ua.open();
    const r2 = ua.open();
    ua.bind(r1, 0, 6500, true);
    ua.bind(r2, 0, 6500, true);
    const tx = ub.open();
    ub.send(tx, Buffer.from('all'), 0, 3, parseIp('198.18.0.255'), 6500, net.now);
    const rb = ub.open();
    ub.bind(rb, 0, 6500);
    net.settle();
    expect(texts(ua, r1, a)).toEqual(['198.18.0.2:all']);
    expect(texts(ua, r2, a)).toEqual(['198.18.0.2:all']);
    expect(texts(ub, rb, b)).toEqual(['198.18.0.2:all']);
    for (const s of [r1, r2]) ua.close(s);
    ub.close(tx);
    ub.close(rb);
  });
});
