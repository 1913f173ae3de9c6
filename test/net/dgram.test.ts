/**
 * tsvma/dgram as an application uses it: child processes running the built package with
 * TSVMA_DEVICE set, against the kernel peer (packet device, inside the namespace via `ip netns
 * exec`) and in one process (sim device, traffic to the stack's own address).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnNode, tsvmaEnv } from '../helpers/engine';
import { createLink, type Link } from '../helpers/netns';

const dgram = path.join(__dirname, '..', '..', 'dist', 'lib', 'dgram.js');

function runNode(script: string, env: Record<string, string>, ns?: string, timeout = 15000) {
  const cmd = ns ? 'ip' : process.execPath;
  const args = ns ? ['netns', 'exec', ns, process.execPath, '-e', script] : ['-e', script];
  return spawnSync(cmd, args, { encoding: 'utf8', timeout, env: { PATH: process.env.PATH, VMA_CONFIG_FILE: '/nonexistent/libvma.conf', ...env } });
}

/**
 * The parity scenarios run twice: on node:dgram (kernel sockets on 127.0.0.1) and on tsvma/dgram
 * (sim device, 198.18.0.2); the printed events, values and error codes must be the same.
 */
const parity = {
  exchange: (mod: string, addr: string) => `
    const dgram = require(${JSON.stringify(mod)});
    const a = dgram.createSocket('udp4'); const b = dgram.createSocket({ type: 'udp4' });
    const log = [];
    b.on('message', (msg, rinfo) => {
      log.push(['b got', msg.toString(), rinfo.address, rinfo.family, rinfo.port === a.address().port, rinfo.size]);
      b.send(Buffer.from('pong'), rinfo.port, rinfo.address, (err, n) => log.push(['b sent', err, n]));
    });
    a.on('message', (msg, rinfo) => {
      log.push(['a got', msg.toString(), rinfo.port, rinfo.address]);
      a.close(() => { log.push('a closed'); b.close(() => { log.push('b closed'); console.log(JSON.stringify(log)); }); });
    });
    b.on('listening', () => log.push('listening event'));
    b.bind(9500, '${addr}', () => {
      log.push(['bound', b.address()]);
      a.send(['pi', Buffer.from('ng')], 9500, '${addr}', (err, n) => log.push(['a sent', err, n]));
    });`,
  errors: (mod: string, addr: string) => `
    const dgram = require(${JSON.stringify(mod)});
    const out = [];
    const t = (f) => { try { f(); out.push('no error'); } catch (e) { out.push(e.code + ' ' + e.name); } };
    t(() => dgram.createSocket('udp5'));
    t(() => dgram.createSocket({ type: 'udp4', signal: 'nope' }));
    const s = dgram.createSocket('udp4');
    t(() => s.send('x', 70000, '${addr}'));
    t(() => s.send('x', 0, '${addr}'));
    t(() => s.send('x'));
    t(() => s.send(42, 1, '${addr}'));
    t(() => s.address());
    t(() => s.remoteAddress());
    t(() => s.disconnect());
    t(() => s.getRecvBufferSize());
    const bad = dgram.createSocket('udp4');
    t(() => bad.bind(-1));
    t(() => bad.bind(1));
    s.bind(9600, () => {
      t(() => s.bind(9601));
      t(() => s.connect(0, '${addr}'));
      out.push(s.ref() === s, s.unref() === s);
      s.ref();
      const s2 = dgram.createSocket('udp4');
      s2.on('error', (e) => {
        out.push([e.code, e.errno, e.syscall, e.address, e.port, e.message].join('|'));
        s.close();
        t(() => s.close());
        t(() => s.send('x', 1, '${addr}'));
        t(() => s.address());
        console.log(JSON.stringify(out));
        s2.close();
        bad.close();
      });
      s2.bind(9600);
    });`,
  connected: (mod: string, addr: string) => `
    const dgram = require(${JSON.stringify(mod)});
    const srv = dgram.createSocket('udp4'); const c = dgram.createSocket('udp4');
    const log = [];
    srv.on('message', (m, ri) => { log.push(['srv got', m.toString(), ri.address]); if (m.toString() === 'two') done(); else if (m.toString() === 'one') srv.send('back', ri.port, ri.address); });
    function done() {
      c.disconnect();
      try { c.remoteAddress(); } catch (e) { log.push(e.code); }
      c.close(() => srv.close(() => console.log(JSON.stringify(log))));
    }
    srv.bind(9510, '${addr}', () => {
      c.connect(9510, '${addr}', () => {
        log.push(['connect', c.remoteAddress()]);
        try { c.send('x', 9510, '${addr}'); } catch (e) { log.push(e.code); }
        try { c.connect(9510, '${addr}'); } catch (e) { log.push(e.code); }
        c.send('one', (err, n) => log.push(['sent', err, n]));
      });
      c.on('message', (m, ri) => { log.push(['c got', m.toString(), ri.port]); c.send(Buffer.from('xtwox'), 1, 3); });
    });`,
  refused: (mod: string, addr: string) => `
    const dgram = require(${JSON.stringify(mod)});
    const c = dgram.createSocket('udp4');
    c.on('error', (e) => { console.log(JSON.stringify([e.code, e.errno, e.syscall, e.message])); c.close(); });
    c.connect(9599, '${addr}', () => c.send('anyone?'));`,
  multicast: (mod: string, addr: string) => `
    const dgram = require(${JSON.stringify(mod)});
    const out = [];
    const t = (f) => { try { const r = f(); out.push(r === undefined ? 'ok' : r); } catch (e) { out.push(e.code + ' ' + e.name + ' ' + e.message); } };
    const s = dgram.createSocket('udp4');
    t(() => s.setMulticastTTL(2));
    t(() => s.setMulticastLoopback(true));
    s.bind(9520, '${addr}', () => {
      t(() => s.setMulticastTTL('1')); t(() => s.setMulticastTTL(300)); t(() => s.setMulticastTTL(3));
      t(() => s.setMulticastLoopback(false)); t(() => s.setMulticastLoopback(1));
      t(() => s.setMulticastInterface(5)); t(() => s.setMulticastInterface('nope'));
      t(() => s.setMulticastInterface('198.18.255.254')); t(() => s.setMulticastInterface('${addr}'));
      t(() => s.addMembership()); t(() => s.addMembership('nope')); t(() => s.addMembership('198.18.0.9'));
      t(() => s.addMembership('239.5.5.5', '198.18.255.254'));
      t(() => s.addMembership('239.5.5.5', '${addr}')); t(() => s.addMembership('239.5.5.5', '${addr}'));
      t(() => s.dropMembership('239.6.6.6', '${addr}')); t(() => s.dropMembership('239.5.5.5', '${addr}'));
      t(() => s.addSourceSpecificMembership(1, '232.1.1.1')); t(() => s.addSourceSpecificMembership('198.18.0.1', 2));
      t(() => s.addSourceSpecificMembership('198.18.0.1', '232.1.1.1', '${addr}'));
      t(() => s.addSourceSpecificMembership('198.18.0.1', '232.1.1.1', '${addr}'));
      t(() => s.addSourceSpecificMembership('198.18.0.1', '198.18.0.2', '${addr}'));
      t(() => s.dropSourceSpecificMembership('198.18.0.3', '232.1.1.1', '${addr}'));
      t(() => s.dropSourceSpecificMembership('198.18.0.1', '232.1.1.1', '${addr}'));
      t(() => s.dropSourceSpecificMembership('198.18.0.1', '232.1.1.1', '${addr}'));
      t(() => s.setTTL(0)); t(() => s.setTTL(64)); t(() => s.setBroadcast(true));
      console.log(JSON.stringify(out));
      s.close();
    });`,
  broadcast: (mod: string, addr: string) => `
    const dgram = require(${JSON.stringify(mod)});
    const s = dgram.createSocket('udp4');
    const log = [];
    s.bind(9530, '${addr}', () => {
      s.send('x', 9531, '255.255.255.255', (err) => {
        log.push(err && [err.code, err.syscall, err.address, err.port]);
        s.close(() => { log.push('closed'); console.log(JSON.stringify(log)); });
      });
    });`,
  unbound: (mod: string, addr: string) => `
    const dgram = require(${JSON.stringify(mod)});
    const out = [];
    const t = (f) => { try { const r = f(); out.push(r === undefined ? 'ok' : r); } catch (e) { out.push(e.code + ' ' + e.name + ' ' + e.message); } };
    const s = dgram.createSocket('udp4');
    s.on('error', (e) => out.push(['error event', e.code, e.errno, e.syscall, e.address, e.port, e.message]));
    s.on('listening', () => out.push('listening'));
    s.on('message', () => out.push('message'));
    // No handle yet: the argument first (EINVAL), then EBADF.
    t(() => s.setMulticastTTL(300)); t(() => s.setMulticastTTL(2)); t(() => s.setMulticastLoopback(true));
    t(() => s.setMulticastInterface('nope')); t(() => s.setMulticastInterface('${addr}'));
    t(() => s.setBroadcast(true)); t(() => s.setTTL(0)); t(() => s.setTTL(5)); t(() => s.getRecvBufferSize());
    // A group that does not parse: EINVAL, still no handle.
    t(() => s.addMembership('nope')); t(() => s.addSourceSpecificMembership('nope', '232.1.1.1')); t(() => s.address());
    // A membership call binds the handle to 0.0.0.0:0 (libuv's deferred bind), then runs.
    t(() => s.addMembership('239.1.2.3', 'nope'));
    t(() => { const a = s.address(); return [a.address, a.family, a.port > 0]; });
    t(() => s.addMembership('239.1.2.3', '${addr}')); t(() => s.addMembership('239.1.2.3', '${addr}'));
    t(() => s.setMulticastTTL(2)); t(() => s.setMulticastInterface('${addr}')); t(() => s.setTTL(9)); t(() => s.setBroadcast(false));
    t(() => s.getRecvBufferSize() > 0); t(() => s.dropMembership('239.1.2.3', '${addr}'));
    const s2 = dgram.createSocket('udp4');
    t(() => s2.dropMembership('239.1.2.4', '${addr}')); t(() => s2.address().port > 0);
    t(() => s2.addSourceSpecificMembership('198.18.0.1', '232.1.1.1', '${addr}')); t(() => s2.address().address);
    s2.close();
    // The socket is still unbound for dgram: a send's implicit bind and an explicit bind fail (EINVAL, async).
    s.send('x', 9999, '${addr}', (err) => out.push(['send cb', err && err.code]));
    out.push('after send');
    setTimeout(() => {
      s.bind(0);
      out.push('after bind');
      setTimeout(() => s.close(() => { out.push('closed'); console.log(JSON.stringify(out)); }), 50);
    }, 50);`,
};

