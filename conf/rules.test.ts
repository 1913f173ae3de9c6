import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  addConfRule, applicationIdWarning, emptyRuleSet, findRule, fnmatch, formatRules, loadRulesFile, matchByProgram, matchRule,
  parseRules, type MatchQuery, type RuleSet,
} from './rules';
import { parseIpv4Text as ip } from './text';

const DEFAULT_ID = 'VMA_DEFAULT_APPLICATION_ID';
type Ep = [string, number];

/** A query: `local` / `remote` as [address, port]. */
function q(role: MatchQuery['role'], o: { local?: Ep; remote?: Ep; program?: string; appId?: string } = {}): MatchQuery {
  return {
    program: o.program ?? 'node', appId: o.appId ?? DEFAULT_ID, role,
    local: o.local && { ip: ip(o.local[0]), port: o.local[1] },
    remote: o.remote && { ip: ip(o.remote[0]), port: o.remote[1] },
  };
}

function parsed(lines: string[]): RuleSet {
  const { rules, errors } = parseRules(lines.join('\n'), 't.conf');
  expect(errors).toEqual([]);
  return rules;
}

describe('libvma.conf: no rules', () => {
  it('offloads everything when the file has no statements', () => {
    const { rules, errors } = parseRules('# nothing here\n\n   \t\n', 'empty.conf');
    expect(errors).toEqual([]);
    expect(rules.instances).toEqual([]);
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.2', 53] }))).toBe('vma');
    expect(matchByProgram(rules, { program: 'node', appId: DEFAULT_ID, protocol: 'udp' })).toBe('vma');
  });
});

describe("libvma.conf: VMA's default file", () => {
  // Its functional lines with their comments (../shared/reference/libvma-notes.md §2.5).
  const text = [
    '# libvma.conf - configuration file for libvma',
    '',
    '# By default apply the statments to any application with any ID',
    'application-id * *',
    '',
    '# By default DNS server-side protocol (UDP, port 53) is handled by OS',
    'use os udp_connect *:53',
    '',
  ].join('\n');

  it('keeps connected DNS client sockets in the kernel and offloads the rest', () => {
    const { rules, errors } = parseRules(text, '/etc/libvma.conf');
    expect(errors).toEqual([]);
    expect(rules.instances).toHaveLength(1);
    expect(matchRule(rules, q('udp_connect', { remote: ['198.18.0.1', 53], local: ['198.18.0.2', 40000] }))).toBe('os');
    expect(matchRule(rules, q('udp_connect', { remote: ['198.18.0.1', 54] }))).toBe('vma');
    expect(matchRule(rules, q('udp_sender', { remote: ['198.18.0.1', 53] }))).toBe('vma');
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.2', 53] }))).toBe('vma');
    expect(matchRule(rules, q('tcp_client', { remote: ['198.18.0.1', 53] }))).toBe('vma');
    expect(matchByProgram(rules, { program: 'node', appId: DEFAULT_ID, protocol: 'udp' })).toBe('vma');
  });
});

describe("libvma.conf: the default file's commented examples", () => {
  it('application-id tcp_lat B1 applies only with VMA_APPLICATION_ID=B1 and program tcp_lat', () => {
    const rules = parsed(['application-id tcp_lat B1', 'use os tcp_server *:*']);
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.0.2', 80], program: 'tcp_lat', appId: 'B1' }))).toBe('os');
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.0.2', 80], program: 'tcp_lat' }))).toBe('vma');
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.0.2', 80], program: 'node', appId: 'B1' }))).toBe('vma');
  });

  it('use vma tcp_client 192.168.1.0/24:*:*:* (the example text verbatim; only parsed and matched, never configured anywhere)', () => {
    const rules = parsed(['use vma tcp_client 192.168.1.0/24:*:*:*', 'use os tcp_client *:*']);
    expect(rules.instances[0].rules.tcp_client[0]).toMatchObject({ transport: 'vma', first: { matchAddr: true, ip: ip('192.168.1.0'), prefix: 24, matchPort: false } });
    expect(matchRule(rules, q('tcp_client', { remote: ['192.168.1.77', 8080], local: ['198.18.0.2', 50000] }))).toBe('vma');
    expect(matchRule(rules, q('tcp_client', { remote: ['198.18.1.77', 8080], local: ['198.18.0.2', 50000] }))).toBe('os');
  });

  it('use os tcp_server *:5001', () => {
    const rules = parsed(['use os tcp_server *:5001']);
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.0.2', 5001] }))).toBe('os');
    expect(matchRule(rules, q('tcp_server', { local: ['0.0.0.0', 5001] }))).toBe('os');
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.0.2', 5002] }))).toBe('vma');
  });
});

