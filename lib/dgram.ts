/**
 * `tsvma/dgram`: a drop-in for `node:dgram`.
 *
 * Each socket picks its handle when it is bound (explicitly, or implicitly by send/connect), as VMA
 * decides at bind time: an offloaded handle on tsvma's UDP stack when a device is configured, the
 * address is tsvma's (or the wildcard) and the libvma.conf rules allow it; otherwise Node's own
 * dgram socket, whose events are passed through unchanged. `udp6` always passes through (IPv6 is not
 * offloaded). With TSVMA_DEVICE unset every socket passes through.
 *
 * Offloaded sockets support: bind (port, address, exclusive/reuseAddr), send (Buffer, string, array
 * of them, TypedArray/DataView, offset/length, callback), connect/disconnect, address/
 * remoteAddress, close, ref/unref, receive/send buffer sizes, TTL, broadcast, AbortSignal, and the
 * events listening/message/connect/close/error, multicast (add/drop membership, source-specific
 * membership, multicast TTL, loopback and interface; IGMP reports by the stack). Datagrams larger
 * than the MTU are fragmented (over 65507 bytes: EMSGSIZE).
 *
 * Unbound sockets behave as Node 20's: a membership call binds the handle implicitly to 0.0.0.0:0
 * (libuv's deferred bind) without making the socket bound for dgram — no 'listening', no 'message'
 * (receiving never starts), and a later bind() or send() fails with EINVAL from bind; the other
 * option setters check their argument (EINVAL) and then throw EBADF.
 *
 * Destinations the stack cannot route (ENETUNREACH: no interface or gateway of tsvma's leads
 * there, e.g. 127.x without TSVMA_LOOPBACK) go through the OS, as VMA sends them through the
 * socket's OS fd: a kernel socket made on the first such send, bound to the same port on 0.0.0.0,
 * whose received datagrams are 'message' events too. Only for sockets bound to the wildcard (the
 * kernel does not own tsvma's addresses); if the kernel refuses the port, that send fails with the
 * kernel's bind error.
 */
import { EventEmitter } from 'node:events';
import * as dns from 'node:dns';
import * as nodeDgram from 'node:dgram';
import * as net from 'node:net';
import { formatIp, parseIp } from '../proto/wire/addr';
import { UdpDatagram, type UdpSocket as StackSocket } from '../proto/stack/udp';
import { errInvalidArgType, errnoException, nodeError, validatePort } from './errors';
import { adjustRefs, offloadDecision, runtime, type Runtime } from './runtime';
import { trackOs, trackUdp, untrack } from './stats';
import { onUdpOffloaded } from './extra/api';

/** The stack's "no route" (Linux errno): such a send goes through the OS instead. */
const ENETUNREACH = 101;

export type SocketType = 'udp4' | 'udp6';
export interface SocketOptions {
  type: SocketType;
  reuseAddr?: boolean;
  ipv6Only?: boolean;
  recvBufferSize?: number;
  sendBufferSize?: number;
  lookup?: typeof dns.lookup;
  signal?: AbortSignal;
}
export interface RemoteInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  size: number;
}
type SendCallback = (error: Error | null, bytes?: number) => void;

const BIND_UNBOUND = 0;
const BIND_BINDING = 1;
const BIND_BOUND = 2;

const kState = Symbol('tsvma.dgram.state');

interface State {
  type: SocketType;
  bindState: number;
  /** connect() was called (Node's CONNECTING or CONNECTED). */
  connected: boolean;
  /** The connection is established ('connect' emitted): Node's CONNECTED, which send() looks at. */
  established: boolean;
  closed: boolean;
  reuseAddr: boolean;
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** The OS handle (pass-through) or the offloaded one, once bound. */
  os: nodeDgram.Socket | null;
  vma: { rt: Runtime; s: StackSocket } | null;
  /** The handle was bound implicitly by a membership call (Node: libuv's deferred bind; bindState stays UNBOUND). */
  implicit: boolean;
  /** An offloaded socket's kernel socket for destinations the stack cannot route (made on first use), and the sends waiting for its bind. */
  fallback: nodeDgram.Socket | null;
  fallbackWait: { buf: Buffer; port: number; host: string; cb?: SendCallback }[] | null;
  ref: boolean;
  broadcast: boolean;
  /** Sends waiting for the implicit bind. */
  queue: (() => void)[] | null;
  /** The last literal destination and its parsed address (sends usually repeat one). */
  lastHost: string;
  lastIp: number;
}

