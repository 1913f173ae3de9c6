/**
 * The `verbs-ud` device: Ethernet frames carried in UD QP messages between tsvma hosts, on any
 * verbs device with UD QPs (soft-RoCE rxe, RoCE NICs). Read ring/device.ts (the contract) and
 * verbs/index.ts first; docs/verbs.md says how to run it.
 *
 * Encapsulation. One UD message carries one Ethernet frame, header included (IPoIB carries a
 * 4-byte header instead; keeping the 14-byte Ethernet header lets the ring and the stack see the
 * same frames as on every other device, ARP included). The L3 MTU is the port's active MTU
 * (1024 on rxe over a 1500-byte veth, up to 4096) minus 14.
 *
 * Address resolution: a learning bridge over UD. Every received message teaches the device
 * "source MAC → (source GID, source QPN)": the GID from the GRH the receive buffer starts with
 * (on RoCE v2 over IPv4 the last 20 of its 40 bytes are the IPv4 header: the GID is ::ffff:src),
 * the QPN from the completion. A frame to a learned MAC goes to that peer's address handle; a
 * broadcast, multicast or not-yet-learned frame goes to the tsvma broadcast group (IPoIB's
 * broadcast group role): a UD multicast group every verbs-ud device joins (ibv_attach_mcast) at
 * GID ::ffff:239.255.116.118 by default, QPN 0xFFFFFF. So the stack's own ARP does the discovery:
 * the request floods through the group, the reply comes back unicast and both sides have learned
 * each other. On RoCE the kernel must also join the IPv4 group on the netdev (ip_membership.ts)
 * or it drops the group's RoCE v2 datagrams. Receivers keep frames for their own MAC, broadcast
 * and the multicast MACs of attached flows, and drop their own (a sender may hear itself).
 *
 * Data path (nothing allocated per frame): RX completions land in device-owned registered slots
 * (40-byte GRH + frame); each frame is copied once into the ring's RX pool (pool.allocCopy) and
 * its slot reposted in one ibv_post_recv per burst. TX copies each frame into a registered TX
 * slot (inline when the QP allows it) and posts a burst with one ibv_post_send, signalling every
 * `signalEvery`-th request and the last of each burst; a completion frees every slot up to it (one
 * QP completes in order). Dummy sends (BufFlag.Dummy) run everything but the post.
 *
 * Waiting: `waitFd` is the RX CQ's completion-channel fd (non-blocking). The CQ is armed
 * (ibv_req_notify_cq) on the first empty poll after traffic, then polled once more (a completion
 * may have landed before the arm); queued events are taken and acked (batched) on the first empty
 * poll and every 32nd after, so a sleeping poller never finds the fd readable for an old event.
 *
 * Not supported: InfiniBand link layer (its multicast groups need an SA join through rdma_cm),
 * checksum offload (UD has none; the stack computes checksums), hardware timestamps.
 */
import {
  AH, CompChannel, Context, CQ, IBV_QPT_UD, IBV_SEND_INLINE, IBV_SEND_SIGNALED, IBV_WC_GRH, IBV_WC_SUCCESS, isV4Mapped, MR, mtuBytes, PD, QP,
  RecvWrs, SendWrs, WcArray,
} from '../../verbs';
import { BufFlag, type BufferPool } from '../buffer_pool';
import { isUnicastMac, MAC_BROADCAST, NO_CHECKSUM_OFFLOAD, type Device, type DeviceCaps, type FlowSpec, type RxSink } from '../device';
import { IpMembership } from './ip_membership';
import { UserMemory } from './user_memory';

/** Bytes in front of every received UD message: the GRH (or, RoCE v2/IPv4, 20 bytes of padding + the IPv4 header). */
export const GRH_BYTES = 40;
/** Ethernet header carried in every message. */
const ETH_HEADER = 14;
/** The default Q_Key of tsvma's UD QPs ("tsvm"; the high bit is clear, so no privilege is needed). */
export const TSVMA_QKEY = 0x7473766d;
/** The default broadcast group, 239.255.116.118 (administratively scoped IPv4 multicast), as ::ffff:a.b.c.d. */
export const TSVMA_GROUP = 0xefff7476;
/** The multicast QPN (IB spec: 0xFFFFFF addresses every QP attached to the group). */
const MCAST_QPN = 0xffffff;
const MAX_PEERS = 4096;

