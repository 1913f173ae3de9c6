/**
 * `tsvma stats` against a live process: a child with TSVMA_DEVICE=sim TSVMA_LOOPBACK=1 that
 * exchanges UDP datagrams and a TCP connection on 127.0.0.1 through tsvma/dgram and tsvma/net, then
 * waits. The counts `tsvma stats -p PID` (text and --json) shows must be what the child sent; -z
 * zeroes them; -l changes the child's log level; the OpenMetrics endpoint's output parses;
 * pass-through sockets count the kernel path; the file of a killed process is removed. Runs the
 * built CLI and library (dist/; `npm run build` first).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');
const bin = path.join(root, 'dist', 'bin', 'tsvma.js');
const dist = (m: string): string => JSON.stringify(path.join(root, 'dist', 'lib', m));

const UDP_COUNT = 40;
const UDP_SIZE = 123;
const TCP_BYTES = 200000;

/** The child: UDP a → b, TCP client → server; prints `ready {fds}` when all arrived, `level N` on each log-level change. */
const childScript = `
const dgram = require(${dist('dgram.js')});
const net = require(${dist('net.js')});
const stats = require(${dist('stats/index.js')});
stats.onLogLevel((l) => console.log('level ' + l));
const a = dgram.createSocket('udp4'), b = dgram.createSocket('udp4');
let got = 0, tcpGot = 0, srvConn = null, client = null, srv = null;
const done = () => {
  if (got < ${UDP_COUNT} || tcpGot < ${TCP_BYTES}) return;
  console.log('ready ' + JSON.stringify({ udpRx: stats.fdOf(b), udpTx: stats.fdOf(a), listener: stats.fdOf(srv._handle), client: stats.fdOf(client._handle), server: stats.fdOf(srvConn._handle) }));
};
b.on('message', (m) => { got++; done(); });
b.bind(0, '127.0.0.1', () => a.bind(0, '127.0.0.1', () => {
  for (let i = 0; i < ${UDP_COUNT}; i++) a.send(Buffer.alloc(${UDP_SIZE}, i), b.address().port, '127.0.0.1');
  srv = net.createServer((c) => { srvConn = c; c.on('data', (d) => { tcpGot += d.length; done(); }); });
  srv.listen(0, '127.0.0.1', () => { client = net.connect(srv.address().port, '127.0.0.1', () => client.write(Buffer.alloc(${TCP_BYTES}, 1))); });
}));
setInterval(() => {}, 1000);
process.on('SIGTERM', () => process.exit(0));
`;

interface Child {
  proc: ChildProcess;
  pid: number;
  fds: { udpRx: number; udpTx: number; listener: number; client: number; server: number };
  out: () => string;
}

let dir: string;
const children: ChildProcess[] = [];

function startChild(extra: Record<string, string> = {}): Promise<Child> {
  const env = { PATH: process.env.PATH, VMA_CONFIG_FILE: '/nonexistent/libvma.conf', TSVMA_DEVICE: 'sim', TSVMA_LOOPBACK: '1', VMA_STATS_SHMEM_DIR: dir, ...extra };
  const proc = spawn(process.execPath, ['-e', childScript], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^ready (.*)$/m.exec(out);
      if (m) resolve({ proc, pid: proc.pid!, fds: JSON.parse(m[1]), out: () => out });
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('exit', (code) => reject(new Error(`child exited (${code}) before it was ready:\n${out}`)));
  });
}

function stats(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, 'stats', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, VMA_STATS_SHMEM_DIR: dir }, timeout: 20000 });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

type Json = { processes: { pid: number; logLevel: number; logLevelName: string; sockets: Record<string, number | string | null>[]; rings: { name: string }[]; pools: unknown[]; poller: Record<string, number> }[] };
function json(pid: number): Json {
  const r = stats('-p', String(pid), '--json');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Json;
}
const byFd = (j: Json, fd: number) => j.processes[0].sockets.find((s) => s.fd === fd)!;

const until = async (cond: () => boolean): Promise<void> => {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
};

