/**
 * tsvma/net against node:net: each scenario runs as a child process twice — on node:net (kernel
 * sockets on 127.0.0.1) and on tsvma/net with the in-process loopback offload (TSVMA_DEVICE=sim,
 * TSVMA_LOOPBACK=1), where every socket must really be offloaded — and prints a log of events,
 * values and errors that must be the same. Then: http over tsvma, and `tsvma/register`.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const dist = path.join(__dirname, '..', '..', 'dist', 'lib');
const tsvmaNet = path.join(dist, 'net.js');
const register = path.join(dist, 'register.js');
const LOOPBACK = { TSVMA_DEVICE: 'sim', TSVMA_LOOPBACK: '1' };

function runNode(script: string, env: Record<string, string>, args: string[] = [], timeout = 30000) {
  return spawnSync(process.execPath, [...args, '-e', script], {
    encoding: 'utf8', timeout, env: { PATH: process.env.PATH, VMA_CONFIG_FILE: '/nonexistent/libvma.conf', ...env },
  });
}

/** Helpers every scenario gets: `log`, `off(sock)` (records whether a socket is offloaded), `done()`. */
const prelude = (mod: string) => `
  const net = require(${JSON.stringify(mod)});
  // One log per side: the order of events between client and server is the scheduler's, not the API's.
  const slog = []; const clog = []; const log = { push: (e) => slog.push(e) }; const offloaded = [];
  const off = (s) => offloaded.push(!!(s._handle && s._handle.offloaded));
  const done = () => {};
  process.on('exit', () => console.log(JSON.stringify({ log: { server: slog, client: clog }, offloaded })));
  const errText = (e) => [e.code, e.errno, e.syscall, e.address, e.port, e.message].join('|');
`;

