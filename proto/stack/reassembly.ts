/**
 * IPv4 reassembly (RFC 791 §3.2 "fragmentation and reassembly"; RFC 815 for the hole idea), bounded:
 * at most `maxDatagrams` in progress and `maxBytes` of buffer, each given up after `timeoutMs`
 * (Linux: ipfrag_time 30 s). Overlapping fragments discard the whole datagram, as Linux does since
 * it stopped accepting overlaps (FragmentSmack). Fragments are not the fast path: a datagram in
 * progress owns a 64 KiB buffer, taken from (and given back to) a small spare list; every drop is
 * counted.
 */
import { Timer, type TimerWheel } from './timer_wheel';

export interface ReassemblyCounters {
  /** Datagrams completed. */
  reassembled: number;
  /** Datagrams given up after the timeout. */
  timeouts: number;
  /** Datagrams discarded for overlapping fragments or inconsistent lengths. */
  overlaps: number;
  /** Fragments dropped because the datagram would exceed 65535 bytes. */
  tooBig: number;
  /** Fragments dropped because the table was full (datagrams or bytes). */
  overflows: number;
}

export interface ReassemblyOptions {
  maxDatagrams?: number;
  maxBytes?: number;
  timeoutMs?: number;
}

const MAX_DATAGRAM = 65535;

class Entry {
  /** Received byte ranges, sorted, non-overlapping: [start0, end0, start1, end1, ...]. */
  readonly ranges: number[] = [];
  /** Payload length once the last fragment (MF = 0) arrived, else -1. */
  total = -1;
  readonly timer: Timer;
  constructor(readonly key: string, readonly buf: Buffer, onTimeout: (e: Entry) => void) {
    this.timer = new Timer(() => onTimeout(this));
  }
}

export class Reassembler {
  readonly counters: ReassemblyCounters = { reassembled: 0, timeouts: 0, overlaps: 0, tooBig: 0, overflows: 0 };
  private readonly entries = new Map<string, Entry>();
  /** Buffers of finished datagrams, reused (at most maxDatagrams exist at once). */
  private readonly spare: Buffer[] = [];
  private readonly maxDatagrams: number;
  private readonly timeoutMs: number;

  constructor(private readonly timers: TimerWheel, opts: ReassemblyOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 30000;
    this.maxDatagrams = Math.min(opts.maxDatagrams ?? 64, Math.floor((opts.maxBytes ?? 4 << 20) / MAX_DATAGRAM));
  }

  get inProgress(): number {
    return this.entries.size;
  }

  /**
   * Adds a fragment whose payload is src[off, off+len) at byte `fragOffset` of the datagram.
   * Returns the whole payload once complete — a view valid until the next call — else null.
   */
  add(src: number, dst: number, protocol: number, ident: number, fragOffset: number, more: boolean, data: Buffer, off: number, len: number, now: number): Buffer | null {
    const end = fragOffset + len;
    if (end > MAX_DATAGRAM - 20) {
      this.counters.tooBig++;
      return null;
    }
    const key = `${src >>> 0}/${dst >>> 0}/${protocol}/${ident}`;
    let e = this.entries.get(key);
    if (!e) {
      if (this.entries.size >= this.maxDatagrams) {
        this.counters.overflows++;
        return null;
      }
      e = new Entry(key, this.spare.pop() ?? Buffer.allocUnsafe(MAX_DATAGRAM), (x) => this.expire(x));
      this.entries.set(key, e);
      this.timers.schedule(e.timer, now + this.timeoutMs);
    }
    // RFC 791: all fragments but the last carry a multiple of 8 bytes.
    if ((more && len % 8 !== 0) || (!more && e.total >= 0 && e.total !== end) || (e.total >= 0 && end > e.total)) {
      this.discard(e);
      this.counters.overlaps++;
      return null;
    }
    const r = e.ranges;
    for (let i = 0; i < r.length; i += 2) {
      if (fragOffset === r[i] && end === r[i + 1]) return null; // an exact duplicate: ignore
      if (fragOffset < r[i + 1] && end > r[i]) {
        this.discard(e);
        this.counters.overlaps++;
        return null;
      }
    }
    if (!more) {
      for (let i = 1; i < r.length; i += 2) {
        if (r[i] > end) {
          this.discard(e);
          this.counters.overlaps++;
          return null;
        }
      }
      e.total = end;
    }
    data.copy(e.buf, fragOffset, off, off + len);
    // Insert the range, merging neighbours.
    let i = 0;
    while (i < r.length && r[i] < fragOffset) i += 2;
    r.splice(i, 0, fragOffset, end);
    for (let k = 0; k + 2 < r.length; ) {
      if (r[k + 1] === r[k + 2]) r.splice(k + 1, 2);
      else k += 2;
    }
    if (e.total >= 0 && r.length === 2 && r[0] === 0 && r[1] === e.total) {
      this.discard(e);
      this.counters.reassembled++;
      return e.buf.subarray(0, e.total);
    }
    return null;
  }

  private discard(e: Entry): void {
    this.timers.cancel(e.timer);
    this.entries.delete(e.key);
    this.spare.push(e.buf);
  }

  private expire(e: Entry): void {
    this.entries.delete(e.key);
    this.spare.push(e.buf);
    this.counters.timeouts++;
  }

  clear(): void {
    for (const e of this.entries.values()) this.timers.cancel(e.timer);
    this.entries.clear();
  }
}
