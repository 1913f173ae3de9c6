import { Bytes } from '../../proto/wire/bytes';

/** A buffer of n bytes pre-filled with 0xa5, so a byte an emitter forgets to write shows up. */
export function a5(n: number): Bytes {
  return Bytes.alloc(n, 0xa5);
}

export function hex(u8: Uint8Array): string {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('hex');
}
