/**
 * sockperf's message header, as sockperf 3.x sends it (src/message.h there) and as captured on
 * loopback from sockperf 3.7: 14 bytes at the start of every UDP payload, network byte order.
 *
 *   0       8        10       14
 *   +-------+--------+--------+---------
 *   | seq   | flags  | length | payload (whatever the sender put there; echoed back unchanged)
 *   | u64   | u16    | u32    |
 *
 * seq counts from 1 per client run; flags bit 0 = sent by a client, bit 1 = the client asks for a
 * reply (pong), bit 2 = warm-up message (not counted). length is the whole message size, header
 * included. A server replies only to client messages with the pong bit: the same bytes with the
 * client bit cleared, `length` bytes long, to the sender's address.
 */

export const HEADER_LEN = 14;
export const FLAG_CLIENT = 1;
export const FLAG_PONG = 2;
export const FLAG_WARMUP = 4;
export const MIN_MSG_SIZE = HEADER_LEN;
/** The largest UDP payload over IPv4 (sockperf's MAX_PAYLOAD_SIZE). */
export const MAX_MSG_SIZE = 65507;

const TWO32 = 4294967296;

/** Reads the sequence number (exact below 2^53, which no run reaches). */
export function readSeq(b: Buffer): number {
  return b.readUInt32BE(0) * TWO32 + b.readUInt32BE(4);
}

export function writeSeq(b: Buffer, seq: number): void {
  b.writeUInt32BE(Math.floor(seq / TWO32), 0);
  b.writeUInt32BE(seq >>> 0, 4);
}

export function readFlags(b: Buffer): number {
  return b.readUInt16BE(8);
}

export function writeFlags(b: Buffer, flags: number): void {
  b.writeUInt16BE(flags, 8);
}

export function readLength(b: Buffer): number {
  return b.readUInt32BE(10);
}

export function writeLength(b: Buffer, len: number): void {
  b.writeUInt32BE(len, 10);
}

/** A client message of `size` bytes: header with seq 0, client flag, length; payload filled with a pattern. */
export function clientMessage(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = HEADER_LEN; i < size; i++) b[i] = (i * 131 + 7) & 0xff;
  writeFlags(b, FLAG_CLIENT);
  writeLength(b, size);
  return b;
}
