/**
 * The `packet` device: AF_PACKET SOCK_RAW on one Linux netdev, through koffi.
 *
 * RX: a TPACKET_V2 ring (ring/packet/rx_ring.ts says why V2: per-frame hand-over, tens of µs
 * instead of V3's ≥ 1 ms block timeout). Each frame is copied once (one memcpy, no allocation) from
 * its slot into a buffer of the Ring's RX pool and the slot is given straight back to the kernel.
 * Not zero-copy: the Device interface (ring/device.ts) has the Ring own its RX pool, so the device
 * cannot hand out its mmap'd slots as pool buffers; the copy also means buffers an application
 * holds can never stall the kernel ring (which hands slots over strictly in order).
 * TX: sendmmsg(2) batches straight from the TX pool's memory (ring/packet/tx_mmsg.ts), with
 * PACKET_QDISC_BYPASS. Dummy sends (BufFlag.Dummy) run everything but that call and are counted.
 * Filtering: a classic BPF program (ring/packet/bpf.ts) passes only frames to the device's own MAC,
 * broadcast and the multicast MACs of attached flows, and never the interface's outgoing frames.
 * The own MAC joins the netdev's unicast filter with PACKET_MR_UNICAST (the NIC goes promiscuous if
 * it has no unicast filter), undone by the kernel when the socket closes: the device owns a MAC and
 * an IP of its own and never the kernel's, so it never fights the kernel for ports.
 * Namespaces: with `netns`, the socket is created inside /run/netns/NAME (setns(2) on this thread
 * around socket creation only, ring/packet/socket.ts); it stays bound there.
 * Errors: PacketError naming the call and errno; EPERM says "needs root or CAP_NET_RAW", an unknown
 * interface "no such interface 'x' (ip link show)".
 */
import { macFromIp } from '../../conf/env';
import { BufFlag, type BufferPool } from '../buffer_pool';
import { isUnicastMac, MAC_BROADCAST, NO_CHECKSUM_OFFLOAD, type Device, type DeviceCaps, type FlowSpec, type RxSink } from '../device';
import { MAX_FILTER_MACS, macFilter } from './bpf';
import {
  EAGAIN, EINTR, ENOBUFS, errno, PACKET_ADD_MEMBERSHIP, PACKET_DROP_MEMBERSHIP, PACKET_MR_MULTICAST, PACKET_MR_UNICAST,
  PACKET_QDISC_BYPASS, PACKET_VERSION, SOL_PACKET, TP_STATUS_CSUM_VALID, TP_STATUS_CSUMNOTREADY, TP_STATUS_LOSING, TP_STATUS_VLAN_VALID, TPACKET_STATS_SIZE, TPACKET_V2,
} from './libc';
import { PacketSocket } from './socket';
import { RxRing } from './rx_ring';
import { MmsgBatch } from './tx_mmsg';

export { PacketError, errnoName, inNetns } from './socket';
/** DESIGN.md TSVMA_MAC: the default MAC is locally administered and derived from the address, 02:00:a.b.c.d. */
export { macFromIp };

export interface PacketDeviceOptions {
  /** The netdev (e.g. the veth end in namespace `netns`). */
  ifname: string;
  /** The device's own MAC, a 48-bit number; never the netdev's. Default: macFromIp(ip). */
  mac?: number;
  /** The IPv4 address the stack owns on this device (only used to derive the default MAC). */
  ip?: number;
  /** Network namespace name (/run/netns/NAME) holding `ifname`. */
  netns?: string;
  /** RX ring slots (rounded up to whole 64 KiB blocks). Default 1024. */
  rxFrames?: number;
  /** Bytes per RX slot including the 32-byte TPACKET header and alignment; default 2048 (fits a 1500-byte MTU). */
  frameSize?: number;
  /** Frames per RX/TX burst the ring should use; also the sendmmsg batch size. Default 32. */
  maxBurst?: number;
}

const BLOCK = 1 << 16;

export interface PacketDeviceCounters {
  /** Frames the kernel put in the ring and drops because the ring was full (PACKET_STATISTICS, accumulated). */
  kernelPackets: number;
  kernelDrops: number;
  /** Slots whose TP_STATUS_LOSING bit said drops happened around them. */
  rxLosing: number;
  /** Frames dropped because the RX pool was empty, or a frame did not fit a pool buffer. */
  rxNoBuffer: number;
  rxTooLong: number;
  /** Frames the slot truncated (tp_snaplen < tp_len); delivered truncated. */
  rxTruncated: number;
  /** Frames whose 802.1Q tag the kernel stripped (tp_vlan_tci); delivered untagged. */
  rxVlanStripped: number;
  /** Frames whose L4 checksum the kernel vouched for (CSUM_VALID) or had not filled in yet (CSUMNOTREADY). */
  rxChecksumTrusted: number;
  txFrames: number;
  /** sendmmsg calls, and times the kernel would not take more (EAGAIN/ENOBUFS: retried later). */
  txCalls: number;
  txBusy: number;
  /** Frames the kernel refused (e.g. EMSGSIZE, ENETDOWN): dropped; txLastErrno says why. */
  txErrors: number;
  txLastErrno: number;
  /** Dummy sends stopped before the wire. */
  txDummy: number;
}

