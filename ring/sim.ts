/**
 * The sim device: an in-process wire joining two or more devices like an Ethernet switch — unicast
 * to the device that owns the destination MAC, broadcast to every other device, multicast to every
 * other device whose filter holds the group (a `multicast-mac` flow attached, as on a NIC).
 *
 * Frames are copied from the sender's TX buffer into a preallocated slab when transmitted and from
 * the slab into the receiver's RX pool when received: the copies are the wire (so a sender may
 * reuse its buffer at once, and a frame can wait out a delay). Nothing is allocated per frame of up
 * to COPY_LOOP_MAX bytes (ring/copy.ts).
 *
 * Time is passed in: a frame sent at `now` is due at `now + latencyMs` (+ an injected delay) and is
 * received by the first `rxBurst` whose `now` reaches that; `nextDue()` tells a poller when. Each
 * device's inbound queue is ordered by due time, so a frame delayed longer than those sent after it
 * is overtaken, as on a path with jitter.
 *
 * Faults (ring/fault.ts) come from one seeded PRNG per wire, drawn in a fixed order: per delivery
 * drop, then duplicate; per copy delivered, corrupt, delay, then reorder (the copy overtakes the
 * frame queued before it). The same seed and the same traffic give the same run. Losses that are not faults are counted too: `overflows` (the wire's slab full), a device's
 * `queueDrops` (its inbound queue full) and `rxNoBuffer` (its ring's RX pool empty).
 */
import { BufferPool, BufFlag } from './buffer_pool';
import { alignedTo, copyBytes, wordsOf } from './copy';
import { isUnicastMac, MAC_BROADCAST, NO_CHECKSUM_OFFLOAD, type Device, type DeviceCaps, type FlowSpec, type RxSink } from './device';
import { FaultInjector, type FaultOptions } from './fault';

export interface SimWireOptions {
  /** Frames the wire can hold in flight (all devices together). Default 8192. */
  capacity?: number;
  /** Largest frame (bytes). Default 2048. */
  frameSize?: number;
  /** Fixed one-way delay in ms (before fault-injected delay). Default 0. */
  latencyMs?: number;
  faults?: FaultOptions;
}

export interface SimDeviceOptions {
  name?: string;
  /** L3 MTU; larger frames are refused on transmit (counted as txTooLong). Default 1500. */
  mtu?: number;
  maxBurst?: number;
  /** Inbound queue length (frames). Default 4096. */
  queue?: number;
}

const ETH_HEADER = 14;
/** Ethernet header plus one VLAN tag: the most a frame carries above the MTU. */
const ETH_OVERHEAD = 18;

/** A device's inbound frames (wire slots), ordered by due time (FIFO among equal times). */
class Queue {
  readonly slots: Int32Array;
  head = 0;
  count = 0;
  constructor(n: number, private readonly due: Float64Array) {
    this.slots = new Int32Array(n);
  }
  private at(i: number): number {
    return (this.head + i) % this.slots.length;
  }
  /** Inserts by due time; returns its position from the head, or -1 when full. */
  push(slot: number): number {
    if (this.count === this.slots.length) return -1;
    const s = this.slots;
    const t = this.due[slot];
    let i = this.count++;
    while (i > 0 && this.due[s[this.at(i - 1)]] > t) {
      s[this.at(i)] = s[this.at(i - 1)];
      i--;
    }
    s[this.at(i)] = slot;
    return i;
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
  /**
   * The frame at `pos` (> 0) overtakes the one before it: they swap places and the overtaken one is
   * held back to the overtaker's due time, which keeps the queue ordered.
   */
  overtake(pos: number): void {
    const a = this.at(pos);
    const b = this.at(pos - 1);
    const s = this.slots;
    const mover = s[a];
    const prev = s[b];
    if (this.due[mover] > this.due[prev]) this.due[prev] = this.due[mover];
    s[a] = prev;
    s[b] = mover;
  }
}

export class SimWire {
  readonly frameSize: number;
  readonly latencyMs: number;
  readonly faults: FaultInjector;
  private readonly slab: Buffer;
  private readonly slabWords: Int32Array | null;
  /** Each slot's frame: where it starts in the slab (word-aligned like its source), and its length. */
  private readonly starts: Int32Array;
  private readonly lens: Int32Array;
  /** @internal due time (ms) of each slot's frame. */
  readonly due: Float64Array;
  private readonly freeSlots: Int32Array;
  private freeTop: number;
  private readonly devices: SimDevice[] = [];
  /** Frames lost because the wire's slab was full. */
  overflows = 0;