/** A strict reading of OpenMetrics text: metadata before its samples, one block per family, `_total` counters, `# EOF` last. */
function parseOpenMetrics(text: string): Map<string, { type: string; samples: { labels: Record<string, string>; value: number }[] }> {
  const fams = new Map<string, { type: string; samples: { labels: Record<string, string>; value: number }[] }>();
  const lines = text.split('\n');
  expect(lines.pop()).toBe('');
  expect(lines.pop()).toBe('# EOF');
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sampleRe = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
  let cur: string | null = null;
  for (const line of lines) {
    const meta = /^# (TYPE|HELP|UNIT) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      expect(meta[2]).toMatch(new RegExp(`^${NAME}$`));
      if (meta[1] === 'TYPE') {
        if (fams.has(meta[2])) throw new Error(`family ${meta[2]} appears twice`);
        expect(['counter', 'gauge', 'info', 'stateset', 'histogram', 'gaugehistogram', 'summary', 'unknown']).toContain(meta[3]);
        fams.set(meta[2], { type: meta[3], samples: [] });
        cur = meta[2];
      } else expect(meta[2]).toBe(cur);
      continue;
    }
    const m = sampleRe.exec(line);
    if (!m) throw new Error(`not an OpenMetrics line: ${JSON.stringify(line)}`);
    const f = fams.get(cur!)!;
    expect(m[1]).toBe(cur + (f.type === 'counter' ? '_total' : f.type === 'info' ? '_info' : ''));
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    const lre = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)/y;
    let lm: RegExpExecArray | null;
    while (lre.lastIndex < body.length && (lm = lre.exec(body)) !== null) {
      expect(labels[lm[1]]).toBeUndefined();
      labels[lm[1]] = lm[2];
    }
    expect(lre.lastIndex).toBe(body.length);
    const v = Number(m[3]);
    if (Number.isNaN(v) && m[3] !== 'NaN') throw new Error(`bad value: ${line}`);
    if (f.type === 'counter') expect(v).toBeGreaterThanOrEqual(0);
    f.samples.push({ labels, value: v });
  }
  return fams;
}

function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    }).on('error', reject);
  });
}

