/**
 * The TCP engine: every connection's state machine as a reducer over parsed segments (TcpRepr),
 * driven by `segmentIn` (a parsed segment from the wire), the user calls, and timers on the host's
 * wheel. It needs no device, no clock and no event loop: a TcpHost gives it routes, a timer wheel
 * and a way to send a segment, and `now` is passed in. proto/stack/tcp.ts wires it to a Stack;
 * tests use a fake host (fake_host.ts).
 *
 * Read first: RFC 9293 §3.10 (event processing; the "segment arrives" steps are numbered the same
 * here), RFC 5961 (RST/SYN/ACK validation, challenge ACKs), RFC 6298 (RTO), RFC 5681 + 6582
 * (congestion control, NewReno recovery), RFC 2018 (SACK), RFC 7323 (window scale, timestamps,
 * PAWS), RFC 1122 §4.2 (delayed ACK, Nagle, SWS avoidance, keep-alive, ICMP soft/hard errors),
 * RFC 6528 (ISNs), RFC 4987 (SYN cookies).
 *
 * Contracts:
 * - Callbacks run only from `segmentIn`, `icmpError` and timers, after the segment or timer has been
 *   fully processed (events are gathered per socket and delivered by `dispatch`). A callback may
 *   call any engine method.
 * - onClose fires once, when the connection reaches TIME_WAIT or CLOSED, whichever comes first.
 * - Nothing here allocates per segment on the established data path: Reprs, buffers, timers and
 *   scoreboards are per engine or per connection.
 * - Errors are negative errno values (TcpErrno); peer input never throws.
 */
import { randomBytes } from 'node:crypto';
import { TcpFlag, TcpRepr, TCP_MAX_SACK_BLOCKS, tcpHeaderLen } from '../wire/tcp';
import { seq, seqAdd, seqGe, seqGt, seqLe, seqLt, seqSub, type SeqNum } from '../wire/seq';
import { Timer, type TimerWheel } from '../stack/timer_wheel';
import { ByteRing } from './byte_ring';
import { ConnTable } from './conn_table';
import { congestionControl, type CongestionControl, type CongestionName } from './congestion';
import { KeyedHash } from './hash';
import { RxHolds } from './rx_holds';
import { MAX_OOO_RANGES, MAX_SACKED_RANGES, TcpEvent, TcpRxVerdict, TcpSocket, type RxBufferRef } from './socket';
import {
  defaultTcpTimings, TCP_DEFAULT_MSS, TCP_EPHEMERAL_HIGH, TCP_EPHEMERAL_LOW, TCP_IP_HEADERS, TcpErrno, TcpState, type TcpTimings,
} from './types';

/** A route as the engine needs it: the source address, the path MTU and the host's own handle. */
export interface TcpRoute {
  src: number;
  mtu: number;
  handle: unknown;
}

export interface TcpHost {
  readonly timers: TimerWheel;
  /** Whether `ip` is one of the host's own addresses. */
  isLocal(ip: number): boolean;
  /** The route to `dst`, or null (not on the hot path: called at connect/accept). */
  route(dst: number): TcpRoute | null;
  /**
   * Sends one segment: the header from `r` (payloadLength set; only read) and, when payloadLength > 0, that
   * many bytes of `data` from logical position `pos`. `s` is null for resets to no socket (route by dst).
   * `src`/`dst` may come as `addr | 0` (signed): normalise with `>>> 0` where it matters.
   * Returns false when no buffer was available (the segment is lost; timers recover).
   * `gsoSize` > 0 (only when `gsoMax` allowed it): the payload is larger than one segment and the
   * device cuts it into segments of `gsoSize` bytes (TCP segmentation offload, ring/device.ts).
   */
  transmit(s: TcpSocket | null, r: TcpRepr, src: number, dst: number, data: ByteRing | null, pos: number, now: number, gsoSize?: number): boolean;
  /**
   * Optional TCP segmentation offload: the largest TCP segment (header included) the host's device
   * takes for `s` and cuts into MSS-sized segments itself, or 0 (then every segment is at most one
   * MSS). Asked once per output pass, so it may look at the socket's route.
   */
  gsoMax?(s: TcpSocket): number;
  /**
   * Optional dummy send (VMA_SND_FLAGS_DUMMY): builds the segment exactly as `transmit` would, with
   * payload[off, off + r.payloadLength), and hands it to the device marked so that it never reaches
   * the wire. Returns false when no buffer was available. Without it, sendDummy is -EOPNOTSUPP.
   */
  transmitDummy?(s: TcpSocket, r: TcpRepr, src: number, dst: number, payload: Uint8Array, off: number, now: number): boolean;
}

export interface TcpOptions {
  congestion?: CongestionName;
  /** 8+ bytes of secret for ISNs, cookies and timestamp offsets (default: node:crypto random, once). */
  isnKey?: Uint8Array;
  /** Timer and retry overrides (tests). */
  timings?: Partial<TcpTimings>;
  /** SYN cookies when a listener's SYN queue is full (Linux tcp_syncookies = 1). Default true. */
  syncookies?: boolean;
  /** SYN queue length per listener (Linux tcp_max_syn_backlog; default max(backlog, 256)). */
  synBacklog?: number;
  /** Offer/accept RFC 7323 timestamps, window scaling and RFC 2018 SACK (default true). */
  timestamps?: boolean;
  windowScaling?: boolean;
  sack?: boolean;
}

export interface TcpCounters {
  segmentsIn: number;
  segmentsOut: number;
  retransmits: number;
  fastRetransmits: number;
  timeouts: number;
  resetsIn: number;
  resetsOut: number;
  /** Segments with a bad checksum / too short / bad options (counted by the stack glue). */
  badChecksum: number;
  malformed: number;
  /** Segments for no connection or listener (answered with RST unless they were RSTs). */
  noSocket: number;
  challengeAcks: number;
  challengeAcksLimited: number;
  /** Segments outside the receive window (answered with an ACK). */
  outOfWindow: number;
  pawsDropped: number;
  /** ACKs for data never sent (answered with an ACK, dropped). */
  ackTooNew: number;
  ackTooOld: number;
  synCookiesSent: number;
  synCookiesOk: number;
  synCookiesFailed: number;
  /** SYNs dropped because the accept queue was full, or the SYN queue with cookies off. */
  listenOverflows: number;
  listenDrops: number;
  activeOpens: number;
  passiveOpens: number;
  /** Connections aborted: reset by the peer, timed out, by the user, on data after close. */
  estabResets: number;
  attemptFails: number;
  timeWaitRecycled: number;
  tailLossProbes: number;
  /** SACK recovery rounds restarted because retransmissions were lost. */
  lostRetransmits: number;
  txNoBuffer: number;
  icmpErrors: number;
  pmtuUpdates: number;
  oooDropped: number;
}

const newCounters = (): TcpCounters => ({
  segmentsIn: 0, segmentsOut: 0, retransmits: 0, fastRetransmits: 0, timeouts: 0, resetsIn: 0, resetsOut: 0, badChecksum: 0, malformed: 0,
  noSocket: 0, challengeAcks: 0, challengeAcksLimited: 0, outOfWindow: 0, pawsDropped: 0, ackTooNew: 0, ackTooOld: 0,
  synCookiesSent: 0, synCookiesOk: 0, synCookiesFailed: 0, listenOverflows: 0, listenDrops: 0, activeOpens: 0, passiveOpens: 0,
  estabResets: 0, attemptFails: 0, timeWaitRecycled: 0, tailLossProbes: 0, lostRetransmits: 0, txNoBuffer: 0, icmpErrors: 0, pmtuUpdates: 0, oooDropped: 0,
});

const F_FIN = TcpFlag.FIN;
const F_SYN = TcpFlag.SYN;
const F_RST = TcpFlag.RST;
const F_PSH = TcpFlag.PSH;
const F_ACK = TcpFlag.ACK;

/** RFC 7323 §2.3: the shift Linux uses by default (room for autotuned buffers up to 8 MiB). */
const DEFAULT_WSCALE = 7;
/** RFC 6928 / Linux: initial window of 10 segments. */
const INITIAL_WINDOW_SEGMENTS = 10;
/** RFC 5961 §7 / Linux tcp_challenge_ack_limit: at most 1000 challenge ACKs per second. */
const CHALLENGE_ACK_LIMIT = 1000;
/** RFC 7323 §5.5: "If TS.Recent is older than 24 days, it is invalid" (PAWS). */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;
/** SYN cookie MSS table (3 bits); the cookie carries the largest entry ≤ the peer's MSS. */
const COOKIE_MSS = [536, 1200, 1300, 1400, 1440, 1452, 1460, 8960];
/** A SYN cookie's time counter ticks every 64 s; a cookie is good for up to two ticks. */
const COOKIE_PERIOD_MS = 64000;

/** A listener's (ip, port) as one Map key (listener lookups are for SYNs and strays, not the data path). */
const localKey = (ip: number, port: number): number => (ip >>> 0) * 65536 + port;

export class TcpEngine {
  readonly counters: TcpCounters = newCounters();
  readonly timings: TcpTimings;
  readonly cc: CongestionControl;
  readonly syncookies: boolean;
  readonly synBacklog: number | undefined;
  readonly offerTs: boolean;
  readonly offerWs: boolean;
  readonly offerSack: boolean;
  protected readonly host: TcpHost;
  private readonly hash: KeyedHash;
  /** Connections by 4-tuple. */
  private readonly conns: ConnTable;
  /** Listeners by local (ip, port), 0.0.0.0 for wildcard. */
  private readonly listeners = new Map<number, TcpSocket>();
  /** Every socket holding a local port (bound, listening, connected, TIME_WAIT) by port. */
  private readonly ports = new Map<number, TcpSocket[]>();
  private readonly live = new Set<TcpSocket>();
  private nextEphemeral = TCP_EPHEMERAL_LOW;
  private readonly txr = new TcpRepr();
  /** Sockets with pending events; a count, not length = 0 (which would drop the backing store each time). */
  private readonly evq: (TcpSocket | null)[] = [];
  private evqLen = 0;
  private dispatching = false;
  private challengeTokens = CHALLENGE_ACK_LIMIT;
  /** The latest `now` seen (segment or timer): the time for events that carry none (ICMP errors). */
  protected lastNow = 0;
  private challengeAt = 0;

  constructor(host: TcpHost, opts: TcpOptions = {}) {
    this.host = host;
    this.timings = { ...defaultTcpTimings, ...opts.timings };
    this.cc = congestionControl(opts.congestion ?? 'newreno');
    this.syncookies = opts.syncookies ?? true;
    this.synBacklog = opts.synBacklog;
    this.offerTs = opts.timestamps ?? true;
    this.offerWs = opts.windowScaling ?? true;
    this.offerSack = opts.sack ?? true;
    this.hash = new KeyedHash(opts.isnKey ?? randomBytes(16));
    this.conns = new ConnTable(this.hash.hash4(1, 2, 3, 4) | 0);
  }

  // =============================================================================================
  // User API

  open(): TcpSocket {
    return new TcpSocket();
  }

  /** Binds to (ip, port); port 0 picks an ephemeral port. 0 | -EADDRINUSE | -EADDRNOTAVAIL | -EINVAL. */
  bind(s: TcpSocket, ip: number, port: number, reuseAddr = false): number {
    if (s.bound || s.state !== TcpState.Closed || s.orphan) return -TcpErrno.EINVAL;
    ip >>>= 0;
    if (ip !== 0 && !this.host.isLocal(ip)) return -TcpErrno.EADDRNOTAVAIL;
    if (!(port >= 0 && port <= 0xffff)) return -TcpErrno.EINVAL;
    s.reuseAddr = reuseAddr;
    if (port === 0) {
      port = this.ephemeral(ip, reuseAddr);
      if (port === 0) return -TcpErrno.EADDRINUSE;
    } else if (!this.portFree(ip, port, reuseAddr)) return -TcpErrno.EADDRINUSE;
    s.localIp = ip;
    s.localPort = port;
    this.linkPort(s);
    s.bound = true;
    return 0;
  }

  /** Listens (binding an ephemeral port first when unbound). 0 | -EADDRINUSE | -EINVAL. */
  listen(s: TcpSocket, backlog: number): number {
    if (s.orphan) return -TcpErrno.EBADF;
    const bl = Math.max(0, Math.min(backlog | 0, 65535));
    if (s.state === TcpState.Listen) {
      s.backlog = bl;
      return 0;
    }
    if (s.state !== TcpState.Closed || s.wasConnected) return -TcpErrno.EINVAL;
    if (!s.bound) {
      const r = this.bind(s, 0, 0, s.reuseAddr);
      if (r < 0) return r;
    }
    // Two listeners may not share an address and port (Linux checks again at listen time).
    if (this.listeners.has(localKey(s.localIp, s.localPort))) return -TcpErrno.EADDRINUSE;
    const list = this.ports.get(s.localPort);
    if (list) {
      for (const o of list) {
        if (o !== s && o.state === TcpState.Listen && (o.localIp === 0 || s.localIp === 0 || o.localIp === s.localIp)) return -TcpErrno.EADDRINUSE;
      }
    }
    s.backlog = bl;
    s.state = TcpState.Listen;
    this.listeners.set(localKey(s.localIp, s.localPort), s);
    this.live.add(s);
    return 0;
  }

