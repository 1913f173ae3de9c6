/**
 * sockperf's client statistics, computed the way sockperf 3.x computes them (client.cpp
 * client_statistics / printPercentiles / stream_statistics there) and printed in its format, so
 * scripts that parse sockperf output parse ours. Pure: arrays and times in, lines out.
 *
 * Latency: only messages that asked for a pong are observed (every `replyEvery`-th sequence
 * number). The valid window starts 400 ms after the first of them was sent and ends 50 ms before
 * the last message was sent (sockperf's TEST_START_WARMUP_MSEC / TEST_END_COOLDOWN_MSEC); inside it a
 * pong request without a reply is a dropped message, a reply that arrived before the previous
 * observation's is out of order (and not observed), and each observation is RTT/2 (RTT with
 * --full-rtt). Percentile p is the sorted sample at index round(p·N) − 1.
 */

export const WARMUP_MSEC = 400;
export const COOLDOWN_MSEC = 50;
/** The IPv4 payload of a 1500-byte MTU frame less the UDP header (sockperf's DEFAULT_IP_PAYLOAD_SZ). */
const IP_PAYLOAD = 1472;
/** z for the two-sided 99% confidence interval sockperf prints by default (--ci_sig_level 99). */
const Z99 = 2.5758293035489;
const PERCENTILES = [0.99999, 0.9999, 0.999, 0.99, 0.9, 0.75, 0.5, 0.25];

export interface LatencyRun {
  /** Every replyEvery-th message asked for a pong (1 in ping-pong). */
  replyEvery: number;
  /** Messages sent (the last sequence number used). */
  sent: number;
  /** Server replies received (duplicates included, as sockperf counts them). */
  received: number;
  duplicates: number;
  /** Send and receive times (ms, one monotonic clock) of pong request k (sequence k·replyEvery) at index k; 0 = none. */
  tx: Float64Array;
  rx: Float64Array;
  /** Send time of the last message (ms). */
  lastTx: number;
  /** Start and end of the whole run (ms). */
  start: number;
  end: number;
  durationSec: number;
  mps: number;
  msgSize: number;
  fullRtt: boolean;
  /** Adds `clock + ms/1000` to printed absolute times in the full log (seconds of CLOCK_MONOTONIC). */
  clockBaseSec: number;
}

export interface LatencySummary {
  observations: number;
  avg: number;
  stdDev: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
  dropped: number;
  outOfOrder: number;
  /** Observations per second of the valid window (round trips/s in ping-pong). */
  rate: number;
}

export interface LatencyReport {
  /** Lines printed to stdout, without the "sockperf: " prefix. */
  lines: string[];
  /** The --full-log file's text (parameters, statistics, then one CSV line per observation). */
  fullLog: string;
  summary: LatencySummary | null;
}

const f3 = (x: number): string => x.toFixed(3);
const w83 = (x: number): string => x.toFixed(3).padStart(8);

