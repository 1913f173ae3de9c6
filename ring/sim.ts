/**
 * The sim device: an in-process wire joining two or more devices, like an Ethernet switch (unicast
 * to the device that owns the destination MAC, broadcast and multicast to every other device).
 * Frames are copied into a preallocated slab on transmit and into the receiver's pool on receive —
 * the copy is the wire. Time is passed in: a frame is delivered once `now` reaches its due time.
 * Faults (ring/fault.ts) are applied on the wire, deterministically from a seed.
 */
import { BufferPool, BufFlag } from './buffer_pool';
import { NO_CHECKSUM_OFFLOAD, type Device, type DeviceCaps, type FlowSpec, type RxSink } from './device';
import { FaultInjector, type FaultOptions } from './fault';

export interface SimWireOptions {
  /** Frames the wire can hold in flight (all devices together). */
  capacity?: number;
  /** Largest frame (bytes). */
  frameSize?: number;
  /** Fixed one-way delay in ms (before fault-injected delay). */
  latencyMs?: number;
  faults?: FaultOptions;
}

class Queue {
  readonly slots: Int32Array;
  head = 0;
  count = 0;
  constructor(n: number) {
    this.slots = new Int32Array(n);
  }
  push(slot: number): boolean {
    if (this.count === this.slots.length) return false;
    this.slots[(this.head + this.count++) % this.slots.length] = slot;
    return true;
  }
  peek(): number {
    return this.slots[this.head];
  }
  shift(): number {
    const s = this.slots[this.head];
    this.head = (this.head + 1) % this.slots.length;
    this.count--;
    return s;
  }
  /** Swaps the last two entries (reordering). */
  swapLast(): void {
    if (this.count < 2) return;
    const n = this.slots.length;
    const a = (this.head + this.count - 1) % n;
    const b = (this.head + this.count - 2) % n;
    const t = this.slots[a];
    this.slots[a] = this.slots[b];
    this.slots[b] = t;
  }
}

export class SimWire {
  readonly frameSize: number;
  readonly latencyMs: number;
  readonly faults: FaultInjector;
  private readonly slab: Buffer;
  private readonly lens: Int32Array;
  private readonly due: Float64Array;
  private readonly freeSlots: Int32Array;
  private freeTop: number;
  private readonly devices: SimDevice[] = [];
  /** Frames lost because the wire was full. */
  overflows = 0;

  constructor(opts: SimWireOptions = {}) {
    const cap = opts.capacity ?? 8192;
    this.frameSize = opts.frameSize ?? 2048;
    this.latencyMs = opts.latencyMs ?? 0;
    this.faults = new FaultInjector(opts.faults ?? {});
    this.slab = Buffer.alloc(cap * this.frameSize);
    this.lens = new Int32Array(cap);
    this.due = new Float64Array(cap);
    this.freeSlots = new Int32Array(cap);
    for (let i = 0; i < cap; i++) this.freeSlots[i] = cap - 1 - i;
    this.freeTop = cap;
  }

  /** Creates a device on this wire with the given MAC. */
  attach(mac: number, opts: { name?: string; mtu?: number; maxBurst?: number; queue?: number } = {}): SimDevice {
    const d = new SimDevice(this, mac, opts.name ?? `sim${this.devices.length}`, opts.mtu ?? 1500, opts.maxBurst ?? 32, opts.queue ?? 4096);
    this.devices.push(d);
    return d;
  }

  detach(d: SimDevice): void {
    const i = this.devices.indexOf(d);
    if (i >= 0) this.devices.splice(i, 1);
    while (d.inbound.count > 0) this.freeSlot(d.inbound.shift());
  }

  /** Frames in flight. */
  get inFlight(): number {
    return this.freeSlots.length - this.freeTop;
  }

  /** @internal puts one frame from `from` on the wire. */
  transmit(from: SimDevice, src: Buffer, off: number, len: number, now: number): void {
    const dstHi = src.readUInt16BE(off);
    const dstLo = src.readUInt32BE(off + 2);
    const dst = dstHi * 0x100000000 + dstLo;
    const group = (dstHi & 0x0100) !== 0; // I/G bit: broadcast or multicast
    for (const d of this.devices) {
      if (d === from) continue;
      if (!group && d.mac !== dst) continue;
      if (group && !d.acceptsGroup(dst)) continue;
      this.deliver(d, src, off, len, now);
    }
  }