  /**
   * Active open: sends a SYN. 0 = SYN queued (onConnect later) | -ENETUNREACH | -EISCONN | -EALREADY |
   * -EADDRINUSE | -EADDRNOTAVAIL | -EINVAL.
   */
  connect(s: TcpSocket, ip: number, port: number, now: number): number {
    if (s.orphan) return -TcpErrno.EBADF;
    if (s.state === TcpState.SynSent || s.state === TcpState.SynReceived) return -TcpErrno.EALREADY;
    if (s.state !== TcpState.Closed || s.wasConnected) return -TcpErrno.EISCONN;
    ip >>>= 0;
    if (!(port > 0 && port <= 0xffff) || ip === 0) return -TcpErrno.EINVAL;
    const r = this.host.route(ip);
    if (!r) return -TcpErrno.ENETUNREACH;
    if (!s.bound) {
      const b = this.bind(s, 0, 0, s.reuseAddr);
      if (b < 0) return b;
    }
    if (s.localIp === 0) {
      this.unlinkPort(s);
      s.localIp = r.src >>> 0;
      this.linkPort(s);
    }
    if (this.findConn(s.localIp, s.localPort, ip, port)) return -TcpErrno.EADDRNOTAVAIL;
    s.remoteIp = ip;
    s.remotePort = port;
    this.initConnection(s, r, now);
    s.tsOn = this.offerTs;
    s.sackOn = this.offerSack;
    s.rcvWscale = this.offerWs ? this.wscaleFor(s.rcvBuf) : 0;
    s.sndWscale = 0;
    s.state = TcpState.SynSent;
    this.linkConn(s);
    this.counters.activeOpens++;
    this.sendSyn(s, false, now);
    this.armRto(s, now);
    return 0;
  }

  /** The next established connection from a listener's accept queue, or null. */
  accept(listener: TcpSocket): TcpSocket | null {
    const q = listener.acceptQueue;
    if (listener.state !== TcpState.Listen || q.length === 0) return null;
    const c = q.shift()!;
    c.parent = null;
    return c;
  }

  /**
   * Copies up to `len` bytes into the send buffer and sends what the windows allow. Returns the
   * bytes taken (0 when the buffer is full: onWritable follows), -EPIPE after shutdown/close or a
   * reset, -ENOTCONN before a connection exists.
   */
  send(s: TcpSocket, data: Uint8Array, off: number, len: number, now: number): number {
    const e = sendStateErrno(s);
    if (e !== 0) return e;
    if (s.finQueued) return -TcpErrno.EPIPE;
    const n = s.tx!.write(data, off, len);
    if (n < len) s.wantWrite = true;
    if (n > 0) this.output(s, now);
    return n;
  }

  /**
   * Dummy send (VMA_SND_FLAGS_DUMMY): builds the segment `send` would send now for these bytes — at
   * SND.NXT with the current ACK, window and options, checksummed — and hands it to the host marked
   * so that it never reaches the wire, changing no TCP state (SND.NXT, the send buffer, timers,
   * counters other than txDummy). Only under VMA's conditions (sockinfo_tcp::check_dummy_send_conditions):
   * ESTABLISHED or CLOSE-WAIT, 1 ≤ len ≤ one segment (the MSS, or half the largest send window seen
   * when that is smaller), nothing unsent, and min(send window, cwnd) covers the buffered bytes plus
   * len; else -EAGAIN. Returns len | -EAGAIN | -EINVAL (bad range) | -ENOBUFS (no TX buffer) |
   * -EOPNOTSUPP (the host cannot) | -ENOTCONN / -EPIPE as send.
   */
  sendDummy(s: TcpSocket, data: Uint8Array, off: number, len: number, now: number): number {
    const e = sendStateErrno(s);
    if (e !== 0) return e;
    if (s.state !== TcpState.Established && s.state !== TcpState.CloseWait) return -TcpErrno.EAGAIN; // SYN-SENT, SYN-RECEIVED
    if (!(off >= 0 && len >= 0 && off + len <= data.length)) return -TcpErrno.EINVAL;
    if (this.host.transmitDummy === undefined) return -TcpErrno.EOPNOTSUPP;
    const tx = s.tx!;
    const half = s.maxSndWnd >>> 1;
    const most = half > 0 && half < s.mssData ? half : s.mssData;
    const wnd = Math.min(s.sndWnd, s.cc.cwnd);
    const unsent = seqSub(seqAdd(s.txSeq, tx.len), s.sndNxt) > 0;
    if (len === 0 || len > most || unsent || s.finQueued || wnd <= 0 || len + tx.len > wnd) return -TcpErrno.EAGAIN;
    const r = this.txr;
    const adv = s.rcvAdv;
    this.header(s, r, F_ACK | F_PSH, s.sndNxt, now);
    s.rcvAdv = adv; // the window in the dummy was never advertised
    if (len > s.pmtu - 20 - tcpHeaderLen(r)) return -TcpErrno.EAGAIN; // options (SACK blocks) leave less room
    r.payloadLength = len;
    if (!this.host.transmitDummy(s, r, s.localIp | 0, s.remoteIp | 0, data, off, now)) return -TcpErrno.ENOBUFS;
    s.counters.txDummy++;
    return len;
  }

  /**
   * Copies up to `len` received bytes out; 0 when none. Opens the window (RFC 1122 §4.2.3.3) —
   * unless zero-copy holds are outstanding: bytes read behind a hold leave the buffer with it.
   */
  recv(s: TcpSocket, dst: Uint8Array, off: number, len: number, now: number): number {
    const rx = s.rx;
    if (!rx || rx.len === 0) return 0;
    const h = s.holds;
    if (h !== null && h.bytes > 0) {
      const avail = rx.len - h.bytes;
      const n = len < avail ? len : avail;
      if (n <= 0) return 0;
      rx.copyOut(h.bytes, dst, off, n);
      h.push(n, true);
      return n;
    }
    const n = rx.read(dst, off, len);
    if (n > 0 && s.inTable && this.windowUpdateDue(s)) this.sendAck(s, now);
    return n;
  }

  // ---- Zero-copy receive (VMA's recvfrom_zcopy / free_packets for TCP)

  /**
   * Views of the readable bytes where they lie in the receive buffer, without copying: none when
   * nothing is readable, two when the bytes wrap around the buffer's end. The views stay valid
   * (their bytes unchanged) while the bytes are held (holdReceived) and until freeHeld frees them,
   * also after close or reset: a receive buffer belongs to one connection and is never reused.
   * Bytes not held may be overwritten once recv() has consumed them. Allocates the array and views.
   */
  peekReceived(s: TcpSocket): Uint8Array[] {
    const rx = s.rx;
    const n = s.rxQueued;
    if (rx === null || n <= 0) return [];
    const pos = s.rxHeldBytes;
    const at = rx.offsetOf(pos);
    const first = rx.contiguous(pos, n);
    const a = rx.buf.subarray(at, at + first);
    return first === n ? [a] : [a, rx.buf.subarray(0, n - first)];
  }

  /**
   * Takes the first `n` readable bytes for the application (as seen by peekReceived): they stop
   * being readable but stay in the receive buffer, so the advertised window stays reduced until
   * they are freed. Returns the hold's id (≥ 0, increasing per connection) for freeHeld, or
   * -EINVAL (n < 1 or more than is readable).
   */
  holdReceived(s: TcpSocket, n: number): number {
    if (!(n >= 1) || !Number.isInteger(n) || n > s.rxQueued) return -TcpErrno.EINVAL;
    if (s.holds === null) s.holds = new RxHolds();
    return s.holds.push(n, false);
  }

  /**
   * Frees hold `id`, in any order: the buffer lets go of the bytes of the earliest holds once all of
   * them are freed, then sends a window update when it is due (as recv does). 0 | -EINVAL (an id
   * not held: unknown or freed already). Works after close or reset too (nothing is sent then).
   */
  freeHeld(s: TcpSocket, id: number, now: number): number {
    const h = s.holds;
    if (h === null || s.rx === null) return -TcpErrno.EINVAL;
    const n = h.free(id);
    if (n < 0) return -TcpErrno.EINVAL;
    if (n > 0) {
      s.rx.consume(n);
      if (s.inTable && this.windowUpdateDue(s)) this.sendAck(s, now);
    }
    return 0;
  }

  /** Readable bytes (the same as s.rxQueued). */
  peek(s: TcpSocket): number {
    return s.rxQueued;
  }

  /** SHUT_WR: a FIN after the queued data. 0 | -ENOTCONN. */
  shutdown(s: TcpSocket, now: number): number {
    switch (s.state) {
      case TcpState.SynSent:
      case TcpState.SynReceived:
        s.finQueued = true; // sent once the connection is synchronized
        return 0;
      case TcpState.Established:
      case TcpState.CloseWait:
        break;
      case TcpState.Closed:
      case TcpState.Listen:
        return -TcpErrno.ENOTCONN;
      default:
        return 0; // FIN already queued
    }
    this.queueFin(s);
    this.output(s, now);
    return 0;
  }

  /**
   * close(2): unread received data → RST (RFC 2525 §2.17), else FIN after queued data; the
   * connection then lives on inside the engine and the socket's callbacks are cleared. A listener
   * resets its queued, unaccepted connections.
   */
  close(s: TcpSocket, now: number): void {
    if (s.orphan) return;
    s.orphan = true;
    clearCallbacks(s);
    switch (s.state) {
      case TcpState.Listen:
        this.closeListener(s, now);
        return;
      case TcpState.Closed:
        this.destroy(s, 0);
        return;
      case TcpState.SynSent:
        this.destroy(s, 0);
        return;
      case TcpState.TimeWait:
        return;
      default:
        break;
    }
    if (s.rxQueued > 0 || s.state === TcpState.SynReceived) {
      this.sendReset(s, now);
      this.counters.estabResets++;
      this.destroy(s, 0);
      return;
    }
    if (s.state === TcpState.Established || s.state === TcpState.CloseWait) {
      this.queueFin(s);
      this.output(s, now);
    } else if (s.state === TcpState.FinWait2) {
      this.host.timers.schedule(s.kaTimer!, now + this.timings.finWait2Ms);
    }
  }

  /** RST now and discard everything (SO_LINGER 0). */
  abort(s: TcpSocket, now: number): void {
    if (s.state === TcpState.Listen) {
      this.close(s, now);
      return;
    }
    s.orphan = true;
    clearCallbacks(s);
    if (s.state >= TcpState.SynReceived && s.state !== TcpState.TimeWait && s.state !== TcpState.Closed) {
      this.sendReset(s, now);
      this.counters.estabResets++;
    }
    this.destroy(s, 0);
  }

  setNoDelay(s: TcpSocket, on: boolean, now = -1): void {
    s.nodelay = on;
    if (on && now >= 0 && s.inTable) this.output(s, now);
  }

  /** SO_KEEPALIVE with TCP_KEEPIDLE = idleMs (0: the default 2 h); interval and probe count from the timings. */
  setKeepAlive(s: TcpSocket, on: boolean, idleMs: number, now = -1): void {
    s.keepAlive = on;
    s.keepIdleMs = idleMs > 0 ? idleMs : this.timings.keepIdleMs;
    if (s.kaTimer === null) return;
    if (on && s.state === TcpState.Established) {
      this.host.timers.schedule(s.kaTimer, (now >= 0 ? now : s.lastRx) + s.keepIdleMs);
    } else if (!on && s.state === TcpState.Established) this.host.timers.cancel(s.kaTimer);
  }

  /** Every live connection and listener. */
  sockets(): Iterable<TcpSocket> {
    return this.live;
  }

  /**
   * Closed connections whose data or FIN the peer has not acknowledged yet (FIN-WAIT-1, CLOSING,
   * LAST-ACK): the kernel finishes these after the process has gone; a user-space stack only while
   * the process lives (lib/runtime.ts lingers for them at exit).
   */
  finishing(): number {
    let n = 0;
    for (const s of this.live) {
      if (s.orphan && (s.state === TcpState.FinWait1 || s.state === TcpState.Closing || s.state === TcpState.LastAck)) n++;
    }
    return n;
  }

  /**
   * The process is going: RST to every connection whose peer still expects an answer (SO_LINGER 0 for
   * all), so that no peer waits forever for a FIN nobody will retransmit. Listeners, FIN-WAIT-2 (our FIN
   * is acknowledged: the peer has its EOF) and TIME-WAIT go quietly.
   */
  resetAll(now: number): void {
    for (const s of [...this.live]) {
      switch (s.state) {
        case TcpState.Listen:
          this.close(s, now);
          break;
        case TcpState.FinWait2:
        case TcpState.TimeWait:
        case TcpState.Closed:
          break;
        default:
          this.abort(s, now);
      }
    }
  }

  // =============================================================================================
  // Input

  /**
   * A parsed segment from `src` to `dst` (unsigned or `| 0`; checksum already verified); its payload is
   * data[off, off + seg.payloadLength), in the RX buffer `ref` when the host has one (for a receive
   * filter that holds it; the host releases its own reference after the call). Delivers callbacks
   * before returning.
   */
  segmentIn(src: number, dst: number, seg: TcpRepr, data: Uint8Array, off: number, now: number, ref: RxBufferRef | null = null): void {
    // Addresses may come as `addr | 0` (no heap number per call); every use below normalises them.
    this.counters.segmentsIn++;
    this.lastNow = now;
    if (seg.flags & F_RST) this.counters.resetsIn++;
    let s = this.findConn(dst, seg.dstPort, src, seg.srcPort);
    if (s !== null && s.state === TcpState.TimeWait && (seg.flags & (F_SYN | F_ACK | F_RST)) === F_SYN && this.timeWaitReusable(s, seg)) {
      // RFC 1122 §4.2.2.13 / RFC 6191: a new SYN above the old connection's sequence space ends TIME_WAIT.
      this.counters.timeWaitRecycled++;
      this.destroy(s, 0);
      s = null;
    }
    if (s !== null) {
      if (s.state === TcpState.SynSent) this.synSentInput(s, seg, data, off, now, ref);
      else this.connInput(s, seg, data, off, now, ref);
    } else {
      const l = this.listeners.get(localKey(dst, seg.dstPort)) ?? this.listeners.get(localKey(0, seg.dstPort));
      if (l !== undefined) this.listenInput(l, src, dst, seg, data, off, now, ref);
      else this.noSocket(src, dst, seg, now);
    }
    this.dispatch();
  }