/** Statistics as sockperf's client prints them after a ping-pong or under-load run. */
export function latencyReport(r: LatencyRun): LatencyReport {
  const lines: string[] = [];
  const file: string[] = [];
  const both = (s: string): void => {
    lines.push(s);
    file.push(`sockperf: ${s}`);
  };
  const what = r.fullRtt ? 'rtt' : 'latency';
  file.push('------------------------------');
  file.push(`test was performed using the following parameters: --mps=${r.mps} --burst=1 --reply-every=${r.replyEvery} --msg-size=${r.msgSize} --time=${r.durationSec}${r.fullRtt ? ' --full-rtt' : ''}`);
  file.push('------------------------------');
  const done = (summary: LatencySummary | null): LatencyReport => ({ lines, fullLog: file.join('\n') + '\n', summary });
  if (r.received === 0) {
    both('No messages were received from the server. Is the server down?');
    return done(null);
  }
  both(`[Total Run] RunTime=${f3((r.end - r.start) / 1000)} sec; Warm up time=${WARMUP_MSEC} msec; SentMessages=${r.sent}; ReceivedMessages=${r.received}`);
  both('========= Printing statistics for Server No: 0');
  const testStart = r.tx[1] + WARMUP_MSEC;
  const testEnd = r.lastTx - COOLDOWN_MSEC;
  if (r.tx[1] === 0 || testEnd < testStart) {
    both('Test end before test start. Ending statistics early');
    return done(null);
  }
  const last = Math.min(r.tx.length - 1, Math.floor(r.sent / r.replyEvery));
  const lat = new Float64Array(last + 1);
  const obsTx: number[] = [];
  const obsRx: number[] = [];
  const div = r.fullRtt ? 1 : 2;
  let n = 0;
  let sumRtt = 0;
  let prevRx = 0;
  let startSeq = 0;
  let endSeq = 0;
  let startTime = 0;
  let endTime = 0;
  let dropped = 0;
  let ooo = 0;
  for (let k = 1; k <= last; k++) {
    const tx = r.tx[k];
    const rx = r.rx[k];
    if (tx > testEnd || tx === 0) break;
    if (tx < testStart) continue;
    const seq = k * r.replyEvery;
    if (startSeq === 0) {
      startSeq = seq;
      startTime = tx;
    }
    if (rx === 0) {
      dropped++;
      if (endTime < tx) {
        endSeq = seq;
        endTime = tx;
      }
      continue;
    }
    if (rx < prevRx) {
      ooo++;
      continue;
    }
    endSeq = seq;
    endTime = rx;
    sumRtt += rx - tx;
    lat[n++] = ((rx - tx) * 1000) / div;
    obsTx.push(tx);
    obsRx.push(rx);
    prevRx = rx;
  }
  if (n === 0) {
    both('No valid observations found. Try tune parameters: --time/--number-of-packets/--mps/--reply-every');
    return done(null);
  }
  const validSec = (endTime - startTime) / 1000;
  both(`[Valid Duration] RunTime=${f3(validSec)} sec; SentMessages=${endSeq - startSeq + 1}; ReceivedMessages=${n}`);
  const sorted = lat.subarray(0, n).sort();
  const avg = ((sumRtt / n) * 1000) / div;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    sum += sorted[i];
    sumSq += sorted[i] * sorted[i];
  }
  const mean = sum / n;
  const stdDev = n > 1 ? Math.sqrt(Math.max(0, (sumSq - n * mean * mean) / (n - 1))) : 0;
  let absDev = 0;
  for (let i = 0; i < n; i++) absDev += Math.abs(sorted[i] - mean);
  const meanAd = n > 1 ? absDev / n : 0;
  const median = n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const dev = new Float64Array(n);
  for (let i = 0; i < n; i++) dev[i] = Math.abs(sorted[i] - median);
  dev.sort();
  // Scaled to estimate the standard deviation of a normal distribution (1 / Φ⁻¹(3/4)).
  const medianAd = n > 1 ? (n % 2 === 1 ? dev[(n - 1) / 2] : (dev[n / 2 - 1] + dev[n / 2]) / 2) * 1.48260221851 : 0;
  const at = (p: number): number => sorted[Math.max(0, Math.floor(0.5 + p * n) - 1)];
  const siqr = n > 1 ? (at(0.75) - at(0.25)) / 2 : 0;
  const stdErr = stdDev / Math.sqrt(n);
  both(`====> avg-${what}=${f3(avg)} (std-dev=${f3(stdDev)}, mean-ad=${f3(meanAd)}, median-ad=${f3(medianAd)}, siqr=${f3(siqr)}, cv=${f3(avg ? stdDev / avg : 0)}, std-error=${f3(stdErr)}, 99.0% ci=[${f3(avg - Z99 * stdErr)}, ${f3(avg + Z99 * stdErr)}])`);
  both(`# dropped messages = ${dropped}; # duplicated messages = ${r.duplicates}; # out-of-order messages = ${ooo}`);
  lines.push(`Summary: ${r.fullRtt ? 'Round trip' : 'Latency'} is ${f3(avg)} usec`);
  both(`Total ${n} observations; each percentile contains ${(n / 100).toFixed(2)} observations`);
  both(`---> <MAX> observation = ${w83(sorted[n - 1])}`);
  for (const p of PERCENTILES) {
    const i = Math.floor(0.5 + p * n) - 1;
    if (i >= 0) both(`---> percentile ${(100 * p).toFixed(3).padStart(6)} = ${w83(sorted[i])}`);
  }
  both(`---> <MIN> observation = ${w83(sorted[0])}`);
  file.push('------------------------------');
  file.push(`packet, txTime(sec), rxTime(sec), ${what}(usec)`);
  for (let i = 0; i < n; i++) {
    const tx = r.clockBaseSec + obsTx[i] / 1000;
    const rx = r.clockBaseSec + obsRx[i] / 1000;
    file.push(`${i}, ${tx.toFixed(9)}, ${rx.toFixed(9)}, ${f3(((obsRx[i] - obsTx[i]) * 1000) / div)}`);
  }
  file.push('------------------------------');
  const summary: LatencySummary = {
    observations: n, avg, stdDev, p50: at(0.5), p99: at(0.99), min: sorted[0], max: sorted[n - 1], dropped, outOfOrder: ooo,
    rate: validSec > 0 ? n / validSec : 0,
  };
  return done(summary);
}

export interface StreamRun {
  sent: number;
  start: number;
  end: number;
  msgSize: number;
  /** Messages per second asked for; 0 = max. */
  mps: number;
  gigaSize: boolean;
}

/** What sockperf's throughput client prints: messages sent, message rate, bandwidth (payload bytes, MB = 2^20). */
export function streamReport(r: StreamRun): { lines: string[]; rate: number; mbps: number } {
  const secs = (r.end - r.start) / 1000;
  const lines: string[] = [];
  if (r.sent === 0 || secs <= 0) return { lines: ['No messages were sent'], rate: 0, mbps: 0 };
  lines.push(`Total of ${r.sent} messages sent in ${f3(secs)} sec`, '');
  if (r.mps !== 0) {
    lines.push(`NOTE: test was performed, using msg-size=${r.msgSize}, mps=${r.mps}. For getting maximum throughput use --mps=max (and consider --msg-size=1472 or --msg-size=4096)`);
  } else if (r.msgSize !== IP_PAYLOAD) {
    lines.push(`NOTE: test was performed, using msg-size=${r.msgSize}. For getting maximum throughput consider using --msg-size=1472`);
  }
  const frags = Math.ceil(r.msgSize / IP_PAYLOAD);
  const rate = Math.floor(0.5 + r.sent / secs);
  const MBps = (rate * r.msgSize) / 1024 / 1024;
  if (frags === 1) lines.push(`Summary: Message Rate is ${rate} [msg/sec]`);
  else lines.push(`Summary: Message Rate is ${rate} [msg/sec], Packet Rate is about ${rate * frags} [pkt/sec] (${frags} ip frags / msg)`);
  if (r.gigaSize) lines.push(`Summary: BandWidth is ${f3(MBps / 1000)} GBps (${f3((MBps * 8) / 1000)} Gbps)`);
  else lines.push(`Summary: BandWidth is ${f3(MBps)} MBps (${f3(MBps * 8)} Mbps)`);
  return { lines, rate, mbps: MBps * 8 };
}
