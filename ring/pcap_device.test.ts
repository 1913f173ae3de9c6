import { BufFlag, BufferPool } from './buffer_pool';
import { NO_CHECKSUM_OFFLOAD, type Device, type RxSink } from './device';
import type { FrameSink } from './pcap';
import { PcapDevice } from './pcap_device';

/** Records what the decorator writes: first byte of each frame, its length and timestamp. */
class MemSink implements FrameSink {
  recs: [number, number, number][] = [];
  closed = 0;
  write(frame: Uint8Array, off: number, len: number, tsNs: number | bigint): void {
    this.recs.push([frame[off], len, Number(tsNs)]);
  }
  close(): void {
    this.closed++;
  }
}

/** A device that receives two frames (one hardware-stamped) and takes at most `room` TX frames. */
function innerDevice(room: number): Device & { closed: number } {
  const frames = [Buffer.alloc(60, 1), Buffer.alloc(70, 2)];
  return {
    caps: { name: 'inner', kind: 'sim', mtu: 1500, maxBurst: 8, mac: 0x020000000009, rxChecksum: NO_CHECKSUM_OFFLOAD, txChecksum: NO_CHECKSUM_OFFLOAD, hwTimestamps: true, dummySend: true, flowSteering: false },
    waitFd: 17,
    rxReady: true,
    closed: 0,
    nextDue: () => 42,
    rxBurst(pool: BufferPool, max: number, now: number, sink: RxSink): number {
      let n = 0;
      while (n < max && frames.length > 0) {
        const f = frames.shift()!;
        const id = pool.allocCopy(f, 0, f.length);
        if (f[0] === 1) pool.setTimestampNs(id, 123_456); // a hardware stamp; the other keeps 0
        n++;
        sink(id, now);
      }
      return n;
    },
    txBurst: (_pool, _ids, count) => Math.min(count, room),
    attachFlow: () => undefined,
    detachFlow: () => undefined,
    setNotify: () => undefined,
    stats: () => ({ inner: 1 }),
    close() { this.closed++; },
  };
}

describe('PcapDevice', () => {
  it('records RX with the frame’s own timestamp, TX only as taken and never dummies; passes the rest through', () => {
    const out = new MemSink();
    const inner = innerDevice(2);
    const dev = new PcapDevice(inner, out, 1000);
    expect([dev.waitFd, dev.rxReady, dev.nextDue(), dev.caps]).toEqual([17, true, 42, inner.caps]);
    const pool = new BufferPool('p', 8, 128);
    const got: number[] = [];
    expect(dev.rxBurst(pool, 8, 5, (id) => { got.push(pool.length(id)); pool.release(id); })).toBe(2);
    expect(got).toEqual([60, 70]);
    const ids = new Int32Array(3);
    for (let i = 0; i < 3; i++) {
      ids[i] = pool.alloc();
      pool.region.u8[pool.start(ids[i])] = 7 + i;
      pool.append(ids[i], 64);
    }
    pool.setFlags(ids[0], BufFlag.Dummy);
    expect(dev.txBurst(pool, ids, 3, 6)).toBe(2); // the inner device took 2 of 3
    for (const id of ids) pool.release(id);
    expect(out.recs).toEqual([[1, 60, 1e9 + 123_456], [2, 70, 1e9 + 5e6], [8, 64, 1e9 + 6e6]]);
    expect(dev.stats()).toEqual({ inner: 1, pcapRx: 2, pcapTx: 1 });
    dev.close();
    dev.close();
    expect([inner.closed, out.closed]).toEqual([1, 1]);
    expect(pool.counters.outstanding).toBe(0);
  });
});
