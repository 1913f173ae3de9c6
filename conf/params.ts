/**
 * Every VMA_* parameter tsvma honours, declared once as data. The env parser (`resolveConfig`),
 * `tsvma params` and docs/parameters.md are all generated from this table. Defaults and ranges are
 * VMA's (libvma `sys_vars.h` / README, see ../shared/reference/libvma-notes.md §3); `tsvma` says
 * what tsvma does with each.
 */

export type ParamType = 'int' | 'bool' | 'string' | 'level' | 'spec';

interface ParamBase<K extends string, T extends ParamType, V> {
  readonly key: K;
  readonly env: string;
  readonly type: T;
  readonly default: V;
  /** Inclusive range for ints. */
  readonly min?: number;
  readonly max?: number;
  /** For ints with a closed set of meaningful values. */
  readonly values?: readonly number[];
  /** VMA's meaning. */
  readonly doc: string;
  /** What tsvma does with it. */
  readonly tsvma: string;
}

export type IntParam<K extends string = string> = ParamBase<K, 'int', number>;
export type BoolParam<K extends string = string> = ParamBase<K, 'bool', boolean>;
export type StringParam<K extends string = string> = ParamBase<K, 'string', string>;
export type LevelParam<K extends string = string> = ParamBase<K, 'level', number>;
export type SpecParam<K extends string = string> = ParamBase<K, 'spec', string>;
export type Param = IntParam | BoolParam | StringParam | LevelParam | SpecParam;

type Extra = { min?: number; max?: number; values?: readonly number[] };

const int = <K extends string>(key: K, env: string, def: number, range: Extra, doc: string, tsvma: string): IntParam<K> =>
  ({ key, env, type: 'int', default: def, ...range, doc, tsvma });
const bool = <K extends string>(key: K, env: string, def: boolean, doc: string, tsvma: string): BoolParam<K> =>
  ({ key, env, type: 'bool', default: def, doc, tsvma });
const str = <K extends string>(key: K, env: string, def: string, doc: string, tsvma: string): StringParam<K> =>
  ({ key, env, type: 'string', default: def, doc, tsvma });

/** VMA_TRACELEVEL names, indexed by level + 1 (none = -1 … all = 8). */
export const TRACE_LEVEL_NAMES = ['none', 'panic', 'error', 'warn', 'info', 'details', 'debug', 'fine', 'finer', 'all'] as const;

