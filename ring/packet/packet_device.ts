/**
 * The `packet` device: AF_PACKET on any Linux netdev, through koffi.
 *
 * RX: a TPACKET_V2 ring mmap'd once. TPACKET_V3 would batch better, but it hands a block to user
 * space only when the block is full or its retire timeout (≥ 1 ms) expires: measured p50 574 µs /
 * p99 1.04 ms at tov = 1 ms against 32-60 µs / 133-143 µs for V2 (../shared/reference/koffi-notes.md
 * §4). V2 hands over each frame as it lands, and latency is the point of VMA. Each frame is copied
 * (one memcpy) into the ring's RX pool and its slot given straight back to the kernel, so an
 * application holding buffers can never stall the kernel ring.
 * TX: a TPACKET_V2 TX ring in the same mapping; frames are copied into slots, marked
 * SEND_REQUEST, and one send() per burst kicks the kernel (PACKET_QDISC_BYPASS on).
 * Filtering: a classic BPF program passes only frames to the device's own MAC, broadcast, and the
 * multicast MACs of attached flows; the own MAC is added to the netdev's unicast filter with
 * PACKET_MR_UNICAST (undone when the socket closes), so the kernel's own MAC and IP stay the kernel's.
 * A namespace: with `netns`, the socket is created inside /run/netns/NAME (setns(2) on this thread
 * around socket creation only); it stays bound there.
 */
import { BufFlag, type BufferPool } from '../buffer_pool';
import { NO_CHECKSUM_OFFLOAD, type Device, type DeviceCaps, type FlowSpec, type RxSink } from '../device';
import {
  AF_PACKET, addressOf, CLONE_NEWNET, EAGAIN, errno, errnoName, ETH_P_ALL_BE, libc, MAP_FAILED, MAP_SHARED, MSG_DONTWAIT, O_CLOEXEC,
  O_RDONLY, PACKET_ADD_MEMBERSHIP, PACKET_DROP_MEMBERSHIP, PACKET_MR_MULTICAST, PACKET_MR_UNICAST, PACKET_QDISC_BYPASS, PACKET_RX_RING,
  PACKET_STATISTICS, PACKET_TX_RING, PACKET_VERSION, PROT_READ, PROT_WRITE, SIOCGIFMTU, SO_ATTACH_FILTER, SOCK_CLOEXEC, SOCK_NONBLOCK,
  SOCK_RAW, SOL_PACKET, SOL_SOCKET, strerror, TP_STATUS_AVAILABLE, TP_STATUS_KERNEL, TP_STATUS_SEND_REQUEST, TP_STATUS_USER,
  TP_STATUS_WRONG_FORMAT, TPACKET2_TX_DATA, TPACKET_V2, viewOf,
} from './libc';

export class PacketError extends Error {
  constructor(readonly fn: string, readonly errno: number, readonly code: string, hint = '') {
    super(`${fn}: ${code} (${strerror(errno)})${hint ? `: ${hint}` : ''}`);
    this.name = 'PacketError';
  }
}

function fail(fn: string, hint = ''): never {
  const e = errno();
  const code = errnoName(e);
  const h = hint || (code === 'EPERM' || code === 'EACCES' ? 'the packet device needs root or CAP_NET_RAW' : '');
  throw new PacketError(fn, e, code, h);
}

export interface PacketDeviceOptions {
  ifname: string;
  /** The device's own MAC (tsvma owns it; never the netdev's). */
  mac: number;
  /** Network namespace name (/run/netns/NAME) holding `ifname`. */
  netns?: string;
  /** RX ring frames (rounded up to whole blocks). */
  rxFrames?: number;
  /** TX ring frames. */
  txFrames?: number;
  /** Slot size: frame + TPACKET header (2048 fits a 1500-byte MTU). */
  frameSize?: number;
  maxBurst?: number;
}

const BLOCK = 1 << 16;

