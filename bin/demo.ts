/**
 * `tsvma demo [--sim] [--count N] [--size BYTES]`: UDP ping-pong through tsvma next to Node's dgram on kernel
 * sockets, same program, same path, and a side-by-side table.
 *
 * Embedded default: as root (with iproute2), the packet device on one end of a veth pair in two
 * network namespaces the demo creates (198.18.0.0/15 addresses) and removes, even on Ctrl-C; the
 * other end is the Linux kernel running a Node dgram echo server. Otherwise (not root), the sim
 * device in process: client and echo server are both tsvma sockets, against Node dgram on
 * 127.0.0.1. The measuring client is one script, run once with `tsvma/dgram` and once with
 * `node:dgram`; only the module differs.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as path from 'node:path';

const dgramPath = path.join(__dirname, '..', 'lib', 'dgram.js');

interface Result {
  p50: number;
  p99: number;
  avg: number;
  rate: number;
  n: number;
}

/** The measuring client (and, with ECHO_HERE, its own echo server), run in a child process. */
function clientScript(mod: string, bindAddr: string, server: string, port: number, count: number, size: number, echoHere: boolean): string {
  return `
const dgram = require(${JSON.stringify(mod)});
const N = ${count}, WARM = Math.min(1000, N), SIZE = ${size};
const start = () => {
  const s = dgram.createSocket('udp4');
  const lat = new Float64Array(N); let i = 0; let t0 = 0n; let began = 0n;
  const payload = Buffer.alloc(SIZE, 0x61);
  const send = () => { t0 = process.hrtime.bigint(); s.send(payload, ${port}, ${JSON.stringify(server)}); };
  s.on('message', () => {
    const t = process.hrtime.bigint();
    if (i >= WARM) lat[i - WARM] = Number(t - t0) / 1000; else if (i === WARM - 1) began = t;
    i++;
    if (i % Math.max(1, Math.floor((N + WARM) / 20)) === 0) process.stdout.write('progress ' + (i / (N + WARM)) + '\\n');
    if (i < N + WARM) { send(); return; }
    const secs = Number(process.hrtime.bigint() - began) / 1e9;
    const sorted = Array.from(lat).sort((a, b) => a - b);
    const sum = sorted.reduce((a, b) => a + b, 0);
    process.stdout.write('result ' + JSON.stringify({ p50: sorted[Math.floor(N * 0.5)], p99: sorted[Math.floor(N * 0.99)], avg: sum / N, rate: N / secs, n: N }) + '\\n');
    s.close(); if (global.echo) global.echo.close();
  });
  s.bind(0, ${JSON.stringify(bindAddr)}, send);
};
if (${echoHere}) {
  const e = dgram.createSocket('udp4'); global.echo = e;
  e.on('message', (m, r) => e.send(m, r.port, r.address));
  e.bind(${port}, ${JSON.stringify(server)}, start);
} else start();
`;
}

function runClient(label: string, cmd: string[], env: NodeJS.ProcessEnv, progress: (label: string, f: number) => void): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0], cmd.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line.startsWith('progress ')) progress(label, Number(line.slice(9)));
        else if (line.startsWith('result ')) resolve(JSON.parse(line.slice(7)) as Result);
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => { if (code !== 0) reject(new Error(`${label} client failed (exit ${code}): ${err.trim()}`)); });
  });
}

function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function makeProgress(): { update: (label: string, f: number) => void; done: () => void } {
  const tty = process.stderr.isTTY;
  let lastShown = -1;
  return {
    update(label, f) {
      const pct = Math.round(f * 100);
      if (tty) {
        const bar = '#'.repeat(Math.round(f * 30)).padEnd(30, '.');
        process.stderr.write(`\r  ${label.padEnd(12)} [${bar}] ${String(pct).padStart(3)}%`);
      } else if (pct >= lastShown + 25) {
        lastShown = pct;
        process.stderr.write(`  ${label}: ${pct}%\n`);
      }
      if (pct >= 100) lastShown = -1;
    },
    done() {
      if (tty) process.stderr.write('\r' + ' '.repeat(60) + '\r');
    },
  };
}

function table(title: string, node: Result, tsvma: Result): string {
  const f = (x: number): string => x.toFixed(1).padStart(10);
  const r = (a: number, b: number): string => `${(a / b).toFixed(2)}×`.padStart(10);
  return [
    title,
    '',
    `${''.padEnd(22)}${'p50 µs'.padStart(10)}${'p99 µs'.padStart(10)}${'avg µs'.padStart(10)}${'RTT/s'.padStart(10)}`,
    `${'Node dgram (kernel)'.padEnd(22)}${f(node.p50)}${f(node.p99)}${f(node.avg)}${node.rate.toFixed(0).padStart(10)}`,
    `${'tsvma'.padEnd(22)}${f(tsvma.p50)}${f(tsvma.p99)}${f(tsvma.avg)}${tsvma.rate.toFixed(0).padStart(10)}`,
    `${'tsvma / Node'.padEnd(22)}${r(tsvma.p50, node.p50)}${r(tsvma.p99, node.p99)}${r(tsvma.avg, node.avg)}${r(tsvma.rate, node.rate)}`,
    '',
  ].join('\n');
}