export const vmaParams = [
  { key: 'traceLevel', env: 'VMA_TRACELEVEL', type: 'level', default: 3, min: -1, max: 8,
    doc: 'Log level: none(-1) panic(0) error(1) warn(2) info(3) details(4) debug(5) fine(6) finer(7) all(8); names or numbers.',
    tsvma: 'Sets the pino level (none→silent, panic→fatal, error, warn, info, details→debug, debug, fine/finer/all→trace) unless TSVMA_LOG is set, which wins.' } as LevelParam<'traceLevel'>,
  str('logFile', 'VMA_LOG_FILE', '', 'Log to this file instead of stderr; a single %d is replaced with the pid.', 'Honoured by the logger (pino destination).'),
  int('logDetails', 'VMA_LOG_DETAILS', 0, { min: 0, max: 3 }, '0 basic, 1 +thread id, 2 +pid and thread id, 3 +time, pid and thread id.', 'Adds pid/thread id/time fields to log lines.'),
  str('statsFile', 'VMA_STATS_FILE', '', "Dump each socket's counters to this file when it closes (%d → pid).", 'Honoured when socket statistics exist (extra API issue).'),
  str('statsShmemDir', 'VMA_STATS_SHMEM_DIR', '/tmp/', 'Directory of the shared-memory statistics file; empty disables it.', 'Where tsvmastat.<pid> lives (stats issue).'),
  int('statsFdNum', 'VMA_STATS_FD_NUM', 100, { min: 0, max: 1024 }, 'Maximum sockets tracked in shared-memory statistics.', 'Bounds the sockets in the stats file.'),
  str('configFile', 'VMA_CONFIG_FILE', '/etc/libvma.conf', 'The libvma.conf rule file.', 'Read once at start-up; a missing file means no rules (offload everything), as in VMA.'),
  str('applicationId', 'VMA_APPLICATION_ID', 'VMA_DEFAULT_APPLICATION_ID', 'Selects the application-id block of libvma.conf.', 'Matched against application-id blocks.'),
  { key: 'spec', env: 'VMA_SPEC', type: 'spec', default: '',
    doc: 'A tuning profile: latency (15), ultra-latency (10), multi_ring_latency, 29west (29), wombat_fh (554), mcd (623), mcd-irq (624), rti (784), 7750.',
    tsvma: "Applies the profile's values for the parameters in this table; a variable set explicitly still wins." } as SpecParam<'spec'>,
  int('rxPoll', 'VMA_RX_POLL', 100000, { min: -1, max: 100000000 }, 'Blocking receive: CQ poll iterations before arming the interrupt and sleeping; -1 polls forever, 0 is interrupt driven.', 'Busy-poll budget of the event-loop poller before it arms the device fd (-1: never sleeps while sockets are open; 0: always waits on the fd).'),
  int('rxPollInit', 'VMA_RX_POLL_INIT', 0, { min: -1, max: 100000000 }, 'Polling count for UDP sockets before their first multicast join.', 'Accepted; same as VMA_RX_POLL until a join.'),
  int('rxUdpPollOsRatio', 'VMA_RX_UDP_POLL_OS_RATIO', 100, { min: 0, max: 100000000 }, 'While polling a UDP socket, check its kernel socket every N polls; 0 never.', 'Accepted; tsvma sockets have no kernel twin to poll.'),
  int('selectPoll', 'VMA_SELECT_POLL', 100000, { min: -1, max: 100000000 }, 'select/poll/epoll busy-poll duration (µs) before blocking; -1 infinite.', 'Accepted; Node has no select/poll over tsvma sockets.'),
  int('rxBufs', 'VMA_RX_BUFS', 200000, { min: 256, max: 10000000 }, 'Global RX buffer pool size (MTU-sized buffers).', 'Upper bound of RX buffers per ring pool.'),
  int('txBufs', 'VMA_TX_BUFS', 200000, { min: 256, max: 10000000 }, 'Global TX buffer pool size.', 'Upper bound of TX buffers per ring pool.'),
  int('rxWre', 'VMA_RX_WRE', 16000, { min: 1, max: 10000000 }, 'Receive WQEs per RX QP (buffers posted per ring).', 'RX ring depth (packet device: RX ring frames; verbs: posted WQEs).'),
  int('txWre', 'VMA_TX_WRE', 2048, { min: 1, max: 10000000 }, 'Send WQEs per TX QP.', 'TX ring depth.'),
  int('txWreBatching', 'VMA_TX_WRE_BATCHING', 64, { min: 1, max: 64 }, 'Request a TX completion once every N WQEs.', 'TX completion batching on verbs devices.'),
  int('rxWreBatching', 'VMA_RX_WRE_BATCHING', 64, { min: 1, max: 1024 }, 'Re-post RX WQEs / recycle buffers in batches of N.', 'RX buffer return batching.'),
  int('cqPollBatchMax', 'VMA_CQ_POLL_BATCH_MAX', 16, { min: 1, max: 128 }, 'Maximum completions processed per poll call.', 'Frames taken from the device per RX burst.'),
  int('txMaxInline', 'VMA_TX_MAX_INLINE', 204, { min: 0, max: 884 }, 'Maximum inline bytes in a send WQE; 0 disables inlining.', 'Inline threshold on verbs devices.'),
  int('ringAllocationLogicRx', 'VMA_RING_ALLOCATION_LOGIC_RX', 0, { values: [0, 1, 10, 20, 30, 31] }, 'RX ring per: 0 interface, 1 IP, 10 socket, 20 thread, 30 core, 31 core + attached threads.', 'Ring allocation for received traffic.'),
  int('ringAllocationLogicTx', 'VMA_RING_ALLOCATION_LOGIC_TX', 0, { values: [0, 1, 10, 20, 30, 31] }, 'TX ring per: 0 interface, 1 IP, 10 socket, 20 thread, 30 core, 31 core + attached threads.', 'Ring allocation for transmitted traffic.'),
  int('ringLimitPerInterface', 'VMA_RING_LIMIT_PER_INTERFACE', 0, { min: 0, max: 1000000 }, 'Maximum rings per interface (0: no limit).', 'Caps rings per interface.'),
  bool('offloadedSockets', 'VMA_OFFLOADED_SOCKETS', true, 'Whether new sockets are offloaded by default (see thread_offload).', 'Default offload decision for new sockets.'),
  int('mtu', 'VMA_MTU', 0, { min: 0, max: 65536 }, 'MTU for all interfaces when > 0 (0: follow the interface).', 'Overrides the device MTU when > 0.'),
  int('mss', 'VMA_MSS', 0, { min: 0, max: 65535 }, 'TCP MSS (0: MTU - 40).', 'TCP MSS override.'),
  bool('tcpNodelay', 'VMA_TCP_NODELAY', false, 'Disable Nagle on every new TCP socket.', 'Initial setNoDelay of TCP sockets.'),
  bool('tcpQuickack', 'VMA_TCP_QUICKACK', false, 'Disable delayed ACK.', 'TCP delayed ACK off.'),
  int('tcpCcAlgo', 'VMA_TCP_CC_ALGO', 0, { values: [0, 1, 2] }, 'Congestion control: 0 NewReno (lwIP), 1 CUBIC, 2 none.', 'TCP congestion control strategy.'),
  int('tcpTimestampOption', 'VMA_TCP_TIMESTAMP_OPTION', 0, { values: [0, 1, 2] }, 'TCP timestamps: 0 off, 1 on, 2 follow the OS.', 'TCP timestamps option.'),
  int('tcpMaxSynRate', 'VMA_TCP_MAX_SYN_RATE', 0, { min: 0, max: 100000 }, 'Maximum SYNs per second handled per listen socket (0: unlimited).', 'SYN rate limit per listener.'),
  bool('tcp3tRules', 'VMA_TCP_3T_RULES', false, 'Use 3-tuple steering rules for TCP instead of 5-tuple.', 'Flow key used for accepted TCP connections.'),
  bool('udp3tRules', 'VMA_UDP_3T_RULES', true, 'Connected UDP sockets use 3-tuple rules (0: 5-tuple).', 'Flow key used for connected UDP sockets.'),
  bool('socketXtreme', 'VMA_SOCKETXTREME', false, 'SocketXtreme mode: completions through socketxtreme_poll.', 'Enables the SocketXtreme members of the extra API.'),
  int('threadMode', 'VMA_THREAD_MODE', 1, { values: [0, 1, 2, 3] }, '0 single thread, 1 multi (spin locks), 2 multi (mutexes), 3 more threads than cores.', 'Accepted; each Node thread has its own stack instance.'),
  int('timerResolutionMsec', 'VMA_TIMER_RESOLUTION_MSEC', 10, { min: 1, max: 1000 }, 'Internal timer tick (ms).', 'Resolution of the stack timer wheel.'),
  int('tcpTimerResolutionMsec', 'VMA_TCP_TIMER_RESOLUTION_MSEC', 100, { min: 1, max: 1000 }, 'TCP fast timer (ms), at least the timer resolution.', 'TCP timer granularity.'),
  int('progressEngineInterval', 'VMA_PROGRESS_ENGINE_INTERVAL', 10, { min: 0, max: 100000 }, 'The internal thread drains CQs at least this often (ms); 0 disables.', 'Longest sleep of the poller while sockets are open.'),
  bool('cqModerationEnable', 'VMA_CQ_MODERATION_ENABLE', true, 'RX interrupt moderation.', 'CQ moderation on verbs devices.'),
  int('cqModerationCount', 'VMA_CQ_MODERATION_COUNT', 48, { min: 0, max: 65535 }, 'Completions per interrupt when moderating.', 'CQ moderation count.'),
  int('cqModerationPeriodUsec', 'VMA_CQ_MODERATION_PERIOD_USEC', 50, { min: 0, max: 65535 }, 'Interrupt moderation period (µs).', 'CQ moderation period.'),
  int('rxBytesMin', 'VMA_RX_BYTES_MIN', 65536, { min: 0, max: 2147483647 }, 'Floor of the per-socket receive byte limit (SO_RCVBUF); beyond it datagrams are dropped and counted.', 'Floor of the per-socket receive queue limit.'),
  int('groStreamsMax', 'VMA_GRO_STREAMS_MAX', 32, { min: 0, max: 1024 }, 'TCP streams aggregated by software GRO per poll batch; 0 disables.', 'Accepted; tsvma does not aggregate.'),
  bool('txMcLoopback', 'VMA_TX_MC_LOOPBACK', true, 'Initial IP_MULTICAST_LOOP.', 'Initial multicast loopback of UDP sockets.'),
  bool('txNonblockedEagains', 'VMA_TX_NONBLOCKED_EAGAINS', false, 'Non-blocking UDP send with no TX buffers: 0 drops and reports success, 1 returns EAGAIN.', 'UDP send behaviour when the TX pool is empty.'),
  int('hwTsConversion', 'VMA_HW_TS_CONVERSION', 3, { values: [0, 1, 2, 3, 4] }, 'Hardware timestamps: 0 off, 1 raw, 2 best possible, 3 synced to system time, 4 PTP.', 'Hardware timestamp conversion where the device has them.'),
  int('neighUcArpQuata', 'VMA_NEIGH_UC_ARP_QUATA', 3, { min: 0, max: 100 }, 'Unicast ARP requests sent to refresh an entry before falling back to broadcast.', 'ARP refresh: unicast probes.'),
  int('neighUcArpDelayMsec', 'VMA_NEIGH_UC_ARP_DELAY_MSEC', 10000, { min: 0, max: 3600000 }, 'Delay between unicast ARP refreshes (ms).', 'ARP refresh interval.'),
  int('neighNumErrRetries', 'VMA_NEIGH_NUM_ERR_RETRIES', 1, { min: 0, max: 100 }, 'Retries before a neighbour is declared unreachable.', 'ARP resolution retries.'),
  int('waitAfterJoinMsec', 'VMA_WAIT_AFTER_JOIN_MSEC', 0, { min: 0, max: 60000 }, 'Delay the first multicast send after a join (ms).', 'Delay of the first multicast send after a join.'),
  bool('cpuUsageStats', 'VMA_CPU_USAGE_STATS', false, 'Measure CPU time spent polling (shown by vma_stats).', 'Poller busy/sleep accounting in stats.'),
  int('exceptionHandling', 'VMA_EXCEPTION_HANDLING', -1, { values: [-2, -1, 0, 1, 2, 3] }, '-2 exit on init failure, -1 debug log only, 0/1 log and fall back to the OS, 2 return an error, 3 abort.', 'What a socket does when offload fails at bind/connect.'),
] as const;

export type VmaParam = (typeof vmaParams)[number];

type ValueOf<P> = P extends { type: 'bool' } ? boolean : P extends { type: 'int' | 'level' } ? number : string;

/** The VMA part of the resolved configuration, keyed by `key`. */
export type VmaConfig = { readonly [P in VmaParam as P['key']]: ValueOf<P> };

export function findParam(env: string): VmaParam | undefined {
  return vmaParams.find((p) => p.env === env);
}
