/**
 * `tsvma/net`: a drop-in for `node:net`.
 *
 * tsvma's Socket and Server are Node's own classes; what changes is the handle under them. When a
 * device is configured (TSVMA_DEVICE), a client socket gets a pending handle at `connect()`, and
 * once Node has resolved the address the libvma.conf rules decide: offloaded, the connection runs
 * on tsvma's TCP; otherwise a libuv handle takes over and the socket is Node's in every respect. A
 * server decides when it binds (`listen`). Unix sockets, pipes, IPv6, and every socket when no
 * device is configured, are Node's own. net_handle.ts has the handles; node_stream.ts the protocol.
 *
 * Because the classes are Node's, anything built on net works unchanged: `http.createServer()` is a
 * net.Server, `http.Agent` connects with net.createConnection. Loading `tsvma/register` (or
 * `tsvma run`) routes *every* net.Server and net.Socket of the process through this decision
 * (`offloadNodeNet()`), which is how an unmodified http server is offloaded; without it, use this
 * module's classes, or pass its `createConnection` to an http.Agent (docs/features.md).
 *
 * SO_REUSEPORT-style groups (on the `daemon` device: tsvma ringd, docs/ringd.md): `listen({ port,
 * reusePort: true })` (the option Node 22.12 added for SO_REUSEPORT; Node 20 ignores it, tsvma reads
 * it) lets several processes listen on one port, ringd spreading new connections over them. In a
 * node:cluster worker on the daemon device, `listen(port)` does this by itself: the worker listens
 * itself, as with `exclusive: true`, in a group with its siblings, instead of asking the primary for
 * a handle (the primary's round-robin hands out kernel fds, which tsvma's handles are not).
 */
import cluster from 'node:cluster';
import * as net from 'node:net';
import { parseIp } from '../proto/wire/addr';
import { PendingTcpHandle, TcpServerHandle } from './net_handle';
import { attachHandle } from './node_stream';
import { offloadDecision, runtime, type Runtime } from './runtime';

type Listen2 = (this: net.Server, address: string | null, port: number, addressType: number, backlog: number, fd?: number, flags?: number) => void;
type Connect = (this: net.Socket, ...args: unknown[]) => net.Socket;
type Listen = (this: net.Server, ...args: unknown[]) => net.Server;

/** A server that asked for a SO_REUSEPORT-style group (set by `listen`, read by `listen2`). */
const kReusePort = Symbol('tsvma.reusePort');

const nodeConnect = net.Socket.prototype.connect as unknown as Connect;
const nodeListen2 = (net.Server.prototype as unknown as { _listen2: Listen2 })._listen2;
const nodeListen = net.Server.prototype.listen as unknown as Listen;
const normalizeArgs = (net as unknown as { _normalizeArgs(args: unknown[]): [Record<string, unknown>, unknown] })._normalizeArgs;

/** The runtime for TCP, or null (no device, or it failed to open: then the OS does the work). */
function tcpRuntime(): Runtime | null {
  try {
    return runtime();
  } catch {
    return null;
  }
}

/** Socket.prototype.connect with tsvma's pending handle put in first (when a device is configured). */
function connect(this: net.Socket, ...args: unknown[]): net.Socket {
  const sock = this as unknown as { _handle: object | null; destroyed: boolean };
  // A destroyed socket being reused, or one with a handle already, goes Node's way.
  if (!sock._handle && !sock.destroyed) {
    const normalized = Array.isArray(args[0]) ? (args[0] as [Record<string, unknown>]) : normalizeArgs(args);
    const opts = normalized[0];
    const rt = opts.path == null ? tcpRuntime() : null;
    if (rt) {
      const h = new PendingTcpHandle(rt, this);
      sock._handle = h;
      attachHandle(this, h);
    }
    return nodeConnect.call(this, normalized);
  }
  return nodeConnect.apply(this, args);
}

/**
 * Server.prototype._listen2 (Node's setupListenHandle) with tsvma's listener put in first when the
 * address is offloaded; Node then listens on it, reports errors and emits 'listening' itself.
 */
function listen2(this: net.Server, address: string | null, port: number, addressType: number, backlog: number, fd?: number, flags?: number): void {
  const srv = this as unknown as { _handle: object | null };
  if (!srv._handle && (fd === undefined || fd === null || fd < 0) && addressType !== 6) {
    const rt = tcpRuntime();
    const ip = address ? parseIp(address) : 0;
    if (rt && ip >= 0 && offloadDecision(rt, 'tcp_server', { ip, port })) {
      // `exclusive` and SO_REUSEADDR: libuv always sets SO_REUSEADDR on TCP listeners.
      srv._handle = new TcpServerHandle(rt, ip, port, true, (this as unknown as Record<symbol, unknown>)[kReusePort] === true);
    }
  }
  nodeListen2.call(this, address, port, addressType, backlog, fd, flags);
}