const scenarios: Record<string, string> = {
  echo: `
    const server = net.createServer((c) => {
      off(c);
      log.push(['connection', c.remoteAddress, c.remoteFamily, c.localAddress, c.localPort, c.readyState]);
      c.on('data', (d) => { log.push(['server data', d.toString()]); c.write(d); });
      c.on('end', () => { log.push('server end'); c.end(); });
      c.on('close', (hadError) => { log.push(['server sock close', hadError, c.bytesRead, c.bytesWritten]);
        server.getConnections((err, n) => { log.push(['connections', err, n]); server.close(() => { log.push('server closed'); done(); }); });
      });
    });
    server.on('listening', () => log.push(['listening', server.address()]));
    server.listen(9700, '127.0.0.1', () => {
      const c = net.connect(9700, '127.0.0.1');
      clog.push(['client state', c.readyState, c.connecting, c.pending]);
      c.on('connect', () => { off(c); clog.push(['connect', c.remoteAddress, c.remotePort, c.localAddress, c.readyState, c.connecting, c.pending]); });
      c.on('ready', () => clog.push('ready'));
      c.write('hello');
      c.on('data', (d) => { clog.push(['client data', d.toString()]); c.end(); clog.push(['after end', c.readyState, c.writable]); });
      c.on('finish', () => clog.push('client finish'));
      c.on('end', () => clog.push(['client end', c.readyState]));
      c.on('close', (hadError) => clog.push(['client close', hadError, c.bytesRead, c.bytesWritten, c.readyState, c.destroyed]));
    });`,

  errors: `
    const t = (f) => { try { f(); log.push('no error'); } catch (e) { log.push(e.code + ' ' + e.name); } };
    t(() => net.connect(70000, '127.0.0.1'));
    t(() => net.connect({ host: '127.0.0.1' }));
    t(() => net.createServer().listen(-5));
    const c = net.connect(9701, '127.0.0.1');
    c.on('error', (e) => {
      log.push(['refused', errText(e)]);
      c.on('close', (hadError) => {
        log.push(['close after error', hadError, c.destroyed]);
        const a = net.createServer().listen(9702, '127.0.0.1', () => {
          off(a);
          const b = net.createServer();
          b.on('error', (e2) => {
            log.push(['in use', errText(e2), b.listening]);
            a.close(() => {
              const s = new net.Socket();
              t(() => s.write('x'));
              s.on('error', (e3) => { log.push(['write before connect', e3.code]); done(); });
            });
          });
          b.listen(9702, '127.0.0.1');
        });
      });
    });`,

  halfClose: `
    const server = net.createServer({ allowHalfOpen: true }, (c) => {
      off(c);
      c.on('data', (d) => log.push(['server data', d.toString()]));
      c.on('end', () => {
        log.push(['server end', c.readyState, c.writable]);
        setTimeout(() => c.end('late reply'), 20);
      });
      c.on('close', () => { log.push('server sock close'); server.close(done); });
    });
    server.listen(9703, '127.0.0.1', () => {
      const c = net.connect({ port: 9703, host: '127.0.0.1', allowHalfOpen: true }, () => { off(c); c.end('request'); });
      c.on('data', (d) => clog.push(['client data', d.toString(), c.readyState]));
      c.on('end', () => clog.push(['client end', c.readyState]));
      c.on('close', (e) => clog.push(['client close', e]));
    });`,

  reset: `
    const server = net.createServer((c) => {
      off(c);
      c.on('error', (e) => log.push(['server error', e.code, e.syscall, e.message]));
      c.on('close', (hadError) => { log.push(['server sock close', hadError]); server.close(done); });
    });
    server.listen(9704, '127.0.0.1', () => {
      const c = net.connect(9704, '127.0.0.1', () => { off(c); c.resetAndDestroy(); clog.push(['after reset', c.destroyed]); });
      c.on('close', (hadError) => clog.push(['client close', hadError]));
    });`,

  bulk: `
    const crypto = require('crypto');
    const total = 8 * 1024 * 1024;
    const data = crypto.randomBytes(total);
    const want = crypto.createHash('sha256').update(data).digest('hex');
    const server = net.createServer((c) => {
      off(c);
      const h = crypto.createHash('sha256'); let n = 0;
      c.on('data', (d) => { h.update(d); n += d.length; });
      c.on('end', () => { log.push(['received', n, h.digest('hex') === want]); c.end(); });
      c.on('close', () => server.close(done));
    });
    server.listen(9705, '127.0.0.1', () => {
      const c = net.connect(9705, '127.0.0.1', () => {
        off(c);
        let at = 0; let sawFalse = false; let drains = 0;
        const pump = () => {
          while (at < total) {
            const chunk = data.subarray(at, at + 65536); at += chunk.length;
            if (!c.write(chunk)) { sawFalse = true; return; }
          }
          c.end();
          clog.push(['backpressure seen', sawFalse, drains > 0 || !sawFalse]);
        };
        c.on('drain', () => { drains++; pump(); });
        pump();
      });
      c.on('close', () => clog.push(['client close', c.bytesWritten]));
    });`,

  options: `
    const server = net.createServer({ pauseOnConnect: true }, (c) => {
      off(c);
      log.push(['paused', c.isPaused()]);
      setTimeout(() => { c.resume(); }, 20);
      c.on('data', (d) => { log.push(['data after resume', d.toString()]); c.end(); });
      c.on('close', () => server.close(done));
    });
    server.maxConnections = 10;
    server.listen(9706, '127.0.0.1', () => {
      const c = net.createConnection({ port: 9706, host: '127.0.0.1', noDelay: true, keepAlive: true }, () => {
        off(c);
        clog.push([c.setNoDelay(true) === c, c.setKeepAlive(true, 1000) === c, c.ref() === c, c.unref() === c]);
        c.ref();
        c.setTimeout(30, () => { clog.push(['timeout', c.timeout]); c.setTimeout(0); c.write('x'); });
      });
      c.setEncoding('utf8');
      c.on('end', () => clog.push('client end'));
    });`,

  corkAndOnread: `
    const server = net.createServer((c) => {
      off(c);
      c.cork(); c.write('a'); c.write(Buffer.from('b')); c.write('c', 'latin1'); process.nextTick(() => { c.uncork(); c.end(); });
      c.on('close', () => server.close(done));
    });
    server.listen(9707, '127.0.0.1', () => {
      const chunks = [];
      const c = net.connect({ port: 9707, host: '127.0.0.1', onread: { buffer: Buffer.alloc(2), callback: (n, buf) => { chunks.push(buf.toString('latin1', 0, n)); } } }, () => off(c));
      c.on('end', () => clog.push(['onread got', chunks.join(''), chunks.every((x) => x.length <= 2), c.bytesRead]));
    });`,
};

