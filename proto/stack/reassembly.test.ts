import { Reassembler } from './reassembly';
import { TimerWheel } from './timer_wheel';

const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => i & 0xff));

function frags(r: Reassembler, order: number[], size = 1000, ident = 1, now = 0): Buffer | null {
  let out: Buffer | null = null;
  for (const k of order) {
    const off = k * size;
    const len = Math.min(size, data.length - off);
    out = r.add(1, 2, 17, ident, off, off + len < data.length, data, off, len, now) ?? out;
  }
  return out;
}

describe('IPv4 reassembly', () => {
  it('reassembles in order, out of order, and with duplicates', () => {
    for (const order of [[0, 1, 2], [2, 0, 1], [1, 1, 2, 0]]) {
      const r = new Reassembler(new TimerWheel(0));
      const whole = frags(r, order, 1000);
      expect(whole).not.toBeNull();
      expect(Buffer.compare(whole!, data)).toBe(0);
      expect(r.inProgress).toBe(0);
      expect(r.counters.reassembled).toBe(1);
    }
  });

  it('keeps datagrams with different ids apart', () => {
    const r = new Reassembler(new TimerWheel(0));
    expect(frags(r, [0, 1], 1000, 7)).toBeNull();
    expect(frags(r, [0, 1, 2], 1000, 8)).not.toBeNull();
    expect(r.inProgress).toBe(1);
  });

  it('discards a datagram with overlapping fragments or a non-multiple-of-8 middle fragment', () => {
    const r = new Reassembler(new TimerWheel(0));
    r.add(1, 2, 17, 1, 0, true, data, 0, 1000, 0);
    expect(r.add(1, 2, 17, 1, 992, true, data, 992, 1000, 0)).toBeNull();
    expect(r.counters.overlaps).toBe(1);
    expect(r.inProgress).toBe(0);
    expect(r.add(1, 2, 17, 2, 0, true, data, 0, 1001, 0)).toBeNull();
    expect(r.counters.overlaps).toBe(2);
  });

  it('gives up after the timeout, and bounds the datagrams in progress', () => {
    const w = new TimerWheel(0);
    const r = new Reassembler(w, { timeoutMs: 100, maxDatagrams: 3 });
    for (let id = 0; id < 5; id++) r.add(1, 2, 17, id, 0, true, data, 0, 1000, 0);
    expect(r.inProgress).toBe(3);
    expect(r.counters.overflows).toBe(2);
    w.advance(99);
    expect(r.inProgress).toBe(3);
    w.advance(100);
    expect(r.inProgress).toBe(0);
    expect(r.counters.timeouts).toBe(3);
    expect(r.add(1, 2, 17, 9, 65000, false, data, 0, 1000, 0)).toBeNull();
    expect(r.counters.tooBig).toBe(1);
  });
});
