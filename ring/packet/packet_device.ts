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
 * Offloads (`offload`, default on): PACKET_VNET_HDR puts a struct virtio_net_hdr in front of every
 * frame both ways. TX: TCP checksums are left to the kernel (NEEDS_CSUM with the pseudo-header sum in
 * the field, which the device writes), and a TX buffer may hold a TCP packet of up to 64 KiB with
 * its MSS in the pool cookie (ring/device.ts), sent as one GSO_TCPV4 frame: the kernel, or the
 * peer's veth receive path, segments it (or keeps it whole: a veth peer's TCP takes it as is). Not
 * with PACKET_QDISC_BYPASS: that path drops a GSO frame the netdev cannot segment itself (veth with
 * `ethtool -K tx off`), where the qdisc path segments it in software. RX: the kernel's own GSO
 * frames (a local TCP sender with TSO, up to 64 KiB, checksum partial) do not fit a 2 KiB slot, so
 * PACKET_COPY_THRESH has the kernel queue a full copy on the socket (the slot says TP_STATUS_COPY),
 * read with one recv(2); the device cuts such a frame back into MSS-sized TCP segments in RX pool
 * buffers (headers copied and fixed up; the L4 checksum trusted, as the vnet header says). Frames
 * whose vnet header says NEEDS_CSUM or DATA_VALID are flagged BufFlag.RxL4ChecksumOk. Chosen over
 * 64 KiB+ slots (docs/benchmarks.md, last section): same throughput, 2 KiB slots keep the ring small.
 * Errors: PacketError naming the call and errno; EPERM says "needs root or CAP_NET_RAW", an unknown
 * interface "no such interface 'x' (ip link show)".
 */
import koffi from 'koffi';
import { macFromIp } from '../../conf/env';
import { BufFlag, type BufferPool } from '../buffer_pool';
import { isUnicastMac, MAC_BROADCAST, NO_CHECKSUM_OFFLOAD, type Device, type DeviceCaps, type FlowSpec, type RxSink } from '../device';
import { MAX_FILTER_MACS, macFilter } from './bpf';
import {
  EAGAIN, EINTR, ENOBUFS, errno, libc, MSG_DONTWAIT, MSG_TRUNC, PACKET_ADD_MEMBERSHIP, PACKET_COPY_THRESH, PACKET_DROP_MEMBERSHIP, PACKET_MR_MULTICAST,
  PACKET_MR_UNICAST, PACKET_QDISC_BYPASS, PACKET_VERSION, PACKET_VNET_HDR, SO_RCVBUF, SO_RCVBUFFORCE, SOL_PACKET, SOL_SOCKET, TP_STATUS_COPY,
  TP_STATUS_CSUM_VALID, TP_STATUS_CSUMNOTREADY, TP_STATUS_LOSING, TP_STATUS_VLAN_VALID, TPACKET_STATS_SIZE, TPACKET_V2, VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VNET_GSO_SIZE, VNET_GSO_TYPE, VNET_HDR_SIZE,
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
  /**
   * Checksum and segmentation offload through PACKET_VNET_HDR (see above). Default true; false keeps
   * plain frames (software checksums, MTU-sized frames only, PACKET_QDISC_BYPASS).
   */
  offload?: boolean;
  /** With offload: the socket receive buffer holding full copies of coalesced frames (SO_RCVBUFFORCE, else SO_RCVBUF). Default 8 MiB. */
  rcvbuf?: number;
}

