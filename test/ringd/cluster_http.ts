/**
 * A node:cluster http server for test/ringd: the primary forks WORKERS workers (argv[2], default 4);
 * each worker runs `http.createServer().listen(PORT)` (argv[3]) under tsvma's net (offloadNodeNet, as
 * `tsvma/register` does) with TSVMA_DEVICE=daemon:PATH (set by the test), so each worker listens on
 * the one port itself, in a ringd reuse-port group. Reports JSON lines on stdout (primary only):
 *   {"ev":"listening","pid":P,"port":PORT}    once per worker
 *   {"ev":"ready","workers":[pids]}            when every worker listens
 *   stdin {"cmd":"counts"}                     → {"ev":"counts","counts":{pid: requests served}}
 *   {"ev":"error","pid":P,"code":C,"message":M} a worker's listen error
 * Each response body is the worker's pid.
 */
import cluster from 'node:cluster';
import * as http from 'node:http';
import * as readline from 'node:readline';
import { offloadNodeNet } from '../../lib/net';

offloadNodeNet();

const out = (o: object): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

const WORKERS = Number(process.argv[2] ?? 4);
const PORT = Number(process.argv[3] ?? 8080);

if (cluster.isPrimary) {
  const pids: number[] = [];
  const counts: Record<number, number> = {};
  let pending = 0;
  for (let i = 0; i < WORKERS; i++) {
    const w = cluster.fork();
    w.on('message', (m: { ev: string; pid: number; n?: number; code?: string; message?: string; port?: number }) => {
      if (m.ev === 'listening') {
        pids.push(m.pid);
        out(m);
        if (pids.length === WORKERS) out({ ev: 'ready', workers: pids });
      } else if (m.ev === 'count') {
        counts[m.pid] = m.n ?? 0;
        if (--pending === 0) out({ ev: 'counts', counts });
      } else out(m);
    });
  }
  cluster.on('exit', (w, code, sig) => out({ ev: 'worker-exit', pid: w.process.pid, code, sig }));
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const c = JSON.parse(line) as { cmd: string };
    if (c.cmd === 'counts') {
      pending = Object.keys(cluster.workers ?? {}).length;
      for (const w of Object.values(cluster.workers ?? {})) w?.send({ cmd: 'count' });
    }
  });
  rl.on('close', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGKILL');
    process.exit(0);
  });
} else {
  let n = 0;
  const body = Buffer.from(String(process.pid));
  const srv = http.createServer((_req, res) => {
    n++;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  });
  srv.on('error', (e: NodeJS.ErrnoException) => process.send!({ ev: 'error', pid: process.pid, code: e.code, message: e.message }));
  srv.listen(PORT, () => process.send!({ ev: 'listening', pid: process.pid, port: (srv.address() as { port: number }).port }));
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'count') process.send!({ ev: 'count', pid: process.pid, n });
  });
}
