import { CongestionVars, cubic, newReno } from './congestion';

const MSS = 1000;

describe('NewReno (RFC 5681)', () => {
  it('grows by at most 2·SMSS per ACK in slow start and by one SMSS per window in congestion avoidance', () => {
    const v = new CongestionVars();
    v.cwnd = 10 * MSS;
    newReno.onAck(v, 5 * MSS, MSS, 100, 0);
    expect(v.cwnd).toBe(12 * MSS);
    v.ssthresh = 12 * MSS;
    for (let i = 0; i < 12; i++) newReno.onAck(v, MSS, MSS, 100, 0);
    expect(v.cwnd).toBe(13 * MSS);
  });

  it('halves the flight on loss and drops to one segment on timeout', () => {
    const v = new CongestionVars();
    v.cwnd = 40 * MSS;
    newReno.onLoss(v, 30 * MSS, MSS, 0);
    expect(v.ssthresh).toBe(15 * MSS);
    newReno.onTimeout(v, 3 * MSS, MSS, 0);
    expect(v.ssthresh).toBe(2 * MSS);
    expect(v.cwnd).toBe(MSS);
  });
});

describe('CUBIC (RFC 9438)', () => {
  /** Simulates ACK clocking: every RTT a whole window is acknowledged, in segment-sized ACKs. */
  function run(v: CongestionVars, fromMs: number, toMs: number, rtt: number): number {
    let t = fromMs;
    for (; t < toMs; t += rtt) {
      const segs = Math.floor(v.cwnd / MSS);
      for (let i = 0; i < segs; i++) cubic.onAck(v, MSS, MSS, rtt, t);
    }
    return t;
  }

  it('reduces by β = 0.7 and regrows concavely to W_max at K, then convexly beyond', () => {
    const v = new CongestionVars();
    v.cwnd = 100 * MSS;
    cubic.onLoss(v, 100 * MSS, MSS, 0);
    expect(v.ssthresh).toBe(70 * MSS);
    expect(v.wMax).toBe(100);
    v.cwnd = v.ssthresh;
    // K = cbrt(W_max · (1 − β) / C) = cbrt(75) ≈ 4.22 s.
    const k = Math.cbrt(75) * 1000;
    run(v, 0, k / 2, 100);
    const half = v.cwnd / MSS;
    expect(half).toBeGreaterThan(85); // concave: most of the way back in half the time
    expect(half).toBeLessThan(100);
    run(v, k / 2, k, 100);
    expect(v.cwnd / MSS).toBeGreaterThan(97);
    expect(v.cwnd / MSS).toBeLessThan(103);
    run(v, k, 2 * k, 100);
    expect(v.cwnd / MSS).toBeGreaterThan(120); // convex probing past W_max
  });

  it('fast convergence lowers W_max when a loss comes below the previous W_max', () => {
    const v = new CongestionVars();
    v.cwnd = 100 * MSS;
    cubic.onLoss(v, 0, MSS, 0);
    v.cwnd = 80 * MSS;
    cubic.onLoss(v, 0, MSS, 0);
    expect(v.wMax).toBeCloseTo((80 * 1.7) / 2, 5);
  });

  it('drops to one segment on timeout', () => {
    const v = new CongestionVars();
    v.cwnd = 50 * MSS;
    cubic.onTimeout(v, 0, MSS, 0);
    expect(v.cwnd).toBe(MSS);
    expect(v.ssthresh).toBe(35 * MSS);
  });
});
