/**
 * The process's side of the statistics file (layout.ts): creates `tsvmastat.<pid>`, maps it, and
 * every `intervalMs` (100 ms by default, on an unref'd timer) checks the control words. When a
 * reader asked for fresh counters (READ_REQ_SEQ; VMA likewise copies only while a reader is
 * attached) or posted a request (zero, log level), it applies the requests and copies the live
 * counters of the rings, pools, poller, stack, sockets and multicast groups into the file under
 * the seqlock: one copy per tick however many readers asked, none while nobody reads.
 *
 * Why a timer and not the poller's onTick: the data path stays untouched (counters are the plain
 * numbers the rings, stack and sockets already increment), a sleeping poller runs no ticks (the
 * file and the control words would freeze while idle), and a hot one ticks every ~10-20 µs (a rate
 * limit there would be a clock read per turn). The cost of one copy is measured and kept in the
 * header (WRITE_US_*; docs/stats.md has numbers).
 *
 * Zeroing re-bases: the live counters are never written to (others read them: the ring's
 * rxNoBuffer mirrors its pool, TCP reads its own), so a zero request stores each counter's current
 * value as its base and the file shows live − base. Gauges are copied as they are.
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as path from 'node:path';
import { RING_COUNTERS } from '../../ring/counters';
import type { Ring } from '../../ring/ring';
import type { BufferPool } from '../../ring/buffer_pool';
import type { Runtime } from '../runtime';
import {
  FILE_PREFIX, FLAG_CLOSED, H, HEADER_BYTES, MAGIC, MC_TABLE_SIZE, MCGROUP_FIELDS, NAME_BYTES, CMDLINE_BYTES, POLLER_GAUGES, POOL_FIELDS, RING_GAUGES,
  SCHEMA_OFF, SECTION_ENTRY_BYTES, SECTION_NAMES, Section, SOCKET_FIELDS, VERSION, DAEMON_CLIENT_FIELDS, DAEMON_CLIENT_PORTS, type Schema, type SectionSchema,
} from './layout';
import { getLogLevel, setLogLevel } from './log_level';
import { onRegistryChange, registeredSockets, socketValues, type SocketEntry } from './registry';
import { createShared, type SharedFile } from './shm';

export interface WriterOptions {
  /** VMA_STATS_SHMEM_DIR. */
  dir: string;
  /** VMA_STATS_FD_NUM: socket slots. */
  fdNum: number;
  /** Copy interval, ms. Default 100. */
  intervalMs?: number;
  /** Worker thread id (0: main thread), part of the file name. */
  thread?: number;
  /** The process name in the header (default: the script's file name). */
  name?: string;
  /** tsvma ringd: its clients (the daemonClients section) and its own counters (in the stack section, as `ringd.*`). */
  daemon?: DaemonStatsSource;
}

/** What tsvma ringd shows of itself (ring/daemon/ringd.ts Ringd.clientStats and counters). */
export interface DaemonStatsSource {
  /** Records in the daemonClients section (clients beyond it are counted in SOCKETS_NOT_RECORDED's way: not shown). */
  capacity: number;
  counters: object;
  clients(): DaemonClientStat[];
}

export interface DaemonClientStat {
  id: number;
  pid: number;
  uid: number;
  /** Port-table indices: UDP p as p, TCP p as 65536 + p. */
  ports: number[];
  groupPorts: number;
  rxFill: number;
  slots: number;
  conns: number;
  counters: { rxFrames: number; rxDrops: number; txFrames: number; txBad: number; portsLearned: number };
}

/** The parts of a Runtime the writer reads (tsvma ringd has an engine and closed-port UDP/TCP, no runtime). */
export type StatsSource = Pick<Runtime, 'engine' | 'udp' | 'tcp'>;

/** Where a fixed record's field lives: `+obj[key]` (a counter, a getter, a flag). */
type Src = [obj: object, key: string];

/** A fixed record: its section, index, and where each field is read from (listed once; read once per copy). */
interface Fixed {
  section: Section;
  index: number;
  objs: Record<string, unknown>[];
  keys: string[];
  gauge: Uint8Array;
  base: Float64Array;
  live: Float64Array;
}

interface Layout {
  off: number;
  words: number;
  capacity: number;
  used: number;
}

