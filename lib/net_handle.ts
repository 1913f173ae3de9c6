/**
 * Stream handles over tsvma's TCP: what a net.Socket or net.Server holds in `_handle` when its
 * connection is offloaded. Node's own net.js drives them exactly as it drives libuv's TCPWrap
 * (node_stream.ts says how), so every event, error and state change is Node's.
 *
 * Read first: node_stream.ts, then proto/stack/tcp.ts (the Tcp/TcpSocket contract).
 *
 * - `TcpHandle`: one connection. Writes are copied into the connection's send buffer; what does not
 *   fit waits here (the write completes asynchronously, as libuv's does when the kernel buffer is
 *   full) until the stack says there is room. Reads copy from the receive buffer into 64 KiB slabs
 *   and hand Node a view of each (one ArrayBuffer serves many reads, as libuv's does).
 * - `PendingTcpHandle`: what a client socket holds between `connect()` and the moment Node hands it
 *   the resolved address. Then the offload decision is made (libvma.conf rules): offloaded, it turns
 *   into a TcpHandle; not offloaded, it swaps a real libuv TCP handle into the socket and steps out.
 * - `TcpServerHandle`: a listener; each accepted connection reaches Node's `onconnection` as a
 *   TcpHandle, so Node's Server makes its net.Socket, counts it and emits 'connection'.
 *
 * Completions (connect, shutdown, close, async writes) are never called from inside the call that
 * started them: the stack calls back from its poll, and the rest is deferred with setImmediate, as
 * libuv completes requests on a later loop turn.
 */
import type * as net from 'node:net';
import { formatIp, parseIp } from '../proto/wire/addr';
import { TcpState, type Tcp, type TcpSocket } from '../proto/stack/tcp';
import { attachHandle, OWNER, setReadResult, setWriteResult, TCP, TCP_SOCKET, UV_EOF } from './node_stream';
import { adjustRefs, offloadDecision, type Runtime } from './runtime';
import { noteTxEagain, trackTcp, untrack } from './stats';
import { onTcpAccepted, onTcpTracked } from './extra/tcp';

const ENOTCONN = -107;
const EINVAL = -22;
const EPIPE = -32;
const SLAB = 65536;
/** Below this much room left in a slab, the next read starts a new one. */
const SLAB_MIN = 2048;

let nextAsyncId = 1 << 30;

interface WriteReq {
  oncomplete(status: number): void;
}
interface ConnectReq {
  oncomplete(status: number, handle: object, req: object, readable: boolean, writable: boolean): void;
}

/** A write that did not fit in the send buffer: the rest of `data` from `off`, and its request. */
interface Pending {
  req: WriteReq | null;
  data: Uint8Array;
  off: number;
}

/** Fields libuv's handle classes define as prototype accessors; a JS handle needs its own. */
function ownFields(h: object): void {
  for (const [k, v] of [['onread', null], ['reading', false], ['isStreamBase', false], ['_externalStream', undefined], ['fd', -1]] as const) {
    Object.defineProperty(h, k, { value: v, writable: true, enumerable: false, configurable: true });
  }
}

/** The base of tsvma's handles: an object Node's `instanceof TCP` accepts, with refs counted on the runtime. */
abstract class Handle {
  declare onread: ((ab: ArrayBuffer | undefined) => void) | null;
  declare reading: boolean;
  private readonly asyncId = nextAsyncId++;
  protected refd = false;
  protected closed = false;

  constructor(readonly rt: Runtime) {
    ownFields(this);
  }

  getAsyncId(): number {
    return this.asyncId;
  }

  getProviderType(): number {
    return 0;
  }

  /** http.Agent re-tags a kept-alive socket's handle for async_hooks; tsvma's handles have no native resource. */
  asyncReset(): void {}

  ref(): void {
    if (this.refd || this.closed) return;
    this.refd = true;
    adjustRefs(this.rt, 1);
  }

  unref(): void {
    if (!this.refd) return;
    this.refd = false;
    adjustRefs(this.rt, -1);
  }

  hasRef(): boolean {
    return this.refd;
  }

  protected get tcp(): Tcp {
    return this.rt.tcp;
  }

  protected now(): number {
    return this.rt.engine.clock();
  }

  /**
   * After a call that may have queued segments or timers: hands frames to the device and wakes the
   * poller (a sleeping poller's timer may be armed for a later deadline than a new RTO, and frames
   * to the stack's own addresses are delivered by its next turn).
   */
  protected flush(): void {
    this.rt.engine.flush();
    this.rt.engine.poller.touch();
  }

