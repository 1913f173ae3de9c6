/**
 * The process's offload runtime: the engine TSVMA_DEVICE names (made on first use), the UDP and TCP
 * layers on it, and the offload decision for each socket (libvma.conf rules, VMA_OFFLOADED_SOCKETS).
 * With no device configured there is no runtime and every socket passes through to Node.
 */
import { matchRule, type Role } from '../conf';
import { Tcp } from '../proto/stack/tcp';
import { Udp } from '../proto/stack/udp';
import { isMulticastIpv4 } from '../proto/wire/addr';
import { loadConfig, type LoadedConfig } from './config';
import { Engine } from './engine';
import type { RingOptions } from '../ring/ring';
import { startStats, stopStats } from './stats';
import { threadOffload } from './extra/threads';
import { threadId } from 'node:worker_threads';
import { DaemonDevice } from '../ring/daemon/daemon_device';
import { watchRingd } from './ringd_watch';

export interface Runtime {
  readonly engine: Engine;
  readonly udp: Udp;
  readonly tcp: Tcp;
  readonly loaded: LoadedConfig;
  /** Offloaded sockets that keep the process alive (ref'd). */
  refs: number;
  /** Set while the runtime waits for closed TCP connections to finish (see adjustRefs). */
  linger: NodeJS.Timeout | null;
}

let rt: Runtime | null | undefined;

/** The runtime, or null when no device is configured. Throws (once) when the device cannot be opened. */
export function runtime(): Runtime | null {
  if (rt !== undefined) return rt;
  const loaded = loadConfig();
  if (!loaded.config.device) {
    rt = null;
    return rt;
  }
  const engine = Engine.open(loaded.config, poolAllocator ? { ring: { alloc: poolAllocator } } : {});
  rt = { engine, udp: new Udp(engine.stack), tcp: new Tcp(engine.stack), loaded, refs: 0, linger: null };
  if (engine.ring.device instanceof DaemonDevice) watchRingd(rt, engine.ring.device); // ringd restarts: docs/ringd.md
  startStats(rt); // lib/stats: the tsvmastat.<pid> file and the socket registry
  // After the statistics' own exit listener: VMA_STATS_FILE records the sockets as they were.
  process.off('exit', resetAtExit);
  process.once('exit', resetAtExit);
  return rt;
}

let poolAllocator: NonNullable<RingOptions['alloc']> | null = null;

/** The configured device's kind (TSVMA_DEVICE), or null when none is, without starting the runtime. */
export function loadedDeviceKind(): string | null {
  if (rt) return rt.loaded.config.device?.kind ?? null;
  return loadConfig().config.device?.kind ?? null;
}

/** The application's pool allocator (the extra API's ioctl): used when the runtime starts; false once it has. */
export function setPoolAllocator(a: NonNullable<RingOptions['alloc']> | null): boolean {
  if (rt) return false; // the runtime (device, rings, pools) exists already
  poolAllocator = a;
  return true;
}

/**
 * Adjusts the count of ref'd offloaded sockets; the poller keeps the process alive while it is > 0,
 * and after the last one for up to TSVMA_LINGER while closed TCP connections still wait for
 * the peer to acknowledge their FIN (a lost FIN is retransmitted, as the kernel would after the
 * process had exited); what is left then is reset.
 */
export function adjustRefs(r: Runtime, delta: number): void {
  r.refs += delta;
  if (r.refs > 0) {
    if (r.linger) {
      clearInterval(r.linger);
      r.linger = null;
    }
    r.engine.poller.setKeepAlive(true);
    return;
  }
  const lingerMs = r.loaded.config.linger;
  if (r.linger || lingerMs === 0 || r.tcp.finishing() === 0) {
    if (!r.linger) r.engine.poller.setKeepAlive(false);
    return;
  }
  r.engine.poller.setKeepAlive(true);
  const deadline = Date.now() + lingerMs;
  r.linger = setInterval(() => {
    const left = r.tcp.finishing();
    if (left > 0 && Date.now() < deadline) return;
    if (left > 0) {
      r.tcp.resetAll(r.engine.clock());
      r.engine.flush();
    }
    clearInterval(r.linger!);
    r.linger = null;
    r.engine.poller.setKeepAlive(r.refs > 0);
  }, 20);
}

/** Process exit: the connections still open are reset (their peers would otherwise wait for a FIN forever). */
function resetAtExit(): void {
  if (!rt) return;
  try {
    rt.tcp.resetAll(rt.engine.clock());
    rt.engine.flush();
    // No more turns: a device event left pending would call into JS while Node tears the loop down
    // (koffi aborts the process then).
    rt.engine.poller.stop();
  } catch {
    // the device may be gone already; nothing more can be sent
  }
}

/**
 * Whether a socket is offloaded: the address must be one tsvma owns (or the wildcard), the
 * VMA_OFFLOADED_SOCKETS default must allow it, and the first matching libvma.conf rule must not say os.
 */
export function offloadDecision(r: Runtime, role: Role, local: { ip: number; port: number }, remote?: { ip: number; port: number }): boolean {
  const cfg = r.loaded.config;
  // thread_offload's override for this thread, else VMA_OFFLOADED_SOCKETS.
  if (!(threadOffload(threadId) ?? cfg.vma.offloadedSockets)) return false;
  // A socket bound to a multicast group receives on tsvma's interfaces like a wildcard one.
  if (local.ip !== 0 && !r.engine.stack.isLocal(local.ip) && !isMulticastIpv4(local.ip)) return false;
  // Loopback without the in-process offload stays with the OS (a socket bound implicitly by a send or connect to it).
  if (remote && remote.ip >>> 24 === 127 && !r.engine.lo) return false;
  return matchRule(r.loaded.rules, { program: r.loaded.program, appId: cfg.vma.applicationId, role, local, remote }) === 'vma';
}

/** Closes the runtime (tests, shutdown). */
export function closeRuntime(): void {
  stopStats();
  if (rt?.linger) clearInterval(rt.linger);
  if (rt) rt.engine.close();
  rt = undefined;
  poolAllocator = null;
}
