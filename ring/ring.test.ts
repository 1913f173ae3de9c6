import { BufFlag, type BufferPool } from './buffer_pool';
import { RING_COUNTERS, ringDrops } from './counters';
import { NO_CHECKSUM_OFFLOAD, type Device, type DeviceCaps, type FlowSpec, type RxSink } from './device';
import { Ring } from './ring';

const A = 0xc6120001; // 198.18.0.1
const B = 0xc6120002; // 198.18.0.2

/** Ethernet + IPv4 + ports; `seq` in the 4 bytes after the ports. */
function ipFrame(proto: number, src: number, sport: number, dst: number, dport: number, seq = 0): Buffer {
  const f = Buffer.alloc(14 + 20 + 8 + 4);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f[14 + 9] = proto;
  f.writeUInt32BE(src, 14 + 12);
  f.writeUInt32BE(dst, 14 + 16);
  f.writeUInt16BE(sport, 34);
  f.writeUInt16BE(dport, 36);
  f.writeUInt32BE(seq, 42);
  return f;
}

/**
 * A scripted device: `inject` queues frames for RX; TX records each burst's ids and frame
 * sequence numbers, and takes at most `txRoom` frames per call (then the test frees room).
 */
class ScriptDevice implements Device {
  readonly caps: DeviceCaps = {
    name: 'script', kind: 'sim', mtu: 1500, maxBurst: 4, mac: 0x020000000001,
    rxChecksum: NO_CHECKSUM_OFFLOAD, txChecksum: NO_CHECKSUM_OFFLOAD, hwTimestamps: false, dummySend: true, flowSteering: false,
  };
  readonly waitFd = -1;
  rxQueue: Buffer[] = [];
  txRoom = Infinity;
  bursts: number[] = [];
  wire: number[] = [];
  flows: string[] = [];
  failAttach = false;
  closed = 0;
  nextDue(): number {
    return Infinity;
  }
  inject(f: Buffer): void {
    this.rxQueue.push(f);
  }
  rxBurst(pool: BufferPool, max: number, now: number, sink: RxSink): number {
    let n = 0;
    while (n < max && this.rxQueue.length > 0) {
      const f = this.rxQueue.shift()!;
      const id = pool.allocCopy(f, 0, f.length);
      if (id < 0) continue;
      pool.setTimestampNs(id, now * 1e6);
      n++;
      sink(id, now);
    }
    return n;
  }
  txBurst(pool: BufferPool, ids: Int32Array, count: number): number {
    const took = Math.min(count, this.txRoom);
    this.txRoom -= took;
    this.bursts.push(count);
    for (let i = 0; i < took; i++) {
      if (pool.flags(ids[i]) & BufFlag.Dummy) continue;
      this.wire.push(pool.region.dv.getUint32(pool.start(ids[i])));
    }
    return took;
  }
  attachFlow(spec: FlowSpec): void {
    if (this.failAttach) throw new Error('no room for the rule');
    this.flows.push(`+${spec.kind}`);
  }
  detachFlow(spec: FlowSpec): void {
    this.flows.push(`-${spec.kind}`);
  }
  setNotify(): void {}
  stats(): Record<string, number> {
    return { custom: 7 };
  }
  close(): void {
    this.closed++;
  }
}

const rings: Ring[] = [];
function makeRing(opts: ConstructorParameters<typeof Ring>[1] = {}): { ring: Ring; dev: ScriptDevice } {
  const dev = new ScriptDevice();
  const ring = new Ring(dev, { rxBufs: 64, txBufs: 64, ...opts });
  rings.push(ring);
  return { ring, dev };
}

afterEach(() => {
  // Every test returns every buffer it took.
  for (const r of rings.splice(0)) {
    expect([r.rxPool.name, r.rxPool.counters.outstanding]).toEqual([r.rxPool.name, 0]);
    expect([r.txPool.name, r.txPool.counters.outstanding]).toEqual([r.txPool.name, 0]);
    r.close();
  }
});

/** Queues one TX frame whose first 4 bytes are `seq`. */
function sendSeq(ring: Ring, seq: number, now = 0, flags = 0): void {
  const id = ring.allocTx(16);
  const p = ring.txPool;
  p.region.dv.setUint32(p.start(id), seq);
  p.append(id, 60);
  p.setFlags(id, flags);
  ring.send(id, now);
}