/** Node's sliceBuffer: offset and length as uint32, checked against the buffer. */
function sliceBuffer(msg: unknown, offset: unknown, length: unknown): Buffer {
  const buf = toBuffer(msg);
  const off = Number(offset) >>> 0;
  const len = Number(length) >>> 0;
  if (off > buf.byteLength) throw nodeError('ERR_BUFFER_OUT_OF_BOUNDS', '"offset" is outside of buffer bounds', RangeError);
  if (off + len > buf.byteLength) throw nodeError('ERR_BUFFER_OUT_OF_BOUNDS', '"length" is outside of buffer bounds', RangeError);
  return buf.subarray(off, off + len);
}

function toBuffer(msg: unknown): Buffer {
  if (typeof msg === 'string') return Buffer.from(msg);
  if (Buffer.isBuffer(msg)) return msg;
  if (ArrayBuffer.isView(msg)) return Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  throw errInvalidArgType('buffer', 'of type string or an instance of Buffer, TypedArray, or DataView', msg);
}

export class Socket extends EventEmitter {
  private readonly [kState]: State;

  constructor(type: SocketType | SocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void) {
    super();
    const opts: SocketOptions = typeof type === 'string' ? { type } : type;
    if (opts === null || typeof opts !== 'object') throw errInvalidArgType('options', 'of type object', opts);
    if (opts.type !== 'udp4' && opts.type !== 'udp6') throw nodeError('ERR_SOCKET_BAD_TYPE', 'Bad socket type specified. Valid types are: udp4, udp6', TypeError);
    this[kState] = {
      type: opts.type, bindState: BIND_UNBOUND, connected: false, established: false, closed: false, reuseAddr: !!opts.reuseAddr,
      recvBufferSize: opts.recvBufferSize, sendBufferSize: opts.sendBufferSize, os: null, vma: null, implicit: false, fallback: null, fallbackWait: null, ref: true,
      broadcast: false, queue: null, lastHost: '', lastIp: -1,
    };
    if (listener !== undefined) this.on('message', listener);
    // Datagrams queued while nobody listened go to the first 'message' listener (on a later turn).
    this.on('newListener', (ev: string | symbol) => {
      const st = this[kState];
      if (ev !== 'message' || !st.vma || st.vma.s.queued === 0) return;
      process.nextTick(() => {
        const v = this[kState].vma;
        if (v && v.s.onReadable) v.s.onReadable(v.s);
      });
    });
    const signal = opts.signal;
    if (signal !== undefined) {
      if (typeof signal !== 'object' || signal === null || !('aborted' in signal)) throw errInvalidArgType('options.signal', 'an instance of AbortSignal', signal);
      const onAbort = (): void => { if (!this[kState].closed) this.close(); };
      if (signal.aborted) process.nextTick(onAbort);
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
  }

  /** Whether this socket runs on tsvma's stack (false: Node's own socket, or not bound yet). */
  get offloaded(): boolean {
    return this[kState].vma !== null;
  }

  bind(port?: unknown, address?: unknown, callback?: () => void): this;
  bind(options: { port?: number; address?: string; exclusive?: boolean; fd?: number }, callback?: () => void): this;
  bind(...args: unknown[]): this {
    const st = this[kState];
    this.healthCheck();
    if (st.bindState !== BIND_UNBOUND) throw nodeError('ERR_SOCKET_ALREADY_BOUND', 'Socket is already bound');
    // As Node: the socket is BINDING from here on, even if an argument below turns out invalid.
    st.bindState = BIND_BINDING;
    let port: unknown = args[0];
    let address: unknown;
    let cb = args[args.length - 1];
    if (typeof cb !== 'function') cb = undefined;
    if (port !== null && typeof port === 'object') {
      const o = port as { port?: unknown; address?: unknown; fd?: unknown };
      if (o.fd !== undefined) throw nodeError('ERR_TSVMA_UNSUPPORTED', 'tsvma/dgram: bind({ fd }) is not supported');
      address = o.address ?? '';
      port = o.port ?? 0;
    } else {
      address = typeof args[1] === 'function' ? '' : args[1] ?? '';
    }
    if (typeof port === 'function' || port === undefined) port = 0;
    // Node does not validate a bind port: libuv gets it as a 16-bit value (-1 binds 65535, 70000 binds 4464).
    const p = (Number(port) || 0) & 0xffff;
    if (typeof address !== 'string') throw errInvalidArgType('address', 'of type string', address);
    if (cb) this.once('listening', cb as () => void);
    const host = address || (st.type === 'udp4' ? '0.0.0.0' : '::');
    const finish = (ip: string): void => {
      if (st.closed) return;
      this.attach(ip, p, 'udp_receiver');
    };
    if (net.isIP(host)) process.nextTick(finish, host);
    else {
      dns.lookup(host, { family: st.type === 'udp4' ? 4 : 6 }, (err, ip) => {
        if (err) {
          st.bindState = BIND_UNBOUND;
          this.emit('error', err);
          return;
        }
        finish(ip);
      });
    }
    return this;
  }

  /** Chooses and binds the handle; emits 'listening' or 'error'. */
  private attach(ip: string, port: number, role: 'udp_receiver' | 'udp_sender', remote?: { ip: number; port: number }): void {
    const st = this[kState];
    if (st.implicit) {
      // Node: the handle is bound already (by a membership call), so binding it again fails.
      st.bindState = BIND_UNBOUND;
      if (st.os) st.os.bind(port, ip); // Node's own socket reports it (forwarded 'error')
      else this.emit('error', errnoException(-22, 'bind', ip, port));
      return;
    }
    let rt: Runtime | null = null;
    try {
      rt = st.type === 'udp4' ? runtime() : null;
    } catch (e) {
      st.bindState = BIND_UNBOUND;
      this.emit('error', e);
      return;
    }
    const ip4 = st.type === 'udp4' ? parseIp(ip) : -1;
    if (rt && ip4 >= 0 && offloadDecision(rt, role, { ip: ip4, port }, remote)) {
      const r = this.openVma(rt, ip4, port, st.reuseAddr, true);
      if (r < 0) {
        st.bindState = BIND_UNBOUND;
        this.emit('error', errnoException(r, 'bind', ip, port));
        return;
      }
      st.bindState = BIND_BOUND;
      this.emit('listening');
      this.flushQueue();
      return;
    }
    // Pass-through: Node's own socket, events forwarded.
    const os = this.openOs();
    os.once('listening', () => {
      st.bindState = BIND_BOUND;
      if (!st.ref) os.unref();
      this.emit('listening');
      this.flushQueue();
    });
    os.bind(port, ip);
  }

  /**
   * Opens and binds the offloaded handle (`st.vma`); returns 0 or a negative errno (nothing kept).
   * `receive`: install the receive path ('message' events); an implicit bind does not (Node never
   * starts receiving on it: datagrams wait in the queue, and past recvBufferSize are dropped and counted).
   */
  private openVma(rt: Runtime, ip4: number, port: number, reuse: boolean, receive: boolean): number {
    const st = this[kState];
    const s = rt.udp.open();
    const r = rt.udp.bind(s, ip4, port, reuse);
    if (r < 0) {
      rt.udp.close(s);
      return r;
    }
    if (st.recvBufferSize) s.rcvBuf = st.recvBufferSize;
    s.mcOptions.multicastLoop = rt.loaded.config.vma.txMcLoopback;
    st.vma = { rt, s };
    trackUdp(this, rt, s); // lib/stats: fd and statistics
    onUdpOffloaded(this); // lib/extra: SocketXtreme's filter
    if (st.ref) adjustRefs(rt, 1);
    if (receive) {
      const d = new UdpDatagram();
      // The sender's address text, made once per new sender (a stream usually has one).
      let lastSrc = -1;
      let lastSrcText = '';
      s.onReadable = () => {
        // With no 'message' listener datagrams wait in the receive queue (up to recvBufferSize; then
        // dropped and counted), for the extra API's recvfrom_zcopy or a listener added later.
        if (this.listenerCount('message') === 0) return;
        while (rt.udp.receive(s, d)) {
          let msg: Buffer;
          if (d.data) msg = d.data.subarray(d.offset, d.offset + d.length); // a reassembled datagram: already its own copy
          else {
            msg = Buffer.allocUnsafe(d.length);
            d.ifc!.ring.rxPool.buf.copy(msg, 0, d.offset, d.offset + d.length);
          }
          if (d.srcIp !== lastSrc) {
            lastSrc = d.srcIp;
            lastSrcText = formatIp(d.srcIp);
          }
          const rinfo: RemoteInfo = { address: lastSrcText, family: 'IPv4', port: d.srcPort, size: d.length };
          rt.udp.release(d);
          this.emit('message', msg, rinfo);
        }
      };
    }
    s.onError = (_s, errno) => {
      _s.pendingError = 0;
      this.emit('error', errnoException(errno, 'recvmsg'));
    };
    return 0;
  }

  /** Node's own socket as the handle (`st.os`), not bound yet, its events forwarded. */
  private openOs(): nodeDgram.Socket {
    const st = this[kState];
    const os = nodeDgram.createSocket({ type: st.type, reuseAddr: st.reuseAddr, recvBufferSize: st.recvBufferSize, sendBufferSize: st.sendBufferSize });
    st.os = os;
    trackOs(this, os); // lib/stats: counts the kernel path
    os.on('connect', () => {
      st.established = true;
      this.emit('connect');
    });
    for (const ev of ['message', 'error'] as const) os.on(ev, (...a: unknown[]) => this.emit(ev, ...a));
    return os;
  }

  /**
   * A membership call on an unbound socket: as libuv, bind the handle to 0.0.0.0:0 (SO_REUSEADDR)
   * first, chosen by the offload policy as a bind would be. Node's own socket does that itself in
   * its membership call. Returns null, or the errno exception to throw.
   */
  private implicitBind(what: string): Error | null {
    const st = this[kState];
    if (st.os || st.vma) return null;
    let rt: Runtime | null = null;
    try {
      rt = st.type === 'udp4' ? runtime() : null;
    } catch (e) {
      return e as Error;
    }
    st.implicit = true;
    if (rt && offloadDecision(rt, 'udp_receiver', { ip: 0, port: 0 })) {
      const r = this.openVma(rt, 0, 0, true, false);
      if (r < 0) {
        st.implicit = false;
        return errnoException(r, what);
      }
      return null;
    }
    const os = this.openOs();
    if (!st.ref) os.unref();
    return null;
  }

  private flushQueue(): void {
    const q = this[kState].queue;
    this[kState].queue = null;
    if (q) for (const f of q) f();
  }

  private healthCheck(): void {
    if (this[kState].closed) throw nodeError('ERR_SOCKET_DGRAM_NOT_RUNNING', 'Not running');
  }

  /** Binds implicitly (0.0.0.0:0), then runs `then`. */
  private whenBound(then: () => void, remote?: { ip: number; port: number }): void {
    const st = this[kState];
    if (st.bindState === BIND_BOUND) {
      then();
      return;
    }
    (st.queue ??= []).push(then);
    if (st.bindState === BIND_UNBOUND) {
      st.bindState = BIND_BINDING;
      process.nextTick(() => {
        if (!st.closed) this.attach(st.type === 'udp4' ? '0.0.0.0' : '::', 0, 'udp_sender', remote);
      });
    }
  }

  send(msg: unknown, offset?: unknown, length?: unknown, port?: unknown, address?: unknown, callback?: unknown): void {
    // Node's own argument shuffle (lib/dgram.js), case by case, so odd calls behave the same.
    const st = this[kState];
    const connected = st.established;
    let buffer: unknown = msg;
    if (!connected) {
      if (address || (port && typeof port !== 'function')) buffer = sliceBuffer(buffer, offset, length);
      else {
        callback = port;
        port = offset;
        address = length;
      }
    } else {
      if (typeof length === 'number') {
        buffer = sliceBuffer(buffer, offset, length);
        if (typeof port === 'function') {
          callback = port;
          port = null;
        }
      } else callback = offset;
      if (port || address) throw nodeError('ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected');
    }
    let list: Buffer;
    if (!Array.isArray(buffer)) list = toBuffer(buffer);
    else {
      const parts: Buffer[] = [];
      for (const b of buffer) {
        if (typeof b === 'string') parts.push(Buffer.from(b));
        else if (ArrayBuffer.isView(b)) parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
        else throw errInvalidArgType('buffer list arguments', 'of type string or an instance of Buffer, TypedArray, or DataView', buffer);
      }
      list = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    }
    if (!connected) validatePort(port, 'Port', false);
    if (typeof callback !== 'function') callback = undefined;
    if (typeof address === 'function') {
      callback = address;
      address = undefined;
    } else if (address !== undefined && address !== null && typeof address !== 'string') throw errInvalidArgType('address', 'of type string', address);
    this.healthCheck();
    const cb = callback as SendCallback | undefined;
    const p = st.connected ? 0 : +(port as number);
    const host = st.connected ? '' : (address as string | undefined) || (st.type === 'udp4' ? '127.0.0.1' : '::1');
    // The common case — bound, literal or connected destination — goes straight out: no closure,
    // and the last destination's parse is remembered.
    if (st.bindState === BIND_BOUND && (st.connected || host === st.lastHost || net.isIP(host))) {
      this.sendNow(list, st.connected ? -1 : this.destination(host), p, host, cb);
      return;
    }
    const go = (ip: string): void => {
      const dst = st.type === 'udp4' ? parseIp(ip) : -1;
      this.whenBound(() => this.sendNow(list, dst, p, ip, cb), dst >= 0 ? { ip: dst, port: p } : undefined);
    };
    if (st.connected || net.isIP(host)) go(host);
    else dns.lookup(host, { family: st.type === 'udp4' ? 4 : 6 }, (err, ip) => {
      if (err) {
        if (cb) cb(err);
        else this.emit('error', err);
        return;
      }
      go(ip);
    });
  }

  /** The IPv4 address of a literal destination (-1 for udp6), parsed once per new destination. */
  private destination(host: string): number {
    const st = this[kState];
    if (st.type !== 'udp4') return -1;
    if (host !== st.lastHost) {
      st.lastHost = host;
      st.lastIp = parseIp(host);
    }
    return st.lastIp;
  }

  private sendNow(buf: Buffer, dst: number, port: number, host: string, cb?: SendCallback): void {
    const st = this[kState];
    if (st.closed) return;
    if (st.os) {
      if (st.connected) st.os.send(buf, cb);
      else st.os.send(buf, port, host, cb);
      return;
    }
    const { rt, s } = st.vma!;
    const target = st.connected ? s.remoteIp : dst;
    if (!st.broadcast && target !== 0 && (target === 0xffffffff || target === rt.engine.ifc.broadcast)) {
      const e = errnoException(-13, 'send', host, port);
      if (cb) process.nextTick(cb, e);
      else process.nextTick(() => this.emit('error', e));
      return;
    }
    const now = rt.engine.clock();
    const r = rt.udp.send(s, buf, 0, buf.length, st.connected ? 0 : dst, st.connected ? 0 : port, now);
    rt.engine.flush(now);
    rt.engine.poller.touch(); // a send is activity: a reply is likely, so the poller stays (or goes) hot
    if (r === -ENETUNREACH && !st.connected && s.localIp === 0) {
      this.sendThroughOs(buf, port, host, cb);
      return;
    }
    if (r < 0) {
      const e = errnoException(r, 'send', st.connected ? formatIp(s.remoteIp) : host, st.connected ? s.remotePort : port);
      if (cb) process.nextTick(cb, e);
      else process.nextTick(() => this.emit('error', e));
      return;
    }
    if (cb) process.nextTick(cb, null, r);
  }

  /**
   * A destination the stack cannot route, from a wildcard-bound offloaded socket: through a kernel
   * socket bound to the same port (made now, once), as VMA sends through the socket's OS fd.
   */
  private sendThroughOs(buf: Buffer, port: number, host: string, cb?: SendCallback): void {
    const st = this[kState];
    let fb = st.fallback;
    if (!fb) {
      const k = nodeDgram.createSocket({ type: 'udp4', reuseAddr: st.reuseAddr, sendBufferSize: st.sendBufferSize });
      fb = st.fallback = k;
      trackOs(this, k); // lib/stats: the offloaded socket's kernel path
      st.fallbackWait = [];
      if (!st.ref) k.unref();
      k.on('message', (m: Buffer, r: RemoteInfo) => this.emit('message', m, r));
      const refused = (e: Error): void => {
        // The kernel refused the port: these sends fail with its error; the next one tries again.
        const wait = st.fallbackWait ?? [];
        st.fallbackWait = null;
        if (st.fallback === k) st.fallback = null;
        k.close();
        for (const w of wait) {
          if (w.cb) w.cb(e);
          else this.emit('error', e);
        }
      };
      k.once('error', refused);
      k.once('listening', () => {
        k.removeListener('error', refused);
        k.on('error', (e: Error) => this.emit('error', e));
        const wait = st.fallbackWait ?? [];
        st.fallbackWait = null;
        for (const w of wait) k.send(w.buf, w.port, w.host, w.cb);
      });
      k.bind({ port: st.vma!.s.localPort, address: '0.0.0.0', exclusive: true });
    }
    if (st.fallbackWait) st.fallbackWait.push({ buf, port, host, cb });
    else fb.send(buf, port, host, cb);
  }

  connect(port: unknown, address?: unknown, callback?: () => void): void {
    const st = this[kState];
    if (typeof address === 'function') {
      callback = address as () => void;
      address = undefined;
    }
    const p = validatePort(port, 'Port', false);
    if (address !== undefined && typeof address !== 'string') throw errInvalidArgType('address', 'of type string', address);
    this.healthCheck();
    if (st.connected) throw nodeError('ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected');
    st.connected = true; // as Node: set at once (connect state CONNECTING)
    if (callback) this.once('connect', callback);
    const host = (address as string | undefined) || (st.type === 'udp4' ? '127.0.0.1' : '::1');
    const go = (ip: string): void => {
      const dst = st.type === 'udp4' ? parseIp(ip) : -1;
      this.whenBound(() => {
        if (st.os) {
          st.os.connect(p, ip);
          return;
        }
        const { rt, s } = st.vma!;
        const r = rt.udp.connect(s, dst, p);
        if (r < 0) {
          st.connected = false;
          this.emit('error', errnoException(r, 'connect', ip, p));
          return;
        }
        process.nextTick(() => {
          if (!st.connected || st.closed) return;
          st.established = true;
          this.emit('connect');
        });
      }, dst >= 0 ? { ip: dst, port: p } : undefined);
    };
    if (net.isIP(host)) go(host);
    else dns.lookup(host, (err, ip) => {
      if (err) {
        st.connected = false;
        this.emit('error', err);
        return;
      }
      go(ip);
    });
  }

  disconnect(): void {
    const st = this[kState];
    this.healthCheck();
    if (!st.connected) throw nodeError('ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
    st.connected = false;
    st.established = false;
    if (st.os) st.os.disconnect();
    else if (st.vma) st.vma.rt.udp.disconnect(st.vma.s);
  }

  address(): { address: string; family: string; port: number } {
    const st = this[kState];
    this.healthCheck();
    if (st.os) return st.os.address(); // Node's own answer (EBADF while its bind is pending)
    if (!st.vma) throw errnoException(-9, 'getsockname'); // EBADF, as Node for an unbound socket
    const s = st.vma.s;
    return { address: formatIp(s.localIp), family: 'IPv4', port: s.localPort };
  }

  remoteAddress(): { address: string; family: string; port: number } {
    const st = this[kState];
    this.healthCheck();
    if (!st.connected || (st.vma && !st.vma.s.connected)) throw nodeError('ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
    if (st.os) return st.os.remoteAddress();
    const s = st.vma!.s;
    return { address: formatIp(s.remoteIp), family: 'IPv4', port: s.remotePort };
  }

  close(callback?: () => void): this {
    const st = this[kState];
    if (typeof callback === 'function') this.once('close', callback);
    this.healthCheck();
    untrack(this); // lib/stats
    st.closed = true;
    st.queue = null;
    if (st.fallback) {
      st.fallback.close();
      st.fallback = null;
      st.fallbackWait = null;
    }
    if (st.os) {
      st.os.close(() => this.emit('close'));
      return this;
    }
    if (st.vma) {
      const { rt, s } = st.vma;
      rt.udp.close(s, rt.engine.clock());
      rt.engine.flush(); // IGMP leaves go out now
      if (st.ref) adjustRefs(rt, -1);
    }
    process.nextTick(() => this.emit('close'));
    return this;
  }

  [Symbol.asyncDispose](): Promise<void> {
    if (this[kState].closed) return Promise.resolve();
    return new Promise((resolve) => this.close(() => resolve()));
  }

  ref(): this {
    const st = this[kState];
    if (!st.ref) {
      st.ref = true;
      if (st.os) st.os.ref();
      st.fallback?.ref();
      if (st.vma && !st.closed) adjustRefs(st.vma.rt, 1);
    }
    return this;
  }

  unref(): this {
    const st = this[kState];
    if (st.ref) {
      st.ref = false;
      if (st.os) st.os.unref();
      st.fallback?.unref();
      if (st.vma && !st.closed) adjustRefs(st.vma.rt, -1);
    }
    return this;
  }

  private bufferSize(which: 'recv' | 'send', size?: number): number {
    const st = this[kState];
    if (st.bindState !== BIND_BOUND && !st.implicit) {
      const e = nodeError('ERR_SOCKET_BUFFER_SIZE', `Could not get or set buffer size: uv_${which}_buffer_size returned EBADF (bad file descriptor)`);
      Object.defineProperty(e, 'name', { value: 'SystemError', enumerable: false, configurable: true, writable: true });
      throw e;
    }
    if (st.os) {
      if (size === undefined) return which === 'recv' ? st.os.getRecvBufferSize() : st.os.getSendBufferSize();
      if (which === 'recv') st.os.setRecvBufferSize(size);
      else st.os.setSendBufferSize(size);
      return size;
    }
    const s = st.vma!.s;
    if (size === undefined) return which === 'recv' ? s.rcvBuf * 2 : (st.sendBufferSize ?? 212992) * 2; // Linux reports double what was set
    if (typeof size !== 'number' || size < 0 || !Number.isInteger(size)) throw errInvalidArgType('size', 'of type number', size);
    if (which === 'recv') s.rcvBuf = size;
    else st.sendBufferSize = size;
    return size;
  }

  setRecvBufferSize(size: number): void {
    this.bufferSize('recv', size);
  }
  getRecvBufferSize(): number {
    return this.bufferSize('recv');
  }
  setSendBufferSize(size: number): void {
    this.bufferSize('send', size);
  }
  getSendBufferSize(): number {
    return this.bufferSize('send');
  }
  getSendQueueSize(): number {
    return this[kState].os?.getSendQueueSize() ?? 0;
  }
  getSendQueueCount(): number {
    return this[kState].os?.getSendQueueCount() ?? 0;
  }

  setTTL(ttl: number): number {
    if (typeof ttl !== 'number') throw errInvalidArgType('ttl', 'of type number', ttl);
    const st = this[kState];
    if (st.os) return st.os.setTTL(ttl);
    if (ttl < 1 || ttl > 255) throw errnoException(-22, 'setTTL');
    if (!st.vma) throw errnoException(-9, 'setTTL');
    st.vma.s.ipOptions.ttl = ttl;
    return ttl;
  }

  setBroadcast(flag: boolean): void {
    const st = this[kState];
    if (st.os) st.os.setBroadcast(flag);
    else if (!st.vma) throw errnoException(-9, 'setBroadcast');
    st.broadcast = !!flag;
  }

  /** The bound offloaded socket for a multicast option, after Node's argument checks; null: pass-through (use `os`). */
  private mc(what: string): { rt: Runtime; s: StackSocket } | null {
    const st = this[kState];
    this.healthCheck();
    if (st.os) return null;
    if (!st.vma) throw errnoException(-9, what); // EBADF: unbound
    return st.vma;
  }

  private check(r: number, what: string): void {
    if (r < 0) throw errnoException(r, what);
  }

  setMulticastTTL(ttl: number): number {
    if (typeof ttl !== 'number') throw errInvalidArgType('ttl', 'of type number', ttl);
    this.healthCheck();
    const os = this[kState].os;
    if (os) return os.setMulticastTTL(ttl);
    // As libuv: the range first (EINVAL), then the handle (EBADF when unbound).
    if (!(ttl >= 0 && ttl <= 255)) throw errnoException(-22, 'setMulticastTTL');
    const v = this.mc('setMulticastTTL')!;
    v.s.mcOptions.ttl = ttl | 0;
    return ttl;
  }

  setMulticastLoopback(flag: boolean): boolean {
    const v = this.mc('setMulticastLoopback');
    if (!v) return this[kState].os!.setMulticastLoopback(flag);
    v.s.mcOptions.multicastLoop = !!flag;
    return flag;
  }

  setMulticastInterface(iface: string): void {
    this.healthCheck();
    if (typeof iface !== 'string') throw errInvalidArgType('interfaceAddress', 'of type string', iface);
    const os = this[kState].os;
    if (os) return os.setMulticastInterface(iface);
    // As libuv: the address first (EINVAL), then the handle (EBADF when unbound).
    const ip = parseIp(iface);
    if (ip < 0) throw errnoException(-22, 'setMulticastInterface');
    const v = this.mc('setMulticastInterface')!;
    this.check(v.rt.udp.setMulticastInterface(v.s, ip), 'setMulticastInterface');
  }

  /** A group and interface for (add|drop)Membership: EINVAL for unparsable text, as libuv. */
  private groupArgs(what: string, group: string, iface?: string): [number, number] {
    const g = parseIp(String(group));
    const i = iface === undefined || iface === null ? 0 : parseIp(String(iface));
    if (g < 0 || i < 0) throw errnoException(-22, what);
    return [g, i];
  }

  /**
   * A membership call on a socket without a handle: libuv parses the group (and source) — EINVAL
   * without binding — then binds the handle to 0.0.0.0:0 before the call (see implicitBind).
   */
  private unboundMembership(what: string, group: string, source?: string): void {
    const st = this[kState];
    this.healthCheck();
    if (st.os || st.vma) return;
    if (st.type === 'udp4' && (parseIp(String(group)) < 0 || (source !== undefined && parseIp(source) < 0))) throw errnoException(-22, what);
    const e = this.implicitBind(what);
    if (e) throw e;
  }

  addMembership(group: string, iface?: string): void {
    this.membership('addMembership', group, iface);
  }

  dropMembership(group: string, iface?: string): void {
    this.membership('dropMembership', group, iface);
  }

  private membership(what: 'addMembership' | 'dropMembership', group: string, iface?: string): void {
    if (!group) throw nodeError('ERR_MISSING_ARGS', 'The "multicastAddress" argument must be specified', TypeError);
    this.unboundMembership(what, group);
    const v = this.mc(what);
    if (!v) return this[kState].os![what](group, iface);
    const [g, i] = this.groupArgs(what, group, iface);
    const now = v.rt.engine.clock();
    this.check(what === 'addMembership' ? v.rt.udp.addMembership(v.s, g, i, now) : v.rt.udp.dropMembership(v.s, g, i, now), what);
    v.rt.engine.flush(); // the IGMP report goes out now
  }

  addSourceSpecificMembership(source: string, group: string, iface?: string): void {
    this.sourceMembership('addSourceSpecificMembership', source, group, iface);
  }

  dropSourceSpecificMembership(source: string, group: string, iface?: string): void {
    this.sourceMembership('dropSourceSpecificMembership', source, group, iface);
  }

  private sourceMembership(what: 'addSourceSpecificMembership' | 'dropSourceSpecificMembership', source: string, group: string, iface?: string): void {
    if (typeof source !== 'string') throw errInvalidArgType('sourceAddress', 'of type string', source);
    if (typeof group !== 'string') throw errInvalidArgType('groupAddress', 'of type string', group);
    this.unboundMembership(what, group, source);
    const v = this.mc(what);
    if (!v) return this[kState].os![what](source, group, iface);
    const [g, i] = this.groupArgs(what, group, iface);
    const src = parseIp(source);
    if (src < 0) throw errnoException(-22, what);
    const now = v.rt.engine.clock();
    const r = what === 'addSourceSpecificMembership' ? v.rt.udp.addSourceMembership(v.s, src, g, i, now) : v.rt.udp.dropSourceMembership(v.s, src, g, i, now);
    this.check(r, what);
    v.rt.engine.flush();
  }
}

export function createSocket(type: SocketType | SocketOptions, listener?: (msg: Buffer, rinfo: RemoteInfo) => void): Socket {
  return new Socket(type, listener);
}
