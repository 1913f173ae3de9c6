/**
 * Text for statistics: `tsvma stats` views (-v 1 … 5, like vma_stats), VMA's close-time dump for
 * VMA_STATS_FILE, and OpenMetrics exposition for Prometheus. Pure functions of decoded snapshots.
 */
import { formatIp } from '../../proto/wire/addr';
import { tcpStateName } from '../../proto/stack/tcp';
import { traceLevelName } from '../../conf';
import type { Rec, Snapshot } from './reader';

const LINE = '======================================================';

const protoName = (p: number): string => (p === 17 ? 'udp' : p === 6 ? 'tcp' : String(p));
const addr = (ip: number, port: number): string => `${formatIp(ip >>> 0)}:${port}`;
const remote = (r: Rec): string => (r.remotePort ? addr(r.remoteIp, r.remotePort) : r.proto === 6 ? '0.0.0.0:*' : '*:*');
const state = (r: Rec): string => (r.proto === 6 ? (tcpStateName[r.tcpState] ?? String(r.tcpState)) : '');
const kb = (bytes: number): number => Math.floor(bytes / 1024);

/** One table row: columns before `right` (or not in it) left-aligned, the others right-aligned (header rows too). */
function pad(cells: (string | number)[], widths: number[], right: number | readonly number[]): string {
  const isRight = (i: number): boolean => (typeof right === 'number' ? i >= right : right.includes(i));
  return cells.map((c, i) => (isRight(i) ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join(' ').trimEnd();
}

/** VMA's per-socket block (print_full_stats), used by VMA_STATS_FILE and `-v 3`. */
export function formatCloseDump(r: Rec): string {
  const lines = [LINE, `\tFd=[${r.fd}]`];
  lines.push(`\t- ${r.proto === 6 ? 'TCP' : 'UDP'}, ${r.offloaded ? 'Offloaded' : 'OS (passed through)'}${r.proto === 6 ? `, ${state(r)}` : ''}`);
  lines.push(`\t- Local Address   = [${addr(r.localIp, r.localPort)}]`);
  if (r.remotePort) lines.push(`\t- Foreign Address = [${addr(r.remoteIp, r.remotePort)}]`);
  if (r.mcGroups) lines.push(`\t- Member of ${r.mcGroups} multicast group(s)`);
  if (r.txPackets || r.txErrors || r.txEagain) lines.push(`\tTx Offload: ${kb(r.txBytes)} KB / ${r.txPackets} / ${r.txEagain} / ${r.txErrors} [kilobytes/packets/eagains/errors]`);
  if (r.txOsPackets || r.txOsErrors) lines.push(`\tTx OS info: ${kb(r.txOsBytes)} KB / ${r.txOsPackets} / ${r.txOsErrors} [kilobytes/packets/errors]`);
  if (r.txRetransmits) lines.push(`\tRetransmissions: ${r.txRetransmits}`);
  if (r.rxPackets || r.rxErrors || r.rxEagain) lines.push(`\tRx Offload: ${kb(r.rxBytes)} KB / ${r.rxPackets} / ${r.rxEagain} / ${r.rxErrors} [kilobytes/packets/eagains/errors]`);
  if (r.rxOsPackets || r.rxOsErrors) lines.push(`\tRx OS info: ${kb(r.rxOsBytes)} KB / ${r.rxOsPackets} / ${r.rxOsErrors} [kilobytes/packets/errors]`);
  if (r.rxPackets || r.rxDrops || r.rxReadyBytes) {
    const pct = r.rxPackets + r.rxDrops > 0 ? ((100 * r.rxDrops) / (r.rxPackets + r.rxDrops)).toFixed(2) : '0.00';
    lines.push(`\tRx byte: cur ${r.rxReadyBytes} / max ${r.rxReadyBytesMax} / dropped ${r.rxDrops} (${pct}%) / limit ${r.rxReadyLimit}`);
    lines.push(`\tRx pkt : cur ${r.rxReadyPackets} / max ${r.rxReadyPacketsMax} / dropped ${r.rxDrops}`);
  }
  if (r.zcopyHeld) lines.push(`\tZero-copy buffers held: ${r.zcopyHeld}`);
  lines.push(LINE, '');
  return lines.join('\n');
}

export interface ViewOptions {
  /** 1 basic, 2 extra, 3 full, 4 multicast groups, 5 netstat-like. */
  level: number;
  /** The counters are deltas over `seconds`. */
  deltas?: boolean;
  seconds?: number;
}

function title(s: Snapshot, o: ViewOptions): string {
  const age = s.updateTime > 0 ? `${((Date.now() - s.updateTime) / 1000).toFixed(1)} s ago` : 'never';
  const what = o.deltas ? `deltas over ${o.seconds ?? 0} s` : 'totals';
  const thread = s.thread ? ` thread ${s.thread}` : '';
  return `tsvma stats: pid ${s.pid}${thread} (${s.name}), ${what}; updated ${age}; log level ${traceLevelName(s.logLevel)}${s.closed ? '; process closed its stats' : ''}`;
}

function socketTable(s: Snapshot): string[] {
  const w = [5, 5, 4, 21, 21, 11, 9, 8, 9, 8, 6, 6, 6, 8, 8];
  const out = [pad(['fd', 'proto', 'offl', 'local', 'remote', 'state', 'rx pkts', 'rx KB', 'tx pkts', 'tx KB', 'drops', 'errs', 'eagain', 'os rx', 'os tx'], w, 6)];
  for (const r of s.sections.sockets.records) {
    out.push(pad([r.fd, protoName(r.proto), r.offloaded ? 'yes' : 'no', addr(r.localIp, r.localPort), remote(r), state(r),
      r.rxPackets, kb(r.rxBytes), r.txPackets, kb(r.txBytes), r.rxDrops, r.rxErrors + r.txErrors, r.rxEagain + r.txEagain, r.rxOsPackets, r.txOsPackets], w, 6));
  }
  if (s.sections.sockets.records.length === 0) out.push('  (no sockets)');
  if (s.socketsNotRecorded) out.push(`  ${s.socketsNotRecorded} socket(s) not recorded: VMA_STATS_FD_NUM slots full`);
  return out;
}

function ringTable(s: Snapshot): string[] {
  const rings = s.sections.rings;
  const pools = s.sections.pools;
  const lw = Math.max(10, ...rings.labels.map((l) => l.length), ...pools.labels.map((l) => l.length));
  const w = [lw, 4, 10, 12, 10, 12, 8, 8, 10, 10];
  const out = [pad(['ring', 'id', 'rx frames', 'rx bytes', 'tx frames', 'tx bytes', 'drops', 'dummy', 'polls', 'empty'], w, 1)];
  rings.records.forEach((r, i) => {
    const drops = r.rxNoFlow + r.rxRunt + r.rxNoBuffer + r.txNoBuffer + r.txQueueFull + r.txClosed;
    out.push(pad([rings.labels[i] ?? `#${i}`, r.id, r.rxFrames, r.rxBytes, r.txFrames, r.txBytes, drops, r.txDummy, r.polls, r.emptyPolls], w, 1));
  });
  const pw = [lw, 7, 8, 11, 10, 10, 10, 9];
  out.push(pad(['pool', 'count', 'free', 'outstanding', 'high', 'allocs', 'no buffer', 'wrapped'], pw, 1));
  pools.records.forEach((p, i) => out.push(pad([pools.labels[i] ?? `#${i}`, p.count, p.available, p.outstanding, p.highWater, p.allocs, p.allocFailures, p.wrapped], pw, 1)));
  const p = s.sections.poller.records[0];
  if (p) {
    const total = p.busyMs + p.sleepMs;
    const busy = total > 0 ? ((100 * p.busyMs) / total).toFixed(1) : '0.0';
    out.push(`poller: ${p.sleeping ? 'sleeping' : 'hot'}; busy ${p.busyMs.toFixed(0)} ms / sleeping ${p.sleepMs.toFixed(0)} ms (${busy}% busy); turns ${p.turns}, frames ${p.frames}, sleeps ${p.sleeps}, wake-ups ${p.wakeups} (fd ${p.fdWakeups}, notify ${p.notifyWakeups}, timer ${p.timerWakeups}, kick ${p.kickWakeups})`);
  }
  return out;
}

function stackLines(s: Snapshot): string[] {
  const r = s.sections.stack.records[0];
  if (!r) return [];
  const nz = s.sections.stack.fields.filter((f) => r[f] !== 0).map((f) => `${f}=${r[f]}`);
  const out = ['stack counters (non-zero):'];
  for (let i = 0; i < nz.length; i += 6) out.push(`  ${nz.slice(i, i + 6).join('  ')}`);
  if (nz.length === 0) out.push('  (all zero)');
  return out;
}

function groupLines(s: Snapshot): string[] {
  const g = s.sections.mcgroups;
  const w = [16, 10, 8, 8, 8];
  const out = [pad(['group', 'interface', 'mode', 'members', 'sources'], w, 3)];
  for (const r of g.records) out.push(pad([formatIp(r.group >>> 0), g.labels[r.ifIndex] ?? String(r.ifIndex), r.exclude ? 'exclude' : 'include', r.members, r.sources], w, 3));
  if (g.records.length === 0) out.push('  (no multicast groups joined)');
  return out;
}

/** A ringd client's ports as text (port0 … port7, then how many more). */
function clientPorts(r: Rec): string {
  const out: string[] = [];
  for (let i = 0; i < r.ports && `port${i}` in r; i++) {
    const v = r[`port${i}`];
    out.push(v >= 65536 ? `tcp/${v - 65536}` : `udp/${v}`);
  }
  if (r.ports > out.length) out.push(`+${r.ports - out.length}`);
  return out.join(' ') || '-';
}

/** tsvma ringd's clients (its file only). */
function daemonClientLines(s: Snapshot): string[] {
  const d = s.sections.daemonClients;
  const w = [4, 8, 6, 10, 8, 10, 6, 10, 6, 0]; // right-aligned; the ports list last, unpadded
  const out = [`ringd clients: ${d.records.length}`, pad(['id', 'pid', 'uid', 'rx frames', 'rx drops', 'tx frames', 'tx bad', 'ring fill', 'conns', 'ports'], w, 0)];
  for (const r of d.records) {
    out.push(pad([r.clientId, r.pid, r.uid, r.rxFrames, r.rxDrops, r.txFrames, r.txBad, `${r.rxFill}/${r.slots}`, r.conns, clientPorts(r)], w, 0));
  }
  return out;
}

const NETSTAT_RIGHT = [2, 3, 7];

function netstatLines(s: Snapshot): string[] {
  const w = [6, 10, 7, 7, 22, 22, 12, 6];
  const out = [pad(['Proto', 'Offloaded', 'Recv-Q', 'Send-Q', 'Local Address', 'Foreign Address', 'State', 'fd'], w, NETSTAT_RIGHT).concat('  PID/Program name')];
  for (const r of s.sections.sockets.records) {
    out.push(`${pad([protoName(r.proto), r.offloaded ? 'Yes' : 'No', r.rxReadyBytes, r.txQueuedBytes, addr(r.localIp, r.localPort), remote(r), state(r) || ' ', r.fd], w, NETSTAT_RIGHT)}  ${s.pid}/${s.name}`);
  }
  return out;
}

/** One process's view at `level` (vma_stats -v). */
export function formatView(s: Snapshot, o: ViewOptions): string {
  const out = [title(s, o)];
  switch (o.level) {
    case 4:
      out.push(...groupLines(s));
      break;
    case 5:
      out.push(...netstatLines(s));
      break;
    default:
      // tsvma ringd's file: its stack section carries its own counters (ringd.*); it has no sockets.
      if (s.sections.daemonClients.records.length > 0 || s.sections.stack.fields.some((f) => f.startsWith('ringd.'))) out.push(...daemonClientLines(s));
      else out.push(...socketTable(s));
      if (o.level >= 2) out.push(...ringTable(s));
      if (o.level >= 3) {
        out.push(...stackLines(s));
        out.push(`writer: ${s.updates} copies (one per read; requests checked every ${s.intervalMs} ms), last ${s.writeUs.last.toFixed(1)} µs, mean ${s.writeUs.mean.toFixed(1)} µs, max ${s.writeUs.max.toFixed(1)} µs`);
        for (const r of s.sections.sockets.records) out.push(formatCloseDump(r).trimEnd());
      }
  }
  return `${out.join('\n')}\n`;
}

/** A snapshot as plain JSON-able data (sections by name, records with their labels). */
export function snapshotJson(s: Snapshot): object {
  const sec = (n: keyof Snapshot['sections']) => {
    const d = s.sections[n];
    return d.records.map((r, i) => (d.labels[i] !== undefined && n !== 'mcgroups' ? { name: d.labels[i], ...r } : { ...r }));
  };
  const sockets = s.sections.sockets.records.map((r) => ({
    ...r, protoName: protoName(r.proto), local: addr(r.localIp, r.localPort), remote: r.remotePort ? addr(r.remoteIp, r.remotePort) : null,
    state: r.proto === 6 ? state(r) : null,
  }));
  const groups = s.sections.mcgroups.records.map((r) => ({ ...r, address: formatIp(r.group >>> 0), interface: s.sections.mcgroups.labels[r.ifIndex] ?? null }));
  return {
    pid: s.pid, thread: s.thread, name: s.name, cmdline: s.cmdline, closed: s.closed, startTime: s.startTime, updateTime: s.updateTime,
    updates: s.updates, intervalMs: s.intervalMs, logLevel: s.logLevel, logLevelName: traceLevelName(s.logLevel), socketsNotRecorded: s.socketsNotRecorded,
    writeUs: s.writeUs, rings: sec('rings'), pools: sec('pools'), poller: s.sections.poller.records[0] ?? null, stack: s.sections.stack.records[0] ?? null,
    sockets, mcgroups: groups,
    daemonClients: s.sections.daemonClients.records.map((r) => {
      const o: Record<string, unknown> = { ...r, portNames: clientPorts(r).split(' ').filter((x) => x !== '-') };
      for (let i = 0; `port${i}` in r; i++) delete o[`port${i}`];
      return o;
    }),
  };
}

// ---- OpenMetrics ------------------------------------------------------------------------------

const snake = (s: string): string => s.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labels = (l: Record<string, string | number>): string => `{${Object.entries(l).map(([k, v]) => `${k}="${esc(String(v))}"`).join(',')}}`;
const num = (v: number): string => (Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN');

/**
 * OpenMetrics text (application/openmetrics-text; version=1.0.0) for the snapshots: one family per
 * field and section (`tsvma_<section>_<field>`), counters with `_total` samples, labelled by pid and
 * process (and ring, pool, fd, group); ends with `# EOF`.
 */
export function formatOpenMetrics(snaps: Snapshot[]): string {
  const families = new Map<string, { type: 'counter' | 'gauge' | 'info'; help: string; samples: string[] }>();
  const add = (name: string, type: 'counter' | 'gauge' | 'info', help: string, l: Record<string, string | number>, v: number): void => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { type, help, samples: [] }));
    const sample = type === 'counter' ? `${name}_total` : type === 'info' ? `${name}_info` : name;
    f.samples.push(`${sample}${labels(l)} ${num(v)}`);
  };
  for (const s of snaps) {
    const who = { pid: s.pid, process: s.name, ...(s.thread ? { thread: s.thread } : {}) };
    add('tsvma_process', 'info', 'A process with a tsvma statistics file.', { ...who, log_level: traceLevelName(s.logLevel) }, 1);
    add('tsvma_process_start_time_seconds', 'gauge', 'Start time of the process, seconds since the epoch.', who, s.startTime / 1000);
    add('tsvma_stats_updates', 'counter', 'Copies of the counters the process made into its statistics file.', who, s.updates);
    add('tsvma_stats_write_seconds_max', 'gauge', 'Longest copy of the counters into the statistics file, seconds.', who, s.writeUs.max / 1e6);
    const fixed = (section: 'rings' | 'pools' | 'poller' | 'stack', key: string | null): void => {
      const d = s.sections[section];
      const prefix = section === 'rings' ? 'ring' : section === 'pools' ? 'pool' : section;
      d.records.forEach((r, i) => {
        const l = key ? { ...who, [key]: d.labels[i] ?? String(i) } : who;
        for (const f of d.fields) add(`tsvma_${prefix}_${snake(f)}`, d.gauges.has(f) ? 'gauge' : 'counter', `${section} ${f}`, l, r[f]);
      });
    };
    fixed('rings', 'ring');
    fixed('pools', 'pool');
    fixed('poller', null);
    fixed('stack', null);
    const sk = s.sections.sockets;
    for (const r of sk.records) {
      const l = { ...who, fd: r.fd, proto: protoName(r.proto), local: addr(r.localIp, r.localPort), remote: remote(r) };
      for (const f of sk.fields) {
        if (f === 'inUse' || f === 'fd' || f === 'proto') continue;
        add(`tsvma_socket_${snake(f)}`, sk.gauges.has(f) ? 'gauge' : 'counter', `socket ${f}`, l, r[f]);
      }
    }
    const dc = s.sections.daemonClients;
    for (const r of dc.records) {
      const l = { ...who, client_pid: r.pid, client_id: r.clientId };
      for (const f of ['rxFrames', 'rxDrops', 'txFrames', 'txBad', 'portsLearned', 'rxFill', 'ports', 'conns']) {
        add(`tsvma_ringd_client_${snake(f)}`, dc.gauges.has(f) ? 'gauge' : 'counter', `ringd client ${f}`, l, r[f]);
      }
    }
    const g = s.sections.mcgroups;
    for (const r of g.records) add('tsvma_mcgroup_members', 'gauge', 'Sockets joined to a multicast group.', { ...who, interface: g.labels[r.ifIndex] ?? String(r.ifIndex), group: formatIp(r.group >>> 0) }, r.members);
  }
  const out: string[] = [];
  for (const [name, f] of families) {
    out.push(`# TYPE ${name} ${f.type}`, `# HELP ${name} ${esc(f.help)}`, ...f.samples);
  }
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}
