/**
 * Owning wrappers over the raw libc calls (ring/packet/libc.ts): typed errors, running socket
 * creation inside a network namespace, and PacketSocket, which owns one AF_PACKET fd and its one
 * mmap'd ring region. Each failed call throws a PacketError naming the function and the errno, e.g.
 * `socket(AF_PACKET): EPERM (Operation not permitted): the packet device needs root or CAP_NET_RAW`.
 */
import koffi from 'koffi';
import {
  AF_PACKET, CLONE_NEWNET, EACCES, EPERM, errno, ETH_P_ALL, IFNAMSIZ, IFR_UNION, IFREQ_SIZE, libc, MAP_FAILED, MAP_SHARED, O_CLOEXEC,
  O_RDONLY, PACKET_MREQ_SIZE, PACKET_STATISTICS, PROT_READ, PROT_WRITE, SIOCGIFHWADDR, SIOCGIFMTU, SLL_IFINDEX, SLL_PROTOCOL,
  SO_ATTACH_FILTER, SOCK_CLOEXEC, SOCK_FPROG_FILTER, SOCK_FPROG_SIZE, SOCK_FILTER_SIZE, SOCK_NONBLOCK, SOCK_RAW, SOCKADDR_LL_SIZE,
  SOL_PACKET, SOL_SOCKET, TPACKET_STATS_SIZE,
} from './libc';

let errnoNames: Map<number, string> | null = null;

/** The errno's symbolic name (EPERM, ENODEV, …). */
export function errnoName(e: number): string {
  if (!errnoNames) {
    errnoNames = new Map();
    const table = (koffi.os as unknown as { errno: Record<string, number> }).errno;
    for (const [k, v] of Object.entries(table)) if (!errnoNames.has(v)) errnoNames.set(v, k);
  }
  return errnoNames.get(e) ?? `errno ${e}`;
}

export class PacketError extends Error {
  override readonly name = 'PacketError';
  /** `fn` is the call with its main argument, e.g. `socket(AF_PACKET)`; `code` the errno name. */
  constructor(readonly fn: string, readonly errno: number, readonly code: string, readonly hint = '') {
    super(`${fn}: ${code} (${libc().strerror(errno) as string})${hint ? `: ${hint}` : ''}`);
  }
}

/** Throws a PacketError for the errno of the call that just failed. */
export function fail(fn: string, hint = ''): never {
  const e = errno();
  const h = hint || (e === EPERM || e === EACCES ? 'the packet device needs root or CAP_NET_RAW' : '');
  throw new PacketError(fn, e, errnoName(e), h);
}

/** Closes `fd` (keeping errno for the report), then fails as `fail` does. */
function failClosing(fd: number, fn: string, hint: string): never {
  const e = errno();
  libc().close(fd);
  koffi.errno(e);
  fail(fn, hint);
}

/**
 * Runs `fn` with the calling thread inside network namespace `name` (/run/netns/NAME, as
 * `ip netns add` makes it), then moves the thread back. setns(2) changes only the calling thread:
 * Node's other threads (libuv pool, V8 platform) stay where they are. Sockets created inside `fn`
 * belong to the namespace for their whole life, wherever the thread goes afterwards.
 * Synchronous by design: no other JS can run on this thread while it is in the other namespace.
 */
export function inNetns<T>(name: string | undefined, fn: () => T): T {
  if (!name) return fn();
  const c = libc();
  const self = c.open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC) as number;
  if (self < 0) fail('open(/proc/thread-self/ns/net)');
  const target = c.open(`/run/netns/${name}`, O_RDONLY | O_CLOEXEC) as number;
  if (target < 0) failClosing(self, `open(/run/netns/${name})`, `no network namespace '${name}' (ip netns list)`);
  let back = true;
  try {
    if (c.setns(target, CLONE_NEWNET) !== 0) fail(`setns(${name}, CLONE_NEWNET)`);
    try {
      return fn();
    } finally {
      back = c.setns(self, CLONE_NEWNET) === 0;
    }
  } finally {
    c.close(target);
    c.close(self);
    // A thread left in the wrong namespace would put every later socket of the process there:
    // not recoverable, and silent if thrown past — stop here.
    if (!back) process.abort();
  }
}

/** One AF_PACKET SOCK_RAW fd (non-blocking) and at most one mmap'd region; close is idempotent. */
export class PacketSocket {
  readonly fd: number;
  readonly ifindex: number;
  private mapBase: bigint | null = null;
  private mapLen = 0;
  private closed = false;

