/**
 * `tsvma perf`: argument errors, sockperf's statistics, and interoperation with the real sockperf
 * (Debian's `sockperf` 3.7) in both directions — on loopback with kernel sockets, and over a veth
 * with tsvma offloaded on the packet device in namespace a and sockperf on the kernel in namespace
 * b. Runs the built CLI (dist/bin/tsvma.js; `npm test` builds first). Each run is `-t 1`.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { latencyReport, streamReport } from '../../bin/perf/report';
import { clientMessage, FLAG_CLIENT, FLAG_PONG, readFlags, readLength, readSeq, writeFlags, writeSeq } from '../../bin/perf/message';
import { createLink, netnsUnavailable, type Link } from '../helpers/netns';

const bin = path.join(__dirname, '..', '..', 'dist', 'bin', 'tsvma.js');
const env = { PATH: process.env.PATH, VMA_CONFIG_FILE: '/nonexistent/libvma.conf' };

function hasSockperf(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v sockperf && command -v stdbuf'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const sockperfMissing = hasSockperf() ? null : 'sockperf is not installed (apt-get install sockperf): interop tests skipped';
const netnsMissing = netnsUnavailable();
if (sockperfMissing) console.warn(`tsvma perf: ${sockperfMissing}`);
else if (netnsMissing) console.warn(`tsvma perf: veth interop tests skipped: ${netnsMissing}`);
const itInterop = sockperfMissing ? it.skip : it;
const itVeth = sockperfMissing || netnsMissing ? it.skip : it;

/** A long-running server process: resolves when its stdout shows `ready`; stop() sends SIGINT and returns all output. */
interface Server {
  child: ChildProcess;
  stop(): Promise<string>;
}
function startServer(child: ChildProcess, ready: RegExp): Promise<Server> {
  let out = '';
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const server: Server = {
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await closed;
      clearTimeout(t);
      return out;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready after 10 s:\n${out}`)), 10000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve(server);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before it was ready:\n${out}`));
    });
  });
}

/** A UDP port free on loopback right now. */
function freePort(): number {
  const r = spawnSync(process.execPath, ['-e', "const s=require('dgram').createSocket('udp4');s.bind(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

function run(cmd: string, args: string[], extraEnv: Record<string, string> = {}): { code: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...env, ...extraEnv }, timeout: 20000 });
  return { code: r.status ?? 128, out: `${r.stdout}${r.stderr}` };
}

const num = (out: string, re: RegExp): number => {
  const m = re.exec(out);
  if (!m) throw new Error(`no ${re} in:\n${out}`);
  return Number(m[1]);
};
const LATENCY = /^sockperf: Summary: Latency is ([\d.]+) usec$/m;
const RATE = /^sockperf: Summary: Message Rate is (\d+) \[msg\/sec\]$/m;
const HANDLED = /^sockperf: Total (\d+) messages received and handled$/m;