  /**
   * An ICMP error quoting one of our segments (RFC 1122 §4.2.3.9, RFC 5927): `mtu` is the next-hop
   * MTU of a fragmentation-needed message (type 3 code 4), else 0.
   */
  icmpError(localIp: number, localPort: number, remoteIp: number, remotePort: number, quotedSeq: number, type: number, code: number, mtu: number, now: number): void {
    const s = this.findConn(localIp, localPort, remoteIp, remotePort);
    if (s === null) return;
    // RFC 5927 §4.1: only errors quoting a sequence number in flight are believed.
    if (s.state !== TcpState.SynSent && !(seqGe(seq(quotedSeq), s.sndUna) && seqLe(seq(quotedSeq), s.sndMax))) return;
    this.counters.icmpErrors++;
    if (type === 3 && code === 4) {
      if (mtu >= 68 && mtu < s.pmtu) {
        // RFC 1191 §6.3: lower the path MTU and retransmit what no longer fits.
        s.pmtu = Math.max(mtu, 552);
        this.counters.pmtuUpdates++;
        this.updateMss(s);
        if (s.sndUna !== s.sndMax && s.state !== TcpState.SynSent) {
          s.sndNxt = s.sndUna;
          s.timing = false;
          this.output(s, now);
        }
      }
      return;
    }
    let errno: number;
    if (type === 11) errno = -TcpErrno.EHOSTUNREACH;
    else if (type !== 3) return;
    else if (code === 0 || code === 6 || code === 11) errno = -TcpErrno.ENETUNREACH;
    else if (code === 2 || code === 3) errno = -TcpErrno.ECONNREFUSED;
    else errno = -TcpErrno.EHOSTUNREACH;
    if (s.state === TcpState.SynSent) {
      // As Linux: an unreachable during the handshake ends the attempt.
      this.counters.attemptFails++;
      this.destroy(s, errno);
    } else if (s.state === TcpState.SynReceived && s.parent !== null) {
      this.destroy(s, 0);
    } else {
      s.softError = errno; // reported if the connection later times out
    }
    this.dispatch();
  }

  /** RFC 9293 §3.10.7.1: "If the state is CLOSED ... all data in the incoming segment is discarded ... a reset is sent in response". */
  private noSocket(src: number, dst: number, seg: TcpRepr, now: number): void {
    this.counters.noSocket++;
    if (seg.flags & F_RST) return;
    this.replyReset(src, dst, seg, now);
  }

  /** RST in reply to `seg`: <SEQ=SEG.ACK><CTL=RST> when it had ACK, else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
  private replyReset(src: number, dst: number, seg: TcpRepr, now: number): void {
    const r = this.txr;
    resetRepr(r);
    r.srcPort = seg.dstPort;
    r.dstPort = seg.srcPort;
    if (seg.flags & F_ACK) {
      r.seq = seg.ack;
      r.flags = F_RST;
    } else {
      r.seq = seq(0);
      r.ack = seqAdd(seg.seq, segLength(seg));
      r.flags = F_RST | F_ACK;
    }
    this.counters.resetsOut++;
    this.emit(null, r, dst, src, null, 0, now);
  }

  // ---- LISTEN (RFC 9293 §3.10.7.2)

  private listenInput(l: TcpSocket, src: number, dst: number, seg: TcpRepr, data: Uint8Array, off: number, now: number, ref: RxBufferRef | null): void {
    const flags = seg.flags;
    // First: check for an RST — "An incoming RST segment could not be valid ... it should be ignored".
    if (flags & F_RST) return;
    // Second: an ACK — a SYN cookie's returning ACK, or "any acknowledgment is bad ... form a reset".
    if (flags & F_ACK) {
      if (!(flags & F_SYN) && this.syncookies && now - l.lastCookieAt < 2 * COOKIE_PERIOD_MS) {
        const c = this.cookieConnection(l, src, dst, seg, now);
        if (c !== null) {
          this.connInput(c, seg, data, off, now, ref);
          return;
        }
        this.counters.synCookiesFailed++;
      }
      this.replyReset(src, dst, seg, now);
      return;
    }
    // Third: a SYN.
    if (!(flags & F_SYN)) return;
    if (l.acceptQueue.length >= Math.max(l.backlog, 1)) {
      this.counters.listenOverflows++;
      this.counters.listenDrops++;
      return; // as Linux: a full accept queue drops the SYN; the peer retries
    }
    const synMax = this.synBacklog ?? Math.max(l.backlog, 256);
    if (l.synQueue.length >= synMax) {
      if (this.syncookies) this.sendCookie(l, src, dst, seg, now);
      else {
        this.counters.listenDrops++;
      }
      return;
    }
    const r = this.host.route(src);
    if (r === null) return;
    const c = this.childOf(l, src, dst, seg.srcPort);
    this.initConnection(c, r, now);
    this.takeSynOptions(c, seg);
    c.irs = seg.seq;
    c.rcvNxt = seqAdd(seg.seq, 1);
    c.sndWnd = seg.window; // RFC 7323 §2.2: the window of a SYN is never scaled
    c.maxSndWnd = c.sndWnd;
    c.sndWl1 = seg.seq;
    c.sndWl2 = c.sndUna;
    c.rcvAdv = c.rcvNxt;
    c.state = TcpState.SynReceived;
    c.parent = l;
    l.synQueue.push(c);
    this.linkConn(c);
    this.counters.passiveOpens++;
    this.sendSyn(c, true, now);
    this.armRto(c, now);
  }

  /** A connection born from a listener: inherits its buffer sizes and options. */
  private childOf(l: TcpSocket, src: number, dst: number, srcPort: number): TcpSocket {
    const c = new TcpSocket();
    c.localIp = dst >>> 0;
    c.localPort = l.localPort;
    c.remoteIp = src >>> 0;
    c.remotePort = srcPort;
    c.sndBuf = l.sndBuf;
    c.rcvBuf = l.rcvBuf;
    c.nodelay = l.nodelay;
    c.keepAlive = l.keepAlive;
    c.keepIdleMs = l.keepIdleMs;
    c.reuseAddr = l.reuseAddr;
    c.bound = true;
    this.linkPort(c);
    return c;
  }

  /** Records the SYN's options (RFC 9293 §3.7.1 MSS, RFC 7323 §2.2/§3.2, RFC 2018 §2) for a passive open. */
  private takeSynOptions(c: TcpSocket, seg: TcpRepr): void {
    c.peerMss = seg.mss > 0 ? seg.mss : TCP_DEFAULT_MSS;
    c.tsOn = this.offerTs && seg.hasTimestamp;
    if (c.tsOn) {
      c.tsRecent = seg.tsVal;
      c.tsRecentSet = true;
    }
    c.sackOn = this.offerSack && seg.sackPermitted;
    if (this.offerWs && seg.windowScale >= 0) {
      c.sndWscale = seg.windowScale;
      c.rcvWscale = this.wscaleFor(c.rcvBuf);
    } else {
      c.sndWscale = 0;
      c.rcvWscale = 0;
    }
    this.updateMss(c);
  }

  // ---- SYN cookies (RFC 4987 §3.6)

  private cookieHash(lip: number, rip: number, ports: number, clientIsn: number, tick: number): number {
    return this.hash.hash4(lip, rip, ports, (clientIsn ^ Math.imul(tick, 0x9e3779b9)) | 0);
  }

  private sendCookie(l: TcpSocket, src: number, dst: number, seg: TcpRepr, now: number): void {
    const peerMss = seg.mss > 0 ? seg.mss : TCP_DEFAULT_MSS;
    let idx = 0;
    for (let i = COOKIE_MSS.length - 1; i >= 0; i--) {
      if (COOKIE_MSS[i] <= peerMss) {
        idx = i;
        break;
      }
    }
    const tick = Math.floor(now / COOKIE_PERIOD_MS);
    const ports = ((seg.srcPort << 16) | seg.dstPort) | 0;
    const iss = seq(((this.cookieHash(dst, src, ports, seg.seq, tick) & ~7) | idx) >>> 0);
    const r = this.txr;
    resetRepr(r);
    r.srcPort = seg.dstPort;
    r.dstPort = seg.srcPort;
    r.seq = iss;
    r.ack = seqAdd(seg.seq, 1);
    r.flags = F_SYN | F_ACK;
    r.window = Math.min(l.rcvBuf, 0xffff);
    const route = this.host.route(src);
    r.mss = Math.min((route?.mtu ?? 1500) - TCP_IP_HEADERS, 0xffff);
    const ws = this.offerWs && seg.windowScale >= 0 ? seg.windowScale : 15;
    const sack = this.offerSack && seg.sackPermitted ? 1 : 0;
    if (this.offerTs && seg.hasTimestamp) {
      // The options the cookie cannot hold travel in our timestamp's low bits (echoed in the ACK).
      r.hasTimestamp = true;
      r.tsVal = ((this.tsClock(now, 0) & ~0x1f) | (ws << 1) | sack) >>> 0;
      r.tsEcr = seg.tsVal;
      if (ws !== 15) r.windowScale = this.wscaleFor(l.rcvBuf);
      r.sackPermitted = sack === 1;
    }
    l.lastCookieAt = now;
    this.counters.synCookiesSent++;
    this.emit(null, r, dst, src, null, 0, now);
  }

  /** The connection a valid cookie ACK stands for (ESTABLISHED, in the accept queue), or null. */
  private cookieConnection(l: TcpSocket, src: number, dst: number, seg: TcpRepr, now: number): TcpSocket | null {
    if (l.acceptQueue.length >= Math.max(l.backlog, 1)) return null;
    const cookie = seqAdd(seg.ack, -1);
    const clientIsn = seqAdd(seg.seq, -1);
    const ports = ((seg.srcPort << 16) | seg.dstPort) | 0;
    const tick = Math.floor(now / COOKIE_PERIOD_MS);
    let ok = false;
    for (let t = tick; t >= tick - 1 && !ok; t--) ok = ((this.cookieHash(dst, src, ports, clientIsn, t) & ~7) >>> 0) === ((cookie & ~7) >>> 0);
    if (!ok) return null;
    const r = this.host.route(src);
    if (r === null) return null;
    this.counters.synCookiesOk++;
    const c = this.childOf(l, src, dst, seg.srcPort);
    this.initConnection(c, r, now);
    c.peerMss = COOKIE_MSS[cookie & 7];
    c.iss = cookie;
    c.sndUna = c.sndNxt = c.sndMax = c.sndSmall = seg.ack;
    c.txSeq = seg.ack;
    c.recover = cookie;
    c.irs = clientIsn;
    c.rcvNxt = seg.seq;
    c.rcvAdv = seqAdd(seg.seq, Math.min(c.rcvBuf, 0xffff));
    if (this.offerTs && seg.hasTimestamp && seg.tsEcr !== 0) {
      const ws = (seg.tsEcr >>> 1) & 0xf;
      c.tsOn = true;
      c.tsRecent = seg.tsVal;
      c.tsRecentSet = true;
      c.sackOn = (seg.tsEcr & 1) === 1;
      if (ws !== 15) {
        c.sndWscale = ws;
        c.rcvWscale = this.wscaleFor(c.rcvBuf);
      }
    }
    this.updateMss(c);
    c.sndWnd = seg.window << c.sndWscale;
    c.maxSndWnd = c.sndWnd;
    c.sndWl1 = seg.seq;
    c.sndWl2 = seg.ack;
    c.state = TcpState.Established;
    c.wasConnected = true;
    c.parent = l;
    this.linkConn(c);
    this.counters.passiveOpens++;
    l.acceptQueue.push(c);
    this.queueEvent(l, TcpEvent.Accept);
    this.startKeepAlive(c, now);
    return c;
  }

  // ---- SYN-SENT (RFC 9293 §3.10.7.3)

  private synSentInput(s: TcpSocket, seg: TcpRepr, data: Uint8Array, off: number, now: number, ref: RxBufferRef | null): void {
    const flags = seg.flags;
    s.counters.rxSegments++;
    let ackOk = false;
    // First: check the ACK bit.
    if (flags & F_ACK) {
      if (seqLe(seg.ack, s.iss) || seqGt(seg.ack, s.sndMax)) {
        if (!(flags & F_RST)) this.replyReset(s.remoteIp, s.localIp, seg, now);
        return;
      }
      ackOk = seqLe(s.sndUna, seg.ack);
    }
    // Second: the RST bit — acceptable only with an acceptable ACK (RFC 5961 §3.2 / RFC 9293).
    if (flags & F_RST) {
      if (ackOk) {
        this.counters.attemptFails++;
        this.destroy(s, -TcpErrno.ECONNREFUSED);
      }
      return;
    }
    // Fourth: the SYN bit.
    if (!(flags & F_SYN)) return;
    s.irs = seg.seq;
    s.rcvNxt = seqAdd(seg.seq, 1);
    s.rcvAdv = s.rcvNxt;
    s.peerMss = seg.mss > 0 ? seg.mss : TCP_DEFAULT_MSS;
    s.tsOn = s.tsOn && seg.hasTimestamp;
    if (s.tsOn) {
      s.tsRecent = seg.tsVal;
      s.tsRecentSet = true;
    }
    s.sackOn = s.sackOn && seg.sackPermitted;
    if (this.offerWs && seg.windowScale >= 0) s.sndWscale = seg.windowScale;
    else {
      s.sndWscale = 0;
      s.rcvWscale = 0;
    }
    this.updateMss(s);
    if (ackOk && seqGt(seg.ack, s.iss)) {
      // Our SYN is acknowledged: ESTABLISHED.
      this.ackSyn(s, seg, now);
      s.sndWnd = seg.window; // RFC 7323 §2.2: "The window field in a segment where the SYN bit is set ... MUST NOT be scaled"
      s.maxSndWnd = s.sndWnd;
      s.sndWl1 = seg.seq;
      s.sndWl2 = seg.ack;
      this.establish(s, now);
      this.queueEvent(s, TcpEvent.Connect);
      // Data on a SYN-ACK is rare; take it as a segment after the SYN.
      if (seg.payloadLength > 0) this.receiveData(s, seqAdd(seg.seq, 1), data, off, seg.payloadLength, now, ref);
      s.ackNow = true;
      this.output(s, now);
      this.flushAck(s, now);
      return;
    }
    // Simultaneous open: SYN-RECEIVED, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
    s.state = TcpState.SynReceived;
    s.sndWnd = seg.window;
    s.maxSndWnd = s.sndWnd;
    s.sndWl1 = seg.seq;
    s.sndWl2 = s.sndUna;
    s.sndNxt = s.sndUna; // the SYN goes again, with ACK
    this.sendSyn(s, true, now);
    this.armRto(s, now);
  }

