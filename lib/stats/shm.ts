/**
 * A file mapped MAP_SHARED into this process and seen from JS as one ArrayBuffer (koffi's `view`
 * over the mapping: no copy; ../shared/reference/koffi-notes.md §2). Stores through it land in the
 * page cache at once, so another process reading or mapping the same file sees them; Atomics work
 * on it across processes (the notes measured it).
 *
 * Contract: the mapping lives until `unmap()`; after it, touching the ArrayBuffer kills the process
 * (SIGSEGV: koffi's view is not detached), so the owner drops every view before unmapping. BigInt
 * pointers never leave this file.
 */
import * as fs from 'node:fs';
import koffi from 'koffi';

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const MAP_FAILED = 0xffffffffffffffffn;

interface Mman {
  mmap: (addr: null, length: number, prot: number, flags: number, fd: number, offset: number) => bigint | null;
  munmap: (addr: bigint, length: number) => number;
}
let mman: Mman | null = null;

function libc(): Mman {
  if (!mman) {
    const c = koffi.load('libc.so.6');
    mman = {
      mmap: c.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
      munmap: c.func('int munmap(void *addr, size_t length)'),
    };
  }
  return mman;
}

export interface SharedFile {
  readonly path: string;
  readonly buffer: ArrayBuffer;
  unmap(): void;
}

/**
 * Creates (or truncates) `path` with `bytes` zero bytes, mode `mode`, and maps it read-write.
 * Throws an Error naming the file and the failed call.
 */
export function createShared(path: string, bytes: number, mode = 0o644, truncate = true): SharedFile {
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT | (truncate ? fs.constants.O_TRUNC : 0), mode);
  let p: bigint | null;
  try {
    // Without truncation (a file other threads or processes may have mapped already) it only grows.
    if (truncate || fs.fstatSync(fd).size < bytes) fs.ftruncateSync(fd, bytes);
    p = libc().mmap(null, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p === null || p === MAP_FAILED) throw new Error(`mmap ${path}: errno ${koffi.errno()}`);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  fs.closeSync(fd); // the mapping keeps the file
  const addr = p;
  const buffer = koffi.view(addr, bytes) as ArrayBuffer;
  let mapped = true;
  return {
    path,
    buffer,
    unmap() {
      if (!mapped) return;
      mapped = false;
      libc().munmap(addr, bytes);
    },
  };
}
