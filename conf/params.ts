/**
 * Every parameter tsvma reads from the environment, declared once as data: tsvma's own TSVMA_*
 * surface (DESIGN.md, "Where the stack runs": names and meanings are a contract) and the VMA_*
 * parameters it honours, with VMA's names, defaults and ranges (libvma `sys_vars.h`/`sys_vars.cpp`;
 * ../shared/reference/libvma-notes.md §3). The env resolver (env.ts), `tsvma params` and
 * docs/parameters.md all come from these two tables, and so does the `Config` type.
 *
 * Row fields: `name` (the key in Config: TSVMA_* rows at its top level, VMA_* rows under `vma`), `env`, `type` (values.ts), `default`, `min`/`max` (ints)
 * or `choices` (enums: value and meaning), `doc` (the meaning), `honoured` (what tsvma does with it;
 * "accepted" means read and validated but with no effect in tsvma, said with the reason).
 *
 * Where tsvma is stricter than VMA, on purpose (DESIGN.md: a bad value is an error, never a silent
 * fallback): VMA parses numbers with atoi and clamps or resets out-of-range values with a warning;
 * tsvma rejects them.
 */
import { DEFAULT_APPLICATION_ID } from './rules';
import type { Limits, ParamType, ValueTypes } from './values';

export interface ParamSpec<N extends string = string, T extends ParamType = ParamType> extends Limits {
  readonly name: N;
  readonly env: string;
  readonly type: T;
  readonly default: ValueTypes[T];
  /** The default in words, where the value alone does not say it (derived or unset defaults). */
  readonly defaultText?: string;
  readonly doc: string;
  readonly honoured: string;
}

/** Any row, as a union discriminated by `type`. */
export type Param = { [T in ParamType]: ParamSpec<string, T> }[ParamType];

const int = <N extends string>(name: N, env: string, def: number, range: { min: number; max: number }, doc: string, honoured: string): ParamSpec<N, 'int'> =>
  ({ name, env, type: 'int', default: def, ...range, doc, honoured });
const enm = <N extends string>(name: N, env: string, def: number, choices: readonly (readonly [number, string])[], doc: string, honoured: string): ParamSpec<N, 'enum'> =>
  ({ name, env, type: 'enum', default: def, choices, doc, honoured });
const bool = <N extends string>(name: N, env: string, def: boolean, doc: string, honoured: string): ParamSpec<N, 'bool'> =>
  ({ name, env, type: 'bool', default: def, doc, honoured });
const str = <N extends string>(name: N, env: string, def: string, doc: string, honoured: string): ParamSpec<N, 'string'> =>
  ({ name, env, type: 'string', default: def, doc, honoured });
const row = <N extends string, T extends ParamType>(p: ParamSpec<N, T>): ParamSpec<N, T> => p;

/** VMA's largest poll count (MCE_MAX_RX_NUM_POLLS); -1 means poll forever. */
const POLLS = { min: -1, max: 100000000 };
const U31 = 2147483647;

export const tsvmaParams = [
  row({
    name: 'device', env: 'TSVMA_DEVICE', type: 'device', default: null,
    defaultText: 'unset: no device; every socket passes through to Node and `getVmaApi()` returns null',
    doc: 'The device the stack runs on.',
    honoured: 'Chooses the ring backend (ring/): sim, packet (AF_PACKET on a netdev), verbs-eth, verbs-ud, or a ringd daemon.',
  }),
  row({
    name: 'addr', env: 'TSVMA_ADDR', type: 'ipv4Prefix', default: null,
    defaultText: "required with `packet` (the device owns an address of its own); with `verbs-eth`, the netdev's address; `sim`: 198.18.0.2/24",
    doc: "The stack's IPv4 address and prefix length on the device, e.g. 198.18.0.2/24.",
    honoured: 'The interface address and on-link network of the stack.',
  }),
  row({
    name: 'gateway', env: 'TSVMA_GATEWAY', type: 'ipv4', default: null, defaultText: 'none',
    doc: "Default gateway; must be inside TSVMA_ADDR's network.",
    honoured: 'The default route of the stack.',
  }),
  row({
    name: 'mac', env: 'TSVMA_MAC', type: 'mac', default: null,
    defaultText: 'with `packet`: a locally administered MAC derived from TSVMA_ADDR, 02:00 followed by its four bytes',
    doc: "The packet device's own MAC.",
    honoured: 'Source MAC and ARP identity of the packet device; ignored (with a warning) by other devices.',
  }),
  bool('loopback', 'TSVMA_LOOPBACK', false,
    '1: traffic on 127.0.0.0/8 between offloaded sockets of one process goes through the user-space stack over a sim device.',
    'In-process loopback offload; 0 leaves loopback to Node.'),
  int('linger', 'TSVMA_LINGER', 5000, { min: 0, max: 600000 },
    "Milliseconds a process whose last offloaded socket has closed stays alive to finish TCP closes the peer has not acknowledged yet (its FIN retransmitted); then, and at process exit, every connection still open is reset.",
    'A kernel finishes closed connections after their process has gone; tsvma finishes them in the process: the runtime keeps the event loop alive while closed connections wait for the peer to acknowledge their FIN, for at most this long, and resets what remains (and every open connection at process exit) so that no peer waits for a FIN that will never come. 0: no wait.'),
  row({
    name: 'logLevel', env: 'TSVMA_LOG', type: 'pinoLevel', default: 'warn',
    defaultText: '`warn`, or what VMA_TRACELEVEL maps to when only it is set',
    doc: 'Log level (a pino level). Maps to and from VMA_TRACELEVEL; when both are set TSVMA_LOG wins and VMA_TRACELEVEL is reset to match it.',
    honoured: "The logger's level.",
  }),
] as const;

