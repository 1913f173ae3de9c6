/**
 * tsvma's TCP against the Linux kernel over a veth pair: tsvma (packet device, namespace a) and the
 * kernel's own sockets (namespace b), both directions — options negotiated as tshark decodes them,
 * large transfers checked by sha256 (clean, and with 5% random loss applied by nftables on the kernel
 * side), half-close and abortive close as the kernel sees them, curl and wrk against an http server on tsvma.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnNode, tsvmaEnv } from '../helpers/engine';
import { createLink, type Link } from '../helpers/netns';
import { one, tsharkFrames, tsharkMissing } from '../helpers/tshark';

const tsvmaNet = path.join(__dirname, '..', '..', 'dist', 'lib', 'net.js');
const register = path.join(__dirname, '..', '..', 'dist', 'lib', 'register.js');

/** Collects a child's output; `line(re)` waits for a line matching re. */
function watch(child: ChildProcess) {
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((res) => child.once('close', (code) => res(code)));
  return {
    get out() { return out; },
    kill: () => child.kill(),
    get err() { return err; },
    exited,
    async line(re: RegExp, timeoutMs = 20000): Promise<RegExpMatchArray> {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const m = out.match(re);
        if (m) return m;
        if (Date.now() > until) throw new Error(`no ${re} in output: ${out}\nstderr: ${err}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

/** A Node program sending `bytes` of a deterministic pseudo-random stream and printing its sha256. */
const SENDER = (connect: string, bytes: number) => `
  const crypto = require('crypto');
  const total = ${bytes}; const chunk = Buffer.alloc(256 * 1024); let x = 12345; const h = crypto.createHash('sha256');
  const fill = () => { for (let i = 0; i < chunk.length; i += 4) { x = (x * 1103515245 + 12345) >>> 0; chunk.writeUInt32LE(x, i); } };
  ${connect}
  let sent = 0;
  const pump = () => {
    while (sent < total) { fill(); const n = Math.min(chunk.length, total - sent); const b = Buffer.from(chunk.subarray(0, n)); h.update(b); sent += n; if (!sock.write(b)) return sock.once('drain', pump); }
    sock.end(() => console.log('sent', sent, h.digest('hex')));
  };
  sock.on('error', (e) => { console.log('error', e.code); process.exit(1); });
  sock.on('close', () => process.exit(0));
  pump();
`;

/** A Node program receiving until EOF and printing the byte count and sha256. */
const RECEIVER = (sock: string) => `
  const crypto = require('crypto'); const h = crypto.createHash('sha256'); let n = 0; const t0 = process.hrtime.bigint();
  ${sock}.on('data', (d) => { h.update(d); n += d.length; });
  ${sock}.on('end', () => { const ms = Number(process.hrtime.bigint() - t0) / 1e6; console.log('received', n, h.digest('hex'), Math.round(n / ms / 1000), 'MB/s'); ${sock}.end(); });
  ${sock}.on('error', (e) => console.log('error', e.code));
`;

describe('TCP: tsvma (packet device) and the Linux kernel', () => {
  let link: Link;
  beforeAll(async () => { link = await createLink({ tag: 'tcp', assignIpA: false }); });
  afterAll(async () => { await link?.destroy(); });
  /** nft in namespace b (the kernel side). */
  const nft = (...args: string[]) => link.b.exec('nft', args);

  const BYTES = 1024 * 1024 * 1024;

  test('kernel client → tsvma server: options negotiated (tshark), 1 GiB with sha256 equal', async () => {
    const missing = tsharkMissing();
    const pcap = path.join(os.tmpdir(), `tsvma-tcp-${process.pid}.pcap`);
    const cap = missing ? null : link.b.spawn('tcpdump', ['-i', link.b.ifname, '-w', pcap, '-s', '128', 'tcp[tcpflags] & tcp-syn != 0']);
    if (cap) await new Promise((r) => setTimeout(r, 300));
    const server = watch(spawnNode(link.a, tsvmaEnv(link), `
      const net = require(${JSON.stringify(tsvmaNet)});
      const srv = net.createServer((c) => { console.log('offloaded', !!c._handle.offloaded); ${RECEIVER('c')} c.on('close', () => srv.close()); });
      srv.listen(7001, () => console.log('listening'));`));
    await server.line(/listening/);
    const client = watch(link.b.spawn(process.execPath, ['-e', SENDER(`const sock = require('net').connect(7001, '${link.a.ip}');`, BYTES)]));
    const sent = await client.line(/sent (\d+) (\w+)/, 120000);
    const got = await server.line(/received (\d+) (\w+) (\d+) MB\/s/, 120000);
    expect(got[1]).toBe(String(BYTES));
    expect(got[2]).toBe(sent[2]);
    expect(server.out).toContain('offloaded true');
    await Promise.all([client.exited, server.exited]);
    console.log(`kernel → tsvma: ${got[3]} MB/s`);
    if (cap) {
      cap.kill('SIGINT');
      await new Promise((r) => cap.once('close', r));
      const frames = tsharkFrames(pcap);
      const syn = frames.find((f) => one(f, 'tcp.flags.syn') === '1' && one(f, 'tcp.flags.ack') === '0');
      const synAck = frames.find((f) => one(f, 'tcp.flags.syn') === '1' && one(f, 'tcp.flags.ack') === '1');
      expect(synAck).toBeDefined();
      // tsvma's SYN-ACK answers every option the kernel offered: MSS, window scale, SACK, timestamps.
      for (const key of ['tcp.options.mss_val', 'tcp.options.wscale.shift', 'tcp.options.sack_perm', 'tcp.options.timestamp.tsval']) {
        expect(one(syn!, key)).toBeDefined();
        expect(one(synAck!, key)).toBeDefined();
      }
      expect(one(synAck!, 'tcp.options.mss_val')).toBe('1460');
      fs.rmSync(pcap, { force: true });
    }
  }, 180000);

  test('tsvma client → kernel server: 1 GiB with sha256 equal', async () => {
    const server = watch(link.b.spawn(process.execPath, ['-e', `
      const srv = require('net').createServer((c) => { ${RECEIVER('c')} c.on('close', () => srv.close()); });
      srv.listen(7002, '${link.b.ip}', () => console.log('listening'));`]));
    await server.line(/listening/);
    const client = watch(spawnNode(link.a, tsvmaEnv(link), SENDER(`
      const sock = require(${JSON.stringify(tsvmaNet)}).connect(7002, '${link.b.ip}', () => console.log('offloaded', sock.offloaded));`, BYTES)));
    const sent = await client.line(/sent (\d+) (\w+)/, 120000);
    const got = await server.line(/received (\d+) (\w+) (\d+) MB\/s/, 120000);
    expect(got[1]).toBe(String(BYTES));
    expect(got[2]).toBe(sent[2]);
    expect(client.out).toContain('offloaded true');
    await Promise.all([client.exited, server.exited]);
    console.log(`tsvma → kernel: ${got[3]} MB/s`);
  }, 180000);

  test('5% random loss on the kernel side (nftables), both directions: 8 MiB with sha256 equal', async () => {
    const table = `tsvma_loss_${process.pid}`;
    expect((await nft('add', 'table', 'inet', table)).code).toBe(0);
    try {
      for (const hook of ['input', 'output']) {
        expect((await nft('add', 'chain', 'inet', table, hook, `{ type filter hook ${hook} priority 0; }`)).code).toBe(0);
        expect((await nft('add', 'rule', 'inet', table, hook, 'meta', 'l4proto', 'tcp', 'numgen', 'random', 'mod', '100', '<', '5', 'counter', 'drop')).code).toBe(0);
      }
      const LOSSY = 8 * 1024 * 1024;
      // kernel → tsvma
      const server = watch(spawnNode(link.a, tsvmaEnv(link), `
        const net = require(${JSON.stringify(tsvmaNet)});
        const srv = net.createServer((c) => { ${RECEIVER('c')} c.on('close', () => srv.close()); });
        srv.listen(7003, () => console.log('listening'));`));
      await server.line(/listening/);
      const client = watch(link.b.spawn(process.execPath, ['-e', SENDER(`const sock = require('net').connect(7003, '${link.a.ip}');`, LOSSY)]));
      const sent = await client.line(/sent (\d+) (\w+)/, 150000);
      const got = await server.line(/received (\d+) (\w+)/, 150000);
      expect(got[2]).toBe(sent[2]);
      await Promise.all([client.exited, server.exited]);
      // tsvma → kernel
      const ks = watch(link.b.spawn(process.execPath, ['-e', `
        const srv = require('net').createServer((c) => { ${RECEIVER('c')} c.on('close', () => srv.close()); });
        srv.listen(7004, '${link.b.ip}', () => console.log('listening'));`]));
      await ks.line(/listening/);
      const tc = watch(spawnNode(link.a, tsvmaEnv(link), SENDER(`const sock = require(${JSON.stringify(tsvmaNet)}).connect(7004, '${link.b.ip}');`, LOSSY)));
      const sent2 = await tc.line(/sent (\d+) (\w+)/, 150000);
      const got2 = await ks.line(/received (\d+) (\w+)/, 150000);
      expect(got2[2]).toBe(sent2[2]);
      await Promise.all([tc.exited, ks.exited]);
      // The rules really dropped segments.
      const listed = await nft('list', 'table', 'inet', table);
      const drops = [...listed.stdout.matchAll(/packets (\d+)/g)].map((m) => Number(m[1]));
      expect(drops.reduce((a, b) => a + b, 0)).toBeGreaterThan(100);
    } finally {
      await nft('delete', 'table', 'inet', table);
    }
  }, 320000);

  test('a lost last FIN keeps the process until the kernel acknowledges it; process.exit() with a connection open resets it', async () => {
    const table = `tsvma_fin_${process.pid}`;
    expect((await nft('add', 'table', 'inet', table)).code).toBe(0);
    try {
      expect((await nft('add', 'chain', 'inet', table, 'input', '{ type filter hook input priority 0; }')).code).toBe(0);
      // The first FIN from tsvma is dropped (a 60-byte quota: one FIN segment).
      expect((await nft('add', 'rule', 'inet', table, 'input', 'ip', 'saddr', link.a.ip, 'tcp', 'flags', '&', 'fin', '==', 'fin', 'quota', 'until', '60', 'bytes', 'counter', 'drop')).code).toBe(0);
      // The server's last socket closes right after its FIN: without waiting for the FIN's ACK the
      // process would exit and the kernel client would wait for that FIN forever.
      const server = watch(spawnNode(link.a, tsvmaEnv(link), `
        const net = require(${JSON.stringify(tsvmaNet)});
        const srv = net.createServer((c) => { c.resume(); c.on('end', () => { c.end(); srv.close(); }); });
        srv.listen(7006, () => console.log('listening'));`));
      await server.line(/listening/);
      const t0 = Date.now();
      const client = await link.b.exec(process.execPath, ['-e', `
        const s = require('net').connect(7006, '${link.a.ip}', () => s.end('hello'));
        s.on('end', () => console.log('eof'));
        s.on('close', (hadError) => console.log('close', hadError));
        s.on('error', (e) => console.log('error', e.code));`], { timeoutMs: 15000 });
      expect(client.stdout.trim().split('\n')).toEqual(['eof', 'close false']);
      expect(await server.exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5000); // one retransmission timeout, not the linger bound
      expect((await nft('list', 'table', 'inet', table)).stdout).toMatch(/counter packets 1 /);
      // process.exit() while connected: the kernel peer learns at once instead of waiting on a dead peer.
      const ks = watch(link.b.spawn(process.execPath, ['-e', `
        const srv = require('net').createServer((c) => {
          c.on('data', (d) => console.log('data', d.toString()));
          c.on('error', (e) => { console.log('error', e.code); srv.close(); });
          c.on('end', () => { console.log('end'); srv.close(); });
        });
        srv.listen(7007, '${link.b.ip}', () => console.log('listening'));`]));
      await ks.line(/listening/);
      const tc = watch(spawnNode(link.a, tsvmaEnv(link), `
        const sock = require(${JSON.stringify(tsvmaNet)}).connect(7007, '${link.b.ip}', () => sock.write('x', () => setTimeout(() => process.exit(0), 50)));`));
      expect(await tc.exited).toBe(0);
      await ks.line(/error ECONNRESET/, 5000);
      expect(ks.out).toContain('data x');
      await ks.exited;
    } finally {
      await nft('delete', 'table', 'inet', table);
    }
  }, 60000);

  test('half-close and abortive close, as the kernel sees them', async () => {
    const server = watch(spawnNode(link.a, tsvmaEnv(link), `
      const net = require(${JSON.stringify(tsvmaNet)});
      let n = 0;
      const srv = net.createServer({ allowHalfOpen: true }, (c) => {
        if (n++ === 0) {
          // Half-close: tsvma ends its side first and keeps reading.
          c.end('bye from tsvma');
          let got = ''; c.on('data', (d) => got += d);
          c.on('end', () => { console.log('tsvma got after its FIN:', got); c.end(); });
        } else {
          c.on('data', () => { c.resetAndDestroy(); srv.close(); });
        }
      });
      srv.listen(7005, () => console.log('listening'));`));
    await server.line(/listening/);
    const kernel = await link.b.exec('python3', ['-c', `
import socket
s = socket.create_connection(("${link.a.ip}", 7005), timeout=10)
data = b""
while True:
    d = s.recv(100)
    if not d: break
    data += d
print("kernel got", data.decode(), "then EOF")
s.sendall(b"still writing")
s.shutdown(socket.SHUT_WR)
print("kernel read after both FINs:", s.recv(100))
s.close()
r = socket.create_connection(("${link.a.ip}", 7005), timeout=10)
r.sendall(b"x")
try:
    while r.recv(100): pass
    print("no reset")
except ConnectionResetError:
    print("kernel saw ECONNRESET")
`], { timeoutMs: 30000 });
    expect(kernel.stderr).toBe('');
    expect(kernel.stdout.trim().split('\n')).toEqual(['kernel got bye from tsvma then EOF', "kernel read after both FINs: b''", 'kernel saw ECONNRESET']);
    await server.line(/tsvma got after its FIN: still writing/);
    await server.exited;
  }, 60000);

  test('curl and wrk against an unmodified http server run with tsvma/register', async () => {
    const server = watch(spawnNode(link.a, tsvmaEnv(link), `
      require(${JSON.stringify(register)});
      const http = require('http');
      let n = 0;
      const srv = http.createServer((req, res) => { n++; res.setHeader('content-type', 'text/plain'); res.end('hello ' + req.url + ' ' + !!req.socket._handle.offloaded + '\\n'); });
      srv.listen(7006, () => console.log('listening'));
      process.on('SIGTERM', () => { console.log('served', n); process.exit(0); });`));
    await server.line(/listening/);
    const urls = Array.from({ length: 50 }, (_, i) => `http://${link.a.ip}:7006/r${i}`);
    const curl = await link.b.exec('curl', ['-sS', '--fail', '--max-time', '20', ...urls], { timeoutMs: 30000 });
    expect(curl.stderr).toBe('');
    expect(curl.code).toBe(0);
    expect(curl.stdout.trim().split('\n')).toEqual(urls.map((_, i) => `hello /r${i} true`));
    // wrk: 2 threads, 20 keep-alive connections for 3 s — no socket errors, no non-2xx answers.
    const wrk = await link.b.exec('wrk', ['-t', '2', '-c', '20', '-d', '3s', `http://${link.a.ip}:7006/wrk`], { timeoutMs: 30000 });
    expect(wrk.code).toBe(0);
    expect(wrk.stdout).not.toMatch(/Socket errors|Non-2xx/);
    const requests = Number(/(\d+) requests in/.exec(wrk.stdout)?.[1] ?? 0);
    expect(requests).toBeGreaterThan(100);
    console.log(`wrk against tsvma http: ${/Requests\/sec:\s+([\d.]+)/.exec(wrk.stdout)?.[1]} requests/s, ${requests} requests, 0 errors`);
    server.kill();
    await server.exited;
  }, 60000);
});

