/**
 * The adaptive poller on sim rings (no kernel): hot while frames flow, asleep when idle, woken by
 * the sim notifier, a deadline, pollAt, kick or touch; hooks on every turn; stop releases everything.
 * The sleep rule (idle turns, adaptive window, touch as activity) is tested on an injected clock that
 * advances a fixed step per turn, so the outcome does not depend on how fast the machine is.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Poller, type PollerOptions, type PollTarget } from './poller';
import { Ring } from './ring';
import { SimWire } from './sim';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits until `cond` holds (polling every 2 ms, up to 3 s): timing on a loaded 2-core CI machine varies. */
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(2);
}
const A = 0x0200c6120001;
const B = 0x0200c6120002;

function pair(latencyMs = 0) {
  const wire = new SimWire({ latencyMs });
  const a = new Ring(wire.attach(A));
  const b = new Ring(wire.attach(B));
  const got: number[] = [];
  b.defaultSink = (id, now) => {
    got.push(now);
    b.rxPool.release(id);
  };
  a.defaultSink = (id) => a.rxPool.release(id);
  return { a, b, got };
}

/** Queues one 60-byte frame from ring `r` to `dst` (flushed by the next poll or flush). */
function sendFrame(r: Ring, dst: number, now: number): void {
  const id = r.allocTx(0);
  const pool = r.txPool;
  const s = pool.start(id);
  pool.buf.fill(0, s, s + 60);
  pool.buf.writeUIntBE(dst, s, 6);
  pool.buf.writeUIntBE(A, s + 6, 6);
  pool.buf.writeUInt16BE(0x88b5, s + 12); // local experimental ethertype
  pool.append(id, 60);
  r.send(id, now);
  r.flush(now);
}

/**
 * Paced activity on a fake clock: each turn advances the clock by STEP ms; `act(now)` (a frame sent
 * to the polled ring, or a touch) happens every `gapMs`, from a turn when the poller is hot, or — when
 * it fell asleep — with the clock jumped to the due time (what a sleeping process sees: nothing until
 * the next datagram). Returns the sleeps counted until the last act had its turn, and the turns from
 * then until the poller slept.
 */
const STEP = 0.01;
async function paced(gapMs: number, count: number, opts: PollerOptions, act: 'frame' | 'touch'): Promise<{ sleepsWhileActive: number; tailTurns: number; p: Poller }> {
  const { a, b, got } = pair();
  let t = 0;
  let next = gapMs;
  let done = 0;
  const p = new Poller([b], [], { ...opts, clock: () => t });
  const fire = (): void => {
    done++;
    next += gapMs;
    if (act === 'frame') sendFrame(a, B, t);
    else p.touch();
  };
  let lastActTurn = -1;
  let sleepsWhileActive = -1;
  p.onTick(() => {
    t += STEP;
    if (done === count && lastActTurn < 0) {
      // The turn that handled the last act (its frame, or the touched turn).
      lastActTurn = p.counters.turns;
      sleepsWhileActive = p.counters.sleeps;
    } else if (done < count && t >= next) fire();
  });
  try {
    p.start();
    for (let guard = 0; guard < 100000 && lastActTurn < 0; guard++) {
      await until(() => p.isSleeping || lastActTurn >= 0);
      if (p.isSleeping && done < count) {
        t = next;
        fire();
      }
    }
    await until(() => p.isSleeping);
    expect(p.isSleeping).toBe(true);
    if (act === 'frame') expect(got.length).toBe(count);
    return { sleepsWhileActive, tailTurns: p.counters.turns - lastActTurn, p };
  } finally {
    p.stop();
    a.close();
    b.close();
  }
}

