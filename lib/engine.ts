/**
 * An engine: one device, its ring, the stack with one interface, and the poller that drives them —
 * what a process runs when TSVMA_DEVICE is set. `Engine.open(config)` builds it from the resolved
 * configuration; tests and tools can also give a device directly.
 */
import { macFromIp, type Config } from '../conf';
import type { Interface } from '../proto/stack/interface';
import { Stack } from '../proto/stack/stack';
import { formatIp } from '../proto/wire/addr';
import type { Device } from '../ring/device';
import { PacketDevice } from '../ring/packet/packet_device';
import { EthDevice } from '../ring/verbs/eth_device';
import { UdDevice } from '../ring/verbs/ud_device';
import { DaemonDevice } from '../ring/daemon/daemon_device';
import { Ring, type RingOptions } from '../ring/ring';
import { SimWire } from '../ring/sim';
import { Poller, type PollerOptions } from '../ring/poller';
import { performance } from 'node:perf_hooks';

export interface EngineOptions {
  device: Device;
  ip: number;
  prefix: number;
  gateway?: number | null;
  ring?: RingOptions;
  poller?: PollerOptions;
  /** Clock in ms (defaults to performance.now). */
  clock?: () => number;
  /** In-process loopback offload (TSVMA_LOOPBACK): 127.0.0.0/8 on a second interface over a sim device of its own. */
  loopback?: boolean;
}

/** The loopback interface's own address (it owns all of 127.0.0.0/8). */
const LOOPBACK_IP = 0x7f000001;
/** The sim device's address when TSVMA_ADDR is unset: 198.18.0.2/24. */
export const SIM_DEFAULT_ADDR = { ip: 0xc6120002, prefix: 24 };

export class Engine {
  readonly ring: Ring;
  readonly stack: Stack;
  readonly ifc: Interface;
  /** The loopback interface and its ring, with TSVMA_LOOPBACK=1. */
  readonly lo: Interface | null = null;
  readonly poller: Poller;
  readonly clock: () => number;
  private closed = false;

  constructor(opts: EngineOptions) {
    this.clock = opts.clock ?? (() => performance.now());
    const now = this.clock();
    this.ring = new Ring(opts.device, opts.ring);
    this.stack = new Stack(now);
    this.ifc = this.stack.addInterface(this.ring, { ip: opts.ip, prefix: opts.prefix, gateway: opts.gateway ?? null }, now);
    const rings = [this.ring];
    if (opts.loopback) {
      // Frames to 127/8 never reach this device (the stack delivers its own addresses' traffic in
      // place); it gives the interface a ring and pools of its own.
      const loRing = new Ring(new SimWire().attach(0x020000000001, { name: 'lo' }), opts.ring);
      this.lo = this.stack.addInterface(loRing, { name: 'lo', ip: LOOPBACK_IP, prefix: 8, loopback: true }, now);
      rings.push(loRing);
    }
    this.poller = new Poller(rings, [this.stack], { clock: this.clock, ...opts.poller });
    this.poller.start();
  }

  /**
   * Builds the engine TSVMA_DEVICE names. `netns` opens a packet device inside that network
   * namespace (test hosts). Throws with a clear message when the device cannot be opened.
   */
  static open(cfg: Config, extra: { netns?: string; poller?: PollerOptions; ring?: RingOptions; wire?: SimWire } = {}): Engine {
    const d = cfg.device;
    if (!d) throw new Error('TSVMA_DEVICE is not set: no device to run the stack on');
    // The sim device is a wire of its own: without TSVMA_ADDR it takes SIM_DEFAULT_ADDR.
    const given = cfg.addr ?? (d.kind === 'sim' ? SIM_DEFAULT_ADDR : null);
    if (!given && d.kind !== 'daemon') throw new Error('TSVMA_ADDR is not set: the stack needs an address');
    let addr = given ?? { ip: 0, prefix: 0 }; // daemon: ringd's address, below
    let gateway = cfg.gateway;
    let device: Device;
    switch (d.kind) {
      case 'packet':
        device = new PacketDevice({ ifname: d.ifname, mac: cfg.mac!, netns: extra.netns, rxFrames: cfg.vma.rxWre > 4096 ? 4096 : Math.max(64, cfg.vma.rxWre), maxBurst: cfg.vma.cqPollBatchMax });
        break;
      case 'sim':
        device = (extra.wire ?? new SimWire()).attach(macFromIp(addr.ip));
        break;
      case 'verbs-eth':
        device = new EthDevice({ dev: d.dev, port: d.port, mac: cfg.mac ?? macFromIp(addr.ip), rxDepth: Math.min(Math.max(64, cfg.vma.rxWre), 8192), maxBurst: cfg.vma.cqPollBatchMax, signalEvery: cfg.vma.txWreBatching });
        break;
      case 'verbs-ud':
        device = new UdDevice({ dev: d.dev, port: d.port, mac: cfg.mac ?? macFromIp(addr.ip), rxDepth: Math.min(Math.max(64, cfg.vma.rxWre), 4096), maxBurst: cfg.vma.cqPollBatchMax, signalEvery: cfg.vma.txWreBatching });
        break;
      case 'daemon': {
        // ringd owns the address: every client's stack uses ringd's TSVMA_ADDR (docs/ringd.md).
        const dd = new DaemonDevice({ socketPath: d.socketPath, maxBurst: cfg.vma.cqPollBatchMax });
        if (given && (given.ip >>> 0) !== dd.ringd.ip) {
          dd.close();
          throw new Error(`TSVMA_ADDR does not match tsvma ringd's address (${d.socketPath} serves ${formatIp(dd.ringd.ip)}/${dd.ringd.prefix}): leave TSVMA_ADDR unset with TSVMA_DEVICE=daemon`);
        }
        addr = { ip: dd.ringd.ip, prefix: dd.ringd.prefix };
        gateway ??= dd.ringd.gateway;
        device = dd;
        break;
      }
      default:
        throw new Error(`TSVMA_DEVICE=${(d as { kind: string }).kind}: this device is not available yet (see docs/features.md)`);
    }
    const rxPoll = cfg.vma.rxPoll;
    // VMA_RX_POLL counts CQ polls (~100 ns each in VMA): also the poller's adaptive window cap, 100 000 → 10 ms.
    return new Engine({
      device, ip: addr.ip, prefix: addr.prefix, gateway,
      ring: extra.ring,
      loopback: cfg.loopback,
      poller: { budget: cfg.vma.cqPollBatchMax * 4, idleTurns: rxPoll < 0 ? -1 : Math.min(rxPoll, 1000), adaptiveUs: rxPoll < 0 ? 0 : Math.min(rxPoll / 10, 10000), ...extra.poller },
    });
  }

  /** Hands every queued TX frame to the devices now (after a send or an IGMP report). */
  flush(now = this.clock()): void {
    this.ring.flush(now);
    if (this.lo) this.lo.ring.flush(now);
  }

  stats(): Record<string, number> {
    return { ...this.ring.stats(), ...Object.fromEntries(Object.entries(this.stack.counters).map(([k, v]) => [`stack.${k}`, v])), ...Object.fromEntries(Object.entries(this.poller.counters).map(([k, v]) => [`poller.${k}`, v])) };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.poller.stop();
    this.stack.close();
    this.ring.close();
    this.lo?.ring.close();
  }
}
