/**
 * The packet device's classic BPF filter (SO_ATTACH_FILTER): runs in the kernel before a frame is
 * copied into the RX ring, so frames for other MACs cost the ring nothing.
 *
 * Program: drop frames this host sends (pkt_type PACKET_OUTGOING: a packet socket also sees the
 * interface's outgoing traffic, e.g. the kernel's own ARP broadcasts), then accept when the
 * destination MAC is one of `macs` (the device's own, broadcast, joined multicast), else drop.
 */
import { PACKET_OUTGOING, SKF_AD_OFF, SKF_AD_PKTTYPE, SOCK_FILTER_SIZE } from './libc';

const BPF_LD_B_ABS = 0x30;
const BPF_LD_W_ABS = 0x20;
const BPF_LD_H_ABS = 0x28;
const BPF_JEQ_K = 0x15;
const BPF_RET_K = 0x06;
/** Bytes of an accepted frame to keep (the ring slot bounds it further). */
const ACCEPT = 0x40000;
/** Jump offsets are 8 bits: 4 instructions per MAC from the outgoing test to the final drop. */
export const MAX_FILTER_MACS = 63;

/** A sock_filter array (8 bytes per instruction) accepting frames to `macs` that are not outgoing. */
export function macFilter(macs: readonly number[]): Buffer {
  const n = macs.length;
  if (n < 1 || n > MAX_FILTER_MACS) throw new RangeError(`the packet filter takes 1 to ${MAX_FILTER_MACS} MACs, not ${n}`);
  const prog = Buffer.alloc((4 * n + 4) * SOCK_FILTER_SIZE);
  let i = 0;
  const ins = (code: number, jt: number, jf: number, k: number): void => {
    const o = i++ * SOCK_FILTER_SIZE;
    prog.writeUInt16LE(code, o);
    prog.writeUInt8(jt, o + 2);
    prog.writeUInt8(jf, o + 3);
    prog.writeUInt32LE(k >>> 0, o + 4);
  };
  const drop = 2 + 4 * n;
  ins(BPF_LD_B_ABS, 0, 0, SKF_AD_OFF + SKF_AD_PKTTYPE); // 0: A = pkt_type
  ins(BPF_JEQ_K, drop - 2, 0, PACKET_OUTGOING); // 1: outgoing → drop
  macs.forEach((mac, k) => {
    ins(BPF_LD_W_ABS, 0, 0, 0); // A = dst[0..3]
    ins(BPF_JEQ_K, 0, 2, Math.floor(mac / 0x10000)); // no: next MAC
    ins(BPF_LD_H_ABS, 0, 0, 4); // A = dst[4..5]
    ins(BPF_JEQ_K, 4 * (n - k) - 3, 0, mac % 0x10000); // yes: accept
  });
  ins(BPF_RET_K, 0, 0, 0); // drop
  ins(BPF_RET_K, 0, 0, ACCEPT); // accept
  return prog;
}

/**
 * Runs a program built by macFilter over a frame in JS (the kernel's semantics for the instructions
 * used here), for tests: returns the accepted length, 0 for drop.
 */
export function runMacFilter(prog: Buffer, frame: Uint8Array, pktType: number): number {
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  let a = 0;
  for (let pc = 0; pc < prog.length / SOCK_FILTER_SIZE; pc++) {
    const o = pc * SOCK_FILTER_SIZE;
    const code = prog.readUInt16LE(o);
    const jt = prog.readUInt8(o + 2);
    const jf = prog.readUInt8(o + 3);
    const k = prog.readUInt32LE(o + 4);
    switch (code) {
      case BPF_LD_B_ABS:
        if (k !== (SKF_AD_OFF + SKF_AD_PKTTYPE) >>> 0) throw new Error('unexpected load');
        a = pktType;
        break;
      case BPF_LD_W_ABS:
        if (k + 4 > frame.length) return 0;
        a = dv.getUint32(k);
        break;
      case BPF_LD_H_ABS:
        if (k + 2 > frame.length) return 0;
        a = dv.getUint16(k);
        break;
      case BPF_JEQ_K:
        pc += a === k ? jt : jf;
        break;
      case BPF_RET_K:
        return k;
      default:
        throw new Error(`unexpected BPF code ${code}`);
    }
  }
  throw new Error('program fell off its end');
}
