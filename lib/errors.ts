/**
 * Node's own error shapes, built at the lib boundary: internal `ERR_*` errors (a TypeError or
 * RangeError whose message ends with the code in brackets when printed) and libuv-style errno
 * exceptions (`bind EADDRINUSE 198.18.0.2:9000`, with errno, code, syscall, address, port).
 */
import * as os from 'node:os';

type Ctor = new (message: string) => Error;

export function nodeError(code: string, message: string, Base: Ctor = Error): Error & { code: string } {
  const e = new Base(message) as Error & { code: string };
  e.code = code;
  Object.defineProperty(e, 'name', { value: `${Base.name}`, enumerable: false, configurable: true, writable: true });
  // Node prints internal errors as `TypeError [ERR_X]: message`.
  e.stack = e.stack?.replace(/^(\w+)(:)/, `$1 [${code}]$2`);
  return e;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return ` Received ${v}`;
  if (typeof v === 'function') return ` Received function ${v.name || '<anonymous>'}`;
  if (typeof v === 'object') return ` Received an instance of ${(v as object).constructor?.name ?? 'Object'}`;
  let s = String(v);
  if (typeof v === 'string') s = `'${s.length > 25 ? `${s.slice(0, 25)}...` : s}'`;
  return ` Received type ${typeof v} (${s})`;
}

export function errInvalidArgType(name: string, expected: string, actual: unknown): Error {
  return nodeError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be ${expected}.${describe(actual)}`, TypeError);
}

export function errBadPort(name: string, port: unknown, allowZero = true): Error {
  const op = allowZero ? '>=' : '>';
  return nodeError('ERR_SOCKET_BAD_PORT', `${name} should be ${op} 0 and < 65536.${describe(port)}`, RangeError);
}

/** Node's port validation (internal/validators validatePort). */
export function validatePort(port: unknown, name = 'Port', allowZero = true): number {
  if ((typeof port !== 'number' && typeof port !== 'string') || (typeof port === 'string' && port.trim().length === 0) ||
    +port !== (+port >>> 0) || +port > 0xffff || (+port === 0 && !allowZero)) {
    throw errBadPort(name, port, allowZero);
  }
  return +port | 0;
}

const errnoNames = Object.entries(os.constants.errno) as [string, number][];
/** Text appended to errno exceptions of one errno while it is set (lib/ringd_watch.ts: ENETDOWN while tsvma ringd is away). */
const errnoHints = new Map<number, string>();

/** Sets (or, with null, clears) the text errnoException appends, in parentheses, for `errno`. */
export function setErrnoHint(errno: number, hint: string | null): void {
  if (hint === null) errnoHints.delete(Math.abs(errno));
  else errnoHints.set(Math.abs(errno), hint);
}

/** A libuv-style exception: `${syscall} ${code} ${address}:${port}` with errno (negative), code, syscall, address, port. */
export function errnoException(errno: number, syscall: string, address?: string, port?: number): NodeJS.ErrnoException & { address?: string; port?: number } {
  const n = Math.abs(errno);
  const code = errnoNames.find(([, v]) => v === n)?.[0] ?? `E${n}`;
  let details = '';
  if (address !== undefined) details = port !== undefined && port > 0 ? ` ${address}:${port}` : ` ${address}`;
  const hint = errnoHints.get(n);
  const e = new Error(`${syscall} ${code}${details}${hint === undefined ? '' : ` (${hint})`}`) as NodeJS.ErrnoException & { address?: string; port?: number };
  e.errno = -n;
  e.code = code;
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (port !== undefined && port > 0) e.port = port;
  return e;
}