describe('Ring RX: poll and demux', () => {
  it('delivers by rfs precedence: 5-tuple, 3-tuple, port, ethertype, default; counts what nobody takes', () => {
    const { ring, dev } = makeRing();
    const got: string[] = [];
    const sink = (name: string) => (id: number, now: number, r: Ring) => {
      expect(r).toBe(ring);
      const p = r.rxPool;
      got.push(`${name}@${now}:${p.length(id) >= 46 ? p.region.dv.getUint32(p.start(id) + 42) : '-'}`);
      r.rxPool.release(id);
    };
    ring.attachFlow({ kind: '5-tuple', protocol: 17, srcIp: A, srcPort: 4000, dstIp: B, dstPort: 9 }, sink('5'));
    ring.attachFlow({ kind: '3-tuple', protocol: 17, dstIp: B, dstPort: 9 }, sink('3'));
    ring.attachFlow({ kind: '3-tuple', protocol: 17, dstIp: 0, dstPort: 9 }, sink('port'));
    dev.inject(ipFrame(17, A, 4000, B, 9, 1));
    dev.inject(ipFrame(17, A, 4001, B, 9, 2));
    dev.inject(ipFrame(17, A, 4001, 0xc6120003, 9, 3));
    dev.inject(ipFrame(6, A, 4000, B, 9, 4)); // TCP: no flow, no sink at all
    expect(ring.poll(5, 16)).toBe(4);
    expect(got).toEqual(['5@5:1', '3@5:2', 'port@5:3']);
    expect(ring.counters.rxNoFlow).toBe(1);
    ring.flows.attachEthertype(0x0800, sink('ipv4'));
    ring.defaultSink = sink('default');
    dev.inject(ipFrame(6, A, 4000, B, 9, 5));
    const arp = Buffer.alloc(42);
    arp.writeUInt16BE(0x0806, 12);
    dev.inject(arp);
    dev.inject(Buffer.alloc(10)); // a runt
    ring.poll(6);
    expect(got.slice(3)).toEqual(['ipv4@6:5', 'default@6:-']);
    expect(ring.counters).toMatchObject({ rxFrames: 7, rxRunt: 1, rxNoFlow: 1, polls: 2, emptyPolls: 0 });
    expect(ring.counters.rxBytes).toBe(5 * 46 + 42 + 10);
    expect(ringDrops(ring.counters)).toBe(2);
    expect(dev.flows).toEqual(['+5-tuple', '+3-tuple', '+3-tuple']);
  });

  it('polls at most `budget` frames, in device calls of at most `burst`, and counts empty polls', () => {
    const { ring, dev } = makeRing({ burst: 4 });
    let n = 0;
    ring.defaultSink = (id, _now, r) => { n++; r.rxPool.release(id); };
    for (let i = 0; i < 10; i++) dev.inject(ipFrame(17, A, 1, B, 2));
    expect(ring.poll(0, 7)).toBe(7);
    expect(ring.poll(0, 7)).toBe(3);
    expect(ring.poll(0, 7)).toBe(0);
    expect(n).toBe(10);
    expect(ring.counters.emptyPolls).toBe(1);
  });

  it('counts frames dropped for want of RX buffers as rxNoBuffer', () => {
    const { ring, dev } = makeRing({ rxBufs: 2 });
    const held: number[] = [];
    ring.defaultSink = (id) => { held.push(id); };
    for (let i = 0; i < 5; i++) dev.inject(ipFrame(17, A, 1, B, 2));
    ring.poll(0, 16);
    expect(held.length).toBe(2);
    expect(ring.counters.rxNoBuffer).toBe(3);
    expect(ring.stats().rxBuffersOutstanding).toBe(2);
    for (const id of held) ring.rxPool.release(id);
  });

  it('attaches and detaches flows on table and device together; a device refusal leaves no flow behind', () => {
    const { ring, dev } = makeRing();
    const spec = { kind: '3-tuple', protocol: 17, dstIp: B, dstPort: 9 } as const;
    ring.attachFlow(spec, (id, _n, r) => r.rxPool.release(id));
    expect(() => ring.attachFlow(spec, () => undefined)).toThrow(/already attached/);
    expect(ring.detachFlow(spec)).toBe(true);
    expect(ring.detachFlow(spec)).toBe(false);
    dev.failAttach = true;
    expect(() => ring.attachFlow(spec, () => undefined)).toThrow(/no room/);
    expect(ring.flows.size).toBe(0);
    dev.failAttach = false;
    ring.attachFlow({ kind: 'multicast-mac', mac: 0x01005e000001 }, () => undefined);
    expect(dev.flows).toEqual(['+3-tuple', '-3-tuple', '+multicast-mac']);
  });
});