export interface UdDeviceOptions {
  /** The verbs device (ibv_devices), e.g. rxe0. */
  dev: string;
  /** Port number, default 1. */
  port?: number;
  /** The device's own MAC (48-bit unicast); frames to it are kept. */
  mac: number;
  /** GID index; default: the port's first IPv4-mapped GID on RoCE, else 0. */
  gidIndex?: number;
  /** Q_Key shared by all tsvma hosts of one network. Default TSVMA_QKEY. */
  qkey?: number;
  /** IPv4 multicast address of the broadcast group. Default TSVMA_GROUP (239.255.116.118). */
  group?: number;
  /** Receive slots posted. Default 512. */
  rxDepth?: number;
  /** Send slots (and send queue depth). Default 256. */
  txDepth?: number;
  /** Frames per burst. Default 32. */
  maxBurst?: number;
  /** Signal one send in this many (and the last of each burst). Default 16. */
  signalEvery?: number;
}

export interface UdDeviceCounters {
  rxFrames: number;
  /** Completions with an error status (e.g. flushed at close), polls that failed. */
  rxErrors: number;
  rxPollErrors: number;
  /** Messages shorter than an Ethernet header; frames to another MAC; our own frames heard back. */
  rxRunt: number;
  rxFiltered: number;
  rxOwn: number;
  rxNoBuffer: number;
  rxTooLong: number;
  /** Peers learned (MAC → GID, QPN), and address handles that failed. */
  peersLearned: number;
  ahErrors: number;
  /** CQ events taken; times the CQ was armed. */
  events: number;
  arms: number;
  txFrames: number;
  /** Frames sent to the broadcast group (broadcast, multicast, unknown unicast). */
  txFlooded: number;
  /** Frames with no way out (no group and no learned peer), longer than the UD MTU, or refused by post_send. */
  txNoPeer: number;
  txTooLong: number;
  txErrors: number;
  txLastErrno: number;
  /** Bursts cut short because every send slot was in flight. */
  txBusy: number;
  txDummy: number;
  /** Send completions with an error status. */
  txCompletionErrors: number;
}

interface Peer {
  qpn: number;
  /** The GID's IPv4 address (RoCE v2/IPv4), else -1 and `gid` holds it. */
  ip: number;
  gid: Uint8Array;
  ah: AH;
}

export class UdDevice implements Device {
  readonly caps: DeviceCaps;
  readonly waitFd: number;
  /** The QP number and GID peers reach this device at. */
  readonly qpn: number;
  readonly gid: Uint8Array;
  readonly gidIndex: number;
  readonly port: number;
  readonly qkey: number;
  private readonly ctx: Context;
  private readonly pd: PD;
  /** Application memory registered on this device's PD (register_memory_on_ring). */
  private readonly userMemory: UserMemory;
  private readonly channel: CompChannel;
  private readonly rcq: CQ;
  private readonly scq: CQ;
  private readonly qp: QP;
  private readonly rxMem: Buffer;
  private readonly rxDv: DataView;
  private readonly txMem: Buffer;
  private readonly rxMr: MR;
  private readonly txMr: MR;
  private readonly slot: number;
  private readonly rxDepth: number;
  private readonly txDepth: number;
  private readonly maxInline: number;
  private readonly signalEvery: number;
  private readonly udMtu: number;
  private readonly wc: WcArray;
  private readonly swc: WcArray;
  private readonly rwrs: RecvWrs;
  private readonly swrs: SendWrs;
  private readonly groupAh: AH | null;
  private readonly mgid: Uint8Array | null;
  private membership: IpMembership | null = null;
  private readonly peers = new Map<number, Peer>();
  private readonly multicast = new Map<number, number>();
  private armed = false;
  private empty = 0;
  private txHead = 0;
  private txTail = 0;
  private inflight = 0;
  private sinceSignal = 0;
  private closed = false;
  private readonly counters: UdDeviceCounters = {
    rxFrames: 0, rxErrors: 0, rxPollErrors: 0, rxRunt: 0, rxFiltered: 0, rxOwn: 0, rxNoBuffer: 0, rxTooLong: 0, peersLearned: 0, ahErrors: 0,
    events: 0, arms: 0, txFrames: 0, txFlooded: 0, txNoPeer: 0, txTooLong: 0, txErrors: 0, txLastErrno: 0, txBusy: 0, txDummy: 0,
    txCompletionErrors: 0,
  };