  private deliver(d: SimDevice, src: Buffer, off: number, len: number, now: number): void {
    const f = this.faults;
    if (f.drop()) return;
    const copies = f.duplicate() ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      if (this.freeTop === 0) {
        this.overflows++;
        return;
      }
      const slot = this.freeSlots[--this.freeTop];
      const base = slot * this.frameSize;
      const n = Math.min(len, this.frameSize);
      src.copy(this.slab, base, off, off + n);
      f.corrupt(this.slab, base, n);
      this.lens[slot] = n;
      this.due[slot] = now + this.latencyMs + f.delay();
      if (!d.inbound.push(slot)) {
        this.freeSlot(slot);
        d.queueDrops++;
        continue;
      }
      if (f.reorder()) d.inbound.swapLast();
      d.notifyArrival();
    }
  }

  /** @internal */
  freeSlot(slot: number): void {
    this.freeSlots[this.freeTop++] = slot;
  }

  /** @internal moves due frames of `d` into its pool. */
  receive(d: SimDevice, pool: BufferPool, max: number, now: number, sink: RxSink): number {
    let n = 0;
    const q = d.inbound;
    while (n < max && q.count > 0) {
      const slot = q.peek();
      if (this.due[slot] > now) break;
      q.shift();
      const id = pool.allocCopy(this.slab, slot * this.frameSize, this.lens[slot]);
      this.freeSlot(slot);
      if (id < 0) {
        d.rxNoBuffer++;
        continue;
      }
      pool.setTimestamp(id, now);
      n++;
      sink(id, now);
    }
    return n;
  }

  /** The earliest due time of frames waiting for `d`, or Infinity. */
  nextDue(d: SimDevice): number {
    return d.inbound.count > 0 ? this.due[d.inbound.peek()] : Infinity;
  }
}

export class SimDevice implements Device {
  readonly caps: DeviceCaps;
  readonly waitFd = -1;
  /** @internal */
  readonly inbound: Queue;
  private notify: (() => void) | null = null;
  private readonly groups = new Set<number>();
  private closed = false;
  rxNoBuffer = 0;
  queueDrops = 0;
  txDummy = 0;

  constructor(readonly wire: SimWire, readonly mac: number, name: string, mtu: number, maxBurst: number, queue: number) {
    this.inbound = new Queue(queue);
    this.caps = Object.freeze({
      name, kind: 'sim', mtu, maxBurst, mac,
      rxChecksum: NO_CHECKSUM_OFFLOAD, txChecksum: NO_CHECKSUM_OFFLOAD,
      hwTimestamps: false, dummySend: true, flowSteering: false,
    });
  }

  /** Broadcast always; multicast MACs once a flow for them is attached (like a NIC's MAC filter). */
  acceptsGroup(mac: number): boolean {
    return mac === 0xffffffffffff || this.groups.has(mac);
  }

  rxBurst(pool: BufferPool, max: number, now: number, sink: RxSink): number {
    if (this.closed) return 0;
    return this.wire.receive(this, pool, max, now, sink);
  }

  txBurst(pool: BufferPool, ids: Int32Array, count: number, now: number): number {
    if (this.closed) return count;
    for (let i = 0; i < count; i++) {
      const id = ids[i];
      if (pool.flags(id) & BufFlag.Dummy) {
        this.txDummy++;
        continue; // the last step (the wire) is skipped
      }
      const off = pool.start(id);
      this.wire.transmit(this, pool.buf, off, pool.end(id) - off, now);
    }
    return count;
  }

  attachFlow(spec: FlowSpec): void {
    if (spec.kind === 'multicast-mac') this.groups.add(spec.mac);
  }

  detachFlow(spec: FlowSpec): void {
    if (spec.kind === 'multicast-mac') this.groups.delete(spec.mac);
  }

  setNotify(cb: (() => void) | null): void {
    this.notify = cb;
  }

  /** @internal */
  notifyArrival(): void {
    this.notify?.();
  }

  /** When the next waiting frame is due (ms), or Infinity: lets a poller sleep until then. */
  nextDue(): number {
    return this.wire.nextDue(this);
  }

  stats(): Record<string, number> {
    return { rxNoBuffer: this.rxNoBuffer, queueDrops: this.queueDrops, txDummy: this.txDummy };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.notify = null;
    this.wire.detach(this);
  }
}
