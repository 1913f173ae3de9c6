import { parseIp } from '../wire/addr';
import { Bytes } from '../wire/bytes';
import { emitEthernet, EthernetRepr } from '../wire/ethernet';
import { frame as fixture } from '../../test/fixtures/frames';
import { SimNet } from '../../test/helpers/simnet';

const MA = 0x0200c6120001;
const MB = 0x0200c6120002;

describe('stack core over the sim wire', () => {
  let net: SimNet;
  afterEach(() => {
    expect(net.outstanding()).toBe(0); // every buffer returned, whatever the test did
    net.close();
  });

  describe('ARP', () => {
    it('announces itself, resolves a neighbour, and both learn each other', () => {
      net = new SimNet();
      const a = net.add('198.18.0.1', MA);
      const b = net.add('198.18.0.2', MB);
      net.settle();
      expect(a.stack.counters.arpRequestsSent).toBe(1); // gratuitous announcement
      net.ping(a, '198.18.0.2', 1);
      net.settle();
      expect(a.stack.neighborTable(a.ifc)).toEqual([{ ip: '198.18.0.2', mac: '02:00:c6:12:00:02', state: 'REACHABLE', queued: 0 }]);
      expect(b.stack.neighborMac(b.ifc, parseIp('198.18.0.1'))).toBe(MA);
      expect(b.stack.counters.arpRequestsAnswered).toBe(1);
      expect(a.stack.counters.arpResolved).toBe(1);
    });

    it('queues packets while resolving and sends them in order once resolved', () => {
      net = new SimNet({ latencyMs: 5 });
      const a = net.add('198.18.0.1', MA);
      const b = net.add('198.18.0.2', MB);
      for (let s = 1; s <= 3; s++) net.ping(a, '198.18.0.2', s);
      expect(a.stack.neighborTable(a.ifc)[0]).toMatchObject({ state: 'INCOMPLETE', queued: 3 });
      net.advance(20);
      expect(b.stack.counters.icmpEchoRequests).toBe(3);
      expect(a.stack.counters.icmpOther).toBe(3); // the three echo replies
    });

    it('gives up after the configured requests and drops what was queued', () => {
      net = new SimNet();
      const a = net.add('198.18.0.1', MA, { arp: { retransmitMs: 100, requests: 3 } });
      net.ping(a, '198.18.0.9', 1);
      net.advance(250, 10);
      expect(a.stack.counters.arpRequestsSent).toBe(1 + 3); // announcement + 3 requests
      expect(a.stack.counters.arpFailed).toBe(0);
      net.advance(100, 10);
      expect(a.stack.counters.arpFailed).toBe(1);
      expect(a.stack.neighborTable(a.ifc)).toEqual([]);
    });

    it('goes stale after the reachable time and re-probes with unicast requests on use', () => {
      net = new SimNet();
      const a = net.add('198.18.0.1', MA, { arp: { reachableMs: 1000 } });
      const b = net.add('198.18.0.2', MB);
      net.ping(a, '198.18.0.2', 1);
      net.settle();
      net.advance(1001, 50);
      expect(a.stack.neighborTable(a.ifc)[0].state).toBe('STALE');
      const before = b.stack.counters.arpRequestsAnswered;
      net.ping(a, '198.18.0.2', 2);
      net.settle();
      expect(b.stack.counters.arpRequestsAnswered).toBe(before + 1);
      expect(a.stack.neighborTable(a.ifc)[0].state).toBe('REACHABLE');
      expect(b.stack.counters.icmpEchoRequests).toBe(2);
    });

    it('does not answer or learn from requests for other addresses', () => {
      net = new SimNet();
      const a = net.add('198.18.0.1', MA);
      const b = net.add('198.18.0.2', MB);
      net.ping(a, '198.18.0.3', 1); // nobody has .3
      net.settle();
      expect(b.stack.counters.arpNotForUs).toBeGreaterThan(0);
      expect(b.stack.neighborTable(b.ifc)).toEqual([]);
      a.stack.close(); // drop the queued ping
    });
  });

  describe('routes', () => {
    it('sends off-link traffic to the default gateway, or a static route\'s gateway, and counts no-route', () => {
      net = new SimNet();
      const a = net.add('198.18.0.1', MA, { gateway: '198.18.0.254' });
      const gw = net.add('198.18.0.254', 0x0200c61200fe);
      const r2 = net.add('198.18.0.253', 0x0200c61200fd);
      a.stack.addRoute(parseIp('198.19.5.0'), 24, parseIp('198.18.0.253'));
      expect(a.stack.route(parseIp('198.19.9.9'))?.nextHop).toBe(parseIp('198.18.0.254'));
      expect(a.stack.route(parseIp('198.19.5.9'))?.nextHop).toBe(parseIp('198.18.0.253'));
      expect(a.stack.route(parseIp('198.18.0.7'))?.nextHop).toBe(parseIp('198.18.0.7'));
      net.ping(a, '198.19.9.9', 1);
      net.ping(a, '198.19.5.9', 2);
      net.settle();
      // The gateways received the frames (addressed to their MACs) and, not routers, dropped them as not for them.
      expect(gw.stack.counters.ipNotForUs).toBe(1);
      expect(r2.stack.counters.ipNotForUs).toBe(1);
      expect(() => a.stack.addRoute(parseIp('198.20.0.0'), 16, parseIp('198.21.0.1'))).toThrow(/not on any interface/);
      const lone = net.add('198.18.1.1', 0x0200c6120101);
      expect(lone.stack.route(parseIp('198.30.0.1'))).toBeNull();
      net.ping(lone, '198.30.0.1', 1);
      expect(lone.stack.counters.noRoute).toBe(1);
      net.settle();
    });
  });

  describe('ICMP echo', () => {
    it('answers 1000 pings with 0 loss', () => {
      net = new SimNet();
      const a = net.add('198.18.0.1', MA);
      const b = net.add('198.18.0.2', MB);
      for (let s = 0; s < 1000; s++) {
        net.ping(a, '198.18.0.2', s, 64);
        net.advance(2);
      }
      expect(b.stack.counters.icmpEchoRequests).toBe(1000);
      expect(b.stack.counters.icmpEchoReplies).toBe(1000);
      expect(a.stack.counters.icmpOther).toBe(1000);
    });

    it('does not answer echo sent to the broadcast address', () => {
      net = new SimNet();
      const a = net.add('198.18.0.1', MA);
      const b = net.add('198.18.0.2', MB);
      net.ping(a, '198.18.0.255', 1);
      net.settle();
      expect(b.stack.counters.icmpEchoReplies).toBe(0);
      expect(b.stack.counters.icmpOther).toBe(1);
    });
  });

  describe('malformed frames are dropped and counted, never thrown', () => {
    it('counts each kind by its reason', () => {
      net = new SimNet();
      const b = net.add('198.18.0.2', MB);
      const inject = (bytes: Uint8Array): void => {
        const id = b.ring.rxPool.allocCopy(Buffer.from(bytes), 0, bytes.length);
        b.stack.input(b.ifc, id, net.now);
      };
      const toB = (name: Parameters<typeof fixture>[0], mutate: (f: Uint8Array) => void = () => {}): Uint8Array => {
        const f = fixture(name).slice();
        const e = new EthernetRepr();
        Object.assign(e, { dst: MB, src: MA, ethertype: (f[12] << 8) | f[13], vlan: -1 });
        emitEthernet(e, new Bytes(f), 0);
        mutate(f);
        return f;
      };
      const c = b.stack.counters;
      inject(new Uint8Array(10));
      expect(c.ethTruncated).toBe(1);
      inject(toB('pingRequest', (f) => { f[14 + 10] ^= 0xff; }));
      expect(c.ipBadChecksum).toBe(1);
      inject(toB('pingRequest').subarray(0, 30));
      expect(c.ipTruncated).toBe(1);
      inject(toB('pingRequest', (f) => { f[14] = 0x65; }));
      expect(c.ipUnsupported).toBe(1);
      inject(toB('pingRequest', (f) => { f[34 + 3] ^= 1; }));
      expect(c.icmpBadChecksum).toBe(1);
      inject(toB('arpRequest').subarray(0, 30));
      expect(c.arpTruncated).toBe(1);
      inject(toB('frag2'));
      expect(c.ipFragmentsDropped).toBe(1);
      const ipv6 = toB('udp', (f) => { f[12] = 0x86; f[13] = 0xdd; });
      inject(ipv6);
      expect(c.ethUnknownType).toBe(1);
      expect(c.icmpEchoReplies).toBe(0);
      net.settle(); // let the ARP announcement leave
    });
  });
});
