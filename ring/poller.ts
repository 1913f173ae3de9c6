/**
 * The poller: drives rings (and the timers of whatever sits on them) inside Node's event loop, the
 * way VMA busy-polls its completion queues, without ever blocking the loop.
 *
 * Hot: while frames flow, each `setImmediate` turn polls every ring with a bounded budget
 * (VMA_CQ_POLL_BATCH_MAX-like), runs the targets' due work and the onTick hooks, and flushes TX;
 * other callbacks of the loop run between turns. Idle: it arms a wake-up for each ring —
 * `koffi.node.poll` (a libuv poll handle on the main loop: no thread, no CPU) on the device's
 * `waitFd`, or, for a device without an fd (sim), the device's JS notifier — plus one timer for the
 * earliest deadline (targets' `nextDeadline()`, a device's `nextDue()`, `pollAt()` requests). Any
 * of them makes it hot again. While sleeping every handle is unref'd (unless `keepAlive`), so an
 * idle poller never keeps the process alive.
 *
 * When to sleep (VMA_RX_POLL-like). Activity is a turn that received frames, or a `touch()` (the
 * application sent: a reply is likely; a sleeping poller goes hot at once). The poller sleeps when
 * both hold:
 *  - `idleTurns` turns in a row without activity (the floor: an idle process sleeps after a few
 *    hundred µs — one empty turn costs ~1-5 µs on the measured VM), and
 *  - the adaptive window has passed since the last activity: twice the recent gap between bursts of
 *    activity (a running average, on the clock), at most `adaptiveUs` (default 10 ms); when the gap
 *    itself is longer than that, no window: spinning would not catch the next datagram anyway.
 * So a socket with steady traffic (paced at ≥ 100 messages/s with the default) stays hot between
 * datagrams instead of paying the ~100 µs wake-up on each, at the price of a busy core while it
 * flows, and a process whose traffic stops sleeps within max(idleTurns turns, adaptiveUs). `idleUs` (≥ 0) is a hard limit on top: asleep after
 * that long without activity whatever the window says.
 *
 * Time: below lib/, this is the one place that reads a clock and sets timers (STYLE rule 6). It
 * passes `now` (ms, monotonic, from `clock`) to rings, targets and hooks, which read no clock.
 *
 * Latency, measured (../shared/reference/koffi-notes.md §3-4, docs/benchmarks.md): a hot poller picks
 * a frame up within one loop turn (~10-20 µs on this VM); waking a sleeping one through epoll →
 * libuv → koffi costs ~100 µs. `idleTurns: -1` never sleeps (VMA_RX_POLL=-1) and burns a core.
 */
import koffi from 'koffi';
import { performance } from 'node:perf_hooks';
import type { Ring } from './ring';

/** Work that runs on the poller's turns: timers of a stack, retransmissions, … */
export interface PollTarget {
  /** Runs the work due at `now`. */
  poll(now: number): void;
  /** When it next needs to run (same clock as `now`), or Infinity. */
  nextDeadline(): number;
}

export type TickHook = (now: number) => void;

export interface PollerOptions {
  /** Frames per ring per turn. Default 64. */
  budget?: number;
  /** Turns in a row without activity before sleeping; -1: never sleep by this rule, 0: sleep at once. Default 200. */
  idleTurns?: number;
  /** Sleep after this long without activity (µs) whatever the adaptive window says; -1 (default): no such limit. */
  idleUs?: number;
  /**
   * Adaptive hot window: after activity, stay hot for twice the recent gap between activities, at
   * most this long (µs), and not at all when the gap is longer than this; 0 disables. Default
   * 10000. The engine passes VMA_RX_POLL × 0.1 µs (VMA polls a CQ in ~100 ns), capped at 10 ms.
   */
  adaptiveUs?: number;
  /** Clock in ms (monotonic). Default performance.now. */
  clock?: () => number;
  /** Keep the process alive while sleeping (an application with open sockets wants this). Default false. */
  keepAlive?: boolean;
}