  // ---- Synchronized states and SYN-RECEIVED (RFC 9293 §3.10.7.4)

  private connInput(s: TcpSocket, seg: TcpRepr, data: Uint8Array, off: number, now: number, ref: RxBufferRef | null): void {
    const flags = seg.flags;
    s.counters.rxSegments++;
    // A retransmitted SYN while in SYN-RECEIVED: our SYN-ACK was lost.
    if (s.state === TcpState.SynReceived && (flags & (F_SYN | F_ACK | F_RST)) === F_SYN && seg.seq === s.irs) {
      s.sndNxt = s.sndUna;
      this.sendSyn(s, true, now);
      return;
    }
    // RFC 7323 §5.3 R1: PAWS — a timestamp older than TS.Recent marks an old duplicate.
    if (s.tsOn && seg.hasTimestamp && s.tsRecentSet && !(flags & F_RST) && ((seg.tsVal - s.tsRecent) | 0) < 0) {
      if (now - s.lastRx < PAWS_IDLE_MS) {
        this.counters.pawsDropped++;
        s.counters.pawsDropped++;
        this.sendAck(s, now);
        return;
      }
      s.tsRecentSet = false;
    }
    // First: check the sequence number.
    const plen = seg.payloadLength;
    const slen = plen + (flags & F_SYN ? 1 : 0) + (flags & F_FIN ? 1 : 0);
    const wnd = s.rcvAdvertised;
    let acceptable: boolean;
    if (slen === 0) acceptable = wnd === 0 ? seg.seq === s.rcvNxt : inWindow(seg.seq, s.rcvNxt, wnd);
    else if (wnd === 0) acceptable = false;
    else acceptable = inWindow(seg.seq, s.rcvNxt, wnd) || inWindow(seqAdd(seg.seq, slen - 1), s.rcvNxt, wnd);
    // A zero window still takes the ACK and RST of a segment at RCV.NXT (RFC 9293: "special allowance").
    const zeroWindowAtNext = !acceptable && wnd === 0 && seg.seq === s.rcvNxt;
    if (!acceptable && !zeroWindowAtNext) {
      if (flags & F_RST) return;
      this.counters.outOfWindow++;
      if (s.state === TcpState.TimeWait && (flags & F_FIN)) {
        // A retransmitted FIN: ACK it again and restart the 2 MSL wait (RFC 9293 TIME-WAIT).
        this.host.timers.schedule(s.kaTimer!, now + this.timings.timeWaitMs);
      }
      this.sendAck(s, now);
      return;
    }
    s.lastRx = now;
    s.keepProbesSent = 0;
    // RFC 7323 §4.3 (2): remember the timestamp of the segment that ACK covers.
    if (s.tsOn && seg.hasTimestamp && seqLe(seg.seq, s.lastAckSent) && (!s.tsRecentSet || ((seg.tsVal - s.tsRecent) | 0) >= 0)) {
      s.tsRecent = seg.tsVal;
      s.tsRecentSet = true;
    }
    // Second: the RST bit (RFC 5961 §3.2).
    if (flags & F_RST) {
      if (seg.seq !== s.rcvNxt) {
        this.challengeAck(s, now);
        return;
      }
      switch (s.state) {
        case TcpState.SynReceived:
          // From a passive open: back to LISTEN (the embryo goes); from an active one: refused.
          if (s.parent !== null) this.destroy(s, 0);
          else {
            this.counters.attemptFails++;
            this.destroy(s, -TcpErrno.ECONNREFUSED);
          }
          return;
        case TcpState.Established:
        case TcpState.FinWait1:
        case TcpState.FinWait2:
        case TcpState.CloseWait:
          this.counters.estabResets++;
          this.destroy(s, -TcpErrno.ECONNRESET);
          return;
        default:
          this.destroy(s, 0);
          return;
      }
    }
    // Fourth: the SYN bit — RFC 5961 §4.2: challenge ACK whatever the sequence number.
    if (flags & F_SYN) {
      this.challengeAck(s, now);
      return;
    }
    // Fifth: the ACK field.
    if (!(flags & F_ACK)) return;
    if (s.state === TcpState.SynReceived) {
      if (seqGt(seg.ack, s.sndUna) && seqLe(seg.ack, s.sndMax)) {
        const l = s.parent;
        if (l !== null && l.acceptQueue.length >= Math.max(l.backlog, 1)) {
          // Accept queue full: drop the ACK and stay in SYN-RECEIVED (as Linux; the SYN-ACK is retried).
          this.counters.listenOverflows++;
          return;
        }
        this.ackSyn(s, seg, now);
        s.sndWnd = seg.window << s.sndWscale;
        s.maxSndWnd = Math.max(s.maxSndWnd, s.sndWnd);
        s.sndWl1 = seg.seq;
        s.sndWl2 = seg.ack;
        this.establish(s, now);
        if (l !== null) {
          const i = l.synQueue.indexOf(s);
          if (i >= 0) l.synQueue.splice(i, 1);
          l.acceptQueue.push(s);
          this.queueEvent(l, TcpEvent.Accept);
        } else {
          this.queueEvent(s, TcpEvent.Connect);
        }
      } else {
        this.replyReset(s.remoteIp, s.localIp, seg, now);
        return;
      }
    } else if (!this.ackInput(s, seg, now)) {
      return;
    }
    if (s.state === TcpState.Closed) return;
    // Sixth: URG is not supported (urgent data arrives inline, as with SO_OOBINLINE).
    // Seventh: the segment text.
    if (plen > 0 && !zeroWindowAtNext) {
      if (s.state === TcpState.Established || s.state === TcpState.FinWait1 || s.state === TcpState.FinWait2) {
        if (s.orphan) {
          // Data after close(): nobody will read it; Linux resets (TCPAbortOnData).
          this.sendReset(s, now);
          this.counters.estabResets++;
          this.destroy(s, 0);
          return;
        }
        this.receiveData(s, seg.seq, data, off, plen, now, ref);
      }
    } else if (plen > 0) {
      s.ackNow = true; // a probe into a zero window: answer with our window
    }
    // Eighth: the FIN bit.
    if ((flags & F_FIN) && !zeroWindowAtNext && s.state >= TcpState.Established) {
      const finAt = seqAdd(seg.seq, plen);
      if (finAt === s.rcvNxt) this.finArrived(s, now);
      else if (seqGt(finAt, s.rcvNxt) && s.state !== TcpState.CloseWait) {
        s.finPending = true;
        s.rcvFinSeq = finAt;
        s.ackNow = true;
      }
    }
    if ((s.state as TcpState) === TcpState.Closed) return;
    this.output(s, now);
    this.flushAck(s, now);
  }

  /**
   * RFC 9293 fifth step for synchronized states, with RFC 5961 §5.2's ACK range. Returns false when
   * the segment is to be dropped.
   */
  private ackInput(s: TcpSocket, seg: TcpRepr, now: number): boolean {
    const ack = seg.ack;
    if (seqGt(ack, s.sndMax)) {
      // "If the ACK acks something not yet sent (SEG.ACK > SND.NXT) then send an ACK, drop the segment".
      this.counters.ackTooNew++;
      this.sendAck(s, now);
      return false;
    }
    if (seqLt(ack, seqAdd(s.sndUna, -Math.max(s.maxSndWnd, 1)))) {
      // RFC 5961 §5.2: older than SND.UNA − MAX.SND.WND: a blind injection; challenge.
      this.counters.ackTooOld++;
      this.challengeAck(s, now);
      return false;
    }
    const newWnd = seg.window << s.sndWscale;
    if (seqGt(ack, s.sndUna)) {
      this.newAck(s, seg, now);
    } else if (ack === s.sndUna && s.sndMax !== s.sndUna && s.sackOn && seg.sackCount > 0) {
      // RFC 6675 §2: with SACK a duplicate ACK is one that SACKs new data, whatever else it carries. A
      // receiver that grows its window while it queues out-of-order data (Linux) sends no RFC 5681
      // duplicates at all: counting only those, a loss waits for the timeout.
      const before = s.sackedBytes;
      this.takeSack(s, seg);
      if (s.sackedBytes > before) this.dupAck(s, now);
    } else if (ack === s.sndUna && seg.payloadLength === 0 && !(seg.flags & (F_SYN | F_FIN)) && newWnd === s.sndWnd && s.sndMax !== s.sndUna) {
      // RFC 5681 §2 "DUPLICATE ACKNOWLEDGMENT" (all five conditions).
      this.dupAck(s, now);
    } else if (s.sackOn && seg.sackCount > 0) {
      this.takeSack(s, seg);
    }
    // Window update: "If SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)".
    if (seqLt(s.sndWl1, seg.seq) || (s.sndWl1 === seg.seq && seqLe(s.sndWl2, ack))) {
      const opened = newWnd > s.sndWnd;
      s.sndWnd = newWnd;
      s.sndWl1 = seg.seq;
      s.sndWl2 = ack;
      if (newWnd > s.maxSndWnd) s.maxSndWnd = newWnd;
      if (opened && s.persisting && newWnd > 0) {
        s.persisting = false;
        s.persistProbes = 0;
        s.backoff = 0;
        this.host.timers.cancel(s.rtoTimer!);
      }
    }
    // Our FIN acknowledged?
    const finAcked = s.finQueued && seqGt(s.sndMax, s.finSeq) && seqGt(s.sndUna, s.finSeq);
    switch (s.state) {
      case TcpState.FinWait1:
        if (finAcked) {
          s.state = TcpState.FinWait2;
          if (s.orphan) this.host.timers.schedule(s.kaTimer!, now + this.timings.finWait2Ms);
        }
        break;
      case TcpState.Closing:
        if (finAcked) this.enterTimeWait(s, now);
        break;
      case TcpState.LastAck:
        if (finAcked) {
          this.destroy(s, 0);
          return false;
        }
        break;
      default:
        break;
    }
    return true;
  }

  /** SND.UNA < SEG.ACK ≤ SND.MAX: bytes acknowledged (RFC 9293 step 5, RFC 6298 §5, RFC 5681, RFC 6582). */
  private newAck(s: TcpSocket, seg: TcpRepr, now: number): void {
    const ack = seg.ack;
    const acked = seqSub(ack, s.sndUna);
    const flightBefore = seqSub(s.sndMax, s.sndUna);
    const tx = s.tx!;
    let dataAcked = seqSub(ack, s.txSeq);
    if (dataAcked > tx.len) dataAcked = tx.len;
    if (dataAcked > 0) {
      tx.consume(dataAcked);
      s.txSeq = seqAdd(s.txSeq, dataAcked);
    }
    s.sndUna = ack;
    if (seqLt(s.sndNxt, ack)) s.sndNxt = ack;
    // RTT (RFC 6298 §3 / RFC 7323 §4.1): from the echoed timestamp, else the one timed segment (Karn).
    if (s.tsOn && seg.hasTimestamp && seg.tsEcr !== 0) {
      const rtt = (this.tsClock(now, s.tsOffset) - seg.tsEcr) | 0;
      if (rtt >= 0 && rtt < 3600000) this.rttSample(s, rtt);
      s.timing = false;
    } else if (s.timing && seqGt(ack, s.rttSeq)) {
      this.rttSample(s, now - s.rttTime);
      s.timing = false;
    }
    s.retries = 0;
    s.backoff = 0;
    if (s.sackOn) {
      if (seg.sackCount > 0) this.takeSack(s, seg);
      this.pruneSacked(s);
    }
    const mss = s.mssData;
    if (s.inRecovery) {
      if (seqGe(ack, s.recover)) {
        // RFC 6582 §3.2 step 3, full acknowledgment: cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
        s.inRecovery = false;
        s.dupAcks = 0;
        const flight = seqSub(s.sndMax, s.sndUna);
        s.cc.cwnd = Math.min(s.cc.ssthresh, Math.max(flight, mss) + mss);
      } else if (!s.sackOn) {
        // Partial acknowledgment: retransmit the first unacknowledged segment; deflate by the amount
        // acknowledged, add back one SMSS (RFC 6582 §3.2 step 3).
        this.retransmitAt(s, s.sndUna, now);
        s.cc.cwnd = Math.max(s.cc.cwnd - acked + mss, mss);
        this.restartRto(s, now);
      } else if (seqLt(s.rtxNext, s.sndUna)) {
        s.rtxNext = s.sndUna;
      }
    } else {
      s.dupAcks = 0;
      // After a repair (below), a cumulative ACK that stops at a hole the resend had passed before the
      // repair went out: that hole's resend is lost as well (RFC 6582's partial acknowledgment).
      if (s.sackedCount > 0 && seqLt(ack, s.recover) && seqGt(ack, s.lossRepairAt) && seqLt(ack, s.lossRepairNxt)) {
        this.repairLostResend(s, now);
      }
      // RFC 7661's idea: grow cwnd only while it limits the sender (not beyond twice the flight).
      if (s.cc.cwnd <= 2 * flightBefore) {
        const rtt = s.hasRtt ? s.srtt : 100;
        let left = acked;
        if (left > 2 * mss && this.host.gsoMax !== undefined && this.host.gsoMax(s) > 0) {
          // TSO: the receiver acknowledges each multi-MSS segment with one ACK; in slow start count it
          // as the ACKs per two MSS it would have sent for MSS-sized segments (Linux's slow start
          // grows by all segments acknowledged), or RFC 3465's L = 2 holds cwnd to +2 MSS per round.
          while (left > 2 * mss && s.cc.cwnd < s.cc.ssthresh) {
            this.cc.onAck(s.cc, 2 * mss, mss, rtt, now);
            left -= 2 * mss;
          }
        }
        this.cc.onAck(s.cc, left, mss, rtt, now);
      }
      // RFC 6675 §5 IsLost: an ACK that moves SND.UNA up to a hole with three segments SACKed above it
      // shows that hole lost, however the SACKs arrived.
      if (s.sackedBytes >= 3 * mss && !seqLt(s.sndUna, s.recover)) this.enterRecovery(s, now);
    }
    s.tlpSent = false;
    if (s.sndUna === s.sndMax) {
      if (!s.persisting) this.host.timers.cancel(s.rtoTimer!);
    } else if (!s.inRecovery || s.sackOn) {
      s.persisting = false;
      this.armProbeOrRto(s, now);
    }
    if (s.wantWrite && (tx.free >= (s.sndBuf >>> 1) || tx.len === 0) && !s.finQueued) {
      s.wantWrite = false;
      this.queueEvent(s, TcpEvent.Writable);
    }
  }

