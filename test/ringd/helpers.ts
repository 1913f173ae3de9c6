/**
 * Test helpers shared by ringd.test.ts and restart.test.ts: child processes speaking JSON lines
 * (`tsvma ringd` from the sources, test/ringd/client.ts), one-shot control requests, and the
 * kernel-side python echo servers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Host } from '../helpers/netns';

export const ROOT = path.join(__dirname, '..', '..');
export const REGISTER = path.join(ROOT, 'test', 'net', 'swc-register.cjs');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 10 ms until it holds or `ms` pass; never throws: the assertion after it says what is wrong. */
export async function settle(cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond()) && Date.now() < end) await sleep(10);
}

/** A child speaking JSON lines on stdout. */
export class Child {
  readonly events: Record<string, unknown>[] = [];
  stderr = '';
  exited: number | null = null;
  private buf = '';
  constructor(readonly proc: ChildProcess, readonly name: string) {
    proc.stdout!.on('data', (b: Buffer) => {
      this.buf += b.toString();
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        try {
          this.events.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.events.push({ ev: 'text', text: line });
        }
      }
    });
    proc.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    proc.on('exit', (code, sig) => (this.exited = code ?? (sig ? 128 : 1)));
  }

  send(o: object): void {
    this.proc.stdin!.write(`${JSON.stringify(o)}\n`);
  }

  /** Sends `o` and waits for an event matching `pred` among those that come after it. */
  request(o: object, pred: (e: Record<string, unknown>) => boolean, ms = 10000): Promise<Record<string, unknown>> {
    const from = this.events.length;
    this.send(o);
    return this.waitFor(pred, ms, from);
  }

  async waitFor(pred: (e: Record<string, unknown>) => boolean, ms = 10000, from = 0): Promise<Record<string, unknown>> {
    const end = Date.now() + ms;
    for (;;) {
      for (let i = from; i < this.events.length; i++) if (pred(this.events[i])) return this.events[i];
      if (this.exited !== null) throw new Error(`${this.name} exited (${this.exited}): ${this.stderr.slice(-2000)}`);
      if (Date.now() > end) throw new Error(`${this.name}: timed out; events ${JSON.stringify(this.events.slice(-10))}; stderr ${this.stderr.slice(-2000)}`);
      await sleep(10);
    }
  }

  msgs(from = 0): string[] {
    return this.events.slice(from).filter((e) => e.ev === 'msg').map((e) => String(e.text));
  }

  /** Resolves with the exit code (128 after a signal) once the process has exited. */
  exit(): Promise<number> {
    if (this.exited !== null) return Promise.resolve(this.exited);
    return new Promise((r) => this.proc.once('exit', () => r(this.exited!)));
  }

  kill9(): Promise<number> {
    if (this.exited === null) this.proc.kill('SIGKILL');
    return this.exit();
  }
}

/** One request on a fresh control connection (ringd answers 'stats' before attach). */
export function control(sock: string, msg: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = net.connect(sock);
    let buf = '';
    s.on('connect', () => s.write(`${JSON.stringify(msg)}\n`));
    s.on('data', (b) => {
      buf += b.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        s.destroy();
        resolve(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      }
    });
    s.on('error', reject);
  });
}

/** Spawns `tsvma ARGS` (bin/main) from the sources. */
export function spawnTsvma(args: string[]): ChildProcess {
  return spawn(process.execPath, ['-r', REGISTER, '-e', "require('./bin/main').main(process.argv.slice(1)).then((c) => { process.exitCode = c; }, (e) => { console.error(e.message); process.exitCode = 1; })",
    ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Spawns `tsvma ringd ARGS` from the sources (not waited for: see `ringdReady`). */
export function spawnRingd(args: string[]): Child {
  return new Child(spawnTsvma(['ringd', ...args]), 'ringd');
}

/** The /dev/shm regions ringd `ringdPid` made for its clients. */
export const regionsOf = (ringdPid: number | undefined): string[] => fs.readdirSync('/dev/shm').filter((f) => f.startsWith(`tsvma-ringd.${ringdPid}.`));

/** Resolves with `c` once ringd says it is ready. */
export async function ringdReady(c: Child): Promise<Child> {
  await c.waitFor((e) => e.ev === 'text' && String(e.text).startsWith('tsvma ringd: ready'), 20000);
  return c;
}

/** Spawns test/ringd/client.ts on TSVMA_DEVICE=daemon:SOCK (not waited for: see `clientReady`). */
export function spawnClient(sock: string, name: string, statsDir: string): Child {
  const proc = spawn(process.execPath, ['-r', REGISTER, path.join(__dirname, 'client.ts')], {
    cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TSVMA_DEVICE: `daemon:${sock}`, TSVMA_ADDR: '', VMA_STATS_FILE: '', VMA_STATS_SHMEM_DIR: statsDir },
  });
  return new Child(proc, name);
}

/** Resolves with `c` once the client says it attached. */
export async function clientReady(c: Child): Promise<Child> {
  await c.waitFor((e) => e.ev === 'ready', 20000);
  return c;
}

/** A kernel UDP echo server on ip:port: answers each datagram with "echo " + it. */
export const UDP_ECHO_PY = (ip: string, port: number): string => `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("${ip}", ${port})); print("ready", flush=True)
while True:
    d, a = s.recvfrom(4096); s.sendto(b"echo " + d, a)`;

/** A kernel TCP echo server on ip:port: echoes each connection until its EOF. */
export const TCP_ECHO_PY = (ip: string, port: number): string => `
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${ip}", ${port})); s.listen(16); print("ready", flush=True)
def echo(c):
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()`;

/** Runs python `code` in `host` (added to `list`, for the caller to kill); resolves once it prints its first line. */
export function startPython(host: Host, code: string, list: ChildProcess[]): Promise<void> {
  const p = host.spawn('python3', ['-u', '-c', code]);
  list.push(p);
  return new Promise((resolve, reject) => {
    p.stdout!.once('data', () => resolve());
    p.once('exit', (c) => reject(new Error(`python3 in ${host.ns} exited ${c}`)));
  });
}
