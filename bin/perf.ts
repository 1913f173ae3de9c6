/**
 * `tsvma perf <mode> [options]`: a sockperf-compatible UDP benchmark on tsvma/dgram, so tsvma's
 * latency is measured with the tool VMA is measured with, and either end can be the real sockperf.
 *
 * Modes (sockperf's names and aliases): server (sr), ping-pong (pp), under-load (ul), throughput
 * (tp). Same wire format (bin/perf/message.ts), same statistics and output lines
 * (bin/perf/report.ts). The socket is tsvma/dgram's: offloaded when TSVMA_DEVICE is set and the
 * address is tsvma's, otherwise Node's kernel socket; the first lines say which.
 *
 * Options take `--name value`, `--name=value`, or `-x value` / `-xvalue`, as sockperf's parser.
 * Bad arguments: one line on stderr and exit 2.
 */
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { runClient, type ClientMode, type ClientOptions } from './perf/client';
import { MAX_MSG_SIZE, MIN_MSG_SIZE } from './perf/message';
import { runServer } from './perf/server';
import { version } from '../lib/version';

const usage = `usage: tsvma perf <mode> [options]     (a subset of sockperf, on tsvma/dgram or, with --tcp, tsvma/net)

modes:
  server (sr)       answer sockperf clients until Ctrl-C
  ping-pong (pp)    latency: every message asks for a reply; latency = RTT/2
  under-load (ul)   latency under load: send at --mps, every --reply-every-th asks for a reply
  throughput (tp)   one-way stream; message rate and bandwidth

options (all modes):
  -i, --ip IP             server address (client: required; server: default 0.0.0.0)
  -p, --port N            port (default 11111)
  --tcp                   messages over TCP (tsvma/net) instead of UDP datagrams
  -m, --msg-size N        message size in bytes, ${MIN_MSG_SIZE}..${MAX_MSG_SIZE} (client default ${MIN_MSG_SIZE};
                          server: the largest accepted, default ${MAX_MSG_SIZE})
client options:
  -t, --time SEC          run time in seconds (default 1)
  --mps N|max, --pps      messages per second (default max; under-load 10000)
  --reply-every N         under-load: every N-th message asks for a reply (default 100)
  --full-log FILE         write every observation to FILE as sockperf does (CSV)
  --full-rtt              report round-trip time instead of RTT/2
  --giga-size             throughput in GBps
  --client_ip IP, --client_port N   bind the client socket there (default 0.0.0.0:0)
server options:
  --dont-reply            count, never reply
accepted and ignored (no meaning here): --dontwarmup, --no-rdtsc, -F/--iomux-type X
Runs on tsvma's stack when TSVMA_DEVICE/TSVMA_ADDR are set (see docs/benchmarks.md), else kernel sockets.
`;

const MODES: Record<string, 'server' | ClientMode> = {
  server: 'server', sr: 'server',
  'ping-pong': 'ping-pong', pp: 'ping-pong',
  'under-load': 'under-load', ul: 'under-load',
  throughput: 'throughput', tp: 'throughput',
};

/** Options that take a value: long name → canonical key, and the short letters. */
const VALUED: Record<string, string> = {
  '-i': 'ip', '--ip': 'ip', '-p': 'port', '--port': 'port', '-m': 'msg-size', '--msg-size': 'msg-size',
  '-t': 'time', '--time': 'time', '--mps': 'mps', '--pps': 'mps', '--reply-every': 'reply-every',
  '--full-log': 'full-log', '--client_ip': 'client_ip', '--client_port': 'client_port',
  '-F': 'iomux', '--iomux-type': 'iomux',
};
const FLAGS: Record<string, string> = {
  '--full-rtt': 'full-rtt', '--giga-size': 'giga-size', '--dont-reply': 'dont-reply', '--tcp': 'tcp',
  '--dontwarmup': 'ignored', '--no-rdtsc': 'ignored',
};
const CLIENT_ONLY = new Set(['time', 'mps', 'reply-every', 'full-log', 'full-rtt', 'giga-size', 'client_ip', 'client_port']);
const SERVER_ONLY = new Set(['dont-reply']);

class ArgError extends Error {}

function parseArgs(args: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    let name = a;
    let value: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      name = a.slice(0, eq);
      value = a.slice(eq + 1);
    } else if (/^-[a-zA-Z]./.test(a) && VALUED[a.slice(0, 2)]) {
      name = a.slice(0, 2);
      value = a.slice(2);
    }
    if (FLAGS[name]) {
      if (value !== undefined) throw new ArgError(`${name} takes no value`);
      m.set(FLAGS[name], '1');
    } else if (VALUED[name]) {
      if (value === undefined) {
        if (i + 1 >= args.length) throw new ArgError(`${name} needs a value`);
        value = args[++i];
      }
      m.set(VALUED[name], value);
    } else {
      throw new ArgError(`unknown option '${a}'`);
    }
  }
  return m;
}

