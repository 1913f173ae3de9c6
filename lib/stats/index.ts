/**
 * lib/stats — live statistics, as VMA's vma_stats shared memory (docs/stats.md).
 *
 * - layout.ts: the file's layout (header, sections, schema), shared by writer and reader.
 * - registry.ts: the socket registry (small integer fds, the hooks lib/dgram.ts and
 *   lib/net_handle.ts call, VMA_STATS_FILE dumps).
 * - writer.ts: the process's side: maps `<VMA_STATS_SHMEM_DIR>/tsvmastat.<pid>` and copies the
 *   counters into it on a 100 ms unref'd timer; applies zero and log-level requests.
 * - reader.ts / format.ts: `tsvma stats`'s side: find, read, clean up, request; text views,
 *   JSON and OpenMetrics.
 * - log_level.ts: the process's log level (what `tsvma stats -l` changes).
 *
 * Layer contract: lib/ (may import proto, ring, conf). Nothing here runs per packet: the data path
 * keeps its own plain counters and the writer reads them. The runtime starts stats when it opens the
 * device (`startStats`) and stops them when it closes or the process exits (`stopStats`). A failure
 * to create the file is a warning, never an error of the application.
 */
import { isMainThread, threadId } from 'node:worker_threads';
import type { Runtime } from '../runtime';
import { traceOfPinoLevel } from '../../conf';
import { setLogLevel } from './log_level';
import { enableRegistry, resetRegistry } from './registry';
import { StatsWriter } from './writer';

export { fdOf, noteTxEagain, socketByFd, registeredSockets, trackOs, trackTcp, trackUdp, untrack, type SocketEntry } from './registry';
export { getLogLevel, getPinoLevel, onLogLevel, setLogLevel } from './log_level';

let writer: StatsWriter | null = null;
let started = false;
const onExit = (): void => stopStats();

/** Starts statistics for the runtime (called once per runtime by lib/runtime.ts). */
export function startStats(rt: Runtime, opts: { intervalMs?: number } = {}): void {
  if (started) stopStats();
  started = true;
  const cfg = rt.loaded.config;
  setLogLevel(traceOfPinoLevel(cfg.logLevel));
  enableRegistry(true, { statsFile: cfg.vma.statsFile });
  process.on('exit', onExit);
  const dir = cfg.vma.statsShmemDir;
  if (!dir) return; // "" disables the file (VMA_STATS_SHMEM_DIR)
  try {
    writer = new StatsWriter(rt, { dir, fdNum: cfg.vma.statsFdNum, intervalMs: opts.intervalMs, thread: isMainThread ? 0 : threadId });
  } catch (e) {
    writer = null;
    process.emitWarning(`tsvma: statistics file not created in VMA_STATS_SHMEM_DIR=${dir}: ${(e as Error).message}`);
  }
}

/** The statistics file of this process, or null. */
export function statsFilePath(): string | null {
  return writer ? writer.path : null;
}

/** Copies the counters into the file now (tests; the timer does it every interval). */
export function copyStatsNow(): void {
  writer?.copy();
}

/** Stops statistics: last copy, file removed, open sockets dumped to VMA_STATS_FILE, fds forgotten. Idempotent. */
export function stopStats(): void {
  if (!started) return;
  started = false;
  process.removeListener('exit', onExit);
  writer?.close();
  writer = null;
  resetRegistry();
  enableRegistry(false);
}