  /** Ends the handle's life: drops its ref and calls `cb` on a later turn. */
  protected finish(cb?: () => void): void {
    this.unref();
    this.closed = true;
    if (cb) setImmediate(cb);
  }
}
Object.setPrototypeOf(Handle.prototype, TCP.prototype);

/** The socket address of an offloaded endpoint, as libuv's getsockname/getpeername fill `out`. */
function fill(out: Record<string, unknown>, ip: number, port: number): number {
  out.address = formatIp(ip);
  out.family = 'IPv4';
  out.port = port;
  return 0;
}

export class TcpHandle extends Handle {
  bytesRead = 0;
  bytesWritten = 0;
  writeQueueSize = 0;
  private s: TcpSocket | null;
  private readonly pending: Pending[] = [];
  private shutdownReq: WriteReq | null = null;
  private connectReq: ConnectReq | null = null;
  private eofSent = false;
  /** An error that arrived while nobody was reading (reported on the next read or write). */
  private error = 0;
  private slab = new Uint8Array(0);
  private slabOff = 0;
  private userBuf: Uint8Array | null = null;
  private pumpQueued = false;
  private readonly pumpLater = (): void => {
    this.pumpQueued = false;
    this.pump();
  };

  constructor(rt: Runtime, s: TcpSocket) {
    super(rt);
    this.s = s;
    this.wire(s);
    trackTcp(this, rt, s); // lib/stats: fd and statistics
    onTcpTracked(this); // lib/extra: SocketXtreme's filter
    this.ref();
  }

  /** The stack's socket (null once closed). */
  get socket(): TcpSocket | null {
    return this.s;
  }

  private wire(s: TcpSocket): void {
    s.onConnect = () => {
      const req = this.connectReq;
      this.connectReq = null;
      req?.oncomplete(0, this, req, true, true);
    };
    s.onReadable = () => this.pump();
    s.onWritable = () => this.drain();
    s.onError = (_s, errno) => this.fail(errno);
    s.onClose = null;
  }

  /** Starts an active open to (ip, port); completion arrives through `req.oncomplete`. */
  start(req: ConnectReq, ip: number, port: number): number {
    const s = this.s;
    if (!s) return EINVAL;
    const r = this.tcp.connect(s, ip, port, this.now());
    if (r < 0) return r;
    this.connectReq = req;
    this.flush();
    return 0;
  }

  // -- reads ------------------------------------------------------------------------------------

  readStart(): number {
    this.reading = true;
    if (!this.pumpQueued && this.s && (this.s.rxQueued > 0 || this.s.finReceived || this.error)) {
      this.pumpQueued = true;
      setImmediate(this.pumpLater);
    }
    return 0;
  }

  readStop(): number {
    this.reading = false;
    return 0;
  }

  useUserBuffer(buf: Uint8Array): void {
    this.userBuf = buf;
  }

  /** Hands Node what the receive buffer holds, while it is reading; then EOF or a pending error. */
  private pump(): void {
    const s = this.s;
    if (!s || !this.reading || !this.onread) return;
    const tcp = this.tcp;
    let took = false;
    while (this.reading && s.rxQueued > 0 && this.s === s) {
      let n: number;
      if (this.userBuf) {
        n = tcp.recv(s, this.userBuf, 0, this.userBuf.length, this.now());
        if (n <= 0) break;
        took = true;
        this.bytesRead += n;
        setReadResult(n, 0);
        this.onread(undefined);
        continue;
      }
      if (this.slab.length - this.slabOff < SLAB_MIN) {
        this.slab = new Uint8Array(SLAB);
        this.slabOff = 0;
      }
      const off = this.slabOff;
      n = tcp.recv(s, this.slab, off, this.slab.length - off, this.now());
      if (n <= 0) break;
      took = true;
      this.slabOff += n;
      this.bytesRead += n;
      setReadResult(n, off);
      this.onread(this.slab.buffer as ArrayBuffer);
    }
    if (took) this.flush(); // a window update may be due
    if (!this.reading || this.s !== s || !this.onread) return;
    if (this.error) {
      const e = this.error;
      this.error = 0;
      setReadResult(e);
      this.onread(undefined);
    } else if (s.finReceived && s.rxQueued === 0 && !this.eofSent) {
      this.eofSent = true;
      setReadResult(UV_EOF);
      this.onread(undefined);
    }
  }