/** Runs `fn` with this thread in network namespace `name`. */
function inNetns<T>(name: string | undefined, fn: () => T): T {
  if (!name) return fn();
  const c = libc();
  const self = c.open('/proc/self/ns/net', O_RDONLY | O_CLOEXEC) as number;
  if (self < 0) fail('open(/proc/self/ns/net)');
  const target = c.open(`/run/netns/${name}`, O_RDONLY | O_CLOEXEC) as number;
  if (target < 0) {
    c.close(self);
    fail(`open(/run/netns/${name})`, `no network namespace '${name}' (ip netns list)`);
  }
  let back = true;
  try {
    if (c.setns(target, CLONE_NEWNET) !== 0) fail('setns');
    try {
      return fn();
    } finally {
      back = c.setns(self, CLONE_NEWNET) === 0;
    }
  } finally {
    c.close(target);
    c.close(self);
    // Not returning to the original namespace would leave every later socket of this thread in the
    // wrong one: that is not recoverable.
    if (!back) process.abort();
  }
}

function macBytes(mac: number): number[] {
  const out: number[] = [];
  for (let i = 5; i >= 0; i--) out.push(Math.floor(mac / 2 ** (8 * i)) % 256);
  return out;
}

/** A classic BPF program: accept frames whose destination MAC is one of `macs`, drop the rest. */
export function macFilter(macs: readonly number[]): Buffer {
  const n = macs.length;
  if (n > 60) throw new RangeError('too many MACs for the packet filter');
  const prog = Buffer.alloc((4 * n + 2) * 8);
  let i = 0;
  const ins = (code: number, jt: number, jf: number, k: number): void => {
    prog.writeUInt16LE(code, i * 8);
    prog.writeUInt8(jt, i * 8 + 2);
    prog.writeUInt8(jf, i * 8 + 3);
    prog.writeUInt32LE(k >>> 0, i * 8 + 4);
    i++;
  };
  macs.forEach((mac, k) => {
    const hi = Math.floor(mac / 0x10000);
    const lo = mac % 0x10000;
    ins(0x20, 0, 0, 0); // ld [0]
    ins(0x15, 0, 2, hi); // jeq #hi, next, skip to the next MAC
    ins(0x28, 0, 0, 4); // ldh [4]
    ins(0x15, 4 * (n - k) - 3, 0, lo); // jeq #lo → accept
  });
  ins(0x06, 0, 0, 0); // ret #0: drop
  ins(0x06, 0, 0, 0x40000); // ret #262144: accept
  return prog;
}

export class PacketDevice implements Device {
  readonly caps: DeviceCaps;
  readonly waitFd: number;
  readonly ifindex: number;
  private readonly fd: number;
  private readonly base: bigint;
  private readonly mapLen: number;
  private readonly rxFrames: number;
  private readonly txFrames: number;
  private readonly frameSize: number;
  private readonly rx: Buffer;
  private readonly rxStatus: Int32Array;
  private readonly tx: Buffer;
  private readonly txStatus: Int32Array;
  private rxCur = 0;
  private txCur = 0;
  private closed = false;
  private readonly multicast = new Map<number, number>();
  private readonly counters = { rxNoBuffer: 0, kernelPackets: 0, kernelDrops: 0, txRingFull: 0, txWrongFormat: 0, txKickErrors: 0, txDummy: 0, rxTruncated: 0 };
  private readonly statsBuf = Buffer.alloc(8);
  private readonly statsLen = new Uint32Array(1);

