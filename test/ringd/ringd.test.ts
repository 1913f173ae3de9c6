/**
 * tsvma ringd and the daemon device.
 *
 * Without root: the daemon device's errors when ringd is not there.
 * As root: a veth pair in namespaces (test/helpers/netns.ts); ringd runs as a child process on the
 * packet device inside namespace a, two (then three) client processes run test/ringd/client.ts with
 * TSVMA_DEVICE=daemon:SOCKET, and the Linux kernel in namespace b is the peer (a python UDP echo
 * server). Every child, socket file and /dev/shm region is removed in afterAll, also on failure.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { resolveConfig } from '../../conf';
import { Engine } from '../../lib/engine';
import { DaemonDevice, RingdUnavailableError } from '../../ring/daemon/daemon_device';
import { createLink, netnsUnavailable, type Link } from '../helpers/netns';

const ROOT = path.join(__dirname, '..', '..');
const REGISTER = path.join(ROOT, 'test', 'net', 'swc-register.cjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('daemon device without ringd', () => {
  const sock = `/tmp/tsvma-ringd-missing-${process.pid}.sock`;

  it('says ringd is not running, what is missing and how to start it', () => {
    expect(() => new DaemonDevice({ socketPath: sock })).toThrow(RingdUnavailableError);
    expect(() => new DaemonDevice({ socketPath: sock })).toThrow(/tsvma ringd is not running: no control socket at \/tmp\/tsvma-ringd-missing-\d+\.sock; start it with `tsvma ringd --TSVMA_DEVICE=packet:IFNAME/);
  });

  it('Engine.open(TSVMA_DEVICE=daemon:PATH) throws the same error', () => {
    const cfg = resolveConfig({ TSVMA_DEVICE: `daemon:${sock}` });
    expect(() => Engine.open(cfg)).toThrow(/tsvma ringd is not running/);
  });

  it('a socket file nobody listens on is named a stale socket', () => {
    const p = `/tmp/tsvma-ringd-stale-${process.pid}.sock`;
    // A bound, never listening Unix socket whose process is gone: what a killed ringd leaves.
    execFileSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind("${p}")`]);
    try {
      expect(() => new DaemonDevice({ socketPath: p })).toThrow(/tsvma ringd is not running: \/tmp\/tsvma-ringd-stale-\d+\.sock exists but nobody listens on it/);
    } finally {
      fs.rmSync(p, { force: true });
    }
  });
});

/** A child speaking JSON lines on stdout. */
class Child {
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
}

