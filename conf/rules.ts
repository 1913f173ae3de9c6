/**
 * libvma.conf: which sockets are offloaded (transport-selection rules). Grammar and semantics are
 * VMA's (`config_parser.y`, `config_scanner.l`, `match.cpp`; ../shared/reference/libvma-notes.md §2):
 *
 *   application-id PROGRAM_GLOB USER_ID
 *   use TRANSPORT ROLE ADDR:PORTS[:ADDR:PORTS]
 *   log ...
 *
 *   TRANSPORT  vma | os | sdp | sa | *
 *   ROLE       tcp_server | tcp_client | udp_sender | udp_receiver | udp_connect
 *   ADDR       a.b.c.d | a.b.c.d/PREFIX | *        (a prefix above 32 is taken as 32)
 *   PORTS      N | N-M | *
 *
 * Numbers are `0` or `[1-9][0-9]*` (no leading zeros). `#` starts a comment that runs to the end of
 * the line; blank lines are skipped. Blanks inside the tuple are allowed, as VMA's scanner skips
 * them between tokens. `log` statements are accepted and ignored: VMA marks them "not fully
 * supported", and tsvma logs through TSVMA_LOG / VMA_TRACELEVEL / VMA_LOG_FILE.
 *
 * Deliberate differences from VMA: a malformed line is reported as file:line and skipped, and
 * parsing goes on (VMA's parser stops at the first syntax error, keeping what came before); octets
 * above 255, ports above 65535 and empty port ranges (N-M with M < N) are reported rather than
 * kept as rules that can never match. Parsing never throws.
 *
 * Matching (`match.cpp`): no instance at all → vma; the first instance (in file order) whose program
 * glob matches the program name (fnmatch) and whose user id matches VMA_APPLICATION_ID (`*` on
 * either side matches anything) is the only one consulted; in it, the role's first matching rule
 * wins; no matching rule → vma. A rule matches when the port is in range (if the rule has ports),
 * the address matches under the rule's prefix mask applied to both sides (so 1.1.1.7/24 acts as
 * 1.1.1.0/24), for 5-tuple rules the second pair matches too when the socket has a second address,
 * and the rule's transport is os, * or vma: sdp and sa rules never match. A matching `*` rule means
 * vma.
 */
import * as fs from 'node:fs';
import { formatIpv4Text, maskOf, parseIpv4Text } from './text';

export type Transport = 'vma' | 'os' | 'sdp' | 'sa' | '*';
export type Role = 'tcp_server' | 'tcp_client' | 'udp_sender' | 'udp_receiver' | 'udp_connect';
export const ROLES: readonly Role[] = ['tcp_server', 'tcp_client', 'udp_receiver', 'udp_sender', 'udp_connect'];
export const TRANSPORTS: readonly Transport[] = ['vma', 'os', 'sdp', 'sa', '*'];

/** VMA_APPLICATION_ID's default: a value no application-id line is expected to name. */
export const DEFAULT_APPLICATION_ID = 'VMA_DEFAULT_APPLICATION_ID';

/** One ADDR:PORTS pair of a rule. `matchAddr`/`matchPort` are false for `*`. */
export interface AddrPorts {
  readonly matchAddr: boolean;
  readonly ip: number;
  readonly prefix: number;
  readonly matchPort: boolean;
  readonly portLow: number;
  readonly portHigh: number;
}

export interface Rule {
  readonly transport: Transport;
  readonly role: Role;
  readonly first: AddrPorts;
  /** The second pair of a 5-tuple rule, else null. */
  readonly second: AddrPorts | null;
  /** Where the rule came from, `file:line`. */
  readonly source: string;
}

export interface Instance {
  readonly program: string;
  readonly userId: string;
  /** Per role, in priority order (first match wins). */
  readonly rules: Readonly<Record<Role, Rule[]>>;
}

/** Parsed rules. Mutable on purpose: addConfRule adds to it, as vma_add_conf_rule does. */
export interface RuleSet {
  readonly instances: Instance[];
  /** The instance the last application-id line opened (where a bare `use` line goes). */
  current: Instance | null;
}

export interface RuleError {
  readonly file: string;
  /** 1-based; 0 for errors about the whole file. */
  readonly line: number;
  readonly message: string;
}

export function emptyRuleSet(): RuleSet {
  return { instances: [], current: null };
}

/** Opens the instance (program, userId), creating it at the end of the list if new (VMA's __vma_add_instance). */
function openInstance(set: RuleSet, program: string, userId: string): Instance {
  let inst = set.instances.find((x) => x.program === program && x.userId === userId);
  if (!inst) {
    inst = { program, userId, rules: { tcp_server: [], tcp_client: [], udp_receiver: [], udp_sender: [], udp_connect: [] } };
    set.instances.push(inst);
  }
  set.current = inst;
  return inst;
}

