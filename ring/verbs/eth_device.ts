/**
 * The `verbs-eth` device: a raw-packet QP on a ConnectX port (mlx5), VMA's own data path. Read
 * ring/device.ts (the contract), verbs/index.ts and ring/verbs/ud_device.ts (same queue handling)
 * first. Runs only where the NIC has raw-packet QPs and flow steering: rxe and InfiniBand have
 * neither (ibv_create_qp(RAW_PACKET) fails with EOPNOTSUPP, which the constructor reports as such).
 *
 * Steering (ibv_create_flow): one rule for the device's own MAC, one for broadcast ARP, and one per
 * multicast MAC of an attached flow (reference-counted). 3-tuple and 5-tuple flows are accepted and
 * left to the ring's demux (caps.flowSteering is false): every unicast frame to our MAC reaches this
 * QP already; per-tuple rules are a later refinement (several rings per NIC).
 * The device owns a MAC of its own (TSVMA_MAC, default derived from TSVMA_ADDR) next to the kernel's,
 * as the packet device does, so it never takes the kernel's traffic.
 *
 * Data path (nothing allocated per frame): RX into device-owned registered slots (frames start at
 * offset 0: no GRH on raw-packet QPs), copied once into the ring's pool and reposted per burst; TX
 * copied into registered slots (inline when small), posted per burst, every `signalEvery`-th and
 * the last of a burst signalled; the completion-channel fd is the poller's waitFd, armed on the
 * first empty poll (ud_device.ts says how events are drained).
 * Not yet: mlx5dv direct WQE/CQE access (verbs/ exposes QP.mlx5()/CQ.mlx5() for it), checksum and
 * TSO offload, hardware timestamps, zero-copy RX into the ring's pool.
 */
import {
  CompChannel, Context, CQ, Flow, IBV_QPT_RAW_PACKET, IBV_SEND_INLINE, IBV_SEND_SIGNALED, IBV_WC_SUCCESS, MR, PD, QP, RecvWrs, SendWrs, WcArray,
} from '../../verbs';
import { BufFlag, type BufferPool } from '../buffer_pool';
import { UserMemory } from './user_memory';
import { isUnicastMac, MAC_BROADCAST, NO_CHECKSUM_OFFLOAD, type Device, type DeviceCaps, type FlowSpec, type RxSink } from '../device';

const ETH_HEADER = 14;
const ETHERTYPE_ARP = 0x0806;

export interface EthDeviceOptions {
  /** The verbs device, e.g. mlx5_0. */
  dev: string;
  port?: number;
  /** The device's own MAC (never the netdev's). */
  mac: number;
  /** L3 MTU. Default 1500. */
  mtu?: number;
  rxDepth?: number;
  txDepth?: number;
  maxBurst?: number;
  signalEvery?: number;
}

export class EthDevice implements Device {
  readonly caps: DeviceCaps;
  readonly waitFd: number;
  private readonly ctx: Context;
  private readonly pd: PD;
  /** Application memory registered on this device's PD (register_memory_on_ring). */
  private readonly userMemory: UserMemory;
  private readonly channel: CompChannel;
  private readonly rcq: CQ;
  private readonly scq: CQ;
  private readonly qp: QP;
  private readonly port: number;
  private readonly rxMem: Buffer;
  private readonly txMem: Buffer;
  private readonly rxMr: MR;
  private readonly txMr: MR;
  private readonly slot: number;
  private readonly rxDepth: number;
  private readonly txDepth: number;
  private readonly signalEvery: number;
  private readonly maxInline: number;
  private readonly wc: WcArray;
  private readonly swc: WcArray;
  private readonly rwrs: RecvWrs;
  private readonly swrs: SendWrs;
  private readonly multicast = new Map<number, { refs: number; flow: Flow }>();
  private armed = false;
  private empty = 0;
  private txHead = 0;
  private txTail = 0;
  private inflight = 0;
  private sinceSignal = 0;
  private closed = false;
  private readonly counters = {
    rxFrames: 0, rxErrors: 0, rxNoBuffer: 0, rxTooLong: 0, events: 0, arms: 0,
    txFrames: 0, txTooLong: 0, txErrors: 0, txLastErrno: 0, txBusy: 0, txDummy: 0, txCompletionErrors: 0,
  };