export class StatsWriter {
  readonly path: string;
  private readonly file: SharedFile;
  private f64: Float64Array | null;
  private i32: Int32Array | null;
  private readonly sections: Layout[] = [];
  private readonly fixed: Fixed[] = [];
  private readonly socketGauge: Uint8Array;
  private readonly socketLive = new Float64Array(SOCKET_FIELDS.length);
  private readonly freeSlots: number[] = [];
  /** Slots freed since the last copy: cleared on the next one. */
  private readonly clearSlots: number[] = [];
  private nextSlot = 0;
  private notRecorded = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** The last read request answered. */
  private readReq = 0;
  private readonly tick = (): void => this.poll();
  private readonly daemon: DaemonStatsSource | null;
  /** Counter bases of ringd clients by client id (a zero request). */
  private readonly daemonBase = new Map<number, Float64Array>();
  private readonly daemonGauge: Uint8Array;
  private readonly daemonLive = new Float64Array(DAEMON_CLIENT_FIELDS.length);

  constructor(private readonly rt: StatsSource, opts: WriterOptions) {
    this.daemon = opts.daemon ?? null;
    const thread = opts.thread ?? 0;
    this.path = path.join(opts.dir, `${FILE_PREFIX}${process.pid}${thread ? `.${thread}` : ''}`);
    const interval = opts.intervalMs ?? 100;
    const engine = rt.engine;
    const rings: Ring[] = engine.poller.rings;
    const pools: BufferPool[] = rings.flatMap((r) => [r.rxPool, r.txPool]);
    const poolRing = rings.flatMap((r) => [r.id, r.id]);
    const poller = engine.poller;
    const stack = engine.stack;

    // Field lists and getters, made once.
    const ringKeys = Object.keys(RING_COUNTERS) as (keyof typeof RING_COUNTERS)[];
    const ringFields = ['id', ...ringKeys, 'txPending'];
    const pollerKeys = Object.keys(poller.counters) as (keyof typeof poller.counters)[];
    const pollerFields = [...pollerKeys, ...POLLER_GAUGES];
    const stackSources: [string, Record<string, number>][] = [
      ['', stack.counters as unknown as Record<string, number>],
      ['udp.', rt.udp.counters as unknown as Record<string, number>],
      ['tcp.', rt.tcp.counters as unknown as Record<string, number>],
      ['igmp.', stack.igmp.counters as unknown as Record<string, number>],
      ...(this.daemon ? [['ringd.', this.daemon.counters as Record<string, number>] as [string, Record<string, number>]] : []),
    ];
    const stackFields: string[] = [];
    const stackSrcs: Src[] = [];
    for (const [prefix, obj] of stackSources) {
      for (const k of Object.keys(obj)) {
        if (typeof obj[k] !== 'number') continue;
        stackFields.push(prefix + k);
        stackSrcs.push([obj, k]);
      }
    }
    const schema: Schema = {
      version: VERSION,
      sections: [
        { name: 'rings', fields: ringFields, gauges: RING_GAUGES, labels: rings.map((r) => r.device.caps.name) },
        { name: 'pools', fields: POOL_FIELDS.map((f) => f[0]), gauges: gaugesOf(POOL_FIELDS), labels: pools.map((p) => p.name) },
        { name: 'poller', fields: pollerFields, gauges: POLLER_GAUGES },
        { name: 'stack', fields: stackFields, gauges: [] },
        { name: 'sockets', fields: SOCKET_FIELDS.map((f) => f[0]), gauges: gaugesOf(SOCKET_FIELDS) },
        { name: 'mcgroups', fields: MCGROUP_FIELDS.map((f) => f[0]), gauges: gaugesOf(MCGROUP_FIELDS), labels: stack.interfaces.map((i) => i.name) },
        { name: 'daemonClients', fields: DAEMON_CLIENT_FIELDS.map((f) => f[0]), gauges: gaugesOf(DAEMON_CLIENT_FIELDS) },
      ] satisfies SectionSchema[],
    };
    const capacities = [rings.length, pools.length, 1, 1, Math.max(0, opts.fdNum), MC_TABLE_SIZE, this.daemon ? this.daemon.capacity : 0];
    const schemaBytes = Buffer.from(JSON.stringify(schema));
    if (SCHEMA_OFF + schemaBytes.length > HEADER_BYTES) throw new Error(`tsvma stats: schema too large (${schemaBytes.length} bytes)`);
    let off = HEADER_BYTES;
    for (let i = 0; i < SECTION_NAMES.length; i++) {
      const words = schema.sections[i].fields.length;
      this.sections.push({ off, words, capacity: capacities[i], used: i === Section.Sockets || i === Section.McGroups || i === Section.DaemonClients ? 0 : capacities[i] });
      off += words * 8 * capacities[i];
    }
    const bytes = off;

    this.file = createShared(this.path, bytes);
    const ab = this.file.buffer;
    this.f64 = new Float64Array(ab);
    this.i32 = new Int32Array(ab);
    const u8 = new Uint8Array(ab);
    const dv = new DataView(ab);
    // MAGIC goes in last: a reader takes a file without it for "not (yet) a stats file".
    dv.setUint32(H.VERSION, VERSION, true);
    dv.setUint32(H.HEADER_BYTES, HEADER_BYTES, true);
    dv.setUint32(H.FILE_BYTES, bytes, true);
    dv.setUint32(H.PID, process.pid, true);
    dv.setUint32(H.THREAD, thread, true);
    dv.setInt32(H.LOG_LEVEL, getLogLevel(), true);
    dv.setUint32(H.INTERVAL_MS, interval, true);
    dv.setFloat64(H.START_TIME, Date.now() - performance.now(), true); // the process's start (time origin)
    putText(u8, H.NAME, NAME_BYTES, opts.name ?? (path.basename(process.argv[1] ?? process.argv0) || process.argv0));
    putText(u8, H.CMDLINE, CMDLINE_BYTES, [process.argv0, ...process.execArgv, ...process.argv.slice(1)].join(' '));
    u8.set(schemaBytes, SCHEMA_OFF);
    dv.setUint32(H.SCHEMA_LEN, schemaBytes.length, true);
    dv.setUint32(H.SECTION_COUNT, SECTION_NAMES.length, true);
    for (let i = 0; i < this.sections.length; i++) {
      const s = this.sections[i];
      const at = H.SECTIONS + i * SECTION_ENTRY_BYTES;
      dv.setUint32(at, s.off, true);
      dv.setUint32(at + 4, s.words * 8, true);
      dv.setUint32(at + 8, s.capacity, true);
      dv.setUint32(at + 12, s.used, true);
    }

    // Fixed records.
    const gaugeMask = (sch: SectionSchema): Uint8Array => Uint8Array.from(sch.fields, (f) => (sch.gauges.includes(f) ? 1 : 0));
    rings.forEach((r, i) => {
      this.addFixed(Section.Rings, i, [[r, 'id'], ...ringKeys.map((k): Src => [r.counters, k]), [r, 'txPending']], gaugeMask(schema.sections[0]));
    });
    pools.forEach((p, i) => {
      const c = p.counters;
      this.addFixed(Section.Pools, i, [
        [{ ringId: poolRing[i] }, 'ringId'], [p, 'count'], [p, 'bufSize'], [p, 'available'], [c, 'outstanding'], [c, 'highWater'], [c, 'wrapped'],
        [c, 'allocs'], [c, 'allocFailures'], [c, 'wrapFailures'],
      ], gaugeMask(schema.sections[1]));
    });
    this.addFixed(Section.Poller, 0, [...pollerKeys.map((k): Src => [poller.counters, k]), [poller, 'isSleeping'], [poller.rings, 'length']], gaugeMask(schema.sections[2]));
    this.addFixed(Section.Stack, 0, stackSrcs, gaugeMask(schema.sections[3]));
    this.socketGauge = gaugeMask(schema.sections[4]);
    this.daemonGauge = gaugeMask(schema.sections[6]);

    for (const e of registeredSockets()) this.socketAdded(e);
    onRegistryChange((e, added) => (added ? this.socketAdded(e) : this.socketRemoved(e)));
    this.copy();
    dv.setUint32(H.MAGIC, MAGIC, true);
    this.timer = setInterval(this.tick, interval);
    this.timer.unref();
  }

