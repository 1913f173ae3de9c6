/**
 * One client's shared-memory region: a file under /dev/shm that ringd creates (mode 0600, owned by
 * the client's uid when ringd runs as root) and both sides map with mmap(MAP_SHARED) through koffi.
 * It holds two single-producer/single-consumer descriptor rings and their frame slots:
 *
 *   RX ring: ringd → client (ringd writes frames and RX_HEAD; the client reads them and RX_TAIL)
 *   TX ring: client → ringd (the client writes frames and TX_HEAD; ringd reads them and TX_TAIL)
 *
 * Layout (little-endian 32-bit words; byte offsets):
 *   0     MAGIC 'TSVD' (0x54535644), VERSION, SIZE (bytes), SLOTS (power of two), SLOT_SIZE, CLIENT_ID
 *   64    RX_HEAD      128  RX_TAIL      192  TX_HEAD      256  TX_TAIL   (one 64-byte line each)
 *   320   CLIENT_SLEEPING: 1 while the client's poller sleeps (it wants a wake-up byte)
 *   384   RINGD_SLEEPING:  1 while ringd's poller sleeps
 *   448   RX_DROPS: frames ringd dropped because this RX ring was full (written by ringd)
 *   4096  RX descriptors: SLOTS × int32 frame length (descriptor i ↔ RX slot i)
 *         TX descriptors: SLOTS × int32 frame length
 *   DATA  (next 4 KiB boundary) RX slots: SLOTS × SLOT_SIZE bytes, then TX slots: SLOTS × SLOT_SIZE
 *
 * Indices are free-running 32-bit counters (wrapping); slot = index & (SLOTS - 1); a ring holds
 * (head - tail) | 0 frames, 0..SLOTS. A producer writes the frame and its descriptor, then
 * publishes with Atomics.store(head); a consumer reads head with Atomics.load, copies, then
 * Atomics.store(tail). Atomics on a koffi view of MAP_SHARED memory are real atomics across
 * processes (../shared/reference/koffi-notes.md §2); Atomics.wait is not available, hence the
 * sleeping words and a wake-up byte on the control socket (docs/ringd.md).
 *
 * Trust: ringd never trusts what a client can write (TX_HEAD, RX_TAIL, TX descriptors, the whole
 * region): it keeps its own copies of the indices it owns and bounds-checks the others.
 * Errors: ShmError naming the call, the path and the errno.
 */
import koffi from 'koffi';
import { unlinkSync } from 'node:fs';
import {
  describeErrno, errno, libc, MAP_FAILED, MAP_SHARED, O_CLOEXEC, O_CREAT, O_EXCL, O_RDWR, PROT_READ, PROT_WRITE,
} from './libc';

const MAGIC = 0x54535644;
const VERSION = 1;
const HEADER = 4096;

/** Word indices (Int32Array) of the header fields. */
export const enum W {
  Magic = 0,
  Version = 1,
  Size = 2,
  Slots = 3,
  SlotSize = 4,
  ClientId = 5,
  RxHead = 16,
  RxTail = 32,
  TxHead = 48,
  TxTail = 64,
  ClientSleeping = 80,
  RingdSleeping = 96,
  RxDrops = 112,
}

export interface ShmGeometry {
  /** Descriptors per ring (a power of two). */
  readonly slots: number;
  /** Bytes per frame slot (≥ the largest frame: MTU + Ethernet header + VLAN tag). */
  readonly slotSize: number;
}

export class ShmError extends Error {
  constructor(readonly call: string, readonly path: string, readonly errno: number) {
    super(`${call}(${path}) failed: ${describeErrno(errno)}`);
    this.name = 'ShmError';
  }
}

/** Byte offsets of the areas for a geometry. */
function layoutOf(g: ShmGeometry): { rxDesc: number; txDesc: number; rxData: number; txData: number; size: number } {
  const rxDesc = HEADER;
  const txDesc = rxDesc + g.slots * 4;
  const rxData = (txDesc + g.slots * 4 + 4095) & ~4095;
  const txData = rxData + g.slots * g.slotSize;
  return { rxDesc, txDesc, rxData, txData, size: txData + g.slots * g.slotSize };
}

function checkGeometry(g: ShmGeometry): void {
  if (!(Number.isInteger(g.slots) && g.slots >= 2 && g.slots <= 65536 && (g.slots & (g.slots - 1)) === 0)) {
    throw new RangeError(`shm: slots must be a power of two in [2, 65536], not ${g.slots}`);
  }
  if (!(Number.isInteger(g.slotSize) && g.slotSize >= 128 && g.slotSize <= 65536 && g.slotSize % 64 === 0)) {
    throw new RangeError(`shm: slotSize must be a multiple of 64 in [128, 65536], not ${g.slotSize}`);
  }
}