  /** A duplicate ACK (RFC 5681 §3.2, RFC 6582 §3.2 step 2, RFC 6675 for SACK). */
  private dupAck(s: TcpSocket, now: number): void {
    s.counters.dupAcksIn++;
    s.dupAcks++;
    const mss = s.mssData;
    if (s.inRecovery) {
      if (!s.sackOn) s.cc.cwnd += mss; // RFC 6582 step 4: inflate
      return; // output() after the segment sends what the window now allows
    }
    // RFC 6582 §3.2 step 2: a new recovery only when the cumulative ACK covers more than `recover`.
    if (seqLt(s.sndUna, s.recover)) {
      // After a timeout: with SACK, this ACK SACKed new data, which the resend sent after SND.UNA's.
      if (s.sackOn) this.repairLostResend(s, now);
      return;
    }
    // RFC 5827 early retransmit: with fewer than four segments out and nothing new to send, one
    // duplicate ACK fewer than segments outstanding is enough.
    const outstanding = Math.ceil(seqSub(s.sndMax, s.sndUna) / mss);
    const unsent = seqSub(seqAdd(s.txSeq, s.tx!.len), s.sndMax);
    const thresh = unsent <= 0 && outstanding < 4 ? Math.max(outstanding - 1, 1) : 3;
    // After a tail loss probe, a duplicate ACK shows a hole below the probe (RFC 8985 §7.4).
    const enough = s.dupAcks >= thresh || s.sackedBytes >= 3 * mss || s.tlpSent;
    if (enough) this.enterRecovery(s, now);
  }

  /** Fast retransmit and the start of fast recovery (RFC 5681 §3.2, RFC 6582 §3.2 step 2, RFC 6675 §5). */
  private enterRecovery(s: TcpSocket, now: number): void {
    const mss = s.mssData;
    const flight = seqSub(s.sndMax, s.sndUna);
    this.cc.onLoss(s.cc, flight, mss, now);
    s.inRecovery = true;
    s.rtxMarkSet = false;
    s.recover = s.sndMax;
    s.timing = false;
    s.counters.fastRetransmits++;
    this.counters.fastRetransmits++;
    if (s.sackOn) {
      s.cc.cwnd = s.cc.ssthresh;
      s.rtxNext = s.sndUna;
      // RFC 6675 §5 step (4.3): the first hole goes now, whatever the pipe says; only further holes wait
      // for the pipe to drop below cwnd (with few ACKs coming back, waiting could last until the timeout).
      const firstSacked = s.sackedCount > 0 ? seq(s.sacked[0]) : s.sndMax;
      const sent = seqGt(firstSacked, s.sndUna) ? this.retransmitAt(s, s.sndUna, now, seqSub(firstSacked, s.sndUna)) : 0;
      if (sent > 0) {
        s.rtxNext = seqAdd(s.sndUna, sent);
        s.rtxMark = s.sndMax;
        s.rtxMarkSet = true;
      }
    } else {
      s.cc.cwnd = s.cc.ssthresh + 3 * mss;
      this.retransmitAt(s, s.sndUna, now);
    }
    s.persisting = false;
    this.armProbeOrRto(s, now);
  }

  /**
   * After a timeout the flight is sent again from SND.UNA (SND.NXT rewound) with `recover` at the old
   * SND.MAX, below which RFC 6582 allows no new recovery: a resent segment lost again would wait for the
   * next timeout, and at a few percent loss most of the time goes to timeouts. With SACK the loss is
   * seen: the resend skips SACKed ranges, so a duplicate ACK (one SACKing new data) for a hole the resend
   * already covered means that data resent after the hole arrived and the hole's resend did not (RACK's
   * rule, RFC 8985 §6.2, without its reordering window). It is sent once more, without a further window
   * reduction (RFC 6675 §5.1 continues SACK-based loss recovery after a timeout; Linux's Loss state does
   * the same).
   */
  private repairLostResend(s: TcpSocket, now: number): void {
    if (!s.sackOn || !seqLt(s.sndUna, s.sndNxt)) return; // the resend has not reached this hole yet
    if (s.lossRepairAt === s.sndUna && seqLt(s.lossRepairAt, s.lossRepairNxt)) return; // once per hole
    s.lossRepairAt = s.sndUna;
    s.lossRepairNxt = s.sndNxt;
    if (this.retransmitAt(s, s.sndUna, now) > 0) {
      this.counters.lostRetransmits++;
      this.restartRto(s, now);
    }
  }

  /** Merges a segment's SACK blocks (RFC 2018 §3) into the scoreboard (blocks outside (SND.UNA, SND.MAX] are ignored). */
  private takeSack(s: TcpSocket, seg: TcpRepr): void {
    const b = seg.sackBlocks;
    for (let i = 0; i < seg.sackCount; i++) {
      let l = seq(b[2 * i]);
      const r = seq(b[2 * i + 1]);
      if (!seqLt(l, r) || seqGt(r, s.sndMax) || seqLe(r, s.sndUna)) continue; // D-SACK or bogus
      if (seqLt(l, s.sndUna)) l = s.sndUna;
      this.addSacked(s, l, r);
    }
    // Lost retransmissions (RACK's idea at round granularity, RFC 8985 §6): data sent after the
    // last hole retransmission has been SACKed while retransmitted holes are still missing, so
    // those retransmissions were lost — go over the holes again instead of waiting for the RTO.
    if (s.inRecovery && s.rtxMarkSet && s.sackedCount > 0 && seqGt(s.rtxNext, s.sndUna)) {
      const high = seq(s.sacked[2 * (s.sackedCount - 1) + 1]);
      if (seqGt(high, s.rtxMark)) {
        s.rtxNext = s.sndUna;
        s.rtxMarkSet = false;
        this.counters.lostRetransmits++;
      }
    }
  }

  /** Inserts [l, r) into the sorted, disjoint scoreboard, merging neighbours (bounded: the oldest-high range goes when full). */
  private addSacked(s: TcpSocket, l: SeqNum, r: SeqNum): void {
    const a = s.sacked;
    let n = s.sackedCount;
    // Find the first range whose end ≥ l.
    let i = 0;
    while (i < n && seqLt(seq(a[2 * i + 1]), l)) i++;
    let j = i;
    let nl = l;
    let nr = r;
    let gone = 0; // bytes of the ranges replaced or dropped
    while (j < n && seqLe(seq(a[2 * j]), nr)) {
      if (seqLt(seq(a[2 * j]), nl)) nl = seq(a[2 * j]);
      if (seqGt(seq(a[2 * j + 1]), nr)) nr = seq(a[2 * j + 1]);
      gone += seqSub(seq(a[2 * j + 1]), seq(a[2 * j]));
      j++;
    }
    const removed = j - i;
    if (removed === 0 && n === MAX_SACKED_RANGES) {
      if (i === n) return; // the scoreboard is full and this block is the highest: forget it
      n--; // drop the highest range to make room
      gone += seqSub(seq(a[2 * n + 1]), seq(a[2 * n]));
    }
    // Replace ranges [i, j) with [nl, nr).
    const shift = 1 - removed;
    if (shift > 0) a.copyWithin(2 * (i + 1), 2 * i, 2 * n);
    else if (shift < 0) a.copyWithin(2 * (i + 1), 2 * j, 2 * n);
    a[2 * i] = nl;
    a[2 * i + 1] = nr;
    s.sackedCount = n + shift;
    s.sackedBytes += seqSub(nr, nl) - gone;
  }

  /** Forgets the scoreboard below SND.UNA. */
  private pruneSacked(s: TcpSocket): void {
    const a = s.sacked;
    let k = 0;
    while (k < s.sackedCount && seqLe(seq(a[2 * k + 1]), s.sndUna)) {
      s.sackedBytes -= seqSub(seq(a[2 * k + 1]), seq(a[2 * k]));
      k++;
    }
    if (k > 0) {
      a.copyWithin(0, 2 * k, 2 * s.sackedCount);
      s.sackedCount -= k;
    }
    if (s.sackedCount > 0 && seqLt(seq(a[0]), s.sndUna)) {
      s.sackedBytes -= seqSub(s.sndUna, seq(a[0]));
      a[0] = s.sndUna;
    }
  }

  /**
   * Data in order or out of order (RFC 9293 step 7, RFC 5681 §4.2 immediate ACKs, RFC 2018 reporting).
   * The receive buffer holds the readable bytes, then out-of-order bytes in place: the byte at
   * RCV.NXT is at position rx.len. A receive filter or SO_VMA_SHUTDOWN_RX may take in-order bytes
   * instead of the buffer (they are acknowledged and never stored).
   */
  private receiveData(s: TcpSocket, sq: SeqNum, data: Uint8Array, off: number, len: number, now: number, ref: RxBufferRef | null): void {
    const rx = s.rx!;
    let d = seqSub(sq, s.rcvNxt);
    if (d < 0) {
      off -= d;
      len += d;
      d = 0;
    }
    const room = rx.cap - rx.len - d;
    if (len > room) len = room;
    if (len <= 0) {
      s.ackNow = true;
      return;
    }
    if (s.rxShutdown) {
      this.shutdownData(s, d, len, now);
      return;
    }
    if (d === 0) {
      let queued = len;
      // VMA's rule: the filter sees data only while nothing is readable, so order is kept. Discarded
      // bytes never enter the buffer: an empty one moves its front past them (out-of-order bytes
      // beyond keep their place); with held bytes in front there must be nothing out of order.
      if (s.rxFilter !== null && rx.len === s.rxHeldBytes && (rx.len === 0 || s.oooCount === 0) && this.filterTook(s, data, off, len, ref, now)) {
        queued = 0;
        if (rx.len === 0) rx.skip(len);
      } else rx.writeAt(rx.len, data, off, len);
      rx.len += queued;
      s.rcvNxt = seqAdd(s.rcvNxt, len);
      let joined = 0;
      let filled = false;
      // Ranges now joined to the in-order data.
      for (let k = 0; k < s.oooCount; ) {
        const l = seq(s.ooo[2 * k]);
        const r = seq(s.ooo[2 * k + 1]);
        if (seqLe(l, s.rcvNxt)) {
          if (seqGt(r, s.rcvNxt)) {
            joined += seqSub(r, s.rcvNxt);
            s.rcvNxt = r;
          }
          this.removeOoo(s, k);
          filled = true;
          k = 0;
        } else k++;
      }
      s.counters.rxBytes += len + joined;
      if (joined > 0) {
        const kept = s.rxFilter !== null && rx.len === 0 ? this.filterJoined(s, joined, now) : joined;
        rx.len += kept;
        queued += kept;
      }
      this.inOrderTaken(s, len, filled, queued > 0, now);
    } else {
      rx.writeAt(rx.len + d, data, off, len);
      s.counters.outOfOrder++;
      this.addOoo(s, sq, seqAdd(sq, len));
      // A loss is being repaired: ACK every segment for a while (Linux's quick-ACK mode).
      if (s.quickAcks < 8) s.quickAcks = 8;
      s.ackNow = true; // RFC 5681 §4.2: "an immediate duplicate ACK SHOULD be sent when an out-of-order segment arrives"
    }
  }

  /** After in-order bytes were taken (`len` from this segment): ACK policy, a waiting FIN, the Readable event. */
  private inOrderTaken(s: TcpSocket, len: number, filled: boolean, readable: boolean, now: number): void {
    // A coalesced segment (large receive: many MSS in one) counts as the two full-sized segments it holds at least.
    s.segsUnacked += len >= 2 * s.ourMss ? 2 : 1;
    // RFC 5681 §4.2: ACK at once when a segment fills a gap; else every second segment, or after the delay.
    if (filled || s.oooCount > 0 || s.quickAcks > 0 || s.segsUnacked >= 2) s.ackNow = true;
    else s.ackPending = true;
    if (s.quickAcks > 0) s.quickAcks--;
    if (s.finPending && s.rcvFinSeq === s.rcvNxt) {
      s.finPending = false;
      this.finArrived(s, now);
    }
    if (readable) this.queueEvent(s, TcpEvent.Readable);
  }

  /** Runs the receive filter on in-order bytes; true when it took them (Drop or Hold), counted. */
  private filterTook(s: TcpSocket, data: Uint8Array, off: number, len: number, ref: RxBufferRef | null, now: number): boolean {
    const v = s.rxFilter!(s, data, off, len, ref, now);
    if (v === TcpRxVerdict.Recv) return false;
    if (v === TcpRxVerdict.Hold) s.counters.rxHeld++;
    else s.counters.rxFilterDrops++;
    return true;
  }

  /**
   * Out-of-order bytes just made in-order, at the front of an empty receive buffer: the filter sees
   * them piece by piece (a piece per contiguous run of buffer memory, `ref` null) until it answers
   * Recv or is removed. Returns how many bytes stay (to be made readable).
   */
  private filterJoined(s: TcpSocket, n: number, now: number): number {
    const rx = s.rx!;
    while (n > 0 && s.rxFilter !== null) {
      const piece = rx.contiguous(0, n);
      if (!this.filterTook(s, rx.buf, rx.offsetOf(0), piece, null, now)) break;
      rx.skip(piece);
      n -= piece;
    }
    return n;
  }