  private addFixed(section: Section, index: number, srcs: Src[], gauge: Uint8Array): void {
    const n = srcs.length;
    this.fixed.push({ section, index, objs: srcs.map((x) => x[0] as Record<string, unknown>), keys: srcs.map((x) => x[1]), gauge, base: new Float64Array(n), live: new Float64Array(n) });
  }

  private socketAdded(e: SocketEntry): void {
    const s = this.sections[Section.Sockets];
    let slot = -1;
    if (this.freeSlots.length > 0) slot = this.freeSlots.pop()!;
    else if (this.nextSlot < s.capacity) slot = this.nextSlot++;
    if (slot < 0) {
      this.notRecorded++;
      return;
    }
    const k = this.clearSlots.indexOf(slot);
    if (k >= 0) this.clearSlots.splice(k, 1);
    e.slot = slot;
    e.base = null;
  }

  private socketRemoved(e: SocketEntry): void {
    if (e.slot < 0) return;
    this.freeSlots.push(e.slot);
    this.clearSlots.push(e.slot);
    e.slot = -1;
  }

  /** The timer's work: a copy when a reader asked for one or posted a request (zero, level); else nothing. */
  poll(): void {
    const i32 = this.i32;
    if (this.closed || !i32) return;
    if (Atomics.load(i32, H.READ_REQ_SEQ >> 2) !== this.readReq
      || Atomics.load(i32, H.LEVEL_REQ_SEQ >> 2) !== Atomics.load(i32, H.LEVEL_ACK_SEQ >> 2)
      || Atomics.load(i32, H.ZERO_REQ_SEQ >> 2) !== Atomics.load(i32, H.ZERO_ACK_SEQ >> 2)) this.copy();
  }

