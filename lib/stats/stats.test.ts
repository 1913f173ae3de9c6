/**
 * lib/stats in one process: the registry's fds, the writer's file read back by the reader (counts,
 * gauges, zero and log-level requests, VMA_STATS_FD_NUM, VMA_STATS_FILE), dead-process clean-up and
 * OpenMetrics that parses. An engine on the sim device with the loopback interface; stack sockets
 * registered the way lib/dgram.ts and lib/net_handle.ts register theirs.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveConfig } from '../../conf';
import { Tcp } from '../../proto/stack/tcp';
import { Udp, type UdpSocket } from '../../proto/stack/udp';
import { SimWire } from '../../ring/sim';
import { Engine } from '../engine';
import type { LoadedConfig } from '../config';
import type { Runtime } from '../runtime';
import { formatOpenMetrics, formatView, snapshotJson } from './format';
import { copyStatsNow, fdOf, getLogLevel, onLogLevel, socketByFd, startStats, statsFilePath, stopStats, trackTcp, trackUdp, untrack } from './index';
import { FILE_RE, H, MAGIC, SOCKET_FIELDS, VERSION } from './layout';
import { applied, listStatsFiles, postRequest, readSnapshot, removeDead, type Rec, type Snapshot } from './reader';
import { socketValues } from './registry';
import { StatsWriter } from './writer';

const LO = 0x7f000001;

let dir: string;
let rt: Runtime;

function makeRuntime(env: Record<string, string>): Runtime {
  const config = resolveConfig({ VMA_CONFIG_FILE: '/nonexistent/libvma.conf', VMA_STATS_SHMEM_DIR: dir, ...env });
  const engine = new Engine({ device: new SimWire().attach(0x020000000002), ip: 0xc6120002, prefix: 24, loopback: true });
  const loaded = { config, rules: [], ruleErrors: [], program: 'jest', warnings: [] } as unknown as LoadedConfig;
  return { engine, udp: new Udp(engine.stack), tcp: new Tcp(engine.stack), loaded, refs: 0, linger: null };
}

function open(owner: object, port = 0): UdpSocket {
  const s = rt.udp.open();
  expect(rt.udp.bind(s, LO, port)).toBe(0);
  trackUdp(owner, rt, s);
  return s;
}

const until = async (cond: () => boolean): Promise<void> => {
  while (!cond()) await new Promise((r) => setImmediate(r));
};

function snap(): Snapshot {
  copyStatsNow();
  const s = readSnapshot(statsFilePath()!);
  expect(s).not.toBeNull();
  return s!;
}

const sock = (s: Snapshot, fd: number): Rec => s.sections.sockets.records.find((r) => r.fd === fd)!;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-stats-'));
});
afterEach(() => {
  stopStats();
  rt?.engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('registry', () => {
  it('hands out the lowest free fd from 1, frees it at close, and maps both ways', () => {
    rt = makeRuntime({});
    startStats(rt);
    const owners = [{}, {}, {}];
    const socks = owners.map((o) => open(o));
    expect(owners.map(fdOf)).toEqual([1, 2, 3]);
    expect(socketByFd(2)?.owner).toBe(owners[1]);
    untrack(owners[1]);
    expect(fdOf(owners[1])).toBe(-1);
    expect(socketByFd(2)).toBeUndefined();
    const again = {};
    open(again);
    expect(fdOf(again)).toBe(2);
    untrack(owners[2]);
    untrack(again);
    const next = {};
    open(next);
    expect(fdOf(next)).toBe(2);
    for (const s of socks) rt.udp.close(s);
  });

  it('records one value per SOCKET_FIELDS entry', () => {
    rt = makeRuntime({});
    startStats(rt);
    const o = {};
    open(o);
    expect(socketValues(socketByFd(fdOf(o))!).length).toBe(SOCKET_FIELDS.length);
  });

  it('tracks nothing without a runtime (stats stopped)', () => {
    expect(trackUdp({}, {} as Runtime, {} as UdpSocket)).toBeNull();
  });
});

describe('the statistics file', () => {
  it('is tsvmastat.<pid> with a versioned header, the counts sent and received, and gauges', async () => {
    rt = makeRuntime({});
    startStats(rt);
    const file = statsFilePath()!;
    expect(path.basename(file)).toBe(`tsvmastat.${process.pid}`);
    expect(FILE_RE.test(path.basename(file))).toBe(true);
    expect(fs.readFileSync(file).readUInt32LE(H.MAGIC)).toBe(MAGIC);
    const rxOwner = {};
    const txOwner = {};
    const rx = open(rxOwner, 40000);
    const tx = open(txOwner);
    const payload = Buffer.alloc(50, 7);
    for (let i = 0; i < 7; i++) expect(rt.udp.send(tx, payload, 0, 50, LO, 40000, rt.engine.clock())).toBe(50);
    rt.engine.flush();
    await until(() => rx.queued === 7);
    const s = snap();
    expect(s.pid).toBe(process.pid);
    const r = sock(s, fdOf(rxOwner));
    const t = sock(s, fdOf(txOwner));
    expect(r).toMatchObject({ proto: 17, offloaded: 1, localIp: LO, localPort: 40000, rxPackets: 7, rxBytes: 350, rxReadyPackets: 7, rxReadyBytes: 350, tcpState: -1 });
    expect(t).toMatchObject({ txPackets: 7, txBytes: 350, rxPackets: 0 });
    expect(s.sections.rings.labels).toEqual(['sim0', 'lo']);
    expect(s.sections.pools.records.length).toBe(4);
    expect(s.sections.poller.records[0].turns).toBeGreaterThan(0);
    expect(s.sections.stack.records[0].ipDelivered).toBeGreaterThanOrEqual(7);
    expect(formatView(s, { level: 3 })).toContain(`Fd=[${fdOf(rxOwner)}]`);
    rt.udp.close(rx);
    rt.udp.close(tx);
  });

  it('zeroes counters on request and keeps gauges; sets the log level on request', async () => {
    rt = makeRuntime({ TSVMA_LOG: 'warn' });
    startStats(rt);
    const file = statsFilePath()!;
    const rxOwner = {};
    const rx = open(rxOwner, 40001);
    const tx = open({});
    for (let i = 0; i < 3; i++) rt.udp.send(tx, Buffer.alloc(10), 0, 10, LO, 40001, rt.engine.clock());
    rt.engine.flush();
    await until(() => rx.queued === 3);
    expect(sock(snap(), fdOf(rxOwner)).rxPackets).toBe(3);
    const z = postRequest(file, 'zero');
    expect(applied(file, 'zero', z)).toBe(false);
    let s = snap();
    expect(applied(file, 'zero', z)).toBe(true);
    expect(sock(s, fdOf(rxOwner))).toMatchObject({ rxPackets: 0, rxBytes: 0, localPort: 40001, rxReadyPackets: 3 });
    expect(s.sections.stack.records[0].ipDelivered).toBe(0);
    rt.udp.send(tx, Buffer.alloc(10), 0, 10, LO, 40001, rt.engine.clock());
    rt.engine.flush();
    await until(() => rx.queued === 4);
    expect(sock(snap(), fdOf(rxOwner)).rxPackets).toBe(1);

    const heard: number[] = [];
    const off = onLogLevel((l) => heard.push(l));
    expect(getLogLevel()).toBe(2);
    const l = postRequest(file, 'level', 5);
    s = snap();
    off();
    expect(applied(file, 'level', l)).toBe(true);
    expect(getLogLevel()).toBe(5);
    expect(heard).toEqual([5]);
    expect(s.logLevel).toBe(5);
    rt.udp.close(rx);
    rt.udp.close(tx);
  });

  it('records at most VMA_STATS_FD_NUM sockets and reuses the slot of a closed one', () => {
    rt = makeRuntime({ VMA_STATS_FD_NUM: '2' });
    startStats(rt);
    const owners = [{}, {}, {}];
    const socks = owners.map((o) => open(o));
    let s = snap();
    expect(s.sections.sockets.records.map((r) => r.fd)).toEqual([1, 2]);
    expect(s.socketsNotRecorded).toBe(1);
    untrack(owners[0]);
    const late = {};
    open(late);
    s = snap();
    expect(s.sections.sockets.records.map((r) => r.fd).sort()).toEqual([1, 2]); // fd 1 reused by `late`, in slot 0
    expect(fdOf(late)).toBe(1);
    for (const x of socks) rt.udp.close(x);
  });

  it('TCP connections show their state, and VMA_STATS_FILE gets each socket at close', async () => {
    const dump = path.join(dir, 'dump.%d.txt');
    rt = makeRuntime({ VMA_STATS_FILE: dump });
    startStats(rt);
    const tcp = rt.tcp;
    const l = tcp.open();
    expect(tcp.bind(l, LO, 5001)).toBe(0);
    expect(tcp.listen(l, 8)).toBe(0);
    const lOwner = {};
    trackTcp(lOwner, rt, l);
    const c = tcp.open();
    const cOwner = {};
    expect(tcp.connect(c, LO, 5001, rt.engine.clock())).toBe(0);
    trackTcp(cOwner, rt, c);
    rt.engine.flush();
    await until(() => c.state === 4); // ESTABLISHED
    expect(tcp.send(c, Buffer.alloc(1000), 0, 1000, rt.engine.clock())).toBe(1000);
    rt.engine.flush();
    await until(() => c.counters.txBytes === 1000);
    const s = snap();
    expect(sock(s, fdOf(lOwner))).toMatchObject({ proto: 6, tcpState: 1, localPort: 5001 });
    expect(sock(s, fdOf(cOwner))).toMatchObject({ proto: 6, tcpState: 4, remotePort: 5001, txBytes: 1000 });
    expect(formatView(s, { level: 5 })).toMatch(/tcp\s+Yes.*127\.0\.0\.1:5001\s+ESTABLISHED/);
    untrack(cOwner);
    const text = fs.readFileSync(dump.replace('%d', String(process.pid)), 'utf8');
    expect(text).toMatch(/Fd=\[2\][\s\S]*- TCP, Offloaded, ESTABLISHED[\s\S]*Tx Offload: 0 KB \/ \d+ \/ 0 \/ 0 \[kilobytes\/packets\/eagains\/errors\]/);
    tcp.abort(c, rt.engine.clock());
    tcp.close(l, rt.engine.clock());
  });

  it('is removed when stats stop, and a dead process\'s file is removed by the reader', () => {
    rt = makeRuntime({});
    startStats(rt);
    const file = statsFilePath()!;
    stopStats();
    expect(fs.existsSync(file)).toBe(false);
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const stale = path.join(dir, `tsvmastat.${dead}`);
    fs.writeFileSync(stale, 'x');
    fs.writeFileSync(path.join(dir, `tsvmastat.${process.pid}`), 'x');
    expect(removeDead(dir).map((f) => f.pid)).toEqual([dead]);
    expect(fs.existsSync(stale)).toBe(false);
    expect(listStatsFiles(dir).map((f) => f.pid)).toEqual([process.pid]);
    expect(readSnapshot(path.join(dir, `tsvmastat.${process.pid}`))).toBeNull(); // no magic: not a stats file
  });
});

describe('OpenMetrics', () => {
  it('has a family per field, counters as _total, sockets labelled by fd, and # EOF', () => {
    rt = makeRuntime({});
    startStats(rt);
    const o = {};
    const s1 = open(o, 40002);
    const text = formatOpenMetrics([snap()]);
    expect(text.endsWith('\n# EOF\n')).toBe(true);
    expect(text).toContain('# TYPE tsvma_socket_rx_packets counter\n');
    expect(text).toContain(`tsvma_socket_rx_packets_total{pid="${process.pid}",process=`);
    expect(text).toMatch(new RegExp(`tsvma_socket_local_port\\{[^}]*fd="${fdOf(o)}",proto="udp",local="127.0.0.1:40002"[^}]*\\} 40002\n`));
    expect(text).toMatch(/tsvma_ring_rx_frames_total\{[^}]*ring="lo"\} 0\n/);
    // The full OpenMetrics check of the endpoint's output is in test/cli/stats.test.ts.
    rt.udp.close(s1);
  });
});

describe('tsvma ringd (the daemonClients section, layout version 2)', () => {
  it("a writer with a daemon source records each client, ringd's counters as ringd.*, zeroes per client, and shows them in text, JSON and OpenMetrics", () => {
    rt = makeRuntime({});
    const counters = { rxSteered: 7, deadResets: 1 };
    const clients = [
      { id: 3, pid: 4242, uid: 0, ports: [9310, 65536 + 9320], groupPorts: 1, rxFill: 5, slots: 1024, conns: 2, counters: { rxFrames: 100, rxDrops: 4, txFrames: 90, txBad: 0, portsLearned: 1 } },
    ];
    const w = new StatsWriter(rt, { dir, fdNum: 0, name: 'tsvma ringd', daemon: { capacity: 16, counters, clients: () => clients } });
    try {
      let s = readSnapshot(w.path)!;
      expect(new DataView(fs.readFileSync(w.path).buffer).getUint32(H.VERSION, true)).toBe(VERSION);
      expect(VERSION).toBe(2);
      expect(s.name).toBe('tsvma ringd');
      expect(s.sections.stack.records[0]['ringd.rxSteered']).toBe(7);
      expect(s.sections.daemonClients.records).toEqual([expect.objectContaining({ inUse: 1, clientId: 3, pid: 4242, rxFrames: 100, rxDrops: 4, rxFill: 5, ports: 2, port0: 9310, port1: 65536 + 9320, port2: 0 })]);
      const text = formatView(s, { level: 1 });
      expect(text).toContain('ringd clients: 1\n');
      expect(text).toMatch(/ +3 +4242 +0 +100 +4 +90 +0 +5\/1024 +2 udp\/9310 tcp\/9320\n/);
      expect((snapshotJson(s) as { daemonClients: { portNames: string[] }[] }).daemonClients[0].portNames).toEqual(['udp/9310', 'tcp/9320']);
      expect(formatOpenMetrics([s])).toMatch(/tsvma_ringd_client_rx_frames_total\{[^}]*client_pid="4242",client_id="3"\} 100\n/);
      // Zero: counters re-based per client, gauges kept; a client that leaves frees its record.
      postRequest(w.path, 'zero');
      w.copy();
      expect(readSnapshot(w.path)!.sections.daemonClients.records[0]).toMatchObject({ rxFrames: 0, rxDrops: 0, rxFill: 5 });
      clients[0].counters.rxFrames = 130;
      w.copy();
      s = readSnapshot(w.path)!;
      expect(s.sections.daemonClients.records[0]).toMatchObject({ rxFrames: 30, rxFill: 5 });
      clients.length = 0;
      w.copy();
      expect(readSnapshot(w.path)!.sections.daemonClients.records).toEqual([]);
    } finally {
      w.close();
    }
  });

  it("an ordinary process's file has the section, empty, and its text shows no ringd table", () => {
    rt = makeRuntime({});
    startStats(rt);
    const s = snap();
    expect(s.sections.daemonClients.fields[0]).toBe('inUse');
    expect(s.sections.daemonClients.records).toEqual([]);
    expect(formatView(s, { level: 2 })).not.toContain('ringd clients');
  });
});