describe('tsvma/dgram parity with node:dgram (loopback offload: sim device, TSVMA_LOOPBACK=1, in one process)', () => {
  const env = { TSVMA_DEVICE: 'sim', TSVMA_LOOPBACK: '1' };
  for (const [name, script] of Object.entries(parity)) {
    it(`${name}: same events, values and errors as node:dgram on 127.0.0.1`, () => {
      const mine = runNode(script(dgram, '127.0.0.1'), env);
      const theirs = runNode(script('dgram', '127.0.0.1'), {});
      expect(mine.stderr).toBe('');
      expect(theirs.stderr).toBe('');
      expect(mine.status).toBe(0); // the process ended by itself once its sockets closed
      expect(mine.stdout).toBe(theirs.stdout);
      expect(mine.stdout.length).toBeGreaterThan(20);
    });
  }

  it('a socket bound to another loopback address sends from it (127.0.0.5 → 127.0.0.1), as on Linux', () => {
    const script = (mod: string) => `
      const dgram = require(${JSON.stringify(mod)});
      const a = dgram.createSocket('udp4'), b = dgram.createSocket('udp4');
      b.on('message', (m, r) => { console.log(m.toString(), r.address, r.port === a.address().port); a.close(); b.close(); });
      b.bind(0, '127.0.0.1', () => a.bind(0, '127.0.0.5', () => a.send('x', b.address().port, '127.0.0.1')));`;
    const mine = runNode(script(dgram), env);
    expect(mine.stderr).toBe('');
    expect(mine.stdout).toBe(runNode(script('dgram'), {}).stdout);
    expect(mine.stdout.trim()).toBe('x 127.0.0.5 true');
  });

  it('runs the scenarios on tsvma\'s stack (the sockets are offloaded)', () => {
    const r = runNode(`
      const dgram = require(${JSON.stringify(dgram)});
      const a = dgram.createSocket('udp4'); const b = dgram.createSocket('udp4');
      a.bind(0, '127.0.0.1', () => b.connect(a.address().port, '127.0.0.1', () => {
        console.log(a.offloaded, b.offloaded, b.address().address);
        a.close(); b.close();
      }));`, env);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('true true 127.0.0.1');
  });
});

