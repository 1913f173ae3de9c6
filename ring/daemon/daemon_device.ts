/**
 * The `daemon` device (TSVMA_DEVICE=daemon[:SOCKET_PATH]): a client of `tsvma ringd`, which owns
 * the real device and shares it among processes (ring/daemon/ringd.ts, docs/ringd.md).
 *
 * Attach: the constructor connects to ringd's control socket (control.ts, synchronous), asks to
 * attach and maps the shared region ringd created for this process (shm.ts). ringd's reply also
 * carries the device's MAC and MTU and the address the stack must use (ringd's TSVMA_ADDR):
 * `ringd` below.
 * RX: frames ringd steered to this process wait in the region's RX ring; rxBurst copies each once
 * into an RX pool buffer (no system call, no allocation) and publishes RX_TAIL once per burst.
 * TX: txBurst copies each frame into a TX slot and publishes TX_HEAD once per burst; a full ring
 * takes fewer (the Ring retries, in order). Dummy sends stop here and count as taken.
 * Waiting: no fd (`waitFd` -1). When the poller goes to sleep it calls `setNotify(cb)`: the device
 * sets CLIENT_SLEEPING in the region and watches the control socket (a libuv poll handle); ringd,
 * seeing the flag when it hands a frame over, clears it and writes one NUL byte, which fires `cb`.
 * The other way, txBurst writes a NUL byte only when it finds RINGD_SLEEPING set (and clears it).
 * So while both sides are hot no byte crosses the socket. The poll handle holds the process
 * alive only while the device holds port claims (a bound socket keeps Node alive as well).
 * Ports: `claimPort`/`releasePort` (the stack calls them from bind and close) ask ringd, which keeps
 * the one port table of the host's offloaded sockets: a port another process holds is refused, and
 * the stack answers EADDRINUSE. Claims are counted per (protocol, port) in this process.
 * Faults: if ringd goes away (EOF on the control socket) the device says so (stats `ringdGone`,
 * `ringdLost`), calls `onGone`, takes and drops every TX frame and receives nothing; the old region
 * stays mapped (nothing reads it) until `reattach()` swaps in a new one. `reattach()` connects to a
 * ringd on the same socket path, attaches, claims this process's ports and multicast MACs again and
 * says which ports it lost (another process took them first); lib/ringd_watch.ts drives it (the
 * sockets' errors, retries on a timer: nothing below lib/ sets one) (docs/ringd.md).
 */
import koffi from 'koffi';
import { formatIpv4Text } from '../../conf/text';
import { BufFlag, type BufferPool } from '../buffer_pool';
import { NO_CHECKSUM_OFFLOAD, type Device, type DeviceCaps, type FlowSpec, type RxSink } from '../device';
import { ControlSocket } from './control';
import { ShmRegion, W } from './shm';

export { RingdUnavailableError } from './control';

export interface DaemonDeviceOptions {
  /** ringd's control socket (TSVMA_DEVICE=daemon:PATH; default /run/tsvma/ringd.sock). */
  socketPath: string;
  /** Frames per burst the ring should use. Default 32. */
  maxBurst?: number;
  /** How long a control request may wait for ringd (ms). Default 5000. */
  timeoutMs?: number;
}

/** What ringd says about the device and the address every client's stack uses. */
export interface RingdInfo {
  readonly clientId: number;
  readonly device: string;
  readonly ip: number;
  readonly prefix: number;
  readonly gateway: number | null;
  readonly shmPath: string;
}

export interface DaemonDeviceCounters {
  rxFrames: number;
  /** RX pool empty: frame dropped. */
  rxNoBuffer: number;
  /** Descriptors with an impossible length, or a head ringd moved impossibly (never expected). */
  rxBad: number;
  txFrames: number;
  /** Times the TX ring was full (the ring keeps the rest). */
  txRingFull: number;
  /** Frames longer than a slot (dropped). */
  txTooLong: number;
  txDummy: number;
  /** Wake-up bytes written to ringd, and wake-ups received from it. */
  wakeupsSent: number;
  wakeupsReceived: number;
  /** 1 while ringd is away (it closed the connection; 0 again after a re-attach). */
  ringdGone: number;
  /** Times ringd went away, and times this device attached again to a new ringd. */
  ringdLost: number;
  reattaches: number;
}