describe('Poller sleep rule (injected clock)', () => {
  it('stays hot between datagrams paced at 1 ms (window 2× the gap), and sleeps by turns when the adaptive window is off', async () => {
    // idleTurns 20 = 0.2 ms of this clock: by turns alone it sleeps in every 1 ms gap.
    const hot = await paced(1, 12, { idleTurns: 20 }, 'frame');
    expect(hot.sleepsWhileActive).toBe(1); // only before the first datagram (no gap known yet)
    expect(hot.p.counters.windowTurns).toBeGreaterThan(0);
    const off = await paced(1, 12, { idleTurns: 20, adaptiveUs: 0 }, 'frame');
    expect(off.sleepsWhileActive).toBe(12);
    expect(off.p.counters.windowTurns).toBe(0);
  });

  it('does not stay hot for traffic sparser than the cap (20 ms gaps, 10 ms cap)', async () => {
    const r = await paced(20, 6, { idleTurns: 20 }, 'frame');
    expect(r.sleepsWhileActive).toBe(6);
    expect(r.tailTurns).toBeLessThanOrEqual(21); // the idleTurns floor only
  });

  it('never spins forever: after the traffic stops it sleeps within the window (2 ms here) plus idleTurns', async () => {
    const r = await paced(1, 12, { idleTurns: 20 }, 'frame');
    expect(r.tailTurns).toBeGreaterThan(20); // the window kept it hot past the floor…
    expect(r.tailTurns).toBeLessThanOrEqual(Math.ceil(2 / STEP) + 21); // …and no longer
  });

  it('idleUs is a hard limit on top of the window', async () => {
    const r = await paced(1, 12, { idleTurns: 20, idleUs: 500 }, 'frame');
    expect(r.sleepsWhileActive).toBe(12); // 0.5 ms without activity: asleep in every 1 ms gap
  });

  it('a send (touch) is activity: paced sends keep the poller hot with no frame received', async () => {
    const hot = await paced(0.5, 12, { idleTurns: 20 }, 'touch');
    expect(hot.sleepsWhileActive).toBe(1);
    const off = await paced(0.5, 12, { idleTurns: 20, adaptiveUs: 0 }, 'touch');
    expect(off.sleepsWhileActive).toBe(12);
  });

  it('touch wakes a sleeping poller (counted as a touch wake-up), and the touched turn counts as active', async () => {
    const t = 0;
    const p = new Poller([], [], { idleTurns: 5, clock: () => t });
    try {
      p.start();
      await until(() => p.isSleeping);
      expect(p.counters.turns).toBe(5);
      p.touch();
      expect(p.isSleeping).toBe(false);
      expect(p.counters.touchWakeups).toBe(1);
      expect(p.counters.kickWakeups).toBe(1);
      await until(() => p.isSleeping);
      expect(p.counters.turns).toBe(5 + 1 + 5); // the touched turn, then idleTurns empty ones
      p.kick();
      await until(() => p.isSleeping);
      expect(p.counters.turns).toBe(11 + 5); // a kick is not activity
    } finally {
      p.stop();
    }
  });

  it('idleTurns 0 (VMA_RX_POLL=0) sleeps after every turn, window or not', async () => {
    const r = await paced(1, 6, { idleTurns: 0 }, 'frame');
    expect(r.sleepsWhileActive).toBeGreaterThanOrEqual(6);
  });
});

