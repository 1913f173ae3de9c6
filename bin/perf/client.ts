/**
 * The sockperf client modes over tsvma/dgram (or tsvma/net with --tcp): ping-pong, under-load,
 * throughput.
 *
 * No busy loop: tsvma's stack is polled from Node's event loop, so a loop that never yields would
 * starve it. Ping-pong at --mps=max is driven by 'message': each reply records its sample and sends
 * the next request. Paced sending (under-load, throughput, ping-pong with --mps N) runs on
 * setImmediate turns (a turn sends what is due, at most BATCH messages), or on a timer when the
 * next message is more than a couple of milliseconds away.
 *
 * The hot path sends from a small ring of preallocated Buffers, writes the header in place (a ring,
 * not one Buffer: Node's dgram hands the bytes to the kernel only on the next tick, after its
 * address lookup, or later still if libuv queues the send; tsvma's copies at once), keeps times in
 * preallocated Float64Arrays (doubled when full) and allocates no closures; times are
 * performance.now() (a monotonic double in ms with sub-µs resolution).
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { clientMessage, FLAG_CLIENT, FLAG_PONG, FLAG_WARMUP, HEADER_LEN, readFlags, readSeq, writeFlags, writeSeq } from './message';
import { latencyReport, streamReport, type LatencySummary } from './report';
import { openClient, type ClientTransport } from './transport';

export type ClientMode = 'ping-pong' | 'under-load' | 'throughput';

export interface ClientOptions {
  mode: ClientMode;
  ip: string;
  port: number;
  msgSize: number;
  durationSec: number;
  /** Messages per second; 0 = max. */
  mps: number;
  replyEvery: number;
  fullLog: string | null;
  fullRtt: boolean;
  gigaSize: boolean;
  clientIp: string;
  clientPort: number;
  /** sockperf's --tcp. */
  tcp: boolean;
}

/** sockperf's caps for --mps=max, printed in the full log's parameter line (defs.h MPS_MAX_PP / MPS_MAX_UL). */
const MPS_MAX_PP = 600000;
const MPS_MAX_UL = 10000000;
/** Most messages sent in one event-loop turn when pacing (the loop must keep polling the stack). */
const BATCH = 64;
/** A ping-pong request unanswered this long is taken as lost and the next one is sent (sockperf would wait for ever). */
const LOST_MS = 100;
/** Kernel sockets: sends queued inside libuv (the socket buffer was full) before the pacer waits a turn. */
const MAX_QUEUED = 16;
/** Send buffers in rotation: more than one turn's sends plus what libuv may still hold. */
const RING = 128;

export interface ClientResult {
  code: number;
  latency: LatencySummary | null;
  rate: number;
}

export function stackLine(offloaded: boolean, tcp = false): string {
  const dev = process.env.TSVMA_DEVICE;
  const node = tcp ? 'Node net' : 'Node dgram';
  if (offloaded) return `tsvma: socket offloaded to tsvma's user-space stack (TSVMA_DEVICE=${dev}, TSVMA_ADDR=${process.env.TSVMA_ADDR ?? ''})`;
  if (dev) return `tsvma: kernel socket (${node}): TSVMA_DEVICE=${dev} is set but this socket was not offloaded (address not tsvma's, or a libvma.conf rule / VMA_OFFLOADED_SOCKETS says os)`;
  return `tsvma: kernel socket (${node}; TSVMA_DEVICE unset)`;
}

export function addressLine(ip: string, port: number, tcp = false): string {
  return `[ 0] IP = ${ip.padEnd(15)} PORT = ${String(port).padStart(5)} # ${tcp ? 'TCP' : 'UDP'}`;
}

