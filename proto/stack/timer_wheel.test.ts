import fc from 'fast-check';
import { Timer, TimerWheel } from './timer_wheel';

describe('TimerWheel', () => {
  it('fires a timer at its deadline, not before', () => {
    const w = new TimerWheel(0);
    const fired: number[] = [];
    const t = new Timer((now) => fired.push(now));
    w.schedule(t, 10);
    w.advance(9);
    expect(fired).toEqual([]);
    w.advance(10);
    expect(fired).toEqual([10]);
    expect(t.scheduled).toBe(false);
    expect(w.size).toBe(0);
  });

  it('cancels and re-schedules without duplicates', () => {
    const w = new TimerWheel(0);
    let n = 0;
    const t = new Timer(() => n++);
    w.schedule(t, 5);
    w.schedule(t, 7);
    expect(w.size).toBe(1);
    w.advance(6);
    expect(n).toBe(0);
    w.cancel(t);
    w.advance(100);
    expect(n).toBe(0);
  });

  it('handles deadlines beyond one turn of the wheel', () => {
    const w = new TimerWheel(0, 1, 16);
    let at = -1;
    const t = new Timer((now) => (at = now));
    w.schedule(t, 100);
    w.advance(20);
    w.advance(50);
    expect(at).toBe(-1);
    w.advance(99);
    expect(at).toBe(-1);
    w.advance(100);
    expect(at).toBe(100);
  });

  it('reports the next deadline', () => {
    const w = new TimerWheel(0);
    expect(w.nextDeadline()).toBe(Infinity);
    w.schedule(new Timer(() => {}), 30);
    w.schedule(new Timer(() => {}), 12);
    expect(w.nextDeadline()).toBe(12);
  });

  it('a timer may re-schedule itself from its callback', () => {
    const w = new TimerWheel(0, 10, 8);
    const seen: number[] = [];
    const t: Timer = new Timer((now) => {
      seen.push(now);
      if (seen.length < 3) w.schedule(t, now + 25);
    });
    w.schedule(t, 25);
    for (let now = 0; now <= 200; now += 5) w.advance(now);
    expect(seen).toEqual([25, 50, 75]);
  });

  it('property: every timer fires exactly once, at the first advance at or after its deadline', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 80 }),
        fc.constantFrom(1, 10),
        (deadlines, steps, res) => {
          const w = new TimerWheel(0, res, 64);
          const firedAt = new Array<number>(deadlines.length).fill(-1);
          deadlines.forEach((d, i) => {
            w.schedule(new Timer((now) => {
              expect(firedAt[i]).toBe(-1);
              firedAt[i] = now;
            }), d);
          });
          let now = 0;
          const advances: number[] = [];
          for (const s of steps) {
            now += s;
            advances.push(now);
            w.advance(now);
          }
          deadlines.forEach((d, i) => {
            const expected = advances.find((a) => a >= d);
            if (expected === undefined) expect(firedAt[i]).toBe(-1);
            else expect(firedAt[i]).toBe(expected);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
