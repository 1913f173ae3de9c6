import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { encodePcap, LINKTYPE_ETHERNET, PcapError, PcapFileWriter, readPcapHeader, walkPcap, writePcapGlobalHeader, writePcapRecord } from './pcap';

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

describe('pcap writers into a caller\'s buffer or fd', () => {
  const frames = [Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), Uint8Array.from({ length: 300 }, (_, i) => i & 0xff)];

  it('writePcapRecord writes header and bytes in place, cut at the snap length, and refuses a short buffer', () => {
    const out = new Uint8Array(100).fill(0xa5);
    expect(writePcapGlobalHeader(out, 0, { nanos: false, snaplen: 40 })).toBe(24);
    const n = writePcapRecord(out, 24, frames[1], 10, 50, 3_000_002_999n, { snaplen: 40, nanos: false });
    expect(n).toBe(16 + 40);
    const dv = new DataView(out.buffer);
    expect(dv.getUint32(0, true)).toBe(0xa1b2c3d4);
    expect([dv.getUint32(24, true), dv.getUint32(28, true), dv.getUint32(32, true), dv.getUint32(36, true)]).toEqual([3, 2, 40, 50]);
    expect(Array.from(out.subarray(40, 80))).toEqual(Array.from(frames[1].subarray(10, 50)));
    expect(out[80]).toBe(0xa5); // nothing written past the record
    expect(() => writePcapRecord(out, 60, frames[1], 0, 300, 0)).toThrow(RangeError);
    const walk = walkPcap(out.subarray(0, 80), (ts, off, cap, orig) => expect([ts, off, cap, orig]).toEqual([3_000_002_000n, 40, 40, 50]));
    expect(walk).toMatchObject({ records: 1, truncated: null, info: { nanos: false, snaplen: 40, linktype: LINKTYPE_ETHERNET } });
  });

  it('encodePcap and PcapFileWriter (path or fd) produce the same bytes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-pcap-'));
    try {
      const mem = encodePcap(frames.map((frame, i) => ({ frame, tsNs: BigInt(i) * 1_000_000_007n })), { nanos: false });
      const byPath = path.join(dir, 'p.pcap');
      const wp = new PcapFileWriter(byPath, 65535, 64, false);
      const byFd = path.join(dir, 'f.pcap');
      const fd = fs.openSync(byFd, 'w');
      const wf = new PcapFileWriter(fd, 65535, 64, false);
      frames.forEach((f, i) => { wp.write(f, 0, f.length, BigInt(i) * 1_000_000_007n); wf.write(f, 0, f.length, i * 1_000_000_007); });
      wp.close();
      wf.close();
      fs.writeSync(fd, Uint8Array.of(0xee)); // the writer left the caller's fd open
      fs.closeSync(fd);
      expect(Buffer.from(fs.readFileSync(byPath)).equals(Buffer.from(mem))).toBe(true);
      const f = fs.readFileSync(byFd);
      expect(f.subarray(0, f.length - 1).equals(Buffer.from(mem))).toBe(true);
      expect(wp.frames).toBe(2);
      expect(() => wp.write(frames[0], 0, 8, 0)).toThrow(/closed/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a header cut short is reported; an unknown format version is refused', () => {
    const file = encodePcap([{ frame: frames[0], tsNs: 0 }, { frame: frames[1], tsNs: 1 }]);
    const lens: number[] = [];
    const walk = walkPcap(file.subarray(0, 24 + 16 + 8 + 10), (_t, _o, cap) => lens.push(cap));
    expect(lens).toEqual([8]);
    expect(walk.truncated).toMatch(/record 2 at byte 48: the file ends inside the record header \(10 of 16 bytes\)/);
    const v1 = file.slice();
    v1[4] = 1;
    expect(() => walkPcap(v1, () => undefined)).toThrow(/format version 1\.4/);
  });

  it('any bytes: walkPcap either throws PcapError on the header or delivers records inside the data', () => {
    const good = encodePcap(frames.map((frame) => ({ frame, tsNs: 5 })));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.nat({ max: 255 })), { maxLength: 8 }), fc.nat({ max: good.length }), (flips, cut) => {
        const d = good.slice(0, cut);
        for (const [p, v] of flips) if (p < d.length) d[p] = v;
        let walk;
        let calls = 0;
        let end = 24;
        try {
          walk = walkPcap(d, (_t, off, cap) => {
            calls++;
            expect(off).toBe(end + 16); // records are contiguous, each after its header
            expect(off + cap).toBeLessThanOrEqual(d.length);
            end = off + cap;
          });
        } catch (e) {
          expect(e).toBeInstanceOf(PcapError);
          return;
        }
        expect(walk.records).toBe(calls);
        // Either the records tile the file exactly, or the leftover is reported.
        expect(walk.truncated === null).toBe(end === d.length);
      }),
      { numRuns: 3000 },
    );
  });
});