function expectSaneLatency(colored: string): void {
  const out = colored.replace(new RegExp(`${String.fromCharCode(27)}\\[[\\d;]*m`, 'g'), ''); // sockperf colours some lines
  const lat = num(out, LATENCY);
  expect(lat).toBeGreaterThan(0.5);
  expect(lat).toBeLessThan(20000);
  expect(out).toMatch(/^sockperf: ====> avg-latency=[\d.]+ \(std-dev=[\d.]+/m);
  expect(out).toMatch(/^sockperf: ---> <MAX> observation = +[\d.]+$/m);
  expect(out).toMatch(/^sockperf: ---> percentile 99\.999 = +[\d.]+$/m);
  expect(out).toMatch(/^sockperf: ---> percentile 50\.000 = +[\d.]+$/m);
  expect(out).toMatch(/^sockperf: ---> <MIN> observation = +[\d.]+$/m);
  expect(num(out, /^sockperf: Total (\d+) observations/m)).toBeGreaterThan(10);
}

describe('tsvma perf: arguments', () => {
  const perf = (...args: string[]): { code: number; out: string } => run(process.execPath, [bin, 'perf', ...args]);

  it('rejects an unknown or missing mode with exit 2', () => {
    const r = perf('bounce', '-i', '127.0.0.1');
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/unknown mode 'bounce'/);
    expect(perf().code).toBe(2);
  });

  it('rejects bad ports, sizes, times, rates and options with exit 2 and says which', () => {
    const cases: [string[], RegExp][] = [
      [['pp', '-i', '127.0.0.1', '-p', '70000'], /-p\/--port takes a whole number from 1 to 65535 \(got '70000'\)/],
      [['sr', '--port=x'], /-p\/--port takes a whole number/],
      [['pp', '-i', '127.0.0.1', '--mps', '0'], /--mps takes a whole number from 1/],
      [['tp', '-i', '127.0.0.1', '--mps=fast'], /--mps takes a whole number .*'fast'/],
      [['ul', '-i', '127.0.0.1', '--pps', '-5'], /--mps takes a whole number/],
      [['pp', '-i', '127.0.0.1', '-m', '13'], /-m\/--msg-size takes a whole number from 14 to 65507/],
      [['pp', '-i', '127.0.0.1', '-t', '0'], /-t\/--time takes a whole number from 1/],
      [['pp'], /-i\/--ip IP is required for a client/],
      [['pp', '-i', '::1'], /takes an IPv4 address/],
      [['pp', '-i', '127.0.0.1', '--no-such-option'], /unknown option '--no-such-option'/],
      [['pp', '-i', '127.0.0.1', '-p'], /-p needs a value/],
      [['sr', '-t', '1'], /--time is a client option/],
      [['pp', '-i', '127.0.0.1', '--reply-every', '10'], /--reply-every is for under-load only/],
      [['pp', '-i', '127.0.0.1', '--full-log', '/nonexistent/dir/x.csv'], /--full-log: cannot write/],
    ];
    for (const [args, re] of cases) {
      const r = perf(...args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.out).toMatch(re);
    }
  });

  it('prints usage for --help (exit 0) and is listed by tsvma --help', () => {
    const r = perf('--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ping-pong \(pp\)/);
    expect(run(process.execPath, [bin, '--help']).out).toMatch(/^ {2}perf server\|ping-pong/m);
  });
});

describe('tsvma perf: wire format and statistics', () => {
  it('writes the 14-byte sockperf header big-endian, as sockperf 3.7 sends it', () => {
    const b = clientMessage(20);
    writeSeq(b, 0x1_0000_0002);
    writeFlags(b, FLAG_CLIENT | FLAG_PONG);
    // seq u64, flags u16, length u32: what tcpdump showed sockperf 3.7 sending for `-m 20`, seq 1 (here 2^32 + 2).
    expect(b.subarray(0, 14).toString('hex')).toBe('0000000100000002' + '0003' + '00000014');
    expect([readSeq(b), readFlags(b), readLength(b)]).toEqual([0x1_0000_0002, 3, 20]);
  });

  it('computes sockperf statistics: valid window, RTT/2, percentile index round(p·N)−1, drops, duplicates', () => {
    // 2000 pong requests sent 1 ms apart (2 s); latency of request k is k % 100 µs, request 1500 lost.
    const n = 2000;
    const tx = new Float64Array(n + 1);
    const rx = new Float64Array(n + 1);
    for (let k = 1; k <= n; k++) {
      tx[k] = 1000 + k;
      if (k !== 1500) rx[k] = tx[k] + (2 * (k % 100)) / 1000;
    }
    const r = latencyReport({
      replyEvery: 1, sent: n, received: n - 1 + 3, duplicates: 3, tx, rx, lastTx: tx[n], start: 1000, end: 1000 + n,
      durationSec: 2, mps: 1000, msgSize: 14, fullRtt: false, clockBaseSec: 0,
    });
    const text = r.lines.join('\n');
    // Window: tx ≥ tx[1] + 400 (k ≥ 401) and tx ≤ tx[n] − 50 (k ≤ 1950): 1550 requests, one lost.
    expect(text).toMatch(/^\[Valid Duration\] RunTime=1\.549 sec; SentMessages=1550; ReceivedMessages=1549$/m);
    expect(text).toMatch(/^# dropped messages = 1; # duplicated messages = 3; # out-of-order messages = 0$/m);
    expect(r.summary!.observations).toBe(1549);
    expect(r.summary!.min).toBeCloseTo(0, 6);
    expect(r.summary!.max).toBeCloseTo(99, 6);
    expect(text).toMatch(/^---> <MAX> observation = {3}99\.000$/m);
    // 14 zeros (one of the k ≡ 0 requests was lost), 16 each of 1..50, 15 each of 51..99: index 774 is 48.
    expect(text).toMatch(/^---> percentile 50\.000 = +48\.000$/m);
    expect(text).toMatch(/^---> percentile 99\.000 = +98\.000$/m);
    expect(text).toMatch(/^Summary: Latency is 48\.757 usec$/m);
    expect(r.fullLog).toMatch(/^test was performed using the following parameters: --mps=1000 --burst=1 --reply-every=1 --msg-size=14 --time=2$/m);
    expect(r.fullLog).toMatch(/^packet, txTime\(sec\), rxTime\(sec\), latency\(usec\)$/m);
    expect(r.fullLog).toMatch(/^0, 1\.401000000, 1\.401002000, 1\.000$/m);
    expect(r.fullLog).not.toMatch(/Summary/); // sockperf writes the summary line to stdout only
  });

  it('reports message rate and bandwidth as sockperf throughput does', () => {
    const r = streamReport({ sent: 100000, start: 0, end: 1000, msgSize: 1472, mps: 0, gigaSize: false });
    expect(r.lines).toContain('Summary: Message Rate is 100000 [msg/sec]');
    expect(r.lines).toContain('Summary: BandWidth is 140.381 MBps (1123.047 Mbps)');
    const f = streamReport({ sent: 1000, start: 0, end: 1000, msgSize: 4000, mps: 1000, gigaSize: false });
    expect(f.lines).toContain('Summary: Message Rate is 1000 [msg/sec], Packet Rate is about 3000 [pkt/sec] (3 ip frags / msg)');
  });
});

describe('tsvma perf ⇄ sockperf on loopback, kernel sockets', () => {
  itInterop('answers a real sockperf ping-pong client and counts every message (real sockperf takes ~3 s for -t 1)', async () => {
    const port = freePort();
    const srv = await startServer(spawn(process.execPath, [bin, 'perf', 'server', '-i', '127.0.0.1', '-p', String(port)], { env, stdio: ['ignore', 'pipe', 'pipe'] }), /^sockperf: tsvma: kernel socket/m);
    let out = '';
    try {
      const pp = run('sockperf', ['ping-pong', '-i', '127.0.0.1', '-p', String(port), '-t', '1']);
      expect(pp.code).toBe(0);
      expect(pp.out).not.toMatch(/ERROR|No messages were received/);
      expectSaneLatency(pp.out);
      expect(pp.out).toMatch(/# dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0/);
      out = await srv.stop();
      // Every ping was counted (the last one may still have been in flight when sockperf stopped).
      const pings = num(pp.out, /\[Total Run\].*SentMessages=(\d+)/);
      expect(num(out, HANDLED)).toBeGreaterThanOrEqual(pings - 1);
    } finally {
      out = await srv.stop();
    }
    expect(out).toMatch(/^sockperf: Test end \(interrupted by user\)$/m);
  });

  itInterop('runs ping-pong, under-load and throughput against a real sockperf server', async () => {
    const port = freePort();
    const srv = await startServer(spawn('stdbuf', ['-oL', 'sockperf', 'server', '-i', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] }), /to block on socket/);
    const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-perf-')), 'full.csv');
    let out = '';
    try {
      const perf = (...a: string[]): { code: number; out: string } => run(process.execPath, [bin, 'perf', ...a, '-i', '127.0.0.1', '-p', String(port), '-t', '1']);
      const pp = perf('pp', '--full-log', logFile);
      expect(pp.code).toBe(0);
      expect(pp.out).toMatch(/^sockperf: tsvma: kernel socket \(Node dgram; TSVMA_DEVICE unset\)$/m);
      expectSaneLatency(pp.out);
      const pings = num(pp.out, /\[Total Run\].*SentMessages=(\d+)/);
      const log = fs.readFileSync(logFile, 'utf8');
      expect(log).toMatch(/^packet, txTime\(sec\), rxTime\(sec\), latency\(usec\)$/m);
      expect(log.split('\n').filter((l) => /^\d+, [\d.]+, [\d.]+, [\d.]+$/.test(l))).toHaveLength(num(pp.out, /Total (\d+) observations/));
      const ul = perf('ul', '--mps', '5000', '--reply-every', '50');
      expect(ul.code).toBe(0);
      expectSaneLatency(ul.out); // 100 pongs/s: ~50 observations in the valid 0.55 s of -t 1
      const ulSent = num(ul.out, /\[Total Run\].*SentMessages=(\d+)/);
      expect(ulSent).toBeGreaterThan(4000);
      expect(ulSent).toBeLessThan(6000);
      const tp = perf('tp', '--mps=max', '-m', '100');
      expect(tp.code).toBe(0);
      expect(num(tp.out, RATE)).toBeGreaterThan(1000);
      expect(tp.out).toMatch(/^sockperf: Summary: BandWidth is [\d.]+ MBps \([\d.]+ Mbps\)$/m);
      const tpSent = num(tp.out, /Total of (\d+) messages sent/);
      out = await srv.stop();
      // sockperf's server counted what we sent (the max-rate stream may lose some in the socket buffer).
      expect(num(out, HANDLED)).toBeGreaterThan(pings + ulSent * 0.99 + tpSent * 0.5);
    } finally {
      out = await srv.stop();
      fs.rmSync(path.dirname(logFile), { recursive: true, force: true });
    }
  });
});

describe('tsvma perf offloaded (packet device over veth) ⇄ sockperf on the kernel', () => {
  let link: Link | null = null;
  beforeAll(async () => {
    if (sockperfMissing || netnsMissing) return;
    link = await createLink({ tag: 'perf', assignIpA: false });
  });
  afterAll(async () => {
    await link?.destroy();
  });
  const offload = (): string[] => ['env', `TSVMA_DEVICE=packet:${link!.a.ifname}`, `TSVMA_ADDR=${link!.a.ip}/24`, 'VMA_CONFIG_FILE=/nonexistent/libvma.conf', process.execPath, bin, 'perf'];
  const inNs = (ns: string, argv: string[]): string[] => ['netns', 'exec', ns, ...argv];

  itVeth('answers a real sockperf ping-pong client from tsvma\'s stack', async () => {
    const l = link!;
    const [cmd, ...args] = offload();
    const srv = await startServer(spawn('ip', inNs(l.a.ns, [cmd, ...args, 'server', '-i', l.a.ip]), { stdio: ['ignore', 'pipe', 'pipe'] }), /^sockperf: tsvma: socket offloaded/m);
    let out = '';
    try {
      const pp = run('ip', inNs(l.b.ns, ['sockperf', 'pp', '-i', l.a.ip, '-t', '1', '-m', '64']));
      expect(pp.code).toBe(0);
      expect(pp.out).not.toMatch(/ERROR|No messages were received/);
      expectSaneLatency(pp.out);
      const pings = num(pp.out, /\[Total Run\].*SentMessages=(\d+)/);
      out = await srv.stop();
      expect(num(out, HANDLED)).toBeGreaterThanOrEqual(pings - 1);
    } finally {
      out = await srv.stop();
    }
    expect(out).toMatch(/TSVMA_DEVICE=packet:/);
  });

  itVeth('runs ping-pong and throughput from tsvma\'s stack against a real sockperf server', async () => {
    const l = link!;
    const srv = await startServer(spawn('ip', inNs(l.b.ns, ['stdbuf', '-oL', 'sockperf', 'server', '-i', l.b.ip]), { stdio: ['ignore', 'pipe', 'pipe'] }), /to block on socket/);
    let out = '';
    try {
      const pp = run('ip', inNs(l.a.ns, [...offload(), 'pp', '-i', l.b.ip, '-t', '1']));
      expect(pp.code).toBe(0);
      expect(pp.out).toMatch(/^sockperf: tsvma: socket offloaded to tsvma's user-space stack \(TSVMA_DEVICE=packet:/m);
      expectSaneLatency(pp.out);
      const pings = num(pp.out, /\[Total Run\].*SentMessages=(\d+)/);
      const tp = run('ip', inNs(l.a.ns, [...offload(), 'tp', '-i', l.b.ip, '-t', '1', '--mps', '20000']));
      expect(tp.code).toBe(0);
      expect(tp.out).not.toMatch(/send errors/);
      const tpSent = num(tp.out, /Total of (\d+) messages sent/);
      expect(tpSent).toBeGreaterThan(15000);
      expect(num(tp.out, RATE)).toBeGreaterThan(15000);
      out = await srv.stop();
      // UDP at 20 000 msg/s into a kernel sockperf on a loaded 2-core machine: its socket buffer may
      // overflow now and then (1-2% seen, by the kernel client too); what arrives must be handled.
      expect(num(out, HANDLED)).toBeGreaterThanOrEqual(pings - 1 + tpSent * 0.95);
    } finally {
      out = await srv.stop();
    }
  });
  itVeth('--tcp: answers a real sockperf TCP ping-pong client from tsvma\'s TCP', async () => {
    const l = link!;
    const [cmd, ...args] = offload();
    const srv = await startServer(spawn('ip', inNs(l.a.ns, [cmd, ...args, 'server', '--tcp', '-i', l.a.ip, '-p', '11112']), { stdio: ['ignore', 'pipe', 'pipe'] }), /^sockperf: tsvma: socket offloaded/m);
    let out = '';
    try {
      const pp = run('ip', inNs(l.b.ns, ['sockperf', 'pp', '--tcp', '-i', l.a.ip, '-p', '11112', '-t', '1', '-m', '64']));
      expect(pp.code).toBe(0);
      expect(pp.out).not.toMatch(/ERROR|No messages were received/);
      expectSaneLatency(pp.out);
      const pings = num(pp.out, /\[Total Run\].*SentMessages=(\d+)/);
      out = await srv.stop();
      expect(num(out, HANDLED)).toBeGreaterThanOrEqual(pings - 1);
    } finally {
      out = await srv.stop();
    }
    expect(out).toMatch(/PORT = 11112 # TCP/);
  });

  itVeth('--tcp: ping-pong and throughput from tsvma\'s TCP against a real sockperf TCP server', async () => {
    const l = link!;
    const srv = await startServer(spawn('ip', inNs(l.b.ns, ['stdbuf', '-oL', 'sockperf', 'server', '--tcp', '-i', l.b.ip, '-p', '11113']), { stdio: ['ignore', 'pipe', 'pipe'] }), /to block on socket/);
    let out = '';
    try {
      const pp = run('ip', inNs(l.a.ns, [...offload(), 'pp', '--tcp', '-i', l.b.ip, '-p', '11113', '-t', '1', '-m', '64']));
      expect(pp.code).toBe(0);
      expect(pp.out).toMatch(/^sockperf: tsvma: socket offloaded to tsvma's user-space stack/m);
      expectSaneLatency(pp.out);
      const pings = num(pp.out, /\[Total Run\].*SentMessages=(\d+)/);
      out = await srv.stop();
      expect(num(out, HANDLED)).toBeGreaterThanOrEqual(pings - 1);
    } finally {
      out = await srv.stop();
    }
  });
});