const INT = '(?:0|[1-9]\\d*)';
const ADDR_RE = new RegExp(`^(${INT}\\.${INT}\\.${INT}\\.${INT})(?:/(${INT}))?$`);
const PORTS_RE = new RegExp(`^(${INT})(?:-(${INT}))?$`);

function parseAddrPorts(addr: string, ports: string): AddrPorts | string {
  let matchAddr = false;
  let ip = 0;
  let prefix = 32;
  if (addr !== '*') {
    const m = ADDR_RE.exec(addr);
    if (!m) return `bad address "${addr}" (expected a.b.c.d, a.b.c.d/prefix or *)`;
    ip = parseIpv4Text(m[1]);
    if (ip < 0) return `bad address "${m[1]}" (each part must be 0-255)`;
    prefix = m[2] === undefined ? 32 : Math.min(Number(m[2]), 32);
    matchAddr = true;
  }
  let matchPort = false;
  let portLow = 0;
  let portHigh = 0;
  if (ports !== '*') {
    const m = PORTS_RE.exec(ports);
    if (!m) return `bad ports "${ports}" (expected N, N-M or *)`;
    portLow = Number(m[1]);
    portHigh = m[2] === undefined ? portLow : Number(m[2]);
    if (portHigh > 65535) return `port out of range in "${ports}" (0-65535)`;
    if (portHigh < portLow) return `empty port range "${ports}"`;
    matchPort = true;
  }
  return { matchAddr, ip, prefix, matchPort, portLow, portHigh };
}

function parseUse(words: string[], source: string): Rule | string {
  if (words.length < 4) return 'expected: use TRANSPORT ROLE ADDR:PORTS[:ADDR:PORTS]';
  const transport = words[1] as Transport;
  if (!TRANSPORTS.includes(transport)) return `unknown transport "${words[1]}" (expected vma, os, sdp, sa or *)`;
  const role = words[2] as Role;
  if (!ROLES.includes(role)) return `unknown role "${words[2]}" (expected ${ROLES.join(', ')})`;
  const tuple = words.slice(3).join('');
  const parts = tuple.split(':');
  if (parts.length !== 2 && parts.length !== 4) return `bad tuple "${tuple}" (expected ADDR:PORTS or ADDR:PORTS:ADDR:PORTS)`;
  const first = parseAddrPorts(parts[0], parts[1]);
  if (typeof first === 'string') return first;
  let second: AddrPorts | null = null;
  if (parts.length === 4) {
    const s = parseAddrPorts(parts[2], parts[3]);
    if (typeof s === 'string') return s;
    second = s;
  }
  return { transport, role, first, second, source };
}

/** Parses `text` into `set`. With `pushToHead` (add_conf_rule) each rule goes before the existing rules of its role. */
function parseInto(set: RuleSet, text: string, file: string, pushToHead: boolean): RuleError[] {
  const errors: RuleError[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const hash = lines[i].indexOf('#');
    const body = (hash >= 0 ? lines[i].slice(0, hash) : lines[i]).trim();
    if (body === '') continue;
    const words = body.split(/\s+/);
    const fail = (message: string): void => { errors.push({ file, line: i + 1, message }); };
    switch (words[0]) {
      case 'application-id':
        if (words.length !== 3) fail('expected: application-id PROGRAM USER_ID');
        else openInstance(set, words[1], words[2]);
        break;
      case 'use': {
        const r = parseUse(words, `${file}:${i + 1}`);
        if (typeof r === 'string') {
          fail(r);
          break;
        }
        // Rules before any application-id go into a `* *` instance, as in VMA's __vma_add_rule.
        const inst = set.current ?? openInstance(set, '*', '*');
        const list = inst.rules[r.role];
        if (pushToHead) list.unshift(r);
        else list.push(r);
        break;
      }
      case 'log':
        break;
      default:
        fail(`unknown statement "${words[0]}" (expected application-id, use or log)`);
    }
  }
  return errors;
}

/** Parses libvma.conf text. Malformed lines are reported (file:line) and skipped; never throws. */
export function parseRules(text: string, fileName: string): { rules: RuleSet; errors: RuleError[] } {
  const rules = emptyRuleSet();
  const errors = parseInto(rules, text, fileName, false);
  return { rules, errors };
}

/**
 * vma_add_conf_rule: parses `line` (one or more statements) into `set`, each `use` rule on top of
 * its role's list, in the instance the last application-id opened (the line may open one itself),
 * or a `* *` instance when none was. Existing sockets are not re-classified. Returns 0, or -1 if
 * any statement was malformed (the well-formed ones are still added, as in VMA).
 */