export class PacketDevice implements Device {
  readonly caps: DeviceCaps;
  readonly waitFd: number;
  /** The netdev's own MAC (the kernel's; never used by the device). */
  readonly netdevMac: number;
  private readonly sock: PacketSocket;
  private readonly rx: RxRing;
  private readonly tx: MmsgBatch;
  /** For each sendmmsg message, the index in `ids` it came from. */
  private readonly txPos: Int32Array;
  private readonly multicast = new Map<number, number>();
  private readonly counters: PacketDeviceCounters = {
    kernelPackets: 0, kernelDrops: 0, rxLosing: 0, rxNoBuffer: 0, rxTooLong: 0, rxTruncated: 0, rxVlanStripped: 0, rxChecksumTrusted: 0,
    txFrames: 0, txCalls: 0, txBusy: 0, txErrors: 0, txLastErrno: 0, txDummy: 0,
  };
  private readonly statsBuf = Buffer.alloc(TPACKET_STATS_SIZE);
  private readonly statsLen = new Uint32Array(1);
  private closed = false;

  constructor(readonly opts: PacketDeviceOptions) {
    const mac = opts.mac ?? (opts.ip !== undefined ? macFromIp(opts.ip) : undefined);
    if (mac === undefined) throw new TypeError('PacketDevice: give `mac` or `ip` (the default MAC is derived from the address)');
    if (!isUnicastMac(mac)) {
      throw new RangeError(`PacketDevice: mac must be a unicast 48-bit address, not ${mac}`);
    }
    const maxBurst = opts.maxBurst ?? 32;
    const sock = new PacketSocket(opts.ifname, opts.netns);
    try {
      this.netdevMac = sock.hwaddr();
      if (this.netdevMac === mac) {
        throw new RangeError(`PacketDevice: mac is ${opts.ifname}'s own address; the packet device needs a MAC of its own (the kernel keeps the netdev's)`);
      }
      sock.setInt(SOL_PACKET, PACKET_VERSION, TPACKET_V2, 'PACKET_VERSION');
      this.sock = sock;
      this.caps = Object.freeze({
        name: `packet:${opts.ifname}`, kind: 'packet', mtu: sock.mtu(), maxBurst, mac,
        rxChecksum: NO_CHECKSUM_OFFLOAD, txChecksum: NO_CHECKSUM_OFFLOAD, hwTimestamps: false, dummySend: true, flowSteering: false,
      });
      this.installFilter();
      this.rx = new RxRing(sock, { frames: opts.rxFrames ?? 1024, frameSize: opts.frameSize ?? 2048, blockSize: BLOCK });
      sock.setInt(SOL_PACKET, PACKET_QDISC_BYPASS, 1, 'PACKET_QDISC_BYPASS');
      sock.membership(PACKET_ADD_MEMBERSHIP, PACKET_MR_UNICAST, mac, 'PACKET_ADD_MEMBERSHIP');
      sock.bind();
    } catch (e) {
      sock.close();
      throw e;
    }
    this.tx = new MmsgBatch(Math.max(1, Math.min(maxBurst, 1024)));
    this.txPos = new Int32Array(this.tx.capacity);
    this.waitFd = sock.fd;
  }

  /** The MACs the filter passes: own, broadcast, joined multicast. */
  private installFilter(): void {
    this.sock.attachFilter(macFilter([this.caps.mac, MAC_BROADCAST, ...this.multicast.keys()]));
  }

