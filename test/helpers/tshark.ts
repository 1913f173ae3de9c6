/**
 * tshark as an oracle: decodes a pcap with checksum validation on and returns, per frame, every
 * field tshark printed (all values, as strings, keyed by field name).
 */
import { execFileSync } from 'node:child_process';

export type Fields = Map<string, string[]>;

export function tsharkMissing(): string | null {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'tshark is missing: apt-get install tshark (as .ci/run does)';
  }
}

function collect(o: unknown, out: Fields): void {
  if (Array.isArray(o)) {
    for (const x of o) collect(x, out);
    return;
  }
  if (o === null || typeof o !== 'object') return;
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (typeof v === 'string') {
      const list = out.get(k) ?? [];
      list.push(v);
      out.set(k, list);
    } else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) {
      const list = out.get(k) ?? [];
      list.push(...(v as string[]));
      out.set(k, list);
    } else {
      collect(v, out);
    }
  }
}

/** Decodes every frame of `pcap`; checksums of IP, UDP and TCP are validated (ICMP/IGMP always are). */
export function tsharkFrames(pcap: string): Fields[] {
  const json = execFileSync('tshark', [
    '-r', pcap, '-T', 'json', '--no-duplicate-keys',
    '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE',
    '-o', 'tcp.relative_sequence_numbers:FALSE', '-o', 'tcp.analyze_sequence_numbers:FALSE',
  ], { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  const frames = JSON.parse(json) as { _source: { layers: unknown } }[];
  return frames.map((f) => {
    const out: Fields = new Map();
    collect(f._source.layers, out);
    return out;
  });
}

/** tshark's expert severities (epan/proto.h: PI_ERROR = 0x00800000). */
export const SEVERITY_ERROR = 0x00800000;
/** Checksum status values in this tshark's JSON: 0 bad, 1 good, 2 unverified, 3 not present. */
export const CHECKSUM_BAD = '0';
export const CHECKSUM_GOOD = '1';

/**
 * Problems tshark reports for a frame: malformed fields, expert errors, bad checksums. (That each
 * checksum is *good* rather than merely not bad is asserted per case: a quoted header in an ICMP
 * error is "unverified", a zero UDP checksum "not present".)
 */
export function problems(f: Fields): string[] {
  const out: string[] = [];
  if (f.has('_ws.malformed')) out.push(`malformed: ${(f.get('_ws.malformed.expert') ?? f.get('_ws.malformed') ?? []).join(',')}`);
  const sev = f.get('_ws.expert.severity') ?? [];
  const msg = f.get('_ws.expert.message') ?? [];
  sev.forEach((s, i) => {
    if (Number(s) >= SEVERITY_ERROR) out.push(`expert error: ${msg[i] ?? s}`);
  });
  for (const [k, v] of f) {
    if (k.endsWith('checksum.status') && v.includes(CHECKSUM_BAD)) out.push(`${k} = ${v.join(',')}`);
  }
  return out;
}

export function one(f: Fields, key: string): string | undefined {
  return f.get(key)?.[0];
}
