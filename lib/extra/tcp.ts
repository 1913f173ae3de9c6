/**
 * The extra API's TCP parts over proto/stack/tcp.ts's primitives (registered into lib/extra/api.ts
 * when this module loads): the receive callback (the connection's rxFilter: in-order payload before
 * it is stored, only while nothing is readable — VMA's rule), zero-copy reads (views of the
 * connection's receive buffer held until free_packets), dummy sends, SO_VMA_SHUTDOWN_RX, and
 * SocketXtreme's PACKET and NEW_CONNECTION_ACCEPTED completions.
 *
 * A TCP callback runs in the middle of segment processing: it must not write to a socket
 * synchronously (defer with queueMicrotask/setImmediate); docs/extra-api.md says so.
 */
import { formatIp } from '../../proto/wire/addr';
import type { Interface } from '../../proto/stack/interface';
import type { RxBufferRef, TcpSocket } from '../../proto/stack/tcp';
import type { Ring } from '../../ring/ring';
import { runtime } from '../runtime';
import { entryOf, type SocketEntry } from '../stats/registry';
import { extraOf, invokeCallback, setTcpExtraHooks, type ZcopyResult } from './api';
import * as C from './constants';
import { hold, overLimit, peekPacketId, type HeldPacket } from './held';
import * as X from './xtreme';

function rt() {
  return runtime()!;
}

/** The interface a connection's segments use (its local address's), for ring fds and held packets. */
function ifcOf(s: TcpSocket): Interface | null {
  const stack = rt().engine.stack;
  return stack.isLocal(s.localIp >>> 0) ?? stack.route(s.remoteIp >>> 0)?.ifc ?? stack.interfaces[0] ?? null;
}

function ringOfPool(pool: RxBufferRef['pool']): Ring | null {
  for (const i of rt().engine.stack.interfaces) if (i.ring.rxPool === pool) return i.ring;
  return null;
}

/** Installs the connection's filter (the application's callback and/or SocketXtreme), or clears it. */
function install(e: SocketEntry): void {
  const s = e.tcp!;
  const x = extraOf(e);
  const xtreme = rt().loaded.config.vma.socketXtreme;
  if (!x.callback && !xtreme) {
    s.rxFilter = null;
    return;
  }
  // A connection's addresses and interface are fixed: worked out once, not per segment.
  const src = { address: formatIp(s.remoteIp >>> 0), port: s.remotePort };
  const dst = { address: formatIp(s.localIp >>> 0), port: s.localPort };
  const own = ifcOf(s)?.ring ?? null;
  s.rxFilter = (sock, data, off, len, ref, now) => {
    const ring = ref !== null && ref.pool !== own?.rxPool ? ringOfPool(ref.pool) ?? own : own;
    if (!ring) return C.VMA_PACKET_RECV;
    // A payload not in a ring buffer (joined from the out-of-order queue), or past the copy-fallback mark: a copy.
    const zc = ref !== null && !overLimit(ring);
    const view: Uint8Array = data.subarray(off, off + len);
    if (x.callback) {
      const info = x.info;
      info.packet_id = peekPacketId();
      info.src.address = src.address;
      info.src.port = src.port;
      info.dst.address = dst.address;
      info.dst.port = dst.port;
      info.payload_sz = len;
      info.socket_ready_queue_pkt_count = 0;
      info.socket_ready_queue_byte_count = sock.rxQueued;
      X.setTimespec(info.sw_timestamp, ref ? ring.rxPool.timestamp(ref.id) || now : now);
      const v = invokeCallback(x, e.fd, view);
      if (v === C.VMA_PACKET_HOLD) {
        if (zc) {
          ref!.pool.ref(ref!.id);
          hold(e, ring, ref!.id, null);
        } else hold(e, ring, -1, Buffer.from(view));
        return C.VMA_PACKET_HOLD;
      }
      if (v !== C.VMA_PACKET_RECV) return C.VMA_PACKET_DROP;
    }
    if (!xtreme) return C.VMA_PACKET_RECV;
    // SocketXtreme: the payload becomes a PACKET completion on the ring.
    if (zc) ref!.pool.ref(ref!.id);
    X.postPacket(ring, e, zc ? view : Buffer.from(view), zc ? ref!.id : -1, x.userData, src, now);
    return C.VMA_PACKET_HOLD;
  };
}

