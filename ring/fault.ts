/**
 * Seeded fault injection for the sim wire (ring/sim.ts): drop, duplicate, reorder, delay and
 * corrupt, each with its own probability, drawn from one deterministic PRNG (mulberry32; never
 * Math.random) so a seed and the same traffic reproduce a run exactly. A fault kind whose
 * probability is 0 or unset draws no number. Each fault that happens is counted.
 */
export interface FaultOptions {
  seed?: number;
  /** Probabilities in [0, 1]. */
  drop?: number;
  duplicate?: number;
  reorder?: number;
  corrupt?: number;
  /** Probability of an extra delay, and its maximum in ms (uniform in (0, delayMaxMs]). */
  delay?: number;
  delayMaxMs?: number;
}

export interface FaultCounters {
  dropped: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  delayed: number;
}

export class FaultInjector {
  private state: number;
  readonly counters: FaultCounters = { dropped: 0, duplicated: 0, reordered: 0, corrupted: 0, delayed: 0 };

  constructor(readonly opts: FaultOptions) {
    for (const k of ['drop', 'duplicate', 'reorder', 'corrupt', 'delay'] as const) {
      const p = opts[k];
      if (p !== undefined && !(p >= 0 && p <= 1)) throw new RangeError(`fault ${k} must be a probability in [0, 1], got ${p}`);
    }
    if (opts.delayMaxMs !== undefined && !(opts.delayMaxMs > 0)) throw new RangeError(`fault delayMaxMs must be > 0, got ${opts.delayMaxMs}`);
    if (opts.seed !== undefined && !Number.isInteger(opts.seed)) throw new RangeError(`fault seed must be an integer, got ${opts.seed}`);
    this.state = (opts.seed ?? 1) >>> 0;
  }

  /** Uniform in [0, 1) (mulberry32 step). */
  random(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  private hit(p: number | undefined): boolean {
    return p !== undefined && p > 0 && this.random() < p;
  }

  drop(): boolean {
    if (!this.hit(this.opts.drop)) return false;
    this.counters.dropped++;
    return true;
  }

  duplicate(): boolean {
    if (!this.hit(this.opts.duplicate)) return false;
    this.counters.duplicated++;
    return true;
  }

  reorder(): boolean {
    if (!this.hit(this.opts.reorder)) return false;
    this.counters.reordered++;
    return true;
  }

  delay(): number {
    if (!this.hit(this.opts.delay)) return 0;
    this.counters.delayed++;
    return (1 - this.random()) * (this.opts.delayMaxMs ?? 10);
  }

  /** Flips one random bit of buf[off, off+len) with the corrupt probability. */
  corrupt(buf: Uint8Array, off: number, len: number): void {
    if (len === 0 || !this.hit(this.opts.corrupt)) return;
    this.counters.corrupted++;
    const bit = Math.floor(this.random() * len * 8);
    buf[off + (bit >>> 3)] ^= 1 << (bit & 7);
  }
}
