/**
 * TCP bulk under random loss over one veth pair: 8 MiB (sha256-checked) one way at a time, with
 * nftables on the kernel side (namespace b) dropping the given percentage of TCP segments on its input
 * hook, its output hook, or both. Senders, interleaved per round:
 *   tsvma → kernel   tsvma/net on the packet device (namespace a, .2) to a Node server on kernel sockets (b)
 *   kernel → kernel  a Node client on kernel sockets in namespace a (.3) to the same server
 *   kernel → tsvma   a kernel Node client in b to a tsvma/net server (a)
 * The tsvma sender prints its TCP counters (timeouts, fast retransmits, retransmitted segments).
 * GSO and GRO are off on a's veth, so the kernel sender's segments meet the drop rule one by one as
 * tsvma's do (with GSO on, a 64 KiB burst is one packet to nftables and loss events are ~40× rarer).
 *
 * Run as root: npm run build && node dist/bench/tcp_loss.bench.js [rounds=3] [loss%=5] [hooks=input,output]
 * (BYTES=N changes the 8 MiB; loss 0 measures the clean path.)
 * TSVMA_NET=before=/x/dist/lib/net.js,after=/y/dist/lib/net.js runs the tsvma sender of each build in
 * every round (a change measured before/after on one link in one run).
 */
import * as path from 'node:path';
import { spawnNode, tsvmaEnv } from '../test/helpers/engine';
import { createLink, type Host } from '../test/helpers/netns';

const ROUNDS = Number(process.argv[2] ?? 3);
const LOSS = Number(process.argv[3] ?? 5);
const HOOKS = (process.argv[4] ?? 'input,output').split(',');
const BYTES = Number(process.env.BYTES ?? 8 * 1024 * 1024);
const NETS = (process.env.TSVMA_NET ?? path.join(__dirname, '..', 'lib', 'net.js')).split(',').map((b) => {
  const i = b.indexOf('=');
  return i > 0 ? { name: b.slice(0, i), mod: b.slice(i + 1) } : { name: 'tsvma', mod: b };
});

const SENDER = (mod: string, port: number, host: string, local = '') => `
  const net = require(${JSON.stringify(mod)}); const crypto = require('crypto');
  const chunk = Buffer.alloc(256 * 1024); let x = 12345; const h = crypto.createHash('sha256'); let sent = 0;
  const sock = net.connect({ port: ${port}, host: '${host}'${local ? `, localAddress: '${local}'` : ''} });
  const pump = () => {
    while (sent < ${BYTES}) {
      for (let i = 0; i < chunk.length; i += 4) { x = (x * 1103515245 + 12345) >>> 0; chunk.writeUInt32LE(x, i); }
      const b = Buffer.from(chunk); h.update(b); sent += b.length; if (!sock.write(b)) return sock.once('drain', pump);
    }
    sock.end(() => { const hd = sock._handle; console.log('sent', h.digest('hex'), JSON.stringify(hd && hd.s ? hd.s.counters : {})); });
  };
  sock.on('error', (e) => { console.log('error', e.code); process.exit(1); });
  sock.on('close', () => process.exit(0));
  pump();`;

const RECEIVER = (mod: string, port: number, host: string) => `
  const net = require(${JSON.stringify(mod)}); const crypto = require('crypto');
  const srv = net.createServer((c) => {
    const h = crypto.createHash('sha256'); let n = 0; const t0 = process.hrtime.bigint();
    c.on('data', (d) => { h.update(d); n += d.length; });
    c.on('end', () => { console.log('received', n, h.digest('hex'), Number(process.hrtime.bigint() - t0) / 1e6); c.end(); srv.close(); });
  });
  srv.listen(${port}${host ? `, '${host}'` : ''}, () => console.log('listening'));`;