  /** One copy of every counter into the file, after applying the control requests. */
  copy(): void {
    const f64 = this.f64;
    const i32 = this.i32;
    if (this.closed || !f64 || !i32) return;
    const t0 = performance.now();
    // Control words first: what they change shows in this very copy.
    const readReq = Atomics.load(i32, H.READ_REQ_SEQ >> 2);
    this.readReq = readReq;
    const levelReq = Atomics.load(i32, H.LEVEL_REQ_SEQ >> 2);
    if (levelReq !== Atomics.load(i32, H.LEVEL_ACK_SEQ >> 2)) {
      setLogLevel(Atomics.load(i32, H.LEVEL_REQ_VALUE >> 2));
      Atomics.store(i32, H.LOG_LEVEL >> 2, getLogLevel());
      Atomics.store(i32, H.LEVEL_ACK_SEQ >> 2, levelReq);
    }
    const zeroReq = Atomics.load(i32, H.ZERO_REQ_SEQ >> 2);
    const zero = zeroReq !== Atomics.load(i32, H.ZERO_ACK_SEQ >> 2);

    Atomics.add(i32, H.SEQ >> 2, 1); // odd: copying
    Atomics.store(i32, H.LOG_LEVEL >> 2, getLogLevel());
    for (const r of this.fixed) {
      const live = r.live;
      const objs = r.objs;
      const keys = r.keys;
      for (let j = 0; j < keys.length; j++) live[j] = +(objs[j][keys[j]] as number);
      if (zero) for (let j = 0; j < live.length; j++) if (!r.gauge[j]) r.base[j] = live[j];
      const s = this.sections[r.section];
      let w = (s.off >> 3) + r.index * s.words;
      for (let j = 0; j < live.length; j++) f64[w++] = r.gauge[j] ? live[j] : live[j] - r.base[j];
    }
    this.copySockets(f64, zero);
    this.copyGroups(f64);
    if (this.daemon) this.copyDaemonClients(f64, zero);
    this.setU32(H.SOCKETS_NOT_RECORDED, this.notRecorded);
    f64[H.UPDATE_TIME >> 3] = Date.now();
    f64[H.UPDATES >> 3]++;
    if (zero) Atomics.store(i32, H.ZERO_ACK_SEQ >> 2, zeroReq);
    Atomics.store(i32, H.READ_ACK_SEQ >> 2, readReq);
    const us = (performance.now() - t0) * 1000;
    f64[H.WRITE_US_LAST >> 3] = us;
    if (us > f64[H.WRITE_US_MAX >> 3]) f64[H.WRITE_US_MAX >> 3] = us;
    f64[H.WRITE_US_TOTAL >> 3] += us;
    Atomics.add(i32, H.SEQ >> 2, 1); // even: consistent
  }

  private setU32(at: number, v: number): void {
    this.i32![at >> 2] = v | 0;
  }

