/**
 * `tsvma perf` over one veth pair against a real sockperf server on the kernel, three clients in
 * the same run, interleaved per round: (a) tsvma perf offloaded (packet device), (b) tsvma perf on
 * kernel sockets (Node dgram), (c) sockperf itself (C, kernel sockets). Modes: ping-pong,
 * under-load (--mps 10000, sockperf's reply-every 100) and throughput (--mps max). Server modes
 * `srvN` turn it around: `tsvma perf server` in namespace a (offloaded per build, and on Node dgram)
 * answers a real `sockperf pp --mps N` client in b: paced traffic, where an idle poller would sleep
 * between datagrams.
 *
 * Namespace a: tsvma's packet device owns .2 (a MAC of its own), the kernel owns .3 (Node dgram and
 * sockperf clients); namespace b: `sockperf server -i .1`. Addresses from 198.18.0.0/15 through
 * test/helpers/netns; everything is removed at the end, also on failure.
 *
 * Run as root: npm run build && node dist/bench/perf_veth.bench.js [rounds=3] [seconds=3] [modes=pp,ul,tp,srv1000,srv200]
 * TSVMA_BIN=/path/to/dist/bin/tsvma.js measures another build; `TSVMA_BIN=before=/x/tsvma.js,after=/y/tsvma.js`
 * runs an offloaded client per build, interleaved in each round (a change measured before/after on
 * one link in one run). Extra VMA_* / TSVMA_* variables in the environment reach the offloaded clients.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { createLink, type Link } from '../test/helpers/netns';

const ROUNDS = Number(process.argv[2] ?? 3);
const SECS = Number(process.argv[3] ?? 3);
const MODES = (process.argv[4] ?? 'pp,ul,tp,srv1000,srv200').split(',');
const BINS = (process.env.TSVMA_BIN ?? path.join(__dirname, '..', 'bin', 'tsvma.js')).split(',').map((b) => {
  const i = b.indexOf('=');
  return i > 0 ? { name: b.slice(0, i), bin: b.slice(i + 1) } : { name: '', bin: b };
});
const BIN = BINS[BINS.length - 1].bin;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const MODE_ARGS: Record<string, string[]> = {
  pp: ['pp', '-m', '64'],
  ul: ['ul', '-m', '64', '--mps', '10000'],
  tp: ['tp', '-m', '64'],
};

interface Sample { p50: number; p99: number; avg: number; rate: number }

function parse(out: string): Sample {
  const clean = out.replace(new RegExp(`${String.fromCharCode(27)}\\[[\\d;]*m`, 'g'), '');
  const f = (re: RegExp): number => Number(re.exec(clean)?.[1] ?? NaN);
  return {
    p50: f(/percentile 50\.000 = +([\d.]+)/),
    p99: f(/percentile 99\.000 = +([\d.]+)/),
    avg: f(/Summary: Latency is ([\d.]+)/),
    // ping-pong / under-load: observations per second in the valid window (tsvma prints it; sockperf's is derived)
    rate: f(/Message Rate is (\d+)/) || f(/Total (\d+) observations/) / Math.max(SECS - 0.45, 0.1),
  };
}

function run(ns: string, argv: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve) => {
    const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const child = spawn('ip', ['netns', 'exec', ns, 'env', ...vars, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (SECS + 20) * 1000);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[(s.length - 1) >> 1] : NaN;
};
const range = (xs: number[], d = 2): string => {
  const s = xs.filter((x) => Number.isFinite(x));
  return s.length ? `${Math.min(...s).toFixed(d)}-${Math.max(...s).toFixed(d)}` : '-';
};

/** One server-mode round: the server (`argv`, or sockperf's own when null) in a, sockperf pp from b against `ip`. */
async function serverRound(link: Link, argv: string[] | null, env: Record<string, string>, ip: string, mps: number): Promise<string> {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const cmd = argv ?? ['sockperf', 'server', '-i', ip];
  const srv = spawn('ip', ['netns', 'exec', link.a.ns, 'env', ...vars, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => srv.once('close', r));
  let so = '';
  srv.stdout.on('data', (d: Buffer) => (so += d.toString()));
  srv.stderr.on('data', (d: Buffer) => (so += d.toString()));
  for (let i = 0; i < 500 && !/listen on|to block on socket/.test(so) && srv.exitCode === null; i++) await sleep(10);
  if (!/listen on|to block on socket/.test(so)) {
    srv.kill('SIGKILL');
    await exited;
    return `server did not start: ${so}`;
  }
  await sleep(200);
  try {
    return await run(link.b.ns, ['sockperf', 'pp', '-m', '64', '--mps', String(mps), '-i', ip, '-t', String(SECS)], { PATH: env.PATH });
  } finally {
    srv.kill('SIGINT');
    const t = setTimeout(() => srv.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}

async function main(): Promise<void> {
  const link = await createLink({ tag: 'pv', assignIpA: false });
  let server: ChildProcess | null = null;
  try {
    const kernelA = link.a.ip.replace(/\.2$/, '.3');
    await link.a.exec('ip', ['addr', 'add', `${kernelA}/24`, 'dev', link.a.ifname]);
    server = link.b.spawn('sockperf', ['server', '-i', link.b.ip]);
    await sleep(500);
    const passEnv: Record<string, string> = { PATH: process.env.PATH ?? '', VMA_CONFIG_FILE: '/nonexistent/libvma.conf' };
    for (const [k, v] of Object.entries(process.env)) if (/^(VMA_|TSVMA_(?!BIN))/.test(k) && v !== undefined) passEnv[k] = v;
    const offloadEnv = { ...passEnv, TSVMA_DEVICE: `packet:${link.a.ifname}`, TSVMA_ADDR: `${link.a.ip}/24` };
    const clients: [string, string[], Record<string, string>][] = [
      ...BINS.map(({ name, bin }): [string, string[], Record<string, string>] => [`(a) tsvma perf, offloaded${name ? ` ${name}` : ''}`, [process.execPath, bin, 'perf'], offloadEnv]),
      ['(b) tsvma perf, Node dgram', [process.execPath, BIN, 'perf'], { PATH: passEnv.PATH }],
      ['(c) sockperf (kernel)', ['sockperf'], { PATH: passEnv.PATH }],
    ];
    console.log(`tsvma perf over veth ${link.a.ifname}⇄${link.b.ifname} against sockperf server ${link.b.ip}; ${ROUNDS} rounds × ${SECS} s; bin ${BINS.map((b) => b.bin).join(', ')}; ${new Date().toISOString()}; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    for (const mode of MODES) {
      const samples = clients.map(() => [] as Sample[]);
      for (let r = 0; r < ROUNDS; r++) {
        for (let c = 0; c < clients.length; c++) {
          const [, argv, env] = clients[c];
          const out = mode.startsWith('srv')
            ? await serverRound(link, c === clients.length - 1 ? null : [...argv, 'server', '-i', c >= BINS.length ? kernelA : link.a.ip], env, c >= BINS.length ? kernelA : link.a.ip, Number(mode.slice(3)))
            : await run(link.a.ns, [...argv, ...MODE_ARGS[mode], '-i', link.b.ip, '-t', String(SECS), ...(c === BINS.length ? ['--client_ip', kernelA] : [])], env);
          const s = parse(out);
          if (mode !== 'tp' && !Number.isFinite(s.p50)) console.log(`  ${clients[c][0]} ${mode}: no result:\n${out}`);
          samples[c].push(s);
        }
      }
      const what = mode.startsWith('srv') ? `servers in a, sockperf pp -m 64 --mps ${mode.slice(3)} -t ${SECS} in b; (c) is sockperf's own server` : `${MODE_ARGS[mode].join(' ')} -t ${SECS}`;
      console.log(`\n${mode} (${what}), median of ${ROUNDS} (range):`);
      for (let c = 0; c < clients.length; c++) {
        const xs = samples[c];
        if (mode === 'tp') console.log(`  ${clients[c][0].padEnd(34)} ${Math.round(median(xs.map((x) => x.rate)))} msg/s (${range(xs.map((x) => x.rate), 0)})`);
        else console.log(`  ${clients[c][0].padEnd(34)} p50 ${median(xs.map((x) => x.p50)).toFixed(2)} µs (${range(xs.map((x) => x.p50))}), p99 ${median(xs.map((x) => x.p99)).toFixed(1)} µs (${range(xs.map((x) => x.p99), 1)}), avg ${median(xs.map((x) => x.avg)).toFixed(2)} µs, ${Math.round(median(xs.map((x) => x.rate)))} obs/s`);
      }
      const key = mode === 'tp' ? 'rate' : 'p50';
      const b = median(samples[BINS.length].map((x) => x[key]));
      for (let i = 0; i < BINS.length; i++) console.log(`  tsvma${BINS[i].name ? ` ${BINS[i].name}` : ''} / Node dgram ${key}: ${(median(samples[i].map((x) => x[key])) / b).toFixed(2)}×`);
    }
  } finally {
    server?.kill('SIGINT');
    await sleep(200);
    await link.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
