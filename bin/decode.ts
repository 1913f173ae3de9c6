/**
 * `tsvma decode FILE.pcap [-v]`: one tcpdump-style line per frame (`tcpdump -n -r FILE` style),
 * printed with tsvma's own codecs. Checksums are verified and a bad one is named on its line.
 */
import * as fs from 'node:fs';
import { Bytes } from '../proto/wire/bytes';
import { formatFrame } from '../proto/wire/frame';
import { LINKTYPE_ETHERNET, walkPcap } from '../ring/pcap';

const usage = 'usage: tsvma decode FILE.pcap [-v] [--no-checksum]\n';

function timeOfDay(tsNs: bigint): string {
  const secs = Number(tsNs / 1_000_000_000n);
  const us = Number((tsNs % 1_000_000_000n) / 1000n);
  const d = new Date(secs * 1000);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${String(us).padStart(6, '0')}`;
}

export async function decode(args: string[]): Promise<number> {
  let file: string | undefined;
  let verbose = false;
  let verify = true;
  for (const a of args) {
    if (a === '-v') verbose = true;
    else if (a === '--no-checksum') verify = false;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(usage);
      return 0;
    } else if (a.startsWith('-')) {
      process.stderr.write(`tsvma decode: unknown option '${a}'\n${usage}`);
      return 2;
    } else if (file === undefined) file = a;
    else {
      process.stderr.write(`tsvma decode: one file at a time\n${usage}`);
      return 2;
    }
  }
  if (file === undefined) {
    process.stderr.write(usage);
    return 2;
  }
  let data: Uint8Array;
  try {
    data = new Uint8Array(fs.readFileSync(file));
  } catch (e) {
    process.stderr.write(`tsvma decode: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 1;
  }
  const b = new Bytes(data);
  const out: string[] = [];
  let walk;
  try {
    walk = walkPcap(data, (ts, off, cap, orig) => {
      const line = formatFrame(b, off, cap, verify);
      const short = cap < orig ? ` [captured ${cap} of ${orig}]` : '';
      out.push(`${timeOfDay(ts)} ${line}${short}${verbose ? ` (frame length ${orig})` : ''}`);
      if (out.length >= 512) {
        process.stdout.write(out.join('\n') + '\n');
        out.length = 0;
      }
    });
  } catch (e) {
    process.stderr.write(`tsvma decode: ${file}: ${(e as Error).message}\n`);
    return 1;
  }
  if (walk.info.linktype !== LINKTYPE_ETHERNET) {
    process.stderr.write(`tsvma decode: ${file}: link type ${walk.info.linktype} is not Ethernet (1); frames were printed as Ethernet anyway\n`);
  }
  if (out.length) process.stdout.write(out.join('\n') + '\n');
  if (walk.truncated) {
    process.stderr.write(`tsvma decode: ${file}: truncated: ${walk.truncated}\n`);
    return 1;
  }
  return 0;
}