let child: Child;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-stats-cli-'));
  child = await startChild();
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('tsvma stats -p PID', () => {
  it('shows the UDP and TCP counts the process sent and received', () => {
    const { fds } = child;
    const r = stats('-p', String(child.pid), '-c', '1');
    expect(r.code).toBe(0);
    const row = (fd: number): string[] => r.stdout.split('\n').find((l) => l.startsWith(`${fd} `))!.trim().split(/\s+/);
    // fd proto offl local remote [state] rx-pkts rx-KB tx-pkts tx-KB drops errs eagain os-rx os-tx
    expect(row(fds.udpRx).slice(0, 3)).toEqual([String(fds.udpRx), 'udp', 'yes']);
    expect(row(fds.udpRx).slice(5, 9)).toEqual([String(UDP_COUNT), String(Math.floor((UDP_COUNT * UDP_SIZE) / 1024)), '0', '0']);
    expect(row(fds.udpTx).slice(5, 9)).toEqual(['0', '0', String(UDP_COUNT), String(Math.floor((UDP_COUNT * UDP_SIZE) / 1024))]);
    expect(row(fds.listener)).toContain('LISTEN');
    expect(row(fds.client)).toContain('ESTABLISHED');

    const j = json(child.pid);
    expect(j.processes[0].pid).toBe(child.pid);
    expect(byFd(j, fds.udpRx)).toMatchObject({ protoName: 'udp', offloaded: 1, rxPackets: UDP_COUNT, rxBytes: UDP_COUNT * UDP_SIZE, rxDrops: 0 });
    expect(byFd(j, fds.udpTx)).toMatchObject({ txPackets: UDP_COUNT, txBytes: UDP_COUNT * UDP_SIZE, txErrors: 0 });
    expect(byFd(j, fds.client)).toMatchObject({ protoName: 'tcp', state: 'ESTABLISHED', txBytes: TCP_BYTES });
    expect(byFd(j, fds.server)).toMatchObject({ protoName: 'tcp', state: 'ESTABLISHED', rxBytes: TCP_BYTES });
    expect(byFd(j, fds.listener)).toMatchObject({ state: 'LISTEN', remote: null });
    expect(j.processes[0].rings.map((x) => x.name)).toEqual(['sim0', 'lo']);
    expect(j.processes[0].pools.length).toBe(4);
  });

  it('has the views -v 2 (rings, pools, poller), 3 (full), 4 (groups), 5 (netstat-like)', () => {
    const p = String(child.pid);
    expect(stats('-p', p, '-c', '1', '-v', '2').stdout).toMatch(/^ring +id[\s\S]*^lo\.rx +4096[\s\S]*^poller: /m);
    expect(stats('-p', p, '-c', '1', '-v', '3').stdout).toMatch(new RegExp(`Fd=\\[${child.fds.udpRx}\\][\\s\\S]*Rx Offload: 4 KB / ${UDP_COUNT} / 0 / 0`));
    expect(stats('-p', p, '-c', '1', '-v', '4').stdout).toContain('no multicast groups joined');
    expect(stats('-p', p, '-c', '1', '-v', '5').stdout).toMatch(/^tcp +Yes +\d+ +\d+ 127\.0\.0\.1:\d+ +0\.0\.0\.0:\* +LISTEN/m);
    const d = stats('-p', p, '-c', '1', '-d', '-i', '0.2');
    expect(d.stdout).toContain('deltas over 0.2 s');
    expect(stats('-n', 'nosuchprocess').code).toBe(1);
    expect(stats('-v', '9').code).toBe(2);
  });

  it('serves OpenMetrics that parse, with the same counts', async () => {
    const server = spawn(process.execPath, [bin, 'stats', '--prometheus', '127.0.0.1:0', '-p', String(child.pid)], { env: { PATH: process.env.PATH, VMA_STATS_SHMEM_DIR: dir } });
    children.push(server);
    let out = '';
    server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    server.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /http:\/\/\S+\/metrics/.test(out) || server.exitCode !== null);
    const url = /(http:\/\/\S+\/metrics)/.exec(out)?.[1];
    expect(url).toBeDefined();
    const res = await get(url!);
    server.kill('SIGTERM');
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const fams = parseOpenMetrics(res.body);
    const rx = fams.get('tsvma_socket_rx_packets')!;
    expect(rx.type).toBe('counter');
    expect(rx.samples.find((s) => s.labels.fd === String(child.fds.udpRx))).toMatchObject({ value: UDP_COUNT, labels: { pid: String(child.pid), proto: 'udp' } });
    expect(fams.get('tsvma_socket_tx_bytes')!.samples.find((s) => s.labels.fd === String(child.fds.client))!.value).toBe(TCP_BYTES);
    expect(fams.get('tsvma_ring_tx_frames')!.samples.map((s) => s.labels.ring)).toEqual(['sim0', 'lo']);
    expect(fams.get('tsvma_process')!.samples[0].labels.log_level).toBeDefined();
  });

  it('-z zeroes the counters (gauges stay)', () => {
    const r = stats('-p', String(child.pid), '-z');
    expect(r.stdout).toContain(`counters of process ${child.pid} zeroed`);
    expect(r.code).toBe(0);
    const j = json(child.pid);
    expect(byFd(j, child.fds.udpRx)).toMatchObject({ rxPackets: 0, rxBytes: 0, offloaded: 1 });
    expect(byFd(j, child.fds.udpRx).localPort).toBeGreaterThan(0);
    expect(byFd(j, child.fds.client)).toMatchObject({ txBytes: 0, state: 'ESTABLISHED' });
  });

  it('-l sets the process\'s log level', async () => {
    expect(json(child.pid).processes[0].logLevelName).toBe('warn');
    const r = stats('-p', String(child.pid), '-l', 'debug');
    expect(r.stdout).toContain(`log level of process ${child.pid} set to debug`);
    await until(() => /^level 5$/m.test(child.out()));
    expect(json(child.pid).processes[0]).toMatchObject({ logLevel: 5, logLevelName: 'debug' });
    expect(stats('-p', String(child.pid), '-l', 'loud').code).toBe(2);
  });

  it('removes the file of a process that died, and -f shows only live ones', async () => {
    const doomed = await startChild();
    const file = path.join(dir, `tsvmastat.${doomed.pid}`);
    expect(fs.existsSync(file)).toBe(true);
    const exited = new Promise((r) => doomed.proc.once('exit', r));
    doomed.proc.kill('SIGKILL');
    await exited;
    expect(fs.existsSync(file)).toBe(true); // SIGKILL: nobody removed it
    const r = stats('-p', String(doomed.pid));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`removed ${file} (process ${doomed.pid} is gone)`);
    expect(fs.existsSync(file)).toBe(false);
    const all = stats('-f', '--json');
    expect((JSON.parse(all.stdout) as Json).processes.map((p) => p.pid)).toEqual([child.pid]);
  });

  it('counts the kernel path of sockets passed through to Node (no loopback offload)', async () => {
    const c = await startChild({ TSVMA_LOOPBACK: '0' });
    const j = json(c.pid);
    expect(byFd(j, c.fds.udpRx)).toMatchObject({ offloaded: 0, rxOsPackets: UDP_COUNT, rxOsBytes: UDP_COUNT * UDP_SIZE, rxPackets: 0, local: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(byFd(j, c.fds.udpTx)).toMatchObject({ offloaded: 0, txOsPackets: UDP_COUNT, txOsBytes: UDP_COUNT * UDP_SIZE });
    expect(c.fds.client).toBe(-1); // TCP through Node's own handles is not registered
    c.proc.kill('SIGKILL');
  });

  it('a process that exits removes its file and dumps its open sockets to VMA_STATS_FILE', async () => {
    const dump = path.join(dir, 'dump.%d.txt');
    const c = await startChild({ VMA_STATS_FILE: dump });
    const file = path.join(dir, `tsvmastat.${c.pid}`);
    expect(fs.existsSync(file)).toBe(true);
    const exited = new Promise((r) => c.proc.once('exit', r));
    c.proc.kill('SIGTERM'); // the child exits through process.exit
    await exited;
    expect(fs.existsSync(file)).toBe(false);
    const text = fs.readFileSync(dump.replace('%d', String(c.pid)), 'utf8');
    expect(text).toContain(`Fd=[${c.fds.udpRx}]`);
    expect(text).toContain(`Rx Offload: 4 KB / ${UDP_COUNT} / 0 / 0 [kilobytes/packets/eagains/errors]`);
    expect(text).toMatch(/- TCP, Offloaded, LISTEN/);
  });
});
