/**
 * The C UDP sender the receive benchmarks share (bench/udpblast.c: sendmmsg, 64 datagrams per call,
 * a sequence number in each): compiled into /tmp at bench time, never committed as a binary, and
 * run inside a test link's peer namespace.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Link } from '../test/helpers/netns';

/** The UDP port the receive benchmarks listen on. */
export const BLAST_PORT = 9200;

/** Compiles udpblast.c into /tmp (per process) and returns the binary's path; remove it with fs.rmSync when done. */
export function buildBlaster(): string {
  const out = `/tmp/tsvma-udpblast-${process.pid}`;
  // dist/bench/… or bench/… (run through a TS loader): find the C source either way.
  const src = [path.join(__dirname, 'udpblast.c'), path.join(__dirname, '..', '..', 'bench', 'udpblast.c')].find((p) => fs.existsSync(p));
  if (!src) throw new Error(`udpblast.c not found next to ${__dirname}`);
  execFileSync('gcc', ['-O2', '-o', out, src]);
  return out;
}

/**
 * Runs the blaster in `link.b` against `dst` (default: side a's address) for `secs` seconds of
 * `size`-byte payloads; returns how many datagrams it sent.
 */
export async function blast(link: Link, blaster: string, secs: number, opts: { dst?: string; port?: number; size?: number } = {}): Promise<number> {
  const r = await link.b.exec(blaster, [opts.dst ?? link.a.ip, String(opts.port ?? BLAST_PORT), String(secs), String(opts.size ?? 64)], { timeoutMs: (secs + 10) * 1000 });
  if (r.code !== 0) throw new Error(`udpblast failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}