export function addConfRule(set: RuleSet, line: string): 0 | -1 {
  return parseInto(set, line, 'add_conf_rule', true).length === 0 ? 0 : -1;
}

export interface LoadedRules {
  readonly rules: RuleSet;
  readonly errors: RuleError[];
  /** The file does not exist (no rules: everything is offloaded, as VMA without a file). */
  readonly missing: boolean;
  /** The file exists but could not be read (no rules). */
  readonly unreadable: string | null;
}

/** Reads and parses a rule file. A missing or unreadable file is no rules; never throws. */
export function loadRulesFile(path: string): LoadedRules {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') return { rules: emptyRuleSet(), errors: [], missing: true, unreadable: null };
    return { rules: emptyRuleSet(), errors: [], missing: false, unreadable: `${path}: ${err.code ?? err.message}` };
  }
  return { ...parseRules(text, path), missing: false, unreadable: null };
}

/**
 * fnmatch(3) with no flags: `*` any run, `?` one character, `[...]` a set with ranges and `!`/`^`
 * negation (`]` first in the set is literal), `\` escapes the next character. An unclosed `[` is a
 * literal. Iterative with one backtrack point, so linear-ish on any pattern.
 */
export function fnmatch(pattern: string, s: string): boolean {
  let pi = 0;
  let si = 0;
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    if (pi < pattern.length) {
      const c = pattern[pi];
      if (c === '*') {
        starP = ++pi;
        starS = si;
        continue;
      }
      if (c === '?') {
        pi++;
        si++;
        continue;
      }
      if (c === '[') {
        const set = matchSet(pattern, pi, s[si]);
        if (set.end < 0) {
          if (s[si] === '[') {
            pi++;
            si++;
            continue;
          }
        } else if (set.ok) {
          pi = set.end;
          si++;
          continue;
        }
      } else {
        const lit = c === '\\' && pi + 1 < pattern.length ? pattern[pi + 1] : c;
        if (lit === s[si]) {
          pi += c === '\\' && pi + 1 < pattern.length ? 2 : 1;
          si++;
          continue;
        }
      }
    }
    if (starP < 0) return false;
    pi = starP;
    si = ++starS;
  }
  while (pattern[pi] === '*') pi++;
  return pi === pattern.length;
}

/** Matches `ch` against the bracket expression at pattern[start] ('['). end: index after ']', or -1 if unclosed. */
function matchSet(pattern: string, start: number, ch: string): { ok: boolean; end: number } {
  let j = start + 1;
  const negate = pattern[j] === '!' || pattern[j] === '^';
  if (negate) j++;
  let ok = false;
  let first = true;
  while (j < pattern.length && (first || pattern[j] !== ']')) {
    first = false;
    let lo = pattern[j];
    if (lo === '\\' && j + 1 < pattern.length) lo = pattern[++j];
    if (pattern[j + 1] === '-' && j + 2 < pattern.length && pattern[j + 2] !== ']') {
      let hi = pattern[j + 2];
      let step = 3;
      if (hi === '\\' && j + 3 < pattern.length) {
        hi = pattern[j + 3];
        step = 4;
      }
      if (ch >= lo && ch <= hi) ok = true;
      j += step;
    } else {
      if (ch === lo) ok = true;
      j++;
    }
  }
  if (j >= pattern.length) return { ok: false, end: -1 };
  return { ok: ok !== negate, end: j + 1 };
}

export interface Endpoint {
  readonly ip: number;
  readonly port: number;
}

export interface MatchQuery {
  /** The program name fnmatch sees (VMA: program_invocation_short_name). */
  readonly program: string;
  /** VMA_APPLICATION_ID. */
  readonly appId: string;
  readonly role: Role;
  /** The local address: the first pair for tcp_server / udp_receiver, the second for tcp_client / udp_connect. */
  readonly local?: Endpoint;
  /** The remote address: the first pair for tcp_client, udp_connect and udp_sender. */
  readonly remote?: Endpoint;
}

const UNSPECIFIED: Endpoint = { ip: 0, port: 0 };

function pairMatches(ap: AddrPorts, ep: Endpoint): boolean {
  if (ap.matchPort && (ep.port < ap.portLow || ep.port > ap.portHigh)) return false;
  if (ap.matchAddr) {
    const m = maskOf(ap.prefix);
    if (((ap.ip & m) >>> 0) !== ((ep.ip & m) >>> 0)) return false;
  }
  return true;
}

function instanceMatches(inst: Instance, program: string, appId: string): boolean {
  return fnmatch(inst.program, program) && (appId === '*' || inst.userId === '*' || inst.userId === appId);
}

/** The instance consulted for (program, appId): the first that matches, or undefined. */
export function findInstance(set: RuleSet, program: string, appId: string): Instance | undefined {
  return set.instances.find((x) => instanceMatches(x, program, appId));
}

