/** tsvma on side a of a test link: the settings that put it there, an engine in this process, a Node child with them. */
import type { ChildProcess } from 'node:child_process';
import { resolveConfig } from '../../conf';
import { Engine } from '../../lib/engine';
import type { Host, Link } from './netns';

/** TSVMA_DEVICE/TSVMA_ADDR for the packet device on side a (tsvma owns a's address; no kernel address there). */
export function tsvmaEnv(link: Link): Record<string, string> {
  return { TSVMA_DEVICE: `packet:${link.a.ifname}`, TSVMA_ADDR: `${link.a.ip}/24` };
}

/** An engine on side a's packet device, opened from this process into a's namespace. */
export function openEngine(link: Link): Engine {
  return Engine.open(resolveConfig(tsvmaEnv(link)), { netns: link.a.ns });
}

/** `node -e script` inside `host`'s namespace with only PATH, no rule file and `env`. */
export function spawnNode(host: Host, env: Record<string, string>, script: string): ChildProcess {
  const vars = [`PATH=${process.env.PATH}`, 'VMA_CONFIG_FILE=/nonexistent/libvma.conf', ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  return host.spawn('env', ['-i', ...vars, process.execPath, '-e', script]);
}