  rxBurst(pool: BufferPool, max: number, now: number, sink: RxSink): number {
    if (this.closed) return 0;
    const rx = this.rx;
    const c = this.counters;
    let n = 0;
    while (n < max) {
      const slot = rx.next();
      if (slot < 0) break;
      const st = rx.status(slot);
      const off = rx.dataOffset(slot);
      const len = rx.captured(slot);
      if (st & TP_STATUS_LOSING) c.rxLosing++;
      if (st & TP_STATUS_VLAN_VALID) c.rxVlanStripped++;
      if (len < rx.wireLength(slot)) c.rxTruncated++;
      const id = len > pool.bufSize ? -2 : pool.allocCopy(rx.bytes, off, len);
      rx.release(slot);
      if (id < 0) {
        if (id === -2) c.rxTooLong++;
        else c.rxNoBuffer++;
        continue;
      }
      pool.setTimestamp(id, now);
      if (st & (TP_STATUS_CSUMNOTREADY | TP_STATUS_CSUM_VALID)) {
        pool.setFlags(id, BufFlag.RxL4ChecksumOk);
        c.rxChecksumTrusted++;
      }
      n++;
      sink(id, now);
    }
    return n;
  }

  txBurst(pool: BufferPool, ids: Int32Array, count: number, _now: number): number {
    if (this.closed) return count;
    const tx = this.tx;
    const pos = this.txPos;
    const c = this.counters;
    tx.useRegion(pool.buf);
    let took = 0;
    while (took < count) {
      let m = 0;
      for (let j = took; j < count && m < tx.capacity; j++) {
        const id = ids[j];
        if (pool.flags(id) & BufFlag.Dummy) continue;
        const start = pool.start(id);
        tx.set(m, start, pool.end(id) - start);
        pos[m++] = j;
      }
      // Everything from `took` up to `end` is taken (sent, or dummy, or refused and dropped).
      let end: number;
      /** Frames of [took, end) handed to sendmmsg (sent, or refused); the rest of that range are dummies. */
      let msgs = 0;
      let busy = false;
      if (m === 0) {
        end = count;
      } else {
        c.txCalls++;
        const r = tx.send(this.sock.fd, m);
        if (r > 0) {
          c.txFrames += r;
          msgs = r;
          end = pos[r - 1] + 1;
          busy = r < m;
        } else {
          const e = errno();
          if (e === EAGAIN || e === ENOBUFS || e === EINTR) {
            c.txBusy++;
            end = pos[0];
            busy = true;
          } else {
            // The first frame was refused (EMSGSIZE, ENETDOWN, …): drop it, or it blocks the queue forever.
            c.txErrors++;
            c.txLastErrno = e;
            end = pos[0] + 1;
            msgs = 1;
          }
        }
      }
      c.txDummy += end - took - msgs;
      took = end;
      if (busy) break;
    }
    return took;
  }

  attachFlow(spec: FlowSpec): void {
    if (spec.kind !== 'multicast-mac') return;
    const refs = this.multicast.get(spec.mac) ?? 0;
    if (refs === 0 && this.multicast.size + 2 >= MAX_FILTER_MACS) throw new RangeError(`PacketDevice: at most ${MAX_FILTER_MACS - 2} multicast MACs`);
    this.multicast.set(spec.mac, refs + 1);
    if (refs === 0 && !this.closed) {
      this.sock.membership(PACKET_ADD_MEMBERSHIP, PACKET_MR_MULTICAST, spec.mac, 'PACKET_ADD_MEMBERSHIP');
      this.installFilter();
    }
  }

  detachFlow(spec: FlowSpec): void {
    if (spec.kind !== 'multicast-mac') return;
    const refs = this.multicast.get(spec.mac) ?? 0;
    if (refs > 1) this.multicast.set(spec.mac, refs - 1);
    else if (refs === 1) {
      this.multicast.delete(spec.mac);
      if (!this.closed) {
        this.installFilter();
        this.sock.membership(PACKET_DROP_MEMBERSHIP, PACKET_MR_MULTICAST, spec.mac, 'PACKET_DROP_MEMBERSHIP');
      }
    }
  }

  /** Whether a received frame waits in the kernel ring (no FFI call). */
  get rxReady(): boolean {
    return !this.closed && this.rx.ready;
  }

  setNotify(): void {
    // The packet device wakes its poller through waitFd.
  }

  /** Device counters; kernel counters are read (PACKET_STATISTICS resets them) and accumulated here. */
  stats(): Readonly<Record<string, number>> {
    if (this.sock.statistics(this.statsBuf, this.statsLen)) {
      this.counters.kernelPackets += this.statsBuf.readUInt32LE(0);
      this.counters.kernelDrops += this.statsBuf.readUInt32LE(4);
    }
    return { ...this.counters };
  }

  /**
   * Idempotent. Unmaps the ring and closes the socket; the ring's views are private to this device
   * and unused once `closed` is set (rxBurst/txBurst return at once), so nothing can touch the
   * unmapped memory — callers must not keep views of their own over it.
   */
  close(): void {
    if (this.closed) return;
    this.stats();
    this.closed = true;
    this.sock.close();
    this.tx.free();
  }
}
