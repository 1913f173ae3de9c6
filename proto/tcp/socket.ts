/**
 * A TCP connection or listener: the RFC 9293 §3.3.1 transmission control block plus the buffers,
 * timers and callbacks of one socket. The engine (engine.ts) owns every transition; the fields
 * marked @internal are its state and are not part of the API.
 */
import { seq, type SeqNum } from '../wire/seq';
import { Timer } from '../stack/timer_wheel';
import { ByteRing } from './byte_ring';
import { CongestionVars } from './congestion';
import type { RxHolds } from './rx_holds';
import { TcpState, tcpStateName } from './types';

/** Linux's tcp_wmem / tcp_rmem defaults are 16 KiB / 128 KiB growing with autotuning; tsvma sizes both fixed. */
export const DEFAULT_SNDBUF = 262144;
export const DEFAULT_RCVBUF = 262144;
/** Out-of-order ranges kept per connection (bounded reassembly; RFC 2018 reports at most 4 of them). */
export const MAX_OOO_RANGES = 16;
/** SACKed ranges remembered per connection (the sender's scoreboard). */
export const MAX_SACKED_RANGES = 16;

export interface TcpSocketCounters {
  rxSegments: number;
  rxBytes: number;
  txSegments: number;
  txBytes: number;
  retransmits: number;
  fastRetransmits: number;
  timeouts: number;
  dupAcksIn: number;
  outOfOrder: number;
  /** Out-of-order segments dropped because the reassembly ranges were full. */
  oooDropped: number;
  zeroWindowProbes: number;
  keepAliveProbes: number;
  challengeAcks: number;
  pawsDropped: number;
  /** Receive-filter calls that answered Drop (the bytes were acknowledged and discarded). */
  rxFilterDrops: number;
  /** Receive-filter calls that answered Hold (the application kept the RX buffer). */
  rxHeld: number;
  /** Segments whose payload was discarded because receiving was shut down (SO_VMA_SHUTDOWN_RX). */
  rxShutdownDrops: number;
  /** Dummy sends (VMA_SND_FLAGS_DUMMY): a segment built and handed to the ring, never put on the wire. */
  txDummy: number;
}

/**
 * What a receive filter decides for in-order payload: the same values as proto/stack/udp.ts's
 * RxVerdict and VMA's vma_recv_callback_retval_t (VMA_PACKET_DROP / RECV / HOLD).
 */
export const enum TcpRxVerdict {
  /** The bytes count as delivered and read: RCV.NXT moves past them, the window stays open. */
  Drop = 0,
  /** Queue them in the receive buffer as usual. */
  Recv = 1,
  /** As Drop for TCP; the application keeps the RX buffer (it took a reference during the call). */
  Hold = 2,
}

/** The buffer pool an RX buffer belongs to, as a receive filter needs it (ring/buffer_pool.ts's BufferPool fits). */
export interface RxBufferPool {
  /** One more reference: the buffer stays alive past the stack's own release. */
  ref(id: number): void;
  /** Drops one reference (the application's, later, for a held buffer). */
  release(id: number): void;
}

/**
 * The RX buffer holding the payload a receive filter sees. The object is the stack's and is reused
 * for every segment: copy `pool` and `id` out during the call if the buffer is to be kept.
 */
export interface RxBufferRef {
  readonly pool: RxBufferPool;
  readonly id: number;
}

/**
 * A receive filter (VMA's register_recv_callback for TCP). Called with in-order payload
 * `data[off, off+len)` as it is accepted, before it is copied into the receive buffer, and only
 * while nothing is readable (so the byte order the application sees is kept); `ref` is the RX
 * buffer the bytes are in, or null when they are not in one (bytes that arrived out of order and
 * were made in-order later are passed from the receive buffer itself, which they then leave).
 * Returns a TcpRxVerdict (any value other than Recv or Hold is Drop). Hold with a `ref`: the filter
 * calls `ref.pool.ref(ref.id)` before returning and `pool.release(id)` later; Hold without a `ref`
 * is Drop for the bytes (copy what you keep: `data` is reused). The filter runs in the middle of
 * segment processing: it must not call the engine (send, recv, close, ...); `data` is valid only
 * during the call. `now` is the segment's time.
 */
export type TcpRxFilter = (s: TcpSocket, data: Uint8Array, off: number, len: number, ref: RxBufferRef | null, now: number) => number;

export interface TcpInfo {
  rttMs: number;
  rttVarMs: number;
  rtoMs: number;
  cwnd: number;
  ssthresh: number;
  sndWnd: number;
  rcvWnd: number;
  mss: number;
  sndWscale: number;
  rcvWscale: number;
  timestamps: boolean;
  sack: boolean;
  state: string;
  congestion: string;
}

/** Event bits gathered during input and delivered after it (callbacks never run mid-segment). */
export const enum TcpEvent {
  Connect = 1,
  Accept = 2,
  Readable = 4,
  Writable = 8,
  Error = 16,
  Close = 32,
}

