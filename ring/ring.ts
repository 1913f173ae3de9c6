/**
 * A Ring: one Device plus an RX and a TX buffer pool, RX polling in bounded bursts with demux to
 * flows (ring/flow.ts, VMA's rfs), TX batching, and counters (ring/counters.ts).
 *
 * RX: `poll(now, budget)` takes up to `budget` frames from the device, `burst` at a time; each is
 * classified by its headers and handed, with its one reference, to the sink of the best-matching
 * flow, else to `defaultSink`, else released and counted (`rxNoFlow`). The ring knows no protocol:
 * the stack registers the sinks.
 * TX: `allocTx` gives a buffer with headroom, `send` queues it (the ring takes the caller's
 * reference), and the queue goes to the device in bursts of `burst` frames — as soon as a burst is
 * full, on `flush`, and at the end of every `poll`. Frames the device cannot take stay queued in
 * order and go first next time; when the queue itself is full a send drops (counted).
 *
 * Time is passed in (`now`, ms, monotonic): the ring reads no clock and sets no timer; the poller
 * (ring/poller.ts) drives it and asks `pollAt`/`txPending` whether work is waiting. Nothing here
 * allocates per frame.
 */
import { BufferPool, BufFlag, regionOf, type Region } from './buffer_pool';
import { newRingCounters, addPrefixed, type RingCounters } from './counters';
import type { Device, FlowSpec, RxSink } from './device';
import { FlowTable, FrameClass, type FlowSink } from './flow';

export type { RingCounters } from './counters';

export interface RingOptions {
  /** RX buffers (VMA_RX_WRE-like). Default 4096 (1024 when RX buffers are sized for coalesced frames: 64 MiB, touched only as used). */
  rxBufs?: number;
  /** TX buffers. Default 4096 (1024 when TX buffers are TSO-sized: 64 MiB, touched only as used). */
  txBufs?: number;
  /** Bytes per buffer (MTU + Ethernet header + VLAN tag + headroom fit). Default 2048. */
  bufSize?: number;
  /**
   * Bytes per RX buffer. Default `bufSize`, or, on a device that hands up coalesced frames
   * (`caps.rxFrameMax`), enough for the largest of them with headroom.
   */
  rxBufSize?: number;
  /**
   * Bytes per TX buffer. Default `bufSize`, or, on a device with TCP segmentation offload
   * (`caps.tsoMax`), enough for a `tsoMax` packet with its Ethernet header and headroom.
   */
  txBufSize?: number;
  /** Frames per device call (VMA_CQ_POLL_BATCH_MAX). Default: the device's maxBurst (at most 1024). */
  burst?: number;
  /** Frames the TX queue holds before a send drops. Default max(4 × burst, 256). */
  txQueue?: number;
  /**
   * The application's allocator for pool memory (VMA's CMSG_VMA_IOCTL_USER_ALLOC): `rx`/`tx` give
   * a pool's bytes (at least the size asked for), `free` gets them back when the ring closes.
   */
  alloc?: { rx?: (bytes: number) => Uint8Array; tx?: (bytes: number) => Uint8Array; free?: (mem: Uint8Array) => void };
}

/** A pool region from the application's allocator, checked for size. */
function userRegion(alloc: ((bytes: number) => Uint8Array) | undefined, bytes: number, what: string): Region | undefined {
  if (!alloc) return undefined;
  const u8 = alloc(bytes);
  if (!(u8 instanceof Uint8Array) || u8.byteLength < bytes) throw new RangeError(`Ring: the user allocator gave ${what} ${u8 instanceof Uint8Array ? u8.byteLength : typeof u8} bytes, ${bytes} needed`);
  return regionOf(u8);
}

let nextRingId = 1;

/** A buffer for a `tso`-byte packet: it, an Ethernet header with a VLAN tag and headroom, in a 64-byte multiple (65792 for 64 KiB). */
const tsoTxBufSize = (tso: number): number => (tso + 256 + 63) & ~63;

export class Ring {
  /** Small process-unique id (VMA's ring fd role in stats and the extra API). */
  readonly id = nextRingId++;
  readonly rxPool: BufferPool;
  readonly txPool: BufferPool;
  readonly flows = new FlowTable();
  readonly burst: number;
  readonly counters: RingCounters = newRingCounters();
  /** Where frames no flow claims go (the stack's ARP/ICMP/closed-port handling). */
  defaultSink: FlowSink | null = null;
  private readonly txQueue: Int32Array;
  private txCount = 0;
  private closed = false;
  private readonly alloc: RingOptions['alloc'] | null;
  /** Bound once: the device calls it per received frame. */
  private readonly dispatch: RxSink;