  /**
   * SO_VMA_SHUTDOWN_RX: in-order payload is acknowledged as if read and discarded; out-of-order
   * payload is not kept (a duplicate ACK answers it) and ranges kept before are forgotten, so
   * RCV.NXT can move without touching the buffer (nothing lies beyond its readable bytes).
   */
  private shutdownData(s: TcpSocket, d: number, len: number, now: number): void {
    s.counters.rxShutdownDrops++;
    s.oooCount = 0;
    if (d > 0) {
      s.ackNow = true;
      return;
    }
    s.rcvNxt = seqAdd(s.rcvNxt, len);
    this.inOrderTaken(s, len, false, false, now);
  }

  /** Adds [l, r) to the out-of-order ranges, merged, as the first (most recent) block. */
  private addOoo(s: TcpSocket, l: SeqNum, r: SeqNum): void {
    const a = s.ooo;
    for (let k = 0; k < s.oooCount; ) {
      const kl = seq(a[2 * k]);
      const kr = seq(a[2 * k + 1]);
      if (seqLe(kl, r) && seqGe(kr, l)) {
        if (seqLt(kl, l)) l = kl;
        if (seqGt(kr, r)) r = kr;
        this.removeOoo(s, k);
      } else k++;
    }
    if (s.oooCount === MAX_OOO_RANGES) {
      // Bounded reassembly: the oldest-reported range is forgotten (its bytes will be retransmitted).
      s.counters.oooDropped++;
      this.counters.oooDropped++;
      s.oooCount--;
    }
    a.copyWithin(2, 0, 2 * s.oooCount);
    a[0] = l;
    a[1] = r;
    s.oooCount++;
  }

  private removeOoo(s: TcpSocket, k: number): void {
    s.ooo.copyWithin(2 * k, 2 * (k + 1), 2 * s.oooCount);
    s.oooCount--;
  }

  /** RFC 9293 step 8: the FIN at RCV.NXT. */
  private finArrived(s: TcpSocket, now: number): void {
    s.rcvNxt = seqAdd(s.rcvNxt, 1);
    s.finReceived = true;
    s.ackNow = true;
    this.queueEvent(s, TcpEvent.Readable);
    switch (s.state) {
      case TcpState.SynReceived:
      case TcpState.Established:
        s.state = TcpState.CloseWait;
        break;
      case TcpState.FinWait1:
        // Our FIN acknowledged (ACK processing ran first) → TIME-WAIT, else CLOSING.
        if (seqGt(s.sndUna, s.finSeq) && s.finQueued && seqGt(s.sndMax, s.finSeq)) this.enterTimeWait(s, now);
        else s.state = TcpState.Closing;
        break;
      case TcpState.FinWait2:
        this.enterTimeWait(s, now);
        break;
      default:
        break;
    }
  }

  // =============================================================================================
  // Output

  /**
   * Sends what the windows, Nagle and SWS avoidance allow (RFC 9293 §3.8.6, RFC 1122 §4.2.3.4,
   * RFC 896), retransmitting after a timeout (SND.NXT rewound) and filling SACK holes in recovery.
   */
  private output(s: TcpSocket, now: number, force = false): void {
    switch (s.state) {
      case TcpState.Established:
      case TcpState.CloseWait:
      case TcpState.FinWait1:
      case TcpState.Closing:
      case TcpState.LastAck:
        break;
      default:
        return;
    }
    const tx = s.tx!;
    const mss = s.mssData;
    // TSO: new data may leave in segments of many MSS (sendData cuts them to whole MSS multiples).
    const gsoMax = this.host.gsoMax !== undefined ? this.host.gsoMax(s) : 0;
    if (s.inRecovery && s.sackOn) this.sackRecoverySend(s, now);
    for (let guard = 0; guard < 100000; guard++) {
      // Skip ranges the peer already SACKed when going over data again.
      if (s.sackedCount > 0 && seqLt(s.sndNxt, s.sndMax)) {
        for (let k = 0; k < s.sackedCount; k++) {
          if (seqGe(s.sndNxt, seq(s.sacked[2 * k])) && seqLt(s.sndNxt, seq(s.sacked[2 * k + 1]))) s.sndNxt = seq(s.sacked[2 * k + 1]);
        }
      }
      const dataEnd = seqAdd(s.txSeq, tx.len);
      const avail = seqSub(dataEnd, s.sndNxt);
      if (avail < 0) break; // FIN sent and nothing after it
      const flight = this.inFlight(s);
      // RFC 3042 limited transmit: the first two duplicate ACKs each let one new segment out.
      const cwnd = !s.inRecovery && s.dupAcks > 0 && s.dupAcks < 3 && s.sndNxt === s.sndMax ? s.cc.cwnd + s.dupAcks * mss : s.cc.cwnd;
      const wnd = Math.min(s.sndWnd, cwnd);
      let usable = wnd - flight;
      const retrans = seqLt(s.sndNxt, s.sndMax);
      let len = Math.min(avail, gsoMax > mss && !retrans ? gsoMax : mss);
      if (force && usable <= 0 && s.sndWnd > 0) usable = Math.min(s.sndWnd, mss);
      if (len > usable) len = usable > 0 ? usable : 0;
      if (retrans) {
        // Retransmitted segments stop at the next SACKed range.
        for (let k = 0; k < s.sackedCount; k++) {
          const l = seq(s.sacked[2 * k]);
          if (seqGt(l, s.sndNxt)) {
            const gap = seqSub(l, s.sndNxt);
            if (len > gap) len = gap;
            break;
          }
        }
      }
      const fin = s.finQueued && len === avail && (usable > 0 || avail === 0 || len > 0);
      if (len === 0 && !fin) {
        if (avail > 0 && s.sndUna === s.sndMax && !s.rtoTimer!.scheduled) this.startPersist(s, now);
        break;
      }
      if (!retrans && len > 0 && len < mss && !force) {
        // RFC 1122 §4.2.3.4 sender SWS avoidance: a partial segment only when it is all we have
        // (with Nagle: when nothing is in flight) or at least half the largest window seen.
        if (len < avail) {
          if (len < s.maxSndWnd >>> 1) {
            if (s.sndUna === s.sndMax && !s.rtoTimer!.scheduled) this.startPersist(s, now);
            break;
          }
        } else if (!s.nodelay && !fin && seqGt(s.sndSmall, s.sndUna)) {
          // Nagle (RFC 896) in Minshall's form, as Linux: hold a small segment while an earlier
          // small segment is unacknowledged.
          break;
        }
      }
      const sent = this.sendData(s, s.sndNxt, len, fin, now, retrans ? 0 : gsoMax, retrans || usable - len < mss);
      if (sent < 0) break;
      const finSent = fin && sent === len + 1;
      // (A TSO segment ending in a partial MSS counts as small for Nagle, as its last piece is.)
      if (!retrans && (len < mss || len % mss !== 0)) s.sndSmall = seqAdd(s.sndNxt, sent);
      if (retrans) {
        s.counters.retransmits++;
        this.counters.retransmits++;
      } else if (!s.timing && len > 0 && !s.tsOn) {
        s.timing = true;
        s.rttSeq = s.sndNxt;
        s.rttTime = now;
      }
      s.sndNxt = seqAdd(s.sndNxt, sent);
      if (seqGt(s.sndNxt, s.sndMax)) s.sndMax = s.sndNxt;
      if (s.persisting) {
        s.persisting = false;
        this.host.timers.cancel(s.rtoTimer!);
      }
      if (!s.rtoTimer!.scheduled) this.armProbeOrRto(s, now);
      if (finSent || force) break;
    }
  }

  /** The bytes output() counts against cwnd: the pipe in SACK recovery, else SND.NXT − SND.UNA. */
  private inFlight(s: TcpSocket): number {
    return s.inRecovery && s.sackOn ? this.pipe(s) : seqSub(s.sndNxt, s.sndUna);
  }

  /** RFC 6675-style pipe: bytes beyond the highest SACK plus hole bytes retransmitted and not yet acknowledged. */
  private pipe(s: TcpSocket): number {
    const high = s.sackedCount > 0 ? seq(s.sacked[2 * (s.sackedCount - 1) + 1]) : s.sndUna;
    let p = seqSub(s.sndMax, high);
    if (seqGt(s.rtxNext, s.sndUna)) {
      p += seqSub(s.rtxNext, s.sndUna);
      for (let k = 0; k < s.sackedCount; k++) {
        const l = seq(s.sacked[2 * k]);
        const r = seq(s.sacked[2 * k + 1]);
        if (seqGe(l, s.rtxNext)) break;
        p -= seqSub(seqLt(r, s.rtxNext) ? r : s.rtxNext, l);
      }
    }
    return p > 0 ? p : 0;
  }

  /** SACK recovery: retransmit the holes below the highest SACKed byte while pipe < cwnd (RFC 6675 §5). */
  private sackRecoverySend(s: TcpSocket, now: number): void {
    if (s.sackedCount === 0) {
      if (s.rtxNext === s.sndUna && seqLt(s.sndUna, s.sndMax)) {
        // No scoreboard (peer stopped SACKing): NewReno-style, the first unacknowledged segment once.
        if (this.retransmitAt(s, s.sndUna, now) > 0) s.rtxNext = seqAdd(s.sndUna, Math.min(s.mssData, seqSub(s.sndMax, s.sndUna)));
      }
      return;
    }
    const high = seq(s.sacked[2 * (s.sackedCount - 1) + 1]);
    for (let guard = 0; guard < 10000; guard++) {
      if (seqLt(s.rtxNext, s.sndUna)) s.rtxNext = s.sndUna;
      // Skip SACKed bytes.
      let limit = high;
      for (let k = 0; k < s.sackedCount; k++) {
        const l = seq(s.sacked[2 * k]);
        const r = seq(s.sacked[2 * k + 1]);
        if (seqGe(s.rtxNext, l) && seqLt(s.rtxNext, r)) s.rtxNext = r;
        else if (seqGt(l, s.rtxNext)) {
          limit = l;
          break;
        }
      }
      if (!seqLt(s.rtxNext, high)) return;
      if (this.pipe(s) >= s.cc.cwnd) return;
      const len = Math.min(s.mssData, seqSub(limit, s.rtxNext));
      if (len <= 0) return;
      const sent = this.retransmitAt(s, s.rtxNext, now, len);
      if (sent <= 0) return;
      s.rtxNext = seqAdd(s.rtxNext, sent);
      s.rtxMark = s.sndMax;
      s.rtxMarkSet = true;
    }
  }

  /** Retransmits one segment at `at` (at most `max` bytes); returns the sequence space sent (0: nothing). */
  private retransmitAt(s: TcpSocket, at: SeqNum, now: number, max = s.mssData): number {
    const tx = s.tx!;
    const dataEnd = seqAdd(s.txSeq, tx.len);
    let len = Math.min(max, s.mssData, seqSub(dataEnd, at), seqSub(s.sndMax, at));
    if (len < 0) len = 0;
    const fin = s.finQueued && seqAdd(at, len) === s.finSeq && seqGt(s.sndMax, s.finSeq);
    if (len === 0 && !fin) return 0;
    const sent = this.sendData(s, at, len, fin, now, 0, true);
    if (sent <= 0) return 0;
    s.timing = false; // Karn: no sample from a retransmitted range
    s.counters.retransmits++;
    this.counters.retransmits++;
    return sent;
  }

  /**
   * Emits one ACK-bearing segment with up to `len` bytes from the send buffer at `at` (and FIN when
   * asked and everything fitted). Returns the sequence space sent (bytes + 1 for a FIN), or -1.
   * With `gsoMax` (TSO, the host's largest TCP segment), `len` may span many segments: it is cut to
   * a whole number of segments unless it ends the send buffer, and the device segments it.
   */
  private sendData(s: TcpSocket, at: SeqNum, len: number, fin: boolean, now: number, gsoMax = 0, push = false): number {
    const r = this.txr;
    this.header(s, r, F_ACK, at, now);
    // Options (timestamps, SACK blocks) come out of the payload's room (RFC 6691).
    const hlen = tcpHeaderLen(r);
    const room = s.pmtu - 20 - hlen;
    const dataEnd = seqAdd(s.txSeq, s.tx!.len);
    let gsoSize = 0;
    if (gsoMax > 0 && len > room) {
      // Every segment the device cuts carries these same headers: each holds `seg` bytes.
      const seg = s.mssData < room ? s.mssData : room;
      const most = Math.floor((gsoMax - hlen) / seg) * seg;
      if (len > most) {
        len = most;
        fin = false;
      }
      if (len > seg && seqAdd(at, len) !== dataEnd) len -= len % seg;
      if (len > seg) gsoSize = seg;
      else if (len > room) len = room;
    } else if (len > room) {
      len = room;
      fin = false;
    }
    if (fin) r.flags |= F_FIN;
    if (len > 0 && (push || seqAdd(at, len) === dataEnd)) r.flags |= F_PSH;
    r.payloadLength = len;
    if (!this.emit(s, r, s.localIp | 0, s.remoteIp | 0, len > 0 ? s.tx : null, seqSub(at, s.txSeq), now, gsoSize)) return -1;
    s.counters.txBytes += len;
    this.ackSent(s);
    return len + (fin ? 1 : 0);
  }

  /** A pure ACK now. */
  private sendAck(s: TcpSocket, now: number): void {
    if (s.state === TcpState.Closed || s.state === TcpState.SynSent || s.state === TcpState.Listen) return;
    const r = this.txr;
    this.header(s, r, F_ACK, s.sndNxt, now);
    if (this.emit(s, r, s.localIp | 0, s.remoteIp | 0, null, 0, now)) this.ackSent(s);
  }

  /** Sends an owed ACK now, or arms the delayed-ACK timer (RFC 1122 §4.2.3.2). */
  private flushAck(s: TcpSocket, now: number): void {
    if (s.ackNow) this.sendAck(s, now);
    else if (s.ackPending && !s.ackTimer!.scheduled) this.host.timers.schedule(s.ackTimer!, now + this.timings.delayedAckMs);
  }

  private ackSent(s: TcpSocket): void {
    s.ackNow = false;
    s.ackPending = false;
    s.segsUnacked = 0;
    s.lastAckSent = s.rcvNxt;
    if (s.ackTimer!.scheduled) this.host.timers.cancel(s.ackTimer!);
  }