let nextId = 1;

export class TcpSocket {
  readonly id = nextId++;
  state = TcpState.Closed;
  localIp = 0;
  localPort = 0;
  remoteIp = 0;
  remotePort = 0;
  /** Send / receive buffer sizes in bytes; settable before connect/listen (a listener's apply to its connections). */
  sndBuf = DEFAULT_SNDBUF;
  rcvBuf = DEFAULT_RCVBUF;
  /** The peer sent FIN and every byte before it is in the receive buffer. */
  finReceived = false;
  readonly counters: TcpSocketCounters = {
    rxSegments: 0, rxBytes: 0, txSegments: 0, txBytes: 0, retransmits: 0, fastRetransmits: 0, timeouts: 0, dupAcksIn: 0,
    outOfOrder: 0, oooDropped: 0, zeroWindowProbes: 0, keepAliveProbes: 0, challengeAcks: 0, pawsDropped: 0,
    rxFilterDrops: 0, rxHeld: 0, rxShutdownDrops: 0, txDummy: 0,
  };
  /** The receive filter (null: every byte is queued). Not inherited by a listener's connections. */
  rxFilter: TcpRxFilter | null = null;
  /**
   * SO_VMA_SHUTDOWN_RX: payload from now on is acknowledged as usual (RCV.NXT advances, the window
   * stays open) and discarded, counted in rxShutdownDrops; out-of-order payload is not kept (a
   * duplicate ACK answers it, and ranges already kept are forgotten). Bytes already readable stay
   * readable; a FIN is still taken (recv sees EOF after them).
   */
  rxShutdown = false;

  onConnect: ((s: TcpSocket) => void) | null = null;
  onAccept: ((listener: TcpSocket) => void) | null = null;
  onReadable: ((s: TcpSocket) => void) | null = null;
  onWritable: ((s: TcpSocket) => void) | null = null;
  onError: ((s: TcpSocket, errno: number) => void) | null = null;
  onClose: ((s: TcpSocket) => void) | null = null;

  /** Bytes readable now (bytes the application holds through Tcp.holdReceived are not). */
  get rxQueued(): number {
    return this.rx ? this.rx.len - this.rxHeldBytes : 0;
  }

  /** Bytes of the receive buffer the application holds (zero-copy) and has not freed, or read behind them. */
  get rxHeldBytes(): number {
    return this.holds === null ? 0 : this.holds.bytes;
  }

  /** Bytes in the send buffer (unsent and unacknowledged). */
  get txQueued(): number {
    return this.tx ? this.tx.len : 0;
  }

  /** Connection parameters, like Linux's TCP_INFO (allocates; for stats, not the data path). */
  info(): TcpInfo {
    return {
      rttMs: this.srtt,
      rttVarMs: this.rttvar,
      rtoMs: this.rto,
      cwnd: this.cc.cwnd,
      ssthresh: this.cc.ssthresh,
      sndWnd: this.sndWnd,
      rcvWnd: this.rcvAdvertised,
      mss: this.mssData,
      sndWscale: this.sndWscale,
      rcvWscale: this.rcvWscale,
      timestamps: this.tsOn,
      sack: this.sackOn,
      state: tcpStateName[this.state],
      congestion: this.ccName,
    };
  }

  // ---- @internal: binding and lifecycle
  /** @internal */ bound = false;
  /** @internal */ reuseAddr = false;
  /** @internal the user closed (or aborted) the socket: callbacks cleared, the connection lives on as an orphan. */
  orphan = false;
  /** @internal was ever synchronized (send after a reset is EPIPE, not ENOTCONN). */
  wasConnected = false;
  /** @internal onClose delivered (or due). */
  closeQueued = false;
  /** @internal linked in the connection table. */
  inTable = false;
  /** @internal the host's route cache (interface) for this connection. */
  routeHandle: unknown = null;
  /** @internal path MTU (IPv4 packet size). */
  pmtu = 1500;
  /** @internal a negative errno from an ICMP soft error (RFC 1122 §4.2.3.9), reported instead of ETIMEDOUT. */
  softError = 0;
  /** @internal the errno of a pending Error event. */
  errEv = 0;
  /** @internal pending TcpEvent bits. */
  ev = 0;

  // ---- @internal: listener
  /** @internal the listener a not-yet-accepted connection belongs to. */
  parent: TcpSocket | null = null;
  /** @internal connections in SYN_RECEIVED (a listener's SYN queue). */
  synQueue: TcpSocket[] = [];
  /** @internal established connections waiting for accept(). */
  acceptQueue: TcpSocket[] = [];
  /** @internal */ backlog = 0;
  /** @internal when a SYN cookie was last sent (cookies are only accepted shortly after). */
  lastCookieAt = -Infinity;