describe('TCP: tsvma and the Linux kernel with the veth\'s offloads on (TSO/GSO, partial checksums)', () => {
  let link: Link;
  beforeAll(async () => { link = await createLink({ tag: 'tcpoff', assignIpA: false, offloads: true }); });
  afterAll(async () => { await link?.destroy(); });

  const BYTES = 256 * 1024 * 1024;

  test('both directions, 256 MiB each with sha256 equal: the kernel\'s 64 KiB GSO frames are taken whole, tsvma sends TSO segments', async () => {
    // kernel → tsvma: the kernel's TCP sends GSO frames with partial checksums (lost before PACKET_VNET_HDR).
    const server = watch(spawnNode(link.a, tsvmaEnv(link), `
      const net = require(${JSON.stringify(tsvmaNet)});
      const rt = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'lib', 'runtime.js'))});
      const srv = net.createServer((c) => { ${RECEIVER('c')} c.on('close', () => { const s = rt.runtime().engine.stats(); console.log('gso', s['device.rxGso'], 'copied', s['device.rxCopied']); srv.close(); }); });
      srv.listen(7011, () => console.log('listening'));`));
    await server.line(/listening/);
    const client = watch(link.b.spawn(process.execPath, ['-e', SENDER(`const sock = require('net').connect(7011, '${link.a.ip}');`, BYTES)]));
    const sent = await client.line(/sent (\d+) (\w+)/, 120000);
    const got = await server.line(/received (\d+) (\w+) (\d+) MB\/s/, 120000);
    expect(got[1]).toBe(String(BYTES));
    expect(got[2]).toBe(sent[2]);
    const gso = await server.line(/gso (\d+) copied (\d+)/);
    expect(Number(gso[1])).toBeGreaterThan(0);
    await Promise.all([client.exited, server.exited]);
    // tsvma → kernel: TSO segments (many MSS per frame) through the vnet header.
    const ks = watch(link.b.spawn(process.execPath, ['-e', `
      const srv = require('net').createServer((c) => { ${RECEIVER('c')} c.on('close', () => srv.close()); });
      srv.listen(7012, '${link.b.ip}', () => console.log('listening'));`]));
    await ks.line(/listening/);
    const tc = watch(spawnNode(link.a, tsvmaEnv(link), SENDER(`
      const rt = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'lib', 'runtime.js'))});
      const sock = require(${JSON.stringify(tsvmaNet)}).connect(7012, '${link.b.ip}');
      sock.on('close', () => console.log('tso', rt.runtime().engine.stats()['device.txTso']));`, BYTES)));
    const sent2 = await tc.line(/sent (\d+) (\w+)/, 120000);
    const got2 = await ks.line(/received (\d+) (\w+) (\d+) MB\/s/, 120000);
    expect(got2[1]).toBe(String(BYTES));
    expect(got2[2]).toBe(sent2[2]);
    await Promise.all([tc.exited, ks.exited]);
    expect(Number((await tc.line(/tso (\d+)/))[1])).toBeGreaterThan(0);
    console.log(`offloads on: kernel → tsvma ${got[3]} MB/s (${gso[1]} GSO frames), tsvma → kernel ${got2[3]} MB/s`);
  }, 300000);
});
