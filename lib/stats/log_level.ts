/**
 * The process's log level as a VMA level number (-1 none … 8 all; conf/values.ts TRACE_LEVELS),
 * set from TSVMA_LOG / VMA_TRACELEVEL at start-up and changed at run time by `tsvma stats -l`
 * (through the statistics file's control word). Whatever logs (pino) reads `getLogLevel()` /
 * `getPinoLevel()` or subscribes with `onLogLevel`.
 */
import { pinoLevelOfTrace, type PinoLevel } from '../../conf';

let level = 2; // warn, tsvma's default
const listeners: ((level: number, pino: PinoLevel) => void)[] = [];

export function getLogLevel(): number {
  return level;
}

export function getPinoLevel(): PinoLevel {
  return pinoLevelOfTrace(level);
}

/** Sets the level (VMA number); listeners hear of a change. Out-of-range values are ignored (false). */
export function setLogLevel(n: number): boolean {
  if (!Number.isInteger(n) || n < -1 || n > 8) return false;
  if (n === level) return true;
  level = n;
  const p = pinoLevelOfTrace(n);
  for (const fn of listeners) fn(n, p);
  return true;
}

/** Calls `fn(level, pinoLevel)` on every change; returns a remover. */
export function onLogLevel(fn: (level: number, pino: PinoLevel) => void): () => void {
  listeners.push(fn);
  return () => {
    const i = listeners.indexOf(fn);
    if (i >= 0) listeners.splice(i, 1);
  };
}
