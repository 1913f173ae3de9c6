/**
 * The poller inside Node's event loop: it goes to sleep when idle, wakes for traffic, and an open
 * ring with no sockets never keeps the process alive (sim and packet devices, in child processes
 * that load the TypeScript sources through test/net/swc-register.cjs, so no stale dist/ is used).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Engine } from '../../lib/engine';
import { parseIp } from '../../proto/wire/addr';
import { SimWire } from '../../ring/sim';
import { createLink } from '../helpers/netns';
import { sendPing } from '../helpers/simnet';

const root = path.join(__dirname, '..', '..');
const REGISTER = path.join(__dirname, 'swc-register.cjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('poller', () => {
  it('sleeps when idle and wakes on sim traffic (two engines ping each other)', async () => {
    const wire = new SimWire();
    const a = new Engine({ device: wire.attach(0x0200c6120001), ip: parseIp('198.18.0.1'), prefix: 24, poller: { idleTurns: 20 } });
    const b = new Engine({ device: wire.attach(0x0200c6120002), ip: parseIp('198.18.0.2'), prefix: 24, poller: { idleTurns: 20 } });
    try {
      await sleep(50);
      expect(a.poller.isSleeping).toBe(true);
      expect(b.poller.isSleeping).toBe(true);
      // An echo request from a's stack: b must wake, answer, and a must wake for the reply.
      sendPing(a, '198.18.0.2', 1, a.clock());
      a.poller.kick();
      for (let i = 0; i < 100 && a.stack.counters.icmpOther === 0; i++) await sleep(5);
      expect(b.stack.counters.icmpEchoReplies).toBe(1);
      expect(a.stack.counters.icmpOther).toBe(1);
      expect(b.poller.counters.wakeups).toBeGreaterThan(0);
      await sleep(50);
      expect(a.poller.isSleeping && b.poller.isSleeping).toBe(true);
    } finally {
      a.close();
      b.close();
    }
  });

  it('an idle engine on the sim device does not keep the process alive', () => {
    const r = spawnSync(process.execPath, ['-r', REGISTER, '-e', `
      const { Engine } = require(${JSON.stringify(path.join(root, 'lib', 'engine.ts'))});
      const { SimWire } = require(${JSON.stringify(path.join(root, 'ring', 'sim.ts'))});
      const e = new Engine({ device: new SimWire().attach(0x0200c6120001), ip: 0xc6120001, prefix: 24 });
      globalThis.keep = e;
      setTimeout(() => console.log('sleeping', e.poller.isSleeping), 100).unref();
      process.on('exit', () => console.log('exited'));`], { encoding: 'utf8', timeout: 10000 });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('exited');
  });

  it('an idle engine on the packet device does not keep the process alive', async () => {
    const link = await createLink({ tag: 'alive', assignIpA: false });
    try {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, ['-r', REGISTER, '-e', `
        const { resolveConfig } = require(${JSON.stringify(path.join(root, 'conf', 'index.ts'))});
        const { Engine } = require(${JSON.stringify(path.join(root, 'lib', 'engine.ts'))});
        const e = Engine.open(resolveConfig({ TSVMA_DEVICE: 'packet:${link.a.ifname}', TSVMA_ADDR: '${link.a.ip}/24' }), { netns: '${link.a.ns}' });
        globalThis.keep = e;
        setTimeout(() => console.log('rx', e.ring.counters.rxFrames >= 0, 'sleeping', e.poller.isSleeping), 300);
        process.on('exit', () => console.log('exited'));`], { encoding: 'utf8', timeout: 10000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('sleeping true');
      expect(r.stdout).toContain('exited');
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      await link.destroy();
    }
  });
});