export interface PollerCounters {
  /** Turns run, and frames they received. */
  turns: number;
  frames: number;
  /** Times it went to sleep, and woke up, by cause. */
  sleeps: number;
  wakeups: number;
  fdWakeups: number;
  notifyWakeups: number;
  timerWakeups: number;
  kickWakeups: number;
  /** `touch()` calls that woke a sleeping poller (a subset of kickWakeups). */
  touchWakeups: number;
  /** Empty turns the adaptive window kept hot (turns the idleTurns rule alone would have slept through). */
  windowTurns: number;
  /** Wall time spent hot (polling on turns) and asleep, ms. */
  busyMs: number;
  sleepMs: number;
}

type PollHandle = ReturnType<typeof koffi.node.poll>;

/** Running pollers: a koffi poll handle nobody references is closed by GC, so keep them reachable. */
const running = new Set<Poller>();

const enum Wake { Fd, Notify, Timer, Kick }

/** Empty turns before sleeping, unless told otherwise. */
const DEFAULT_IDLE_TURNS = 200;
/** The adaptive window's cap, unless told otherwise (µs). */
const DEFAULT_ADAPTIVE_US = 10000;
/** Weight of a new gap in the running average (1/4: the last few gaps dominate). */
const GAP_WEIGHT = 0.25;