/** One request on a fresh control connection (ringd answers 'stats' before attach). */
function control(sock: string, msg: object): Promise<Record<string, unknown>> {
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

/** Starts `tsvma ringd` (from the sources) as a child process; resolves once it is ready. */
async function startRingd(args: string[]): Promise<Child> {
  const proc = spawn(process.execPath, ['-r', REGISTER, '-e', "require('./bin/main').main(process.argv.slice(1)).then((c) => { process.exitCode = c; }, (e) => { console.error(e.message); process.exitCode = 1; })",
    'ringd', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const c = new Child(proc, 'ringd');
  await c.waitFor((e) => e.ev === 'text' && String(e.text).startsWith('tsvma ringd: ready'), 20000);
  return c;
}

/** Starts test/ringd/client.ts on TSVMA_DEVICE=daemon:SOCK; resolves once attached. */
async function startClientOf(sock: string, name: string, list: Child[]): Promise<Child> {
  const proc = spawn(process.execPath, ['-r', REGISTER, path.join(__dirname, 'client.ts')], {
    cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TSVMA_DEVICE: `daemon:${sock}`, TSVMA_ADDR: '', VMA_STATS_FILE: '' },
  });
  const c = new Child(proc, name);
  list.push(c);
  await c.waitFor((e) => e.ev === 'ready', 20000);
  return c;
}

const regionsOf = (ringdPid: number | undefined): string[] => fs.readdirSync('/dev/shm').filter((f) => f.startsWith(`tsvma-ringd.${ringdPid}.`));

describe('tsvma ringd on the sim device (no root needed): ports, faults, cleanup', () => {
  const sock = `/tmp/tsvma-ringd-sim-${process.pid}.sock`;
  let ringd: Child;
  const children: Child[] = [];

  beforeAll(async () => {
    ringd = await startRingd(['--TSVMA_DEVICE=sim', '--socket', sock]);
  }, 30000);

  afterAll(async () => {
    for (const c of children) c.proc.kill('SIGKILL');
    if (ringd && ringd.exited === null) {
      ringd.proc.kill('SIGKILL');
      await new Promise((r) => ringd.proc.once('exit', r));
    }
    if (ringd) for (const f of regionsOf(ringd.proc.pid)) fs.rmSync(`/dev/shm/${f}`, { force: true });
    fs.rmSync(sock, { force: true });
  });

  it('a port one client holds is EADDRINUSE for another until the holder is killed -9; garbage in a region is counted; SIGTERM cleans up', async () => {
    const [a, b] = await Promise.all([startClientOf(sock, 'sim client A', children), startClientOf(sock, 'sim client B', children)]);
    expect(regionsOf(ringd.proc.pid)).toHaveLength(2);
    a.send({ cmd: 'bind', port: 7001 });
    await expect(a.waitFor((e) => e.ev === 'bound' || e.ev === 'error')).resolves.toMatchObject({ ev: 'bound', port: 7001 });
    b.send({ cmd: 'bind', port: 7001 });
    await expect(b.waitFor((e) => e.ev === 'bound' || e.ev === 'error')).resolves.toMatchObject({ ev: 'error', op: 'bind', code: 'EADDRINUSE' });
    const fb = b.events.length;
    b.send({ cmd: 'bind', port: 0 });
    const eph = await b.waitFor((e) => e.ev === 'bound' || e.ev === 'error', 10000, fb);
    expect(eph.ev).toBe('bound');
    let st = await control(sock, { op: 'stats' });
    const clients = st.clients as { id: number; pid: number; ports: string[] }[];
    expect(Object.fromEntries(clients.map((c) => [c.pid, c.ports]))).toEqual({ [a.proc.pid!]: ['udp/7001'], [b.proc.pid!]: [`udp/${String(eph.port)}`] });

    // Random bytes over A's region (indices, descriptors, frames), many times: ringd counts and goes on.
    const region = `/dev/shm/tsvma-ringd.${ringd.proc.pid}.${clients.find((c) => c.pid === a.proc.pid)!.id}`;
    a.proc.kill('SIGSTOP');
    const fd = fs.openSync(region, 'r+');
    try {
      for (let round = 0; round < 30; round++) {
        fs.writeSync(fd, randomBytes(4096 + 8192), 0, 4096 + 8192, 0);
        await sleep(5);
      }
    } finally {
      fs.closeSync(fd);
    }
    // ringd reads a region when it polls: B's traffic (an ARP request on the sim wire) wakes it.
    b.send({ cmd: 'send', host: '198.18.0.1', port: 9, text: 'wake ringd' });
    await sleep(100);
    st = await control(sock, { op: 'stats' });
    const k = st.counters as Record<string, number>;
    expect(ringd.exited).toBeNull();
    expect(k.txBadIndex + k.txBadLength + k.txPortTheft).toBeGreaterThan(0);

    a.proc.kill('SIGKILL');
    for (let i = 0; i < 200 && regionsOf(ringd.proc.pid).length !== 1; i++) await sleep(10);
    expect(regionsOf(ringd.proc.pid)).toHaveLength(1);
    const fb2 = b.events.length;
    b.send({ cmd: 'bind', port: 7001 });
    await expect(b.waitFor((e) => e.ev === 'bound' || e.ev === 'error', 10000, fb2)).resolves.toMatchObject({ ev: 'bound', port: 7001 });

    ringd.proc.kill('SIGTERM');
    await new Promise((r) => (ringd.exited !== null ? r(null) : ringd.proc.once('exit', r)));
    expect(ringd.exited).toBe(0);
    expect(fs.existsSync(sock)).toBe(false);
    expect(regionsOf(ringd.proc.pid)).toEqual([]);
  });
});

const why = netnsUnavailable();
const describeRoot = why ? describe.skip : describe;
if (why) {
  // Say why once, so a skipped suite is not mistaken for a passing one.
  console.log(`test/ringd: root parts skipped: ${why}`);
}

describeRoot('tsvma ringd on the packet device, clients in other processes, the kernel as the peer', () => {
  let link: Link;
  const sock = `/tmp/tsvma-ringd-test-${process.pid}.sock`;
  let ringd: Child;
  const children: Child[] = [];
  let echo: ChildProcess;
  let a: Child;
  let b: Child;
  const ECHO_PORT = 9400;
  const TCP_ECHO_PORT = 9500;
  let tcpEcho: ChildProcess;
  let aTcpPort = 0;

  const startClient = (name: string): Promise<Child> => startClientOf(sock, name, children);
  const shmFiles = (): string[] => regionsOf(ringd.proc.pid);

  beforeAll(async () => {
    link = await createLink({ tag: 'ringd', assignIpA: false });
    // The kernel peer: a UDP echo server.
    echo = link.b.spawn('python3', ['-u', '-c', `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("${link.b.ip}", ${ECHO_PORT})); print("ready", flush=True)
while True:
    d, a = s.recvfrom(4096); s.sendto(b"echo " + d, a)`]);
    await new Promise<void>((resolve, reject) => {
      echo.stdout!.once('data', () => resolve());
      echo.once('exit', (c) => reject(new Error(`echo server exited ${c}`)));
    });
    tcpEcho = link.b.spawn('python3', ['-u', '-c', `
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("${link.b.ip}", ${TCP_ECHO_PORT})); s.listen(16); print("ready", flush=True)
def echo(c):
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()`]);
    await new Promise<void>((resolve, reject) => {
      tcpEcho.stdout!.once('data', () => resolve());
      tcpEcho.once('exit', (c) => reject(new Error(`TCP echo server exited ${c}`)));
    });
    ringd = await startRingd([`--TSVMA_DEVICE=packet:${link.a.ifname}`, `--TSVMA_ADDR=${link.a.ip}/24`, '--netns', link.a.ns, '--socket', sock, '--TSVMA_LOG=info', '--allow-uid', '65532', '--allow-gid', '65533']);
    [a, b] = await Promise.all([startClient('client A'), startClient('client B')]);
  }, 60000);

  afterAll(async () => {
    for (const c of children) c.proc.kill('SIGKILL');
    echo?.kill('SIGKILL');
    tcpEcho?.kill('SIGKILL');
    if (ringd && ringd.exited === null) {
      ringd.proc.kill('SIGKILL');
      await new Promise((r) => ringd.proc.once('exit', r));
    }
    if (ringd?.proc.pid) for (const f of shmFiles()) fs.rmSync(`/dev/shm/${f}`, { force: true });
    fs.rmSync(sock, { force: true });
    await link?.destroy();
  });

  it('two clients exchange UDP with the kernel, each sees only its own port', async () => {
    a.send({ cmd: 'bind', port: 9301 });
    b.send({ cmd: 'bind', port: 9302 });
    await a.waitFor((e) => e.ev === 'bound');
    await b.waitFor((e) => e.ev === 'bound');
    // ARP first: the stack queues 16 datagrams per unresolved neighbour (as Linux queues a few), and B's stack learns from A's reply too.
    a.send({ cmd: 'send', host: link.b.ip, port: ECHO_PORT, text: 'warm-up' });
    await a.waitFor((e) => e.ev === 'msg' && e.text === 'echo warm-up');
    a.events.length = 0;
    a.send({ cmd: 'send', host: link.b.ip, port: ECHO_PORT, text: 'from A', count: 20 });
    b.send({ cmd: 'send', host: link.b.ip, port: ECHO_PORT, text: 'from B', count: 20 });
    const want = (who: string) => Array.from({ length: 20 }, (_, i) => `echo from ${who} ${i}`);
    for (let i = 0; i < 500 && (a.msgs().length < 20 || b.msgs().length < 20); i++) await sleep(10);
    // UDP over a quiet veth: none lost; order kept.
    expect(a.msgs()).toEqual(want('A'));
    expect(b.msgs()).toEqual(want('B'));
    expect(a.events.find((e) => e.ev === 'msg')!.from).toBe(`${link.b.ip}:${ECHO_PORT}`);
  });

  it('the kernel reaches a client port directly; ringd answers ping once, and closed ports as the kernel would', async () => {
    const from = a.events.length;
    const r = await link.b.exec('python3', ['-c', `
import socket
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(5): c.sendto(b"kernel %d" % i, ("${link.a.ip}", 9301))`]);
    expect(r.code).toBe(0);
    for (let i = 0; i < 300 && a.msgs(from).length < 5; i++) await sleep(10);
    expect(a.msgs(from)).toEqual(['kernel 0', 'kernel 1', 'kernel 2', 'kernel 3', 'kernel 4']);
    const ping = await link.b.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', link.a.ip]);
    expect(ping.stdout).toMatch(/3 packets transmitted, 3 received/);
    expect(ping.stdout).not.toMatch(/DUP!/);
    // A port no client holds answers as the kernel's would: ICMP port unreachable, RST.
    const closed = await link.b.exec('python3', ['-c', `
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2); u.connect(("${link.a.ip}", 9999)); u.send(b"x")
try: u.recv(100); print("udp answered")
except ConnectionRefusedError: print("udp refused")
try: socket.create_connection(("${link.a.ip}", 9999), timeout=2); print("tcp connected")
except ConnectionRefusedError: print("tcp refused")`]);
    expect(closed.stdout.trim().split('\n')).toEqual(['udp refused', 'tcp refused']);
  });

  it("multicast: a client's group join opens ringd's device filter; the group's datagrams reach the port's owner", async () => {
    const GROUP = '239.18.0.7';
    const from = b.events.length;
    b.send({ cmd: 'join', group: GROUP });
    await b.waitFor((e) => e.ev === 'joined', 5000, from);
    await sleep(50);
    const r = await link.b.exec('python3', ['-c', `
import socket
t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("${link.b.ip}"))
for i in range(3): t.sendto(b"group %d" % i, ("${GROUP}", 9302))`]);
    expect(r.code).toBe(0);
    for (let i = 0; i < 300 && b.msgs(from).length < 3; i++) await sleep(10);
    expect(b.msgs(from)).toEqual(['group 0', 'group 1', 'group 2']);
  });

  it("a bind of a port another client holds is EADDRINUSE; the holder's traffic goes on", async () => {
    const from = b.events.length;
    b.send({ cmd: 'bind', port: 9301 });
    const e = await b.waitFor((x) => x.ev === 'error' || x.ev === 'bound', 10000, from);
    expect(e).toMatchObject({ ev: 'error', op: 'bind', code: 'EADDRINUSE' });
    const fa = a.events.length;
    a.send({ cmd: 'send', host: link.b.ip, port: ECHO_PORT, text: 'still A', count: 3 });
    await a.waitFor((x) => x.ev === 'msg' && x.text === 'echo still A 2', 5000, fa);
  });

  it('TCP: both clients stream to the kernel at once (ephemeral ports never collide); a listener port is EADDRINUSE for the other; the kernel connects to a client', async () => {
    const fa = a.events.length;
    const fb = b.events.length;
    a.send({ cmd: 'tcp-echo', host: link.b.ip, port: TCP_ECHO_PORT, bytes: 1 << 20 });
    b.send({ cmd: 'tcp-echo', host: link.b.ip, port: TCP_ECHO_PORT, bytes: 1 << 20 });
    const da = await a.waitFor((e) => e.ev === 'tcp-done' || e.ev === 'error', 20000, fa);
    const db = await b.waitFor((e) => e.ev === 'tcp-done' || e.ev === 'error', 20000, fb);
    expect(da).toMatchObject({ ev: 'tcp-done', ok: true, bytes: 1 << 20 });
    expect(db).toMatchObject({ ev: 'tcp-done', ok: true, bytes: 1 << 20 });
    expect(da.local).not.toBe(db.local);
    aTcpPort = Number(da.local);
    a.send({ cmd: 'tcp-listen', port: 9600 });
    await a.waitFor((e) => e.ev === 'tcp-listening', 10000, fa);
    b.send({ cmd: 'tcp-listen', port: 9600 });
    await expect(b.waitFor((e) => e.ev === 'tcp-listening' || (e.ev === 'error' && e.op === 'listen'), 10000, fb)).resolves.toMatchObject({ ev: 'error', code: 'EADDRINUSE' });
    const r = await link.b.exec('python3', ['-c', `
import socket, hashlib
c = socket.create_connection(("${link.a.ip}", 9600), timeout=5)
data = bytes(range(256)) * 1024
c.sendall(data); c.shutdown(socket.SHUT_WR)
got = b""
while True:
    d = c.recv(65536)
    if not d: break
    got += d
print(len(got), hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest())`]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('262144 True');
  });

  it("kill -9 of a client: ringd frees its port and region, the other client binds it and its traffic goes on", async () => {
    const before = shmFiles();
    expect(before).toHaveLength(2);
    a.proc.kill('SIGKILL');
    await new Promise((r) => a.proc.once('exit', r));
    // Freed as soon as ringd sees the control socket close.
    for (let i = 0; i < 200 && shmFiles().length !== 1; i++) await sleep(10);
    expect(shmFiles()).toHaveLength(1);
    const from = b.events.length;
    b.send({ cmd: 'bind', port: 9301 });
    await expect(b.waitFor((x) => x.ev === 'error' || x.ev === 'bound', 10000, from)).resolves.toMatchObject({ ev: 'bound', port: 9301 });
    b.send({ cmd: 'send', host: link.b.ip, port: ECHO_PORT, text: 'B on 9301', count: 10 });
    for (let i = 0; i < 300 && b.msgs(from).length < 10; i++) await sleep(10);
    expect(b.msgs(from)).toEqual(Array.from({ length: 10 }, (_, i) => `echo B on 9301 ${i}`));
    const st = await control(sock, { op: 'stats' });
    expect(st).toMatchObject({ ok: true, counters: { clientsDetached: 1 } });
    // Only B is left; A's UDP port is B's now, A's TCP listener and connection ports are free (B's own closed connection may still hold its port in TIME-WAIT).
    const left = st.clients as { pid: number; ports: string[] }[];
    expect(left.map((c) => c.pid)).toEqual([b.proc.pid]);
    expect(left[0].ports).toContain('udp/9301');
    expect(left[0].ports).not.toContain('tcp/9600');
    expect(left[0].ports).not.toContain(`tcp/${aTcpPort}`);
  });

  it("a client that stops reading, then random bytes over its shared region: ringd drops for it, does not crash, the other client goes on", async () => {
    const c = await startClient('client C');
    c.send({ cmd: 'bind', port: 9303 });
    await c.waitFor((e) => e.ev === 'bound');
    const files = shmFiles();
    expect(files).toHaveLength(2);
    const mine = files.map((f) => `/dev/shm/${f}`);
    // C's region is the newer one (the higher client id).
    const region = mine.sort((x, y) => Number(x.split('.').pop()) - Number(y.split('.').pop()))[1];
    c.proc.kill('SIGSTOP');
    // A client that stops reading: its ring fills, ringd drops (counted for it) and goes on.
    const flood = await link.b.exec('python3', ['-c', `
import socket
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3000): c.sendto(b"flood %d" % i, ("${link.a.ip}", 9303))`]);
    expect(flood.code).toBe(0);
    await sleep(100);
    const flooded = (await control(sock, { op: 'stats' })).counters as Record<string, number>;
    expect(flooded.rxClientFull).toBeGreaterThan(0);
    const fd = fs.openSync(region, 'r+');
    const size = fs.fstatSync(fd).size;
    try {
      for (let round = 0; round < 20; round++) {
        // The header (indices, sleeping words), the descriptors and some frame bytes.
        fs.writeSync(fd, randomBytes(4096 + 2 * 1024 * 4), 0, 4096 + 2 * 1024 * 4, 0);
        fs.writeSync(fd, randomBytes(65536), 0, 65536, Math.floor(Math.random() * (size - 65536)));
        await sleep(10);
      }
    } finally {
      fs.closeSync(fd);
    }
    const from = b.events.length;
    b.send({ cmd: 'send', host: link.b.ip, port: ECHO_PORT, text: 'B after garbage', count: 10 });
    for (let i = 0; i < 300 && b.msgs(from).length < 10; i++) await sleep(10);
    expect(b.msgs(from)).toEqual(Array.from({ length: 10 }, (_, i) => `echo B after garbage ${i}`));
    expect(ringd.exited).toBeNull();
    const st = await control(sock, { op: 'stats' });
    const k = st.counters as Record<string, number>;
    expect(k.txBadIndex + k.txBadLength + k.txPortTheft + k.rxBadTail).toBeGreaterThan(0);
    c.proc.kill('SIGKILL');
    for (let i = 0; i < 200 && shmFiles().length !== 1; i++) await sleep(10);
    expect(shmFiles()).toHaveLength(1);
  });

  it('SO_PEERCRED: a uid ringd does not allow is refused with a clear error; --allow-gid admits one, which reaches the socket through its group and owns its region', async () => {
    expect(fs.statSync(sock).gid).toBe(65533); // --allow-gid: the socket's group, mode 0660
    expect(fs.statSync(sock).mode & 0o777).toBe(0o660);
    const asUid = (uid: number, name: string): Child => {
      const proc = spawn(process.execPath, ['-r', REGISTER, path.join(__dirname, 'client.ts')], {
        cwd: ROOT, uid, gid: uid, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TSVMA_DEVICE: `daemon:${sock}`, VMA_STATS_FILE: '' },
      });
      const c = new Child(proc, name);
      children.push(c);
      return c;
    };
    const allowed = asUid(65533, 'client as uid/gid 65533 (--allow-gid)');
    await allowed.waitFor((e) => e.ev === 'ready', 20000);
    const mine = shmFiles().map((f) => fs.statSync(`/dev/shm/${f}`)).filter((st) => st.uid === 65533);
    expect(mine).toHaveLength(1);
    expect(mine[0].mode & 0o777).toBe(0o600);
    allowed.send({ cmd: 'bind', port: 9304 });
    await allowed.waitFor((e) => e.ev === 'bound');
    allowed.send({ cmd: 'send', host: link.b.ip, port: ECHO_PORT, text: 'as 65533' });
    await allowed.waitFor((e) => e.ev === 'msg' && e.text === 'echo as 65533');
    allowed.proc.kill('SIGKILL');
    // Another uid cannot reach a 0660 socket at all; opened up, SO_PEERCRED is what refuses it.
    const noAccess = asUid(65534, 'client as uid 65534, socket 0660');
    await new Promise((r) => (noAccess.exited !== null ? r(null) : noAccess.proc.once('exit', r)));
    expect(noAccess.stderr).toMatch(/not allowed to connect to ringd's socket .* \(mode 0660\)/);
    fs.chmodSync(sock, 0o666);
    try {
      const refused = asUid(65534, 'client as uid 65534');
      await new Promise((r) => (refused.exited !== null ? r(null) : refused.proc.once('exit', r)));
      expect(refused.exited).not.toBe(0);
      expect(refused.stderr).toMatch(/refused to attach this process: uid 65534 gid 65534 is not allowed by this ringd/);
    } finally {
      fs.chmodSync(sock, 0o660);
    }
    const st = await control(sock, { op: 'stats' });
    expect(st).toMatchObject({ counters: { peersRefused: 1 } });
  });

  it('SIGTERM: ringd detaches its clients, removes its socket and regions, exits 0', async () => {
    ringd.proc.kill('SIGTERM');
    await new Promise((r) => (ringd.exited !== null ? r(null) : ringd.proc.once('exit', r)));
    expect(ringd.exited).toBe(0);
    expect(fs.existsSync(sock)).toBe(false);
    expect(shmFiles()).toEqual([]);
  });
});
