/**
 * Test hosts: a pair of network namespaces joined by a veth, addressed from 198.18.0.0/15 (RFC 2544's
 * benchmarking range; never a private range). Side `a` is where tsvma's packet device attaches
 * (usually without a kernel address: tsvma owns `a.ip` itself), side `b` is the Linux kernel peer.
 *
 * Uniqueness across parallel jest workers: namespace and interface names carry the pid (base 36)
 * and a per-process counter; each link's /24 is claimed with an exclusive create of
 * /run/tsvma-test/subnets/<index>.pid, so two live links never share a subnet even though each pair
 * of namespaces is isolated anyway (captures and logs stay unambiguous).
 *
 * Cleanup: `destroy()` deletes both namespaces (that removes the veth) and the claims; a process
 * 'exit', SIGINT or SIGTERM does the same synchronously; and namespaces or subnets left by a killed
 * run are swept at the start of every `createLink`: each is registered in /run/tsvma-test/<ns>.pid
 * with its owner's pid, and an entry whose owner is dead is removed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

const REGISTRY = '/run/tsvma-test';
const SUBNETS = `${REGISTRY}/subnets`;
/** 198.18.0.0/15 holds 512 /24s: index i is 198.(18 + (i >> 8)).(i & 255).0/24. */
const SUBNET_COUNT = 512;

let counter = 0;
/** Namespaces and subnet claims this process created and has not removed yet. */
const liveNs = new Set<string>();
const liveSubnets = new Set<number>();

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Host {
  readonly ns: string;
  readonly ifname: string;
  readonly mac: string;
  /** The address this side owns, dotted: the kernel's on b; tsvma's on a (given to a's kernel only with assignIpA). */
  readonly ip: string;
  /** Runs `cmd` inside the namespace; never rejects (a spawn failure or timeout is a non-zero code). */
  exec(cmd: string, args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<ExecResult>;
  spawn(cmd: string, args: string[]): ChildProcess;
}

export interface Link {
  readonly a: Host;
  readonly b: Host;
  readonly prefix: number;
  /** The link's network, dotted (e.g. 198.18.7.0); a is .2, b is .1. */
  readonly subnet: string;
  destroy(): Promise<void>;
}

/** Why namespaces cannot be made here, or null when they can. Callers decide what to do with it. */
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
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerOf(file: string): number {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim());
  } catch {
    return 0;
  }
}

function unlinkQuiet(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // already gone
  }
}

function deleteNs(ns: string): void {
  // Processes a failed or timed-out test left running in the namespace (a sender blocked on a dead
  // peer, a server never told to close) would keep their pipes to this process open, and jest would
  // never exit: kill them first.
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  } catch {
    // no such namespace
  }
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  unlinkQuiet(`${REGISTRY}/${ns}.pid`);
  liveNs.delete(ns);
}

function releaseSubnet(i: number): void {
  unlinkQuiet(`${SUBNETS}/${i}.pid`);
  liveSubnets.delete(i);
}

/** Removes namespaces and subnet claims registered by processes that no longer exist. */
export function sweepStale(): void {
  let names: string[] = [];
  try {
    names = fs.readdirSync(REGISTRY);
  } catch {
    // no registry yet
  }
  for (const f of names) {
    if (f === 'subnets') continue;
    // `<ns>.pid`; a bare `<ns>` is an older helper's registration, swept the same way.
    if (!pidAlive(ownerOf(`${REGISTRY}/${f}`))) {
      deleteNs(f.endsWith('.pid') ? f.slice(0, -4) : f);
      unlinkQuiet(`${REGISTRY}/${f}`);
    }
  }
  let claims: string[] = [];
  try {
    claims = fs.readdirSync(SUBNETS);
  } catch {
    // none
  }
  for (const f of claims) {
    if (f.endsWith('.pid') && !pidAlive(ownerOf(`${SUBNETS}/${f}`))) unlinkQuiet(`${SUBNETS}/${f}`);
  }
}

/** Claims a free /24 (exclusive create, so parallel workers never collide); returns its index. */
function claimSubnet(): number {
  const first = (process.pid * 37 + counter * 5) % SUBNET_COUNT;
  for (let k = 0; k < SUBNET_COUNT; k++) {
    const i = (first + k) % SUBNET_COUNT;
    try {
      fs.writeFileSync(`${SUBNETS}/${i}.pid`, String(process.pid), { flag: 'wx' });
      liveSubnets.add(i);
      return i;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  throw new Error(`all ${SUBNET_COUNT} /24s of 198.18.0.0/15 are claimed in ${SUBNETS}: too many live test links`);
}

function cleanupAll(): void {
  for (const ns of [...liveNs]) deleteNs(ns);
  for (const i of [...liveSubnets]) releaseSubnet(i);
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', cleanupAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      cleanupAll();
      // Die of the same signal, as without the handler.
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
        child.on('error', (e) => (stderr += String(e)));
        const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20000);
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
        });
        child.stdin.on('error', () => undefined); // the command may exit before reading its input
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
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * `offloads: true` leaves the veth's offloads as the kernel sets them (TSO/GSO, checksum offload: the
 * kernel then sends 64 KiB GSO frames with partial checksums); by default they are turned off.
 */
export async function createLink(opts: { tag?: string; assignIpA?: boolean; assignIpB?: boolean; offloads?: boolean } = {}): Promise<Link> {
  const why = netnsUnavailable();
  if (why) throw new Error(why);
  fs.mkdirSync(SUBNETS, { recursive: true });
  sweepStale();
  hookExit();
  const n = counter++;
  const id = `${process.pid.toString(36)}${n.toString(36)}`;
  const tag = (opts.tag ?? '').replace(/[^a-z0-9]/gi, '').slice(0, 6);
  const nsA = `tsv${tag}${id}a`;
  const nsB = `tsv${tag}${id}b`;
  // IFNAMSIZ is 16: at most 15 characters. pid ≤ 2^22 is ≤ 5 base-36 digits, so these fit unless
  // a process makes more than 36^7 links.
  const ifA = `tv${id}a`;
  const ifB = `tv${id}b`;
  const idx = claimSubnet();
  const net = `198.${18 + (idx >> 8)}.${idx & 255}`;
  const subnet = `${net}.0`;
  const ipA = `${net}.2`;
  const ipB = `${net}.1`;
  try {
    for (const ns of [nsA, nsB]) {
      // Register before creating, so a kill between the two still gets swept.
      fs.writeFileSync(`${REGISTRY}/${ns}.pid`, String(process.pid));
      liveNs.add(ns);
      ip(['netns', 'add', ns]);
      // Before the veth exists, so it is created with IPv6 off: no link-local address, no router
      // solicitations or MLD reports in captures.
      for (const k of ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']) {
        ip(['netns', 'exec', ns, 'sysctl', '-q', '-w', k]);
      }
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    ip(['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    const ethtool = hasCommand('ethtool');
    for (const [ns, ifn] of [[nsA, ifA], [nsB, ifB]]) {
      ip(['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${ifn}.disable_ipv6=1`]);
      ip(['-n', ns, 'link', 'set', ifn, 'up']);
      // Full checksums in frames the kernel sends (captures and tsvma see final bytes, not offload placeholders).
      if (ethtool && !opts.offloads) {
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
    let destroyed = false;
    return {
      a, b, prefix: 24, subnet,
      async destroy() {
        if (destroyed) return;
        destroyed = true;
        deleteNs(nsA);
        deleteNs(nsB);
        releaseSubnet(idx);
      },
    };
  } catch (e) {
    deleteNs(nsA);
    deleteNs(nsB);
    releaseSubnet(idx);
    throw e;
  }
}