  constructor(opts: SimWireOptions = {}) {
    const cap = opts.capacity ?? 8192;
    this.frameSize = opts.frameSize ?? 2048;
    this.latencyMs = opts.latencyMs ?? 0;
    if (!(cap >= 1) || !(this.frameSize >= 64) || !(this.latencyMs >= 0)) {
      throw new RangeError('SimWire: capacity must be ≥ 1, frameSize ≥ 64 and latencyMs ≥ 0');
    }
    this.faults = new FaultInjector(opts.faults ?? {});
    this.slab = Buffer.alloc(cap * this.frameSize);
    this.slabWords = wordsOf(this.slab);
    this.starts = new Int32Array(cap);
    this.lens = new Int32Array(cap);
    this.due = new Float64Array(cap);
    this.freeSlots = new Int32Array(cap);
    for (let i = 0; i < cap; i++) this.freeSlots[i] = cap - 1 - i;
    this.freeTop = cap;
  }

  /** Creates a device on this wire with the given MAC (a 48-bit unicast number). */
  attach(mac: number, opts: SimDeviceOptions = {}): SimDevice {
    if (!isUnicastMac(mac)) {
      throw new RangeError(`SimWire: a device needs a unicast 48-bit MAC, not ${mac}`);
    }
    const d = new SimDevice(this, mac, opts.name ?? `sim${this.devices.length}`, opts.mtu ?? 1500, opts.maxBurst ?? 32, opts.queue ?? 4096);
    this.devices.push(d);
    return d;
  }

  /** Takes a device off the wire; frames waiting for it are dropped. */
  detach(d: SimDevice): void {
    const i = this.devices.indexOf(d);
    if (i >= 0) this.devices.splice(i, 1);
    while (d.inbound.count > 0) this.freeSlot(d.inbound.shift());
  }

  /** Frames in flight (on the wire, not yet received). */
  get inFlight(): number {
    return this.freeSlots.length - this.freeTop;
  }

  /** Longest frame a slot holds (it may start up to 3 bytes in, aligned like its source). */
  get maxFrame(): number {
    return this.frameSize - 3;
  }

  /**
   * @internal puts one frame (at least an Ethernet header long, at most `maxFrame`) from `from` on
   * the wire; `srcWords` is wordsOf(src) or null.
   */
  transmit(from: SimDevice, src: Uint8Array, srcWords: Int32Array | null, off: number, len: number, now: number): void {
    const dstHi = (src[off] << 8) | src[off + 1];
    const dstLo = ((src[off + 2] << 24) | (src[off + 3] << 16) | (src[off + 4] << 8) | src[off + 5]) >>> 0;
    const dst = dstHi * 0x100000000 + dstLo;
    const group = (dstHi & 0x0100) !== 0; // I/G bit: broadcast or multicast
    const devices = this.devices;
    for (let i = 0; i < devices.length; i++) {
      const d = devices[i];
      if (d === from) continue;
      if (group ? !d.acceptsGroup(dst) : d.mac !== dst) continue;
      this.deliver(d, src, srcWords, off, len, now);
    }
  }

  private deliver(d: SimDevice, src: Uint8Array, srcWords: Int32Array | null, off: number, len: number, now: number): void {
    const f = this.faults;
    if (f.drop()) return;
    const copies = f.duplicate() ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      if (this.freeTop === 0) {
        this.overflows++;
        return;
      }
      const slot = this.freeSlots[--this.freeTop];
      const start = alignedTo(slot * this.frameSize, off);
      copyBytes(this.slab, this.slabWords, start, src, srcWords, off, len);
      f.corrupt(this.slab, start, len);
      this.starts[slot] = start;
      this.lens[slot] = len;
      this.due[slot] = now + this.latencyMs + f.delay();
      const pos = d.inbound.push(slot);
      if (pos < 0) {
        this.freeSlot(slot);
        d.queueDrops++;
        continue;
      }
      if (pos > 0 && f.reorder()) d.inbound.overtake(pos);
      d.notifyArrival();
    }
  }