describe('libvma.conf: matching', () => {
  it('applies the prefix mask to both sides: 198.18.1.7/24 acts as 198.18.1.0/24', () => {
    const rules = parsed(['use os tcp_server 198.18.1.7/24:5001']);
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.1.200', 5001] }))).toBe('os');
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.1.0', 5001] }))).toBe('os');
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.2.7', 5001] }))).toBe('vma');
  });

  it('a bare address is /32, a prefix above 32 is 32, /0 matches every address', () => {
    const rules = parsed(['use os udp_receiver 198.18.0.5:*', 'use os udp_receiver 198.18.0.6/40:*', 'use os udp_receiver 0.0.0.0/0:7']);
    expect(rules.instances[0].rules.udp_receiver[1].first.prefix).toBe(32);
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.5', 1] }))).toBe('os');
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.4', 1] }))).toBe('vma');
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.6', 1] }))).toBe('os');
    expect(matchRule(rules, q('udp_receiver', { local: ['198.19.9.9', 7] }))).toBe('os');
  });

  it('port ranges are inclusive', () => {
    const rules = parsed(['use os udp_sender *:5000-5010']);
    const at = (port: number): string => matchRule(rules, q('udp_sender', { remote: ['198.18.0.1', port] }));
    expect([at(4999), at(5000), at(5005), at(5010), at(5011)]).toEqual(['vma', 'os', 'os', 'os', 'vma']);
  });

  it('first match wins within a role; roles are separate lists', () => {
    const rules = parsed([
      'use vma tcp_server *:5000-5010',
      'use os tcp_server 198.18.1.7/24:5001',
      'use os tcp_server *:*',
      'use vma udp_receiver *:*',
    ]);
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.1.1', 5001] }))).toBe('vma');
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.1.1', 6000] }))).toBe('os');
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.1.1', 6000] }))).toBe('vma');
    expect(findRule(rules, q('tcp_server', { local: ['198.18.1.1', 6000] }))?.source).toBe('t.conf:3');
  });

  it('5-tuple rules: remote pair first, local pair second; the second pair is ignored without a local address', () => {
    const rules = parsed(['use os tcp_client 198.18.0.0/16:80:198.18.5.5:*', 'use os udp_connect *:*:198.18.5.5:4000-4001']);
    expect(matchRule(rules, q('tcp_client', { local: ['198.18.5.5', 40000], remote: ['198.18.9.9', 80] }))).toBe('os');
    expect(matchRule(rules, q('tcp_client', { local: ['198.18.5.6', 40000], remote: ['198.18.9.9', 80] }))).toBe('vma');
    expect(matchRule(rules, q('tcp_client', { local: ['198.18.5.5', 40000], remote: ['198.18.9.9', 81] }))).toBe('vma');
    expect(matchRule(rules, q('tcp_client', { remote: ['198.18.9.9', 80] }))).toBe('os');
    expect(matchRule(rules, q('udp_connect', { local: ['198.18.5.5', 4001], remote: ['198.18.0.1', 9] }))).toBe('os');
    expect(matchRule(rules, q('udp_connect', { local: ['198.18.5.5', 4002], remote: ['198.18.0.1', 9] }))).toBe('vma');
  });

  it('a 5-tuple rule for a server role is matched on its first pair only (servers have one address)', () => {
    const rules = parsed(['use os tcp_server *:80:198.18.0.9:1']);
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.0.2', 80] }))).toBe('os');
  });

  it('sdp and sa rules never match; a * rule matches and means vma', () => {
    const rules = parsed(['use sdp udp_sender *:*', 'use sa udp_sender *:*', 'use * udp_sender *:9', 'use os udp_sender *:*']);
    expect(matchRule(rules, q('udp_sender', { remote: ['198.18.0.1', 1] }))).toBe('os');
    expect(matchRule(rules, q('udp_sender', { remote: ['198.18.0.1', 9] }))).toBe('vma');
    expect(findRule(rules, q('udp_sender', { remote: ['198.18.0.1', 9] }))?.transport).toBe('*');
  });

  it('uses only the first application-id instance that matches program and user id', () => {
    const rules = parsed([
      'application-id tcp_lat B1',
      'use os tcp_client *:*:*:*',
      'application-id no[de]* *',
      'use os udp_receiver *:9999',
      'application-id * *',
      'use os udp_receiver *:*',
    ]);
    expect(matchRule(rules, q('tcp_client', { remote: ['198.18.0.1', 2], program: 'tcp_lat', appId: 'B1' }))).toBe('os');
    expect(matchRule(rules, q('tcp_client', { remote: ['198.18.0.1', 2], program: 'tcp_lat', appId: 'B2' }))).toBe('vma');
    // node matches the second instance: its 9999 rule applies and the * * instance is never reached,
    // even when nothing in the second instance matches.
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.2', 9999], program: 'node' }))).toBe('os');
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.2', 1234], program: 'node' }))).toBe('vma');
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.2', 1234], program: 'nodejs' }))).toBe('vma');
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.2', 1234], program: 'python3' }))).toBe('os');
    // VMA_APPLICATION_ID=* matches every instance's id.
    expect(matchRule(rules, q('tcp_client', { remote: ['198.18.0.1', 2], program: 'tcp_lat', appId: '*' }))).toBe('os');
  });

  it('an application-id repeated later re-opens its instance', () => {
    const rules = parsed(['application-id a* X', 'use os tcp_server *:1', 'application-id * *', 'use os tcp_server *:2', 'application-id a* X', 'use os tcp_server *:3']);
    expect(rules.instances.map((i) => `${i.program} ${i.userId}`)).toEqual(['a* X', '* *']);
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.0.2', 3], program: 'app', appId: 'X' }))).toBe('os');
  });

  it('a missing first address is the unspecified address 0.0.0.0:0', () => {
    const rules = parsed(['use os udp_receiver 0.0.0.0:0', 'use os udp_sender *:*']);
    expect(matchRule(rules, q('udp_receiver'))).toBe('os');
    expect(matchRule(rules, q('udp_sender'))).toBe('os');
  });
});

