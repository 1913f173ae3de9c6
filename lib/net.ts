/**
 * `tsvma/net`: a drop-in for `node:net`.
 *
 * Until TCP offload lands (issue 5) every socket passes through to Node's own net, which is also
 * what tsvma does for any socket when no device is configured (`TSVMA_DEVICE` unset).
 */
import * as net from 'node:net';

export const {
  createServer, createConnection, connect, Server, Socket, isIP, isIPv4, isIPv6, BlockList, SocketAddress,
  getDefaultAutoSelectFamily, setDefaultAutoSelectFamily,
} = net;
