/**
 * `tsvma decode FILE.pcap [-v] [--no-checksum]`: one line per frame, as `tcpdump -n -S -r FILE`
 * prints it (times of day in UTC), from tsvma's own codecs (proto/wire/frame.ts). Checksums are
 * verified and a bad one is named on its line; `-v` adds the IPv4 header as `tcpdump -v` does.
 * Exit status: 0, or 1 when the file cannot be read, is not pcap, or ends inside a record (the
 * whole records before it are printed first), 2 for a usage error.
 */
import * as fs from 'node:fs';
import { Bytes } from '../proto/wire/bytes';
import { formatFrame } from '../proto/wire/frame';
import { LINKTYPE_ETHERNET, readPcapHeader, walkPcap } from '../ring/pcap';

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
    data = fs.readFileSync(file);
  } catch (e) {
    // Node says `ENOENT: no such file or directory, open 'x'`: keep the words and the code.
    const err = e as NodeJS.ErrnoException;
    const words = /^[A-Z]+: ([^,]+)/.exec(err.message)?.[1];
    process.stderr.write(`tsvma decode: cannot read ${file}: ${words && err.code ? `${words} (${err.code})` : err.message}\n`);
    return 1;
  }
  const b = new Bytes(data);
  const out: string[] = [];
  let walk;
  try {
    const info = readPcapHeader(data);
    if (info.linktype !== LINKTYPE_ETHERNET) {
      process.stderr.write(`tsvma decode: ${file}: link type ${info.linktype} is not Ethernet (1); frames are printed as Ethernet anyway\n`);
    }
    walk = walkPcap(data, (ts, off, cap, orig) => {
      const line = formatFrame(b, off, cap, verify, verbose);
      out.push(cap < orig ? `${timeOfDay(ts)} ${line} [captured ${cap} of ${orig}]` : `${timeOfDay(ts)} ${line}`);
      if (out.length >= 512) {
        process.stdout.write(out.join('\n') + '\n');
        out.length = 0;
      }
    });
  } catch (e) {
    if (out.length) process.stdout.write(out.join('\n') + '\n');
    process.stderr.write(`tsvma decode: ${file}: ${(e as Error).message}\n`);
    return 1;
  }
  if (out.length) process.stdout.write(out.join('\n') + '\n');
  if (walk.truncated) {
    process.stderr.write(`tsvma decode: ${file}: truncated: ${walk.truncated}\n`);
    return 1;
  }
  return 0;
}