describe('libvma.conf: the socket()-time check (matchByProgram)', () => {
  const decide = (lines: string[], protocol: 'tcp' | 'udp' = 'tcp'): string => matchByProgram(parsed(lines), { program: 'node', appId: DEFAULT_ID, protocol });

  it('is os only when both the server and the client list are decided os by a catch-all rule', () => {
    expect(decide(['use os tcp_server *:*', 'use os tcp_client *:*:*:*'])).toBe('os');
    expect(decide(['use os tcp_server *:*'])).toBe('vma');
    expect(decide(['use os tcp_server *:*', 'use os tcp_client *:*:*:*'], 'udp')).toBe('vma');
    expect(decide(['use os udp_receiver *:*', 'use os udp_sender *:*'], 'udp')).toBe('os');
  });

  it('a specific vma rule before the catch-all keeps the socket for per-call rules', () => {
    expect(decide(['use vma tcp_server *:80', 'use os tcp_server *:*', 'use os tcp_client *:*'])).toBe('vma');
    // A specific address, even 0.0.0.0/0, is not a catch-all.
    expect(decide(['use os tcp_server 0.0.0.0/0:*', 'use os tcp_client *:*'])).toBe('vma');
    expect(decide(['use os tcp_server *:80', 'use os tcp_server *:*', 'use os tcp_client *:*'])).toBe('os');
  });

  it('moves on to the next matching instance when the lists disagree', () => {
    expect(decide(['application-id n* *', 'use os tcp_server *:*', 'application-id * *', 'use os tcp_server *:*', 'use os tcp_client *:*'])).toBe('os');
  });
});

