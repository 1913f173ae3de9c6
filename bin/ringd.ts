/**
 * `tsvma ringd [--TSVMA_*=value ...] [--socket PATH] [--netns NAME] [--slots N] [--allow-uid UID]
 * [--allow-gid GID]` (the first allowed gid owns the control socket): the standalone ring daemon (ring/daemon/ringd.ts, docs/ringd.md). It opens the
 * device of TSVMA_DEVICE with TSVMA_ADDR like any tsvma process (an engine: ring, a stack that
 * answers ARP and ICMP echo for the address, the poller) and shares it with `daemon` clients.
 * Runs in the foreground, logs through pino (TSVMA_LOG level) to stderr, prints one ready line on
 * stdout; SIGTERM or SIGINT detach every client and exit 0.
 * Layer contract (bin/): may import everything; owns exit codes and argument parsing.
 */
import pino from 'pino';
import { DEFAULT_RINGD_SOCKET, resolveConfig, traceOfPinoLevel } from '../conf';
import { formatIpv4Text, formatMacText } from '../conf/text';
import { Engine } from '../lib/engine';
import { onLogLevel, setLogLevel } from '../lib/stats/log_level';
import { StatsWriter } from '../lib/stats/writer';
import { Tcp } from '../proto/stack/tcp';
import { Udp } from '../proto/stack/udp';
import { Ringd } from '../ring/daemon/ringd';

const usage = `usage: tsvma ringd [--TSVMA_DEVICE=packet:IFNAME --TSVMA_ADDR=A.B.C.D/NN ...] [options]

Owns one device and shares it with processes running TSVMA_DEVICE=daemon[:SOCKET].

options:
  --TSVMA_NAME=value, --VMA_NAME=value   set a parameter (as the environment does)
  --socket PATH      control socket (default ${DEFAULT_RINGD_SOCKET}; mode 0660)
  --netns NAME       open the packet device inside network namespace NAME (test hosts)
  --slots N          frames per client ring, a power of two (default 1024)
  --allow-uid UID    also accept clients of this uid (repeatable; root and ringd's own uid always)
  --allow-gid GID    also accept clients whose primary gid is GID (repeatable); the first one
                     becomes the control socket's group (mode 0660), so its members can connect
`;

class UsageError extends Error {}

interface Args {
  env: Record<string, string | undefined>;
  socket: string;
  netns?: string;
  slots: number;
  allowUids: number[];
  allowGids: number[];
}

function parseArgs(args: string[]): Args | 'help' {
  const out: Args = { env: { ...process.env }, socket: DEFAULT_RINGD_SOCKET, slots: 1024, allowUids: [], allowGids: [] };
  const int = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0) throw new UsageError(`${flag} needs a non-negative integer, not '${v ?? ''}'`);
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const m = /^--((?:TSVMA|VMA)_[A-Z0-9_]+)=(.*)$/.exec(a);
    if (m) {
      out.env[m[1]] = m[2];
      continue;
    }
    switch (a) {
      case '-h':
      case '--help':
        return 'help';
      case '--socket':
        if (!args[i + 1]) throw new UsageError('--socket needs a path');
        out.socket = args[++i];
        break;
      case '--netns':
        if (!args[i + 1]) throw new UsageError('--netns needs a namespace name');
        out.netns = args[++i];
        break;
      case '--slots':
        out.slots = int(a, args[++i]);
        break;
      case '--allow-uid':
        out.allowUids.push(int(a, args[++i]));
        break;
      case '--allow-gid':
        out.allowGids.push(int(a, args[++i]));
        break;
      default:
        throw new UsageError(`unknown option '${a}'`);
    }
  }
  return out;
}

