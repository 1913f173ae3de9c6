/**
 * The poller: drives rings (and the timers of whatever sits on them) inside Node's event loop, the
 * way VMA busy-polls its completion queues, without ever blocking the loop.
 *
 * Hot: while frames flow, each `setImmediate` turn polls every ring with a bounded budget
 * (VMA_CQ_POLL_BATCH_MAX-like), runs the targets' due work and the onTick hooks, and flushes TX;
 * other callbacks of the loop run between turns. Idle: after `idleTurns` empty turns in a row (or
 * `idleUs` without a frame; VMA_RX_POLL-like), it arms a wake-up for each ring — `koffi.node.poll`
 * (a libuv poll handle on the main loop: no thread, no CPU) on the device's `waitFd`, or, for a
 * device without an fd (sim), the device's JS notifier — plus one timer for the earliest deadline
 * (targets' `nextDeadline()`, a device's `nextDue()`, `pollAt()` requests). Any of them makes it hot
 * again. While sleeping every handle is unref'd (unless `keepAlive`), so an idle poller never keeps
 * the process alive.
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
  /** Empty turns in a row before sleeping; -1: never sleep by this rule, 0: sleep at once. Default 200. */
  idleTurns?: number;
  /** Also sleep after this long without a frame (µs); -1 (default): only `idleTurns` decides. */
  idleUs?: number;
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

export class Poller {
  readonly counters: PollerCounters = {
    turns: 0, frames: 0, sleeps: 0, wakeups: 0, fdWakeups: 0, notifyWakeups: 0, timerWakeups: 0, kickWakeups: 0, busyMs: 0, sleepMs: 0,
  };
  readonly rings: Ring[];
  readonly targets: PollTarget[];
  private readonly budget: number;
  private readonly idleTurns: number;
  private readonly idleMs: number;
  private readonly clock: () => number;
  private keepAlive: boolean;
  private readonly hooks: TickHook[] = [];
  private readonly handles = new Map<number, PollHandle>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private immediate: NodeJS.Immediate | null = null;
  private requestedAt = Infinity;
  private idle = 0;
  private lastFrameAt = 0;
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
    this.clock = opts.clock ?? (() => performance.now());
    this.keepAlive = opts.keepAlive ?? false;
    if (!(this.budget >= 1)) throw new RangeError(`Poller: budget must be ≥ 1, not ${this.budget}`);
  }

  /** Starts polling (hot). Idempotent. */
  start(): void {
    if (this.active) return;
    this.active = true;
    running.add(this);
    this.since = this.lastFrameAt = this.clock();
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

  /** Goes hot now if sleeping (e.g. right after a send, to flush it and pick up the reply). */
  kick(): void {
    if (this.sleeping) this.wakeUp(Wake.Kick);
  }

  private schedule(): void {
    if (!this.immediate) this.immediate = setImmediate(this.turn);
  }

  private runTurn(): void {
    this.immediate = null;
    if (!this.active) return;
    const now = this.clock();
    let frames = 0;
    const rings = this.rings;
    for (let i = 0; i < rings.length; i++) frames += rings[i].poll(now, this.budget);
    const targets = this.targets;
    for (let i = 0; i < targets.length; i++) targets[i].poll(now);
    const hooks = this.hooks;
    for (let i = 0; i < hooks.length; i++) hooks[i](now);
    for (let i = 0; i < rings.length; i++) if (rings[i].txPending > 0) rings[i].flush(now);
    if (now >= this.requestedAt) this.requestedAt = Infinity;
    const c = this.counters;
    c.turns++;
    c.frames += frames;
    if (frames > 0) {
      this.idle = 0;
      this.lastFrameAt = now;
    } else {
      this.idle++;
    }
    if (!this.active) return; // a hook or sink stopped us
    // Never sleeping (-1) holds only while something keeps the process alive: otherwise the spinning
    // setImmediate would keep a process that closed its last socket from ever exiting.
    const turns = this.idleTurns >= 0 ? this.idleTurns : this.keepAlive ? -1 : DEFAULT_IDLE_TURNS;
    const byTurns = turns >= 0 && this.idle >= turns;
    const byTime = this.idleMs >= 0 && frames === 0 && now - this.lastFrameAt >= this.idleMs;
    if (byTurns || byTime) this.sleep(now);
    else this.schedule();
  }

  private sleep(now: number): void {
    const c = this.counters;
    c.busyMs += now - this.since;
    this.since = now;
    c.sleeps++;
    this.sleeping = true;
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
    this.idle = 0;
    this.lastFrameAt = now;
    // An fd wake-up arrives in libuv's poll phase with nothing of ours on the stack: run the turn at
    // once rather than one loop iteration later. A notifier fires from inside someone else's code
    // (another ring's flush), a kick from the caller's: run on the next turn.
    if (cause === Wake.Fd) this.runTurn();
    else this.schedule();
  }
}
