/**
 * A ringd client for test/ringd: tsvma's dgram on TSVMA_DEVICE=daemon:PATH (set by the test),
 * driven by JSON lines on stdin, reporting JSON lines on stdout:
 *   {"cmd":"bind","port":P[,"reuse":true]} → {"ev":"bound","port":P} | {"ev":"error","op":"bind","code":"EADDRINUSE"}
 *                                           (reuse: reuseAddr, which on ringd joins the port's reuse-port group)
 *   {"cmd":"send","host":H,"port":P,"text":T,"count":N}  → {"ev":"sent","count":N}
 *   {"cmd":"join","group":G}              → the bound socket joins G: {"ev":"joined","group":G}
 *   {"cmd":"close"}                       → {"ev":"closed"}
 *   {"cmd":"stats"}                       → {"ev":"stats","engine":{...}} (ring, device, stack and poller counters)
 *   {"cmd":"echo","port":P}               → a quiet UDP echo server on P (benchmarks): {"ev":"bound","port":P}
 *   {"cmd":"sink","port":P}               → counts datagrams to P quietly; {"cmd":"count"} → {"ev":"count","n":N,"ms":first to last}
 *   every datagram                        → {"ev":"msg","text":T,"from":"H:P"}
 *   {"cmd":"tcp-echo","host":H,"port":P,"bytes":N} → connects, sends N bytes, reads N back:
 *                                           {"ev":"tcp-done","ok":sha256 equal,"bytes":N,"local":port}
 *   {"cmd":"tcp-listen","port":P[,"reusePort":true]} → an echo server: {"ev":"tcp-listening","port":P} | {"ev":"error",...}
 *   {"cmd":"tcp-unlisten","port":P}       → closes that listener (its connections go on): {"ev":"tcp-unlistened","port":P}
 *   {"cmd":"tcp-accepted"}                → {"ev":"tcp-accepted","n":connections accepted so far}
 *   {"cmd":"tcp-hold","host":H,"port":P}  → connects and stays idle: {"ev":"tcp-connected","local":port}
 * It prints {"ev":"ready","device":...} once the engine is attached.
 */
import { createHash } from 'node:crypto';
import type { ListenOptions } from 'node:net';
import * as readline from 'node:readline';
import { createSocket, type Socket } from '../../lib/dgram';
import { createConnection, createServer } from '../../lib/net';
import { runtime } from '../../lib/runtime';

const out = (o: object): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

let sock: Socket | null = null;
let accepted = 0;
const servers = new Map<number, ReturnType<typeof createServer>>();
const held: unknown[] = [];
let sunk = 0;
let firstAt = 0;
let lastAt = 0;

function open(reuse = false): Socket {
  const s = createSocket({ type: 'udp4', reuseAddr: reuse });
  s.on('message', (m, r) => out({ ev: 'msg', text: m.toString(), from: `${r.address}:${r.port}` }));
  s.on('error', (e: NodeJS.ErrnoException) => out({ ev: 'error', op: e.syscall, code: e.code, message: e.message }));
  return s;
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const c = JSON.parse(line) as { cmd: string; port?: number; host?: string; text?: string; count?: number; bytes?: number; group?: string; reuse?: boolean; reusePort?: boolean };
  switch (c.cmd) {
    case 'bind': {
      sock?.close();
      const s = (sock = open(c.reuse));
      s.once('listening', () => out({ ev: 'bound', port: s.address().port }));
      s.bind(c.port ?? 0);
      break;
    }
    case 'send': {
      const n = c.count ?? 1;
      for (let i = 0; i < n; i++) sock!.send(n > 1 ? `${c.text} ${i}` : c.text!, c.port!, c.host!);
      out({ ev: 'sent', count: n });
      break;
    }
    case 'join':
      sock!.addMembership(c.group!);
      out({ ev: 'joined', group: c.group });
      break;
    case 'close':
      sock?.close(() => out({ ev: 'closed' }));
      sock = null;
      break;
    case 'tcp-echo': {
      const n = c.bytes ?? 65536;
      const data = Buffer.alloc(n);
      for (let i = 0; i < n; i++) data[i] = (i * 7 + (i >> 8)) & 255;
      const want = createHash('sha256').update(data).digest('hex');
      const got = createHash('sha256');
      let len = 0;
      const t = createConnection({ host: c.host!, port: c.port! }, () => t.end(data));
      t.on('data', (b: Buffer) => {
        got.update(b);
        len += b.length;
        if (len >= n) {
          out({ ev: 'tcp-done', ok: len === n && got.digest('hex') === want, bytes: len, local: t.localPort });
          t.destroy();
        }
      });
      t.on('error', (e: NodeJS.ErrnoException) => out({ ev: 'error', op: 'tcp', code: e.code, message: e.message }));
      break;
    }
    case 'tcp-listen': {
      const srv = createServer((conn) => {
        accepted++;
        conn.on('error', () => undefined);
        conn.pipe(conn);
      });
      srv.on('error', (e: NodeJS.ErrnoException) => out({ ev: 'error', op: 'listen', code: e.code, message: e.message }));
      srv.listen({ port: c.port, reusePort: c.reusePort === true } as ListenOptions, () => out({ ev: 'tcp-listening', port: c.port }));
      servers.set(c.port!, srv);
      break;
    }
    case 'tcp-unlisten':
      servers.get(c.port!)?.close();
      servers.delete(c.port!);
      out({ ev: 'tcp-unlistened', port: c.port });
      break;
    case 'tcp-accepted':
      out({ ev: 'tcp-accepted', n: accepted });
      break;
    case 'tcp-hold': {
      const t = createConnection({ host: c.host!, port: c.port! }, () => out({ ev: 'tcp-connected', local: t.localPort }));
      t.on('error', (e: NodeJS.ErrnoException) => out({ ev: 'error', op: 'tcp', code: e.code, message: e.message }));
      held.push(t);
      break;
    }
    case 'echo':
    case 'sink': {
      const s = createSocket('udp4');
      s.on('error', (e: NodeJS.ErrnoException) => out({ ev: 'error', op: e.syscall, code: e.code, message: e.message }));
      if (c.cmd === 'echo') s.on('message', (m, r) => s.send(m, r.port, r.address));
      else {
        s.on('message', () => {
          const t = performance.now();
          if (sunk++ === 0) firstAt = t;
          lastAt = t;
        });
      }
      s.bind(c.port, () => out({ ev: 'bound', port: c.port }));
      break;
    }
    case 'count':
      out({ ev: 'count', n: sunk, ms: lastAt - firstAt });
      break;
    case 'stats':
      out({ ev: 'stats', engine: runtime()?.engine.stats() ?? null });
      break;
    case 'exit':
      process.exit(0);
  }
});
rl.on('close', () => process.exit(0));

const r = runtime();
out({ ev: 'ready', device: r ? r.engine.ring.device.caps.name : null });