const toNumber = (x: unknown): number | false => {
  const n = Number(x);
  return n >= 0 ? n : false;
};

/**
 * Server.prototype.listen, noting `reusePort: true` for listen2; in a cluster worker on the daemon
 * device, a TCP port listen on an offloaded IPv4 address becomes the worker's own (`exclusive: true`)
 * in a reuse-port group. Other calls are Node's unchanged.
 */
function listen(this: net.Server, ...args: unknown[]): net.Server {
  const first = args[0];
  const isOpts = first !== null && typeof first === 'object';
  const opts = isOpts ? (first as Record<string, unknown>) : null;
  const me = this as unknown as Record<symbol, unknown>;
  me[kReusePort] = opts !== null && opts.reusePort === true;
  if (!cluster.isWorker || (opts && (opts.exclusive === true || opts.path != null || opts.fd != null || opts.handle != null || opts._handle != null))) return nodeListen.apply(this, args);
  // (port[, host][, backlog][, cb]) or ({ port, host, backlog }[, cb])
  const port = opts ? opts.port : first;
  if (!(typeof port === 'number' || (typeof port === 'string' && /^\d+$/.test(port))) || Number(port) === 0) return nodeListen.apply(this, args);
  const host = opts ? opts.host : typeof args[1] === 'string' ? args[1] : undefined;
  const ip = host == null || host === '' ? 0 : typeof host === 'string' && net.isIPv4(host) ? parseIp(host) : -1;
  const rt = ip >= 0 ? tcpRuntime() : null;
  if (!rt || rt.engine.ring.device.caps.kind !== 'daemon' || !offloadDecision(rt, 'tcp_server', { ip, port: Number(port) })) return nodeListen.apply(this, args);
  const cb = typeof args[args.length - 1] === 'function' ? (args[args.length - 1] as () => void) : undefined;
  const backlog = opts ? opts.backlog : toNumber(args.length > 1 && args[1]) || toNumber(args.length > 2 && args[2]) || undefined;
  me[kReusePort] = true;
  const o: Record<string, unknown> = { ...(opts ?? {}), port: Number(port), exclusive: true };
  if (host != null) o.host = host;
  if (backlog) o.backlog = backlog;
  return cb ? nodeListen.call(this, o, cb) : nodeListen.call(this, o);
}

export class Socket extends net.Socket {
  /** Whether this connection runs on tsvma's stack. */
  get offloaded(): boolean {
    return !!(this as unknown as { _handle: { offloaded?: boolean } | null })._handle?.offloaded;
  }
}
(Socket.prototype as unknown as { connect: Connect }).connect = connect;

export class Server extends net.Server {}
(Server.prototype as unknown as { _listen2: Listen2 })._listen2 = listen2;
(Server.prototype as unknown as { listen: Listen }).listen = listen;

/** Stream is net's legacy name for Socket. */
export const Stream = Socket;

export function createServer(options?: net.ServerOpts | ((socket: net.Socket) => void), connectionListener?: (socket: net.Socket) => void): Server {
  return new Server(options as net.ServerOpts, connectionListener);
}

/** connect(options[, cb]), connect(port[, host][, cb]), connect(path[, cb]): Node's forms. */
export function connect_(...args: unknown[]): Socket {
  const normalized = normalizeArgs(args);
  const opts = normalized[0];
  const s = new Socket(opts as net.SocketConstructorOpts);
  if (opts.timeout) s.setTimeout(opts.timeout as number);
  return s.connect(normalized as never) as Socket;
}
export { connect_ as connect, connect_ as createConnection };

export const {
  isIP, isIPv4, isIPv6, BlockList, SocketAddress, getDefaultAutoSelectFamily, setDefaultAutoSelectFamily,
} = net;
export const getDefaultAutoSelectFamilyAttemptTimeout = (net as unknown as Record<string, unknown>).getDefaultAutoSelectFamilyAttemptTimeout;
export const setDefaultAutoSelectFamilyAttemptTimeout = (net as unknown as Record<string, unknown>).setDefaultAutoSelectFamilyAttemptTimeout;

let patched = false;

/**
 * Routes every net.Socket and net.Server of the process (http's too) through the offload decision:
 * `tsvma/register` calls this. Idempotent.
 */
export function offloadNodeNet(): void {
  if (patched) return;
  patched = true;
  (net.Socket.prototype as unknown as { connect: Connect }).connect = connect;
  (net.Server.prototype as unknown as { _listen2: Listen2 })._listen2 = listen2;
  (net.Server.prototype as unknown as { listen: Listen }).listen = listen;
}

export default {
  Socket, Server, Stream, createServer, connect: connect_, createConnection: connect_, isIP, isIPv4, isIPv6, BlockList, SocketAddress,
  getDefaultAutoSelectFamily, setDefaultAutoSelectFamily, getDefaultAutoSelectFamilyAttemptTimeout, setDefaultAutoSelectFamilyAttemptTimeout,
  offloadNodeNet,
};
