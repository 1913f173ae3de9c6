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
import * as path from 'node:path';
import { resolveConfig } from '../../conf';
import { Engine } from '../../lib/engine';
import { DaemonDevice, RingdUnavailableError } from '../../ring/daemon/daemon_device';
import { createLink, netnsUnavailable, type Link } from '../helpers/netns';
import { Child, clientReady, control, REGISTER, regionsOf, ringdReady, ROOT, settle, sleep, spawnClient, spawnRingd, spawnTsvma, startPython, TCP_ECHO_PY, UDP_ECHO_PY } from './helpers';

/** Where ringd and its clients keep their statistics files (tsvma stats -k). */
const STATS_DIR = `/tmp/tsvma-ringd-stats-${process.pid}`;
fs.mkdirSync(STATS_DIR, { recursive: true });
afterAll(() => fs.rmSync(STATS_DIR, { recursive: true, force: true }));

/** `tsvma stats ARGS -k STATS_DIR` from the sources. */
function tsvmaStats(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawnTsvma(['stats', '-k', STATS_DIR, ...args]);
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    p.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

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

/** Starts `tsvma ringd` (from the sources) as a child process; resolves once it is ready. */
const startRingd = (args: string[]): Promise<Child> => ringdReady(spawnRingd(args));

/** Starts test/ringd/client.ts on TSVMA_DEVICE=daemon:SOCK; resolves once attached. */
async function startClientOf(sock: string, name: string, list: Child[]): Promise<Child> {
  const c = spawnClient(sock, name, STATS_DIR);
  list.push(c);
  return clientReady(c);
}

describe('tsvma ringd on the sim device (no root needed): ports, faults, cleanup', () => {
  const sock = `/tmp/tsvma-ringd-sim-${process.pid}.sock`;
  let ringd: Child;
  const children: Child[] = [];

  beforeAll(async () => {
    ringd = await startRingd(['--TSVMA_DEVICE=sim', '--socket', sock, `--VMA_STATS_SHMEM_DIR=${STATS_DIR}/`]);
  }, 30000);

  afterAll(async () => {
    for (const c of children) c.proc.kill('SIGKILL');
    await ringd?.kill9();
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
    const eph = await b.request({ cmd: 'bind', port: 0 }, (e) => e.ev === 'bound' || e.ev === 'error');
    expect(eph.ev).toBe('bound');
    let st = await control(sock, { op: 'stats' });
    const clients = st.clients as { id: number; pid: number; ports: string[] }[];
    expect(Object.fromEntries(clients.map((c) => [c.pid, c.ports]))).toEqual({ [a.proc.pid!]: ['udp/7001'], [b.proc.pid!]: [`udp/${String(eph.port)}`] });
    // Both ask to share 7002 (reuseAddr): one reuse-port group of two.
    await expect(a.request({ cmd: 'bind', port: 7002, reuse: true }, (e) => e.ev === 'bound' || e.ev === 'error')).resolves.toMatchObject({ ev: 'bound', port: 7002 });
    await expect(b.request({ cmd: 'bind', port: 7002, reuse: true }, (e) => e.ev === 'bound' || e.ev === 'error')).resolves.toMatchObject({ ev: 'bound', port: 7002 });
    st = await control(sock, { op: 'stats' });
    expect((st.groups as { port: string; pids: number[] }[]).map((g) => ({ port: g.port, pids: g.pids.slice().sort() }))).toEqual([{ port: 'udp/7002', pids: [a.proc.pid, b.proc.pid].sort() }]);

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
    await settle(() => regionsOf(ringd.proc.pid).length === 1, 2000);
    expect(regionsOf(ringd.proc.pid)).toHaveLength(1);
    // A's place in the group is gone, B's stays.
    expect((await control(sock, { op: 'stats' })).groups).toEqual([{ port: 'udp/7002', pids: [b.proc.pid] }]);
    await expect(b.request({ cmd: 'bind', port: 7001 }, (e) => e.ev === 'bound' || e.ev === 'error')).resolves.toMatchObject({ ev: 'bound', port: 7001 });

    ringd.proc.kill('SIGTERM');
    expect(await ringd.exit()).toBe(0);
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
  const peers: ChildProcess[] = [];
  let a: Child;
  let b: Child;
  const ECHO_PORT = 9400;
  const TCP_ECHO_PORT = 9500;
  let aTcpPort = 0;

  const startClient = (name: string): Promise<Child> => startClientOf(sock, name, children);
  const shmFiles = (): string[] => regionsOf(ringd.proc.pid);

  beforeAll(async () => {
    link = await createLink({ tag: 'ringd', assignIpA: false });
    // The kernel peers: a UDP and a TCP echo server.
    await startPython(link.b, UDP_ECHO_PY(link.b.ip, ECHO_PORT), peers);
    await startPython(link.b, TCP_ECHO_PY(link.b.ip, TCP_ECHO_PORT), peers);
    ringd = await startRingd([`--TSVMA_DEVICE=packet:${link.a.ifname}`, `--TSVMA_ADDR=${link.a.ip}/24`, '--netns', link.a.ns, '--socket', sock, '--TSVMA_LOG=info', '--allow-uid', '65532', '--allow-gid', '65533', `--VMA_STATS_SHMEM_DIR=${STATS_DIR}/`]);
    [a, b] = await Promise.all([startClient('client A'), startClient('client B')]);
  }, 60000);

  afterAll(async () => {
    for (const c of children) c.proc.kill('SIGKILL');
    for (const p of peers) p.kill('SIGKILL');
    await ringd?.kill9();
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
    await settle(() => a.msgs().length >= 20 && b.msgs().length >= 20, 5000);
    // ringd's client events (an rxjs stream) reach its pino log (TSVMA_LOG=info): one 'client attached' each.
    const attached = ringd.stderr.split('\n').filter((l) => l.includes('"msg":"client attached"')).map((l) => JSON.parse(l) as { clientPid: number; uid: number });
    expect(attached.length).toBeGreaterThanOrEqual(2);
    expect(attached.every((e) => e.clientPid > 0 && e.uid === 0)).toBe(true);
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
    await settle(() => a.msgs(from).length >= 5);
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
    await settle(() => b.msgs(from).length >= 3);
    expect(b.msgs(from)).toEqual(['group 0', 'group 1', 'group 2']);
  });

  it("a bind of a port another client holds is EADDRINUSE; the holder's traffic goes on", async () => {
    const e = await b.request({ cmd: 'bind', port: 9301 }, (x) => x.ev === 'error' || x.ev === 'bound');
    expect(e).toMatchObject({ ev: 'error', op: 'bind', code: 'EADDRINUSE' });
    await a.request({ cmd: 'send', host: link.b.ip, port: ECHO_PORT, text: 'still A', count: 3 }, (x) => x.ev === 'msg' && x.text === 'echo still A 2', 5000);
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

  it('SO_REUSEPORT-style groups: a UDP port (reuseAddr) and a TCP port (reusePort) shared by two clients, flows spread by hash, group datagrams to both; a bind that does not share is EADDRINUSE', async () => {
    const fa = a.events.length;
    const fb = b.events.length;
    a.send({ cmd: 'bind', port: 9310, reuse: true });
    await expect(a.waitFor((e) => e.ev === 'bound' || e.ev === 'error', 10000, fa)).resolves.toMatchObject({ ev: 'bound', port: 9310 });
    b.send({ cmd: 'bind', port: 9310, reuse: true });
    await expect(b.waitFor((e) => e.ev === 'bound' || e.ev === 'error', 10000, fb)).resolves.toMatchObject({ ev: 'bound', port: 9310 });
    // Datagrams from 40 source ports: each goes to one member, picked by a hash of (source, port).
    let r = await link.b.exec('python3', ['-c', `
import socket
for i in range(40):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.sendto(b"spread %d" % i, ("${link.a.ip}", 9310)); c.close()`]);
    expect(r.code).toBe(0);
    await settle(() => a.msgs(fa).length + b.msgs(fb).length >= 40);
    const got = [...a.msgs(fa), ...b.msgs(fb)].sort();
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => `spread ${i}`).sort());
    expect(a.msgs(fa).length).toBeGreaterThan(0);
    expect(b.msgs(fb).length).toBeGreaterThan(0);
    // A multicast group both joined, on the shared port: every member gets each datagram.
    const GROUP = '239.18.0.9';
    a.send({ cmd: 'join', group: GROUP });
    b.send({ cmd: 'join', group: GROUP });
    await a.waitFor((e) => e.ev === 'joined', 5000, fa);
    await b.waitFor((e) => e.ev === 'joined', 5000, fb);
    await sleep(50);
    const ma = a.events.length;
    const mb = b.events.length;
    r = await link.b.exec('python3', ['-c', `
import socket
t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("${link.b.ip}"))
for i in range(3): t.sendto(b"shared group %d" % i, ("${GROUP}", 9310))`]);
    expect(r.code).toBe(0);
    await settle(() => a.msgs(ma).length >= 3 && b.msgs(mb).length >= 3);
    expect(a.msgs(ma)).toEqual(['shared group 0', 'shared group 1', 'shared group 2']);
    expect(b.msgs(mb)).toEqual(['shared group 0', 'shared group 1', 'shared group 2']);

    // TCP: both listen on 9320 with reusePort; 40 connections from the kernel spread over them, each echoed whole.
    a.send({ cmd: 'tcp-listen', port: 9320, reusePort: true });
    b.send({ cmd: 'tcp-listen', port: 9320, reusePort: true });
    await expect(a.waitFor((e) => e.ev === 'tcp-listening' || (e.ev === 'error' && e.op === 'listen'), 10000, fa)).resolves.toMatchObject({ ev: 'tcp-listening', port: 9320 });
    await expect(b.waitFor((e) => e.ev === 'tcp-listening' || (e.ev === 'error' && e.op === 'listen'), 10000, fb)).resolves.toMatchObject({ ev: 'tcp-listening', port: 9320 });
    const st = await control(sock, { op: 'stats' });
    const acc = async (c: Child): Promise<number> => Number((await c.request({ cmd: 'tcp-accepted' }, (e) => e.ev === 'tcp-accepted', 5000)).n);
    const [a0, b0] = [await acc(a), await acc(b)];
    const groups = (st.groups as { port: string; pids: number[] }[]).map((g) => ({ port: g.port, pids: g.pids.slice().sort((x, y) => x - y) }));
    const ab = [a.proc.pid!, b.proc.pid!].sort((x, y) => x - y);
    expect(groups).toEqual(expect.arrayContaining([{ port: 'udp/9310', pids: ab }, { port: 'tcp/9320', pids: ab }]));
    r = await link.b.exec('python3', ['-c', `
import socket
ok = 0
for i in range(40):
    c = socket.create_connection(("${link.a.ip}", 9320), timeout=5)
    msg = b"conn %d " % i * 500
    c.sendall(msg); c.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        d = c.recv(65536)
        if not d: break
        got += d
    ok += got == msg
    c.close()
print(ok)`], { timeoutMs: 30000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('40');
    const [na, nb] = [(await acc(a)) - a0, (await acc(b)) - b0];
    expect(na + nb).toBe(40);
    expect(na).toBeGreaterThan(0);
    expect(nb).toBeGreaterThan(0);
    // Sharing is asked for by every member: a listener without reusePort is refused, as is a reusePort one on a port held alone.
    await a.request({ cmd: 'tcp-listen', port: 9321 }, (e) => e.ev === 'tcp-listening');
    await expect(b.request({ cmd: 'tcp-listen', port: 9321, reusePort: true }, (e) => e.ev === 'tcp-listening' || (e.ev === 'error' && e.op === 'listen'))).resolves.toMatchObject({ ev: 'error', code: 'EADDRINUSE' });
    const k = (await control(sock, { op: 'stats' })).counters as Record<string, number>;
    expect(k.groupHashed).toBeGreaterThanOrEqual(80);
    expect(k.groupFanout).toBeGreaterThanOrEqual(3);
  });

  it("tsvma stats shows ringd (its device ring, its counters, each client with its ports and ring) and the clients' own files", async () => {
    const r = await tsvmaStats('-p', String(ringd.proc.pid), '--json');
    // (the files of the clients killed earlier are removed on the way, and said so)
    expect(r.stderr.replace(/^tsvma stats: removed .* is gone\)\n/gm, '')).toBe('');
    expect(r.code).toBe(0);
    type P = { pid: number; name: string; rings: { name: string; rxFrames: number }[]; stack: Record<string, number>; daemonClients: { pid: number; clientId: number; rxFrames: number; txFrames: number; rxFill: number; slots: number; ports: number; groupPorts: number; portNames: string[] }[] };
    const j = (JSON.parse(r.stdout) as { processes: P[] }).processes[0];
    expect(j).toMatchObject({ pid: ringd.proc.pid, name: 'tsvma ringd' });
    expect(j.rings[0].name).toBe(`packet:${link.a.ifname}`);
    expect(j.rings[0].rxFrames).toBeGreaterThan(0);
    expect(j.stack['ringd.rxSteered']).toBeGreaterThan(0);
    expect(j.stack['ringd.groupHashed']).toBeGreaterThan(0);
    const ca = j.daemonClients.find((c) => c.pid === a.proc.pid)!;
    expect(j.daemonClients.map((c) => c.pid).sort()).toEqual([a.proc.pid, b.proc.pid].sort());
    expect(ca.portNames).toEqual(expect.arrayContaining(['udp/9310', 'tcp/9320', 'tcp/9321']));
    expect(ca).toMatchObject({ slots: 1024, groupPorts: 2 });
    expect(ca.rxFrames).toBeGreaterThan(0);
    expect(ca.txFrames).toBeGreaterThan(0);
    const text = await tsvmaStats('-p', String(ringd.proc.pid), '-v', '2', '-c', '1');
    expect(text.code).toBe(0);
    if (process.env.SHOW_STATS) console.log(text.stdout);
    expect(text.stdout).toMatch(/ringd clients: 2\n/);
    expect(text.stdout).toMatch(new RegExp(`\\n +\\d+ +${a.proc.pid} .* \\d+/1024 .*udp/9310`));
    expect(text.stdout).toMatch(new RegExp(`packet:${link.a.ifname}`));
    // -l: ringd applies a log-level request (its pino level follows).
    const lv = await tsvmaStats('-p', String(ringd.proc.pid), '-l', 'debug');
    expect(lv.stdout).toMatch(new RegExp(`log level of process ${ringd.proc.pid} set to debug`));
    await tsvmaStats('-p', String(ringd.proc.pid), '-l', 'info');
    // A client's own file: its sockets and its daemon ring.
    const cj = await tsvmaStats('-p', String(b.proc.pid), '--json');
    expect(cj.code).toBe(0);
    const bp = (JSON.parse(cj.stdout) as { processes: { rings: { name: string }[]; sockets: { local: string; protoName: string }[]; daemonClients: unknown[] }[] }).processes[0];
    expect(bp.rings[0].name).toBe(`daemon:${sock}`);
    expect(bp.sockets).toEqual(expect.arrayContaining([expect.objectContaining({ protoName: 'udp', local: '0.0.0.0:9310' })]));
    expect(bp.daemonClients).toEqual([]);
  });

  it('a reuse-port group keeps established TCP connections on the member that accepted them when a third member joins; new ones reach it too; its connections outlive its listener', async () => {
    const go = `/tmp/tsvma-ringd-go-${process.pid}`;
    const go2 = `${go}-2`;
    fs.rmSync(go, { force: true });
    fs.rmSync(go2, { force: true });
    const py = link.b.spawn('python3', ['-u', '-c', `
import json, os, socket, time
cs = []
for i in range(12):
    c = socket.create_connection(("${link.a.ip}", 9320), timeout=5)
    c.sendall(b"one %d" % i)
    assert c.recv(100) == b"one %d" % i
    cs.append(c)
print("open", flush=True)
while not os.path.exists("${go}"): time.sleep(0.01)
ok = 0
for i, c in enumerate(cs):
    c.sendall(b"two %d" % i)
    ok += c.recv(100) == b"two %d" % i
    c.close()
fresh = 0
for i in range(30):
    c = socket.create_connection(("${link.a.ip}", 9320), timeout=5)
    c.sendall(b"three"); fresh += c.recv(100) == b"three"; c.close()
print(json.dumps({"ev": "result", "ok": ok, "fresh": fresh}), flush=True)
held = []
for i in range(15):
    c = socket.create_connection(("${link.a.ip}", 9320), timeout=5)
    c.sendall(b"four %d" % i); assert c.recv(100) == b"four %d" % i
    held.append(c)
print("held", flush=True)
while not os.path.exists("${go2}"): time.sleep(0.01)
ok = 0
for i, c in enumerate(held):
    c.sendall(b"five %d" % i); ok += c.recv(100) == b"five %d" % i
print(json.dumps({"ev": "after", "ok": ok}), flush=True)`]);
    const k = new Child(py as ChildProcess, 'kernel TCP client');
    let e: Child | null = null;
    try {
      await k.waitFor((x) => x.ev === 'text' && x.text === 'open', 15000);
      e = await startClient('client E');
      e.send({ cmd: 'tcp-listen', port: 9320, reusePort: true });
      await expect(e.waitFor((x) => x.ev === 'tcp-listening' || x.ev === 'error')).resolves.toMatchObject({ ev: 'tcp-listening' });
      fs.writeFileSync(go, '');
      await expect(k.waitFor((x) => x.ev === 'result', 20000)).resolves.toEqual({ ev: 'result', ok: 12, fresh: 30 });
      // 30 new connections hashed over three members: E gets some ((2/3)^30 odds of none).
      const eFresh = Number((await e.request({ cmd: 'tcp-accepted' }, (x) => x.ev === 'tcp-accepted', 5000)).n);
      expect(eFresh).toBeGreaterThan(0);
      // 15 connections held open over the three; E closes its listener (leaves the group) and its connections go on.
      await k.waitFor((x) => x.ev === 'text' && x.text === 'held', 15000);
      const eHeld = Number((await e.request({ cmd: 'tcp-accepted' }, (x) => x.ev === 'tcp-accepted', 5000)).n) - eFresh;
      await e.request({ cmd: 'tcp-unlisten', port: 9320 }, (x) => x.ev === 'tcp-unlistened', 5000);
      const st = await control(sock, { op: 'stats' });
      expect((st.groups as { port: string; pids: number[] }[]).find((g) => g.port === 'tcp/9320')?.pids).not.toContain(e.proc.pid);
      fs.writeFileSync(go2, '');
      await expect(k.waitFor((x) => x.ev === 'after', 20000)).resolves.toEqual({ ev: 'after', ok: 15 });
      if (eHeld === 0) console.log('test/ringd: E held none of the 15 connections this time ((2/3)^15 odds): its listener close was not exercised');
    } finally {
      py.kill('SIGKILL');
      fs.rmSync(go, { force: true });
      fs.rmSync(go2, { force: true });
      e?.proc.kill('SIGKILL');
    }
    await settle(() => shmFiles().length === 2, 2000);
    expect(shmFiles()).toHaveLength(2);
  });

  it('node:cluster: an http server with 4 workers on one port over ringd, driven by wrk from the kernel side: zero errors, requests spread over the workers', async () => {
    const proc = spawn(process.execPath, ['-r', REGISTER, path.join(__dirname, 'cluster_http.ts'), '4', '8080'], {
      cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TSVMA_DEVICE: `daemon:${sock}`, TSVMA_ADDR: '', VMA_STATS_FILE: '', VMA_STATS_SHMEM_DIR: '' },
    });
    const app = new Child(proc, 'cluster http');
    children.push(app);
    try {
      const ready = await app.waitFor((e) => e.ev === 'ready' || e.ev === 'error', 30000);
      expect(ready.ev).toBe('ready');
      const workers = (ready.workers as number[]).slice().sort((x, y) => x - y);
      const st = await control(sock, { op: 'stats' });
      const g = (st.groups as { port: string; pids: number[] }[]).find((x) => x.port === 'tcp/8080');
      expect(g?.pids.slice().sort((x, y) => x - y)).toEqual(workers);
      const w = await link.b.exec('wrk', ['-t2', '-c64', '-d3s', '--timeout', '10s', `http://${link.a.ip}:8080/`], { timeoutMs: 30000 });
      console.log(`test/ringd: wrk through ringd, 4 cluster workers:\n${w.stdout}`);
      expect(w.code).toBe(0);
      expect(w.stdout).not.toMatch(/Socket errors|Non-2xx/);
      const total = Number(/(\d+) requests in/.exec(w.stdout)?.[1]);
      expect(total).toBeGreaterThan(100);
      const counts = (await app.request({ cmd: 'counts' }, (e) => e.ev === 'counts')).counts as Record<string, number>;
      expect(Object.keys(counts).map(Number).sort((x, y) => x - y)).toEqual(workers);
      const served = Object.values(counts);
      expect(served.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(total);
      // 64 connections hashed over 4 workers: each gets some (all four empty-handed but one has odds ~1e-8).
      for (const n of served) expect(n).toBeGreaterThan(0);
    } finally {
      proc.stdin!.end();
      await app.exit();
    }
    // The workers are gone: ringd dissolved the group.
    await settle(async () => !((await control(sock, { op: 'stats' })).groups as { port: string }[]).some((x) => x.port === 'tcp/8080'), 2000);
    expect(((await control(sock, { op: 'stats' })).groups as { port: string }[]).map((x) => x.port)).not.toContain('tcp/8080');
  });

  it("kill -9 of a client during TCP traffic: ringd resets its connections, the kernel sees ECONNRESET on a streaming one, an idle accepted one and an idle outgoing one", async () => {
    const d = await startClient('client D');
    d.send({ cmd: 'tcp-listen', port: 9330 });
    await d.waitFor((e) => e.ev === 'tcp-listening');
    const py = link.b.spawn('python3', ['-u', '-c', `
import json, socket, threading, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); srv.bind(("${link.b.ip}", 9331)); srv.listen(4)
print("listening", flush=True)
srv.settimeout(10)
held, _ = srv.accept()
c1 = socket.create_connection(("${link.a.ip}", 9330), timeout=10)
c2 = socket.create_connection(("${link.a.ip}", 9330), timeout=10)
c2.sendall(b"ping")
assert c2.recv(4) == b"ping"
res = {}
def stream():
    data = b"x" * 65536
    try:
        while True:
            c1.sendall(data)
            c1.recv(65536)
    except ConnectionResetError: res["stream"] = "reset"
    except BrokenPipeError: res["stream"] = "pipe"
    except socket.timeout: res["stream"] = "timeout"
t = threading.Thread(target=stream); t.start()
time.sleep(0.3)
print("streaming", flush=True)
for name, s in (("idle", c2), ("outgoing", held)):
    s.settimeout(10)
    try:
        res[name] = "data" if s.recv(100) else "eof"
    except ConnectionResetError: res[name] = "reset"
    except socket.timeout: res[name] = "timeout"
t.join(10)
res["ev"] = "result"
print(json.dumps(res), flush=True)`]);
    const k = new Child(py as ChildProcess, 'kernel TCP peer');
    try {
      await k.waitFor((e) => e.ev === 'text' && e.text === 'listening', 10000);
      d.send({ cmd: 'tcp-hold', host: link.b.ip, port: 9331 });
      await d.waitFor((e) => e.ev === 'tcp-connected');
      await k.waitFor((e) => e.ev === 'text' && e.text === 'streaming', 15000);
      const before = ((await control(sock, { op: 'stats' })).counters as Record<string, number>).deadResets;
      const t0 = Date.now();
      d.proc.kill('SIGKILL');
      const res = await k.waitFor((e) => e.ev === 'result', 20000);
      const ms = Date.now() - t0;
      expect(res).toEqual({ ev: 'result', idle: 'reset', outgoing: 'reset', stream: 'reset' });
      expect(ms).toBeLessThan(5000);
      const after = ((await control(sock, { op: 'stats' })).counters as Record<string, number>).deadResets;
      expect(after - before).toBeGreaterThanOrEqual(3);
    } finally {
      py.kill('SIGKILL');
    }
    await settle(() => shmFiles().length === 2, 2000);
  });

  it("kill -9 of a client: ringd frees its port and region, the other client binds it and its traffic goes on", async () => {
    const before = shmFiles();
    expect(before).toHaveLength(2);
    const detached = ((await control(sock, { op: 'stats' })).counters as Record<string, number>).clientsDetached;
    await a.kill9();
    // Freed as soon as ringd sees the control socket close.
    await settle(() => shmFiles().length === 1, 2000);
    expect(shmFiles()).toHaveLength(1);
    const from = b.events.length;
    b.send({ cmd: 'bind', port: 9301 });
    await expect(b.waitFor((x) => x.ev === 'error' || x.ev === 'bound', 10000, from)).resolves.toMatchObject({ ev: 'bound', port: 9301 });
    b.send({ cmd: 'send', host: link.b.ip, port: ECHO_PORT, text: 'B on 9301', count: 10 });
    await settle(() => b.msgs(from).length >= 10);
    expect(b.msgs(from)).toEqual(Array.from({ length: 10 }, (_, i) => `echo B on 9301 ${i}`));
    const st = await control(sock, { op: 'stats' });
    expect(st).toMatchObject({ ok: true, counters: { clientsDetached: detached + 1 } });
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
    await settle(() => b.msgs(from).length >= 10);
    expect(b.msgs(from)).toEqual(Array.from({ length: 10 }, (_, i) => `echo B after garbage ${i}`));
    expect(ringd.exited).toBeNull();
    const st = await control(sock, { op: 'stats' });
    const k = st.counters as Record<string, number>;
    expect(k.txBadIndex + k.txBadLength + k.txPortTheft + k.rxBadTail).toBeGreaterThan(0);
    c.proc.kill('SIGKILL');
    await settle(() => shmFiles().length === 1, 2000);
    expect(shmFiles()).toHaveLength(1);
  });

  it('eight clients behind one ringd, each with UDP and TCP traffic to the kernel at once: every datagram echoed in order, every stream sha256-equal', async () => {
    const before = shmFiles().length;
    const eight = await Promise.all(Array.from({ length: 8 }, (_, i) => startClient(`client H${i}`)));
    try {
      expect(shmFiles()).toHaveLength(before + 8);
      eight.forEach((c, i) => c.send({ cmd: 'bind', port: 9401 + i }));
      await Promise.all(eight.map((c) => c.waitFor((e) => e.ev === 'bound')));
      // All at once: 10 datagrams (under the stack's 16 queued per unresolved neighbour) and a 256 KiB TCP echo each.
      eight.forEach((c, i) => {
        c.send({ cmd: 'send', host: link.b.ip, port: ECHO_PORT, text: `H${i}`, count: 10 });
        c.send({ cmd: 'tcp-echo', host: link.b.ip, port: TCP_ECHO_PORT, bytes: 1 << 18 });
      });
      const done = await Promise.all(eight.map((c) => c.waitFor((e) => e.ev === 'tcp-done' || (e.ev === 'error' && e.op === 'tcp'), 30000)));
      for (const d of done) expect(d).toMatchObject({ ev: 'tcp-done', ok: true, bytes: 1 << 18 });
      expect(new Set(done.map((d) => d.local)).size).toBe(8);
      await settle(() => eight.every((c) => c.msgs().length >= 10));
      eight.forEach((c, i) => expect(c.msgs()).toEqual(Array.from({ length: 10 }, (_, k) => `echo H${i} ${k}`)));
      const st = await control(sock, { op: 'stats' });
      const per = (st.clients as { pid: number; counters: { rxFrames: number; txFrames: number } }[]).filter((c) => eight.some((h) => h.proc.pid === c.pid));
      expect(per).toHaveLength(8);
      for (const c of per) expect(c.counters.rxFrames).toBeGreaterThan(10);
    } finally {
      for (const c of eight) c.proc.kill('SIGKILL');
    }
    await settle(() => shmFiles().length === before);
    expect(shmFiles()).toHaveLength(before);
  });

  it('SO_PEERCRED: a uid ringd does not allow is refused with a clear error; --allow-gid admits one, which reaches the socket through its group and owns its region', async () => {
    expect(fs.statSync(sock).gid).toBe(65533); // --allow-gid: the socket's group, mode 0660
    expect(fs.statSync(sock).mode & 0o777).toBe(0o660);
    const asUid = (uid: number, name: string): Child => {
      const proc = spawn(process.execPath, ['-r', REGISTER, path.join(__dirname, 'client.ts')], {
        cwd: ROOT, uid, gid: uid, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TSVMA_DEVICE: `daemon:${sock}`, VMA_STATS_FILE: '', VMA_STATS_SHMEM_DIR: '' },
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
    await noAccess.exit();
    expect(noAccess.stderr).toMatch(/not allowed to connect to ringd's socket .* \(mode 0660\)/);
    fs.chmodSync(sock, 0o666);
    try {
      const refused = asUid(65534, 'client as uid 65534');
      expect(await refused.exit()).not.toBe(0);
      expect(refused.stderr).toMatch(/refused to attach this process: uid 65534 gid 65534 is not allowed by this ringd/);
    } finally {
      fs.chmodSync(sock, 0o660);
    }
    const st = await control(sock, { op: 'stats' });
    expect(st).toMatchObject({ counters: { peersRefused: 1 } });
  });

  it('SIGTERM: ringd detaches its clients, removes its socket and regions, exits 0', async () => {
    ringd.proc.kill('SIGTERM');
    expect(await ringd.exit()).toBe(0);
    expect(fs.existsSync(sock)).toBe(false);
    expect(shmFiles()).toEqual([]);
  });
});
