/**
 * Congestion control strategies. Read first: RFC 5681 (slow start, congestion avoidance), RFC 3465
 * (byte counting, L = 2·SMSS), RFC 6582 (NewReno recovery — the engine's part), RFC 9438 (CUBIC).
 *
 * A strategy is stateless; a connection's variables live in its CongestionVars (one object per
 * connection, made when it opens). Windows are in bytes; CUBIC computes in segments and seconds as
 * the RFC does and converts at the edges. The engine calls:
 *   onAck       — new data acknowledged outside loss recovery (grows cwnd)
 *   onLoss      — fast retransmit: sets ssthresh (the engine sets cwnd for recovery)
 *   onTimeout   — retransmission timeout: sets ssthresh and cwnd = 1 SMSS (RFC 5681 §3.1 eq. 4, LW)
 */

export type CongestionName = 'newreno' | 'cubic';

export class CongestionVars {
  cwnd = 0;
  ssthresh = 0x7fffffff;
  /** Bytes acknowledged since cwnd last grew in congestion avoidance (RFC 5681 §3.1, byte counting). */
  acc = 0;
  // CUBIC (RFC 9438 §4): W_max, K, the epoch start, the Reno-friendly estimate, in segments / seconds.
  wMax = 0;
  wLastMax = 0;
  k = 0;
  epochStart = -1;
  wEst = 0;
}

export interface CongestionControl {
  readonly name: CongestionName;
  onAck(v: CongestionVars, acked: number, mss: number, rttMs: number, now: number): void;
  onLoss(v: CongestionVars, flight: number, mss: number, now: number): void;
  onTimeout(v: CongestionVars, flight: number, mss: number, now: number): void;
}

/** RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS). */
const halfFlight = (flight: number, mss: number): number => Math.max(flight >>> 1, 2 * mss);

/** RFC 5681 §3.1 slow start with RFC 3465 byte counting: "cwnd += min (N, L*SMSS)" with L = 2. */
function slowStart(v: CongestionVars, acked: number, mss: number): void {
  v.cwnd += Math.min(acked, 2 * mss);
  if (v.cwnd > v.ssthresh) v.cwnd = v.ssthresh;
}

export const newReno: CongestionControl = {
  name: 'newreno',
  onAck(v, acked, mss) {
    if (v.cwnd < v.ssthresh) {
      slowStart(v, acked, mss);
      return;
    }
    // RFC 5681 §3.1: "cwnd += SMSS*SMSS/cwnd" per ACK, here counted in bytes: one SMSS per cwnd acknowledged.
    v.acc += acked;
    if (v.acc >= v.cwnd) {
      v.acc -= v.cwnd;
      v.cwnd += mss;
    }
  },
  onLoss(v, flight, mss) {
    v.ssthresh = halfFlight(flight, mss);
    v.acc = 0;
  },
  onTimeout(v, flight, mss) {
    v.ssthresh = halfFlight(flight, mss);
    v.cwnd = mss;
    v.acc = 0;
  },
};

/** RFC 9438 §4.6: β_cubic = 0.7; §5: C = 0.4. */
const BETA = 0.7;
const C = 0.4;
/** RFC 9438 §4.3: α_cubic = 3 · (1 − β) / (1 + β). */
const ALPHA = (3 * (1 - BETA)) / (1 + BETA);

function cubicReduce(v: CongestionVars, mss: number): void {
  const segs = v.cwnd / mss;
  // §4.7 fast convergence: "if cwnd < W_max: W_max = cwnd * (1 + β_cubic) / 2".
  v.wMax = segs < v.wLastMax ? (segs * (1 + BETA)) / 2 : segs;
  v.wLastMax = segs;
  v.ssthresh = Math.max(Math.floor(v.cwnd * BETA), 2 * mss);
  v.epochStart = -1;
  v.acc = 0;
}

export const cubic: CongestionControl = {
  name: 'cubic',
  onAck(v, acked, mss, rttMs, now) {
    if (v.cwnd < v.ssthresh) {
      slowStart(v, acked, mss);
      return;
    }
    const segs = v.cwnd / mss;
    if (v.epochStart < 0) {
      // §4.2: a new congestion-avoidance epoch; K from W_max and the current window.
      v.epochStart = now;
      if (segs < v.wMax) v.k = Math.cbrt((v.wMax - segs) / C);
      else {
        v.k = 0;
        v.wMax = segs;
      }
      v.wEst = segs;
    }
    const t = (now - v.epochStart) / 1000;
    const rtt = Math.max(rttMs, 1) / 1000;
    // §4.3 Reno-friendly region: W_est += α · segments_acked / cwnd.
    v.wEst += (ALPHA * (acked / mss)) / segs;
    const wT = C * Math.pow(t - v.k, 3) + v.wMax;
    if (wT < v.wEst) {
      if (v.wEst > segs) v.cwnd = Math.floor(v.wEst * mss);
      return;
    }
    // §4.4/4.5: target = W_cubic(t + RTT), clamped to [cwnd, 1.5 cwnd]; cwnd += (target − cwnd)/cwnd per segment acked.
    let target = C * Math.pow(t + rtt - v.k, 3) + v.wMax;
    if (target < segs) target = segs;
    else if (target > 1.5 * segs) target = 1.5 * segs;
    v.acc += ((target - segs) / segs) * acked;
    if (v.acc >= mss) {
      const n = Math.floor(v.acc / mss);
      v.cwnd += n * mss;
      v.acc -= n * mss;
    }
  },
  onLoss(v, _flight, mss) {
    cubicReduce(v, mss);
  },
  onTimeout(v, _flight, mss) {
    cubicReduce(v, mss);
    v.cwnd = mss;
  },
};

export function congestionControl(name: CongestionName): CongestionControl {
  return name === 'cubic' ? cubic : newReno;
}
