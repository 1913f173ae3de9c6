/**
 * A decorator that records every frame a device receives and transmits into a pcap sink (gVisor
 * `link/sniffer`, smoltcp `PcapWriter`). It wraps any Device and changes nothing else: same caps,
 * same flows, same wake-up. Dummy sends are not recorded (they never reach the wire); TX frames are
 * recorded once the inner device took them, in order.
 *
 * Timestamps: a received frame's own receive time (`pool.timestampNs`, else `now`), a transmitted
 * frame's `now`, both on the poller's clock, plus `epochMs` — pass `performance.timeOrigin` to get
 * wall-clock times (the default 0 records the poller clock as is). A pcap timestamp near today's
 * wall clock in ns is above 2^53, so it is exact to a few hundred ns, not to the ns.
 *
 * The sink copies each frame (ring/pcap.ts `FrameSink`, e.g. PcapFileWriter): a capture tool, not
 * the fast path.
 */
import { BufFlag, type BufferPool } from './buffer_pool';
import type { Device, DeviceCaps, FlowSpec, RxSink } from './device';
import type { FrameSink } from './pcap';

export class PcapDevice implements Device {
  readonly caps: DeviceCaps;
  /** Frames recorded, by direction. */
  rxRecorded = 0;
  txRecorded = 0;
  private pool: BufferPool | null = null;
  private sink: RxSink | null = null;
  private readonly tap: RxSink;
  private readonly epochNs: number;
  private closed = false;

  constructor(readonly inner: Device, readonly out: FrameSink, epochMs = 0) {
    this.caps = inner.caps;
    this.epochNs = epochMs * 1e6;
    // Bound once: runs per received frame, between the inner device and the ring.
    this.tap = (id, now) => {
      const p = this.pool!;
      const off = p.start(id);
      const ts = p.timestampNs(id);
      this.out.write(p.regionFor(id).u8, off, p.end(id) - off, this.epochNs + (ts > 0 ? ts : now * 1e6));
      this.rxRecorded++;
      this.sink!(id, now);
    };
  }

  get waitFd(): number {
    return this.inner.waitFd;
  }

  get rxReady(): boolean | undefined {
    return this.inner.rxReady;
  }

  rxBurst(pool: BufferPool, max: number, now: number, sink: RxSink): number {
    this.pool = pool;
    this.sink = sink;
    return this.inner.rxBurst(pool, max, now, this.tap);
  }

  txBurst(pool: BufferPool, ids: Int32Array, count: number, now: number): number {
    const took = this.inner.txBurst(pool, ids, count, now);
    if (this.closed) return took;
    const ts = this.epochNs + now * 1e6;
    for (let i = 0; i < took; i++) {
      const id = ids[i];
      if (pool.flags(id) & BufFlag.Dummy) continue;
      const off = pool.start(id);
      this.out.write(pool.regionFor(id).u8, off, pool.end(id) - off, ts);
      this.txRecorded++;
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

  nextDue(): number {
    return this.inner.nextDue?.() ?? Infinity;
  }

  stats(): Readonly<Record<string, number>> {
    return { ...this.inner.stats(), pcapRx: this.rxRecorded, pcapTx: this.txRecorded };
  }

  /** Closes the inner device, then the sink (which flushes). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.inner.close();
    } finally {
      this.out.close();
    }
  }
}