  // -- writes -----------------------------------------------------------------------------------

  writeBuffer(req: WriteReq, data: Uint8Array): number {
    return this.write(req, data);
  }

  writeUtf8String(req: WriteReq, s: string): number {
    return this.write(req, Buffer.from(s, 'utf8'));
  }

  writeLatin1String(req: WriteReq, s: string): number {
    return this.write(req, Buffer.from(s, 'latin1'));
  }

  writeAsciiString(req: WriteReq, s: string): number {
    return this.write(req, Buffer.from(s, 'ascii'));
  }

  writeUcs2String(req: WriteReq, s: string): number {
    return this.write(req, Buffer.from(s, 'ucs2'));
  }

  /** `chunks`: buffers, or (allBuffers false) chunk, encoding, chunk, encoding, … */
  writev(req: WriteReq, chunks: unknown[], allBuffers: boolean): number {
    const parts: Uint8Array[] = [];
    if (allBuffers) for (const c of chunks) parts.push(c as Uint8Array);
    else for (let i = 0; i < chunks.length; i += 2) {
      const c = chunks[i];
      parts.push(typeof c === 'string' ? Buffer.from(c, chunks[i + 1] as BufferEncoding) : (c as Uint8Array));
    }
    let total = 0;
    for (const p of parts) total += p.length;
    // One write request for the lot: only the last part carries the request.
    for (let i = 0; i < parts.length; i++) {
      const r = this.enqueue(i === parts.length - 1 ? req : null, parts[i]);
      if (r < 0) return r;
    }
    return this.finishWrite(req, total);
  }

  private write(req: WriteReq, data: Uint8Array): number {
    const r = this.enqueue(req, data);
    return r < 0 ? r : this.finishWrite(req, data.length);
  }

  /** Sends what fits now and queues the rest (with `req` when given). Returns 0 or a negative errno. */
  private enqueue(req: WriteReq | null, data: Uint8Array): number {
    const s = this.s;
    if (!s) return EPIPE;
    if (this.error) {
      const e = this.error;
      this.error = 0;
      return e;
    }
    let off = 0;
    if (this.pending.length === 0) {
      const n = this.tcp.send(s, data, 0, data.length, this.now());
      if (n < 0) return n;
      off = n;
      this.bytesWritten += n;
    }
    if (off < data.length || (req && this.pending.length > 0)) {
      if (off < data.length) noteTxEagain(this); // lib/stats: the write had to wait
      this.pending.push({ req, data, off });
      this.writeQueueSize += data.length - off;
    }
    return 0;
  }

  /** Reports the write to Node: synchronous when nothing of it is waiting, else completed by drain(). */
  private finishWrite(req: WriteReq, total: number): number {
    const waiting = this.pending.length > 0 && this.pending[this.pending.length - 1].req === req;
    setWriteResult(total, waiting);
    this.flush();
    return 0;
  }

  /** Moves queued writes into the send buffer as it empties; completes their requests. */
  private drain(): void {
    const s = this.s;
    if (!s) return;
    const q = this.pending;
    while (q.length > 0) {
      const p = q[0];
      if (p.off < p.data.length) {
        const n = this.tcp.send(s, p.data, p.off, p.data.length - p.off, this.now());
        if (n < 0) {
          this.fail(n);
          return;
        }
        p.off += n;
        this.bytesWritten += n;
        this.writeQueueSize -= n;
        if (p.off < p.data.length) break;
      }
      q.shift();
      p.req?.oncomplete(0);
    }
    if (q.length === 0 && this.shutdownReq) this.doShutdown();
    this.flush();
  }

  // -- the end ----------------------------------------------------------------------------------

  shutdown(req: WriteReq): number {
    if (!this.s) return ENOTCONN;
    this.shutdownReq = req;
    if (this.pending.length === 0) this.doShutdown();
    return 0;
  }

  private doShutdown(): void {
    const req = this.shutdownReq!;
    this.shutdownReq = null;
    const r = this.s ? this.tcp.shutdown(this.s, this.now()) : ENOTCONN;
    this.flush();
    setImmediate(() => req.oncomplete(r < 0 ? r : 0));
  }