/** What `reattach()` did: the ports another process claimed first (protocol × 65536 + port), now not this process's. */
export interface ReattachResult {
  readonly clientId: number;
  readonly lostPorts: readonly number[];
}

/** A ringd answered on the socket but serves another address, MAC or MTU than this device's stack uses: re-attaching cannot work. */
export class RingdMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RingdMismatchError';
  }
}

type PollHandle = ReturnType<typeof koffi.node.poll>;

/** A connection to ringd that attached, the region it mapped and what ringd said. */
interface Attached {
  ctl: ControlSocket;
  shm: ShmRegion;
  info: RingdInfo;
  mtu: number;
  mac: number;
}

const ETH_MIN = 14;

/** ringd's claim request (`share` only when joining a reuse-port group). */
const claimMsg = (proto: number, port: number, shared: boolean): Record<string, unknown> =>
  shared ? { op: 'claim', proto, port, share: true } : { op: 'claim', proto, port };

export class DaemonDevice implements Device {
  readonly caps: DeviceCaps;
  readonly waitFd = -1;
  /** ringd's answer at the latest attach (clientId and shmPath change at a re-attach). */
  ringd!: RingdInfo;
  readonly counters: DaemonDeviceCounters = {
    rxFrames: 0, rxNoBuffer: 0, rxBad: 0, txFrames: 0, txRingFull: 0, txTooLong: 0, txDummy: 0, wakeupsSent: 0, wakeupsReceived: 0, ringdGone: 0, ringdLost: 0, reattaches: 0,
  };
  /** Called (synchronously, from the poll callback or a control request) when ringd goes away. */
  onGone: (() => void) | null = null;
  private ctl!: ControlSocket;
  private shm!: ShmRegion;
  private i32!: Int32Array;
  private buf!: Buffer;
  private slots!: number;
  private mask!: number;
  private slotSize!: number;
  private rxDescW!: number;
  private txDescW!: number;
  private rxData!: number;
  private txData!: number;
  /** Our own copies of the indices we publish. */
  private rxTail = 0;
  private txHead = 0;
  private notify: (() => void) | null = null;
  private handle: PollHandle | null = null;
  /** Claims per protocol × 65536 + port. */
  private readonly claims = new Map<number, number>();
  /** The claims made with `shared` (a reuse-port group): claimed the same way again at a re-attach. */
  private readonly sharedClaims = new Set<number>();
  /** Multicast MACs joined through ringd, with how many times (joined again at a re-attach). */
  private readonly macs = new Map<number, number>();
  private closed = false;
  private gone = false;
  private readonly fire = (): void => {
    const cb = this.notify;
    if (cb) cb();
  };
  private readonly onReadable = (): void => {
    if (this.closed) return;
    this.ctl.drain();
    this.counters.wakeupsReceived++;
    if (this.ctl.eof) this.lose();
    this.fire();
  };

  constructor(readonly opts: DaemonDeviceOptions) {
    const a = this.connect();
    this.caps = Object.freeze({
      name: `daemon:${opts.socketPath}`, kind: 'daemon', mtu: a.mtu, maxBurst: opts.maxBurst ?? 32, mac: a.mac,
      rxChecksum: NO_CHECKSUM_OFFLOAD, txChecksum: NO_CHECKSUM_OFFLOAD, hwTimestamps: false, dummySend: true, flowSteering: false,
    });
    this.adopt(a);
  }

  /** Connects to ringd's socket and attaches (closing the connection again if the attach fails). */
  private connect(): Attached {
    const ctl = new ControlSocket(this.opts.socketPath);
    try {
      return this.attachOn(ctl);
    } catch (e) {
      ctl.close();
      throw e;
    }
  }

