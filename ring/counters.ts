/**
 * Ring counters: a plain object of numbers, incremented in place on the hot path (no Subject, no
 * allocation) and read by polling (`Ring.stats()`, `tsvma stats`). Every frame a ring drops
 * increments exactly one named drop counter. The names and their meaning are declared once here
 * (RING_COUNTERS), so the stats tool and the docs list them from the same table.
 */

/** Each counter's one-line meaning and whether it counts dropped frames. */
export const RING_COUNTERS = Object.freeze({
  rxFrames: { doc: 'frames received from the device', drop: false },
  rxBytes: { doc: 'bytes received from the device', drop: false },
  txFrames: { doc: 'frames put on the wire', drop: false },
  txBytes: { doc: 'bytes put on the wire', drop: false },
  txDummy: { doc: 'dummy sends (VMA_SND_FLAGS_DUMMY), stopped before the wire', drop: false },
  rxNoFlow: { doc: 'received frames no flow and no default sink wanted', drop: true },
  rxRunt: { doc: 'received frames shorter than an Ethernet header', drop: true },
  rxNoBuffer: { doc: 'received frames dropped for want of an RX buffer', drop: true },
  txNoBuffer: { doc: 'TX buffer requests the TX pool could not meet', drop: true },
  txDeviceFull: { doc: 'flushes the device could not take whole (the rest stayed queued)', drop: false },
  txQueueFull: { doc: 'frames dropped because the TX queue stayed full', drop: true },
  txClosed: { doc: 'frames sent after the ring closed', drop: true },
  polls: { doc: 'poll calls', drop: false },
  emptyPolls: { doc: 'poll calls that found no frame', drop: false },
  txBursts: { doc: 'TX batches posted to the device', drop: false },
} as const) satisfies Readonly<Record<string, { readonly doc: string; readonly drop: boolean }>>;

/** The counters themselves, one number per RING_COUNTERS entry. */
export type RingCounters = Record<keyof typeof RING_COUNTERS, number>;

/** A fresh set (a literal, so every ring's counters share one object shape). */
export function newRingCounters(): RingCounters {
  return {
    rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, txDummy: 0, rxNoFlow: 0, rxRunt: 0, rxNoBuffer: 0,
    txNoBuffer: 0, txDeviceFull: 0, txQueueFull: 0, txClosed: 0, polls: 0, emptyPolls: 0, txBursts: 0,
  };
}

/** Sum of the counters that count dropped frames. */
export function ringDrops(c: RingCounters): number {
  let n = 0;
  for (const k of Object.keys(RING_COUNTERS) as (keyof RingCounters)[]) if (RING_COUNTERS[k].drop) n += c[k];
  return n;
}

/** Copies `src`'s numeric fields into `out` under `prefix` (for a flat stats table). Not for the hot path. */
export function addPrefixed(out: Record<string, number>, prefix: string, src: Readonly<object>): Record<string, number> {
  for (const [k, v] of Object.entries(src)) if (typeof v === 'number') out[prefix + k] = v;
  return out;
}