/** `script` in `host`'s namespace (test/helpers/engine spawnNode: only PATH and `env`); its stderr passes through. */
function run(host: Host, env: Record<string, string>, script: string, timeoutMs = 120000): { line: (re: RegExp) => Promise<RegExpMatchArray>; done: Promise<void> } {
  const child = spawnNode(host, env, script);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.pipe(process.stderr);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<void>((res) => child.once('close', () => { clearTimeout(timer); res(); }));
  return {
    done,
    async line(re) {
      for (;;) {
        const m = out.match(re);
        if (m) return m;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`no ${re} in: ${out}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
}

async function main(): Promise<void> {
  const link = await createLink({ tag: 'tl', assignIpA: false });
  const table = `tsvma_bench_loss_${process.pid}`;
  try {
    const kernelA = link.a.ip.replace(/\.2$/, '.3');
    await link.a.exec('ip', ['addr', 'add', `${kernelA}/24`, 'dev', link.a.ifname]);
    await link.a.exec('ethtool', ['-K', link.a.ifname, 'gso', 'off', 'gro', 'off', 'tso', 'off']);
    await link.b.exec('ethtool', ['-K', link.b.ifname, 'gso', 'off', 'gro', 'off', 'tso', 'off']);
    await link.b.exec('nft', ['add', 'table', 'inet', table]);
    for (const hook of HOOKS) {
      await link.b.exec('nft', ['add', 'chain', 'inet', table, hook, `{ type filter hook ${hook} priority 0; }`]);
      await link.b.exec('nft', ['add', 'rule', 'inet', table, hook, 'meta', 'l4proto', 'tcp', 'numgen', 'random', 'mod', '100', '<', String(LOSS), 'drop']);
    }
    const offload = tsvmaEnv(link);
    console.log(`TCP, ${BYTES / 1048576} MiB one way, ${LOSS}% random loss on the kernel side's ${HOOKS.join(' and ')} hook(s), ${ROUNDS} rounds`);
    const senders: { name: string; host: Host; env: Record<string, string>; script: (p: number) => string; srvHost: Host; srvEnv: Record<string, string>; srv: (p: number) => string }[] = [
      ...NETS.map((n) => ({
        name: `${n.name} → kernel`, host: link.a, env: offload, script: (p: number) => SENDER(n.mod, p, link.b.ip),
        srvHost: link.b, srvEnv: {}, srv: (p: number) => RECEIVER('net', p, link.b.ip),
      })),
      {
        name: 'kernel → kernel', host: link.a, env: {}, script: (p: number) => SENDER('net', p, link.b.ip, kernelA),
        srvHost: link.b, srvEnv: {}, srv: (p: number) => RECEIVER('net', p, link.b.ip),
      },
      ...NETS.map((n) => ({
        name: `kernel → ${n.name}`, host: link.b, env: {}, script: (p: number) => SENDER('net', p, link.a.ip),
        srvHost: link.a, srvEnv: offload, srv: (p: number) => RECEIVER(n.mod, p, ''),
      })),
    ];
    let port = 7100;
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of senders) {
        const p = port++;
        const server = run(s.srvHost, s.srvEnv, s.srv(p));
        await server.line(/listening/);
        const client = run(s.host, s.env, s.script(p));
        let line: string;
        try {
          const sent = await client.line(/sent (\w+) (.*)/);
          const got = await server.line(/received (\d+) (\w+) ([\d.]+)/);
          const c = JSON.parse(sent[2]) as Record<string, number>;
          const ok = got[2] === sent[1] && Number(got[1]) === BYTES ? '' : ' SHA256 MISMATCH';
          line = `${(Number(got[3]) / 1000).toFixed(2)} s${c.timeouts !== undefined ? ` (timeouts ${c.timeouts}, fast retransmits ${c.fastRetransmits}, segments resent ${c.retransmits})` : ''}${ok}`;
        } catch (err) {
          line = `failed: ${(err as Error).message.slice(0, 200)}`;
        }
        await Promise.all([client.done, server.done]);
        console.log(`  round ${round + 1} ${s.name.padEnd(22)} ${line}`);
      }
    }
  } finally {
    await link.b.exec('nft', ['delete', 'table', 'inet', table]);
    await link.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
