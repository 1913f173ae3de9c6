/**
 * A TcpHost with no stack and no wire, for state-machine tests: a fake clock, a timer wheel, and
 * every segment the engine sends recorded as a plain object. Not used on the data path.
 */
import { formatTcp, TcpRepr } from '../wire/tcp';
import { seq } from '../wire/seq';
import { TimerWheel } from '../stack/timer_wheel';
import type { ByteRing } from './byte_ring';
import type { TcpHost, TcpRoute } from './engine';
import type { TcpSocket } from './socket';

export interface SentSegment {
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  mss: number;
  windowScale: number;
  sackPermitted: boolean;
  sack: number[];
  hasTimestamp: boolean;
  tsVal: number;
  tsEcr: number;
  payload: Buffer;
  at: number;
  text: string;
}

export class FakeHost implements TcpHost {
  readonly timers: TimerWheel;
  now: number;
  readonly sent: SentSegment[] = [];
  readonly localIps = new Set<number>();
  mtu = 1500;
  /** When true, transmit fails (no TX buffer). */
  failTx = false;

  constructor(now = 0, ...local: number[]) {
    this.now = now;
    this.timers = new TimerWheel(now, 1);
    for (const ip of local) this.localIps.add(ip >>> 0);
  }

  isLocal(ip: number): boolean {
    return this.localIps.has(ip >>> 0);
  }

  route(_dst: number): TcpRoute | null {
    const src = this.localIps.values().next().value;
    return src === undefined ? null : { src, mtu: this.mtu, handle: null };
  }

  transmit(_s: TcpSocket | null, r: TcpRepr, src: number, dst: number, data: ByteRing | null, pos: number): boolean {
    if (this.failTx) return false;
    const payload = Buffer.alloc(r.payloadLength);
    if (r.payloadLength > 0 && data) data.copyOut(pos, payload, 0, r.payloadLength);
    this.sent.push(this.record(r, src, dst, payload));
    return true;
  }

  /** Dummy sends (VMA_SND_FLAGS_DUMMY), recorded apart from `sent`. */
  readonly dummies: SentSegment[] = [];

  transmitDummy(_s: TcpSocket, r: TcpRepr, src: number, dst: number, payload: Uint8Array, off: number): boolean {
    if (this.failTx) return false;
    this.dummies.push(this.record(r, src, dst, Buffer.from(payload.subarray(off, off + r.payloadLength))));
    return true;
  }

  /** A segment as the tests see it. */
  private record(r: TcpRepr, src: number, dst: number, payload: Buffer): SentSegment {
    const sack: number[] = [];
    for (let k = 0; k < 2 * r.sackCount; k++) sack.push(r.sackBlocks[k]);
    return {
      src: src >>> 0, dst: dst >>> 0, srcPort: r.srcPort, dstPort: r.dstPort, seq: r.seq, ack: r.ack, flags: r.flags, window: r.window, mss: r.mss,
      windowScale: r.windowScale, sackPermitted: r.sackPermitted, sack, hasTimestamp: r.hasTimestamp, tsVal: r.tsVal, tsEcr: r.tsEcr,
      payload, at: this.now, text: formatTcp(r),
    };
  }

  /** Moves the clock forward, firing due timers. */
  advance(ms: number, step = 1): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now = Math.min(end, this.now + step);
      this.timers.advance(this.now);
    }
  }

  /** Removes and returns what was sent so far. */
  take(): SentSegment[] {
    return this.sent.splice(0);
  }
}

/** A segment to feed the engine, from a partial description. */
export function makeSeg(p: Partial<Omit<TcpRepr, 'sackBlocks'>> & { sack?: number[] }): TcpRepr {
  const r = new TcpRepr();
  r.seq = seq(0);
  r.ack = seq(0);
  r.window = 65535;
  for (const [k, v] of Object.entries(p)) {
    if (k === 'sack') continue;
    (r as unknown as Record<string, unknown>)[k] = v;
  }
  if (p.sack) {
    r.sackCount = p.sack.length / 2;
    for (let i = 0; i < p.sack.length; i++) r.sackBlocks[i] = p.sack[i] >>> 0;
  }
  return r;
}