class Client {
  private s!: ClientTransport;
  private readonly bufs: Buffer[] = [];
  private readonly pingPong: boolean;
  private readonly stream: boolean;
  private readonly replyEvery: number;
  private readonly intervalMs: number;
  private tx: Float64Array;
  private rx: Float64Array;
  private seq = 0;
  private received = 0;
  private duplicates = 0;
  private unexpected = 0;
  private sendErrors = 0;
  private firstError = '';
  private awaiting = false;
  private lastTx = 0;
  private start = 0;
  private end = 0;
  private done = false;
  private watchdog: NodeJS.Timeout | null = null;
  private endTimer: NodeJS.Timeout | null = null;
  private finished!: (r: ClientResult) => void;
  private readonly out: (s: string) => void;

  constructor(private readonly o: ClientOptions, out: (s: string) => void) {
    this.out = out;
    this.pingPong = o.mode === 'ping-pong';
    this.stream = o.mode === 'throughput';
    this.replyEvery = o.replyEvery;
    this.intervalMs = o.mps > 0 ? 1000 / o.mps : 0;
    const expected = this.stream ? 2 : Math.min(1 << 22, Math.ceil(((o.mps || 200000) * o.durationSec) / this.replyEvery) + 16);
    this.tx = new Float64Array(expected);
    this.rx = new Float64Array(expected);
    for (let i = 0; i < RING; i++) this.bufs.push(clientMessage(o.msgSize));
    this.onMessage = this.onMessage.bind(this);
    this.pace = this.pace.bind(this);
    this.check = this.check.bind(this);
    this.finish = this.finish.bind(this);
    this.onError = this.onError.bind(this);
  }

  run(): Promise<ClientResult> {
    return new Promise((resolve) => {
      this.finished = resolve;
      const ready = (s: ClientTransport): void => {
        this.s = s;
        this.out(stackLine(s.offloaded, this.o.tcp));
        this.out('Starting test...');
        process.once('SIGINT', this.finish);
        process.once('SIGTERM', this.finish);
        this.start = performance.now();
        this.endTimer = setTimeout(this.finish, this.o.durationSec * 1000);
        if (this.pingPong) this.watchdog = setInterval(this.check, LOST_MS / 4);
        if (this.pingPong && this.intervalMs === 0) this.sendOne();
        else this.pace();
      };
      const o = this.o;
      openClient(o.tcp, o.ip, o.port, o.clientIp, o.clientPort, { ready, message: this.onMessage, error: this.onError });
    });
  }

  private onError(e: Error, beforeReady = false): void {
    if (beforeReady || this.start === 0) {
      // Bind or connect failed: nothing was sent.
      process.stderr.write(`tsvma perf: ${e.message}\n`);
      if (this.s) this.s.close();
      this.finished({ code: 1, latency: null, rate: 0 });
      return;
    }
    if (this.sendErrors++ === 0) this.firstError = e.message;
  }

  private grow(k: number): void {
    let n = this.tx.length * 2;
    while (n <= k) n *= 2;
    const tx = new Float64Array(n);
    const rx = new Float64Array(n);
    tx.set(this.tx);
    rx.set(this.rx);
    this.tx = tx;
    this.rx = rx;
  }

  private sendOne(): void {
    const seq = ++this.seq;
    const b = this.bufs[seq % RING];
    writeSeq(b, seq);
    const pong = !this.stream && seq % this.replyEvery === 0;
    writeFlags(b, pong ? FLAG_CLIENT | FLAG_PONG : FLAG_CLIENT);
    const now = performance.now();
    if (pong) {
      const k = seq / this.replyEvery;
      if (k >= this.tx.length) this.grow(k);
      this.tx[k] = now;
      this.awaiting = true;
    }
    this.lastTx = now;
    this.s.send(b);
  }

  private onMessage(msg: Buffer): void {
    const now = performance.now();
    if (msg.length < HEADER_LEN) return;
    const flags = readFlags(msg);
    if ((flags & (FLAG_CLIENT | FLAG_WARMUP)) !== 0) return;
    const seq = readSeq(msg);
    if (seq === 0 || seq > this.seq || seq % this.replyEvery !== 0) {
      this.unexpected++;
      return;
    }
    if (this.done) return;
    this.received++;
    const k = seq / this.replyEvery;
    if (this.rx[k] !== 0) this.duplicates++;
    else this.rx[k] = now;
    if (seq !== this.seq) return;
    this.awaiting = false;
    if (!this.pingPong) return;
    if (this.intervalMs === 0) this.sendOne();
    else this.pace();
  }

