/**
 * One hashed timer wheel for the whole stack (ARP expiry and retries, reassembly timeouts, TCP RTO,
 * delayed ACK, keep-alive, TIME-WAIT).
 *
 * Contract: time is a parameter. Nothing here reads a clock; the poller calls `advance(now)` with a
 * monotonic time in milliseconds and asks `nextDeadline()` when it must wake again. Timers are
 * intrusive objects owned by whoever schedules them (a socket owns its RTO timer), so scheduling,
 * re-scheduling and cancelling allocate nothing.
 */

export class Timer {
  /** Absolute deadline in ms, or -1 when not scheduled. */
  at = -1;
  /** Wheel bookkeeping: slot index and doubly linked list neighbours. */
  slot = -1;
  next: Timer | null = null;
  prev: Timer | null = null;

  constructor(readonly fire: (now: number) => void) {}

  get scheduled(): boolean {
    return this.at >= 0;
  }
}

export class TimerWheel {
  private readonly heads: (Timer | null)[];
  private readonly mask: number;
  /** The tick (now / resolution, floored) up to which every slot has been processed. */
  private tick: number;
  private count = 0;

  /**
   * @param now the current time in ms
   * @param resolutionMs the wheel's tick (timers fire on the first advance at or after their tick)
   * @param slots a power of two; timers further out than slots*resolution wait extra rounds
   */
  constructor(now: number, readonly resolutionMs = 1, slots = 1024) {
    if (slots & (slots - 1)) throw new RangeError('TimerWheel: slots must be a power of two');
    this.heads = new Array<Timer | null>(slots).fill(null);
    this.mask = slots - 1;
    this.tick = Math.floor(now / resolutionMs);
  }

  /** Number of scheduled timers. */
  get size(): number {
    return this.count;
  }

  /** Schedules (or re-schedules) `t` to fire at absolute time `at` ms. */
  schedule(t: Timer, at: number): void {
    if (t.slot >= 0) this.unlink(t);
    let tk = Math.floor(at / this.resolutionMs);
    if (tk < this.tick) tk = this.tick; // already due: the current slot is scanned on every advance
    t.at = at;
    const s = tk & this.mask;
    t.slot = s;
    t.prev = null;
    t.next = this.heads[s];
    if (t.next) t.next.prev = t;
    this.heads[s] = t;
    this.count++;
  }

  cancel(t: Timer): void {
    if (t.slot >= 0) this.unlink(t);
    t.at = -1;
  }

  /** Fires every timer whose deadline is ≤ now, in slot order. Returns how many fired. */
  advance(now: number): number {
    const target = Math.floor(now / this.resolutionMs);
    let fired = 0;
    // The current tick's slot is scanned again on every call (a timer due later within the same
    // tick fires once `now` reaches it); never more than one full turn is walked.
    const last = Math.min(target, this.tick + this.mask);
    for (let tk = this.tick; tk <= last && this.count > 0; tk++) {
      let t = this.heads[tk & this.mask];
      while (t) {
        const nx = t.next;
        if (t.at <= now) {
          this.unlink(t);
          t.at = -1;
          fired++;
          t.fire(now);
        }
        t = nx;
      }
    }
    if (target > this.tick) this.tick = target;
    return fired;
  }

  /** The earliest deadline among scheduled timers (ms), or Infinity. O(slots) scan; for the poller's idle path. */
  nextDeadline(): number {
    if (this.count === 0) return Infinity;
    let min = Infinity;
    for (let i = 0; i <= this.mask; i++) {
      for (let t = this.heads[i]; t; t = t.next) if (t.at < min) min = t.at;
    }
    return min;
  }

  private unlink(t: Timer): void {
    if (t.prev) t.prev.next = t.next;
    else this.heads[t.slot] = t.next;
    if (t.next) t.next.prev = t.prev;
    t.next = t.prev = null;
    t.slot = -1;
    this.count--;
  }
}