describe('Poller', () => {
  it('goes to sleep after idleTurns empty turns, wakes on the sim notifier, and accounts time', async () => {
    const { a, b, got } = pair();
    const p = new Poller([b], [], { idleTurns: 10 });
    try {
      p.start();
      expect(p.isRunning).toBe(true);
      await until(() => p.isSleeping);
      expect(p.isSleeping).toBe(true);
      expect(p.counters.sleeps).toBe(1);
      const turns = p.counters.turns;
      expect(turns).toBe(10);
      await sleep(30);
      expect(p.counters.turns).toBe(turns); // asleep: no turns
      sendFrame(a, B, 0);
      expect(p.isSleeping).toBe(false); // the notifier fired synchronously
      await until(() => got.length === 1 && p.isSleeping);
      expect(got.length).toBe(1);
      expect(p.counters.notifyWakeups).toBe(1);
      expect(p.counters.frames).toBe(1);
      expect(p.isSleeping).toBe(true);
      expect(p.counters.sleepMs).toBeGreaterThan(20);
      expect(p.counters.busyMs).toBeGreaterThanOrEqual(0);
    } finally {
      p.stop();
      a.close();
      b.close();
    }
  });

  it('stays hot while frames keep coming, within its budget per turn', async () => {
    const { a, b, got } = pair();
    const p = new Poller([b], [], { idleTurns: 5, budget: 3 });
    const perTurn: number[] = [];
    let last = 0;
    p.onTick(() => {
      perTurn.push(got.length - last);
      last = got.length;
    });
    try {
      for (let i = 0; i < 10; i++) sendFrame(a, B, 0);
      p.start();
      await until(() => got.length === 10);
      expect(got.length).toBe(10);
      expect(Math.max(...perTurn)).toBe(3);
      expect(perTurn.slice(0, 4)).toEqual([3, 3, 3, 1]);
    } finally {
      p.stop();
      a.close();
      b.close();
    }
  });

  it('sleeps by time with idleUs, and never with idleTurns -1 while kept alive (else as by default)', async () => {
    const { a, b } = pair();
    const byTime = new Poller([b], [], { idleTurns: -1, idleUs: 5000 });
    const never = new Poller([a], [], { idleTurns: -1 });
    const unkept = new Poller([], [], { idleTurns: -1 });
    never.setKeepAlive(true); // -1 never sleeps while the poller keeps the process alive
    try {
      const t0 = performance.now();
      unkept.start();
      byTime.start();
      never.start();
      await sleep(1);
      // Only meaningful if the loop came back within the 5 ms idle window (a loaded CI box may not).
      if (performance.now() - t0 < 4) expect(byTime.isSleeping).toBe(false);
      await until(() => byTime.isSleeping);
      expect(byTime.isSleeping).toBe(true);
      expect(never.isSleeping).toBe(false);
      const slept = byTime.counters.turns;
      await sleep(20);
      expect(byTime.counters.turns).toBe(slept); // asleep: no turns
      expect(never.counters.turns).toBeGreaterThan(slept);
      // Nothing keeps the process alive: -1 falls back to sleeping, or a closed program could never exit.
      await until(() => unkept.isSleeping);
      expect(unkept.isSleeping).toBe(true);
    } finally {
      unkept.stop();
      byTime.stop();
      never.stop();
      a.close();
      b.close();
    }
  });

  it('wakes for a target deadline, a pollAt request, a frame due later, and a kick', async () => {
    const { a, b, got } = pair(25);
    let due = Infinity;
    const polled: number[] = [];
    const target: PollTarget = { poll: (now) => { if (now >= due) { polled.push(now); due = Infinity; } }, nextDeadline: () => due };
    const p = new Poller([b], [target], { idleTurns: 2 });
    try {
      p.start();
      await until(() => p.isSleeping);
      expect(p.isSleeping).toBe(true);
      const t0 = performance.now();
      due = t0 + 30;
      p.pollAt(due); // re-arms the sleeping poller's timer (the target's deadline changed)
      await until(() => polled.length === 1);
      expect(polled.length).toBe(1);
      expect(polled[0]).toBeGreaterThanOrEqual(t0 + 30);
      expect(p.counters.timerWakeups).toBeGreaterThanOrEqual(1);

      const wakes = p.counters.timerWakeups;
      p.pollAt(performance.now() + 20);
      await until(() => p.counters.timerWakeups > wakes);
      expect(p.counters.timerWakeups).toBeGreaterThan(wakes);
      const wakes2 = p.counters.timerWakeups;

      // A frame with 25 ms of wire latency: the notifier wakes the poller before the frame is due,
      // it sleeps again with a timer at the due time, and receives it then.
      sendFrame(a, B, performance.now());
      await until(() => got.length === 1);
      expect(got.length).toBe(1);
      expect(p.counters.timerWakeups).toBeGreaterThan(wakes2);

      await until(() => p.isSleeping);
      p.kick();
      expect(p.isSleeping).toBe(false);
      expect(p.counters.kickWakeups).toBe(1);
    } finally {
      p.stop();
      a.close();
      b.close();
    }
  });

  it('calls onTick hooks with now on every turn until removed', async () => {
    let t = 1000;
    const p = new Poller([], [], { idleTurns: 4, clock: () => t++ });
    const seen: number[] = [];
    const off = p.onTick((now) => seen.push(now));
    p.start();
    await sleep(10);
    expect(seen.length).toBe(4);
    expect(seen.every((v, i) => i === 0 || v > seen[i - 1])).toBe(true);
    off();
    p.kick();
    await sleep(10);
    expect(seen.length).toBe(4);
    p.stop();
  });

  it('stop releases everything: no more turns, notifier cleared, idempotent', async () => {
    const { a, b, got } = pair();
    const p = new Poller([b], [], { idleTurns: 2 });
    p.start();
    await until(() => p.isSleeping);
    expect(p.isSleeping).toBe(true);
    p.stop();
    p.stop();
    const turns = p.counters.turns;
    sendFrame(a, B, 0);
    await sleep(10);
    expect(p.counters.turns).toBe(turns);
    expect(got.length).toBe(0);
    expect(p.isRunning).toBe(false);
    a.close();
    b.close();
  });

  it('an idle poller on a sim ring does not keep the process alive; keepAlive does', () => {
    const run = (keepAlive: boolean) => spawnSync(process.execPath, ['-r', path.join(__dirname, '..', 'test', 'net', 'swc-register.cjs'), '-e', `
      const { Poller } = require('./ring/poller.ts');
      const { Ring } = require('./ring/ring.ts');
      const { SimWire } = require('./ring/sim.ts');
      const w = new SimWire();
      const p = new Poller([new Ring(w.attach(0x020000000001))], [{ poll() {}, nextDeadline: () => performance.now() + 60000 }], { idleTurns: 5, keepAlive: ${keepAlive} });
      p.start();
      setTimeout(() => console.log('sleeping', p.isSleeping), 100).unref();
      process.on('exit', () => console.log('exited'));`], { cwd: path.join(__dirname, '..'), encoding: 'utf8', timeout: 3000 });
    const idle = run(false);
    expect(idle.stderr).toBe('');
    expect(idle.status).toBe(0);
    expect(idle.stdout).toContain('exited');
    const kept = run(true);
    expect(kept.signal).toBe('SIGTERM'); // killed by the 3 s timeout: still alive
  });
});
