/**
 * VerbsError: a failed verb, named by its C function and errno, e.g.
 * `ibv_modify_qp: EINVAL (22)` (pyverbs' PyverbsRDMAError). Verbs that return an errno value
 * (ibv_modify_qp, ibv_destroy_*, ibv_dereg_mr, …) pass it; verbs that return NULL or -1 leave it
 * in errno, which `fail` reads.
 */
import koffi from 'koffi';

let names: Map<number, string> | null = null;

/** The errno's symbolic name (EINVAL, EOPNOTSUPP, …), or `errno N`. */
export function errnoName(e: number): string {
  if (!names) {
    names = new Map();
    const table = (koffi.os as unknown as { errno: Record<string, number> }).errno;
    for (const [k, v] of Object.entries(table)) if (!names.has(v)) names.set(v, k);
    names.set(95, 'EOPNOTSUPP');
    names.set(11, 'EAGAIN');
  }
  return names.get(e) ?? `errno ${e}`;
}

export class VerbsError extends Error {
  override readonly name = 'VerbsError';
  /** `code` is the errno name (EINVAL), as Node's system errors carry it. */
  readonly code: string;
  constructor(readonly fn: string, readonly errno: number, hint = '') {
    super(`${fn}: ${errnoName(errno)} (${errno})${hint ? `: ${hint}` : ''}`);
    this.code = errnoName(errno);
  }
}

/** Throws a VerbsError for `fn` with `err` (an errno value a verb returned), or the thread's errno when 0/absent. */
export function fail(fn: string, err = 0, hint = ''): never {
  const e = err > 0 ? err : err < 0 ? -err : koffi.errno();
  throw new VerbsError(fn, e === 0 ? 5 /* EIO: the verb failed without saying why */ : e, hint);
}