  constructor(readonly opts: PacketDeviceOptions) {
    const c = libc();
    this.frameSize = opts.frameSize ?? 2048;
    if (BLOCK % this.frameSize !== 0) throw new RangeError(`frameSize must divide ${BLOCK}`);
    const perBlock = BLOCK / this.frameSize;
    const rxBlocks = Math.ceil((opts.rxFrames ?? 1024) / perBlock);
    const txBlocks = Math.ceil((opts.txFrames ?? 256) / perBlock);
    this.rxFrames = rxBlocks * perBlock;
    this.txFrames = txBlocks * perBlock;
    this.mapLen = (rxBlocks + txBlocks) * BLOCK;
    const name = opts.ifname;
    let fd = -1;
    let ifindex = 0;
    let mtu = 1500;
    inNetns(opts.netns, () => {
      // Protocol 0: receive nothing until the ring and filter are ready and bind() names ETH_P_ALL.
      fd = c.socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) as number;
      if (fd < 0) fail('socket(AF_PACKET)');
      ifindex = c.if_nametoindex(name) as number;
      if (ifindex === 0) {
        c.close(fd);
        fail(`if_nametoindex(${name})`, `no such interface '${name}'${opts.netns ? ` in namespace ${opts.netns}` : ''} (ip link show)`);
      }
    });
    this.fd = fd;
    this.waitFd = fd;
    this.ifindex = ifindex;
    try {
      const ifr = Buffer.alloc(40);
      ifr.write(name, 0, 15, 'latin1');
      if (c.ioctl(fd, SIOCGIFMTU, 'void *', ifr) === 0) mtu = ifr.readInt32LE(16);
      this.setInt(PACKET_VERSION, TPACKET_V2, 'setsockopt(PACKET_VERSION)');
      this.installFilter();
      const req = Buffer.alloc(16);
      req.writeUInt32LE(BLOCK, 0);
      req.writeUInt32LE(rxBlocks, 4);
      req.writeUInt32LE(this.frameSize, 8);
      req.writeUInt32LE(this.rxFrames, 12);
      if (c.setsockopt(fd, SOL_PACKET, PACKET_RX_RING, req, 16) !== 0) fail('setsockopt(PACKET_RX_RING)');
      req.writeUInt32LE(txBlocks, 4);
      req.writeUInt32LE(this.txFrames, 12);
      if (c.setsockopt(fd, SOL_PACKET, PACKET_TX_RING, req, 16) !== 0) fail('setsockopt(PACKET_TX_RING)');
      this.setInt(PACKET_QDISC_BYPASS, 1, 'setsockopt(PACKET_QDISC_BYPASS)');
      const base = c.mmap(null, this.mapLen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) as bigint;
      if (base === null || base === MAP_FAILED) fail('mmap(packet ring)');
      this.base = base;
      const ab = viewOf(base, this.mapLen);
      const rxLen = rxBlocks * BLOCK;
      this.rx = Buffer.from(ab, 0, rxLen);
      this.tx = Buffer.from(ab, rxLen, txBlocks * BLOCK);
      this.rxStatus = new Int32Array(ab, 0, rxLen / 4);
      this.txStatus = new Int32Array(ab, rxLen, (txBlocks * BLOCK) / 4);
      this.membership(PACKET_ADD_MEMBERSHIP, PACKET_MR_UNICAST, opts.mac);
      const sll = Buffer.alloc(20);
      sll.writeUInt16LE(AF_PACKET, 0);
      sll.writeUInt16LE(ETH_P_ALL_BE, 2);
      sll.writeInt32LE(ifindex, 4);
      if (c.bind(fd, sll, 20) !== 0) fail(`bind(${name})`);
    } catch (e) {
      c.close(fd);
      throw e;
    }
    this.caps = Object.freeze({
      name: `packet:${name}`, kind: 'packet', mtu, maxBurst: opts.maxBurst ?? 32, mac: opts.mac,
      rxChecksum: NO_CHECKSUM_OFFLOAD, txChecksum: NO_CHECKSUM_OFFLOAD, hwTimestamps: false, dummySend: true, flowSteering: false,
    });
  }

  private setInt(opt: number, v: number, what: string): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    if (libc().setsockopt(this.fd, SOL_PACKET, opt, b, 4) !== 0) fail(what);
  }

  private membership(op: number, type: number, mac: number): void {
    const m = Buffer.alloc(16);
    m.writeInt32LE(this.ifindex, 0);
    m.writeUInt16LE(type, 4);
    m.writeUInt16LE(6, 6);
    Buffer.from(macBytes(mac)).copy(m, 8);
    if (libc().setsockopt(this.fd, SOL_PACKET, op, m, 16) !== 0) fail('setsockopt(PACKET_ADD_MEMBERSHIP)');
  }

  private installFilter(): void {
    const prog = macFilter([this.opts.mac, 0xffffffffffff, ...this.multicast.keys()]);
    const fprog = Buffer.alloc(16);
    fprog.writeUInt16LE(prog.length / 8, 0);
    fprog.writeBigUInt64LE(addressOf(prog), 8);
    if (libc().setsockopt(this.fd, SOL_SOCKET, SO_ATTACH_FILTER, fprog, 16) !== 0) fail('setsockopt(SO_ATTACH_FILTER)');
  }

  rxBurst(pool: BufferPool, max: number, now: number, sink: RxSink): number {
    if (this.closed) return 0;
    const st = this.rxStatus;
    const rx = this.rx;
    const fs = this.frameSize;
    let n = 0;
    while (n < max) {
      const slot = this.rxCur * fs;
      if ((Atomics.load(st, slot >> 2) & TP_STATUS_USER) === 0) break;
      const snap = rx.readUInt32LE(slot + 8);
      const mac = rx.readUInt16LE(slot + 12);
      const len = rx.readUInt32LE(slot + 4);
      if (snap < len) this.counters.rxTruncated++;
      const id = pool.allocCopy(rx, slot + mac, snap);
      Atomics.store(st, slot >> 2, TP_STATUS_KERNEL);
      this.rxCur = this.rxCur + 1 === this.rxFrames ? 0 : this.rxCur + 1;
      if (id < 0) {
        this.counters.rxNoBuffer++;
        continue;
      }
      pool.setTimestamp(id, now);
      n++;
      sink(id, now);
    }
    return n;
  }

  txBurst(pool: BufferPool, ids: Int32Array, count: number, _now: number): number {
    if (this.closed) return count;
    const st = this.txStatus;
    const tx = this.tx;
    const fs = this.frameSize;
    let queued = 0;
    let took = 0;
    for (; took < count; took++) {
      const id = ids[took];
      if (pool.flags(id) & BufFlag.Dummy) {
        this.counters.txDummy++;
        continue; // everything but the wire
      }
      const slot = this.txCur * fs;
      const s = Atomics.load(st, slot >> 2);
      if (s === TP_STATUS_WRONG_FORMAT) {
        this.counters.txWrongFormat++;
      } else if (s !== TP_STATUS_AVAILABLE) {
        this.counters.txRingFull++;
        break;
      }
      const start = pool.start(id);
      const len = pool.end(id) - start;
      pool.buf.copy(tx, slot + TPACKET2_TX_DATA, start, start + Math.min(len, fs - TPACKET2_TX_DATA));
      tx.writeUInt32LE(len, slot + 4);
      Atomics.store(st, slot >> 2, TP_STATUS_SEND_REQUEST);
      this.txCur = this.txCur + 1 === this.txFrames ? 0 : this.txCur + 1;
      queued++;
    }
    if (queued > 0 && (libc().send(this.fd, null, 0, MSG_DONTWAIT) as number) < 0 && errno() !== EAGAIN) this.counters.txKickErrors++;
    return took;
  }

  attachFlow(spec: FlowSpec): void {
    if (spec.kind !== 'multicast-mac') return;
    const refs = this.multicast.get(spec.mac) ?? 0;
    this.multicast.set(spec.mac, refs + 1);
    if (refs === 0) {
      this.membership(PACKET_ADD_MEMBERSHIP, PACKET_MR_MULTICAST, spec.mac);
      this.installFilter();
    }
  }

  detachFlow(spec: FlowSpec): void {
    if (spec.kind !== 'multicast-mac') return;
    const refs = this.multicast.get(spec.mac) ?? 0;
    if (refs > 1) this.multicast.set(spec.mac, refs - 1);
    else if (refs === 1) {
      this.multicast.delete(spec.mac);
      this.membership(PACKET_DROP_MEMBERSHIP, PACKET_MR_MULTICAST, spec.mac);
      this.installFilter();
    }
  }

  setNotify(): void {
    // The packet device wakes its poller through waitFd.
  }

  /** Kernel counters (PACKET_STATISTICS; reading resets them, so they are accumulated here). */
  stats(): Readonly<Record<string, number>> {
    if (!this.closed) {
      this.statsLen[0] = 8;
      if (libc().getsockopt(this.fd, SOL_PACKET, PACKET_STATISTICS, this.statsBuf, this.statsLen) === 0) {
        this.counters.kernelPackets += this.statsBuf.readUInt32LE(0);
        this.counters.kernelDrops += this.statsBuf.readUInt32LE(4);
      }
    }
    return { ...this.counters };
  }

  /** Idempotent. Views over the ring memory must not be used after close (they would fault). */
  close(): void {
    if (this.closed) return;
    this.stats();
    this.closed = true;
    const c = libc();
    c.munmap(this.base, this.mapLen);
    c.close(this.fd);
  }
}
