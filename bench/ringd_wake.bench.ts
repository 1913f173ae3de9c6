/**
 * Wake-up candidates for the daemon device (docs/ringd.md): how long from a producer publishing a
 * frame in shared memory to a sleeping consumer process running JS for it, and what the signal
 * costs the producer. Two Node processes share a /dev/shm region (ring/daemon/shm.ts); the producer
 * writes process.hrtime (CLOCK_MONOTONIC, the same in both) and bumps a sequence word with
 * Atomics, then signals; the consumer, idle in libuv's epoll between messages, measures the delay.
 *   socket: one NUL byte on a Unix stream socket (ringd's net.Socket.write → the client's
 *           koffi.node.poll on its koffi control fd, drained with recv): what ringd uses.
 *   fifo:   one byte into a named pipe in /dev/shm (fs.writeSync → koffi.node.poll + read).
 *   spin:   no signal; the consumer polls the word with Atomics.load on setImmediate turns (a busy core).
 * Eventfd is not a candidate here: passing one to another process needs SCM_RIGHTS, which node:net
 * cannot send. Messages are GAP_MS apart (default 2 ms: the consumer is asleep each time).
 * Run: node -r ./test/net/swc-register.cjs bench/ringd_wake.bench.ts [samples=2000]
 */
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import koffi from 'koffi';
import { ControlSocket } from '../ring/daemon/control';
import { ShmRegion } from '../ring/daemon/shm';

const GEOMETRY = { slots: 2, slotSize: 128 };
const SEQ_W = 200;
const TS_OFF = 1024;
const GAP_MS = Number(process.env.GAP_MS ?? 2);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const summary = (xs: number[]) => ({ p50: +pct(xs, 50).toFixed(1), p90: +pct(xs, 90).toFixed(1), p99: +pct(xs, 99).toFixed(1), n: xs.length });

function consumer(mode: string, shmPath: string, chan: string, n: number): void {
  const shm = ShmRegion.open(shmPath, GEOMETRY);
  const w = shm.i32;
  const lat: number[] = [];
  let seen = 0;
  const record = (): void => {
    const seq = Atomics.load(w, SEQ_W);
    if (seq === seen) return;
    seen = seq;
    lat.push(Number(process.hrtime.bigint() - BigInt(Math.round(shm.dv.getFloat64(TS_OFF, true)))) / 1000);
    if (lat.length >= n) {
      process.stdout.write(`${JSON.stringify(summary(lat.slice(Math.floor(n / 10))))}\n`);
      process.exit(0);
    }
  };
  const keep: unknown[] = [];
  if (mode === 'socket') {
    const ctl = new ControlSocket(chan);
    keep.push(koffi.node.poll(ctl.fd, { readable: true }, (() => {
      ctl.drain();
      record();
    }) as never));
  } else if (mode === 'fifo') {
    const fd = fs.openSync(chan, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const b = Buffer.alloc(64);
    keep.push(koffi.node.poll(fd, { readable: true }, (() => {
      try {
        while (fs.readSync(fd, b, 0, 64, null) === 64) { /* drain */ }
      } catch {
        // EAGAIN
      }
      record();
    }) as never));
  } else {
    const spin = (): void => {
      record();
      setImmediate(spin);
    };
    setImmediate(spin);
  }
  (globalThis as { keep?: unknown[] }).keep = keep;
  process.stdout.write('ready\n');
}

async function producer(mode: string, n: number): Promise<{ wake: ReturnType<typeof summary>; signal: ReturnType<typeof summary> }> {
  const shmPath = `/dev/shm/tsvma-wakebench.${process.pid}.region-${mode}`;
  const chan = mode === 'fifo' ? `/dev/shm/tsvma-wakebench.${process.pid}.fifo` : `/tmp/tsvma-wakebench.${process.pid}.sock`;
  fs.rmSync(shmPath, { force: true });
  fs.rmSync(chan, { force: true });
  const shm = ShmRegion.create(shmPath, GEOMETRY, 1);
  let server: net.Server | null = null;
  let peer = null as net.Socket | null;
  if (mode === 'socket') {
    server = net.createServer((s) => {
      s.on('error', () => undefined);
      peer = s;
    });
    await new Promise<void>((r) => server!.listen(chan, r));
  } else if (mode === 'fifo') {
    execFileSync('mkfifo', [chan]);
  }
  try {
    const child = spawn(process.execPath, ['-r', `${__dirname}/../test/net/swc-register.cjs`, __filename, 'consumer', mode, shmPath, chan, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 10));
    let fifoFd = -1;
    if (mode === 'fifo') fifoFd = fs.openSync(chan, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    if (mode === 'socket') while (!peer) await new Promise((r) => setTimeout(r, 10));
    const one = Buffer.alloc(1);
    const signal: number[] = [];
    for (let i = 0; i < n + 5 && !out.includes('}'); i++) {
      await new Promise((r) => setTimeout(r, GAP_MS));
      shm.dv.setFloat64(TS_OFF, Number(process.hrtime.bigint()), true);
      Atomics.add(shm.i32, SEQ_W, 1);
      const t0 = process.hrtime.bigint();
      if (mode === 'socket') peer!.write(one);
      else if (mode === 'fifo') {
        try {
          fs.writeSync(fifoFd, one);
        } catch {
          break; // the consumer has its samples and left
        }
      }
      signal.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    if (fifoFd >= 0) fs.closeSync(fifoFd);
    return { wake: JSON.parse(out.slice(out.indexOf('{'))), signal: summary(signal.slice(Math.floor(n / 10))) };
  } finally {
    peer?.destroy();
    server?.close();
    shm.close();
    fs.rmSync(shmPath, { force: true });
    fs.rmSync(chan, { force: true });
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === 'consumer') {
    consumer(process.argv[3], process.argv[4], process.argv[5], Number(process.argv[6]));
    return;
  }
  const n = Number(process.argv[2] ?? 2000);
  for (const mode of (process.env.MODES ?? 'socket,fifo,spin').split(',')) {
    const r = await producer(mode, n);
    process.stdout.write(`${mode.padEnd(7)} wake-up µs p50 ${r.wake.p50} p90 ${r.wake.p90} p99 ${r.wake.p99} (n ${r.wake.n}); producer's signal call µs p50 ${r.signal.p50} p99 ${r.signal.p99}\n`);
  }
}

void main();
