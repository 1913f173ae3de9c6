import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PcapError, PcapFileWriter, readPcapHeader, walkPcap } from './pcap';

describe('pcap files', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-pcap-')); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  it('writes records that read back with timestamps, lengths and bytes', () => {
    const p = path.join(dir, 'a.pcap');
    const w = new PcapFileWriter(p, 100, 64);
    const f1 = Uint8Array.from({ length: 60 }, (_, i) => i);
    const f2 = Uint8Array.from({ length: 150 }, (_, i) => 255 - (i & 0xff));
    w.write(f1, 0, 60, 1_700_000_000_123_456_789n);
    w.write(f2, 0, 150, 1_700_000_001_000_000_000);
    w.close();
    w.close(); // idempotent
    const data = new Uint8Array(fs.readFileSync(p));
    const seen: [bigint, number, number][] = [];
    const walk = walkPcap(data, (ts, off, cap, orig) => {
      seen.push([ts, cap, orig]);
      if (seen.length === 1) expect(Array.from(data.subarray(off, off + cap))).toEqual(Array.from(f1));
      else expect(Array.from(data.subarray(off, off + cap))).toEqual(Array.from(f2.subarray(0, 100)));
    });
    expect(walk.records).toBe(2);
    expect(walk.truncated).toBeNull();
    expect(walk.info.nanos).toBe(true);
    expect(walk.info.linktype).toBe(1);
    expect(seen[1][1]).toBe(100); // cut at the snap length
    expect(seen[1][2]).toBe(150);
    expect(seen[0][0]).toBe(1_700_000_000_123_456_789n);
  });

  it('reads big-endian microsecond files and reports a truncated last record', () => {
    const h = Buffer.alloc(24 + 16 + 4 + 16 + 2);
    h.writeUInt32BE(0xa1b2c3d4, 0);
    h.writeUInt16BE(2, 4);
    h.writeUInt16BE(4, 6);
    h.writeUInt32BE(65535, 16);
    h.writeUInt32BE(1, 20);
    h.writeUInt32BE(5, 24);
    h.writeUInt32BE(7, 28);
    h.writeUInt32BE(4, 32);
    h.writeUInt32BE(4, 36);
    h.writeUInt32BE(6, 44);
    h.writeUInt32BE(0, 48);
    h.writeUInt32BE(10, 52); // claims 10 bytes, only 2 follow
    const ts: bigint[] = [];
    const walk = walkPcap(new Uint8Array(h), (t) => ts.push(t));
    expect(walk.info.littleEndian).toBe(false);
    expect(ts).toEqual([5_000_007_000n]);
    expect(walk.truncated).toMatch(/record 2/);
  });

  it('rejects what is not pcap with a clear error', () => {
    expect(() => readPcapHeader(new Uint8Array(3))).toThrow(PcapError);
    expect(() => readPcapHeader(new Uint8Array(24))).toThrow(/not a pcap file: magic 0x00000000/);
    const ng = new Uint8Array(24);
    new DataView(ng.buffer).setUint32(0, 0x0a0d0d0a);
    expect(() => readPcapHeader(ng)).toThrow(/pcapng/);
  });
});