describe('Ring TX: batching and device back-pressure', () => {
  it('posts a full burst at once, the rest on flush, and poll flushes too', () => {
    const { ring, dev } = makeRing({ burst: 4 });
    for (let i = 0; i < 6; i++) sendSeq(ring, i);
    expect(dev.bursts).toEqual([4]);
    expect(ring.txPending).toBe(2);
    expect(ring.pollAt(3)).toBe(3);
    ring.poll(3);
    expect(dev.bursts).toEqual([4, 2]);
    expect(ring.pollAt(3)).toBe(Infinity);
    expect(dev.wire).toEqual([0, 1, 2, 3, 4, 5]);
    expect(ring.counters).toMatchObject({ txFrames: 6, txBytes: 6 * 60, txBursts: 2 });
  });

  it('keeps order when the device takes fewer than offered, and retries', () => {
    const { ring, dev } = makeRing({ burst: 4 });
    dev.txRoom = 3;
    for (let i = 0; i < 10; i++) sendSeq(ring, i); // burst of 4 posted at the 4th send: 3 taken
    expect(dev.wire).toEqual([0, 1, 2]);
    expect(ring.counters.txDeviceFull).toBeGreaterThanOrEqual(1);
    expect(ring.txPending).toBe(7);
    expect(ring.flush(1)).toBe(0); // still full
    dev.txRoom = 5;
    expect(ring.flush(2)).toBe(5);
    expect(ring.txPending).toBe(2);
    dev.txRoom = Infinity;
    expect(ring.flush(3)).toBe(2);
    expect(dev.wire).toEqual([...Array(10).keys()]);
    expect(ring.counters.txFrames).toBe(10);
    // Every burst the device saw started at the oldest frame still queued.
    expect(dev.bursts.every((n) => n >= 1 && n <= 4)).toBe(true);
  });

  it('drops (counted) when the queue stays full, and counts pool exhaustion', () => {
    const { ring, dev } = makeRing({ burst: 4, txQueue: 8, txBufs: 12 });
    dev.txRoom = 0;
    for (let i = 0; i < 10; i++) sendSeq(ring, i);
    expect(ring.txPending).toBe(8);
    expect(ring.counters.txQueueFull).toBe(2);
    expect(ring.txPool.counters.outstanding).toBe(8);
    const extra = [0, 1, 2, 3].map(() => ring.allocTx());
    expect(extra.every((id) => id >= 0)).toBe(true);
    expect(ring.allocTx()).toBe(-1);
    expect(ring.counters.txNoBuffer).toBe(1);
    for (const id of extra) ring.txPool.release(id);
    dev.txRoom = Infinity;
    ring.flush(1);
    expect(dev.wire).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(ringDrops(ring.counters)).toBe(3);
  });

  it('counts dummy sends apart and never puts them on the wire', () => {
    const { ring, dev } = makeRing({ burst: 4 });
    sendSeq(ring, 1);
    sendSeq(ring, 2, 0, BufFlag.Dummy);
    sendSeq(ring, 3);
    ring.flush(0);
    expect(dev.wire).toEqual([1, 3]);
    expect(ring.counters).toMatchObject({ txFrames: 2, txDummy: 1, txBytes: 120 });
  });

  it('releases queued frames on close, counts sends after it, and closes the device once', () => {
    const dev = new ScriptDevice();
    const ring = new Ring(dev, { rxBufs: 8, txBufs: 8, burst: 4 });
    sendSeq(ring, 1);
    sendSeq(ring, 2);
    ring.close();
    ring.close();
    expect(dev.closed).toBe(1);
    expect(ring.txPool.counters.outstanding).toBe(0);
    sendSeq(ring, 3);
    expect(ring.counters.txClosed).toBe(1);
    expect(ring.txPool.counters.outstanding).toBe(0);
    expect(ring.poll(0)).toBe(0);
    expect(dev.wire).toEqual([]);
  });
});

describe('Ring stats', () => {
  it('lists every ring counter, pool and device counters in one flat table', () => {
    const { ring } = makeRing();
    const s = ring.stats();
    for (const k of Object.keys(RING_COUNTERS)) expect(s[k]).toBe(0);
    expect(Object.keys(ring.counters).sort()).toEqual(Object.keys(RING_COUNTERS).sort());
    expect(s).toMatchObject({ rxBuffersOutstanding: 0, txBuffersOutstanding: 0, txPending: 0, 'device.custom': 7 });
  });
});