  /** @internal */
  freeSlot(slot: number): void {
    this.freeSlots[this.freeTop++] = slot;
  }

  /** @internal moves up to `max` due frames of `d` into `pool`, calling `sink` for each. */
  receive(d: SimDevice, pool: BufferPool, max: number, now: number, sink: RxSink): number {
    let n = 0;
    const q = d.inbound;
    while (n < max && q.count > 0) {
      const slot = q.peek();
      if (this.due[slot] > now) break;
      q.shift();
      const id = pool.allocCopy(this.slab, this.starts[slot], this.lens[slot]);
      this.freeSlot(slot);
      if (id < 0) {
        d.rxNoBuffer++;
        continue;
      }
      pool.setTimestampNs(id, now * 1e6);
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
  /** Multicast MACs attached, with how many flows hold each. */
  private readonly groups = new Map<number, number>();
  private closed = false;
  /** Frames dropped because the ring's RX pool was empty. */
  rxNoBuffer = 0;
  /** Frames dropped because this device's inbound queue was full. */
  queueDrops = 0;
  /** Dummy sends stopped before the wire. */
  txDummy = 0;
  /** Frames put on the wire. */
  txFrames = 0;
  /** Frames refused on transmit: longer than the MTU allows, or shorter than an Ethernet header. */
  txTooLong = 0;
  txRunt = 0;

  constructor(readonly wire: SimWire, readonly mac: number, name: string, mtu: number, maxBurst: number, queue: number) {
    this.inbound = new Queue(queue, wire.due);
    this.caps = Object.freeze({
      name, kind: 'sim', mtu, maxBurst, mac,
      rxChecksum: NO_CHECKSUM_OFFLOAD, txChecksum: NO_CHECKSUM_OFFLOAD,
      hwTimestamps: false, dummySend: true, flowSteering: false,
    });
  }

  /** Broadcast always; multicast MACs once a flow for them is attached (like a NIC's MAC filter). */
  acceptsGroup(mac: number): boolean {
    return mac === MAC_BROADCAST || this.groups.has(mac);
  }

  rxBurst(pool: BufferPool, max: number, now: number, sink: RxSink): number {
    if (this.closed) return 0;
    return this.wire.receive(this, pool, max, now, sink);
  }

  /** Takes every frame (the wire never pushes back; a full wire or queue drops, counted). */
  txBurst(pool: BufferPool, ids: Int32Array, count: number, now: number): number {
    if (this.closed) return count;
    const maxLen = Math.min(this.caps.mtu + ETH_OVERHEAD, this.wire.maxFrame);
    for (let i = 0; i < count; i++) {
      const id = ids[i];
      if (pool.flags(id) & BufFlag.Dummy) {
        this.txDummy++;
        continue; // the last step (the wire) is skipped
      }
      const off = pool.start(id);
      const len = pool.end(id) - off;
      if (len > maxLen) this.txTooLong++;
      else if (len < ETH_HEADER) this.txRunt++;
      else {
        this.txFrames++;
        this.wire.transmit(this, pool.regionFor(id).u8, pool.wordsFor(id), off, len, now);
      }
    }
    return count;
  }

  attachFlow(spec: FlowSpec): void {
    if (spec.kind === 'multicast-mac') this.groups.set(spec.mac, (this.groups.get(spec.mac) ?? 0) + 1);
  }

  detachFlow(spec: FlowSpec): void {
    if (spec.kind !== 'multicast-mac') return;
    const n = this.groups.get(spec.mac) ?? 0;
    if (n > 1) this.groups.set(spec.mac, n - 1);
    else this.groups.delete(spec.mac);
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
    return this.closed ? Infinity : this.wire.nextDue(this);
  }

  stats(): Record<string, number> {
    return {
      rxNoBuffer: this.rxNoBuffer, queueDrops: this.queueDrops, txFrames: this.txFrames, txDummy: this.txDummy,
      txTooLong: this.txTooLong, txRunt: this.txRunt, inbound: this.inbound.count,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.notify = null;
    this.wire.detach(this);
  }
}
