import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BufFlag } from './buffer_pool';
import { PcapFileWriter, walkPcap } from './pcap';
import { PcapDevice } from './pcap_device';
import { Ring } from './ring';
import { SimWire, type SimWireOptions } from './sim';

const MA = 0x0200c6120001;
const MB = 0x0200c6120002;

/**
 * Sends n numbered frames A → B, ten per millisecond, polling B every millisecond; returns the
 * sequence numbers B received in order, and when each arrived.
 */
function exchange(opts: SimWireOptions, n: number): { got: number[]; at: number[]; wire: SimWire; a: Ring; b: Ring } {
  const wire = new SimWire(opts);
  const a = new Ring(wire.attach(MA), { rxBufs: 64, txBufs: 64 });
  const b = new Ring(wire.attach(MB), { rxBufs: 2048, txBufs: 64 });
  const got: number[] = [];
  const at: number[] = [];
  b.defaultSink = (id, now) => {
    const p = b.rxPool;
    got.push(p.region.dv.getUint32(p.start(id) + 14));
    at.push(now);
    p.release(id);
  };
  for (let i = 0; i < n; i++) {
    const id = a.allocTx(0);
    const p = a.txPool;
    const s = p.start(id);
    p.region.dv.setUint32(s, Math.floor(MB / 0x10000));
    p.region.dv.setUint16(s + 4, MB % 0x10000);
    p.region.dv.setUint16(s + 12, 0x88b5); // local experimental ethertype
    p.region.dv.setUint32(s + 14, i);
    p.append(id, 60);
    const now = Math.floor(i / 10);
    a.send(id, now);
    if (i % 10 === 9) {
      a.flush(now);
      b.poll(now, 64);
    }
  }
  a.flush(n);
  for (let t = Math.floor(n / 10); t < Math.floor(n / 10) + 100; t++) b.poll(t, 100000);
  return { got, at, wire, a, b };
}

function closeAll(x: { a: Ring; b: Ring }): void {
  expect(x.a.txPool.counters.outstanding).toBe(0);
  expect(x.b.rxPool.counters.outstanding).toBe(0);
  x.a.close();
  x.b.close();
}

