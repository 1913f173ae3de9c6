/**
 * The statistics file's layout, shared by the process that writes it (writer.ts) and `tsvma stats`
 * (reader.ts). One file per process: `<VMA_STATS_SHMEM_DIR>/tsvmastat.<pid>` (a worker thread's:
 * `tsvmastat.<pid>.<threadId>`), mapped MAP_SHARED by the process and updated in place.
 *
 * ```
 * 0      header (HEADER_BYTES): magic, version, pid, seqlock, control words, times, name, cmdline,
 *        the section table (offset, record size, capacity, slots used per section) and, from
 *        SCHEMA_OFF, the schema: JSON naming every section's fields (in record order), which of
 *        them are gauges, and the labels of fixed records (ring and pool names)
 * ...    sections, each `capacity` records of `recordBytes` = 8 × fields bytes: Float64 words, little-endian
 * ```
 *
 * Versioning: MAGIC and VERSION change when this header's fixed offsets or the list of sections
 * change (version 2 added `daemonClients`: tsvma ringd's clients, docs/ringd.md). Records are
 * described by the schema, so a field added to a section needs no new version: a reader looks
 * fields up by name and ignores the ones it does not know.
 *
 * Copies only when read (VMA copies only while a reader is attached): a reader bumps READ_REQ_SEQ
 * and waits for READ_ACK_SEQ to catch up; the process answers with one copy on its next interval
 * tick, and otherwise only checks the control words.
 *
 * Consistency: the writer bumps SEQ to odd before copying and to even after (a seqlock); a reader
 * copies the file and retries while SEQ was odd or changed. Control words (zero, log level) are a
 * request value plus a request count the reader bumps; the process applies each request once and
 * copies the count into the matching ACK word.
 *
 * Counters are monotonic; gauges (addresses, states, queue lengths, buffers outstanding) are not.
 * A zero request (`tsvma stats -z`) re-bases the counters of every record to 0; gauges stay.
 */
import * as fs from 'node:fs';

/** 'TSVS' read as a little-endian u32. */
export const MAGIC = 0x53565354;
export const VERSION = 2;
export const FILE_PREFIX = 'tsvmastat.';
/** Matches our file names: pid, then an optional worker thread id. */
export const FILE_RE = /^tsvmastat\.(\d+)(?:\.(\d+))?$/;

/** Byte offsets of the header's fields. i32/u32 fields are 4-aligned (Atomics index = offset / 4), f64 fields 8-aligned. */
export const H = {
  MAGIC: 0, // u32
  VERSION: 4, // u32
  HEADER_BYTES: 8, // u32
  FILE_BYTES: 12, // u32
  PID: 16, // u32
  THREAD: 20, // u32: worker thread id, 0 for the main thread
  SEQ: 24, // i32: seqlock (odd while the writer copies)
  FLAGS: 28, // u32: FLAG_*
  LOG_LEVEL: 32, // i32: the process's log level now (VMA level number, -1 none … 8 all)
  LEVEL_REQ_SEQ: 36, // i32: bumped by a reader asking for LEVEL_REQ_VALUE
  LEVEL_REQ_VALUE: 40, // i32
  LEVEL_ACK_SEQ: 44, // i32: the last LEVEL_REQ_SEQ the process applied
  ZERO_REQ_SEQ: 48, // i32: bumped by a reader asking for zeroed counters
  ZERO_ACK_SEQ: 52, // i32
  INTERVAL_MS: 56, // u32: how often the process copies its counters here
  SOCKETS_NOT_RECORDED: 60, // u32: sockets that found the socket table full (VMA_STATS_FD_NUM)
  START_TIME: 64, // f64: process start, ms since the epoch
  UPDATE_TIME: 72, // f64: last copy, ms since the epoch
  UPDATES: 80, // f64: copies made
  WRITE_US_LAST: 88, // f64: cost of the last copy, µs
  WRITE_US_MAX: 96, // f64
  WRITE_US_TOTAL: 104, // f64
  SCHEMA_LEN: 112, // u32: bytes of schema JSON at SCHEMA_OFF
  SECTION_COUNT: 116, // u32
  READ_REQ_SEQ: 120, // i32: bumped by a reader that wants fresh counters (the process copies only while read)
  READ_ACK_SEQ: 124, // i32: the last READ_REQ_SEQ a copy answered
  NAME: 128, // NAME_BYTES of UTF-8, NUL-padded: the process name
  CMDLINE: 192, // CMDLINE_BYTES of UTF-8, NUL-padded (truncated)
  SECTIONS: 640, // SECTION_SLOTS × 16 bytes: u32 offset, u32 recordBytes, u32 capacity, u32 used
} as const;
export const NAME_BYTES = 64;
export const CMDLINE_BYTES = 448;
export const SECTION_SLOTS = 8;
export const SECTION_ENTRY_BYTES = 16;
export const SCHEMA_OFF = 768;
export const HEADER_BYTES = 16384;