describe('libvma.conf: add_conf_rule', () => {
  it('puts a rule on top of its role list', () => {
    const rules = parsed(['application-id * *', 'use vma udp_receiver *:*']);
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.2', 7000] }))).toBe('vma');
    expect(addConfRule(rules, 'use os udp_receiver *:7000')).toBe(0);
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.2', 7000] }))).toBe('os');
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.2', 7001] }))).toBe('vma');
    expect(addConfRule(rules, 'use vma udp_receiver *:7000')).toBe(0);
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.2', 7000] }))).toBe('vma');
  });

  it('goes into the instance the last application-id opened', () => {
    const rules = parsed(['application-id * *', 'use vma tcp_server *:*', 'application-id other *']);
    expect(addConfRule(rules, 'use os tcp_server *:*')).toBe(0);
    expect(rules.instances[0].rules.tcp_server).toHaveLength(1);
    expect(rules.instances[1].rules.tcp_server).toHaveLength(1);
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.0.2', 1] }))).toBe('vma');
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.0.2', 1], program: 'other' }))).toBe('vma'); // * * comes first
  });

  it('with no rules at all, opens a * * instance', () => {
    const rules = emptyRuleSet();
    expect(addConfRule(rules, 'use os tcp_client *:*')).toBe(0);
    expect(rules.instances.map((i) => `${i.program} ${i.userId}`)).toEqual(['* *']);
    expect(matchRule(rules, q('tcp_client', { remote: ['198.18.0.1', 80] }))).toBe('os');
  });

  it('may carry its own application-id; new instances go last, as in VMA', () => {
    const rules = parsed(['application-id * *', 'use vma tcp_server *:*']);
    expect(addConfRule(rules, 'application-id node *\nuse os tcp_server *:*')).toBe(0);
    expect(rules.instances.map((i) => i.program)).toEqual(['*', 'node']);
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.0.2', 1] }))).toBe('vma');
  });

  it('returns -1 for a malformed line, keeping the well-formed statements of the call', () => {
    const rules = emptyRuleSet();
    expect(addConfRule(rules, 'use nonsense')).toBe(-1);
    expect(rules.instances).toEqual([]);
    expect(addConfRule(rules, 'use os tcp_server *:1\nuse os tcp_server *:99999')).toBe(-1);
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.0.2', 1] }))).toBe('os');
  });

  it('formatRules prints the table in priority order, and it parses back to the same decisions', () => {
    const rules = parsed(['application-id * *', 'use vma udp_receiver 198.18.0.0/16:1000-2000', 'use os tcp_client 198.18.0.1:80:*:*']);
    addConfRule(rules, 'use os udp_receiver *:1500');
    expect(formatRules(rules)).toBe([
      'application-id * *',
      'use os tcp_client 198.18.0.1:80:*:*',
      'use os udp_receiver *:1500',
      'use vma udp_receiver 198.18.0.0/16:1000-2000',
      '',
    ].join('\n'));
    expect(formatRules(parseRules(formatRules(rules), 'again').rules)).toBe(formatRules(rules));
  });
});