  /** An error from the stack: fails queued writes and a pending connect; reads report it. */
  private fail(errno: number): void {
    const creq = this.connectReq;
    if (creq) {
      this.connectReq = null;
      creq.oncomplete(errno, this, creq, false, false);
      return;
    }
    const q = this.pending.splice(0);
    this.writeQueueSize = 0;
    this.error = errno;
    for (const p of q) p.req?.oncomplete(errno);
    if (this.reading) this.pump();
  }

  private release(): TcpSocket | null {
    const s = this.s;
    if (!s) return null;
    untrack(this); // lib/stats
    this.s = null;
    s.onConnect = s.onReadable = s.onWritable = s.onClose = null;
    s.onError = null;
    this.pending.length = 0;
    this.writeQueueSize = 0;
    return s;
  }

  close(cb?: () => void): void {
    const s = this.release();
    if (s) {
      this.tcp.close(s, this.now());
      this.flush();
    }
    this.finish(cb);
  }

  /** resetAndDestroy(): an RST now. */
  reset(cb?: () => void): number {
    const s = this.release();
    if (s) {
      this.tcp.abort(s, this.now());
      this.flush();
    }
    this.finish(cb);
    return 0;
  }

  // -- addresses and options --------------------------------------------------------------------

  getsockname(out: Record<string, unknown>): number {
    const s = this.s;
    if (!s) return EINVAL;
    return fill(out, s.localIp, s.localPort);
  }

  getpeername(out: Record<string, unknown>): number {
    const s = this.s;
    if (!s || s.state === TcpState.Closed || s.state === TcpState.SynSent) return ENOTCONN;
    return fill(out, s.remoteIp, s.remotePort);
  }

  setNoDelay(on: boolean): number {
    if (this.s) this.tcp.setNoDelay(this.s, on);
    return 0;
  }

  /** `delaySec`: net passes seconds (as libuv's uv_tcp_keepalive). */
  setKeepAlive(on: boolean, delaySec: number): number {
    if (this.s) this.tcp.setKeepAlive(this.s, on, Math.max(1, delaySec) * 1000);
    return 0;
  }

  /** Bytes readable now, and whether the connection is offloaded (tsvma's own accessors). */
  get offloaded(): boolean {
    return true;
  }
}

/**
 * A client socket's handle until Node hands it the resolved address. Options set before (local
 * bind, no-delay, keep-alive) are remembered and applied to whichever handle takes over.
 */
export class PendingTcpHandle extends Handle {
  bytesRead = 0;
  bytesWritten = 0;
  writeQueueSize = 0;
  private local: { ip: string; port: number } | null = null;
  private noDelay: boolean | null = null;
  private keepAlive: [boolean, number] | null = null;
  private wantRef = true;

  constructor(rt: Runtime, private readonly socket: net.Socket) {
    super(rt);
  }

  bind(address: string, port: number): number {
    if (parseIp(address) < 0) return EINVAL;
    this.local = { ip: address, port };
    return 0;
  }

  connect(req: ConnectReq, address: string, port: number): number {
    const ip = parseIp(address);
    const lip = this.local ? parseIp(this.local.ip) : 0;
    const lport = this.local?.port ?? 0;
    if (ip >= 0 && offloadDecision(this.rt, 'tcp_client', { ip: lip, port: lport }, { ip, port }) && this.rt.engine.stack.route(ip)) {
      const tcp = this.rt.tcp;
      const s = tcp.open();
      if (this.local) {
        const r = tcp.bind(s, lip, lport);
        if (r < 0) {
          tcp.close(s, this.now());
          return r;
        }
      }
      const h = new TcpHandle(this.rt, s);
      if (!this.wantRef) h.unref();
      if (this.noDelay !== null) h.setNoDelay(this.noDelay);
      if (this.keepAlive) h.setKeepAlive(...this.keepAlive);
      this.takeOver(h);
      return h.start(req, ip, port);
    }
    return this.toKernel().connect(req, address, port);
  }

  connect6(req: ConnectReq, address: string, port: number): number {
    return this.toKernel().connect6(req, address, port);
  }

  bind6(address: string, port: number, flags: number): number {
    return this.toKernel().bind6(address, port, flags);
  }