export class Poller {
  readonly counters: PollerCounters = {
    turns: 0, frames: 0, sleeps: 0, wakeups: 0, fdWakeups: 0, notifyWakeups: 0, timerWakeups: 0, kickWakeups: 0, touchWakeups: 0, windowTurns: 0, busyMs: 0, sleepMs: 0,
  };
  readonly rings: Ring[];
  readonly targets: PollTarget[];
  private budget: number;
  private readonly idleTurns: number;
  private readonly idleMs: number;
  private readonly adaptiveMs: number;
  private readonly clock: () => number;
  private keepAlive: boolean;
  private readonly hooks: TickHook[] = [];
  private readonly handles = new Map<number, PollHandle>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private immediate: NodeJS.Immediate | null = null;
  private requestedAt = Infinity;
  private idle = 0;
  /** When the last activity (frames, or a touch) happened, and the running average of the gaps between activities (ms; -1: none yet). */
  private lastActiveAt = 0;
  private gapMs = -1;
  /** touch() since the last turn. */
  private touched = false;
  /** The last turn was active (a burst goes on; the next active turn measures no gap). */
  private inBurst = false;
  private sleeping = false;
  private active = false;
  /** Start of the current hot or sleeping period (ms). */
  private since = 0;
  // Bound once (no closure per turn or per sleep).
  private readonly turn = (): void => this.runTurn();
  private readonly onFd = (): void => this.wakeUp(Wake.Fd);
  private readonly onNotify = (): void => this.wakeUp(Wake.Notify);
  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerAt = Infinity;
    this.wakeUp(Wake.Timer);
  };

  constructor(rings: Ring[] = [], targets: PollTarget[] = [], opts: PollerOptions = {}) {
    this.rings = [...rings];
    this.targets = [...targets];
    this.budget = opts.budget ?? 64;
    this.idleTurns = opts.idleTurns ?? DEFAULT_IDLE_TURNS;
    this.idleMs = opts.idleUs !== undefined && opts.idleUs >= 0 ? opts.idleUs / 1000 : -1;
    this.adaptiveMs = Math.max(0, opts.adaptiveUs ?? DEFAULT_ADAPTIVE_US) / 1000;
    this.clock = opts.clock ?? (() => performance.now());
    this.keepAlive = opts.keepAlive ?? false;
    if (!(this.budget >= 1)) throw new RangeError(`Poller: budget must be ≥ 1, not ${this.budget}`);
  }

  /** Starts polling (hot). Idempotent. */
  start(): void {
    if (this.active) return;
    this.active = true;
    running.add(this);
    this.since = this.lastActiveAt = this.clock();
    this.gapMs = -1;
    this.touched = false;
    this.inBurst = false;
    this.idle = 0;
    this.schedule();
  }

  /** Stops polling and closes every handle, timer and notifier (idempotent). Rings stay open. */
  stop(): void {
    if (!this.active) return;
    const now = this.clock();
    if (this.sleeping) this.counters.sleepMs += now - this.since;
    else this.counters.busyMs += now - this.since;
    this.active = false;
    this.sleeping = false;
    running.delete(this);
    this.disarm();
    for (const h of this.handles.values()) h.close();
    this.handles.clear();
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
  }

  get isRunning(): boolean {
    return this.active;
  }

  get isSleeping(): boolean {
    return this.sleeping;
  }

  /** Adds a ring (polled from the next turn). */
  addRing(r: Ring): void {
    if (this.rings.includes(r)) return;
    this.rings.push(r);
    this.kick();
  }

  /** Removes a ring (its device's wake-up is disarmed). */
  removeRing(r: Ring): void {
    const i = this.rings.indexOf(r);
    if (i < 0) return;
    if (this.sleeping) this.wakeUp(Wake.Kick);
    this.rings.splice(i, 1);
    const fd = r.device.waitFd;
    if (fd >= 0 && !this.rings.some((o) => o.device.waitFd === fd)) {
      this.handles.get(fd)?.close();
      this.handles.delete(fd);
    }
  }

  addTarget(t: PollTarget): void {
    if (!this.targets.includes(t)) this.targets.push(t);
    this.kick();
  }

  removeTarget(t: PollTarget): void {
    const i = this.targets.indexOf(t);
    if (i >= 0) this.targets.splice(i, 1);
  }

  /** Calls `fn(now)` on every turn (hot turns and the turn after each wake-up). Returns a remover. */
  onTick(fn: TickHook): () => void {
    this.hooks.push(fn);
    return () => {
      const i = this.hooks.indexOf(fn);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  /** Asks for a turn at or after `at` (the poller's clock, ms), even with no traffic. */
  pollAt(at: number): void {
    if (at < this.requestedAt) this.requestedAt = at;
    if (this.sleeping && at < this.timerAt) this.armTimer(this.clock());
  }

  /** Whether an idle poller keeps the process alive. */
  setKeepAlive(on: boolean): void {
    this.keepAlive = on;
    for (const h of this.handles.values()) {
      if (on) h.ref();
      else h.unref();
    }
    if (this.timer) {
      if (on) this.timer.ref();
      else this.timer.unref();
    }
  }

  /** Frames taken per ring per turn from now on (vma_modify_ring on a device without a CQ to moderate). */
  setBudget(n: number): void {
    this.budget = Math.max(1, Math.floor(n));
  }

  /**
   * One poll of every ring and target now, on the application's call (socketxtreme_poll), outside
   * the poller's own turns; pending TX is flushed and frames count as activity. Returns the frames taken.
   */
  pollOnce(): number {
    const frames = this.pollAll(this.clock(), false);
    if (frames > 0) this.touched = true;
    return frames;
  }

  /** Polls every ring and target (and the tick hooks: `hooks`), then flushes pending TX. Returns the frames taken. */
  private pollAll(now: number, hooks: boolean): number {
    let frames = 0;
    const rings = this.rings;
    for (let i = 0; i < rings.length; i++) frames += rings[i].poll(now, this.budget);
    const targets = this.targets;
    for (let i = 0; i < targets.length; i++) targets[i].poll(now);
    if (hooks) {
      const h = this.hooks;
      for (let i = 0; i < h.length; i++) h[i](now);
    }
    for (let i = 0; i < rings.length; i++) if (rings[i].txPending > 0) rings[i].flush(now);
    return frames;
  }

  /** Goes hot now if sleeping (e.g. to run work queued outside a turn). Not activity by itself. */
  kick(): void {
    if (this.sleeping) this.wakeUp(Wake.Kick);
  }

  /**
   * Activity outside a turn: the application sent something, so a reply is likely. A sleeping poller
   * goes hot at once; a hot one counts the next turn as active (no clock read here: one flag).
   */
  touch(): void {
    this.touched = true;
    if (this.sleeping) {
      this.counters.touchWakeups++;
      this.wakeUp(Wake.Kick);
    }
  }

  /** The adaptive window now (ms): twice the average gap, at most the cap; 0 when the gap itself exceeds the cap. */
  get hotWindowMs(): number {
    const g = this.gapMs;
    if (g < 0 || g > this.adaptiveMs) return 0;
    return 2 * g < this.adaptiveMs ? 2 * g : this.adaptiveMs;
  }

  private schedule(): void {
    if (!this.immediate) this.immediate = setImmediate(this.turn);
  }

  private runTurn(): void {
    this.immediate = null;
    if (!this.active) return;
    const now = this.clock();
    const frames = this.pollAll(now, true);
    if (now >= this.requestedAt) this.requestedAt = Infinity;
    const c = this.counters;
    c.turns++;
    c.frames += frames;
    if (frames > 0 || this.touched) {
      this.touched = false;
      // A gap is measured between bursts: from the last active turn to an active turn after at least
      // one empty one (a request and the reply sent on the next turn are one burst, not a tiny gap).
      // Clamped, so one long silence does not swamp the average.
      if (!this.inBurst) {
        let gap = now - this.lastActiveAt;
        if (gap > 2 * this.adaptiveMs) gap = 2 * this.adaptiveMs;
        this.gapMs = this.gapMs < 0 ? gap : this.gapMs + GAP_WEIGHT * (gap - this.gapMs);
      }
      this.idle = 0;
      this.inBurst = true;
      this.lastActiveAt = now;
    } else {
      this.idle++;
      this.inBurst = false;
    }
    if (!this.active) return; // a hook or sink stopped us
    if (this.shouldSleep(now)) this.sleep(now);
    else this.schedule();
  }

  /** The sleep rule (see the file comment), after a turn at `now`. */
  private shouldSleep(now: number): boolean {
    if (this.idle === 0) return this.idleTurns === 0;
    const quiet = now - this.lastActiveAt;
    if (this.idleMs >= 0 && quiet >= this.idleMs) return true;
    // Never sleeping (-1) holds only while something keeps the process alive: otherwise the spinning
    // setImmediate would keep a process that closed its last socket from ever exiting.
    const turns = this.idleTurns >= 0 ? this.idleTurns : this.keepAlive ? -1 : DEFAULT_IDLE_TURNS;
    if (turns < 0 || this.idle < turns) return false;
    if (turns === 0 || quiet >= this.hotWindowMs) return true;
    this.counters.windowTurns++;
    return false;
  }

  private sleep(now: number): void {
    const c = this.counters;
    c.busyMs += now - this.since;
    this.since = now;
    c.sleeps++;
    this.sleeping = true;
    this.inBurst = false;
    for (const r of this.rings) {
      const fd = r.device.waitFd;
      if (fd >= 0) {
        let h = this.handles.get(fd);
        if (!h) {
          // koffi calls cb(status, events) although its .d.ts says cb(events); we ignore both.
          h = koffi.node.poll(fd, { readable: true }, this.onFd as never);
          this.handles.set(fd, h);
        } else {
          h.start({ readable: true }, this.onFd as never);
        }
        if (this.keepAlive) h.ref();
        else h.unref();
      } else {
        r.device.setNotify(this.onNotify);
      }
    }
    this.armTimer(now);
  }

  /** (Re-)arms the one timer for the earliest deadline, or none. */
  private armTimer(now: number): void {
    let at = this.requestedAt;
    for (const t of this.targets) {
      const d = t.nextDeadline();
      if (d < at) at = d;
    }
    for (const r of this.rings) {
      const due = r.device.nextDue?.() ?? Infinity;
      if (due < at) at = due;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (at === Infinity) return;
    this.timer = setTimeout(this.onTimer, Math.max(0, Math.ceil(at - now)));
    if (!this.keepAlive) this.timer.unref();
  }

  private disarm(): void {
    for (const h of this.handles.values()) h.stop();
    for (const r of this.rings) if (r.device.waitFd < 0) r.device.setNotify(null);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  private wakeUp(cause: Wake): void {
    if (!this.sleeping || !this.active) return;
    this.sleeping = false;
    this.disarm();
    const now = this.clock();
    const c = this.counters;
    c.sleepMs += now - this.since;
    this.since = now;
    c.wakeups++;
    if (cause === Wake.Fd) c.fdWakeups++;
    else if (cause === Wake.Notify) c.notifyWakeups++;
    else if (cause === Wake.Timer) c.timerWakeups++;
    else c.kickWakeups++;
    this.idle = 0; // hot for at least idleTurns turns; the adaptive window still counts from the last activity
    // An fd wake-up arrives in libuv's poll phase with nothing of ours on the stack: run the turn at
    // once rather than one loop iteration later. A notifier fires from inside someone else's code
    // (another ring's flush), a kick from the caller's: run on the next turn.
    if (cause === Wake.Fd) this.runTurn();
    else this.schedule();
  }
}
