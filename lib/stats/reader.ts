/**
 * Reading statistics files from another process (`tsvma stats`): find them, copy one consistently
 * (seqlock retry), decode it through its schema, clean up the files of dead processes, and post
 * control requests (zero the counters, set the log level) that the process applies on its next copy.
 *
 * Plain file I/O (pread/pwrite on the same pages the process has mapped): the reader needs no FFI.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FILE_RE, H, HEADER_BYTES, MAGIC, SCHEMA_OFF, SECTION_ENTRY_BYTES, SECTION_NAMES, CMDLINE_BYTES, NAME_BYTES, VERSION, pidAlive, type Schema, type SectionName } from './layout';

/** One record: field name → value. */
export type Rec = Record<string, number>;

export interface SectionData {
  fields: string[];
  gauges: Set<string>;
  /** Labels of fixed records (rings, pools), and interface names for mcgroups. */
  labels: string[];
  /** Fixed sections: every record; slot tables: the records in use. */
  records: Rec[];
}

export interface Snapshot {
  file: string;
  pid: number;
  thread: number;
  name: string;
  cmdline: string;
  closed: boolean;
  startTime: number;
  updateTime: number;
  updates: number;
  intervalMs: number;
  logLevel: number;
  socketsNotRecorded: number;
  writeUs: { last: number; max: number; mean: number };
  sections: Record<SectionName, SectionData>;
}

export interface StatsFile {
  path: string;
  pid: number;
  thread: number;
}

/** The directory `tsvma stats` looks in: -k, else VMA_STATS_SHMEM_DIR, else /tmp/ (VMA's default). */
export function statsDir(dir?: string): string {
  return dir ?? (process.env.VMA_STATS_SHMEM_DIR || '/tmp/');
}

/** The statistics files in `dir`, by pid. */
export function listStatsFiles(dir: string): StatsFile[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: StatsFile[] = [];
  for (const n of names) {
    const m = FILE_RE.exec(n);
    if (m) out.push({ path: path.join(dir, n), pid: Number(m[1]), thread: m[2] ? Number(m[2]) : 0 });
  }
  return out.sort((a, b) => a.pid - b.pid || a.thread - b.thread);
}

/** Removes the files of processes that are gone (VMA's reader does the same); returns those removed. */
export function removeDead(dir: string): StatsFile[] {
  const gone: StatsFile[] = [];
  for (const f of listStatsFiles(dir)) {
    if (pidAlive(f.pid)) continue;
    try {
      fs.unlinkSync(f.path);
      gone.push(f);
    } catch {
      // someone else removed it, or no permission: leave it
    }
  }
  return gone;
}

function text(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return s.subarray(0, z < 0 ? len : z).toString('utf8');
}

/** A consistent copy of the file's bytes (retries while the writer is mid-copy), or null when it is not a stats file. */
function readConsistent(file: string): Buffer | null {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(HEADER_BYTES);
    const seqBuf = Buffer.alloc(4);
    for (let attempt = 0; attempt < 1000; attempt++) {
      if (fs.readSync(fd, head, 0, HEADER_BYTES, 0) < SCHEMA_OFF) return null;
      if (head.readUInt32LE(H.MAGIC) !== MAGIC) return null;
      if (head.readUInt32LE(H.VERSION) !== VERSION) throw new Error(`${file}: layout version ${head.readUInt32LE(H.VERSION)}, this tsvma reads ${VERSION}`);
      const bytes = head.readUInt32LE(H.FILE_BYTES);
      const all = Buffer.alloc(bytes);
      const got = fs.readSync(fd, all, 0, bytes, 0);
      if (got < bytes) return null;
      const seq = all.readInt32LE(H.SEQ);
      fs.readSync(fd, seqBuf, 0, 4, H.SEQ);
      if ((seq & 1) === 0 && seqBuf.readInt32LE(0) === seq) return all;
    }
    throw new Error(`${file}: the writer never stood still (1000 attempts)`);
  } finally {
    fs.closeSync(fd);
  }
}