describe('tsvma/dgram offload decisions (sim device)', () => {
  const env = { TSVMA_DEVICE: 'sim', TSVMA_ADDR: '198.18.0.2/24' };
  it('exchange on the stack\'s own address: the same as node:dgram on 127.0.0.1', () => {
    const mine = runNode(parity.exchange(dgram, '198.18.0.2'), env);
    const theirs = runNode(parity.exchange('dgram', '127.0.0.1'), {});
    expect(mine.stderr).toBe('');
    expect(mine.stdout.replace(/198\.18\.0\.2/g, 'ADDR')).toBe(theirs.stdout.replace(/127\.0\.0\.1/g, 'ADDR'));
  });

  it('leaves loopback to Node without TSVMA_LOOPBACK (a socket bound implicitly by a send to 127.0.0.1)', () => {
    const r = runNode(`
      const dgram = require(${JSON.stringify(dgram)});
      const srv = dgram.createSocket('udp4'); const c = dgram.createSocket('udp4');
      srv.on('message', (m) => { console.log(m.toString(), srv.offloaded, c.offloaded); srv.close(); c.close(); });
      srv.bind(0, '127.0.0.1', () => c.send('hi', srv.address().port, '127.0.0.1'));`, env);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('hi false false');
  });

  it('a process whose poller never sleeps (VMA_RX_POLL=-1) still exits once its sockets are closed', () => {
    const r = runNode(`
      const dgram = require(${JSON.stringify(dgram)});
      const s = dgram.createSocket('udp4');
      s.bind(0, () => setTimeout(() => s.close(() => console.log('closed', s.offloaded)), 100));`, { ...env, VMA_RX_POLL: '-1' }, undefined, 8000);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0); // not killed by the timeout
    expect(r.stdout.trim()).toBe('closed true');
  });

  it('offloads the sockets it should', () => {
    const r = runNode(`
      const dgram = require(${JSON.stringify(dgram)});
      const s = dgram.createSocket('udp4');
      s.bind(0, () => { console.log(s.offloaded, s.address().address); s.close(); });`, env);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('true 0.0.0.0');
  });

  it('passes a socket through to Node when a libvma.conf rule says os', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-conf-'));
    try {
      fs.writeFileSync(path.join(dir, 'libvma.conf'), 'use os udp_receiver *:9700\n');
      const r = runNode(`
        const dgram = require(${JSON.stringify(dgram)});
        const a = dgram.createSocket('udp4'); const b = dgram.createSocket('udp4');
        a.bind(9700, '127.0.0.1', () => b.bind(9701, () => {
          console.log(a.offloaded, b.offloaded, a.address().address);
          a.close(); b.close();
        }));`, { ...env, VMA_CONFIG_FILE: path.join(dir, 'libvma.conf') });
      expect(r.stderr).toBe('');
      // 9700 by the rule, and 127.0.0.1 is not tsvma's address: both reasons give Node's socket; 9701 is offloaded.
      expect(r.stdout.trim()).toBe('false true 127.0.0.1');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a destination the stack cannot route goes through a kernel socket on the same port, as VMA does (and replies come back to it)', () => {
    // Without TSVMA_LOOPBACK, 127.0.0.1 is not tsvma's: the wildcard-bound offloaded client reaches a kernel server there.
    const script = (mod: string) => `
      const dgram = require(${JSON.stringify(mod)});
      const srv = dgram.createSocket('udp4'); const c = dgram.createSocket('udp4');
      const log = [];
      srv.on('message', (m, ri) => { log.push(['srv got', m.toString(), ri.address, ri.port === c.address().port]); srv.send('re:' + m, ri.port, ri.address); });
      c.on('message', (m, ri) => {
        log.push(['c got', m.toString(), ri.address, ri.port === srv.address().port]);
        c.close(() => srv.close(() => console.log(JSON.stringify(log) + '\\n' + c.offloaded)));
      });
      srv.bind(0, '127.0.0.1', () => c.bind(0, () => {
        c.send('one', srv.address().port, '127.0.0.1', (err, n) => log.push(['c sent', err, n]));
        c.send('two', srv.address().port, '127.0.0.1', (err, n) => log.push(['c sent', err, n]));
      }));`;
    const mine = runNode(script(dgram), env);
    const theirs = runNode(script('dgram'), {});
    expect(mine.stderr).toBe('');
    expect(mine.status).toBe(0);
    const [log, offloaded] = mine.stdout.trim().split('\n');
    expect(offloaded).toBe('true');
    expect(log).toBe(theirs.stdout.trim().split('\n')[0]);
    expect(log).toContain('"c got","re:one","127.0.0.1",true');
  });

  it('when the kernel refuses that port, the send fails with the kernel\'s bind error (callback), and the socket goes on', () => {
    const r = runNode(`
      const dgram = require(${JSON.stringify(dgram)});
      const k = require('node:dgram').createSocket('udp4');
      k.bind(0, '0.0.0.0', () => {
        const c = dgram.createSocket('udp4');
        // The same port on tsvma's stack: its port space is its own, so this bind succeeds offloaded.
        c.bind(k.address().port, () => c.send('x', 9, '127.0.0.1', (err) => {
          console.log(c.offloaded, err && err.code, err && err.syscall);
          c.send('y', 9, '198.18.0.2', (err2, n) => { console.log(err2, n); c.close(); k.close(); });
        }));
      });`, env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['true EADDRINUSE bind', 'null 1']);
  });

  it('passes every socket through with no device configured', () => {
    const r = runNode(`
      const dgram = require(${JSON.stringify(dgram)});
      const s = dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1', () => { console.log(s.offloaded, s.address().address); s.close(); });`, {});
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('false 127.0.0.1');
  });
});