/** FLAGS bits. */
export const FLAG_CLOSED = 1;

/** Sections, in file order (their index in the section table). */
export const enum Section {
  Rings = 0,
  Pools = 1,
  Poller = 2,
  Stack = 3,
  Sockets = 4,
  McGroups = 5,
  /** tsvma ringd's clients (a slot table; empty in every other process). */
  DaemonClients = 6,
}
export const SECTION_NAMES = ['rings', 'pools', 'poller', 'stack', 'sockets', 'mcgroups', 'daemonClients'] as const;
export type SectionName = (typeof SECTION_NAMES)[number];

/** VMA's MC group table size (vma_stats.h MC_TABLE_SIZE). */
export const MC_TABLE_SIZE = 1024;

/** The schema written once at SCHEMA_OFF. */
export interface Schema {
  version: number;
  sections: SectionSchema[];
}
export interface SectionSchema {
  name: SectionName;
  fields: string[];
  /** Fields that are not counters (never zeroed, never summed as deltas). */
  gauges: string[];
  /** Names of fixed records (rings, pools, interfaces for mcgroups' ifIndex). */
  labels?: string[];
}

/** A socket record's fields, in order (VMA's socket_stats_t as far as tsvma keeps them). `g`: gauge. */
export const SOCKET_FIELDS = [
  ['inUse', 'g', 'slot in use (0: free)'],
  ['fd', 'g', "tsvma's small socket number (lib/stats/registry.ts)"],
  ['proto', 'g', '17 UDP, 6 TCP'],
  ['offloaded', 'g', '1: on tsvma\'s stack, 0: passed through to Node'],
  ['localIp', 'g', 'bound address (u32)'],
  ['localPort', 'g', 'bound port'],
  ['remoteIp', 'g', 'connected peer (u32), 0 when none'],
  ['remotePort', 'g', 'connected peer port'],
  ['tcpState', 'g', 'TcpState (proto/tcp/types.ts), -1 for UDP'],
  ['mcGroups', 'g', 'multicast memberships'],
  ['rxPackets', 'c', 'offloaded: datagrams / segments received'],
  ['rxBytes', 'c', 'offloaded: payload bytes received'],
  ['rxDrops', 'c', 'datagrams dropped on a full receive queue; TCP: out-of-order and PAWS drops'],
  ['rxErrors', 'c', 'receive errors reported to the socket'],
  ['rxEagain', 'c', 'reads that found nothing (none in Node\'s event model)'],
  ['rxOsPackets', 'c', 'datagrams received through the kernel (pass-through, or the offloaded socket\'s kernel twin)'],
  ['rxOsBytes', 'c', 'bytes received through the kernel'],
  ['rxOsErrors', 'c', 'kernel receive errors'],
  ['txPackets', 'c', 'offloaded: datagrams / segments sent'],
  ['txBytes', 'c', 'offloaded: payload bytes sent'],
  ['txErrors', 'c', 'sends that failed (no route, no TX buffer)'],
  ['txEagain', 'c', 'TCP writes the send buffer could not take whole (the rest waited)'],
  ['txRetransmits', 'c', 'TCP retransmissions'],
  ['txDummy', 'c', 'dummy sends (VMA_SND_FLAGS_DUMMY)'],
  ['txOsPackets', 'c', 'datagrams sent through the kernel'],
  ['txOsBytes', 'c', 'bytes sent through the kernel'],
  ['txOsErrors', 'c', 'kernel send errors'],
  ['rxReadyPackets', 'g', 'datagrams waiting in the receive queue'],
  ['rxReadyBytes', 'g', 'bytes waiting in the receive queue'],
  ['rxReadyLimit', 'g', 'receive queue limit, bytes (SO_RCVBUF)'],
  ['rxReadyPacketsMax', 'g', 'most datagrams seen waiting (sampled at each copy)'],
  ['rxReadyBytesMax', 'g', 'most bytes seen waiting (sampled at each copy)'],
  ['txQueuedBytes', 'g', 'TCP: bytes in the send buffer (unsent and unacknowledged)'],
  ['zcopyHeld', 'g', 'RX buffers the application holds (extra API: zero-copy receive, VMA_PACKET_HOLD, SocketXtreme)'],
] as const;
export type SocketField = (typeof SOCKET_FIELDS)[number][0];