  constructor(opts: UdDeviceOptions) {
    if (!isUnicastMac(opts.mac)) throw new RangeError(`UdDevice: mac must be a unicast 48-bit address, not ${opts.mac}`);
    this.port = opts.port ?? 1;
    this.qkey = (opts.qkey ?? TSVMA_QKEY) >>> 0;
    this.rxDepth = opts.rxDepth ?? 512;
    this.txDepth = opts.txDepth ?? 256;
    const maxBurst = Math.max(1, Math.min(opts.maxBurst ?? 32, this.txDepth, this.rxDepth));
    this.signalEvery = Math.max(1, Math.min(opts.signalEvery ?? 16, this.txDepth));
    const ctx = Context.open(opts.dev);
    this.ctx = ctx;
    try {
      const pa = ctx.queryPort(this.port);
      this.udMtu = mtuBytes(pa.active_mtu);
      this.gidIndex = opts.gidIndex ?? ctx.defaultGidIndex(this.port);
      this.gid = ctx.queryGid(this.port, this.gidIndex);
      this.slot = (GRH_BYTES + this.udMtu + 63) & ~63;
      this.pd = ctx.allocPd();
      this.userMemory = new UserMemory(this.pd);
      this.channel = ctx.createCompChannel();
      this.rcq = ctx.createCq(this.rxDepth, this.channel);
      this.scq = ctx.createCq(this.txDepth);
      this.qp = this.pd.createQp({ type: IBV_QPT_UD, sendCq: this.scq, recvCq: this.rcq, maxSendWr: this.txDepth, maxRecvWr: this.rxDepth, maxInlineData: 256 });
      this.qp.readyUd(this.port, this.qkey);
      this.qpn = this.qp.qpNum;
      this.maxInline = this.qp.cap.max_inline_data;
      this.rxMem = Buffer.alloc(this.rxDepth * this.slot);
      this.rxDv = new DataView(this.rxMem.buffer, this.rxMem.byteOffset, this.rxMem.byteLength);
      this.txMem = Buffer.alloc(this.txDepth * this.slot);
      this.rxMr = this.pd.regBuffer(this.rxMem);
      this.txMr = this.pd.regBuffer(this.txMem);
      this.wc = new WcArray(maxBurst);
      this.swc = new WcArray(Math.min(64, this.txDepth));
      this.rwrs = new RecvWrs(Math.max(maxBurst, Math.min(this.rxDepth, 256)));
      this.swrs = new SendWrs(maxBurst);
      // Post every receive slot, a WR array at a time.
      for (let s = 0; s < this.rxDepth;) {
        let k = 0;
        while (k < this.rwrs.length && s < this.rxDepth) this.setRecv(k++, s++);
        const rc = this.qp.postRecv(this.rwrs, k);
        if (rc !== 0) throw new Error(`UdDevice: ibv_post_recv of the initial receives failed (errno ${rc})`);
      }
      // The broadcast group (RoCE with an IPv4-mapped GID only).
      const group = (opts.group ?? TSVMA_GROUP) >>> 0;
      if (isV4Mapped(this.gid)) {
        const mgid = new Uint8Array(16);
        mgid[10] = mgid[11] = 0xff;
        new DataView(mgid.buffer).setUint32(12, group);
        this.membership = new IpMembership(group, new DataView(this.gid.buffer, this.gid.byteOffset).getUint32(12));
        this.qp.attachMcast(mgid);
        this.mgid = mgid;
        this.groupAh = this.pd.createAh({ port: this.port, dgid: mgid, sgidIndex: this.gidIndex });
      } else {
        this.mgid = null;
        this.groupAh = null;
      }
    } catch (e) {
      this.membership?.close();
      try {
        ctx.close();
      } catch {
        // the first error is the one to report
      }
      throw e;
    }
    this.waitFd = this.channel.fd;
    this.caps = Object.freeze({
      name: `verbs-ud:${opts.dev}:${this.port}`, kind: 'verbs-ud', mtu: this.udMtu - ETH_HEADER, maxBurst, mac: opts.mac,
      rxChecksum: NO_CHECKSUM_OFFLOAD, txChecksum: NO_CHECKSUM_OFFLOAD, hwTimestamps: false, dummySend: true, flowSteering: false,
    });
  }

