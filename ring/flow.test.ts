import fc from 'fast-check';
import { regionOf } from './buffer_pool';
import { FlowTable, FrameClass, type FlowSink } from './flow';
import type { Ring } from './ring';

const NO_RING = null as unknown as Ring;

/** Ethernet + IPv4 + 4 bytes of ports, enough for the classifier. */
function frame(proto: number, src: number, sport: number, dst: number, dport: number, fragField = 0, vlan = 0): Uint8Array {
  const f = new Uint8Array((vlan ? 18 : 14) + 24);
  const dv = new DataView(f.buffer);
  let l3 = 14;
  if (vlan) {
    dv.setUint16(12, vlan);
    dv.setUint16(14, 5);
    dv.setUint16(16, 0x0800);
    l3 = 18;
  } else dv.setUint16(12, 0x0800);
  dv.setUint8(l3, 0x45);
  dv.setUint16(l3 + 6, fragField);
  dv.setUint8(l3 + 9, proto);
  dv.setUint32(l3 + 12, src);
  dv.setUint32(l3 + 16, dst);
  dv.setUint16(l3 + 20, sport);
  dv.setUint16(l3 + 22, dport);
  return f;
}

describe('FlowTable (rfs demux)', () => {
  const A = 0xc6120001;
  const B = 0xc6120002;
  const hits: string[] = [];
  const sink = (name: string): FlowSink => () => { hits.push(name); };
  const t = new FlowTable();
  t.attach5(17, A, 4000, B, 9, sink('5-tuple'));
  t.attach3(17, B, 9, sink('3-tuple'));
  t.attachPort(17, 9, sink('port'));
  t.attachPort(17, 10, sink('port10'));
  t.attachEthertype(0x0806, sink('arp'));

  const deliver = (f: Uint8Array): string => {
    hits.length = 0;
    const cls = t.classify(regionOf(f), 0, f.length);
    const s = t.lookup(cls);
    if (s) s(0, 0, NO_RING);
    return hits[0] ?? 'default';
  };

  it('prefers 5-tuple over 3-tuple over port over default', () => {
    expect(deliver(frame(17, A, 4000, B, 9))).toBe('5-tuple');
    expect(deliver(frame(17, A, 4001, B, 9))).toBe('3-tuple');
    expect(deliver(frame(17, A, 4001, 0xc6120003, 9))).toBe('port');
    expect(deliver(frame(17, A, 4001, B, 10))).toBe('port10');
    expect(deliver(frame(17, A, 4001, B, 11))).toBe('default');
    expect(deliver(frame(6, A, 4000, B, 9))).toBe('default'); // protocol is part of the key
  });

  it('reads past one VLAN tag and sends every fragment and other ethertypes aside', () => {
    expect(deliver(frame(17, A, 4000, B, 9, 0, 0x8100))).toBe('5-tuple');
    expect(deliver(frame(17, A, 4000, B, 9, 0, 0x88a8))).toBe('5-tuple');
    expect(deliver(frame(17, A, 4000, B, 9, 0x4000))).toBe('5-tuple'); // DF is not a fragment
    expect(deliver(frame(17, A, 4000, B, 9, 100))).toBe('default'); // a later fragment: no ports
    expect(deliver(frame(17, A, 4000, B, 9, 0x2000))).toBe('default'); // the first fragment: ports, but not the whole datagram
    expect(deliver(frame(1, A, 0, B, 0))).toBe('default'); // ICMP
    const opts = frame(17, A, 4000, B, 9);
    expect(deliver(opts.subarray(0, 14 + 20 + 3))).toBe('default'); // ports cut off
    const arp = new Uint8Array(42);
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(deliver(arp)).toBe('arp');
    expect(t.classify(regionOf(new Uint8Array(10)), 0, 10)).toBe(FrameClass.Runt);
  });

  it('refuses duplicates and detaches', () => {
    expect(() => t.attach3(17, B, 9, sink('x'))).toThrow(/already attached: udp \*:\* > 198.18.0.2:9/);
    expect(t.detach5(17, A, 4000, B, 9)).toBe(true);
    expect(t.detach5(17, A, 4000, B, 9)).toBe(false);
    expect(deliver(frame(17, A, 4000, B, 9))).toBe('3-tuple');
  });

  it('scales without scanning: 10^4 flows each found', () => {
    const big = new FlowTable();
    let found = 0;
    for (let i = 0; i < 10000; i++) big.attach5(6, A + i, 1000 + (i % 50000), B, 80, () => { found++; });
    for (let i = 0; i < 10000; i++) {
      const f = frame(6, A + i, 1000 + (i % 50000), B, 80);
      big.lookup(big.classify(regionOf(f), 0, f.length))!(0, 0, NO_RING);
    }
    expect(found).toBe(10000);
    expect(big.size).toBe(10000);
  });
});