  /**
   * Opens the socket on `ifname` (inside `netns` if given). Protocol 0: it receives nothing until
   * `bind()`, so the ring and filter can be set up first.
   */
  constructor(readonly ifname: string, readonly netns?: string) {
    const c = libc();
    if (Buffer.byteLength(ifname) >= IFNAMSIZ || ifname.length === 0) throw new RangeError(`interface name '${ifname}' must be 1 to ${IFNAMSIZ - 1} bytes`);
    let fd = -1;
    let ifindex = 0;
    inNetns(netns, () => {
      fd = c.socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) as number;
      if (fd < 0) fail('socket(AF_PACKET)');
      ifindex = c.if_nametoindex(ifname) as number;
      if (ifindex === 0) failClosing(fd, `if_nametoindex(${ifname})`, `no such interface '${ifname}'${netns ? ` in network namespace '${netns}'` : ''} (ip link show)`);
    });
    this.fd = fd;
    this.ifindex = ifindex;
  }

  setInt(level: number, opt: number, value: number, what: string): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value);
    this.setRaw(level, opt, b, what);
  }

  setRaw(level: number, opt: number, value: Buffer, what: string): void {
    if (libc().setsockopt(this.fd, level, opt, value, value.length) !== 0) fail(`setsockopt(${what})`);
  }

  /** PACKET_ADD_MEMBERSHIP / PACKET_DROP_MEMBERSHIP of `type` (PACKET_MR_*) for a MAC; undone by the kernel on close. */
  membership(op: number, type: number, mac: number, what: string): void {
    const m = Buffer.alloc(PACKET_MREQ_SIZE);
    m.writeInt32LE(this.ifindex, 0);
    m.writeUInt16LE(type, 4);
    m.writeUInt16LE(6, 6);
    m.writeUIntBE(mac, 8, 6);
    this.setRaw(SOL_PACKET, op, m, what);
  }

  /** Installs (or atomically replaces) a classic BPF program (sock_filter array). */
  attachFilter(prog: Buffer): void {
    const fprog = Buffer.alloc(SOCK_FPROG_SIZE);
    fprog.writeUInt16LE(prog.length / SOCK_FILTER_SIZE, 0);
    fprog.writeBigUInt64LE(koffi.address(prog) as bigint, SOCK_FPROG_FILTER);
    this.setRaw(SOL_SOCKET, SO_ATTACH_FILTER, fprog, 'SO_ATTACH_FILTER');
  }

  /** Binds to the interface for every protocol; from here on frames flow into the ring. */
  bind(): void {
    const sll = Buffer.alloc(SOCKADDR_LL_SIZE);
    sll.writeUInt16LE(AF_PACKET, 0);
    sll.writeUInt16BE(ETH_P_ALL, SLL_PROTOCOL);
    sll.writeInt32LE(this.ifindex, SLL_IFINDEX);
    if (libc().bind(this.fd, sll, SOCKADDR_LL_SIZE) !== 0) fail(`bind(${this.ifname})`);
  }

  /** The netdev's MTU (SIOCGIFMTU). */
  mtu(): number {
    const ifr = this.ifreq();
    if (libc().ioctl(this.fd, SIOCGIFMTU, 'void *', ifr) !== 0) fail(`ioctl(${this.ifname}, SIOCGIFMTU)`);
    return ifr.readInt32LE(IFR_UNION);
  }

  /** The netdev's own hardware address (SIOCGIFHWADDR), a 48-bit number. */
  hwaddr(): number {
    const ifr = this.ifreq();
    if (libc().ioctl(this.fd, SIOCGIFHWADDR, 'void *', ifr) !== 0) fail(`ioctl(${this.ifname}, SIOCGIFHWADDR)`);
    return ifr.readUIntBE(IFR_UNION + 2, 6);
  }

  private ifreq(): Buffer {
    const ifr = Buffer.alloc(IFREQ_SIZE);
    ifr.write(this.ifname, 0, IFNAMSIZ - 1, 'latin1');
    return ifr;
  }

  /**
   * PACKET_STATISTICS into `out` (a preallocated 8-byte buffer) and `len`: tp_packets, tp_drops since
   * the last read (the kernel resets them on read). Returns false if the socket is closed.
   */
  statistics(out: Buffer, len: Uint32Array): boolean {
    if (this.closed) return false;
    len[0] = TPACKET_STATS_SIZE;
    return libc().getsockopt(this.fd, SOL_PACKET, PACKET_STATISTICS, out, len) === 0;
  }

  /** Maps the socket's ring(s) (after PACKET_RX_RING/PACKET_TX_RING) once; returns an ArrayBuffer aliasing it. */
  map(len: number): ArrayBuffer {
    if (this.mapBase !== null) throw new Error('PacketSocket: already mapped');
    const base = libc().mmap(null, len, PROT_READ | PROT_WRITE, MAP_SHARED, this.fd, 0) as bigint | null;
    if (base === null || base === MAP_FAILED) fail('mmap(packet ring)');
    this.mapBase = base;
    this.mapLen = len;
    return koffi.view(base as unknown as never, len) as ArrayBuffer;
  }

  /**
   * Unmaps the ring and closes the fd (idempotent). Every view over the mapping must be dead by
   * then: touching one afterwards is a SIGSEGV (views are not detached by munmap).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const c = libc();
    if (this.mapBase !== null) c.munmap(this.mapBase, this.mapLen);
    this.mapBase = null;
    c.close(this.fd);
  }
}