  /** RFC 5961 §7: challenge ACKs, rate-limited engine-wide. */
  private challengeAck(s: TcpSocket, now: number): void {
    this.challengeTokens = Math.min(CHALLENGE_ACK_LIMIT, this.challengeTokens + (now - this.challengeAt) * (CHALLENGE_ACK_LIMIT / 1000));
    this.challengeAt = now;
    if (this.challengeTokens < 1) {
      this.counters.challengeAcksLimited++;
      return;
    }
    this.challengeTokens--;
    this.counters.challengeAcks++;
    s.counters.challengeAcks++;
    this.sendAck(s, now);
  }

  /** SYN (active open) or SYN-ACK with our options. */
  private sendSyn(s: TcpSocket, withAck: boolean, now: number): void {
    const r = this.txr;
    resetRepr(r);
    r.srcPort = s.localPort;
    r.dstPort = s.remotePort;
    r.seq = s.iss;
    r.flags = F_SYN | (withAck ? F_ACK : 0);
    if (withAck) r.ack = s.rcvNxt;
    r.window = Math.min(s.rx!.cap, 0xffff);
    r.mss = Math.min(s.ourMss, 0xffff);
    if (s.tsOn) {
      r.hasTimestamp = true;
      r.tsVal = this.tsClock(now, s.tsOffset);
      r.tsEcr = withAck ? s.tsRecent : 0;
    }
    r.sackPermitted = s.sackOn;
    // Active open: offer our shift; SYN-ACK: only when the peer offered one (rcvWscale is then ≥ 7).
    r.windowScale = withAck ? (s.rcvWscale > 0 ? s.rcvWscale : -1) : this.offerWs ? s.rcvWscale : -1;
    if (seqGt(seqAdd(s.iss, 1), s.sndMax)) s.sndMax = seqAdd(s.iss, 1);
    if (s.retries === 0) s.rttTime = now;
    s.sndNxt = seqAdd(s.iss, 1);
    if (withAck) s.rcvAdv = seqAdd(s.rcvNxt, r.window);
    this.emit(s, r, s.localIp | 0, s.remoteIp | 0, null, 0, now);
    if (withAck) this.ackSent(s);
  }

  /** <SEQ=SND.MAX><ACK=RCV.NXT><CTL=RST,ACK> for an abort, after one at SND.UNA when data or a FIN is unacknowledged. */
  private sendReset(s: TcpSocket, now: number): void {
    const r = this.txr;
    resetRepr(r);
    r.srcPort = s.localPort;
    r.dstPort = s.remotePort;
    r.ack = s.rcvNxt;
    r.flags = F_RST | F_ACK;
    if (s.sndUna !== s.sndMax && s.state >= TcpState.Established) {
      // With data or a FIN unacknowledged the peer's RCV.NXT is somewhere in [SND.UNA, SND.MAX]: an RST
      // not exactly at it draws a challenge ACK (RFC 5961 §3.2), which only a live socket could answer.
      // SND.UNA is exact when the rest was lost (a lost FIN), SND.MAX when it all arrived.
      r.seq = s.sndUna;
      this.counters.resetsOut++;
      this.emit(s, r, s.localIp | 0, s.remoteIp | 0, null, 0, now);
    }
    r.seq = s.sndMax;
    this.counters.resetsOut++;
    this.emit(s, r, s.localIp | 0, s.remoteIp | 0, null, 0, now);
  }

  /** Fills the Repr for a segment of an synchronized connection: ports, seq, ack, window, TS and SACK options. */
  private header(s: TcpSocket, r: TcpRepr, flags: number, at: SeqNum, now: number): void {
    r.srcPort = s.localPort;
    r.dstPort = s.remotePort;
    r.seq = at;
    r.ack = s.rcvNxt;
    r.flags = flags;
    r.urgent = 0;
    r.mss = 0;
    r.windowScale = -1;
    r.sackPermitted = false;
    r.payloadLength = 0;
    r.window = this.selectWindow(s);
    if (s.tsOn) {
      r.hasTimestamp = true;
      r.tsVal = this.tsClock(now, s.tsOffset);
      r.tsEcr = s.tsRecent;
    } else {
      r.hasTimestamp = false;
      r.tsVal = 0;
      r.tsEcr = 0;
    }
    let n = 0;
    if (s.sackOn && s.oooCount > 0) {
      n = Math.min(s.oooCount, TCP_MAX_SACK_BLOCKS);
      for (let k = 0; k < 2 * n; k++) r.sackBlocks[k] = s.ooo[k];
    }
    r.sackCount = n;
  }

  /**
   * The window field to send (RFC 9293 §3.8.6.2.2 / RFC 1122 §4.2.3.3 receiver SWS avoidance): the
   * right edge moves only by at least min(buffer/2, MSS) and never moves left; scaled by our shift.
   */
  private selectWindow(s: TcpSocket): number {
    const rx = s.rx!;
    const free = rx.cap - rx.len;
    let right = seqAdd(s.rcvNxt, free);
    // Never move the right edge left; move it right only by a useful amount (a closed window too).
    if (seqLe(right, s.rcvAdv) || seqSub(right, s.rcvAdv) < Math.min(rx.cap >>> 1, s.ourMss)) right = seqGt(s.rcvAdv, s.rcvNxt) ? s.rcvAdv : s.rcvNxt;
    const wnd = seqSub(right, s.rcvNxt);
    const shift = s.rcvWscale;
    let field = (wnd + (1 << shift) - 1) >>> shift; // round up: never advertise less than already promised
    if (field > 0xffff) field = 0xffff;
    s.rcvAdv = seqAdd(s.rcvNxt, field << shift);
    return field;
  }

  /** After recv(): does the window grow enough to tell the peer (the remaining window ≤ half and doubles)? */
  private windowUpdateDue(s: TcpSocket): boolean {
    if (s.state !== TcpState.Established && s.state !== TcpState.FinWait1 && s.state !== TcpState.FinWait2) return false;
    const rx = s.rx!;
    const cur = s.rcvAdvertised;
    const free = rx.cap - rx.len;
    return 2 * cur <= rx.cap && free >= 2 * cur && free - cur >= Math.min(rx.cap >>> 1, s.ourMss);
  }

  private emit(s: TcpSocket | null, r: TcpRepr, src: number, dst: number, data: ByteRing | null, pos: number, now: number, gsoSize = 0): boolean {
    if (!this.host.transmit(s, r, src, dst, data, pos, now, gsoSize)) {
      this.counters.txNoBuffer++;
      return false;
    }
    // A TSO segment counts as the segments the device cuts from it (as Linux counts OutSegs).
    const segs = gsoSize > 0 ? Math.ceil(r.payloadLength / gsoSize) : 1;
    this.counters.segmentsOut += segs;
    if (s !== null) s.counters.txSegments += segs;
    return true;
  }

  // =============================================================================================
  // Timers

  private armRto(s: TcpSocket, now: number): void {
    s.ptoArmed = false;
    this.host.timers.schedule(s.rtoTimer!, now + this.backedOffRto(s));
  }

  /**
   * RFC 8985 §7 tail loss probe: with SACK and an RTT estimate, outside recovery, the timer first
   * fires after PTO = 2·SRTT (+ the worst-case delayed ACK when one segment is out) to send a probe
   * that draws the ACK/SACK fast recovery needs; the RTO follows.
   */
  private armProbeOrRto(s: TcpSocket, now: number): void {
    s.ptoArmed = false;
    // Also in recovery, unlike RFC 8985 §7.2 (and Linux): a Linux receiver with SACK compression may
    // answer a whole burst of retransmissions and new data with one ACK; when that ACK is lost and the
    // window is small nothing else comes back, and the probe draws in 2·SRTT the ACK the timeout would
    // wait 200 ms for (docs/benchmarks.md, TCP under loss).
    if (s.sackOn && s.hasRtt && !s.tlpSent && (s.state === TcpState.Established || s.state === TcpState.CloseWait)) {
      let pto = Math.max(2 * s.srtt, 10);
      if (seqSub(s.sndMax, s.sndUna) <= s.mssData) pto += 200; // RFC 8985 WCDelAckT
      if (pto < this.backedOffRto(s)) {
        s.ptoArmed = true;
        this.host.timers.schedule(s.rtoTimer!, now + pto);
        return;
      }
    }
    this.armRto(s, now);
  }

  /** The probe: one new segment if the window allows, else the last segment again. */
  private probeFired(s: TcpSocket, now: number): void {
    s.ptoArmed = false;
    s.tlpSent = true;
    this.counters.tailLossProbes++;
    const before = s.sndMax;
    const mss = s.mssData;
    if (seqSub(seqAdd(s.txSeq, s.tx!.len), s.sndMax) > 0 && seqSub(s.sndMax, s.sndUna) + mss <= s.sndWnd) {
      // One new segment beyond whatever the window holds (in recovery the pipe may exceed cwnd).
      const extra = Math.max(mss, this.inFlight(s) + mss - s.cc.cwnd);
      s.cc.cwnd += extra;
      this.output(s, now);
      s.cc.cwnd -= extra;
    }
    if (s.sndMax === before) {
      const back = Math.min(mss, seqSub(s.sndMax, s.sndUna));
      this.retransmitAt(s, seqAdd(s.sndMax, -back), now);
    }
    this.armRto(s, now);
  }

  private restartRto(s: TcpSocket, now: number): void {
    s.persisting = false;
    this.armRto(s, now);
  }

  private backedOffRto(s: TcpSocket): number {
    return Math.min(s.rto * 2 ** s.backoff, this.timings.maxRtoMs);
  }

  private startPersist(s: TcpSocket, now: number): void {
    s.persisting = true;
    this.host.timers.schedule(s.rtoTimer!, now + Math.max(this.backedOffRto(s), this.timings.minRtoMs));
  }

  /** RFC 6298 §2.2/2.3: SRTT, RTTVAR and RTO from a measurement. */
  private rttSample(s: TcpSocket, r: number): void {
    if (!s.hasRtt) {
      s.srtt = r;
      s.rttvar = r / 2;
      s.hasRtt = true;
    } else {
      // RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|, SRTT <- (1 - alpha) * SRTT + alpha * R', alpha = 1/8, beta = 1/4.
      s.rttvar = 0.75 * s.rttvar + 0.25 * Math.abs(s.srtt - r);
      s.srtt = 0.875 * s.srtt + 0.125 * r;
    }
    // RTO <- SRTT + max (G, K*RTTVAR), K = 4, G = 1 ms; bounded below (Linux 200 ms) and above.
    s.rto = Math.min(Math.max(s.srtt + Math.max(1, 4 * s.rttvar), this.timings.minRtoMs), this.timings.maxRtoMs);
  }

  private rtoFired(s: TcpSocket, now: number): void {
    this.lastNow = now;
    switch (s.state) {
      case TcpState.SynSent:
      case TcpState.SynReceived: {
        const limit = s.state === TcpState.SynSent ? this.timings.synRetries : this.timings.synAckRetries;
        if (s.retries >= limit) {
          this.counters.attemptFails++;
          if (s.state === TcpState.SynReceived && s.parent !== null) this.destroy(s, 0);
          else this.destroy(s, s.softError || -TcpErrno.ETIMEDOUT);
          break;
        }
        s.retries++;
        s.backoff++;
        s.counters.retransmits++;
        this.counters.retransmits++;
        // RFC 6298 §5.7: after a lost SYN the RTO is 3 s once data flows (Linux keeps 1 s; so do we).
        this.sendSyn(s, s.state === TcpState.SynReceived, now);
        this.armRto(s, now);
        break;
      }
      case TcpState.Closed:
      case TcpState.Listen:
      case TcpState.TimeWait:
        break;
      default:
        if (s.persisting) {
          this.persistFired(s, now);
          break;
        }
        if (s.ptoArmed) {
          if (s.sndUna !== s.sndMax) this.probeFired(s, now);
          break;
        }
        if (s.sndUna === s.sndMax) break;
        if (s.retries >= this.timings.dataRetries) {
          this.counters.estabResets++;
          this.destroy(s, s.softError || -TcpErrno.ETIMEDOUT);
          break;
        }
        // RFC 6298 §5.4–5.6 and RFC 5681 §3.1: retransmit the earliest segment, back off, one-segment window.
        s.retries++;
        s.backoff++;
        s.counters.timeouts++;
        this.counters.timeouts++;
        this.cc.onTimeout(s.cc, seqSub(s.sndMax, s.sndUna), s.mssData, now);
        s.inRecovery = false;
        s.dupAcks = 0;
        s.recover = s.sndMax; // RFC 6582 §4: after a timeout, no fast retransmit below this
        s.lossRepairNxt = s.lossRepairAt; // no repair since this timeout (an empty range)
        // RFC 2018 §8 lets the receiver renege on SACKed data. Like Linux, the scoreboard survives one
        // timeout (the resend skips SACKed ranges); a second timeout in a row forgets it.
        if (s.retries > 1) {
          s.sackedCount = 0;
          s.sackedBytes = 0;
        }
        s.timing = false;
        s.sndNxt = s.sndUna;
        this.armRto(s, now);
        this.output(s, now);
        break;
    }
    this.dispatch();
  }

  /** Zero-window probe (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17): a segment at SND.UNA − 1 makes the peer send its window. */
  private persistFired(s: TcpSocket, now: number): void {
    const tx = s.tx!;
    if (seqSub(seqAdd(s.txSeq, tx.len), s.sndNxt) <= 0 && !s.finQueued) {
      s.persisting = false;
      return;
    }
    if (s.sndWnd > 0) {
      // The window is open but too small for SWS avoidance: the override timer sends what fits.
      s.persisting = false;
      this.output(s, now, true);
      if (!s.rtoTimer!.scheduled) this.armRto(s, now);
      return;
    }
    if (s.persistProbes >= this.timings.persistProbes) {
      this.counters.estabResets++;
      this.destroy(s, -TcpErrno.ETIMEDOUT);
      return;
    }
    s.persistProbes++;
    s.counters.zeroWindowProbes++;
    const r = this.txr;
    this.header(s, r, F_ACK, seqAdd(s.sndUna, -1), now);
    this.emit(s, r, s.localIp | 0, s.remoteIp | 0, null, 0, now);
    s.backoff++;
    this.startPersist(s, now);
  }