/** The rule that decides the query, or null when none matches (which means vma). */
export function findRule(set: RuleSet, q: MatchQuery): Rule | null {
  const inst = findInstance(set, q.program, q.appId);
  if (!inst) return null;
  const serverSide = q.role === 'tcp_server' || q.role === 'udp_receiver';
  const first = (serverSide ? q.local : q.remote) ?? UNSPECIFIED;
  // Only tcp_client and udp_connect pass a second address to the matcher; a rule's second pair is
  // checked only when there is one (match.cpp: `rule->use_second && addr_in_second`).
  const second = q.role === 'tcp_client' || q.role === 'udp_connect' ? q.local : undefined;
  for (const r of inst.rules[q.role]) {
    if (r.transport === 'sdp' || r.transport === 'sa') continue;
    if (!pairMatches(r.first, first)) continue;
    if (r.second && second && !pairMatches(r.second, second)) continue;
    return r;
  }
  return null;
}

/** The transport for a socket at bind/connect/listen/first send: 'os' if the deciding rule says os, else 'vma'. */
export function matchRule(set: RuleSet, q: MatchQuery): 'vma' | 'os' {
  if (set.instances.length === 0) return 'vma';
  return findRule(set, q)?.transport === 'os' ? 'os' : 'vma';
}

const isGlobal = (r: Rule): boolean => !r.first.matchAddr && !r.first.matchPort && !(r.second && (r.second.matchAddr || r.second.matchPort));

/** VMA's match_by_all_rules_program over one role list: 'os'/'vma' if a catch-all rule decides, else null. */
function globalDecision(rules: readonly Rule[]): 'vma' | 'os' | null {
  let anyVma = 0;
  let anyOs = 0;
  for (const r of rules) {
    if (!isGlobal(r)) {
      if (r.transport === 'vma' || r.transport === '*') anyVma++;
      else if (r.transport === 'os') anyOs++;
    } else if ((r.transport === 'vma' || r.transport === '*') && anyOs === 0) {
      return 'vma';
    } else if (r.transport === 'os' && anyVma === 0) {
      return 'os';
    }
  }
  return null;
}

/**
 * The socket()-time check (VMA's __vma_match_by_program): 'os' when, in the first matching instance
 * where they agree, both the server list (tcp_server / udp_receiver) and the client list
 * (tcp_client / udp_sender) are decided for `os` by a catch-all rule (`*:*`) reached before any
 * specific rule for vma; then the socket never needs tsvma. Otherwise 'vma': per-call rules decide.
 */
export function matchByProgram(set: RuleSet, q: { program: string; appId: string; protocol: 'tcp' | 'udp' }): 'vma' | 'os' {
  for (const inst of set.instances) {
    if (!instanceMatches(inst, q.program, q.appId)) continue;
    const server = globalDecision(inst.rules[q.protocol === 'tcp' ? 'tcp_server' : 'udp_receiver']) ?? 'vma';
    const client = globalDecision(inst.rules[q.protocol === 'tcp' ? 'tcp_client' : 'udp_sender']) ?? 'vma';
    if (server === client) return server;
  }
  return 'vma';
}

/** VMA's start-up warning when a non-default VMA_APPLICATION_ID names no instance; null when fine. */
export function applicationIdWarning(set: RuleSet, program: string, appId: string): string | null {
  if (appId === DEFAULT_APPLICATION_ID || findInstance(set, program, appId)) return null;
  return `VMA_APPLICATION_ID=${appId} matches no application-id in the rule file (program ${program})`;
}

function formatPair(ap: AddrPorts): string {
  const addr = !ap.matchAddr ? '*' : ap.prefix === 32 ? formatIpv4Text(ap.ip) : `${formatIpv4Text(ap.ip)}/${ap.prefix}`;
  const ports = !ap.matchPort ? '*' : ap.portHigh > ap.portLow ? `${ap.portLow}-${ap.portHigh}` : String(ap.portLow);
  return `${addr}:${ports}`;
}

/** One rule as a libvma.conf line. */
export function formatRule(r: Rule): string {
  return `use ${r.transport} ${r.role} ${formatPair(r.first)}${r.second ? `:${formatPair(r.second)}` : ''}`;
}

/** The rule table as libvma.conf text (VMA dumps it at debug level after add_conf_rule); parses back to the same rules. */
export function formatRules(set: RuleSet): string {
  const out: string[] = [];
  for (const inst of set.instances) {
    out.push(`application-id ${inst.program} ${inst.userId}`);
    for (const role of ROLES) for (const r of inst.rules[role]) out.push(formatRule(r));
  }
  return out.join('\n') + (out.length ? '\n' : '');
}
