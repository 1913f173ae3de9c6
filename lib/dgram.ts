/**
 * `tsvma/dgram`: a drop-in for `node:dgram`.
 *
 * Until UDP offload lands (issue 4) every socket passes through to Node's own dgram, which is also
 * what tsvma does for any socket when no device is configured (`TSVMA_DEVICE` unset).
 */
import * as dgram from 'node:dgram';

export const createSocket = dgram.createSocket;
export const Socket = dgram.Socket;