  constructor(readonly device: Device, opts: RingOptions = {}) {
    const bufSize = opts.bufSize ?? 2048;
    this.burst = Math.max(1, Math.min(opts.burst ?? device.caps.maxBurst, 1024));
    const lro = device.caps.rxFrameMax ?? 0;
    const rxBufSize = opts.rxBufSize ?? (lro > bufSize ? Math.max(bufSize, tsoTxBufSize(lro)) : bufSize);
    const rxBufs = opts.rxBufs ?? (rxBufSize > bufSize ? 1024 : 4096);
    this.rxPool = new BufferPool(`${device.caps.name}.rx`, rxBufs, rxBufSize, userRegion(opts.alloc?.rx, rxBufs * rxBufSize, 'the RX pool'));
    const tso = device.caps.tsoMax ?? 0;
    const txBufSize = opts.txBufSize ?? (tso > 0 ? Math.max(bufSize, tsoTxBufSize(tso)) : bufSize);
    const txBufs = opts.txBufs ?? (txBufSize > bufSize ? 1024 : 4096);
    this.txPool = new BufferPool(`${device.caps.name}.tx`, txBufs, txBufSize, userRegion(opts.alloc?.tx, txBufs * txBufSize, 'the TX pool'));
    this.alloc = opts.alloc ?? null;
    const q = opts.txQueue ?? Math.max(this.burst * 4, 256);
    if (!(q >= this.burst)) throw new RangeError(`Ring: txQueue (${q}) must hold at least one burst (${this.burst})`);
    this.txQueue = new Int32Array(q);
    const pool = this.rxPool;
    const flows = this.flows;
    const c = this.counters;
    this.dispatch = (id: number, now: number): void => {
      const off = pool.start(id);
      const len = pool.end(id) - off;
      c.rxFrames++;
      c.rxBytes += len;
      const cls = flows.classify(pool.regionFor(id), off, len);
      if (cls === FrameClass.Runt) {
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
      sink(id, now, this);
    };
  }

  /**
   * Receives and dispatches up to `budget` frames (in device calls of at most `burst`), then
   * flushes pending TX. Returns the frames received.
   */
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
    // Every frame a device could not buffer is an RX pool allocation failure (see RingCounters.rxNoBuffer).
    c.rxNoBuffer = this.rxPool.counters.allocFailures;
    if (this.txCount > 0) this.flush(now);
    return got;
  }

  /**
   * When polling is next useful (ms): `now` if TX is queued or the device says a frame waits, the
   * device's next due frame if it knows one (sim), else Infinity (an fd device wakes the poller
   * through `device.waitFd` instead).
   */
  pollAt(now: number): number {
    if (this.closed) return Infinity;
    if (this.txCount > 0 || this.device.rxReady === true) return now;
    const due = this.device.nextDue?.() ?? Infinity;
    return due < now ? now : due;
  }

  /** Attaches a flow: the device is told (steering, multicast filter) and matching frames go to `sink`. */
  attachFlow(spec: FlowSpec, sink: FlowSink): void {
    this.flows.attach(spec, sink);
    try {
      this.device.attachFlow(spec);
    } catch (e) {
      this.flows.detach(spec);
      throw e;
    }
  }

  /** Detaches a flow from the table and the device; false when it was not attached. */
  detachFlow(spec: FlowSpec): boolean {
    const had = this.flows.detach(spec);
    if (had && !this.closed) this.device.detachFlow(spec);
    return had;
  }

  /** A TX buffer with `headroom` bytes free in front, or -1 (counted) when the pool is empty. */
  allocTx(headroom = 128): number {
    const id = this.txPool.alloc(headroom);
    if (id < 0) this.counters.txNoBuffer++;
    return id;
  }

  /**
   * Queues a filled TX buffer (the ring takes over the caller's reference). A full burst goes to
   * the device at once; when the queue stays full after a flush, the frame is dropped and counted.
   */
  send(id: number, now: number): void {
    if (this.closed) {
      this.counters.txClosed++;
      this.txPool.release(id);
      return;
    }
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

  /** Frames queued for the device. */
  get txPending(): number {
    return this.txCount;
  }

  /**
   * Posts queued TX buffers to the device in bursts, in order, until it is empty or the device
   * takes fewer than offered (counted; the rest stays queued). Returns how many the device took.
   */
  flush(now: number): number {
    if (this.closed) return 0;
    const pool = this.txPool;
    const q = this.txQueue;
    const c = this.counters;
    let sent = 0;
    while (this.txCount > 0) {
      const n = this.txCount < this.burst ? this.txCount : this.burst;
      c.txBursts++;
      const took = this.device.txBurst(pool, q, n, now);
      for (let i = 0; i < took; i++) {
        const id = q[i];
        if (pool.flags(id) & BufFlag.Dummy) c.txDummy++;
        else {
          c.txFrames++;
          c.txBytes += pool.length(id);
        }
        pool.release(id);
      }
      sent += took;
      if (took > 0) {
        // Keep the front of the queue at index 0 (the device reads ids[0, count)); no view per burst.
        q.copyWithin(0, took, this.txCount);
        this.txCount -= took;
      }
      if (took < n) {
        c.txDeviceFull++;
        break;
      }
    }
    return sent;
  }

  /** Counters of the ring, its pools and its device, as one flat table (for stats; allocates). */
  stats(): Record<string, number> {
    const out: Record<string, number> = {};
    addPrefixed(out, '', this.counters);
    out.rxBuffersOutstanding = this.rxPool.counters.outstanding;
    out.txBuffersOutstanding = this.txPool.counters.outstanding;
    out.rxBuffersHighWater = this.rxPool.counters.highWater;
    out.txBuffersHighWater = this.txPool.counters.highWater;
    out.rxBuffersWrapped = this.rxPool.counters.wrapped;
    out.txPending = this.txCount;
    addPrefixed(out, 'device.', this.device.stats());
    return out;
  }

  /** Releases queued TX buffers and closes the device. Idempotent. Buffers users hold stay valid until released. */
  close(): void {
    if (this.closed) return;
    for (let i = 0; i < this.txCount; i++) this.txPool.release(this.txQueue[i]);
    this.txCount = 0;
    this.closed = true;
    this.device.close();
    const a = this.alloc;
    if (a?.free) {
      if (a.rx) a.free(this.rxPool.region.u8);
      if (a.tx) a.free(this.txPool.region.u8);
    }
  }
}
