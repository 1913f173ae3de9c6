/**
 * `sendDummy(socket, data[, port, address])`: VMA_SND_FLAGS_DUMMY on a Node socket (a tsvma dgram
 * Socket or a net.Socket over tsvma): the whole TX path runs — headers in a ring buffer, checksum,
 * the ring post — and nothing goes on the wire (counted as n_tx_dummy). For keeping a sparse
 * sender's path warm between real messages. Synchronous: returns the bytes "sent"; throws Node's
 * errno error (EAGAIN when TCP's conditions do not hold, EBADF for a socket not offloaded).
 */
import { errnoException } from '../errors';
import { getVmaApi } from './api';
import { VMA_SND_FLAGS_DUMMY } from './constants';

export function sendDummy(socket: object, data: Uint8Array | string, port?: number, address?: string): number {
  const api = getVmaApi();
  if (!api) throw errnoException(-9, 'send');
  const to = port !== undefined ? { address: address ?? '127.0.0.1', port } : undefined;
  const n = api.send(socket, data, VMA_SND_FLAGS_DUMMY, to);
  if (n < 0) throw errnoException(-api.errno, 'send', address, port);
  return n;
}