export async function ringd(argv: string[]): Promise<number> {
  let a: Args | 'help';
  try {
    a = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`tsvma ringd: ${e.message}\n${usage}`);
    return 2;
  }
  if (a === 'help') {
    process.stdout.write(usage);
    return 0;
  }
  const cfg = resolveConfig(a.env);
  if (!cfg.device) throw new Error('tsvma ringd needs a device: --TSVMA_DEVICE=packet:IFNAME (or verbs-eth:DEV, verbs-ud:DEV, sim) and --TSVMA_ADDR=A.B.C.D/NN');
  if (cfg.device.kind === 'daemon') throw new Error('tsvma ringd cannot run on the daemon device: give it the real device (--TSVMA_DEVICE=packet:IFNAME ...)');
  const log = pino({ name: 'ringd', level: cfg.logLevel }, pino.destination({ fd: 2, sync: true }));
  for (const w of cfg.warnings) log.warn(w);
  const engine = Engine.open(cfg, { netns: a.netns });
  // A daemon: its poller may hold the process (VMA_RX_POLL=-1 then busy-polls, as VMA's does).
  engine.poller.setKeepAlive(true);
  // Ports no client holds answer as the kernel's would: ICMP port unreachable (UDP), RST (TCP).
  const udp = new Udp(engine.stack);
  const tcp = new Tcp(engine.stack);
  const d = new Ringd({
    ring: engine.ring, poller: engine.poller, socketPath: a.socket, ip: engine.ifc.ip, prefix: engine.ifc.prefix, gateway: cfg.gateway,
    slots: a.slots, allowUids: a.allowUids, allowGids: a.allowGids, socketGid: a.allowGids[0], log,
    stats: () => ({ ...engine.stats(), closedPortUdp: udp.counters.noPort, closedPortTcp: tcp.counters.noSocket }),
    // RSTs for the connections of a client that died, from the shared address.
    resetFlow: (lport, rip, rport, sq, ack, now) => void tcp.resetConnection(engine.ifc.ip, lport, rip, rport, sq, ack, now),
  });
  d.clientEvents.subscribe((e) => {
    if (e.type === 'attach') log.info({ client: e.client, clientPid: e.pid, claimedPid: e.claimedPid, uid: e.uid, shm: e.shm }, 'client attached');
    else log.info({ client: e.client, clientPid: e.pid, why: e.why, ports: e.ports, resets: e.resets, rx: e.rxFrames, tx: e.txFrames, rxDrops: e.rxDrops }, 'client detached');
  });
  try {
    await d.start();
  } catch (e) {
    engine.close();
    throw e;
  }
  // `tsvma stats`: ringd's own tsvmastat.<pid> (its device ring, its counters as ringd.*, one record per client).
  let stats: StatsWriter | null = null;
  // Its log level shows there, and `tsvma stats -l LEVEL` changes the daemon's pino level.
  setLogLevel(traceOfPinoLevel(cfg.logLevel));
  onLogLevel((_n, p) => {
    log.level = p;
  });
  if (cfg.vma.statsShmemDir) {
    try {
      stats = new StatsWriter({ engine, udp, tcp }, {
        dir: cfg.vma.statsShmemDir, fdNum: 0, name: 'tsvma ringd', daemon: { capacity: 1024, counters: d.counters, clients: () => d.clientStats() },
      });
    } catch (e) {
      log.warn({ dir: cfg.vma.statsShmemDir, err: (e as Error).message }, 'statistics file not created');
    }
  }
  const caps = engine.ring.device.caps;
  log.info({ socket: a.socket, device: caps.name, mac: formatMacText(caps.mac), addr: `${formatIpv4Text(engine.ifc.ip)}/${engine.ifc.prefix}` }, 'ringd ready');
  process.stdout.write(`tsvma ringd: ready on ${a.socket} (device ${caps.name}, ${formatIpv4Text(engine.ifc.ip)}/${engine.ifc.prefix}, mac ${formatMacText(caps.mac)})\n`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig, ...d.describe().counters }, 'ringd stopping');
      void d.close().then(() => {
        stats?.close();
        engine.close();
        resolve(0);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
