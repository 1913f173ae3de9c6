import { regionOf } from './buffer_pool';
import { FlowTable, FrameClass } from './flow';

/** Ethernet + IPv4 + 4 bytes of ports, enough for the classifier. */
function frame(proto: number, src: number, sport: number, dst: number, dport: number, fragOffset = 0, vlan = false): Uint8Array {
  const f = new Uint8Array((vlan ? 18 : 14) + 24);
  const dv = new DataView(f.buffer);
  let l3 = 14;
  if (vlan) {
    dv.setUint16(12, 0x8100);
    dv.setUint16(14, 5);
    dv.setUint16(16, 0x0800);
    l3 = 18;
  } else dv.setUint16(12, 0x0800);
  dv.setUint8(l3, 0x45);
  dv.setUint16(l3 + 6, fragOffset);
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
  const sink = (name: string) => () => { hits.push(name); };
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
    if (s) s(0, 0);
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

  it('reads past one VLAN tag and sends non-first fragments and other ethertypes aside', () => {
    expect(deliver(frame(17, A, 4000, B, 9, 0, true))).toBe('5-tuple');
    expect(deliver(frame(17, A, 4000, B, 9, 100))).toBe('default');
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
      big.lookup(big.classify(regionOf(f), 0, f.length))!(0, 0);
    }
    expect(found).toBe(10000);
    expect(big.size).toBe(10000);
  });
});