export const vmaParams = [
  row({
    name: 'traceLevel', env: 'VMA_TRACELEVEL', type: 'level', default: 3,
    defaultText: 'info (VMA); in tsvma it follows TSVMA_LOG, so warn when neither is set',
    doc: "Log level: none, panic, error, warn, info, details, debug, fine, finer, all (VMA's levels -1 … 8). VMA's number spellings are its own: 0 panic, 1 error, 2 warn, 3 info, 4 debug, 5 fine, 6 finer.",
    honoured: 'Sets the log level through the pino mapping none→silent, panic→fatal, error, warn, info, details and debug→debug, fine/finer/all→trace. TSVMA_LOG wins when both are set.',
  }),
  str('logFile', 'VMA_LOG_FILE', '', 'Log to this file instead of stderr; a %d in the name is replaced with the pid.', 'The log destination.'),
  enm('logDetails', 'VMA_LOG_DETAILS', 0, [[0, 'basic'], [1, 'with thread id'], [2, 'with pid and thread id'], [3, 'with time, pid and thread id']],
    'Detail in each log line.', 'Adds pid, thread id and time fields to log lines.'),
  str('statsFile', 'VMA_STATS_FILE', '', "Dump each socket's counters to this file when it closes (%d → pid).", 'Where per-socket counters are written when a socket closes.'),
  str('statsShmemDir', 'VMA_STATS_SHMEM_DIR', '/tmp/', 'Directory of the shared-memory statistics file; empty disables it.', 'Where the statistics file that `tsvma stats` reads is created; empty disables it.'),
  int('statsFdNum', 'VMA_STATS_FD_NUM', 100, { min: 0, max: 1024 }, 'Maximum number of sockets tracked in the shared-memory statistics.', 'Bounds the sockets in the statistics file.'),
  str('configFile', 'VMA_CONFIG_FILE', '/etc/libvma.conf', 'The libvma.conf rule file.', 'Read once at start-up. A missing default file means no rules (offload everything); a missing or unreadable file named explicitly is a warning.'),
  str('applicationId', 'VMA_APPLICATION_ID', DEFAULT_APPLICATION_ID, 'Selects the application-id block of libvma.conf.', 'Matched against the application-id blocks of the rule file.'),
  row({
    name: 'spec', env: 'VMA_SPEC', type: 'spec', default: '',
    doc: 'A tuning profile: latency (15), ultra-latency (10), multi_ring_latency, 29west (29), wombat_fh (554), mcd (623), mcd-irq (624), rti (784), 7750.',
    honoured: "Applies the profile's values for the parameters in this table (see the profiles below); a variable set explicitly still wins.",
  }),
  bool('socketXtreme', 'VMA_SOCKETXTREME', false,
    'SocketXtreme mode: completions are delivered through socketxtreme_poll. Changes the defaults of VMA_RX_WRE (1024), VMA_GRO_STREAMS_MAX (0) and VMA_PROGRESS_ENGINE_INTERVAL (0, forced).',
    'Enables the SocketXtreme members of the extra API, with the same default changes.'),
  int('rxPoll', 'VMA_RX_POLL', 100000, POLLS, 'Blocking receive: completion-queue polls before arming the interrupt and sleeping; -1 polls forever, 0 is interrupt driven.',
    'Busy-poll budget of the ring poller on event-loop turns before it arms the device notification (-1: never arms while sockets are open; 0: always waits for it).'),
  int('rxPollInit', 'VMA_RX_POLL_INIT', 0, POLLS, 'Polls for UDP sockets before their first multicast join.', 'Poll budget of a UDP socket until its first join.'),
  int('rxUdpPollOsRatio', 'VMA_RX_UDP_POLL_OS_RATIO', 100, { min: 0, max: U31 }, 'While polling a UDP socket, check its kernel socket every N polls; 0 never.', 'Accepted; no effect: an offloaded tsvma socket has no kernel twin to poll.'),
  int('selectPoll', 'VMA_SELECT_POLL', 100000, POLLS, 'select/poll/epoll_wait busy-poll duration (µs) before blocking; -1 forever, 0 none.', 'Accepted; no effect: Node has no select/poll over tsvma sockets (the poller budget is VMA_RX_POLL).'),
  int('selectPollOsRatio', 'VMA_SELECT_POLL_OS_RATIO', 10, { min: 0, max: U31 }, 'In select/poll polling, check kernel fds once every N offloaded polls; 0 never.', 'Accepted; no effect (as VMA_SELECT_POLL).'),
  int('selectSkipOs', 'VMA_SELECT_SKIP_OS', 4, { min: 0, max: U31 }, 'Force a kernel-fd check every N select/poll calls.', 'Accepted; no effect (as VMA_SELECT_POLL).'),
  int('rxBufs', 'VMA_RX_BUFS', 200000, { min: 1, max: 100000000 }, 'RX buffer pool size (buffers of about one MTU).', 'Upper bound of the RX buffers the rings allocate.'),
  int('txBufs', 'VMA_TX_BUFS', 200000, { min: 1, max: 100000000 }, 'TX buffer pool size.', 'Upper bound of the TX buffers the rings allocate.'),
  int('txSegsTcp', 'VMA_TX_SEGS_TCP', 1000000, { min: 1, max: 100000000 }, 'TCP segment descriptors preallocated.', 'Upper bound of TCP segments queued for (re)transmission.'),
  int('rxWre', 'VMA_RX_WRE', 16000, { min: 1, max: 10000000 }, 'Receive work requests per RX queue (buffers posted per ring). VMA raises it to twice VMA_RX_WRE_BATCHING if lower.', 'RX ring depth: packet-ring frames or posted verbs receives (raised like VMA).'),
  int('txWre', 'VMA_TX_WRE', 2048, { min: 1, max: 10000000 }, 'Send work requests per TX queue. VMA raises it to twice VMA_TX_WRE_BATCHING if lower.', 'TX ring depth (raised like VMA).'),
  int('txWreBatching', 'VMA_TX_WRE_BATCHING', 64, { min: 1, max: 64 }, 'Request a TX completion once every N sends.', 'TX completion signalling interval on verbs devices.'),
  int('rxWreBatching', 'VMA_RX_WRE_BATCHING', 64, { min: 1, max: 1024 }, 'Re-post receive requests and return buffers in batches of N.', 'RX buffer return batch.'),
  int('cqPollBatchMax', 'VMA_CQ_POLL_BATCH_MAX', 16, { min: 1, max: 128 }, 'Maximum completions processed per poll.', 'Frames taken from the device per RX burst.'),
  int('txMaxInline', 'VMA_TX_MAX_INLINE', 204, { min: 0, max: 884 }, 'Maximum bytes copied inline into a send request (the Ethernet header is always inline); 0 disables.', 'Inline threshold on verbs devices.'),
  enm('ringAllocationLogicRx', 'VMA_RING_ALLOCATION_LOGIC_RX', 0, [[0, 'per interface'], [1, 'per IP'], [10, 'per socket'], [20, 'per thread'], [30, 'per core'], [31, 'per core, attached threads']],
    'Which sockets share an RX ring.', 'RX ring sharing; in Node a thread is a worker thread.'),
  enm('ringAllocationLogicTx', 'VMA_RING_ALLOCATION_LOGIC_TX', 0, [[0, 'per interface'], [1, 'per IP'], [10, 'per socket'], [20, 'per thread'], [30, 'per core'], [31, 'per core, attached threads']],
    'Which sockets share a TX ring.', 'TX ring sharing; in Node a thread is a worker thread.'),
  int('ringLimitPerInterface', 'VMA_RING_LIMIT_PER_INTERFACE', 0, { min: 0, max: U31 }, 'Maximum rings per interface; 0 no limit (sockets share rings beyond it).', 'Caps the rings per interface.'),
  bool('offloadedSockets', 'VMA_OFFLOADED_SOCKETS', true, 'Whether new sockets are offloaded by default (thread_offload changes it per thread).', 'Default offload decision for new sockets.'),
  int('mtu', 'VMA_MTU', 0, { min: 0, max: 65536 }, 'MTU of all interfaces when above 0; 0 follows each interface.', "Overrides the device's MTU when above 0."),
  int('mss', 'VMA_MSS', 0, { min: 0, max: 65535 }, 'TCP MSS; 0 is the MTU minus 40.', 'TCP MSS override.'),
  bool('tcpNodelay', 'VMA_TCP_NODELAY', false, 'Disable Nagle on every new TCP socket.', 'Initial setNoDelay of TCP sockets.'),
  bool('tcpQuickack', 'VMA_TCP_QUICKACK', false, 'Disable delayed ACKs.', 'TCP acknowledges every segment at once.'),
  enm('tcpCcAlgo', 'VMA_TCP_CC_ALGO', 0, [[0, 'lwIP (NewReno)'], [1, 'CUBIC'], [2, 'none']], 'TCP congestion control.', 'TCP congestion-control strategy.'),
  enm('tcpTimestampOption', 'VMA_TCP_TIMESTAMP_OPTION', 0, [[0, 'off'], [1, 'on'], [2, 'as the OS']], 'TCP timestamp option (RFC 7323).', 'Whether TCP sends timestamps; 2 reads net.ipv4.tcp_timestamps at start-up.'),
  enm('tcpCtlThread', 'VMA_TCP_CTL_THREAD', 0, [[0, 'disabled'], [1, 'with wakeup'], [2, 'no wakeup']], 'Handle TCP control packets (SYN, …) on the internal thread.', 'Accepted; no effect: one event loop runs the whole stack.'),
  int('tcpMaxSynRate', 'VMA_TCP_MAX_SYN_RATE', 0, { min: 0, max: 100000 }, 'Maximum SYNs per second handled per listening socket; 0 unlimited.', 'SYN rate limit per listener.'),
  bool('tcp3tRules', 'VMA_TCP_3T_RULES', false, 'TCP steering rules by 3-tuple (destination IP, port, protocol) instead of 5-tuple.', 'Flow key of accepted TCP connections.'),
  bool('udp3tRules', 'VMA_UDP_3T_RULES', true, 'Connected UDP sockets use 3-tuple steering rules (0: 5-tuple).', 'Flow key of connected UDP sockets.'),
  bool('rxPollOnTxTcp', 'VMA_RX_POLL_ON_TX_TCP', false, 'Poll for received packets while sending on TCP (faster ACK processing).', 'TCP send polls the RX ring first.'),
  bool('triggerDummySendGetsockname', 'VMA_TRIGGER_DUMMY_SEND_GETSOCKNAME', false, 'getsockname() triggers a dummy send (cache warm-up).', 'address() on an offloaded socket triggers a dummy send.'),
  enm('threadMode', 'VMA_THREAD_MODE', 1, [[0, 'single thread'], [1, 'multi-thread, spin locks'], [2, 'multi-thread, mutexes'], [3, 'more threads than cores']],
    'Locking model.', 'Accepted; no effect: each Node thread has its own stack and nothing is shared without messages.'),
  int('timerResolutionMsec', 'VMA_TIMER_RESOLUTION_MSEC', 10, { min: 1, max: 100000 }, 'Internal timer tick (ms).', 'Tick of the stack timer wheel.'),
  int('tcpTimerResolutionMsec', 'VMA_TCP_TIMER_RESOLUTION_MSEC', 100, { min: 1, max: 100000 }, 'TCP fast timer (ms); raised to VMA_TIMER_RESOLUTION_MSEC if lower.', 'TCP timer granularity (raised like VMA).'),
  int('progressEngineInterval', 'VMA_PROGRESS_ENGINE_INTERVAL', 10, { min: 0, max: 100000 }, 'The internal thread drains completions at least this often (ms); 0 disables. Forced to 0 with VMA_SOCKETXTREME.', 'Longest time the poller sleeps while sockets are open (keeps TCP timers and ACKs moving); 0: only device notifications and timers wake it.'),
  bool('cqModerationEnable', 'VMA_CQ_MODERATION_ENABLE', true, 'RX interrupt moderation.', 'CQ moderation on verbs devices.'),
  int('cqModerationCount', 'VMA_CQ_MODERATION_COUNT', 48, { min: 0, max: 65535 }, 'Completions per interrupt when moderating.', 'CQ moderation count.'),
  int('cqModerationPeriodUsec', 'VMA_CQ_MODERATION_PERIOD_USEC', 50, { min: 0, max: 65535 }, 'Interrupt moderation period (µs).', 'CQ moderation period.'),
  bool('cqKeepQpFull', 'VMA_CQ_KEEP_QP_FULL', true, 'When RX buffers run short, re-post the completed buffer (dropping its packet) to keep the queue full; 0 keeps a debt instead.', 'RX refill policy when the pool runs dry (drops are counted).'),
  enm('bufferBatchingMode', 'VMA_BUFFER_BATCHING_MODE', 1, [[0, 'none'], [1, 'batch, with periodic reclaim'], [2, 'batch, no reclaim']], 'How freed buffers return to the pool.', 'Buffer return batching of the rings.'),
  int('rxBytesMin', 'VMA_RX_BYTES_MIN', 65536, { min: 0, max: U31 }, 'Floor of the per-socket receive byte limit (SO_RCVBUF); datagrams beyond the limit are dropped and counted.', 'Floor of the per-socket receive queue limit.'),
  int('groStreamsMax', 'VMA_GRO_STREAMS_MAX', 32, { min: 0, max: 1024 }, 'TCP streams aggregated by software GRO per poll batch; 0 disables.', 'Accepted; no effect: tsvma does not aggregate segments.'),
  bool('txMcLoopback', 'VMA_TX_MC_LOOPBACK', true, 'Initial IP_MULTICAST_LOOP of sockets.', 'Initial multicast loopback of UDP sockets.'),
  bool('txNonblockedEagains', 'VMA_TX_NONBLOCKED_EAGAINS', false, 'Non-blocking UDP send with no TX buffer: 0 drops and reports success (like the kernel), 1 fails with EAGAIN.', 'UDP send behaviour when the TX pool is empty.'),
  enm('hwTsConversion', 'VMA_HW_TS_CONVERSION', 3, [[0, 'off'], [1, 'raw'], [2, 'best possible'], [3, 'synced to system time'], [4, 'PTP']], 'Hardware timestamp conversion.', 'Hardware timestamps where the device has them.'),
  int('neighUcArpQuata', 'VMA_NEIGH_UC_ARP_QUATA', 3, { min: 0, max: 1000 }, 'Unicast ARP requests sent to refresh an entry before falling back to broadcast.', 'ARP refresh: unicast probes.'),
  int('neighUcArpDelayMsec', 'VMA_NEIGH_UC_ARP_DELAY_MSEC', 10000, { min: 0, max: 3600000 }, 'Time between unicast ARP refreshes (ms).', 'ARP refresh interval.'),
  int('neighNumErrRetries', 'VMA_NEIGH_NUM_ERR_RETRIES', 1, { min: 0, max: 1000 }, 'Retries before a neighbour is declared unreachable.', 'ARP resolution retries.'),
  int('waitAfterJoinMsec', 'VMA_WAIT_AFTER_JOIN_MSEC', 0, { min: 0, max: 3600000 }, 'Delay of the first multicast send after a join (ms).', 'Delay of the first multicast send after a join.'),
  bool('cpuUsageStats', 'VMA_CPU_USAGE_STATS', false, 'Measure the CPU time spent polling (shown by vma_stats).', 'Poller busy/idle accounting in the statistics.'),
  enm('exceptionHandling', 'VMA_EXCEPTION_HANDLING', -1, [[-2, 'exit on start-up failure'], [-1, 'debug log only'], [0, 'debug log, un-offload'], [1, 'error log, un-offload'], [2, 'error log, return an error'], [3, 'error log, abort']],
    'What happens when offload fails.', 'What a socket does when offload fails at bind/connect/listen: pass through to Node, return the error, or abort.'),
] as const;

type Values<Ps extends readonly Param[]> = { readonly [P in Ps[number] as P['name']]: ValueTypes[P['type']] };

/** Resolved TSVMA_* values, keyed by `name`. */
export type TsvmaValues = Values<typeof tsvmaParams>;
/** Resolved VMA_* values, keyed by `name`. */
export type VmaValues = Values<typeof vmaParams>;
export type ParamName = keyof TsvmaValues | keyof VmaValues;

/** Both tables, TSVMA_* first. */
export const params: readonly Param[] = [...tsvmaParams, ...vmaParams];

export function findParam(envOrName: string): Param | undefined {
  return params.find((p) => p.env === envOrName || p.name === envOrName);
}
