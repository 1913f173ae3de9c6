import fc from 'fast-check';
import { addConfRule, fnmatch, formatRules, matchRule, parseRules, type MatchQuery } from './rules';
import { parseIpv4Text as ip } from './text';

const q = (role: MatchQuery['role'], local?: [string, number], remote?: [string, number], program = 'node', appId = 'VMA_DEFAULT_APPLICATION_ID'): MatchQuery => ({
  program, appId, role,
  local: local && { ip: ip(local[0]), port: local[1] },
  remote: remote && { ip: ip(remote[0]), port: remote[1] },
});

describe('libvma.conf rules', () => {
  it('offloads everything when there are no rules', () => {
    const { rules, errors } = parseRules('# nothing here\n\n', 'empty.conf');
    expect(errors).toEqual([]);
    expect(matchRule(rules, q('udp_receiver', ['198.18.0.2', 53]))).toBe('vma');
  });

  it("applies VMA's default file: DNS client sockets stay in the kernel", () => {
    const { rules } = parseRules('application-id * *\nuse os udp_connect *:53\n', '/etc/libvma.conf');
    expect(matchRule(rules, q('udp_connect', undefined, ['198.18.0.1', 53]))).toBe('os');
    expect(matchRule(rules, q('udp_connect', undefined, ['198.18.0.1', 54]))).toBe('vma');
    expect(matchRule(rules, q('udp_sender', undefined, ['198.18.0.1', 53]))).toBe('vma');
  });

  it('first match wins, with prefixes masked on both sides and port ranges', () => {
    const { rules, errors } = parseRules([
      'use os tcp_server 198.18.1.7/24:5001',
      'use vma tcp_server *:5000-5010',
      'use os tcp_server *:*',
    ].join('\n'), 'r.conf');
    expect(errors).toEqual([]);
    expect(matchRule(rules, q('tcp_server', ['198.18.1.200', 5001]))).toBe('os'); // 1.7/24 acts as 1.0/24
    expect(matchRule(rules, q('tcp_server', ['198.18.2.1', 5001]))).toBe('vma');
    expect(matchRule(rules, q('tcp_server', ['198.18.2.1', 5011]))).toBe('os');
  });

  it('matches 5-tuple rules on remote then local', () => {
    const { rules } = parseRules('use os tcp_client 198.18.0.0/16:80:198.18.5.5:*\n', 'r.conf');
    expect(matchRule(rules, q('tcp_client', ['198.18.5.5', 40000], ['198.18.9.9', 80]))).toBe('os');
    expect(matchRule(rules, q('tcp_client', ['198.18.5.6', 40000], ['198.18.9.9', 80]))).toBe('vma');
    expect(matchRule(rules, q('tcp_client', ['198.18.5.5', 40000], ['198.18.9.9', 81]))).toBe('vma');
  });

  it('uses the first application-id instance that matches program and user id', () => {
    const text = [
      'application-id tcp_lat B1',
      'use os tcp_client *:*:*:*',
      'application-id no[de]* *',
      'use os udp_receiver *:9999',
      'application-id * *',
      'use os udp_receiver *:*',
    ].join('\n');
    const { rules, errors } = parseRules(text, 'r.conf');
    expect(errors).toEqual([]);
    expect(matchRule(rules, q('tcp_client', ['198.18.0.2', 1], ['198.18.0.1', 2], 'tcp_lat', 'B1'))).toBe('os');
    expect(matchRule(rules, q('tcp_client', ['198.18.0.2', 1], ['198.18.0.1', 2], 'tcp_lat', 'B2'))).toBe('vma');
    // node matches the second instance: its 9999 rule applies, the * * instance is never reached.
    expect(matchRule(rules, q('udp_receiver', ['198.18.0.2', 9999], undefined, 'node'))).toBe('os');
    expect(matchRule(rules, q('udp_receiver', ['198.18.0.2', 1234], undefined, 'node'))).toBe('vma');
    expect(matchRule(rules, q('udp_receiver', ['198.18.0.2', 1234], undefined, 'python3'))).toBe('os');
  });

  it('never matches sdp or sa rules', () => {
    const { rules } = parseRules('use sdp udp_sender *:*\nuse sa udp_sender *:*\nuse os udp_sender *:7\n', 'r.conf');
    expect(matchRule(rules, q('udp_sender', undefined, ['198.18.0.1', 1]))).toBe('vma');
    expect(matchRule(rules, q('udp_sender', undefined, ['198.18.0.1', 7]))).toBe('os');
  });

  it('add_conf_rule puts a rule on top of its role list', () => {
    const { rules } = parseRules('application-id * *\nuse vma udp_receiver *:*\n', 'r.conf');
    expect(matchRule(rules, q('udp_receiver', ['198.18.0.2', 7000]))).toBe('vma');
    expect(addConfRule(rules, 'use os udp_receiver *:7000')).toBe(0);
    expect(matchRule(rules, q('udp_receiver', ['198.18.0.2', 7000]))).toBe('os');
    expect(matchRule(rules, q('udp_receiver', ['198.18.0.2', 7001]))).toBe('vma');
    expect(addConfRule(rules, 'use nonsense')).toBe(-1);
    expect(formatRules(rules)).toContain('use os udp_receiver *:7000');
  });

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
      'log destination ystderr   # accepted, ignored',
    ].join('\n'), 'bad.conf');
    expect(errors.map((e) => `${e.file}:${e.line}`)).toEqual(['bad.conf:2', 'bad.conf:3', 'bad.conf:4', 'bad.conf:5', 'bad.conf:6', 'bad.conf:7', 'bad.conf:8', 'bad.conf:9']);
    expect(errors[0].message).toMatch(/unknown transport "fast"/);
    expect(matchRule(rules, q('udp_receiver', ['198.18.0.2', 80]))).toBe('os');
  });

  it('fnmatch handles *, ? and brackets', () => {
    expect(fnmatch('no*', 'node')).toBe(true);
    expect(fnmatch('n?de', 'node')).toBe(true);
    expect(fnmatch('[mn]ode', 'node')).toBe(true);
    expect(fnmatch('[!n]ode', 'node')).toBe(false);
    expect(fnmatch('[a-c]x', 'bx')).toBe(true);
    expect(fnmatch('*.js', 'app.ts')).toBe(false);
    expect(fnmatch('a\\*', 'a*')).toBe(true);
  });

  it('property: random text never throws', () => {
    const tokens = fc.constantFrom('use', 'os', 'vma', 'tcp_server', 'udp_sender', '*:*', '198.18.0.1/24:80-90', 'application-id', '*', '#', '\n', ' ', ':', '/', '-', '1');
    fc.assert(fc.property(fc.array(fc.oneof(tokens, fc.string()), { maxLength: 40 }), (parts) => {
      const { rules } = parseRules(parts.join(' '), 'fuzz');
      matchRule(rules, q('tcp_server', ['198.18.0.1', 85]));
      addConfRule(rules, parts.slice(0, 5).join(' '));
    }), { numRuns: 2000 });
  });
});
