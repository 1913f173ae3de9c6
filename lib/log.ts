/**
 * tsvma's logger: one pino instance per process, off the hot path (start-up, errors, dump_fd_stats,
 * `tsvma stats -l`). Its level follows VMA_TRACELEVEL / TSVMA_LOG and changes at run time with the
 * statistics file's log-level word (lib/stats/log_level.ts). Output goes to stderr, or to
 * VMA_LOG_FILE (`%d` → pid) when set, written synchronously so a crash loses nothing.
 */
import pino from 'pino';
import { pinoLevelOfTrace, type PinoLevel } from '../conf';
import { getPinoLevel, onLogLevel } from './stats/log_level';

let log: pino.Logger | null = null;

/** The process's logger (made on first use). `file`: VMA_LOG_FILE's value. */
export function logger(file = ''): pino.Logger {
  if (log) return log;
  const dest = file ? file.replace(/%d/g, String(process.pid)) : 2;
  log = pino({ name: 'tsvma', level: getPinoLevel() }, pino.destination({ dest, sync: true }));
  onLogLevel((_n, p) => {
    if (log) log.level = p;
  });
  return log;
}

/** Logs `msg` at VMA level `vmaLevel` (0 panic … 5 debug … 8 all), as VMA's vlog_printf. */
export function logAtVmaLevel(vmaLevel: number, msg: string): void {
  const l = logger();
  const p: PinoLevel = pinoLevelOfTrace(vmaLevel);
  if (p === 'silent') return;
  l[p](msg);
}