  /** Receive WR k takes slot s. */
  private setRecv(k: number, s: number): void {
    this.rwrs.setWrId(k, s);
    this.rwrs.setSge(k, this.rxMr.addr + s * this.slot, this.slot, this.rxMr.lkey);
  }

  private mac48(dv: DataView, off: number): number {
    return dv.getUint16(off) * 0x100000000 + dv.getUint32(off + 2);
  }

  rxBurst(pool: BufferPool, max: number, now: number, sink: RxSink): number {
    if (this.closed) return 0;
    const wc = this.wc;
    const lim = max < wc.length ? max : wc.length;
    let got = this.rcq.poll(wc, lim);
    if (got <= 0) {
      if (got < 0) {
        this.counters.rxPollErrors++;
        return 0;
      }
      if ((this.empty++ & 31) === 0) this.drainEvents();
      if (this.armed) return 0;
      this.rcq.reqNotify();
      this.armed = true;
      this.counters.arms++;
      got = this.rcq.poll(wc, lim);
      if (got <= 0) return 0;
    }
    // A completion after arming fires the (one-shot) notification: arm again on the next empty poll.
    this.empty = 0;
    this.armed = false;
    const c = this.counters;
    const dv = this.rxDv;
    const own = this.caps.mac;
    let reposts = 0;
    let n = 0;
    for (let i = 0; i < got; i++) {
      const s = wc.wrId(i);
      this.setRecv(reposts++, s);
      if (wc.status(i) !== IBV_WC_SUCCESS) {
        c.rxErrors++;
        continue;
      }
      const base = s * this.slot;
      const off = base + GRH_BYTES;
      const len = wc.byteLen(i) - GRH_BYTES;
      if (len < ETH_HEADER) {
        c.rxRunt++;
        continue;
      }
      const src = this.mac48(dv, off + 6);
      if (src === own) {
        c.rxOwn++;
        continue;
      }
      const dst = this.mac48(dv, off);
      if (dst !== own && dst !== MAC_BROADCAST && !this.multicast.has(dst)) {
        c.rxFiltered++;
        continue;
      }
      this.learn(src, base, wc.srcQp(i), wc.wcFlags(i), wc.slid(i));
      const id = len > pool.bufSize ? -2 : pool.allocCopy(this.rxMem, off, len);
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
    if (reposts > 0 && !this.closed) {
      const rc = this.qp.postRecv(this.rwrs, reposts);
      if (rc !== 0) c.rxErrors += reposts;
    }
    return n;
  }

  /** Takes (and acks, batched) every queued CQ event. */
  private drainEvents(): void {
    let k = 0;
    while (this.channel.getEvent()) k++;
    if (k > 0) {
      this.counters.events += k;
      this.rcq.ackEvents(k);
    }
  }

  /** Records (or refreshes) where `mac` lives, from the GRH at rx slot `base` and the completion. Allocates only for a new peer. */
  private learn(mac: number, base: number, qpn: number, wcFlags: number, slid: number): void {
    const dv = this.rxDv;
    const v4 = (wcFlags & IBV_WC_GRH) !== 0 && this.rxMem[base + 20] >> 4 === 4;
    const ip = v4 ? dv.getUint32(base + 32) : -1;
    const p = this.peers.get(mac);
    if (p !== undefined && p.qpn === qpn && (v4 ? p.ip === ip : this.sameGid(p.gid, base + 8))) return;
    const gid = new Uint8Array(16);
    if (v4) {
      gid[10] = gid[11] = 0xff;
      new DataView(gid.buffer).setUint32(12, ip);
    } else if (wcFlags & IBV_WC_GRH) {
      gid.set(this.rxMem.subarray(base + 8, base + 24));
    }
    let ah: AH;
    try {
      ah = (wcFlags & IBV_WC_GRH) !== 0
        ? this.pd.createAh({ port: this.port, dgid: gid, sgidIndex: this.gidIndex })
        : this.pd.createAh({ port: this.port, dlid: slid });
    } catch {
      this.counters.ahErrors++;
      return;
    }
    if (p !== undefined) p.ah.close();
    else if (this.peers.size >= MAX_PEERS) {
      const [oldest, old] = this.peers.entries().next().value as [number, Peer];
      old.ah.close();
      this.peers.delete(oldest);
    }
    this.peers.set(mac, { qpn, ip, gid, ah });
    this.counters.peersLearned++;
  }

  private sameGid(g: Uint8Array, at: number): boolean {
    const m = this.rxMem;
    for (let i = 0; i < 16; i++) if (g[i] !== m[at + i]) return false;
    return true;
  }

  /** Takes send completions: each frees every slot up to and including its own. */
  private reapTx(): void {
    const swc = this.swc;
    const got = this.scq.poll(swc, swc.length);
    for (let i = 0; i < got; i++) {
      if (swc.status(i) !== IBV_WC_SUCCESS) this.counters.txCompletionErrors++;
      const s = swc.wrId(i);
      const freed = ((s - this.txTail + this.txDepth) % this.txDepth) + 1;
      this.txTail = (s + 1) % this.txDepth;
      this.inflight -= freed;
    }
  }

  txBurst(pool: BufferPool, ids: Int32Array, count: number, _now: number): number {
    if (this.closed) return count;
    if (this.inflight > 0) this.reapTx();
    const c = this.counters;
    const wrs = this.swrs;
    const dv = pool.region.dv;
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
      if (len > this.udMtu || len < ETH_HEADER) {
        c.txTooLong++;
        continue;
      }
      const fdv = pool.regionId(id) === 0 ? dv : pool.regionFor(id).dv;
      const dst = this.mac48(fdv, start);
      const peer = isUnicastMac(dst) ? this.peers.get(dst) : undefined;
      let ah: number;
      let qpn: number;
      if (peer !== undefined) {
        ah = peer.ah.addr;
        qpn = peer.qpn;
      } else if (this.groupAh !== null) {
        ah = this.groupAh.addr;
        qpn = MCAST_QPN;
        c.txFlooded++;
      } else {
        c.txNoPeer++;
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
      wrs.setUd(m, ah, qpn, this.qkey);
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

  /** Posts swrs[0, m), signalling the last (slot `lastSlot`, flags `lastFlags`) so that every burst completes. */
  private post(m: number, lastSlot: number, lastFlags: number): void {
    const c = this.counters;
    const wrs = this.swrs;
    if ((lastFlags & IBV_SEND_SIGNALED) === 0) {
      wrs.set(m - 1, lastSlot, lastFlags | IBV_SEND_SIGNALED);
      this.sinceSignal = 0;
    }
    const rc = this.qp.postSend(wrs, m);
    if (rc === 0) {
      this.inflight += m;
      c.txFrames += m;
    } else {
      // Nothing of this batch is assumed posted: give the slots back.
      c.txErrors += m;
      c.txLastErrno = rc;
      this.txHead = (this.txHead - m + this.txDepth) % this.txDepth;
    }
  }

  attachFlow(spec: FlowSpec): void {
    if (spec.kind !== 'multicast-mac') return;
    this.multicast.set(spec.mac, (this.multicast.get(spec.mac) ?? 0) + 1);
  }

  detachFlow(spec: FlowSpec): void {
    if (spec.kind !== 'multicast-mac') return;
    const r = this.multicast.get(spec.mac) ?? 0;
    if (r > 1) this.multicast.set(spec.mac, r - 1);
    else this.multicast.delete(spec.mac);
  }

  setNotify(): void {
    // The poller wakes through waitFd (the completion channel).
  }

  /** Learned peers: MAC → where it is reached (for tests and stats tools). */
  peerTable(): { mac: number; qpn: number; gid: string }[] {
    return [...this.peers].map(([mac, p]) => ({ mac, qpn: p.qpn, gid: Buffer.from(p.gid).toString('hex') }));
  }

  stats(): Readonly<Record<string, number>> {
    return { ...this.counters, peers: this.peers.size, txInflight: this.inflight };
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

  /** Idempotent: leaves the group, destroys QP, CQs, MRs, PD and context (children first). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.mgid) this.qp.detachMcast(this.mgid);
    } catch {
      // closing anyway
    }
    this.membership?.close();
    this.membership = null;
    this.peers.clear();
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
