/**
 * Test helpers shared by ringd.test.ts and restart.test.ts: child processes speaking JSON lines
 * (`tsvma ringd` from the sources, test/ringd/client.ts) and one-shot control requests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');
export const REGISTER = path.join(ROOT, 'test', 'net', 'swc-register.cjs');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

  kill9(): Promise<void> {
    if (this.exited !== null) return Promise.resolve();
    return new Promise((r) => {
      this.proc.once('exit', () => r());
      this.proc.kill('SIGKILL');
    });
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

/** Spawns `tsvma ringd ARGS` from the sources (not waited for: see `ringdReady`). */
export function spawnRingd(args: string[]): Child {
  const proc = spawn(process.execPath, ['-r', REGISTER, '-e', "require('./bin/main').main(process.argv.slice(1)).then((c) => { process.exitCode = c; }, (e) => { console.error(e.message); process.exitCode = 1; })",
    'ringd', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Child(proc, 'ringd');
}

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