describe('sim wire', () => {
  it('delivers every frame in order without faults', () => {
    const x = exchange({}, 500);
    expect(x.got).toEqual([...Array(500).keys()]);
    expect(x.at).toEqual(x.got.map((seqNo) => Math.floor(seqNo / 10)));
    expect(x.a.counters.txFrames).toBe(500);
    expect(x.b.counters.rxFrames).toBe(500);
    closeAll(x);
  });

  it.each([
    ['drop', { drop: 0.1 }, 'dropped'],
    ['duplicate', { duplicate: 0.1 }, 'duplicated'],
    ['reorder', { reorder: 0.1 }, 'reordered'],
    ['corrupt', { corrupt: 0.1 }, 'corrupted'],
    ['delay', { delay: 0.1, delayMaxMs: 50 }, 'delayed'],
  ] as const)('injects %s deterministically from the seed', (_name, faults, counter) => {
    const one = exchange({ faults: { seed: 42, ...faults } }, 1000);
    const two = exchange({ faults: { seed: 42, ...faults } }, 1000);
    const other = exchange({ faults: { seed: 7, ...faults } }, 1000);
    const hits = one.wire.faults.counters[counter];
    expect(hits).toBeGreaterThan(50);
    expect(hits).toBeLessThan(150);
    expect(two.wire.faults.counters[counter]).toBe(hits);
    expect(two.got).toEqual(one.got);
    expect(two.at).toEqual(one.at);
    expect([other.got, other.at]).not.toEqual([one.got, one.at]);
    if (counter === 'dropped') expect(one.got.length).toBe(1000 - hits);
    if (counter === 'duplicated') expect(one.got.length).toBe(1000 + hits);
    if (counter === 'reordered') expect(one.got).not.toEqual([...one.got].sort((p, q) => p - q));
    if (counter === 'delayed') expect(one.at.some((t, i) => t > Math.floor(one.got[i] / 10))).toBe(true);
    for (const x of [one, two, other]) closeAll(x);
  });

  it('delivers a delayed frame only when its time comes', () => {
    const wire = new SimWire({ latencyMs: 10 });
    const a = new Ring(wire.attach(MA));
    const b = new Ring(wire.attach(MB));
    let n = 0;
    b.defaultSink = (id) => { n++; b.rxPool.release(id); };
    const id = a.allocTx(0);
    a.txPool.region.u8.fill(0xff, a.txPool.start(id), a.txPool.start(id) + 6); // broadcast
    a.txPool.append(id, 60);
    a.send(id, 0);
    a.flush(0);
    expect(b.poll(9)).toBe(0);
    expect(b.poll(10)).toBe(1);
    expect(n).toBe(1);
    a.close();
    b.close();
  });

  it('skips the wire for dummy sends and counts them', () => {
    const wire = new SimWire();
    const a = new Ring(wire.attach(MA));
    const b = new Ring(wire.attach(MB));
    const id = a.allocTx(0);
    a.txPool.region.u8.fill(0xff, a.txPool.start(id), a.txPool.start(id) + 6);
    a.txPool.append(id, 60);
    a.txPool.setFlags(id, BufFlag.Dummy);
    a.send(id, 0);
    a.flush(0);
    expect(a.counters.txDummy).toBe(1);
    expect(a.counters.txFrames).toBe(0);
    expect(b.poll(1)).toBe(0);
    a.close();
    b.close();
  });

  it('records RX and TX through the pcap decorator', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-simpcap-'));
    try {
      const wire = new SimWire();
      const file = path.join(dir, 'b.pcap');
      const a = new Ring(wire.attach(MA));
      const b = new Ring(new PcapDevice(wire.attach(MB), new PcapFileWriter(file)));
      b.defaultSink = (id) => b.rxPool.release(id);
      for (let i = 0; i < 3; i++) {
        const id = a.allocTx(0);
        a.txPool.region.u8.fill(0xff, a.txPool.start(id), a.txPool.start(id) + 6);
        a.txPool.append(id, 60 + i);
        a.send(id, i);
      }
      a.flush(3);
      b.poll(4);
      const t = b.allocTx(0);
      b.txPool.region.u8.fill(0xff, b.txPool.start(t), b.txPool.start(t) + 6);
      b.txPool.append(t, 70);
      b.send(t, 5);
      b.flush(5);
      a.close();
      b.close();
      const lens: number[] = [];
      walkPcap(new Uint8Array(fs.readFileSync(file)), (_ts, _off, cap) => lens.push(cap));
      expect(lens).toEqual([60, 61, 62, 70]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('moves 10^6 frames through sim → ring → sink with a flat heap', () => {
    const wire = new SimWire();
    const a = new Ring(wire.attach(MA), { txBufs: 256 });
    const b = new Ring(wire.attach(MB), { rxBufs: 256 });
    let got = 0;
    b.defaultSink = (id) => { got++; b.rxPool.release(id); };
    const frame = (now: number): void => {
      for (let k = 0; k < 32; k++) {
        const id = a.allocTx(0);
        const p = a.txPool;
        p.region.u8.fill(0xff, p.start(id), p.start(id) + 6);
        p.append(id, 64);
        a.send(id, now);
      }
      a.flush(now);
      b.poll(now, 64);
    };
    for (let i = 0; i < 2000; i++) frame(i); // warm up
    global.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1_000_000 / 32; i++) frame(i);
    const grown = process.memoryUsage().heapUsed - heap0;
    expect(got).toBe(2000 * 32 + Math.floor(1_000_000 / 32) * 32);
    // Per-frame allocation would be ≥ 16 MB here; allow a little for JIT and counters.
    expect(grown).toBeLessThan(4 * 1024 * 1024);
    a.close();
    b.close();
  });
});