  /** Takes `a`'s connection and region as this device's (the ring geometry is copied into fields for the hot path). */
  private adopt(a: Attached): void {
    this.ctl = a.ctl;
    this.shm = a.shm;
    this.ringd = a.info;
    this.i32 = a.shm.i32;
    this.buf = a.shm.buf;
    this.slots = a.shm.slots;
    this.mask = a.shm.mask;
    this.slotSize = a.shm.slotSize;
    this.rxDescW = a.shm.rxDescW;
    this.txDescW = a.shm.txDescW;
    this.rxData = a.shm.rxData;
    this.txData = a.shm.txData;
    this.rxTail = Atomics.load(this.i32, W.RxTail);
    this.txHead = Atomics.load(this.i32, W.TxHead);
  }

  /** Asks ringd on `ctl` to attach this process and maps the region it made (throws with what went wrong). */
  private attachOn(ctl: ControlSocket): Attached {
    const path = this.opts.socketPath;
    const r = ctl.request({ op: 'attach', pid: process.pid }, this.opts.timeoutMs ?? 5000);
    if (r.ok !== true) throw new Error(`tsvma ringd at ${path} refused to attach this process: ${String(r.error ?? 'no reason given')}`);
    const num = (k: string): number => {
      const v = r[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`tsvma ringd at ${path}: attach reply lacks '${k}'`);
      return v;
    };
    const info = Object.freeze({
      clientId: num('clientId'), device: String(r.device), ip: num('ip') >>> 0, prefix: num('prefix'),
      gateway: typeof r.gateway === 'number' ? r.gateway >>> 0 : null, shmPath: String(r.shm),
    });
    const mtu = num('mtu');
    const mac = num('mac');
    const shm = ShmRegion.open(info.shmPath, { slots: num('slots'), slotSize: num('slotSize') });
    return { ctl, shm, info, mtu, mac };
  }

  /** Whether ringd is away (it closed the connection and no re-attach succeeded since). */
  get isGone(): boolean {
    return this.gone && !this.closed;
  }

  /**
   * After ringd went away: connects to a ringd on the same socket path, attaches, maps the new
   * region and claims this process's ports (and multicast MACs) again. A port another process
   * claimed in the meantime is dropped from this process's claims and returned in `lostPorts`.
   * Throws RingdUnavailableError (nobody there yet: retry later), RingdMismatchError (that ringd
   * serves another address, MAC or MTU: retrying cannot help) or an Error from the attach.
   */
  reattach(): ReattachResult {
    if (this.closed) throw new Error('the daemon device is closed');
    if (!this.gone) return { clientId: this.ringd.clientId, lostPorts: [] };
    const a = this.connect();
    const old = this.ringd;
    if (a.info.ip !== old.ip || a.info.prefix !== old.prefix || a.mac !== this.caps.mac || a.mtu !== this.caps.mtu) {
      a.shm.close();
      a.ctl.close();
      throw new RingdMismatchError(`tsvma ringd at ${this.opts.socketPath} now serves ${formatIpv4Text(a.info.ip)}/${a.info.prefix} mac ${a.mac.toString(16)} mtu ${a.mtu}, `
        + `not ${formatIpv4Text(old.ip)}/${old.prefix} mac ${this.caps.mac.toString(16)} mtu ${this.caps.mtu} as when this process started: restart the process`);
    }
    this.ctl.close();
    this.shm.close();
    this.adopt(a);
    this.gone = false;
    this.counters.ringdGone = 0;
    this.counters.reattaches++;
    const lostPorts: number[] = [];
    for (const k of [...this.claims.keys()]) {
      const proto = Math.floor(k / 65536);
      const r = this.control(claimMsg(proto, k % 65536, this.sharedClaims.has(k)));
      if (this.gone) break;
      if (r?.ok !== true) {
        this.claims.delete(k);
        this.sharedClaims.delete(k);
        lostPorts.push(k);
      }
    }
    for (const [mac, n] of this.macs) for (let i = 0; i < n && !this.gone; i++) this.control({ op: 'join', mac });
    if (this.notify && !this.gone) this.setNotify(this.notify); // a sleeping poller: watch the new socket
    return { clientId: a.info.clientId, lostPorts };
  }