function intArg(m: Map<string, string>, key: string, flag: string, min: number, max: number, dflt: number): number {
  const v = m.get(key);
  if (v === undefined) return dflt;
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ArgError(`${flag} takes a whole number from ${min} to ${max} (got '${v}')`);
  return n;
}

function ipArg(m: Map<string, string>, key: string, flag: string, dflt: string | null): string {
  const v = m.get(key);
  if (v === undefined) {
    if (dflt === null) throw new ArgError(`${flag} IP is required for a client`);
    return dflt;
  }
  if (net.isIPv4(v)) return v;
  if (v === 'localhost') return '127.0.0.1';
  throw new ArgError(`${flag} takes an IPv4 address (got '${v}'; IPv6 and names are not supported)`);
}

export async function perf(args: string[]): Promise<number> {
  const out = (s: string): void => { process.stdout.write(`sockperf: ${s}\n`); };
  const [modeArg, ...rest] = args;
  if (modeArg === '-h' || modeArg === '--help' || modeArg === 'help') {
    process.stdout.write(usage);
    return 0;
  }
  const mode = modeArg === undefined ? undefined : MODES[modeArg];
  if (!mode) {
    process.stderr.write(`tsvma perf: ${modeArg === undefined ? 'a mode is required' : `unknown mode '${modeArg}'`} (server|sr, ping-pong|pp, under-load|ul, throughput|tp)\n${usage}`);
    return 2;
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    process.stdout.write(usage);
    return 0;
  }
  try {
    const m = parseArgs(rest);
    for (const k of m.keys()) {
      if (mode === 'server' && CLIENT_ONLY.has(k)) throw new ArgError(`--${k} is a client option, not for server`);
      if (mode !== 'server' && SERVER_ONLY.has(k)) throw new ArgError(`--${k} is a server option`);
    }
    if (mode !== 'under-load' && m.has('reply-every')) throw new ArgError('--reply-every is for under-load only');
    const iomux = m.get('iomux');
    if (iomux !== undefined && !/^(s|select|p|poll|e|epoll|r|recvfrom)$/.test(iomux)) throw new ArgError(`-F/--iomux-type takes s|select|p|poll|e|epoll|r|recvfrom (got '${iomux}')`);
    const port = intArg(m, 'port', '-p/--port', 1, 65535, 11111);
    const banner = (): void => out(`== version #3.7-compatible (tsvma perf ${version}: UDP and TCP subset) ==`);
    if (mode === 'server') {
      const ip = ipArg(m, 'ip', '-i/--ip', '0.0.0.0');
      const maxSize = intArg(m, 'msg-size', '-m/--msg-size', MIN_MSG_SIZE, MAX_MSG_SIZE, MAX_MSG_SIZE);
      banner();
      return await runServer({ ip, port, maxSize, dontReply: m.has('dont-reply'), tcp: m.has('tcp') }, out);
    }
    const ip = ipArg(m, 'ip', '-i/--ip', null);
    const msgSize = intArg(m, 'msg-size', '-m/--msg-size', MIN_MSG_SIZE, MAX_MSG_SIZE, MIN_MSG_SIZE);
    const durationSec = intArg(m, 'time', '-t/--time', 1, 36000000, 1);
    const mpsArg = m.get('mps');
    let mps = mode === 'under-load' ? 10000 : 0;
    if (mpsArg === 'max') mps = 0;
    else if (mpsArg !== undefined) mps = intArg(m, 'mps', '--mps', 1, 100000000, 0);
    const o: ClientOptions = {
      mode, ip, port, msgSize, durationSec, mps,
      replyEvery: mode === 'ping-pong' ? 1 : mode === 'under-load' ? intArg(m, 'reply-every', '--reply-every', 1, 1 << 30, 100) : 1 << 30,
      fullLog: m.get('full-log') ?? null,
      fullRtt: m.has('full-rtt'),
      gigaSize: m.has('giga-size'),
      clientIp: ipArg(m, 'client_ip', '--client_ip', '0.0.0.0'),
      clientPort: intArg(m, 'client_port', '--client_port', 0, 65535, 0),
      tcp: m.has('tcp'),
    };
    if (o.fullLog !== null) {
      try {
        writeFileSync(o.fullLog, '');
      } catch (e) {
        throw new ArgError(`--full-log: cannot write '${o.fullLog}': ${(e as Error).message}`);
      }
    }
    banner();
    return (await runClient(o, out)).code;
  } catch (e) {
    if (e instanceof ArgError) {
      process.stderr.write(`tsvma perf ${modeArg}: ${e.message}\nsee: tsvma perf --help\n`);
      return 2;
    }
    throw e;
  }
}