describe('FlowTable with FlowSpecs', () => {
  it('attaches each kind, treats a 3-tuple on 0.0.0.0 as a port listener and ignores multicast MACs', () => {
    const t = new FlowTable();
    const got: string[] = [];
    const s = (n: string): FlowSink => () => { got.push(n); };
    t.attach({ kind: '5-tuple', protocol: 6, srcIp: 0xc6120009, srcPort: 5555, dstIp: 0xc6120001, dstPort: 80 }, s('conn'));
    t.attach({ kind: '3-tuple', protocol: 6, dstIp: 0, dstPort: 80 }, s('listen'));
    t.attach({ kind: 'ethertype', ethertype: 0x0806 }, s('arp'));
    t.attach({ kind: 'multicast-mac', mac: 0x01005e000001 }, s('never'));
    expect(t.size).toBe(2);
    const run = (f: Uint8Array): void => { t.lookup(t.classify(regionOf(f), 0, f.length))?.(0, 0, NO_RING); };
    run(frame(6, 0xc6120009, 5555, 0xc6120001, 80));
    run(frame(6, 0xc6120009, 5556, 0xc6120001, 80));
    run(frame(6, 0xc6120009, 5556, 0xc6120002, 80));
    expect(got).toEqual(['conn', 'listen', 'listen']);
    expect(t.detach({ kind: '3-tuple', protocol: 6, dstIp: 0, dstPort: 80 })).toBe(true);
    expect(t.detach({ kind: 'ethertype', ethertype: 0x0806 })).toBe(true);
    expect(t.detach({ kind: 'ethertype', ethertype: 0x0806 })).toBe(false);
    expect(t.size).toBe(1);
    expect(() => t.attach({ kind: '3-tuple', protocol: 6, dstIp: 1, dstPort: 70000 }, s('x'))).toThrow(RangeError);
    expect(() => t.attach({ kind: '3-tuple', protocol: 256, dstIp: 1, dstPort: 1 }, s('x'))).toThrow(RangeError);
  });

  it('finds exactly the most specific attached flow for any key (model check)', () => {
    const ips = [0xc6120001, 0xc6120002, 0xfffffffe];
    const key = fc.record({ p: fc.constantFrom(6, 17), si: fc.constantFrom(...ips), sp: fc.integer({ min: 0, max: 3 }), di: fc.constantFrom(...ips), dp: fc.integer({ min: 0, max: 3 }) });
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom(5, 3, 1), key), { maxLength: 30 }), fc.array(key, { minLength: 1, maxLength: 20 }), (attach, probes) => {
      const t = new FlowTable();
      const model = new Map<string, string>();
      let hit = '';
      for (const [kind, k] of attach) {
        const name = kind === 5 ? `5/${k.p}/${k.si}/${k.sp}/${k.di}/${k.dp}` : kind === 3 ? `3/${k.p}/${k.di}/${k.dp}` : `1/${k.p}/${k.dp}`;
        if (model.has(name)) continue;
        model.set(name, name);
        const sink: FlowSink = () => { hit = name; };
        if (kind === 5) t.attach5(k.p, k.si, k.sp, k.di, k.dp, sink);
        else if (kind === 3) t.attach3(k.p, k.di, k.dp, sink);
        else t.attachPort(k.p, k.dp, sink);
      }
      for (const k of probes) {
        const want = model.get(`5/${k.p}/${k.si}/${k.sp}/${k.di}/${k.dp}`) ?? model.get(`3/${k.p}/${k.di}/${k.dp}`) ?? model.get(`1/${k.p}/${k.dp}`) ?? 'none';
        hit = 'none';
        const f = frame(k.p, k.si, k.sp, k.di, k.dp);
        t.lookup(t.classify(regionOf(f), 0, f.length))?.(0, 0, NO_RING);
        if (hit !== want) return false;
      }
      return true;
    }));
  });
});