export async function demo(args: string[]): Promise<number> {
  let count = 5000;
  let size = 64;
  let forceSim = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--sim') forceSim = true;
    else if (a === '--count' || a === '--size') {
      const v = Number(args[++i]);
      if (!Number.isInteger(v) || v < 1 || (a === '--size' && v > 1472)) {
        process.stderr.write(`tsvma demo: ${a} takes a whole number${a === '--size' ? ' from 1 to 1472' : ' ≥ 1'}\n`);
        return 2;
      }
      if (a === '--count') count = v;
      else size = v;
    } else {
      process.stderr.write(`tsvma demo: unknown option '${a}'\nusage: tsvma demo [--sim] [--count N] [--size BYTES]\n`);
      return 2;
    }
  }
  const progress = makeProgress();
  const baseEnv = { PATH: process.env.PATH, HOME: process.env.HOME, VMA_CONFIG_FILE: process.env.VMA_CONFIG_FILE ?? '/nonexistent/libvma.conf' };
  const node = process.execPath;
  if (forceSim || !canUseNetns()) {
    if (!forceSim) process.stderr.write('tsvma demo: not root, so the sim device in process (run as root for the packet device over veth)\n');
    const port = 7000;
    const nodeRes = await runClient('Node dgram', [node, '-e', clientScript('node:dgram', '127.0.0.1', '127.0.0.1', port, count, size, true)], baseEnv, progress.update);
    const tsvRes = await runClient('tsvma', [node, '-e', clientScript(dgramPath, '198.18.0.2', '198.18.0.2', port, count, size, true)], { ...baseEnv, TSVMA_DEVICE: 'sim', TSVMA_ADDR: '198.18.0.2/24' }, progress.update);
    progress.done();
    process.stdout.write(table(`tsvma demo — sim device in process: ${count} × ${size}-byte UDP round trips (echo server in the same process), vs Node dgram on 127.0.0.1`, nodeRes, tsvRes));
    return 0;
  }
  // Packet device over veth in two namespaces.
  const tag = `tsvdemo${process.pid.toString(36)}`;
  const nsA = `${tag}a`;
  const nsB = `${tag}b`;
  const ifA = `${tag}a`.slice(-15);
  const ifB = `${tag}b`.slice(-15);
  const sub = '198.19.254';
  const ip = (a: string[]): void => { execFileSync('ip', a, { stdio: 'ignore' }); };
  const cleanup = (): void => {
    for (const ns of [nsA, nsB]) {
      try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); } catch { /* gone */ }
    }
  };
  const onSignal = (): void => { cleanup(); process.exit(130); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let echo: ReturnType<typeof spawn> | null = null;
  try {
    ip(['netns', 'add', nsA]);
    ip(['netns', 'add', nsB]);
    ip(['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    for (const [ns, ifn] of [[nsA, ifA], [nsB, ifB]]) {
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'link', 'set', ifn, 'up']);
      try { execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1'], { stdio: 'ignore' }); } catch { /* optional */ }
    }
    // The kernel on side a owns .3 (for Node dgram); tsvma owns .2 with a MAC of its own; b is .1.
    ip(['-n', nsA, 'addr', 'add', `${sub}.3/24`, 'dev', ifA]);
    ip(['-n', nsB, 'addr', 'add', `${sub}.1/24`, 'dev', ifB]);
    const port = 7;
    echo = spawn('ip', ['netns', 'exec', nsB, node, '-e', `
      const e = require('node:dgram').createSocket('udp4');
      e.on('message', (m, r) => e.send(m, r.port, r.address));
      e.bind(${port}, '${sub}.1', () => process.stdout.write('ready\\n'));`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => echo!.stdout!.once('data', () => resolve()));
    process.stderr.write(`tsvma demo: veth ${ifA} (namespace ${nsA}: tsvma ${sub}.2, kernel ${sub}.3) ⇄ ${ifB} (namespace ${nsB}: kernel echo server ${sub}.1:${port})\n`);
    const inA = (script: string): string[] => ['ip', 'netns', 'exec', nsA, node, '-e', script];
    const nodeRes = await runClient('Node dgram', inA(clientScript('node:dgram', `${sub}.3`, `${sub}.1`, port, count, size, false)), baseEnv, progress.update);
    const tsvRes = await runClient('tsvma', inA(clientScript(dgramPath, `${sub}.2`, `${sub}.1`, port, count, size, false)), { ...baseEnv, TSVMA_DEVICE: `packet:${ifA}`, TSVMA_ADDR: `${sub}.2/24` }, progress.update);
    progress.done();
    process.stdout.write(table(`tsvma demo — packet device on a veth, echo by the Linux kernel's UDP in another namespace: ${count} × ${size}-byte round trips`, nodeRes, tsvRes));
    return 0;
  } finally {
    echo?.kill();
    cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
