/**
 * tsvma ringd restarts, and the checks ringd makes on what clients transmit (no root needed: ringd
 * on the sim device).
 *
 * Restart: a client process (test/ringd/client.ts) with a bound UDP socket and a TCP connection
 * attempt sees ringd killed -9: the UDP socket gets an 'error' (ENETDOWN, naming ringd and how to
 * restart it), the connection ECONNRESET; a new ringd on the same socket path gets the client
 * back by itself (its bound port claimed again) and new sockets work. In this process, a daemon
 * device whose port another process claimed before it re-attached is told which port it lost.
 * TX checks: frames written straight into a client's TX ring with another source MAC, another
 * source address, another client's port or a port nobody holds are dropped and counted per
 * client (`txRefused`); a correct one passes. Every child, socket file and region is removed in
 * afterAll, also on failure.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { DaemonDevice, RingdUnavailableError } from '../../ring/daemon/daemon_device';
import { ShmRegion, W } from '../../ring/daemon/shm';
import { createLink, netnsUnavailable, type Link } from '../helpers/netns';
import { Child, clientReady, control, regionsOf, ringdReady, settle, sleep, spawnClient, spawnRingd, startPython, TCP_ECHO_PY, UDP_ECHO_PY } from './helpers';

type ClientRecord = { id: number; pid: number; ports: string[]; counters: Record<string, number> };
const clientsOf = async (sock: string): Promise<ClientRecord[]> => (await control(sock, { op: 'stats' })).clients as ClientRecord[];

const ringds: Child[] = [];
const clients: Child[] = [];

function startRingd(sock: string, device: string[] = ['--TSVMA_DEVICE=sim']): Promise<Child> {
  const c = spawnRingd([...device, '--socket', sock, '--VMA_STATS_SHMEM_DIR=']);
  ringds.push(c);
  return ringdReady(c);
}

function startClient(sock: string, name: string): Promise<Child> {
  const c = spawnClient(sock, name, '');
  clients.push(c);
  return clientReady(c);
}

/** Polls `f` until it returns true (or fails after `ms`). */
async function until(what: string, f: () => Promise<boolean> | boolean, ms = 10000): Promise<void> {
  let ok = false;
  await settle(async () => (ok = await f()), ms);
  if (!ok) throw new Error(`timed out waiting for ${what}`);
}

const sock = `/tmp/tsvma-ringd-restart-${process.pid}.sock`;
const devices: DaemonDevice[] = [];
const open = (): DaemonDevice => {
  const d = new DaemonDevice({ socketPath: sock });
  devices.push(d);
  return d;
};

afterAll(async () => {
  for (const d of devices) d.close();
  for (const c of clients) c.proc.kill('SIGKILL');
  for (const r of ringds) {
    await r.kill9();
    for (const f of regionsOf(r.proc.pid)) fs.rmSync(`/dev/shm/${f}`, { force: true });
  }
  fs.rmSync(sock, { force: true });
});

