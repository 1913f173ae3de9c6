/**
 * thread_offload's table: per worker thread (Node's `threadId`; the main thread is 0), whether the
 * sockets it creates are offloaded — VMA's per-pthread override of VMA_OFFLOADED_SOCKETS. Worker
 * threads are separate isolates with their own module state, so the table lives in a small file
 * under /dev/shm that every thread of the process maps (lib/stats/shm.ts): a main thread can set
 * a worker's entry and the worker sees it. Entries are (threadId + 1, value) pairs claimed with
 * Atomics.compareExchange; the file is removed when the process exits.
 */
import * as fs from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { pidAlive } from '../stats/layout';
import { createShared, type SharedFile } from '../stats/shm';

const SLOTS = 1024;
let table: Int32Array | null = null;
let file: SharedFile | null = null;

const DIR = fs.existsSync('/dev/shm') ? '/dev/shm' : '/tmp';
const PREFIX = 'tsvma-threads.';
const path = `${DIR}/${PREFIX}${process.pid}`;
// The main thread removes the file when the process exits, whichever thread made it.
if (isMainThread) process.once('exit', () => fs.rmSync(path, { force: true }));

/** Removes the tables of processes that are gone (killed before their exit hook ran). */
function sweepDead(): void {
  for (const name of fs.readdirSync(DIR)) {
    if (!name.startsWith(PREFIX)) continue;
    const pid = Number(name.slice(PREFIX.length));
    if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)) fs.rmSync(`${DIR}/${name}`, { force: true });
  }
}

function open(create: boolean): Int32Array | null {
  if (table) return table;
  if (!fs.existsSync(path)) {
    if (!create) return null;
    sweepDead();
  }
  file = createShared(path, SLOTS * 8, 0o600, false);
  table = new Int32Array(file.buffer);
  return table;
}

/** Sets thread `threadId`'s override: 1 offload, 0 not. Returns false when the table is full. */
export function setThreadOffload(threadId: number, offload: boolean): boolean {
  const t = open(true)!;
  const key = threadId + 1;
  for (let i = 0; i < SLOTS; i++) {
    const k = Atomics.compareExchange(t, 2 * i, 0, key);
    if (k === 0 || k === key) {
      Atomics.store(t, 2 * i + 1, offload ? 1 : 2);
      return true;
    }
  }
  return false;
}

/** Thread `threadId`'s override: true, false, or null (none: VMA_OFFLOADED_SOCKETS decides). */
export function threadOffload(threadId: number): boolean | null {
  const t = open(false);
  if (!t) return null;
  const key = threadId + 1;
  for (let i = 0; i < SLOTS; i++) {
    const k = Atomics.load(t, 2 * i);
    if (k === 0) return null;
    if (k === key) {
      const v = Atomics.load(t, 2 * i + 1);
      return v === 0 ? null : v === 1;
    }
  }
  return null;
}