  private copySockets(f64: Float64Array, zero: boolean): void {
    const s = this.sections[Section.Sockets];
    const words = s.words;
    const base0 = s.off >> 3;
    for (const slot of this.clearSlots) f64.fill(0, base0 + slot * words, base0 + (slot + 1) * words);
    this.clearSlots.length = 0;
    const live = this.socketLive;
    const gauge = this.socketGauge;
    for (const e of registeredSockets()) {
      if (e.slot < 0) continue;
      socketValues(e, live);
      if (zero) {
        e.base ??= new Float64Array(words);
        for (let j = 0; j < words; j++) if (!gauge[j]) e.base[j] = live[j];
        e.readyPacketsMax = e.readyBytesMax = 0;
      }
      const b = e.base;
      let w = base0 + e.slot * words;
      for (let j = 0; j < words; j++) f64[w++] = b === null || gauge[j] ? live[j] : live[j] - b[j];
    }
    if (this.nextSlot !== s.used) {
      s.used = this.nextSlot;
      this.setU32(H.SECTIONS + Section.Sockets * SECTION_ENTRY_BYTES + 12, s.used);
    }
  }

  private copyGroups(f64: Float64Array): void {
    const s = this.sections[Section.McGroups];
    const words = s.words;
    let w = s.off >> 3;
    let n = 0;
    const ifcs = this.rt.engine.stack.interfaces;
    for (let i = 0; i < ifcs.length; i++) {
      for (const g of ifcs[i].groups.values()) {
        if (n === s.capacity) break;
        let members = g.anySource;
        for (const m of g.sources.values()) members += m;
        f64[w] = 1;
        f64[w + 1] = i;
        f64[w + 2] = g.group >>> 0;
        f64[w + 3] = g.exclude ? 1 : 0;
        f64[w + 4] = members;
        f64[w + 5] = g.sources.size;
        w += words;
        n++;
      }
    }
    this.endRewrite(f64, Section.McGroups, n, w);
  }

  /** The end of a section rewritten whole each copy: `n` records written up to word `w`; the rest of the last copy's cleared. */
  private endRewrite(f64: Float64Array, section: Section, n: number, w: number): void {
    const s = this.sections[section];
    if (s.used > n) f64.fill(0, w, (s.off >> 3) + s.used * s.words);
    if (n !== s.used) {
      s.used = n;
      this.setU32(H.SECTIONS + section * SECTION_ENTRY_BYTES + 12, n);
    }
  }

  /** ringd's clients, rewritten whole each copy (a few per ringd; the section is a slot table read by `inUse`). */
  private copyDaemonClients(f64: Float64Array, zero: boolean): void {
    const s = this.sections[Section.DaemonClients];
    const words = s.words;
    const gauge = this.daemonGauge;
    const live = this.daemonLive;
    let w = s.off >> 3;
    let n = 0;
    const seen = new Set<number>();
    for (const c of this.daemon!.clients()) {
      if (n === s.capacity) break;
      const k = c.counters;
      live.set([1, c.id, c.pid, c.uid, k.rxFrames, k.rxDrops, k.txFrames, k.txBad, k.portsLearned, c.rxFill, c.slots, c.ports.length, c.groupPorts, c.conns]);
      for (let i = 0; i < DAEMON_CLIENT_PORTS; i++) live[14 + i] = i < c.ports.length ? c.ports[i] : 0;
      let base = this.daemonBase.get(c.id);
      if (zero) {
        base ??= new Float64Array(words);
        this.daemonBase.set(c.id, base);
        for (let j = 0; j < words; j++) if (!gauge[j]) base[j] = live[j];
      }
      seen.add(c.id);
      for (let j = 0; j < words; j++) f64[w++] = base === undefined || gauge[j] ? live[j] : live[j] - base[j];
      n++;
    }
    for (const id of this.daemonBase.keys()) if (!seen.has(id)) this.daemonBase.delete(id);
    this.endRewrite(f64, Section.DaemonClients, n, w);
  }

  /** Last copy, then the file is marked closed, removed and unmapped. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.copy();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    onRegistryChange(null);
    Atomics.or(this.i32!, H.FLAGS >> 2, FLAG_CLOSED);
    // Views first, then the mapping (a view touched after munmap is a SIGSEGV).
    this.f64 = null;
    this.i32 = null;
    try {
      fs.unlinkSync(this.path);
    } catch {
      // already gone (a reader cleaned it up)
    }
    this.file.unmap();
  }
}

function putText(u8: Uint8Array, at: number, max: number, s: string): void {
  u8.set(Buffer.from(s, 'utf8').subarray(0, max - 1), at);
}

function gaugesOf(fields: readonly (readonly [string, string, ...unknown[]])[]): string[] {
  return fields.filter((f) => f[1] === 'g').map((f) => f[0]);
}
