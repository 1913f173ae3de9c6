/**
 * An engine: one device, its ring, the stack with one interface, and the poller that drives them —
 * what a process runs when TSVMA_DEVICE is set. `Engine.open(config)` builds it from the resolved
 * configuration; tests and tools can also give a device directly.
 */
import type { Config } from '../conf';
import type { Interface } from '../proto/stack/interface';
import { Stack } from '../proto/stack/stack';
import type { Device } from '../ring/device';
import { PacketDevice } from '../ring/packet/packet_device';
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
}

export class Engine {
  readonly ring: Ring;
  readonly stack: Stack;
  readonly ifc: Interface;
  readonly poller: Poller;
  readonly clock: () => number;
  private closed = false;

  constructor(opts: EngineOptions) {
    this.clock = opts.clock ?? (() => performance.now());
    const now = this.clock();
    this.ring = new Ring(opts.device, opts.ring);
    this.stack = new Stack(now);
    this.ifc = this.stack.addInterface(this.ring, { ip: opts.ip, prefix: opts.prefix, gateway: opts.gateway ?? null }, now);
    this.poller = new Poller([this.ring], [this.stack], { clock: this.clock, ...opts.poller });
    this.poller.start();
  }

  /**
   * Builds the engine TSVMA_DEVICE names. `netns` opens a packet device inside that network
   * namespace (test hosts). Throws with a clear message when the device cannot be opened.
   */
  static open(cfg: Config, extra: { netns?: string; poller?: PollerOptions; ring?: RingOptions; wire?: SimWire } = {}): Engine {
    const d = cfg.device;
    if (!d) throw new Error('TSVMA_DEVICE is not set: no device to run the stack on');
    if (!cfg.addr) throw new Error('TSVMA_ADDR is not set: the stack needs an address');
    let device: Device;
    switch (d.kind) {
      case 'packet':
        device = new PacketDevice({ ifname: d.ifname, mac: cfg.mac!, netns: extra.netns, rxFrames: cfg.vma.rxWre > 4096 ? 4096 : Math.max(64, cfg.vma.rxWre), maxBurst: cfg.vma.cqPollBatchMax });
        break;
      case 'sim':
        device = (extra.wire ?? new SimWire()).attach(0x020000000000 + cfg.addr.ip);
        break;
      default:
        throw new Error(`TSVMA_DEVICE=${d.kind}: this device is not available yet (see docs/features.md)`);
    }
    const rxPoll = cfg.vma.rxPoll;
    return new Engine({
      device, ip: cfg.addr.ip, prefix: cfg.addr.prefix, gateway: cfg.gateway,
      ring: extra.ring,
      poller: { budget: cfg.vma.cqPollBatchMax * 4, idleTurns: rxPoll < 0 ? -1 : Math.min(rxPoll, 1000), ...extra.poller },
    });
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
  }
}