  /** Ping-pong watchdog: a request unanswered for LOST_MS is lost; go on with the next one. */
  private check(): void {
    if (this.done || !this.awaiting) return;
    if (performance.now() - this.lastTx < LOST_MS) return;
    this.awaiting = false;
    if (this.intervalMs === 0) this.sendOne();
    else this.pace();
  }

  /** Sends what is due by now (at most BATCH), then schedules itself again. */
  private pace(): void {
    if (this.done) return;
    if (this.pingPong && this.awaiting) return; // the reply (or the watchdog) calls again
    const now = performance.now();
    let due: number;
    if (this.intervalMs === 0) due = BATCH;
    else {
      due = Math.floor((now - this.start) / this.intervalMs) + 1 - this.seq;
      if (due > BATCH) due = BATCH;
    }
    if (this.pingPong && due > 1) due = 1;
    if (due > 0 && this.s.queued() > MAX_QUEUED) due = 0;
    for (let i = 0; i < due; i++) this.sendOne();
    if (this.pingPong && this.awaiting) return;
    const wait = this.intervalMs === 0 ? 0 : this.start + this.seq * this.intervalMs - performance.now();
    if (wait > 2) setTimeout(this.pace, Math.floor(wait) - 1);
    else setImmediate(this.pace);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.end = performance.now();
    const byTimer = this.end - this.start >= this.o.durationSec * 1000 - 1;
    process.removeListener('SIGINT', this.finish);
    process.removeListener('SIGTERM', this.finish);
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.endTimer) clearTimeout(this.endTimer);
    this.out(byTimer ? 'Test end (interrupted by timer)' : 'Test end (interrupted by user)');
    this.out('Test ended');
    const o = this.o;
    let result: ClientResult;
    if (this.seq === 0) {
      this.out('No messages were sent');
      result = { code: 0, latency: null, rate: 0 };
    } else if (this.stream) {
      const r = streamReport({ sent: this.seq, start: this.start, end: this.end, msgSize: o.msgSize, mps: o.mps, gigaSize: o.gigaSize });
      for (const l of r.lines) this.out(l);
      result = { code: 0, latency: null, rate: r.rate };
    } else {
      const clockBaseSec = Number(process.hrtime.bigint()) / 1e9 - performance.now() / 1000;
      const r = latencyReport({
        replyEvery: this.replyEvery, sent: this.seq, received: this.received, duplicates: this.duplicates,
        tx: this.tx, rx: this.rx, lastTx: this.lastTx, start: this.start, end: this.end, durationSec: o.durationSec,
        mps: o.mps || (this.pingPong ? MPS_MAX_PP : MPS_MAX_UL), msgSize: o.msgSize, fullRtt: o.fullRtt, clockBaseSec,
      });
      for (const l of r.lines) this.out(l);
      if (r.summary) this.out(`tsvma: Message Rate is ${Math.round(r.summary.rate)} [observations/sec] in the valid duration`);
      if (o.fullLog) writeFileSync(o.fullLog, r.fullLog);
      result = { code: 0, latency: r.summary, rate: r.summary?.rate ?? 0 };
    }
    if (this.unexpected) this.out(`tsvma: ${this.unexpected} unexpected replies ignored (sequence number not one this run asked a pong for)`);
    if (this.sendErrors) this.out(`tsvma: ${this.sendErrors} send errors (first: ${this.firstError})`);
    this.s.close();
    this.finished(result);
  }
}

export function runClient(o: ClientOptions, out: (s: string) => void): Promise<ClientResult> {
  process.stdout.write(`sockperf[CLIENT] send on:\n${addressLine(o.ip, o.port, o.tcp)}\n`);
  return new Client(o, out).run();
}