describe('libvma.conf: syntax', () => {
  it('reports malformed lines with file:line and skips them', () => {
    const { rules, errors } = parseRules([
      'use os udp_receiver *:80',
      'use fast udp_receiver *:1',
      'use os udp_sideways *:1',
      'use os udp_receiver 198.18.0.1:99999',
      'use os udp_receiver 198.18.0.1:10-5',
      'use os udp_receiver 300.1.1.1:1',
      'use os udp_receiver 198.18.0.1',
      'frobnicate',
      'application-id onlyone',
      'log destination ystderr min-level 9   # accepted, ignored',
      'use os udp_receiver 198.18.0.1:080',
      'use os tcp tcp_server *:1',
      'use os udp_receiver 198.18.0.1/24/8:1',
      'use os udp_receiver *:81',
    ].join('\n'), 'bad.conf');
    expect(errors.map((e) => `${e.file}:${e.line}`)).toEqual([
      'bad.conf:2', 'bad.conf:3', 'bad.conf:4', 'bad.conf:5', 'bad.conf:6', 'bad.conf:7', 'bad.conf:8', 'bad.conf:9', 'bad.conf:11', 'bad.conf:12', 'bad.conf:13',
    ]);
    expect(errors[0].message).toBe('unknown transport "fast" (expected vma, os, sdp, sa or *)');
    expect(errors[1].message).toMatch(/^unknown role "udp_sideways"/);
    expect(errors[2].message).toBe('port out of range in "99999" (0-65535)');
    expect(errors[3].message).toBe('empty port range "10-5"');
    expect(errors[4].message).toBe('bad address "300.1.1.1" (each part must be 0-255)');
    expect(errors[5].message).toMatch(/^bad tuple "198.18.0.1"/);
    expect(errors[6].message).toMatch(/^unknown statement "frobnicate"/);
    expect(errors[7].message).toBe('expected: application-id PROGRAM USER_ID');
    expect(errors[8].message).toBe('bad ports "080" (expected N, N-M or *)');
    // The lines around the bad ones still count.
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.2', 80] }))).toBe('os');
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.2', 81] }))).toBe('os');
    expect(matchRule(rules, q('udp_receiver', { local: ['198.18.0.2', 82] }))).toBe('vma');
  });

  it('takes comments anywhere, leading blanks, tabs, CRLF, and blanks between tuple tokens', () => {
    const rules = parsed([
      '   # indented comment',
      '\tuse os tcp_server 198.18.0.1 : 80  # trailing comment\r',
      'use os tcp_server 198.18.0.2:81-82:*:*\r',
    ]);
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.0.1', 80] }))).toBe('os');
    expect(matchRule(rules, q('tcp_server', { local: ['198.18.0.2', 82] }))).toBe('os');
  });

  it('property: arbitrary text never throws, and whatever parses prints and re-parses to the same table', () => {
    const tokens = fc.constantFrom('use', 'os', 'vma', 'sdp', '*', 'tcp_server', 'udp_sender', 'tcp_client', '*:*', '198.18.0.1/24:80-90',
      '198.18.0.1:5', 'application-id', 'log', '#', '\n', '\r\n', ' ', ':', '/', '-', '1', '0', '[', ']');
    fc.assert(fc.property(fc.array(fc.oneof(tokens, fc.string({ maxLength: 8 })), { maxLength: 40 }), (parts) => {
      const { rules } = parseRules(parts.join(' '), 'fuzz');
      matchRule(rules, q('tcp_server', { local: ['198.18.0.1', 85] }));
      matchByProgram(rules, { program: 'node', appId: DEFAULT_ID, protocol: 'tcp' });
      const text = formatRules(rules);
      const again = parseRules(text, 'again');
      expect(again.errors).toEqual([]);
      expect(formatRules(again.rules)).toBe(text);
      addConfRule(rules, parts.slice(0, 6).join(' '));
    }), { numRuns: 1500 });
  });
});

