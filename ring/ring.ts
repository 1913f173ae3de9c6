/**
 * A Ring: one Device plus an RX and a TX buffer pool, RX polling in bounded bursts with demux to
 * flows (ring/flow.ts), TX batching, and counters. Time is passed in (`now`, ms); the ring reads no
 * clock and sets no timer — the poller (ring/poller.ts) drives it.
 */
import { BufferPool } from './buffer_pool';
import type { Device, RxSink } from './device';
import { FlowTable } from './flow';

export interface RingOptions {
  /** RX buffers (VMA_RX_WRE-like). */
  rxBufs?: number;
  /** TX buffers. */
  txBufs?: number;
  /** Bytes per buffer (MTU + Ethernet header + headroom fit). */
  bufSize?: number;
  /** Frames per device call (VMA_CQ_POLL_BATCH_MAX). */
  burst?: number;
}

export interface RingCounters {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  txDummy: number;
  /** Frames no flow and no default sink wanted. */
  rxNoFlow: number;
  /** Frames too short to hold an Ethernet header. */
  rxRunt: number;
  /** TX buffer requests the pool could not meet. */
  txNoBuffer: number;
  /** Times the device took fewer frames than offered (the rest stayed queued). */
  txDeviceBusy: number;
  /** Frames dropped because the TX queue was full even after a flush. */
  txQueueFull: number;
  /** Poll calls, and polls that found no frame. */
  polls: number;
  emptyPolls: number;
}

let nextRingId = 1;

export class Ring {
  readonly id = nextRingId++;
  readonly rxPool: BufferPool;
  readonly txPool: BufferPool;
  readonly flows = new FlowTable();
  readonly burst: number;
  readonly counters: RingCounters = {
    rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, txDummy: 0, rxNoFlow: 0, rxRunt: 0,
    txNoBuffer: 0, txDeviceBusy: 0, txQueueFull: 0, polls: 0, emptyPolls: 0,
  };
  /** Where frames no flow claims go (the stack's ARP/ICMP/closed-port handling). */
  defaultSink: RxSink | null = null;
  private readonly txQueue: Int32Array;
  private txCount = 0;
  private closed = false;
  private readonly dispatch: RxSink;

  constructor(readonly device: Device, opts: RingOptions = {}) {
    const bufSize = opts.bufSize ?? 2048;
    this.burst = Math.max(1, Math.min(opts.burst ?? device.caps.maxBurst, 1024));
    this.rxPool = new BufferPool(`${device.caps.name}.rx`, opts.rxBufs ?? 4096, bufSize);
    this.txPool = new BufferPool(`${device.caps.name}.tx`, opts.txBufs ?? 4096, bufSize);
    this.txQueue = new Int32Array(Math.max(this.burst * 4, 256));
    const pool = this.rxPool;
    const flows = this.flows;
    const c = this.counters;
    // Bound once: called per received frame.
    this.dispatch = (id: number, now: number): void => {
      const off = pool.start(id);
      const len = pool.end(id) - off;
      c.rxFrames++;
      c.rxBytes += len;
      const cls = flows.classify(pool.region, off, len);
      if (cls === 2 /* Runt */) {
        c.rxRunt++;
        pool.release(id);
        return;
      }
      const sink = flows.lookup(cls) ?? this.defaultSink;
      if (sink === null) {
        c.rxNoFlow++;
        pool.release(id);
        return;
      }
      sink(id, now);
    };
  }

  /** Receives and dispatches up to `budget` frames; flushes pending TX. Returns frames received. */
  poll(now: number, budget = this.burst): number {
    if (this.closed) return 0;
    const c = this.counters;
    c.polls++;
    let got = 0;
    while (got < budget) {
      const n = this.device.rxBurst(this.rxPool, Math.min(this.burst, budget - got), now, this.dispatch);
      got += n;
      if (n === 0) break;
    }
    if (got === 0) c.emptyPolls++;
    if (this.txCount > 0) this.flush(now);
    return got;
  }

  /** A TX buffer with `headroom` bytes free in front, or -1 (counted) when the pool is empty. */
  allocTx(headroom = 128): number {
    const id = this.txPool.alloc(headroom);
    if (id < 0) this.counters.txNoBuffer++;
    return id;
  }

  /** Queues a filled TX buffer (the ring takes over the caller's reference). Flushes when the queue is full. */
  send(id: number, now: number): void {
    if (this.txCount === this.txQueue.length) {
      this.flush(now);
      if (this.txCount === this.txQueue.length) {
        this.counters.txQueueFull++;
        this.txPool.release(id);
        return;
      }
    }
    this.txQueue[this.txCount++] = id;
    if (this.txCount >= this.burst) this.flush(now);
  }

  get txPending(): number {
    return this.txCount;
  }

  /** Posts queued TX buffers to the device in bursts, in order. Returns how many the device took. */
  flush(now: number): number {
    const pool = this.txPool;
    const c = this.counters;
    let sent = 0;
    while (sent < this.txCount) {
      const n = Math.min(this.burst, this.txCount - sent);
      const q = sent === 0 ? this.txQueue : this.txQueue.subarray(sent, sent + n);
      const took = this.device.txBurst(pool, q, n, now);
      for (let i = 0; i < took; i++) {
        const id = this.txQueue[sent + i];
        if (pool.flags(id) & 1 /* Dummy */) c.txDummy++;
        else {
          c.txFrames++;
          c.txBytes += pool.length(id);
        }
        pool.release(id);
      }
      sent += took;
      if (took < n) {
        c.txDeviceBusy++;
        break;
      }
    }
    if (sent > 0) {
      this.txQueue.copyWithin(0, sent, this.txCount);
      this.txCount -= sent;
    }
    return sent;
  }

  /** Counters of the ring, its pools and its device, for stats. */
  stats(): Record<string, number> {
    return {
      ...this.counters,
      rxBuffersOutstanding: this.rxPool.counters.outstanding,
      txBuffersOutstanding: this.txPool.counters.outstanding,
      rxAllocFailures: this.rxPool.counters.allocFailures,
      ...Object.fromEntries(Object.entries(this.device.stats()).map(([k, v]) => [`device.${k}`, v])),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (let i = 0; i < this.txCount; i++) this.txPool.release(this.txQueue[i]);
    this.txCount = 0;
    this.device.close();
  }
}