describe('tsvma/net parity with node:net (loopback offload)', () => {
  for (const [name, body] of Object.entries(scenarios)) {
    test(name, () => {
      const kernel = runNode(prelude('net') + body, {});
      expect(kernel.stderr).toBe('');
      const ours = runNode(prelude(tsvmaNet) + body, LOOPBACK);
      expect(ours.stderr).toBe('');
      const k = JSON.parse(kernel.stdout);
      const o = JSON.parse(ours.stdout);
      expect(o.log).toEqual(k.log);
      // Every socket that reached 'connect'/'connection' ran on tsvma's stack; node:net's on the kernel.
      expect(o.offloaded.length).toBeGreaterThan(0);
      expect(o.offloaded.every(Boolean)).toBe(true);
      expect(k.offloaded.every((x: boolean) => !x)).toBe(true);
    }, 60000);
  }
});

describe('http over tsvma', () => {
  const httpScript = `
    const http = require('http');
    const log = [];
    const server = http.createServer((req, res) => {
      log.push(['request', req.method, req.url, req.headers['x-test'], !!(req.socket._handle && req.socket._handle.offloaded)]);
      let body = '';
      req.on('data', (d) => body += d);
      req.on('end', () => res.end('echo:' + body));
    });
    server.listen(9710, '127.0.0.1', () => {
      let left = 20;
      const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
      for (let i = 0; i < 20; i++) {
        const req = http.request({ host: '127.0.0.1', port: 9710, method: 'POST', path: '/p' + i, agent, headers: { 'x-test': 'y' } }, (res) => {
          let b = ''; res.on('data', (d) => b += d);
          const offloaded = !!(res.socket && res.socket._handle && res.socket._handle.offloaded);
          res.on('end', () => {
            log.push(['response', res.statusCode, b, offloaded]);
            if (--left === 0) { agent.destroy(); server.close(() => console.log(JSON.stringify(log))); }
          });
        });
        req.end('body' + i);
      }
    });`;

  test('an unmodified http server and client under tsvma/register are offloaded', () => {
    const r = runNode(httpScript, LOOPBACK, ['--require', register]);
    expect(r.stderr).toBe('');
    const log = JSON.parse(r.stdout) as unknown[][];
    const requests = log.filter((e) => e[0] === 'request');
    const responses = log.filter((e) => e[0] === 'response');
    expect(requests).toHaveLength(20);
    expect(responses).toHaveLength(20);
    expect(requests.every((e) => e[3] === 'y' && e[4] === true)).toBe(true);
    expect(responses.map((e) => e[2]).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `echo:body${i}`).sort());
    expect(responses.every((e) => e[1] === 200 && e[3] === true)).toBe(true);
  }, 60000);

  test('without register: http server fed by a tsvma net.Server, http.Agent connecting through tsvma', () => {
    const script = `
      const http = require('http');
      const net = require(${JSON.stringify(tsvmaNet)});
      const httpServer = http.createServer((req, res) => res.end('hi ' + req.url + ' ' + !!req.socket._handle.offloaded));
      const server = net.createServer((sock) => httpServer.emit('connection', sock));
      server.listen(9711, '127.0.0.1', () => {
        const agent = new http.Agent();
        agent.createConnection = net.createConnection;
        http.get({ host: '127.0.0.1', port: 9711, path: '/x', agent }, (res) => {
          let b = ''; res.on('data', (d) => b += d);
          res.on('end', () => { console.log(JSON.stringify([res.statusCode, b, !!res.socket._handle.offloaded])); server.close(); httpServer.close(); });
        });
      });`;
    const r = runNode(script, LOOPBACK);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([200, 'hi /x true', true]);
  }, 60000);

  test('with no device configured every socket is Node\'s own', () => {
    const r = runNode(httpScript, {}, ['--require', register]);
    expect(r.stderr).toBe('');
    const log = JSON.parse(r.stdout) as unknown[][];
    expect(log.filter((e) => e[0] === 'response')).toHaveLength(20);
    expect(log.every((e) => e[e.length - 1] === false)).toBe(true);
  }, 60000);
});
