import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BufFlag } from './buffer_pool';
import { FaultInjector } from './fault';
import { PcapFileWriter, readPcapHeader, walkPcap } from './pcap';
import { PcapDevice } from './pcap_device';
import { Ring } from './ring';
import { SimWire, type SimWireOptions } from './sim';

const MA = 0x0200c6120001;
const MB = 0x0200c6120002;
const MC = 0x0200c6120003;
const BCAST = 0xffffffffffff;
const MCAST = 0x01005e000001;

const rings: Ring[] = [];
function ring(wire: SimWire, mac: number, opts: ConstructorParameters<typeof Ring>[1] = {}, mtu?: number): Ring {
  const r = new Ring(wire.attach(mac, { mtu }), { rxBufs: 256, txBufs: 256, ...opts });
  rings.push(r);
  return r;
}

afterEach(() => {
  // Every buffer of every ring a test made is back in its pool.
  for (const r of rings.splice(0)) {
    expect([r.device.caps.name, r.rxPool.counters.outstanding, r.txPool.counters.outstanding]).toEqual([r.device.caps.name, 0, 0]);
    r.close();
  }
});

/** Queues one frame to `dst` carrying `seq` right after the Ethernet header. */
function sendTo(r: Ring, dst: number, seq: number, now: number, len = 60, flags = 0): void {
  const id = r.allocTx(0);
  const p = r.txPool;
  const s = p.start(id);
  p.buf.fill(0, s, s + len);
  p.buf.writeUIntBE(dst, s, 6);
  p.buf.writeUIntBE(r.device.caps.mac, s + 6, 6);
  p.buf.writeUInt16BE(0x88b5, s + 12); // local experimental ethertype
  p.buf.writeUInt32BE(seq, s + 14);
  p.append(id, len);
  p.setFlags(id, flags);
  r.send(id, now);
}

/** A sink recording (seq, now) and releasing. */
function recorder(r: Ring): { seqs: number[]; at: number[] } {
  const out = { seqs: [] as number[], at: [] as number[] };
  r.defaultSink = (id, now) => {
    const p = r.rxPool;
    out.seqs.push(p.region.dv.getUint32(p.start(id) + 14));
    out.at.push(now);
    p.release(id);
  };
  return out;
}

/**
 * Sends n numbered frames A → B, ten per millisecond, polling B every millisecond, then drains;
 * returns the sequence numbers B received in order and when each arrived.
 */
function exchange(opts: SimWireOptions, n: number) {
  const wire = new SimWire(opts);
  const a = ring(wire, MA);
  const b = ring(wire, MB, { rxBufs: 2048 });
  const got = recorder(b);
  for (let i = 0; i < n; i++) {
    const now = Math.floor(i / 10);
    sendTo(a, MB, i, now);
    if (i % 10 === 9) {
      a.flush(now);
      b.poll(now, 64);
    }
  }
  a.flush(n / 10);
  for (let t = Math.floor(n / 10); t < Math.floor(n / 10) + 100; t++) b.poll(t, 100000);
  expect(wire.inFlight).toBe(0);
  return { ...got, wire, a, b, corrupted: 0 };
}