/** Decodes a statistics file; null when the file is not one (or vanished). */
export function readSnapshot(file: string): Snapshot | null {
  let b: Buffer | null;
  try {
    b = readConsistent(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  if (!b) return null;
  const schema = JSON.parse(b.subarray(SCHEMA_OFF, SCHEMA_OFF + b.readUInt32LE(H.SCHEMA_LEN)).toString('utf8')) as Schema;
  const sections = {} as Record<SectionName, SectionData>;
  const count = b.readUInt32LE(H.SECTION_COUNT);
  for (let i = 0; i < count && i < SECTION_NAMES.length; i++) {
    const sch = schema.sections[i];
    const at = H.SECTIONS + i * SECTION_ENTRY_BYTES;
    const off = b.readUInt32LE(at);
    const recordBytes = b.readUInt32LE(at + 4);
    const used = b.readUInt32LE(at + 12);
    const slotTable = sch.fields[0] === 'inUse';
    const records: Rec[] = [];
    for (let r = 0; r < used; r++) {
      const base = off + r * recordBytes;
      const rec: Rec = {};
      sch.fields.forEach((f, j) => (rec[f] = b.readDoubleLE(base + 8 * j)));
      if (slotTable && rec.inUse !== 1) continue;
      records.push(rec);
    }
    sections[sch.name] = { fields: sch.fields, gauges: new Set(sch.gauges), labels: sch.labels ?? [], records };
  }
  for (const n of SECTION_NAMES) sections[n] ??= { fields: [], gauges: new Set(), labels: [], records: [] };
  const updates = b.readDoubleLE(H.UPDATES);
  return {
    file,
    pid: b.readUInt32LE(H.PID),
    thread: b.readUInt32LE(H.THREAD),
    name: text(b, H.NAME, NAME_BYTES),
    cmdline: text(b, H.CMDLINE, CMDLINE_BYTES),
    closed: (b.readUInt32LE(H.FLAGS) & 1) !== 0,
    startTime: b.readDoubleLE(H.START_TIME),
    updateTime: b.readDoubleLE(H.UPDATE_TIME),
    updates,
    intervalMs: b.readUInt32LE(H.INTERVAL_MS),
    logLevel: b.readInt32LE(H.LOG_LEVEL),
    socketsNotRecorded: b.readUInt32LE(H.SOCKETS_NOT_RECORDED),
    writeUs: { last: b.readDoubleLE(H.WRITE_US_LAST), max: b.readDoubleLE(H.WRITE_US_MAX), mean: updates > 0 ? b.readDoubleLE(H.WRITE_US_TOTAL) / updates : 0 },
    sections,
  };
}

/** Counters as the change from `prev` to `cur` (gauges as in `cur`); sockets matched by fd and protocol. */
export function deltaSnapshot(cur: Snapshot, prev: Snapshot): Snapshot {
  const sections = {} as Record<SectionName, SectionData>;
  for (const n of SECTION_NAMES) {
    const c = cur.sections[n];
    const p = prev.sections[n];
    const match = (rec: Rec, i: number): Rec | undefined =>
      'inUse' in rec ? p.records.find((q) => q.fd === rec.fd && q.proto === rec.proto && q.group === rec.group && q.ifIndex === rec.ifIndex && q.clientId === rec.clientId) : p.records[i];
    const records = c.records.map((rec, i) => {
      const old = match(rec, i);
      const out: Rec = {};
      for (const f of c.fields) out[f] = c.gauges.has(f) || !old ? rec[f] : rec[f] - (old[f] ?? 0);
      return out;
    });
    sections[n] = { ...c, records };
  }
  return { ...cur, sections };
}

type Which = 'zero' | 'level' | 'read';
const REQ = { zero: [H.ZERO_REQ_SEQ, H.ZERO_ACK_SEQ], level: [H.LEVEL_REQ_SEQ, H.LEVEL_ACK_SEQ], read: [H.READ_REQ_SEQ, H.READ_ACK_SEQ] } as const;

/**
 * Posts a request to the process (fresh counters, zero them, or set its log level to `value`); returns the
 * request number to wait for with `waitApplied`. Needs write access to the file (the same user).
 */
export function postRequest(file: string, which: Which, value = 0): number {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(4);
    fs.readSync(fd, b, 0, 4, H.MAGIC);
    if (b.readUInt32LE(0) !== MAGIC) throw new Error(`${file}: not a tsvma statistics file`);
    if (which === 'level') {
      b.writeInt32LE(value, 0);
      fs.writeSync(fd, b, 0, 4, H.LEVEL_REQ_VALUE);
    }
    const [reqAt] = REQ[which];
    fs.readSync(fd, b, 0, 4, reqAt);
    const seq = (b.readInt32LE(0) + 1) | 0;
    b.writeInt32LE(seq, 0);
    fs.writeSync(fd, b, 0, 4, reqAt);
    return seq;
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether the process has applied request `seq` (its ACK word caught up). */
export function applied(file: string, which: Which, seq: number): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    fs.readSync(fd, b, 0, 4, REQ[which][1]);
    return ((b.readInt32LE(0) - seq) | 0) >= 0;
  } finally {
    fs.closeSync(fd);
  }
}

/** Waits (polling every 10 ms) until the process applied request `seq`; false after `timeoutMs` or if the file went away. */
export async function waitApplied(file: string, which: Which, seq: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (applied(file, which, seq)) return true;
    } catch {
      return false;
    }
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Asks the process for fresh counters and waits (at most `timeoutMs`) until it copied them: it copies
 * only while someone reads. False when it did not answer (busy event loop, or gone): the file then
 * holds its last copy.
 */
export async function refresh(file: string, timeoutMs = 1000): Promise<boolean> {
  let seq: number;
  try {
    seq = postRequest(file, 'read');
  } catch {
    return false;
  }
  return waitApplied(file, 'read', seq, timeoutMs);
}
