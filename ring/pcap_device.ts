/**
 * A decorator that records every frame a device receives and transmits into a pcap sink
 * (gVisor `link/sniffer`, smoltcp `PcapWriter`). Works over any Device; dummy sends are not recorded
 * (they never reach the wire).
 */
import { BufFlag, type BufferPool } from './buffer_pool';
import type { Device, DeviceCaps, FlowSpec, RxSink } from './device';
import type { FrameSink } from './pcap';

export class PcapDevice implements Device {
  readonly caps: DeviceCaps;
  private pool: BufferPool | null = null;
  private sink: RxSink | null = null;
  private readonly tap: RxSink;
  /** Time base: pcap wants wall-clock ns; `now` is the poller's monotonic ms. */
  private readonly epochNs: number;

  constructor(readonly inner: Device, readonly out: FrameSink, epochMs = Date.now()) {
    this.caps = inner.caps;
    this.epochNs = epochMs * 1e6;
    this.tap = (id, now) => {
      const p = this.pool!;
      const off = p.start(id);
      this.out.write(p.region.u8, off, p.end(id) - off, this.epochNs + now * 1e6);
      this.sink!(id, now);
    };
  }

  get waitFd(): number {
    return this.inner.waitFd;
  }

  rxBurst(pool: BufferPool, max: number, now: number, sink: RxSink): number {
    this.pool = pool;
    this.sink = sink;
    return this.inner.rxBurst(pool, max, now, this.tap);
  }

  txBurst(pool: BufferPool, ids: Int32Array, count: number, now: number): number {
    const took = this.inner.txBurst(pool, ids, count, now);
    for (let i = 0; i < took; i++) {
      const id = ids[i];
      if (pool.flags(id) & BufFlag.Dummy) continue;
      const off = pool.start(id);
      this.out.write(pool.region.u8, off, pool.end(id) - off, this.epochNs + now * 1e6);
    }
    return took;
  }

  attachFlow(spec: FlowSpec): void {
    this.inner.attachFlow(spec);
  }

  detachFlow(spec: FlowSpec): void {
    this.inner.detachFlow(spec);
  }

  setNotify(cb: (() => void) | null): void {
    this.inner.setNotify(cb);
  }

  stats(): Readonly<Record<string, number>> {
    return this.inner.stats();
  }

  close(): void {
    this.inner.close();
    this.out.close();
  }
}