  constructor(opts: EthDeviceOptions) {
    if (!isUnicastMac(opts.mac)) throw new RangeError(`EthDevice: mac must be a unicast 48-bit address, not ${opts.mac}`);
    this.port = opts.port ?? 1;
    this.rxDepth = opts.rxDepth ?? 1024;
    this.txDepth = opts.txDepth ?? 512;
    const mtu = opts.mtu ?? 1500;
    const maxBurst = Math.max(1, Math.min(opts.maxBurst ?? 32, this.txDepth, this.rxDepth));
    this.signalEvery = Math.max(1, Math.min(opts.signalEvery ?? 16, this.txDepth));
    this.slot = (ETH_HEADER + 4 + mtu + 63) & ~63;
    const ctx = Context.open(opts.dev);
    this.ctx = ctx;
    try {
      this.pd = ctx.allocPd();
      this.userMemory = new UserMemory(this.pd);
      this.channel = ctx.createCompChannel();
      this.rcq = ctx.createCq(this.rxDepth, this.channel);
      this.scq = ctx.createCq(this.txDepth);
      this.qp = this.pd.createQp({ type: IBV_QPT_RAW_PACKET, sendCq: this.scq, recvCq: this.rcq, maxSendWr: this.txDepth, maxRecvWr: this.rxDepth, maxInlineData: 256 });
      this.qp.readyRaw(this.port);
      this.maxInline = this.qp.cap.max_inline_data;
      this.rxMem = Buffer.alloc(this.rxDepth * this.slot);
      this.txMem = Buffer.alloc(this.txDepth * this.slot);
      this.rxMr = this.pd.regBuffer(this.rxMem);
      this.txMr = this.pd.regBuffer(this.txMem);
      this.wc = new WcArray(maxBurst);
      this.swc = new WcArray(Math.min(64, this.txDepth));
      this.rwrs = new RecvWrs(Math.max(maxBurst, Math.min(this.rxDepth, 256)));
      this.swrs = new SendWrs(maxBurst);
      for (let s = 0; s < this.rxDepth;) {
        let k = 0;
        while (k < this.rwrs.length && s < this.rxDepth) this.setRecv(k++, s++);
        const rc = this.qp.postRecv(this.rwrs, k);
        if (rc !== 0) throw new Error(`EthDevice: ibv_post_recv of the initial receives failed (errno ${rc})`);
      }
      this.qp.createFlow({ dstMac: opts.mac }, this.port);
      this.qp.createFlow({ dstMac: MAC_BROADCAST, etherType: ETHERTYPE_ARP }, this.port);
    } catch (e) {
      try {
        ctx.close();
      } catch {
        // the first error is the one to report
      }
      throw e;
    }
    this.waitFd = this.channel.fd;
    this.caps = Object.freeze({
      name: `verbs-eth:${opts.dev}:${this.port}`, kind: 'verbs-eth', mtu, maxBurst, mac: opts.mac,
      rxChecksum: NO_CHECKSUM_OFFLOAD, txChecksum: NO_CHECKSUM_OFFLOAD, hwTimestamps: false, dummySend: true, flowSteering: false,
    });
  }

  private setRecv(k: number, s: number): void {
    this.rwrs.setWrId(k, s);
    this.rwrs.setSge(k, this.rxMr.addr + s * this.slot, this.slot, this.rxMr.lkey);
  }

  rxBurst(pool: BufferPool, max: number, now: number, sink: RxSink): number {
    if (this.closed) return 0;
    const wc = this.wc;
    const lim = max < wc.length ? max : wc.length;
    let got = this.rcq.poll(wc, lim);
    if (got <= 0) {
      if (got < 0) return 0;
      if ((this.empty++ & 31) === 0) this.drainEvents();
      if (this.armed) return 0;
      this.rcq.reqNotify();
      this.armed = true;
      this.counters.arms++;
      got = this.rcq.poll(wc, lim);
      if (got <= 0) return 0;
    }
    this.empty = 0;
    this.armed = false;
    const c = this.counters;
    let reposts = 0;
    let n = 0;
    for (let i = 0; i < got; i++) {
      const s = wc.wrId(i);
      this.setRecv(reposts++, s);
      if (wc.status(i) !== IBV_WC_SUCCESS) {
        c.rxErrors++;
        continue;
      }
      const len = wc.byteLen(i);
      const id = len > pool.bufSize ? -2 : pool.allocCopy(this.rxMem, s * this.slot, len);
      if (id < 0) {
        if (id === -2) c.rxTooLong++;
        else c.rxNoBuffer++;
        continue;
      }
      pool.setTimestamp(id, now);
      c.rxFrames++;
      n++;
      sink(id, now);
    }
    if (reposts > 0 && this.qp.postRecv(this.rwrs, reposts) !== 0) c.rxErrors += reposts;
    return n;
  }