export const MCGROUP_FIELDS = [
  ['inUse', 'g'],
  ['ifIndex', 'g'],
  ['group', 'g'],
  ['exclude', 'g'],
  ['members', 'g'],
  ['sources', 'g'],
] as const;

/** Ports listed per ringd client record (port0 … port7); `ports` counts them all. */
export const DAEMON_CLIENT_PORTS = 8;

/** A ringd client's record (ring/daemon/ringd.ts ClientCounters and its ring). `g`: gauge. */
export const DAEMON_CLIENT_FIELDS = [
  ['inUse', 'g', 'slot in use (0: free)'],
  ['clientId', 'g', "ringd's id for the client (its region is /dev/shm/tsvma-ringd.<ringd pid>.<id>)"],
  ['pid', 'g', "the client's pid (SO_PEERCRED)"],
  ['uid', 'g', "the client's uid"],
  ['rxFrames', 'c', 'frames ringd copied into its RX ring'],
  ['rxDrops', 'c', 'frames ringd dropped because its RX ring was full'],
  ['txFrames', 'c', 'frames ringd took from its TX ring onto the device'],
  ['txBad', 'c', 'TX frames refused (bad index or length, another client\'s port)'],
  ['portsLearned', 'c', 'ports it sent from without a claim (made its own)'],
  ['rxFill', 'g', 'frames waiting in its RX ring'],
  ['slots', 'g', 'frames its RX ring holds'],
  ['ports', 'g', 'ports it holds (alone or in a reuse-port group)'],
  ['groupPorts', 'g', 'of which shared in a reuse-port group'],
  ['conns', 'g', 'TCP connections ringd tracks for it'],
  ...Array.from({ length: DAEMON_CLIENT_PORTS }, (_, i) => [`port${i}`, 'g', 'a port: UDP p as p, TCP p as 65536 + p; 0 none'] as const),
] as const;

export const POOL_FIELDS = [
  ['ringId', 'g'],
  ['count', 'g'],
  ['bufSize', 'g'],
  ['available', 'g'],
  ['outstanding', 'g'],
  ['highWater', 'g'],
  ['wrapped', 'g'],
  ['allocs', 'c'],
  ['allocFailures', 'c'],
  ['wrapFailures', 'c'],
] as const;

export const POLLER_GAUGES = ['sleeping', 'rings'];
export const RING_GAUGES = ['id', 'txPending'];

/** Whether the pid is alive: it exists (EPERM: someone else's) and is not a zombie waiting to be reaped. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}
