/**
 * TCP constants, states and errno values shared by the engine (engine.ts) and the stack glue
 * (proto/stack/tcp.ts). Each constant names where its value comes from.
 */

/** RFC 9293 §3.3.2 connection states. */
export const enum TcpState {
  Closed,
  Listen,
  SynSent,
  SynReceived,
  Established,
  FinWait1,
  FinWait2,
  CloseWait,
  Closing,
  LastAck,
  TimeWait,
}

/** State names as netstat prints them (index: TcpState). */
export const tcpStateName: readonly string[] = Object.freeze([
  'CLOSED', 'LISTEN', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT1', 'FIN_WAIT2', 'CLOSE_WAIT', 'CLOSING', 'LAST_ACK', 'TIME_WAIT',
]);

/** Linux errno values used by TCP, returned negated (the same numbers as udp.ts's Errno). */
export const enum TcpErrno {
  EBADF = 9,
  EAGAIN = 11,
  EINVAL = 22,
  EPIPE = 32,
  EMSGSIZE = 90,
  EOPNOTSUPP = 95,
  EADDRINUSE = 98,
  EADDRNOTAVAIL = 99,
  ENETUNREACH = 101,
  ECONNABORTED = 103,
  ECONNRESET = 104,
  ENOBUFS = 105,
  EISCONN = 106,
  ENOTCONN = 107,
  ETIMEDOUT = 110,
  ECONNREFUSED = 111,
  EHOSTUNREACH = 113,
  EALREADY = 114,
  EINPROGRESS = 115,
}

/** Linux's default ephemeral range (net.ipv4.ip_local_port_range). */
export const TCP_EPHEMERAL_LOW = 32768;
export const TCP_EPHEMERAL_HIGH = 60999;

/** RFC 9293 §3.7.1: "the default MSS MUST be 536" when the peer sends no MSS option (RFC 1122 §4.2.2.6). */
export const TCP_DEFAULT_MSS = 536;
/** IPv4 + TCP headers without options. */
export const TCP_IP_HEADERS = 40;

/** Timer and limit defaults (ms unless named otherwise). Tests override them through TcpTimings. */
export interface TcpTimings {
  /** RFC 6298 §2.1: "Until a round-trip time (RTT) measurement has been made ... the sender SHOULD set RTO <- 1 second". */
  initialRtoMs: number;
  /** RFC 6298 §2.4 allows a lower bound; Linux's TCP_RTO_MIN is 200 ms. */
  minRtoMs: number;
  /** RFC 6298 §2.5: "A maximum value MAY be placed on RTO provided it is at least 60 seconds"; Linux: 120 s. */
  maxRtoMs: number;
  /** SYN (and SYN-ACK) retransmissions before giving up (Linux tcp_syn_retries = 6, tcp_synack_retries = 5). */
  synRetries: number;
  synAckRetries: number;
  /** Data retransmissions before ETIMEDOUT (Linux tcp_retries2 = 15). */
  dataRetries: number;
  /** RFC 1122 §4.2.3.2: an ACK "MUST NOT be excessively delayed; ... the delay MUST be less than 0.5 seconds"; Linux: 40 ms minimum. */
  delayedAckMs: number;
  /** 2 × MSL; Linux's TCP_TIMEWAIT_LEN is 60 s. */
  timeWaitMs: number;
  /** Keep-alive (RFC 1122 §4.2.3.6; Linux tcp_keepalive_time/intvl/probes = 7200 s, 75 s, 9). */
  keepIdleMs: number;
  keepIntervalMs: number;
  keepProbes: number;
  /** Zero-window probes before the connection is dropped (Linux: tcp_retries2). */
  persistProbes: number;
  /** FIN_WAIT_2 after close(): how long an orphan waits for the peer's FIN (Linux tcp_fin_timeout = 60 s). */
  finWait2Ms: number;
}

export const defaultTcpTimings: Readonly<TcpTimings> = Object.freeze({
  initialRtoMs: 1000,
  minRtoMs: 200,
  maxRtoMs: 120000,
  synRetries: 6,
  synAckRetries: 5,
  dataRetries: 15,
  delayedAckMs: 40,
  timeWaitMs: 60000,
  keepIdleMs: 7200000,
  keepIntervalMs: 75000,
  keepProbes: 9,
  persistProbes: 15,
  finWait2Ms: 60000,
});