describe('tsvma/dgram on the packet device against the kernel peer', () => {
  let link: Link;
  beforeAll(async () => { link = await createLink({ tag: 'dgram', assignIpA: false }); });
  afterAll(async () => { await link?.destroy(); });

  it('an offloaded echo server answers a kernel client, and an offloaded client talks to a kernel server', async () => {
    const env = tsvmaEnv(link);
    // Kernel side: an echo server on b and, after it, a client to tsvma's echo server.
    const kernel = link.b.spawn('python3', ['-c', `
import socket, sys, time
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); srv.bind(("${link.b.ip}", 9800))
print("ready", flush=True)
data, addr = srv.recvfrom(2048); srv.sendto(data.upper(), addr)
time.sleep(0.5)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(5)
for i in range(5):
    c.sendto(b"echo %d" % i, ("${link.a.ip}", 9900)); print(c.recvfrom(2048)[0].decode(), flush=True)
`]);
    let kout = '';
    kernel.stdout!.on('data', (d: Buffer) => (kout += d.toString()));
    while (!kout.includes('ready')) await new Promise((r) => setTimeout(r, 20));
    const r = runNode(`
      const dgram = require(${JSON.stringify(dgram)});
      const c = dgram.createSocket('udp4');
      const srv = dgram.createSocket('udp4');
      let echoed = 0;
      srv.on('message', (m, ri) => { srv.send(m, ri.port, ri.address); if (++echoed === 5) { srv.close(); } });
      srv.bind(9900);
      c.connect(9800, '${link.b.ip}', () => {
        c.send('hello kernel');
        c.on('message', (m, ri) => { console.log(m.toString(), ri.address, c.remoteAddress().port, c.offloaded); c.close(); });
      });`, env, link.a.ns, 20000);
    await new Promise((res) => kernel.once('close', res));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(`HELLO KERNEL ${link.b.ip} 9800 true`);
    expect(kout.trim().split('\n').slice(1)).toEqual(['echo 0', 'echo 1', 'echo 2', 'echo 3', 'echo 4']);
  }, 30000);

  it('talks with socat and with Node (kernel sockets) on the kernel side, both ways', async () => {
    const env = tsvmaEnv(link);
    // Kernel side: socat prints one datagram it receives; a kernel Node echo server; then socat sends one to tsvma.
    const sink = link.b.spawn('socat', ['-u', `UDP-RECV:9961,bind=${link.b.ip}`, 'STDOUT']);
    let sunk = '';
    sink.stdout!.on('data', (d: Buffer) => (sunk += d.toString()));
    // socat binds after it starts: on a loaded machine a datagram sent before that meets a closed port.
    for (let i = 0; i < 500; i++) {
      if ((await link.b.exec('ss', ['-Hun', 'sport', '= :9961'])).stdout.includes(':9961')) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const echo = link.b.spawn(process.execPath, ['-e', `
      const s = require('node:dgram').createSocket('udp4');
      s.on('message', (m, r) => s.send(Buffer.concat([Buffer.from('node:'), m]), r.port, r.address, () => s.close()));
      s.bind(9962, '${link.b.ip}', () => console.log('ready'));`]);
    let echoOut = '';
    echo.stdout!.on('data', (d: Buffer) => (echoOut += d.toString()));
    for (let i = 0; i < 500 && !echoOut.includes('ready'); i++) await new Promise((r) => setTimeout(r, 10));
    const child = spawnNode(link.a, env, `
      const dgram = require(${JSON.stringify(dgram)});
      const s = dgram.createSocket('udp4');
      let n = 0;
      s.on('message', (m, r) => { console.log(m.toString().trim(), r.address); if (++n === 2) s.close(); });
      s.bind(9960, () => {
        s.send('to socat', 9961, '${link.b.ip}');
        s.send('ping', 9962, '${link.b.ip}');
        console.log('ready', s.offloaded);
      });`);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 500 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 10));
    const sent = await link.b.exec('sh', ['-c', `echo from socat | socat - UDP-SENDTO:${link.a.ip}:9960`]);
    expect(sent.code).toBe(0);
    for (let i = 0; i < 500 && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 200 && !sunk.includes('to socat'); i++) await new Promise((r) => setTimeout(r, 10));
    for (const p of [sink, echo, child]) p.kill();
    expect(out.trim().split('\n').sort()).toEqual(['from socat ' + link.b.ip, 'node:ping ' + link.b.ip, 'ready true']);
    expect(sunk).toBe('to socat');
  }, 30000);

  it('a flood while the program is busy: what does not fit is dropped and counted, every datagram accounted for, memory bounded', async () => {
    const env = tsvmaEnv(link);
    const N = 20000;
    const runtimeJs = path.join(__dirname, '..', '..', 'dist', 'lib', 'runtime.js');
    // The program blocks its event loop right after binding (as a busy Node program would) until the
    // kernel has flooded it, then reports what it got and the drop counters.
    const flag = path.join(os.tmpdir(), `tsvma-flood-${process.pid}`);
    fs.rmSync(flag, { force: true });
    const child = spawnNode(link.a, env, `
      const dgram = require(${JSON.stringify(dgram)});
      const { runtime } = require(${JSON.stringify(runtimeJs)});
      const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 65536 });
      let got = 0, bytes = 0, warm = false;
      s.on('message', (m) => { if (!warm) { warm = true; block(); return; } got++; bytes += m.length; });
      s.bind(9950, () => console.log('bound'));
      // The first datagram (the kernel has resolved tsvma's MAC by then) starts the busy spell.
      function block() {
        global.gc && gc();
        const heap0 = process.memoryUsage().heapUsed;
        console.log('ready');
        const until = Date.now() + 15000;
        while (!require('fs').existsSync(${JSON.stringify(flag)}) && Date.now() < until);
        setTimeout(() => {
          const st = runtime().engine.stats();
          global.gc && gc();
          const heapKB = Math.round((process.memoryUsage().heapUsed - heap0) / 1024);
          console.log(JSON.stringify({ got, bytes, kernelDrops: st['device.kernelDrops'], heapKB, offloaded: s.offloaded }));
          s.close();
        }, 1000);
      }`);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    for (let i = 0; i < 500 && !out.includes('bound'); i++) await new Promise((r) => setTimeout(r, 10));
    await link.b.exec('python3', ['-c', `import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"warm", ("${link.a.ip}", 9950))`]);
    for (let i = 0; i < 500 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(out).toContain('ready');
    const softnetDrops = (): number => fs.readFileSync('/proc/net/softnet_stat', 'utf8').trim().split('\n').reduce((n, l) => n + parseInt(l.split(' ')[1], 16), 0);
    const softnet0 = softnetDrops();
    const blast = await link.b.exec('python3', ['-c', `
import socket
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
p = bytes(200)
for i in range(${N}): c.sendto(p, ("${link.a.ip}", 9950))
print("sent", flush=True)`], { timeoutMs: 20000 });
    expect(blast.stdout.trim()).toBe('sent');
    fs.writeFileSync(flag, '');
    await new Promise((r) => child.once('close', r));
    fs.rmSync(flag, { force: true });
    // Frames the kernel dropped before any socket (the CPU backlog veth feeds): host-wide counter.
    const backlogDrops = softnetDrops() - softnet0;

    // Frames the kernel dropped before the packet socket (veth's backlog): counted by the kernel, per interface.
    const dropsOf = async (h: typeof link.a): Promise<number> => {
      const j = JSON.parse((await h.exec('ip', ['-s', '-j', 'link', 'show', h.ifname])).stdout) as { stats64: { rx: { dropped: number }; tx: { dropped: number } } }[];
      return j[0].stats64.rx.dropped + j[0].stats64.tx.dropped;
    };
    const linkDrops = (await dropsOf(link.a)) + (await dropsOf(link.b));

    expect(err).toBe('');
    const r = JSON.parse(out.trim().split('\n').pop()!) as { got: number; bytes: number; kernelDrops: number; heapKB: number; offloaded: boolean };
    expect(r.offloaded).toBe(true);
    expect(r.kernelDrops).toBeGreaterThan(0); // the ring (not the heap) bounds what waits
    expect(r.got + r.kernelDrops + linkDrops + backlogDrops).toBe(N);
    expect(r.bytes).toBe(r.got * 200);
    expect(r.heapKB).toBeLessThan(8192);
  }, 30000);
});