/** TSO packets the device takes: the largest IPv4 packet. */
const TSO_MAX = 0xffff;
/** A received coalesced frame: 64 KiB of IPv4 plus Ethernet, VLAN tag and vnet header (BIG TCP frames are larger and counted as lost). */
const COPY_BUF = 65536 + 64;
/** RX buffer headroom for a frame read whole: the vnet header goes in front of it. */
const LRO_HEADROOM = 16;
const ETH_HLEN = 14;
const ETHERTYPE_IPV4 = 0x0800;
const IPPROTO_TCP = 6;
const TCP_CHECK = 16;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;
/** With offload, the kernel finishes TCP checksums (NEEDS_CSUM); UDP keeps software checksums (fragmented datagrams could not be offloaded). */
const TCP_CHECKSUM_OFFLOAD = Object.freeze({ ipv4: false, udp: false, tcp: true });

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
  /** Offload: coalesced (GSO) frames received, and the segments cut from them. */
  rxGso: number;
  rxGsoSegments: number;
  /** Offload: frames read whole from the socket queue (TP_STATUS_COPY), and COPY frames whose copy was missing. */
  rxCopied: number;
  rxCopyLost: number;
  /** Offload: coalesced frames that were not Ethernet/IPv4/TCP as GSO_TCPV4 says (dropped). */
  rxGsoMalformed: number;
  /** Offload: TCP packets sent for the kernel to segment (GSO_TCPV4), and frames sent with NEEDS_CSUM. */
  txTso: number;
  txChecksumOffload: number;
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
    rxGso: 0, rxGsoSegments: 0, rxCopied: 0, rxCopyLost: 0, rxGsoMalformed: 0, txTso: 0, txChecksumOffload: 0,
  };
  /** Whether the socket has PACKET_VNET_HDR (offload on). */
  readonly vnet: boolean;
  /** Where a TP_STATUS_COPY frame is read to (vnet header first) when RX buffers cannot hold it. */
  private readonly copyBuf: Buffer;
  /** The RX pool large receive reads into, and its memory's address (as a Number: < 2^47). */
  private lroPool: BufferPool | null = null;
  private lroAddr = 0;
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
      // PACKET_VNET_HDR must come before the ring; a kernel without it leaves the device plain.
      let vnet = opts.offload ?? true;
      if (vnet) {
        try {
          sock.setInt(SOL_PACKET, PACKET_VNET_HDR, 1, 'PACKET_VNET_HDR');
        } catch {
          vnet = false;
        }
      }
      this.vnet = vnet;
      this.sock = sock;
      this.caps = Object.freeze({
        name: `packet:${opts.ifname}`, kind: 'packet', mtu: sock.mtu(), maxBurst, mac,
        rxChecksum: NO_CHECKSUM_OFFLOAD, txChecksum: vnet ? TCP_CHECKSUM_OFFLOAD : NO_CHECKSUM_OFFLOAD, hwTimestamps: false, dummySend: true, flowSteering: false,
        tsoMax: vnet ? TSO_MAX : 0, rxFrameMax: vnet ? COPY_BUF - VNET_HDR_SIZE : 0,
      });
      this.installFilter();
      const frameSize = opts.frameSize ?? 2048;
      this.rx = new RxRing(sock, { frames: opts.rxFrames ?? 1024, frameSize, blockSize: Math.max(BLOCK, frameSize) });
      if (vnet) {
        sock.setInt(SOL_PACKET, PACKET_COPY_THRESH, 1, 'PACKET_COPY_THRESH');
        const rcvbuf = opts.rcvbuf ?? 8 << 20;
        try {
          sock.setInt(SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf, 'SO_RCVBUFFORCE');
        } catch {
          sock.setInt(SOL_SOCKET, SO_RCVBUF, rcvbuf, 'SO_RCVBUF');
        }
      } else {
        sock.setInt(SOL_PACKET, PACKET_QDISC_BYPASS, 1, 'PACKET_QDISC_BYPASS');
      }
      sock.membership(PACKET_ADD_MEMBERSHIP, PACKET_MR_UNICAST, mac, 'PACKET_ADD_MEMBERSHIP');
      sock.bind();
    } catch (e) {
      sock.close();
      throw e;
    }
    this.tx = new MmsgBatch(Math.max(1, Math.min(maxBurst, 1024)), this.vnet);
    this.copyBuf = Buffer.alloc(this.vnet ? COPY_BUF : 0);
    this.txPos = new Int32Array(this.tx.capacity);
    this.waitFd = sock.fd;
  }

  /** The MACs the filter passes: own, broadcast, joined multicast. */
  private installFilter(): void {
    this.sock.attachFilter(macFilter([this.caps.mac, MAC_BROADCAST, ...this.multicast.keys()]));
  }

  rxBurst(pool: BufferPool, max: number, now: number, sink: RxSink): number {
    if (this.closed) return 0;
    if (this.vnet) return this.rxBurstVnet(pool, max, now, sink);
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

  /**
   * rxBurst with PACKET_VNET_HDR: the virtio_net_hdr sits just before the frame in the slot
   * (tp_mac - 10), or first in the full copy the kernel queued for a frame the slot could not hold
   * (TP_STATUS_COPY). A GSO_TCPV4 frame is cut into its segments (all handed up in this burst).
   */
  private rxBurstVnet(pool: BufferPool, max: number, now: number, sink: RxSink): number {
    const rx = this.rx;
    const c = this.counters;
    let n = 0;
    while (n < max) {
      const slot = rx.next();
      if (slot < 0) break;
      const st = rx.status(slot);
      if (st & TP_STATUS_LOSING) c.rxLosing++;
      if (st & TP_STATUS_VLAN_VALID) c.rxVlanStripped++;
      let src: Buffer = rx.bytes;
      let off = rx.dataOffset(slot);
      let len = rx.captured(slot);
      if (st & TP_STATUS_COPY) {
        // The slot holds the head only; the whole frame (vnet header first) waits on the socket queue, in ring order.
        rx.release(slot);
        if (pool.bufSize >= COPY_BUF + LRO_HEADROOM) {
          // Large receive: read it straight into an RX buffer and hand it up whole.
          n += this.rxCopyWhole(pool, now, sink);
          continue;
        }
        const got = Number(libc().recv(this.sock.fd, this.copyBuf, COPY_BUF, MSG_DONTWAIT | MSG_TRUNC));
        if (got < VNET_HDR_SIZE + ETH_HLEN || got > COPY_BUF) {
          if (got > COPY_BUF) c.rxTooLong++;
          else c.rxCopyLost++;
          continue;
        }
        c.rxCopied++;
        src = this.copyBuf;
        off = VNET_HDR_SIZE;
        len = got - VNET_HDR_SIZE;
      } else if (len < rx.wireLength(slot)) {
        c.rxTruncated++;
      }
      const h = off - VNET_HDR_SIZE;
      const vflags = src[h];
      const gsoType = src[h + VNET_GSO_TYPE] & ~VIRTIO_NET_HDR_GSO_ECN;
      const trusted = (vflags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) !== 0 || (st & (TP_STATUS_CSUMNOTREADY | TP_STATUS_CSUM_VALID)) !== 0;
      if (gsoType === VIRTIO_NET_HDR_GSO_TCPV4 && len > pool.bufSize) {
        n += this.splitTcp(pool, src, off, len, src.readUInt16LE(h + VNET_GSO_SIZE), now, sink);
        if (src === rx.bytes) rx.release(slot);
        continue;
      }
      const id = len > pool.bufSize ? -2 : pool.allocCopy(src, off, len);
      if (src === rx.bytes) rx.release(slot);
      if (id < 0) {
        if (id === -2) c.rxTooLong++;
        else c.rxNoBuffer++;
        continue;
      }
      pool.setTimestamp(id, now);
      if (trusted) {
        pool.setFlags(id, BufFlag.RxL4ChecksumOk);
        c.rxChecksumTrusted++;
      }
      n++;
      sink(id, now);
    }
    return n;
  }

  /**
   * Reads the frame waiting on the socket queue (a TP_STATUS_COPY frame) into a fresh RX buffer, its
   * vnet header in the headroom, and hands it up whole (a coalesced TCP frame stays one segment:
   * the stack takes segments of any length). Returns the frames handed up (0 or 1).
   */
  private rxCopyWhole(pool: BufferPool, now: number, sink: RxSink): number {
    const c = this.counters;
    const id = pool.alloc(LRO_HEADROOM);
    if (id < 0) {
      // Take the frame off the queue all the same, or the queue and the ring drift apart.
      libc().recv(this.sock.fd, this.copyBuf, COPY_BUF, MSG_DONTWAIT);
      c.rxNoBuffer++;
      return 0;
    }
    if (this.lroPool !== pool) {
      this.lroPool = pool;
      this.lroAddr = Number(koffi.address(pool.buf) as bigint);
    }
    const at = pool.start(id) - VNET_HDR_SIZE;
    const room = pool.slotEnd(id) - at;
    const got = Number(libc().recv(this.sock.fd, BigInt(this.lroAddr + at), room, MSG_DONTWAIT | MSG_TRUNC));
    if (got < VNET_HDR_SIZE + ETH_HLEN || got > room) {
      pool.release(id);
      if (got > room) c.rxTooLong++;
      else c.rxCopyLost++;
      return 0;
    }
    c.rxCopied++;
    pool.append(id, got - VNET_HDR_SIZE);
    const u8 = pool.region.u8;
    if ((u8[at + VNET_GSO_TYPE] & ~VIRTIO_NET_HDR_GSO_ECN) !== VIRTIO_NET_HDR_GSO_NONE) c.rxGso++;
    pool.setTimestamp(id, now);
    if ((u8[at] & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) !== 0) {
      pool.setFlags(id, BufFlag.RxL4ChecksumOk);
      c.rxChecksumTrusted++;
    }
    sink(id, now);
    return 1;
  }

  /**
   * Cuts a GSO_TCPV4 frame (Ethernet, IPv4, TCP; `gso` payload bytes per segment) into segments as
   * Linux's tcp_gso_segment would: the same headers with the IPv4 total length, ident (+1 per
   * segment) and header checksum and the TCP sequence number fixed up, FIN/PSH on the last segment
   * only, CWR on the first only. The TCP checksum is not computed: the vnet header vouches for the
   * data (a local sender's partial checksum), so each segment is flagged RxL4ChecksumOk. Returns the
   * segments handed to `sink`.
   */
  private splitTcp(pool: BufferPool, src: Buffer, off: number, len: number, gso: number, now: number, sink: RxSink): number {
    const c = this.counters;
    const ip = off + ETH_HLEN;
    const ihl = (src[ip] & 15) << 2;
    const tcp = ip + ihl;
    const doff = len >= ETH_HLEN + 40 ? (src[tcp + 12] >>> 4) << 2 : 0;
    const hl = ETH_HLEN + ihl + doff;
    if (len < ETH_HLEN + 40 || src.readUInt16BE(off + 12) !== ETHERTYPE_IPV4 || (src[ip] >>> 4) !== 4 || ihl < 20 || src[ip + 9] !== IPPROTO_TCP
      || doff < 20 || hl >= len || gso <= 0 || hl + gso > pool.bufSize) {
      c.rxGsoMalformed++;
      return 0;
    }
    c.rxGso++;
    const payload = len - hl;
    const ident = src.readUInt16BE(ip + 4);
    const seq0 = src.readUInt32BE(tcp + 4);
    const flags = src[tcp + 13];
    const dv = pool.region.dv;
    const u8 = pool.region.u8;
    let k = 0;
    let n = 0;
    for (let p = 0; p < payload; p += gso, k++) {
      const plen = payload - p < gso ? payload - p : gso;
      // Copy hl bytes before this segment's payload along with it (one copy), then put the headers over them.
      const id = pool.allocCopy(src, off + p, hl + plen);
      if (id < 0) {
        c.rxNoBuffer++;
        continue;
      }
      const d = pool.start(id);
      if (p > 0) for (let i = 0; i < hl; i++) u8[d + i] = src[off + i];
      const dip = d + ETH_HLEN;
      dv.setUint16(dip + 2, ihl + doff + plen);
      dv.setUint16(dip + 4, (ident + k) & 0xffff);
      dv.setUint16(dip + 10, 0);
      let sum = 0;
      for (let i = 0; i < ihl; i += 2) sum += dv.getUint16(dip + i);
      sum = (sum & 0xffff) + (sum >>> 16);
      sum = (sum & 0xffff) + (sum >>> 16);
      dv.setUint16(dip + 10, ~sum & 0xffff);
      const dt = dip + ihl;
      dv.setUint32(dt + 4, (seq0 + p) >>> 0);
      let f = flags;
      if (p + plen < payload) f &= ~(TCP_FIN | TCP_PSH);
      if (k > 0) f &= ~TCP_CWR;
      u8[dt + 13] = f;
      pool.setTimestamp(id, now);
      pool.setFlags(id, BufFlag.RxL4ChecksumOk);
      c.rxGsoSegments++;
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
    const vnet = this.vnet;
    tx.useRegion(pool.buf);
    let took = 0;
    while (took < count) {
      let m = 0;
      for (let j = took; j < count && m < tx.capacity; j++) {
        const id = ids[j];
        if (pool.flags(id) & BufFlag.Dummy) continue;
        const start = pool.start(id);
        const len = pool.end(id) - start;
        tx.set(m, start, len);
        if (vnet) this.txOffload(pool, id, start, len, m);
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

  /**
   * Message m's virtio_net_hdr: an unfragmented IPv4/TCP frame gets NEEDS_CSUM (the pseudo-header
   * sum written into its checksum field, as Linux's tcp_v4_send_check leaves it for the device) and,
   * when its pool cookie holds an MSS smaller than its payload, GSO_TCPV4; anything else none.
   */
  private txOffload(pool: BufferPool, id: number, start: number, len: number, m: number): void {
    const dv = pool.region.dv;
    const ip = start + ETH_HLEN;
    if (len >= ETH_HLEN + 40 && dv.getUint16(start + 12) === ETHERTYPE_IPV4 && dv.getUint8(ip + 9) === IPPROTO_TCP && (dv.getUint16(ip + 6) & 0x3fff) === 0) {
      const ihl = (dv.getUint8(ip) & 15) << 2;
      const tcp = ip + ihl;
      const l4len = dv.getUint16(ip + 2) - ihl;
      let sum = dv.getUint16(ip + 12) + dv.getUint16(ip + 14) + dv.getUint16(ip + 16) + dv.getUint16(ip + 18) + IPPROTO_TCP + l4len;
      sum = (sum & 0xffff) + (sum >>> 16);
      sum = (sum & 0xffff) + (sum >>> 16);
      dv.setUint16(tcp + TCP_CHECK, sum);
      this.counters.txChecksumOffload++;
      const gso = pool.cookie(id);
      const hlen = ETH_HLEN + ihl + ((dv.getUint8(tcp + 12) >>> 4) << 2);
      if (gso > 0 && len - hlen > gso) {
        this.counters.txTso++;
        const ecn = dv.getUint8(tcp + 13) & TCP_CWR ? VIRTIO_NET_HDR_GSO_ECN : 0;
        this.tx.setVnet(m, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4 | ecn, hlen, gso, ETH_HLEN + ihl, TCP_CHECK);
      } else {
        this.tx.setVnet(m, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, ETH_HLEN + ihl, TCP_CHECK);
      }
      return;
    }
    this.tx.setVnet(m, 0, 0, 0, 0, 0, 0);
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