  // ---- @internal: send sequence space (RFC 9293 §3.3.1)
  iss: SeqNum = seq(0);
  sndUna: SeqNum = seq(0);
  sndNxt: SeqNum = seq(0);
  /** Highest sequence number sent (SND.NXT before a timeout rewound it). */
  sndMax: SeqNum = seq(0);
  /** End of the last sub-MSS segment sent (Nagle, Minshall's variant). */
  sndSmall: SeqNum = seq(0);
  sndWnd = 0;
  maxSndWnd = 0;
  sndWl1: SeqNum = seq(0);
  sndWl2: SeqNum = seq(0);
  /** Sequence number of the send buffer's first byte. */
  txSeq: SeqNum = seq(0);
  tx: ByteRing | null = null;
  /** shutdown(SHUT_WR) or close() asked for a FIN after the queued data; finSeq is its sequence number. */
  finQueued = false;
  finSeq: SeqNum = seq(0);
  /** Send-side MSS: payload bytes per segment (peer MSS, path MTU, timestamp option accounted). */
  mssData = 536;
  peerMss = 536;
  /** Our MSS option (what we can receive). */
  ourMss = 1460;
  sndWscale = 0;
  rcvWscale = 0;
  tsOn = false;
  sackOn = false;
  /** Our clock offset for timestamps (RFC 7323 §5.4: a random offset per connection). */
  tsOffset = 0;
  tsRecent = 0;
  tsRecentSet = false;
  lastAckSent: SeqNum = seq(0);
  nodelay = false;
  wantWrite = false;

  // ---- @internal: receive sequence space
  irs: SeqNum = seq(0);
  rcvNxt: SeqNum = seq(0);
  /** Right edge of the window last advertised (RCV.NXT + RCV.WND then); never moves left. */
  rcvAdv: SeqNum = seq(0);
  rx: ByteRing | null = null;
  /** Zero-copy holds on the receive buffer's front (made on first use). */
  holds: RxHolds | null = null;
  /** Out-of-order ranges [start, end) as pairs, most recently changed first (RFC 2018 §4 block order). */
  readonly ooo = new Uint32Array(2 * MAX_OOO_RANGES);
  oooCount = 0;
  /** A FIN that arrived beyond RCV.NXT (waiting for the data before it). */
  finPending = false;
  rcvFinSeq: SeqNum = seq(0);
  /** Delayed ACK: an ACK is owed; segments received since the last ACK; quick ACKs left (RFC 1122 §4.2.3.2). */
  ackPending = false;
  ackNow = false;
  segsUnacked = 0;
  quickAcks = 16;

  // ---- @internal: RTT / RTO (RFC 6298)
  srtt = 0;
  rttvar = 0;
  rto = 1000;
  hasRtt = false;
  timing = false;
  rttSeq: SeqNum = seq(0);
  rttTime = 0;
  backoff = 0;
  retries = 0;
  persisting = false;
  persistProbes = 0;
  /** The RTO timer is armed as a tail loss probe timeout (RFC 8985 §7); a probe went since the last new ACK. */
  ptoArmed = false;
  tlpSent = false;

  // ---- @internal: congestion and recovery (RFC 5681, 6582, 2018)
  cc = new CongestionVars();
  ccName = 'newreno';
  dupAcks = 0;
  inRecovery = false;
  recover: SeqNum = seq(0);
  /** SACK recovery: the next hole byte to retransmit. */
  rtxNext: SeqNum = seq(0);
  /** SND.MAX when the last hole was retransmitted (SACKs above it reveal lost retransmissions). */
  rtxMark: SeqNum = seq(0);
  rtxMarkSet = false;
  /**
   * After a timeout (SND.UNA below `recover`, resending from SND.UNA): the hole last resent again because
   * SACKs showed its resend lost, and SND.NXT at that moment (holes below it were resent before the repair).
   * An empty range [lossRepairAt, lossRepairNxt) means no repair since the timeout.
   */
  lossRepairAt: SeqNum = seq(0);
  lossRepairNxt: SeqNum = seq(0);
  /** Sender scoreboard: SACKed ranges above SND.UNA, sorted, disjoint. */
  readonly sacked = new Uint32Array(2 * MAX_SACKED_RANGES);
  sackedCount = 0;
  /** Bytes the scoreboard covers (the sum of its ranges, kept with them: no scan per ACK). */
  sackedBytes = 0;

  // ---- @internal: keep-alive
  keepAlive = false;
  keepIdleMs = 0;
  keepProbesSent = 0;
  lastRx = 0;

  // ---- @internal: timers (one closure each per connection, made by the engine)
  rtoTimer: Timer | null = null;
  ackTimer: Timer | null = null;
  /** Keep-alive, FIN_WAIT_2 and TIME_WAIT (the state says which). */
  kaTimer: Timer | null = null;

  /** @internal the advertised receive window in bytes. */
  get rcvAdvertised(): number {
    const w = (this.rcvAdv - this.rcvNxt) | 0;
    return w > 0 ? w : 0;
  }
}