  rxBurst(pool: BufferPool, max: number, now: number, sink: RxSink): number {
    if (this.closed || this.gone) return 0;
    const w = this.i32;
    const head = Atomics.load(w, W.RxHead);
    let tail = this.rxTail;
    const avail = (head - tail) | 0;
    if (avail === 0) return 0;
    const c = this.counters;
    if (avail < 0 || avail > this.slots) {
      c.rxBad++;
      this.rxTail = head;
      Atomics.store(w, W.RxTail, head);
      return 0;
    }
    const size = this.slotSize;
    let n = 0;
    while (n < max && tail !== head) {
      const slot = tail & this.mask;
      const len = w[this.rxDescW + slot];
      tail = (tail + 1) | 0;
      if (!(len >= ETH_MIN && len <= size)) {
        c.rxBad++;
        continue;
      }
      const id = len > pool.bufSize ? -1 : pool.allocCopy(this.buf, this.rxData + slot * size, len);
      if (id < 0) {
        c.rxNoBuffer++;
        continue;
      }
      pool.setTimestamp(id, now);
      n++;
      c.rxFrames++;
      sink(id, now);
      if (this.closed) return n;
    }
    this.rxTail = tail;
    Atomics.store(w, W.RxTail, tail);
    return n;
  }

  txBurst(pool: BufferPool, ids: Int32Array, count: number, _now: number): number {
    if (this.closed || this.gone) return count;
    const w = this.i32;
    const c = this.counters;
    const size = this.slotSize;
    const tail = Atomics.load(w, W.TxTail);
    let head = this.txHead;
    let took = 0;
    let pushed = 0;
    for (; took < count; took++) {
      const id = ids[took];
      if (pool.flags(id) & BufFlag.Dummy) {
        c.txDummy++;
        continue;
      }
      if (((head - tail) | 0) >= this.slots) {
        c.txRingFull++;
        break;
      }
      const start = pool.start(id);
      const len = pool.end(id) - start;
      if (len > size) {
        c.txTooLong++;
        continue;
      }
      const slot = head & this.mask;
      pool.buf.copy(this.buf, this.txData + slot * size, start, start + len);
      w[this.txDescW + slot] = len;
      head = (head + 1) | 0;
      pushed++;
    }
    if (pushed > 0) {
      this.txHead = head;
      Atomics.store(w, W.TxHead, head);
      c.txFrames += pushed;
      if (Atomics.load(w, W.RingdSleeping) !== 0 && Atomics.compareExchange(w, W.RingdSleeping, 1, 0) === 1) {
        this.ctl.wake();
        c.wakeupsSent++;
      }
    }
    return took;
  }

  /** Frames wait in the RX ring (no system call). */
  get rxReady(): boolean {
    return !this.closed && !this.gone && Atomics.load(this.i32, W.RxHead) !== this.rxTail;
  }

  setNotify(cb: (() => void) | null): void {
    if (this.closed) return;
    this.notify = cb;
    if (cb) {
      Atomics.store(this.i32, W.ClientSleeping, 1);
      if (!this.gone) {
        if (!this.handle) this.handle = koffi.node.poll(this.ctl.fd, { readable: true }, this.onReadable as never);
        else this.handle.start({ readable: true }, this.onReadable as never);
        this.refHandle();
      }
      // A frame that came before the flag was seen, or a wake-up read during a control request.
      if ((!this.gone && Atomics.load(this.i32, W.RxHead) !== this.rxTail) || this.ctl.wakePending) {
        this.ctl.wakePending = false;
        queueMicrotask(this.fire);
      }
    } else {
      Atomics.store(this.i32, W.ClientSleeping, 0);
      this.handle?.stop();
    }
  }