  /** Replaces this handle in the socket with a libuv TCP handle (pass-through to the OS). */
  private toKernel(): KernelTcp {
    const k = new TCP(TCP_SOCKET) as KernelTcp;
    if (this.local) {
      const r = k.bind(this.local.ip, this.local.port);
      if (r < 0) {
        // Report it from connect, as the kernel would at bind time: the socket is destroyed with it.
        return { connect: () => r, connect6: () => r, bind6: () => r } as unknown as KernelTcp;
      }
    }
    if (this.noDelay !== null) k.setNoDelay(this.noDelay);
    if (this.keepAlive) k.setKeepAlive(...this.keepAlive);
    if (!this.wantRef) k.unref();
    this.takeOver(k);
    return k;
  }

  private takeOver(h: object): void {
    const sock = this.socket as unknown as { _handle: object };
    this.unref();
    this.closed = true;
    sock._handle = h;
    attachHandle(this.socket, h as { getAsyncId(): number });
  }

  readStart(): number {
    return 0;
  }

  readStop(): number {
    return 0;
  }

  /** The `onread` option's buffer: applied again to whichever handle takes over (attachHandle). */
  useUserBuffer(): void {}

  setNoDelay(on: boolean): number {
    this.noDelay = on;
    return 0;
  }

  setKeepAlive(on: boolean, delaySec: number): number {
    this.keepAlive = [on, delaySec];
    return 0;
  }

  override ref(): void {
    this.wantRef = true;
    super.ref();
  }

  override unref(): void {
    if (!this.closed) this.wantRef = false;
    super.unref();
  }

  getsockname(out: Record<string, unknown>): number {
    void out;
    return EINVAL;
  }

  getpeername(out: Record<string, unknown>): number {
    void out;
    return ENOTCONN;
  }

  shutdown(): number {
    return ENOTCONN;
  }

  close(cb?: () => void): void {
    this.finish(cb);
  }

  reset(cb?: () => void): number {
    this.finish(cb);
    return 0;
  }
}

interface KernelTcp {
  bind(address: string, port: number): number;
  bind6(address: string, port: number, flags: number): number;
  connect(req: ConnectReq, address: string, port: number): number;
  connect6(req: ConnectReq, address: string, port: number): number;
  setNoDelay(on: boolean): number;
  setKeepAlive(on: boolean, delaySec: number): number;
  unref(): void;
}

/** A listener. Node's Server calls listen(), getsockname(), close(), ref/unref on it. */
export class TcpServerHandle extends Handle {
  declare onconnection: ((err: number, client?: TcpHandle) => void) | null;
  private s: TcpSocket | null;

  constructor(rt: Runtime, private readonly ip: number, private readonly port: number, private readonly reuseAddr: boolean, private readonly reusePort = false) {
    super(rt);
    Object.defineProperty(this, 'onconnection', { value: null, writable: true, enumerable: false, configurable: true });
    this.s = rt.tcp.open();
    this.ref();
  }

  /** Binds and listens (a bind error is reported as listen's, as Node reports the kernel's). */
  listen(backlog: number): number {
    const s = this.s;
    if (!s) return EINVAL;
    const tcp = this.tcp;
    let r = tcp.bind(s, this.ip, this.port, this.reuseAddr, this.reusePort);
    if (r === 0) r = tcp.listen(s, backlog);
    if (r < 0) return r;
    s.onAccept = () => this.acceptAll();
    trackTcp(this, this.rt, s); // lib/stats: fd and statistics
    return 0;
  }

  /** Whether the listener is offloaded (tsvma's accessor; a libuv handle has none). */
  get offloaded(): boolean {
    return true;
  }

  private acceptAll(): void {
    const s = this.s;
    if (!s) return;
    for (let c = this.tcp.accept(s); c; c = this.s ? this.tcp.accept(s) : null) {
      const h = new TcpHandle(this.rt, c);
      onTcpAccepted(this, h); // lib/extra: SocketXtreme's NEW_CONNECTION_ACCEPTED
      if (this.onconnection) this.onconnection(0, h);
      else h.close();
    }
  }

  getsockname(out: Record<string, unknown>): number {
    const s = this.s;
    if (!s) return EINVAL;
    return fill(out, s.localIp, s.localPort);
  }

  close(cb?: () => void): void {
    const s = this.s;
    this.s = null;
    untrack(this); // lib/stats
    if (s) {
      s.onAccept = null;
      this.tcp.close(s, this.now());
      this.flush();
    }
    this.finish(cb);
  }
}

/** The handle's owner (its net.Socket or net.Server). */
export function ownerOf(h: object): unknown {
  return (h as Record<symbol, unknown>)[OWNER];
}
