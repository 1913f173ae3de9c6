/**
 * VMA_SPEC profiles (libvma `sys_vars.cpp`; ../shared/reference/libvma-notes.md §3.2), restricted
 * to the parameters in conf/params.ts. Precedence: defaults → profile → variables set explicitly.
 */
import type { VmaConfig } from './params';

export interface Profile {
  readonly name: string;
  readonly aliases: readonly string[];
  readonly doc: string;
  readonly values: Partial<VmaConfig>;
}

const latency: Partial<VmaConfig> = {
  txWre: 256, txWreBatching: 4, rxWre: 256, rxWreBatching: 4, rxPoll: -1, selectPoll: -1, groStreamsMax: 0,
  threadMode: 0, progressEngineInterval: 100, tcpNodelay: true,
};

export const profiles: readonly Profile[] = [
  { name: 'latency', aliases: ['15'], doc: 'Latency-oriented: small rings, infinite polling, no GRO, Nagle off.', values: latency },
  {
    name: 'ultra-latency', aliases: ['10'], doc: 'As latency, with small buffer pools, no OS polling and no progress engine.',
    values: { ...latency, txBufs: 512, rxBufs: 1024, rxUdpPollOsRatio: 0, progressEngineInterval: 0 },
  },
  {
    name: 'multi_ring_latency', aliases: [], doc: 'A ring per thread with infinite polling.',
    values: { rxPoll: -1, selectPoll: -1, ringAllocationLogicRx: 20, ringAllocationLogicTx: 20 },
  },
  { name: '29west', aliases: ['29'], doc: 'Interrupt-driven receive.', values: { rxPoll: 0 } },
  { name: 'wombat_fh', aliases: ['554'], doc: 'Interrupt-driven receive.', values: { rxPoll: 0 } },
  { name: 'mcd', aliases: ['623'], doc: 'A ring per core, shared by attached threads.', values: { ringAllocationLogicRx: 31, ringAllocationLogicTx: 31 } },
  {
    name: 'mcd-irq', aliases: ['624'], doc: 'As mcd, interrupt driven without CQ moderation.',
    values: { ringAllocationLogicRx: 31, ringAllocationLogicTx: 31, rxPoll: 0, cqModerationEnable: false },
  },
  { name: 'rti', aliases: ['784'], doc: 'Infinite polling.', values: { rxPoll: -1 } },
  {
    name: '7750', aliases: [], doc: 'Large pools, warn logging, 1024 stats sockets, infinite polling, TCP 3-tuple rules.',
    values: { txBufs: 8192, rxBufs: 204800, traceLevel: 2, statsFdNum: 1024, rxPoll: -1, selectPoll: -1, tcp3tRules: true },
  },
];

export function findProfile(nameOrNumber: string): Profile | undefined {
  const s = nameOrNumber.trim().toLowerCase();
  return profiles.find((p) => p.name === s || p.aliases.includes(s));
}