setTcpExtraHooks({
  setCallback(e) {
    install(e);
  },

  recvZcopy(e, len, _flags, fail): ZcopyResult | -1 {
    const s = e.tcp!;
    const tcp = rt().tcp;
    const views = tcp.peekReceived(s);
    if (views.length === 0) {
      e.rxEagain++;
      return fail('EAGAIN');
    }
    const ring = ifcOf(s)?.ring;
    if (!ring) return fail('ENOTCONN');
    // As many segments as the C buffer would describe: n_packet_num, then per packet id, sz_iov and one iovec.
    const fit = Math.min(views.length, Math.floor((len - 8) / 32));
    const packets = [];
    let bytes = 0;
    for (let i = 0; i < fit; i++) {
      const v = views[i];
      const h = tcp.holdReceived(s, v.length);
      if (h < 0) break;
      packets.push({ packet_id: hold(e, ring, -1, null, h), iov: [v] });
      bytes += v.length;
    }
    // The views are the connection's receive buffer (its bytes were copied there once, from the ring).
    return { bytes, flags: C.MSG_VMA_ZCOPY, from: { address: formatIp(s.remoteIp >>> 0), port: s.remotePort }, packets };
  },

  freeHeld(h: HeldPacket) {
    const s = h.entry.tcp;
    if (!s || h.tcpHold < 0) return;
    const r = rt();
    const now = r.engine.clock();
    r.tcp.freeHeld(s, h.tcpHold, now);
    r.engine.flush(now);
  },

  shutdownRx(e) {
    e.tcp!.rxShutdown = true;
  },

  send(e, data, dummy, now) {
    if (!dummy) return -95; // Node sockets write through socket.write()
    return rt().tcp.sendDummy(e.tcp!, data, 0, data.length, now);
  },
});

/** A SocketXtreme event completion (no packet) for a connection: EPOLL* bits as VMA posts them. */
function postEvent(e: SocketEntry, bits: number): void {
  const s = e.tcp;
  const ring = s ? ifcOf(s)?.ring : null;
  if (!s || !ring) return;
  X.postEvent(ring, BigInt(bits), extraOf(e).userData, { address: formatIp(s.remoteIp >>> 0), port: s.remotePort });
}

/**
 * Called by lib/net_handle.ts when a TCP handle is tracked, after it wired the connection's
 * callbacks. SocketXtreme: the connection gets its filter (data as PACKET completions) and its
 * state changes become event completions on its ring, as VMA's: connected or writable again →
 * EPOLLOUT; the peer's FIN → EPOLLIN | EPOLLRDHUP (once); a reset or error → EPOLLERR | EPOLLHUP.
 */
export function onTcpTracked(handle: object): void {
  if (!runtime()?.loaded.config.vma.socketXtreme) return;
  const e = entryOf(handle);
  if (!e || !e.tcp) return;
  install(e);
  const s = e.tcp;
  const connect = s.onConnect;
  s.onConnect = (x) => {
    postEvent(e, C.EPOLLOUT);
    connect?.(x);
  };
  const writable = s.onWritable;
  s.onWritable = (x) => {
    postEvent(e, C.EPOLLOUT);
    writable?.(x);
  };
  let fin = false;
  const readable = s.onReadable;
  s.onReadable = (x) => {
    if (x.finReceived && !fin) {
      fin = true;
      postEvent(e, C.EPOLLIN | C.EPOLLRDHUP);
    }
    readable?.(x);
  };
  const error = s.onError;
  s.onError = (x, errno) => {
    postEvent(e, C.EPOLLERR | C.EPOLLHUP);
    error?.(x, errno);
  };
}

/** Called by lib/net_handle.ts for each accepted connection: SocketXtreme's NEW_CONNECTION_ACCEPTED on the listener's ring. */
export function onTcpAccepted(listener: object, child: object): void {
  if (!runtime()?.loaded.config.vma.socketXtreme) return;
  const l = entryOf(listener);
  const c = entryOf(child);
  if (!l || !c || !c.tcp) return;
  const ring = ifcOf(c.tcp)?.ring;
  if (!ring) return;
  X.postEvent(ring, C.VMA_SOCKETXTREME_NEW_CONNECTION_ACCEPTED, extraOf(c).userData, { address: formatIp(c.tcp.remoteIp >>> 0), port: c.tcp.remotePort }, l.fd);
}