describe('sim wire', () => {
  it('delivers every frame in order, at the time it was sent, without faults', () => {
    const x = exchange({}, 500);
    expect(x.seqs).toEqual([...Array(500).keys()]);
    expect(x.at).toEqual(x.seqs.map((s) => Math.floor(s / 10)));
    expect(x.a.counters.txFrames).toBe(500);
    expect(x.b.counters.rxFrames).toBe(500);
    expect(x.b.rxPool.timestampNs(0)).toBeGreaterThan(0);
  });

  it('switches: unicast to the MAC owner only, broadcast to all others, multicast to members only', () => {
    const wire = new SimWire();
    const a = ring(wire, MA);
    const b = ring(wire, MB);
    const c = ring(wire, MC);
    const [ga, gb, gc] = [recorder(a), recorder(b), recorder(c)];
    sendTo(a, MB, 1, 0);
    sendTo(a, BCAST, 2, 0);
    sendTo(a, MCAST, 3, 0); // nobody joined yet
    a.flush(0);
    c.attachFlow({ kind: 'multicast-mac', mac: MCAST }, () => undefined);
    sendTo(a, MCAST, 4, 0);
    sendTo(a, 0x0200c6120063, 5, 0); // no such station
    a.flush(0);
    for (const r of [a, b, c]) r.poll(0);
    expect([ga.seqs, gb.seqs, gc.seqs]).toEqual([[], [1, 2], [2, 4]]);
    c.detachFlow({ kind: 'multicast-mac', mac: MCAST });
    sendTo(a, MCAST, 6, 1);
    a.flush(1);
    c.poll(1);
    expect(gc.seqs).toEqual([2, 4]);
  });

  it('delivers a delayed frame only when its time comes, and says when that is', () => {
    const wire = new SimWire({ latencyMs: 10 });
    const a = ring(wire, MA);
    const b = ring(wire, MB);
    const got = recorder(b);
    expect(b.pollAt(0)).toBe(Infinity);
    sendTo(a, BCAST, 1, 0);
    a.flush(0);
    expect(b.device.nextDue!()).toBe(10);
    expect(b.pollAt(3)).toBe(10);
    expect(b.poll(9)).toBe(0);
    expect(b.poll(10)).toBe(1);
    expect(got.at).toEqual([10]);
    expect(b.pollAt(10)).toBe(Infinity);
  });

  it('notifies a waiting poller when a frame arrives', () => {
    const wire = new SimWire();
    const a = ring(wire, MA);
    const b = ring(wire, MB);
    recorder(b);
    let woken = 0;
    expect(b.device.waitFd).toBe(-1);
    b.device.setNotify(() => { woken++; });
    sendTo(a, MB, 1, 0);
    a.flush(0);
    expect(woken).toBe(1);
    b.device.setNotify(null);
    sendTo(a, MB, 2, 0);
    a.flush(0);
    expect(woken).toBe(1);
    expect(b.poll(0)).toBe(2);
  });

  it('skips the wire for dummy sends and counts them', () => {
    const wire = new SimWire();
    const a = ring(wire, MA);
    const b = ring(wire, MB);
    sendTo(a, BCAST, 1, 0, 60, BufFlag.Dummy);
    a.flush(0);
    expect(a.counters.txDummy).toBe(1);
    expect(a.counters.txFrames).toBe(0);
    expect(a.device.stats()).toMatchObject({ txDummy: 1, txFrames: 0 });
    expect(b.poll(1)).toBe(0);
  });

  it('refuses frames longer than the MTU allows and runts, counted by the device', () => {
    const wire = new SimWire();
    const a = ring(wire, MA, {}, 100);
    const b = ring(wire, MB);
    const got = recorder(b);
    sendTo(a, MB, 1, 0, 118); // 100 + Ethernet header + VLAN tag: fits
    sendTo(a, MB, 2, 0, 119);
    const id = a.allocTx(0);
    a.txPool.append(id, 10);
    a.send(id, 0);
    a.flush(0);
    b.poll(0);
    expect(got.seqs).toEqual([1]);
    expect(a.device.stats()).toMatchObject({ txTooLong: 1, txRunt: 1, txFrames: 1 });
  });

  it('counts frames lost to a full inbound queue, a full wire and an empty RX pool', () => {
    const wire = new SimWire({ capacity: 6 });
    const a = ring(wire, MA);
    const b = new Ring(wire.attach(MB, { queue: 4 }), { rxBufs: 2, txBufs: 2 });
    rings.push(b);
    const held: number[] = [];
    b.defaultSink = (id) => { held.push(id); };
    const c = ring(wire, MC);
    recorder(c);
    for (let i = 0; i < 5; i++) sendTo(a, MB, i, 0);
    a.flush(0);
    expect((b.device.stats() as Record<string, number>).queueDrops).toBe(1);
    for (let i = 0; i < 4; i++) sendTo(a, MC, i, 0);
    a.flush(0);
    expect(wire.overflows).toBe(2);
    b.poll(0, 10);
    expect(held.length).toBe(2);
    expect(b.counters.rxNoBuffer).toBe(2);
    expect((b.device.stats() as Record<string, number>).rxNoBuffer).toBe(2);
    for (const id of held) b.rxPool.release(id);
    c.poll(0);
  });

  it('reorders through delay: a frame delayed longer is overtaken by later ones', () => {
    const x = exchange({ faults: { seed: 3, delay: 0.05, delayMaxMs: 5 } }, 1000);
    expect(x.wire.faults.counters.delayed).toBeGreaterThan(20);
    expect(x.seqs.length).toBe(1000);
    expect(x.seqs).not.toEqual([...x.seqs].sort((p, q) => p - q));
    expect([...x.seqs].sort((p, q) => p - q)).toEqual([...Array(1000).keys()]);
    // Nothing arrives before it was sent, or later than sent + the largest delay (+ the poll step).
    for (let i = 0; i < x.seqs.length; i++) {
      const sent = Math.floor(x.seqs[i] / 10);
      expect(x.at[i]).toBeGreaterThanOrEqual(sent);
      expect(x.at[i]).toBeLessThanOrEqual(sent + 6);
    }
  });

  it.each([
    ['drop', { drop: 0.1 }, 'dropped'],
    ['duplicate', { duplicate: 0.1 }, 'duplicated'],
    ['reorder', { reorder: 0.1 }, 'reordered'],
    ['corrupt', { corrupt: 0.1 }, 'corrupted'],
    ['delay', { delay: 0.1, delayMaxMs: 50 }, 'delayed'],
  ] as const)('injects %s deterministically from the seed', (name, faults, counter) => {
    const one = exchange({ faults: { seed: 42, ...faults } }, 1000);
    const two = exchange({ faults: { seed: 42, ...faults } }, 1000);
    const other = exchange({ faults: { seed: 7, ...faults } }, 1000);
    const hits = one.wire.faults.counters[counter];
    expect(hits).toBeGreaterThan(50);
    expect(hits).toBeLessThan(150);
    expect(two.wire.faults.counters).toEqual(one.wire.faults.counters);
    expect([two.seqs, two.at]).toEqual([one.seqs, one.at]);
    expect([other.seqs, other.at]).not.toEqual([one.seqs, one.at]);
    const inOrder = [...Array(1000).keys()];
    if (name === 'drop') {
      expect(one.seqs.length).toBe(1000 - hits);
      expect(one.seqs).toEqual([...one.seqs].sort((p, q) => p - q));
    }
    if (name === 'duplicate') {
      expect(one.seqs.length).toBe(1000 + hits);
      expect([...new Set(one.seqs)]).toEqual(inOrder);
    }
    if (name === 'reorder') {
      expect(one.seqs).not.toEqual(inOrder);
      expect([...one.seqs].sort((p, q) => p - q)).toEqual(inOrder);
      // Each reordering moves a frame one place ahead (a run of them can carry one frame further back).
      let inversions = 0;
      for (let i = 1; i < one.seqs.length; i++) if (one.seqs[i] < one.seqs[i - 1]) inversions++;
      expect(inversions).toBeGreaterThan(hits / 2);
      expect(inversions).toBeLessThanOrEqual(hits);
      for (let i = 0; i < one.seqs.length; i++) expect(Math.abs(one.seqs[i] - i)).toBeLessThanOrEqual(10);
    }
    if (name === 'corrupt') {
      // One flipped bit per corrupted frame: in the sequence number or in the zero padding.
      expect(one.seqs.length).toBe(1000);
      const wrong = one.seqs.filter((s, i) => s !== i).length;
      expect(wrong).toBeGreaterThan(0);
      expect(wrong).toBeLessThanOrEqual(hits);
      for (const s of one.seqs.filter((v, i) => v !== i)) expect(s).toBeGreaterThanOrEqual(0);
    }
    if (name === 'delay') {
      expect(one.at.some((t, i) => t > Math.floor(one.seqs[i] / 10))).toBe(true);
      expect([...one.seqs].sort((p, q) => p - q)).toEqual(inOrder);
    }
  });

  it('draws the same numbers from the same seed, and none for faults that are off', () => {
    const f = new FaultInjector({ seed: 99, drop: 0.5 });
    const g = new FaultInjector({ seed: 99, drop: 0.5, corrupt: 0 });
    const buf = Buffer.alloc(4);
    const seqF = Array.from({ length: 50 }, () => f.drop());
    const seqG = Array.from({ length: 50 }, () => { g.corrupt(buf, 0, 4); g.duplicate(); return g.drop(); });
    expect(seqG).toEqual(seqF);
    expect(buf.equals(Buffer.alloc(4))).toBe(true);
    expect(() => new FaultInjector({ drop: 1.5 })).toThrow(RangeError);
    expect(() => new FaultInjector({ delay: 0.1, delayMaxMs: 0 })).toThrow(RangeError);
  });

  it('records RX and TX through the pcap decorator into a file that reads back', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-simpcap-'));
    try {
      const wire = new SimWire({ latencyMs: 2 });
      const file = path.join(dir, 'b.pcap');
      const a = ring(wire, MA);
      const dev = new PcapDevice(wire.attach(MB), new PcapFileWriter(file), 1_000_000);
      const b = new Ring(dev, { rxBufs: 16, txBufs: 16 });
      rings.push(b);
      recorder(b);
      for (let i = 0; i < 3; i++) {
        sendTo(a, MB, i, i, 60 + i);
        a.flush(i);
      }
      b.poll(4);
      sendTo(b, MA, 9, 5, 70);
      sendTo(b, MA, 10, 5, 80, BufFlag.Dummy); // never on the wire: not recorded
      b.flush(5);
      expect(dev.stats()).toMatchObject({ pcapRx: 3, pcapTx: 1 });
      b.close();
      const data = new Uint8Array(fs.readFileSync(file));
      expect(readPcapHeader(data)).toMatchObject({ linktype: 1 });
      const recs: [bigint, number, number][] = [];
      walkPcap(data, (ts, off, cap) => recs.push([ts, cap, Buffer.from(data.buffer, data.byteOffset).readUInt32BE(off + 14)]));
      // RX stamped with its receive time (sent at 0, 1, 2 with 2 ms latency, all received by the poll at 4), TX with `now`.
      expect(recs.map(([, cap, seq]) => [cap, seq])).toEqual([[60, 0], [61, 1], [62, 2], [70, 9]]);
      expect(recs.map(([ts]) => Number(ts - 1_000_000_000_000n) / 1e6)).toEqual([4, 4, 4, 5]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