/**
 * A mapped region. `i32` (header words and descriptors) and `buf` (all bytes) alias the mapping;
 * after `close()` they must not be touched (a munmap'd view faults: koffi-notes §2), so owners
 * drop every reference to a region before closing it.
 */
export class ShmRegion {
  readonly i32: Int32Array;
  readonly buf: Buffer;
  readonly dv: DataView;
  readonly slots: number;
  readonly slotSize: number;
  readonly mask: number;
  /** Word index of the first RX / TX descriptor. */
  readonly rxDescW: number;
  readonly txDescW: number;
  /** Byte offset of RX / TX slot 0. */
  readonly rxData: number;
  readonly txData: number;
  readonly size: number;
  private ptr: bigint | null;

  private constructor(readonly path: string, ptr: bigint, size: number, g: ShmGeometry) {
    this.ptr = ptr;
    this.size = size;
    const ab = koffi.view(ptr, size);
    this.i32 = new Int32Array(ab);
    this.buf = Buffer.from(ab);
    this.dv = new DataView(ab);
    this.slots = g.slots;
    this.slotSize = g.slotSize;
    this.mask = g.slots - 1;
    const l = layoutOf(g);
    this.rxDescW = l.rxDesc >> 2;
    this.txDescW = l.txDesc >> 2;
    this.rxData = l.rxData;
    this.txData = l.txData;
  }

  /** ringd: creates `path` (exclusive), sizes it, maps it and writes the header. */
  static create(path: string, g: ShmGeometry, clientId: number, owner?: { uid: number; gid: number }): ShmRegion {
    checkGeometry(g);
    const c = libc();
    const size = layoutOf(g).size;
    const fd = c.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 'uint32_t', 0o600);
    if (fd < 0) throw new ShmError('open', path, errno());
    let ptr: bigint;
    try {
      if (c.fchmod(fd, 0o600) < 0) throw new ShmError('fchmod', path, errno());
      if (owner && c.fchown(fd, owner.uid, owner.gid) < 0) throw new ShmError('fchown', path, errno());
      if (c.ftruncate(fd, size) < 0) throw new ShmError('ftruncate', path, errno());
      ptr = c.mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) as bigint;
      if (ptr === MAP_FAILED || ptr === null) throw new ShmError('mmap', path, errno());
    } catch (e) {
      c.close(fd);
      try {
        unlinkSync(path);
      } catch {
        // never created
      }
      throw e;
    }
    c.close(fd);
    const r = new ShmRegion(path, ptr, size, g);
    const w = r.i32;
    w[W.Version] = VERSION;
    w[W.Size] = size;
    w[W.Slots] = g.slots;
    w[W.SlotSize] = g.slotSize;
    w[W.ClientId] = clientId;
    Atomics.store(w, W.Magic, MAGIC);
    return r;
  }

  /** The client: maps `path` that ringd created and checks its header against the attach reply. */
  static open(path: string, g: ShmGeometry): ShmRegion {
    checkGeometry(g);
    const c = libc();
    const size = layoutOf(g).size;
    const fd = c.open(path, O_RDWR | O_CLOEXEC, 'uint32_t', 0);
    if (fd < 0) throw new ShmError('open', path, errno());
    const ptr = c.mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) as bigint;
    const e = errno();
    c.close(fd);
    if (ptr === MAP_FAILED || ptr === null) throw new ShmError('mmap', path, e);
    const r = new ShmRegion(path, ptr, size, g);
    const w = r.i32;
    if (Atomics.load(w, W.Magic) !== MAGIC || w[W.Version] !== VERSION || w[W.Size] !== size || w[W.Slots] !== g.slots || w[W.SlotSize] !== g.slotSize) {
      // The message reads the header before the unmap: a view of an unmapped region faults.
      const msg = `shm ${path}: header does not match the attach reply (magic ${w[W.Magic]}, version ${w[W.Version]}); ringd and this client are different versions?`;
      r.close();
      throw new Error(msg);
    }
    return r;
  }

  /** Unmaps (idempotent). The views must not be used afterwards. */
  close(): void {
    if (this.ptr === null) return;
    libc().munmap(this.ptr, this.size);
    this.ptr = null;
  }
}