  private ackTimerFired(s: TcpSocket, now: number): void {
    if (s.ackPending || s.ackNow) this.sendAck(s, now);
  }

  /** The third timer: TIME-WAIT expiry, orphaned FIN-WAIT-2 expiry, or keep-alive. */
  private kaFired(s: TcpSocket, now: number): void {
    this.lastNow = now;
    switch (s.state) {
      case TcpState.TimeWait:
        this.destroy(s, 0);
        break;
      case TcpState.FinWait2:
        if (s.orphan) this.destroy(s, 0);
        break;
      case TcpState.Established:
      case TcpState.CloseWait: {
        if (!s.keepAlive) break;
        const idle = now - s.lastRx;
        if (s.keepProbesSent === 0 && idle < s.keepIdleMs) {
          this.host.timers.schedule(s.kaTimer!, s.lastRx + s.keepIdleMs);
          break;
        }
        if (s.keepProbesSent >= this.timings.keepProbes) {
          this.counters.estabResets++;
          this.destroy(s, s.softError || -TcpErrno.ETIMEDOUT);
          break;
        }
        // RFC 1122 §4.2.3.6: a keep-alive is an ACK with SEG.SEQ = SND.NXT − 1 (no data), answered by an ACK.
        if (s.sndUna === s.sndMax) {
          s.keepProbesSent++;
          s.counters.keepAliveProbes++;
          const r = this.txr;
          this.header(s, r, F_ACK, seqAdd(s.sndUna, -1), now);
          this.emit(s, r, s.localIp | 0, s.remoteIp | 0, null, 0, now);
        }
        this.host.timers.schedule(s.kaTimer!, now + this.timings.keepIntervalMs);
        break;
      }
      default:
        break;
    }
    this.dispatch();
  }

  private startKeepAlive(s: TcpSocket, now: number): void {
    if (s.keepAlive) this.host.timers.schedule(s.kaTimer!, now + s.keepIdleMs);
  }

  // =============================================================================================
  // Lifecycle

  /** Buffers, timers, ISN, route; leaves the state to the caller. */
  private initConnection(s: TcpSocket, r: TcpRoute, now: number): void {
    s.routeHandle = r.handle;
    s.pmtu = r.mtu;
    s.ourMss = r.mtu - TCP_IP_HEADERS;
    s.tx = new ByteRing(Math.max(s.sndBuf, 2048));
    s.rx = new ByteRing(Math.max(s.rcvBuf, 2048));
    s.holds = null;
    if (s.keepIdleMs === 0) s.keepIdleMs = this.timings.keepIdleMs;
    const ports = ((s.localPort << 16) | s.remotePort) | 0;
    // RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 µs clock.
    s.iss = seq(this.hash.hash4(s.localIp | 0, s.remoteIp | 0, ports, 0x15) + Math.floor(now * 250));
    s.tsOffset = this.hash.hash4(s.localIp | 0, s.remoteIp | 0, ports, 0x75);
    s.sndUna = s.iss;
    s.sndNxt = s.iss;
    s.sndMax = s.iss;
    s.sndSmall = s.iss;
    s.txSeq = seqAdd(s.iss, 1);
    s.recover = s.iss;
    s.rto = this.timings.initialRtoMs;
    s.lastRx = now;
    s.ccName = this.cc.name;
    s.rtoTimer = new Timer((t) => this.rtoFired(s, t));
    s.ackTimer = new Timer((t) => {
      this.ackTimerFired(s, t);
      this.dispatch();
    });
    s.kaTimer = new Timer((t) => this.kaFired(s, t));
  }

  /** The SYN is acknowledged: SND.UNA moves past it. */
  private ackSyn(s: TcpSocket, seg: TcpRepr, now: number): void {
    s.sndUna = seg.ack;
    if (seqLt(s.sndNxt, s.sndUna)) s.sndNxt = s.sndUna;
    if (s.retries === 0 && !s.tsOn) this.rttSample(s, Math.max(0, now - s.rttTime)); // Karn: only an unretransmitted SYN
    else if (s.tsOn && seg.hasTimestamp && seg.tsEcr !== 0) {
      const rtt = (this.tsClock(now, s.tsOffset) - seg.tsEcr) | 0;
      if (rtt >= 0 && rtt < 3600000) this.rttSample(s, rtt);
    }
    s.retries = 0;
    s.backoff = 0;
    this.host.timers.cancel(s.rtoTimer!);
  }

  /** Entering ESTABLISHED (either side): congestion window, keep-alive, a queued FIN. */
  private establish(s: TcpSocket, now: number): void {
    s.state = TcpState.Established;
    s.wasConnected = true;
    this.updateMss(s);
    s.cc.cwnd = INITIAL_WINDOW_SEGMENTS * s.mssData;
    s.cc.ssthresh = 0x7fffffff;
    s.lastRx = now;
    this.startKeepAlive(s, now);
    if (s.finQueued) {
      s.finQueued = false;
      this.queueFin(s);
    }
  }

  private queueFin(s: TcpSocket): void {
    if (s.finQueued) return;
    s.finQueued = true;
    s.finSeq = seqAdd(s.txSeq, s.tx!.len);
    if (s.state === TcpState.Established || s.state === TcpState.SynReceived) s.state = TcpState.FinWait1;
    else if (s.state === TcpState.CloseWait) s.state = TcpState.LastAck;
  }

  private enterTimeWait(s: TcpSocket, now: number): void {
    s.state = TcpState.TimeWait;
    this.host.timers.cancel(s.rtoTimer!);
    s.persisting = false;
    this.host.timers.schedule(s.kaTimer!, now + this.timings.timeWaitMs);
    if (!s.closeQueued) {
      s.closeQueued = true;
      this.queueEvent(s, TcpEvent.Close);
    }
  }

  private timeWaitReusable(s: TcpSocket, seg: TcpRepr): boolean {
    if (s.tsOn && seg.hasTimestamp && s.tsRecentSet) return ((seg.tsVal - s.tsRecent) | 0) > 0;
    return seqGt(seg.seq, s.rcvNxt);
  }

  /** The connection is gone: timers off, tables unlinked; `errno` (if any) then Close are reported. */
  private destroy(s: TcpSocket, errno: number): void {
    const t = this.host.timers;
    if (s.rtoTimer) t.cancel(s.rtoTimer);
    if (s.ackTimer) t.cancel(s.ackTimer);
    if (s.kaTimer) t.cancel(s.kaTimer);
    const l = s.parent;
    if (l !== null) {
      let i = l.synQueue.indexOf(s);
      if (i >= 0) l.synQueue.splice(i, 1);
      i = l.acceptQueue.indexOf(s);
      if (i >= 0) l.acceptQueue.splice(i, 1);
      s.parent = null;
    }
    if (s.inTable) this.unlinkConn(s);
    if (s.state === TcpState.Listen) this.listeners.delete(localKey(s.localIp, s.localPort));
    if (s.bound) this.unlinkPort(s);
    s.bound = false;
    s.state = TcpState.Closed;
    s.persisting = false;
    s.ackNow = false;
    s.ackPending = false;
    this.live.delete(s);
    if (errno !== 0) {
      s.errEv = errno;
      this.queueEvent(s, TcpEvent.Error);
    }
    if (!s.closeQueued) {
      s.closeQueued = true;
      this.queueEvent(s, TcpEvent.Close);
    }
  }

  private closeListener(l: TcpSocket, now: number): void {
    for (const c of [...l.synQueue, ...l.acceptQueue]) {
      if (c.state !== TcpState.Closed && c.state !== TcpState.TimeWait) {
        this.sendReset(c, now);
        this.counters.estabResets++;
      }
      c.orphan = true;
      this.destroy(c, 0);
    }
    l.synQueue.length = 0;
    l.acceptQueue.length = 0;
    this.destroy(l, 0);
  }

  private updateMss(s: TcpSocket): void {
    const base = Math.min(s.peerMss, s.pmtu - TCP_IP_HEADERS);
    s.mssData = Math.max(base - (s.tsOn ? 12 : 0), 64);
  }

  /** The smallest shift (≥ 7 when scaling, as Linux) that lets the window cover the buffer (RFC 7323 §2.3: at most 14). */
  private wscaleFor(buf: number): number {
    let sh = DEFAULT_WSCALE;
    while (sh < 14 && buf >>> sh > 0xffff) sh++;
    return sh;
  }

  /**
   * The timestamp clock (RFC 7323 §5.4: it must not go backwards). Callers' `now` may: the poller's
   * turn time is older than a fresh clock read by an API call made during the turn, and the peer
   * drops a segment whose TSval is below one it has seen (PAWS) — so the clock never steps back.
   */
  private tsClock(now: number, offset: number): number {
    const ms = Math.floor(now);
    if (ms > this.tsLastMs) this.tsLastMs = ms;
    return (this.tsLastMs + offset) >>> 0;
  }
  private tsLastMs = 0;

  // =============================================================================================
  // Tables

  private findConn(lip: number, lport: number, rip: number, rport: number): TcpSocket | null {
    return this.conns.get(lip, lport, rip, rport);
  }

  private linkConn(s: TcpSocket): void {
    this.conns.add(s);
    s.inTable = true;
    this.live.add(s);
  }

  private unlinkConn(s: TcpSocket): void {
    this.conns.remove(s);
    s.inTable = false;
  }

  private linkPort(s: TcpSocket): void {
    const list = this.ports.get(s.localPort);
    if (list) list.push(s);
    else this.ports.set(s.localPort, [s]);
  }

  private unlinkPort(s: TcpSocket): void {
    const list = this.ports.get(s.localPort);
    if (!list) return;
    const i = list.indexOf(s);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.ports.delete(s.localPort);
  }

  /**
   * Whether (ip, port) may be bound: no other socket on the port with an overlapping address, unless
   * both set SO_REUSEADDR and the other is not listening (Linux inet_csk_bind_conflict); a
   * TIME_WAIT connection yields to SO_REUSEADDR.
   */
  private portFree(ip: number, port: number, reuse: boolean): boolean {
    const list = this.ports.get(port);
    if (!list) return true;
    for (const o of list) {
      if (!(o.localIp === 0 || ip === 0 || o.localIp === ip)) continue;
      if (reuse && o.state === TcpState.TimeWait) continue;
      if (reuse && o.reuseAddr && o.state !== TcpState.Listen) continue;
      return false;
    }
    return true;
  }

  private ephemeral(ip: number, reuse: boolean): number {
    const span = TCP_EPHEMERAL_HIGH - TCP_EPHEMERAL_LOW + 1;
    for (let i = 0; i < span; i++) {
      const p = this.nextEphemeral;
      this.nextEphemeral = p === TCP_EPHEMERAL_HIGH ? TCP_EPHEMERAL_LOW : p + 1;
      if (!this.ports.has(p) && this.portFree(ip, p, reuse)) return p;
    }
    return 0;
  }

  // =============================================================================================
  // Events

  private queueEvent(s: TcpSocket, bit: number): void {
    if (s.ev === 0) {
      if (this.evqLen === this.evq.length) this.evq.push(s);
      else this.evq[this.evqLen] = s;
      this.evqLen++;
    }
    s.ev |= bit;
  }

  /** Delivers gathered events: connect, accept, readable, writable, error, close — in that order per socket. */
  protected dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let i = 0; i < this.evqLen; i++) {
        const s = this.evq[i]!;
        this.evq[i] = null;
        const ev = s.ev;
        s.ev = 0;
        if (ev & TcpEvent.Connect) s.onConnect?.(s);
        if (ev & TcpEvent.Accept) s.onAccept?.(s);
        if (ev & TcpEvent.Readable) s.onReadable?.(s);
        if (ev & TcpEvent.Writable) s.onWritable?.(s);
        if (ev & TcpEvent.Error) s.onError?.(s, s.errEv);
        if (ev & TcpEvent.Close) s.onClose?.(s);
      }
    } finally {
      for (let i = 0; i < this.evqLen; i++) this.evq[i] = null;
      this.evqLen = 0;
      this.dispatching = false;
    }
  }
}

function clearCallbacks(s: TcpSocket): void {
  s.onConnect = null;
  s.onAccept = null;
  s.onReadable = null;
  s.onWritable = null;
  s.onError = null;
  s.onClose = null;
}

/**
 * Whether send() may queue data in this state: 0 in SYN-SENT, SYN-RECEIVED, ESTABLISHED and
 * CLOSE-WAIT; -EPIPE after shutdown/close or a reset; -ENOTCONN before a connection exists.
 */
function sendStateErrno(s: TcpSocket): number {
  if (s.orphan) return -TcpErrno.EPIPE;
  switch (s.state) {
    case TcpState.Closed:
      return s.wasConnected ? -TcpErrno.EPIPE : -TcpErrno.ENOTCONN;
    case TcpState.Listen:
      return -TcpErrno.ENOTCONN;
    case TcpState.SynSent:
    case TcpState.SynReceived:
    case TcpState.Established:
    case TcpState.CloseWait:
      return 0;
    default:
      return -TcpErrno.EPIPE;
  }
}

function resetRepr(r: TcpRepr): void {
  r.seq = seq(0);
  r.ack = seq(0);
  r.flags = 0;
  r.window = 0;
  r.urgent = 0;
  r.mss = 0;
  r.windowScale = -1;
  r.sackPermitted = false;
  r.sackCount = 0;
  r.hasTimestamp = false;
  r.tsVal = 0;
  r.tsEcr = 0;
  r.payloadLength = 0;
}

/** SEG.LEN: payload plus one for SYN and one for FIN. */
function segLength(r: TcpRepr): number {
  return r.payloadLength + (r.flags & F_SYN ? 1 : 0) + (r.flags & F_FIN ? 1 : 0);
}

/** first ≤ v < first + size. */
function inWindow(v: SeqNum, first: SeqNum, size: number): boolean {
  return ((v - first) >>> 0) < size;
}