  /**
   * Claims (protocol, port) for this process; false when another process holds it (the stack
   * answers EADDRINUSE). `shared`: join (or start) ringd's SO_REUSEPORT-style group for the port,
   * which other processes of this uid that ask to share may join too. Nested claims of one port in
   * this process are counted.
   */
  claimPort(protocol: number, port: number, shared = false): boolean {
    if (this.closed || this.gone) return false;
    const k = protocol * 65536 + port;
    const n = this.claims.get(k) ?? 0;
    if (n > 0) {
      this.claims.set(k, n + 1);
      return true;
    }
    const r = this.control(claimMsg(protocol, port, shared));
    if (r?.ok !== true) return false;
    this.claims.set(k, 1);
    if (shared) this.sharedClaims.add(k);
    this.refHandle();
    return true;
  }

  /** Releases one claim of (protocol, port); the last one frees the port for every process. */
  releasePort(protocol: number, port: number): void {
    const k = protocol * 65536 + port;
    const n = this.claims.get(k) ?? 0;
    if (n > 1) {
      this.claims.set(k, n - 1);
      return;
    }
    if (n === 0) return;
    this.claims.delete(k);
    this.sharedClaims.delete(k);
    this.refHandle();
    if (!this.closed && !this.gone) this.control({ op: 'release', proto: protocol, port });
  }

  /**
   * ringd steers by the port table (claimPort), so tuple flows need nothing; a multicast MAC (a
   * group joined) is opened on ringd's device filter (a control request; refused: throws).
   */
  attachFlow(spec: FlowSpec): void {
    if (spec.kind !== 'multicast-mac' || this.closed) return;
    if (!this.gone) {
      const r = this.control({ op: 'join', mac: spec.mac });
      if (r !== null && r.ok !== true) throw new Error(`tsvma ringd refused multicast MAC ${spec.mac.toString(16)}: ${String(r.error)}`);
    }
    this.macs.set(spec.mac, (this.macs.get(spec.mac) ?? 0) + 1);
  }

  detachFlow(spec: FlowSpec): void {
    if (spec.kind !== 'multicast-mac' || this.closed) return;
    const n = this.macs.get(spec.mac) ?? 0;
    if (n > 1) this.macs.set(spec.mac, n - 1);
    else this.macs.delete(spec.mac);
    if (this.gone) return;
    this.control({ op: 'leave', mac: spec.mac });
  }

  stats(): Readonly<Record<string, number>> {
    return { ...this.counters, rxDroppedByRingd: this.closed ? 0 : this.i32[W.RxDrops], ports: this.claims.size };
  }

  /** Idempotent: closes the control socket (ringd frees this process's ports and region) and unmaps. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.notify = null;
    this.handle?.close();
    this.handle = null;
    this.ctl.close();
    this.shm.close();
  }

  /** A control request; on a lost connection the device goes into the `gone` state and returns null. */
  private control(msg: Record<string, unknown>): Record<string, unknown> | null {
    try {
      const r = this.ctl.request(msg, this.opts.timeoutMs ?? 5000);
      if (this.ctl.wakePending && this.notify) {
        this.ctl.wakePending = false;
        queueMicrotask(this.fire);
      }
      return r;
    } catch (e) {
      if (this.ctl.eof) {
        this.lose();
        return null;
      }
      throw e;
    }
  }

  private lose(): void {
    if (this.gone) return;
    this.gone = true;
    this.counters.ringdGone = 1;
    this.counters.ringdLost++;
    this.handle?.close();
    this.handle = null;
    this.onGone?.();
  }

  private refHandle(): void {
    const h = this.handle;
    if (!h) return;
    if (this.claims.size > 0) h.ref();
    else h.unref();
  }
}
