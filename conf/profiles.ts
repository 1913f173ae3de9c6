/**
 * VMA_SPEC profiles as data (libvma `sys_vars.cpp`, `mce_sys_var::get_env_params`;
 * ../shared/reference/libvma-notes.md §3.2), restricted to the parameters in params.ts. What a
 * profile also sets in VMA but tsvma has no parameter for is listed in `notModelled`, for the docs.
 *
 * Precedence (env.ts), as in VMA: built-in defaults → SocketXtreme defaults (when
 * VMA_SOCKETXTREME=1) → the VMA_SPEC profile → each variable set explicitly.
 */
import type { VmaValues } from './params';

export interface Profile {
  /** The canonical name, as VMA_SPEC accepts it. */
  readonly name: string;
  /** Other accepted spellings (VMA's numeric codes). */
  readonly aliases: readonly string[];
  readonly doc: string;
  readonly values: Partial<VmaValues>;
  /** VMA settings of the profile outside tsvma's table. */
  readonly notModelled: string;
}

/** VMA_SOCKETXTREME=1 changes these defaults before the profile is applied. */
export const SOCKETXTREME_DEFAULTS: Partial<VmaValues> = { rxWre: 1024, groStreamsMax: 0, progressEngineInterval: 0 };

export const profiles: readonly Profile[] = [
  {
    name: 'latency', aliases: ['15'],
    doc: 'Latency (sockperf): small rings with frequent signalling, infinite polling, single thread, Nagle off.',
    values: {
      txWre: 256, txWreBatching: 4, rxWre: 256, rxWreBatching: 4, rxPoll: -1, selectPoll: -1, selectPollOsRatio: 1, selectSkipOs: 1,
      groStreamsMax: 0, cqKeepQpFull: false, threadMode: 0, progressEngineInterval: 100, tcpNodelay: true,
    },
    notModelled: 'TX buffer batch 1, RX buffer batch 4, RX prefetch before poll 256, avoid syscalls on TCP fds, huge pages, internal thread on CPU 0, 16 KiB device memory per TX ring',
  },
  {
    name: 'ultra-latency', aliases: ['10'],
    doc: 'As latency with small buffer pools, no polling of kernel sockets and no progress engine.',
    values: {
      txSegsTcp: 512, txBufs: 512, txWre: 256, txWreBatching: 4, rxBufs: 1024, rxWre: 256, rxWreBatching: 4, rxPoll: -1, rxUdpPollOsRatio: 0,
      selectPoll: -1, selectPollOsRatio: 0, selectSkipOs: 0, groStreamsMax: 0, progressEngineInterval: 0, cqKeepQpFull: false, threadMode: 0, tcpNodelay: true,
    },
    notModelled: 'as latency',
  },
  {
    name: 'multi_ring_latency', aliases: [],
    doc: 'A ring per thread with infinite polling, for two applications talking over send-only and receive-only TCP sockets.',
    values: {
      selectPoll: -1, rxPoll: -1, ringAllocationLogicRx: 20, ringAllocationLogicTx: 20, selectPollOsRatio: 0, selectSkipOs: 0,
      rxPollOnTxTcp: true, triggerDummySendGetsockname: true,
    },
    notModelled: 'huge pages',
  },
  {
    name: '29west', aliases: ['29'],
    doc: 'Interrupt-driven receive (29West LBM).',
    values: { rxPoll: 0, rxUdpPollOsRatio: 100, selectPoll: 100000, selectPollOsRatio: 100, selectSkipOs: 50 },
    notModelled: 'pipe-write offload (VMA_SPEC_PARAM1=5000 µs, VMA_SPEC_PARAM2=50)',
  },
  {
    name: 'wombat_fh', aliases: ['554'],
    doc: 'Interrupt-driven receive (Wombat feed handler over LBM).',
    values: { rxPoll: 0, rxUdpPollOsRatio: 100, selectPoll: 0, selectSkipOs: 20 },
    notModelled: 'pipe-write offload (VMA_SPEC_PARAM1=5000 µs, VMA_SPEC_PARAM2=50)',
  },
  {
    name: 'mcd', aliases: ['623'],
    doc: 'A ring per core, shared by the threads attached to it (memcached).',
    values: { ringAllocationLogicRx: 31, ringAllocationLogicTx: 31 },
    notModelled: '',
  },
  {
    name: 'mcd-irq', aliases: ['624'],
    doc: 'As mcd, interrupt driven, without CQ moderation.',
    values: { ringAllocationLogicRx: 31, ringAllocationLogicTx: 31, selectPoll: 0, rxPoll: 0, cqModerationEnable: false },
    notModelled: '',
  },
  {
    name: 'rti', aliases: ['784'],
    doc: 'Infinite receive polling (RTI).',
    values: { rxPoll: -1 },
    notModelled: '',
  },
  {
    name: '7750', aliases: [],
    doc: 'Low latency with large RX and small TX pools, warn logging, 1024 sockets in statistics, infinite polling, TCP 3-tuple rules.',
    values: {
      txBufs: 8192, rxBufs: 204800, traceLevel: 2, statsFdNum: 1024, rxPoll: -1, selectPoll: -1, selectPollOsRatio: 0,
      tcp3tRules: true, bufferBatchingMode: 0, tcpCtlThread: 2,
    },
    notModelled: 'internal thread on CPUs 0-1, avoid syscalls on TCP fds',
  },
];

/** A profile by name or numeric code (exact match, as VMA's table lookup; surrounding blanks ignored). */
export function findProfile(nameOrCode: string): Profile | undefined {
  const s = nameOrCode.trim().toLowerCase();
  return profiles.find((p) => p.name === s || p.aliases.includes(s));
}