  private drainEvents(): void {
    let k = 0;
    while (this.channel.getEvent()) k++;
    if (k > 0) {
      this.counters.events += k;
      this.rcq.ackEvents(k);
    }
  }

  private reapTx(): void {
    const swc = this.swc;
    const got = this.scq.poll(swc, swc.length);
    for (let i = 0; i < got; i++) {
      if (swc.status(i) !== IBV_WC_SUCCESS) this.counters.txCompletionErrors++;
      const s = swc.wrId(i);
      this.inflight -= ((s - this.txTail + this.txDepth) % this.txDepth) + 1;
      this.txTail = (s + 1) % this.txDepth;
    }
  }

  txBurst(pool: BufferPool, ids: Int32Array, count: number, _now: number): number {
    if (this.closed) return count;
    if (this.inflight > 0) this.reapTx();
    const c = this.counters;
    const wrs = this.swrs;
    let m = 0;
    let took = 0;
    let lastSlot = 0;
    let lastFlags = 0;
    for (; took < count; took++) {
      const id = ids[took];
      if (pool.flags(id) & BufFlag.Dummy) {
        c.txDummy++;
        continue;
      }
      if (this.inflight + m >= this.txDepth) {
        c.txBusy++;
        break;
      }
      const start = pool.start(id);
      const len = pool.end(id) - start;
      if (len > this.slot || len < ETH_HEADER) {
        c.txTooLong++;
        continue;
      }
      const s = this.txHead;
      pool.bufFor(id).copy(this.txMem, s * this.slot, start, start + len);
      this.txHead = s + 1 === this.txDepth ? 0 : s + 1;
      let flags = len <= this.maxInline ? IBV_SEND_INLINE : 0;
      if (++this.sinceSignal >= this.signalEvery) {
        flags |= IBV_SEND_SIGNALED;
        this.sinceSignal = 0;
      }
      wrs.set(m, s, flags);
      wrs.setSge(m, this.txMr.addr + s * this.slot, len, this.txMr.lkey);
      lastSlot = s;
      lastFlags = flags;
      if (++m === wrs.length) {
        this.post(m, lastSlot, lastFlags);
        m = 0;
      }
    }
    if (m > 0) this.post(m, lastSlot, lastFlags);
    return took;
  }

  private post(m: number, lastSlot: number, lastFlags: number): void {
    if ((lastFlags & IBV_SEND_SIGNALED) === 0) {
      this.swrs.set(m - 1, lastSlot, lastFlags | IBV_SEND_SIGNALED);
      this.sinceSignal = 0;
    }
    const rc = this.qp.postSend(this.swrs, m);
    if (rc === 0) {
      this.inflight += m;
      this.counters.txFrames += m;
    } else {
      this.counters.txErrors += m;
      this.counters.txLastErrno = rc;
      this.txHead = (this.txHead - m + this.txDepth) % this.txDepth;
    }
  }

  attachFlow(spec: FlowSpec): void {
    if (spec.kind !== 'multicast-mac' || this.closed) return;
    const e = this.multicast.get(spec.mac);
    if (e) e.refs++;
    else this.multicast.set(spec.mac, { refs: 1, flow: this.qp.createFlow({ dstMac: spec.mac }, this.port) });
  }

  detachFlow(spec: FlowSpec): void {
    if (spec.kind !== 'multicast-mac') return;
    const e = this.multicast.get(spec.mac);
    if (!e) return;
    if (--e.refs === 0) {
      this.multicast.delete(spec.mac);
      if (!this.closed) e.flow.close();
    }
  }

  setNotify(): void {
    // The poller wakes through waitFd (the completion channel).
  }

  stats(): Readonly<Record<string, number>> {
    return { ...this.counters, txInflight: this.inflight, multicastRules: this.multicast.size };
  }

  /**
   * register_memory_on_ring: registers application memory on this device's PD (ibv_reg_mr, local
   * write); returns its lkey. The MR keeps `mem` alive until deregistered or the device closes.
   */
  registerMemory(mem: Uint8Array): number {
    return this.userMemory.register(mem);
  }

  /** deregister_memory_on_ring: false when `mem` was not registered. */
  deregisterMemory(mem: Uint8Array): boolean {
    return this.userMemory.deregister(mem);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.multicast.clear();
    try {
      this.ctx.close();
    } finally {
      this.wc.free();
      this.swc.free();
      this.rwrs.free();
      this.swrs.free();
    }
  }
}
