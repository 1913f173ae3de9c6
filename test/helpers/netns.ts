/**
 * Test hosts: a pair of network namespaces joined by a veth, addressed from 198.18.0.0/15 (RFC 2544's
 * benchmarking range). Side `a` is where tsvma attaches (usually without a kernel address: tsvma owns
 * `a.ip` itself), side `b` is the Linux kernel peer. Everything created is removed by `destroy()`,
 * on process exit or signal, and — for namespaces left by a killed run — by the sweep at the start
 * of every `createLink` (each namespace is registered with its owner's pid).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

const REGISTRY = '/run/tsvma-test';
let counter = 0;
const live = new Set<string>();

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Host {
  readonly ns: string;
  readonly ifname: string;
  readonly mac: string;
  /** The address this side owns: the kernel's on b; tsvma's on a (assigned to the kernel only with assignIpA). */
  readonly ip: string;
  exec(cmd: string, args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<ExecResult>;
  spawn(cmd: string, args: string[]): ChildProcess;
}

export interface Link {
  readonly a: Host;
  readonly b: Host;
  readonly prefix: number;
  readonly subnet: string;
  destroy(): Promise<void>;
}

/** Why namespaces cannot be made here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root (run the suite as root, as .ci/run does)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return "the 'ip' command is missing: apt-get install iproute2";
  }
  return null;
}

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function deleteNs(ns: string): void {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  try {
    fs.unlinkSync(`${REGISTRY}/${ns}`);
  } catch {
    // not registered
  }
  live.delete(ns);
}

/** Removes namespaces registered by processes that no longer exist. */
export function sweepStale(): void {
  let names: string[];
  try {
    names = fs.readdirSync(REGISTRY);
  } catch {
    return;
  }
  for (const ns of names) {
    const pid = Number(fs.readFileSync(`${REGISTRY}/${ns}`, 'utf8'));
    if (!pidAlive(pid)) deleteNs(ns);
  }
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const cleanup = (): void => {
    for (const ns of [...live]) deleteNs(ns);
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      cleanup();
      process.kill(process.pid, sig);
    });
  }
}

function makeHost(ns: string, ifname: string, mac: string, addr: string): Host {
  return {
    ns, ifname, mac, ip: addr,
    exec(cmd, args, opts = {}) {
      return new Promise((resolve) => {
        const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20000);
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
        });
        if (opts.input !== undefined) child.stdin.end(opts.input);
        else child.stdin.end();
      });
    },
    spawn(cmd, args) {
      return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    },
  };
}

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function createLink(opts: { tag?: string; assignIpA?: boolean; assignIpB?: boolean } = {}): Promise<Link> {
  const why = netnsUnavailable();
  if (why) throw new Error(why);
  fs.mkdirSync(REGISTRY, { recursive: true });
  sweepStale();
  hookExit();
  const n = counter++;
  const id = `${process.pid.toString(36)}${n.toString(36)}`;
  const tag = (opts.tag ?? '').replace(/[^a-z0-9]/gi, '').slice(0, 6);
  const nsA = `tsv${tag}${id}a`;
  const nsB = `tsv${tag}${id}b`;
  const ifA = `tv${id}a`.slice(0, 15);
  const ifB = `tv${id}b`.slice(0, 15);
  const third = (process.pid + n) % 250 + 1;
  const subnet = `198.18.${third}.0`;
  const ipA = `198.18.${third}.2`;
  const ipB = `198.18.${third}.1`;
  for (const ns of [nsA, nsB]) {
    ip(['netns', 'add', ns]);
    fs.writeFileSync(`${REGISTRY}/${ns}`, String(process.pid));
    live.add(ns);
  }
  try {
    ip(['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    const ethtool = hasCommand('ethtool');
    for (const [ns, ifn] of [[nsA, ifA], [nsB, ifB]]) {
      const sysctl = (k: string): void => { ip(['netns', 'exec', ns, 'sysctl', '-q', '-w', k]); };
      sysctl('net.ipv6.conf.all.disable_ipv6=1');
      sysctl('net.ipv6.conf.default.disable_ipv6=1');
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', ns, 'link', 'set', ifn, 'up']);
      // Full checksums in frames the kernel sends (captures and tsvma see final bytes, not offload placeholders).
      if (ethtool) {
        try {
          execFileSync('ip', ['netns', 'exec', ns, 'ethtool', '-K', ifn, 'tx', 'off', 'rx', 'off'], { stdio: 'ignore' });
        } catch {
          // some kernels refuse one of the flags; frames then may carry partial checksums
        }
      }
    }
    if (opts.assignIpA !== false) ip(['-n', nsA, 'addr', 'add', `${ipA}/24`, 'dev', ifA]);
    if (opts.assignIpB !== false) ip(['-n', nsB, 'addr', 'add', `${ipB}/24`, 'dev', ifB]);
    const macOf = (ns: string, ifn: string): string => JSON.parse(ip(['-j', '-n', ns, 'link', 'show', ifn]))[0].address;
    const a = makeHost(nsA, ifA, macOf(nsA, ifA), ipA);
    const b = makeHost(nsB, ifB, macOf(nsB, ifB), ipB);
    return {
      a, b, prefix: 24, subnet,
      async destroy() {
        deleteNs(nsA);
        deleteNs(nsB);
      },
    };
  } catch (e) {
    deleteNs(nsA);
    deleteNs(nsB);
    throw e;
  }
}