describe('fnmatch', () => {
  it('handles *, ?, sets, ranges, negation and escapes', () => {
    expect(fnmatch('*', '')).toBe(true);
    expect(fnmatch('no*', 'node')).toBe(true);
    expect(fnmatch('n?de', 'node')).toBe(true);
    expect(fnmatch('n?de', 'nde')).toBe(false);
    expect(fnmatch('[mn]ode', 'node')).toBe(true);
    expect(fnmatch('[!n]ode', 'node')).toBe(false);
    expect(fnmatch('[^n]ode', 'mode')).toBe(true);
    expect(fnmatch('[a-c]x', 'bx')).toBe(true);
    expect(fnmatch('[]]', ']')).toBe(true);
    expect(fnmatch('[a-]', '-')).toBe(true);
    expect(fnmatch('*.js', 'app.ts')).toBe(false);
    expect(fnmatch('a\\*', 'a*')).toBe(true);
    expect(fnmatch('a\\*', 'ab')).toBe(false);
    expect(fnmatch('[ab', '[ab')).toBe(true);
    expect(fnmatch('*a*b*c', 'xaybzc')).toBe(true);
    expect(fnmatch('*a*b*c', 'xaybz')).toBe(false);
  });

  it('property: agrees with a regular expression on patterns of *, ? and letters', () => {
    const toRe = (p: string): RegExp => new RegExp(`^${[...p].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c)).join('')}$`, 's');
    fc.assert(fc.property(
      fc.array(fc.constantFrom('a', 'b', '*', '?'), { maxLength: 8 }).map((a) => a.join('')),
      fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 10 }).map((a) => a.join('')),
      (p, s) => { expect(fnmatch(p, s)).toBe(toRe(p).test(s)); },
    ), { numRuns: 3000 });
  });

  it('stays fast on a pathological pattern', () => {
    const t = process.hrtime.bigint();
    expect(fnmatch('*a*a*a*a*a*a*a*a*b', 'a'.repeat(200))).toBe(false);
    expect(Number(process.hrtime.bigint() - t) / 1e6).toBeLessThan(200);
  });
});

describe('loadRulesFile and applicationIdWarning', () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-rules-')); });
  afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  it('a missing file is no rules', () => {
    const r = loadRulesFile(path.join(dir, 'nope.conf'));
    expect([r.missing, r.unreadable, r.errors, r.rules.instances]).toEqual([true, null, [], []]);
  });

  it('an unreadable path (a directory) is no rules, reported', () => {
    const r = loadRulesFile(dir);
    expect(r.missing).toBe(false);
    expect(r.unreadable).toBe(`${dir}: EISDIR`);
    expect(r.rules.instances).toEqual([]);
  });

  it('reads and parses a file, errors carrying its path', () => {
    const f = path.join(dir, 'libvma.conf');
    fs.writeFileSync(f, 'application-id * *\nuse os udp_connect *:53\nuse maybe udp_connect *:1\n');
    const r = loadRulesFile(f);
    expect(r.errors).toEqual([{ file: f, line: 3, message: 'unknown transport "maybe" (expected vma, os, sdp, sa or *)' }]);
    expect(matchRule(r.rules, q('udp_connect', { remote: ['198.18.0.1', 53] }))).toBe('os');
  });

  it('warns when a non-default VMA_APPLICATION_ID matches no instance', () => {
    const rules = parsed(['application-id tcp_lat B1', 'use os tcp_server *:*']);
    expect(applicationIdWarning(rules, 'node', DEFAULT_ID)).toBeNull();
    expect(applicationIdWarning(rules, 'tcp_lat', 'B1')).toBeNull();
    expect(applicationIdWarning(rules, 'node', 'B1')).toBe('VMA_APPLICATION_ID=B1 matches no application-id in the rule file (program node)');
    expect(applicationIdWarning(emptyRuleSet(), 'node', 'B1')).not.toBeNull();
  });
});