describe('tsvma ringd restarts (sim device)', () => {
  it('sockets get a clear error when ringd dies; clients re-attach to the new ringd, keep their free ports, and new sockets work', async () => {
    let ringd = await startRingd(sock);
    const a = await startClient(sock, 'client A');
    a.send({ cmd: 'bind', port: 7101 });
    await expect(a.waitFor((e) => e.ev === 'bound' || e.ev === 'error')).resolves.toMatchObject({ ev: 'bound', port: 7101 });
    // A connection attempt that waits (nobody answers ARP on the sim wire) when ringd goes.
    a.send({ cmd: 'tcp-hold', host: '198.18.0.9', port: 80 });
    // In this process: a device holding three ports.
    const d = open();
    expect(d.claimPort(17, 7401)).toBe(true);
    expect(d.claimPort(6, 7402)).toBe(true);
    expect(d.claimPort(17, 7403)).toBe(true);
    expect(d.claimPort(17, 7406, true)).toBe(true); // a reuse-port group's port
    await sleep(100);

    await ringd.kill9();
    const udpErr = await a.waitFor((e) => e.ev === 'error' && e.code === 'ENETDOWN', 5000);
    expect(udpErr.op).toBe('recvmsg');
    expect(String(udpErr.message)).toMatch(new RegExp(`^recvmsg ENETDOWN \\(tsvma ringd at ${sock} went away; restart it with \`tsvma ringd --TSVMA_DEVICE=sim --TSVMA_ADDR=198\\.18\\.0\\.2/24 --socket ${sock}\`; this process re-attaches`));
    await expect(a.waitFor((e) => e.ev === 'error' && e.op === 'tcp', 5000)).resolves.toMatchObject({ code: 'ECONNRESET' });
    expect(a.stderr).toMatch(/\[TSVMA_RINGD_GONE\] Warning: tsvma ringd at .* went away/);
    // A bind while ringd is away cannot claim its port: EADDRINUSE, saying why.
    const bindErr = await a.request({ cmd: 'echo', port: 7110 }, (e) => e.ev === 'error' || e.ev === 'bound', 5000);
    expect(bindErr).toMatchObject({ ev: 'error', op: 'bind', code: 'EADDRINUSE' });
    expect(String(bindErr.message)).toMatch(/^bind EADDRINUSE 0\.0\.0\.0:7110 \(tsvma ringd at .* is away, so no port can be claimed/);

    // This process's device notices at its next request; it cannot re-attach while nobody listens.
    expect(d.claimPort(17, 7404)).toBe(false);
    expect(d.isGone).toBe(true);
    expect(d.stats()).toMatchObject({ ringdGone: 1, ringdLost: 1, reattaches: 0 });
    expect(() => d.reattach()).toThrow(RingdUnavailableError);

    ringd = await startRingd(sock);
    // Another process (a device here) takes 7401 before `d` re-attaches.
    const other = open();
    expect(other.claimPort(17, 7401)).toBe(true);
    const res = d.reattach();
    expect(res.lostPorts).toEqual([17 * 65536 + 7401]);
    expect(d.isGone).toBe(false);
    expect(d.stats()).toMatchObject({ ringdGone: 0, ringdLost: 1, reattaches: 1 });
    expect(d.claimPort(17, 7405)).toBe(true);
    expect(d.claimPort(17, 7401)).toBe(false); // other's now
    expect(other.claimPort(17, 7406)).toBe(false); // 7406 is d's group again: joining needs sharing
    expect(other.claimPort(17, 7406, true)).toBe(true);

    // Client A came back by itself (retries on a timer), its bound UDP port claimed again.
    await until('client A on the new ringd', async () => (await clientsOf(sock)).some((c) => c.pid === a.proc.pid && c.ports.includes('udp/7101')));
    const fa = a.events.length;
    a.send({ cmd: 'echo', port: 7102 });
    await expect(a.waitFor((e) => e.ev === 'bound' || e.ev === 'error', 10000, fa)).resolves.toMatchObject({ ev: 'bound', port: 7102 });
    const recs = await clientsOf(sock);
    expect(recs.find((c) => c.pid === a.proc.pid)!.ports.sort()).toEqual(['udp/7101', 'udp/7102']);
    expect(recs.find((c) => c.id === d.ringd.clientId)!.ports.sort()).toEqual(['tcp/7402', 'udp/7403', 'udp/7405', 'udp/7406']);
    // A bind of a port A holds is still EADDRINUSE for others: the claims are real again.
    expect(other.claimPort(17, 7101)).toBe(false);
    a.send({ cmd: 'stats' });
    const st = await a.waitFor((e) => e.ev === 'stats', 5000, fa);
    expect(st.engine).toMatchObject({ 'device.ringdLost': 1, 'device.reattaches': 1, 'device.ringdGone': 0 });
  }, 60000);
});

/** An Ethernet/IPv4 frame from (srcMac, srcIp, sport) to 198.18.0.1:9 (UDP), or an ARP request with that sender. */
function frame(kind: 'udp' | 'arp', srcMac: number, srcIp: number, sport = 0): Buffer {
  const b = Buffer.alloc(kind === 'udp' ? 14 + 20 + 8 + 4 : 42);
  b.fill(0xff, 0, 6);
  b.writeUIntBE(srcMac, 6, 6);
  if (kind === 'arp') {
    b.writeUInt16BE(0x0806, 12);
    b.writeUInt16BE(1, 14);
    b.writeUInt16BE(0x0800, 16);
    b[18] = 6;
    b[19] = 4;
    b.writeUInt16BE(1, 20);
    b.writeUIntBE(srcMac, 22, 6);
    b.writeUInt32BE(srcIp >>> 0, 28);
    b.writeUInt32BE(0xc6120001, 38);
    return b;
  }
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(20 + 8 + 4, 16);
  b[22] = 64;
  b[23] = 17;
  b.writeUInt32BE(srcIp >>> 0, 26);
  b.writeUInt32BE(0xc6120001, 30);
  b.writeUInt16BE(sport, 34);
  b.writeUInt16BE(9, 36);
  b.writeUInt16BE(8 + 4, 38);
  b.write('spam', 42);
  return b;
}

describe('tsvma ringd checks what clients transmit (sim device)', () => {
  it('another source MAC or address, ARP for another sender, another client\'s port or a port nobody holds: dropped and counted per client', async () => {
    if (!ringds.some((r) => r.exited === null)) await startRingd(sock);
    const d = open();
    const victim = open();
    expect(d.claimPort(17, 7501)).toBe(true);
    expect(victim.claimPort(17, 7502)).toBe(true);
    const mac = d.caps.mac;
    const ip = d.ringd.ip;
    const frames = [
      frame('udp', mac + 1, ip, 7501), // another MAC
      frame('udp', mac, ip + 1, 7501), // another address
      frame('arp', mac, ip + 7), // ARP for another address
      frame('udp', mac, ip, 7502), // the victim's port
      frame('udp', mac, ip, 7503), // nobody's port
      frame('udp', mac, ip, 7501), // fine
    ];
    // Straight into d's TX ring, as a misbehaving client would write it.
    const shm = ShmRegion.open(d.ringd.shmPath, { slots: 1024, slotSize: 2048 });
    try {
      let head = Atomics.load(shm.i32, W.TxHead);
      for (const f of frames) {
        const slot = head & shm.mask;
        f.copy(shm.buf, shm.txData + slot * shm.slotSize);
        shm.i32[shm.txDescW + slot] = f.length;
        head = (head + 1) | 0;
      }
      Atomics.store(shm.i32, W.TxHead, head);
    } finally {
      shm.close();
    }
    // An attach makes ringd take a turn (it may sleep), which drains every TX ring.
    open().close();
    let rec: ClientRecord | undefined;
    await until('the frames drained', async () => {
      rec = (await clientsOf(sock)).find((c) => c.id === d.ringd.clientId);
      return rec !== undefined && rec.counters.txRefused + rec.counters.txFrames >= frames.length;
    }, 5000);
    expect(rec!.counters).toMatchObject({ txRefused: 5, txFrames: 1, txBad: 5, portsLearned: 0 });
    const k = (await control(sock, { op: 'stats' })).counters as Record<string, number>;
    expect(k).toMatchObject({ txBadSource: 3, txPortTheft: 1, txPortUnheld: 1 });
    // The victim's claim is untouched and nobody learned 7503.
    expect((await clientsOf(sock)).find((c) => c.id === victim.ringd.clientId)!.ports).toEqual(['udp/7502']);
    expect(victim.claimPort(17, 7503)).toBe(true);
  }, 40000);
});

const why = netnsUnavailable();
const describeRoot = why ? describe.skip : describe;
if (why) console.log(`test/ringd/restart: root part skipped: ${why}`);

describeRoot('tsvma ringd restart on the packet device, the kernel as the peer (root)', () => {
  let link: Link;
  const psock = `/tmp/tsvma-ringd-restart-pkt-${process.pid}.sock`;
  const peers: ChildProcess[] = [];
  const UDP_ECHO = 9610;
  const TCP_ECHO = 9611;

  afterAll(async () => {
    for (const p of peers) p.kill('SIGKILL');
    fs.rmSync(psock, { force: true });
    await link?.destroy();
  });

  it('an established connection gets ECONNRESET, a bound UDP socket ENETDOWN; after the restart that socket and new connections work', async () => {
    link = await createLink({ tag: 'rdrst', assignIpA: false });
    await startPython(link.b, UDP_ECHO_PY(link.b.ip, UDP_ECHO), peers);
    await startPython(link.b, TCP_ECHO_PY(link.b.ip, TCP_ECHO), peers);
    const args = [`--TSVMA_DEVICE=packet:${link.a.ifname}`, `--TSVMA_ADDR=${link.a.ip}/24`, '--netns', link.a.ns, '--VMA_RX_POLL=0'];
    let ringd = await startRingd(psock, args);
    const a = await startClient(psock, 'packet client A');
    a.send({ cmd: 'bind', port: 9601 });
    await a.waitFor((e) => e.ev === 'bound');
    a.send({ cmd: 'send', host: link.b.ip, port: UDP_ECHO, text: 'before' });
    await a.waitFor((e) => e.ev === 'msg' && e.text === 'echo before');
    a.send({ cmd: 'tcp-hold', host: link.b.ip, port: TCP_ECHO });
    await a.waitFor((e) => e.ev === 'tcp-connected');

    await ringd.kill9();
    await expect(a.waitFor((e) => e.ev === 'error' && e.op === 'tcp', 5000)).resolves.toMatchObject({ code: 'ECONNRESET' });
    await expect(a.waitFor((e) => e.ev === 'error' && e.op === 'recvmsg', 5000)).resolves.toMatchObject({ code: 'ENETDOWN' });

    ringd = await startRingd(psock, args);
    await until('client A on the new ringd', async () => (await clientsOf(psock)).some((c) => c.pid === a.proc.pid && c.ports.includes('udp/9601')));
    // The UDP socket bound before the restart sends and receives again.
    const fa = a.events.length;
    a.send({ cmd: 'send', host: link.b.ip, port: UDP_ECHO, text: 'after' });
    await expect(a.waitFor((e) => e.ev === 'msg', 5000, fa)).resolves.toMatchObject({ text: 'echo after', from: `${link.b.ip}:${UDP_ECHO}` });
    // A new connection: 256 KiB echoed whole.
    a.send({ cmd: 'tcp-echo', host: link.b.ip, port: TCP_ECHO, bytes: 262144 });
    await expect(a.waitFor((e) => e.ev === 'tcp-done' || (e.ev === 'error' && e.op === 'tcp' && e.code !== 'ECONNRESET'), 15000, fa)).resolves.toMatchObject({ ev: 'tcp-done', ok: true, bytes: 262144 });
  }, 60000);
});
