import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, matchRule } from '../conf';
import { getConfig, loadConfig, resetConfigForTests } from './config';

describe('lib/config', () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-config-')); });
  afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });
  afterEach(() => { resetConfigForTests(); });

  it('resolves once and loads the rule file VMA_CONFIG_FILE names', () => {
    const file = path.join(dir, 'libvma.conf');
    fs.writeFileSync(file, 'application-id * *\nuse os udp_connect *:53\nuse os bogus *:1\n');
    const a = loadConfig({ VMA_CONFIG_FILE: file, VMA_RX_POLL: '7' });
    expect(a.config.vma.rxPoll).toBe(7);
    expect(matchRule(a.rules, { program: a.program, appId: a.config.vma.applicationId, role: 'udp_connect', remote: { ip: 0xc6120001, port: 53 } })).toBe('os');
    expect(a.ruleErrors).toEqual([{ file, line: 3, message: 'unknown role "bogus" (expected tcp_server, tcp_client, udp_receiver, udp_sender, udp_connect)' }]);
    expect(a.warnings).toEqual([`${file}:3: unknown role "bogus" (expected tcp_server, tcp_client, udp_receiver, udp_sender, udp_connect); line skipped`]);
    expect(a.program).toBe(path.basename(process.argv0));
    // Cached: a later call, whatever it passes, gets the same object.
    expect(loadConfig({ VMA_RX_POLL: '8' })).toBe(a);
    expect(getConfig()).toBe(a.config);
    expect(Object.isFrozen(a)).toBe(true);
    resetConfigForTests();
    expect(loadConfig({ VMA_RX_POLL: '8', VMA_CONFIG_FILE: file }).config.vma.rxPoll).toBe(8);
  });

  it('a missing file named explicitly is no rules and a warning; an unreadable one too', () => {
    const missing = path.join(dir, 'nope.conf');
    const a = loadConfig({ VMA_CONFIG_FILE: missing });
    expect(a.rules.instances).toEqual([]);
    expect(a.warnings).toEqual([`VMA_CONFIG_FILE=${missing}: no such file; no rules apply`]);
    resetConfigForTests();
    const b = loadConfig({ VMA_CONFIG_FILE: dir });
    expect(b.warnings).toEqual([`VMA_CONFIG_FILE: cannot read ${dir}: EISDIR; no rules apply`]);
  });

  it('warns when VMA_APPLICATION_ID matches no application-id', () => {
    const file = path.join(dir, 'app.conf');
    fs.writeFileSync(file, 'application-id tcp_lat B1\nuse os tcp_server *:*\n');
    const a = loadConfig({ VMA_CONFIG_FILE: file, VMA_APPLICATION_ID: 'B1' });
    expect(a.warnings).toEqual([`VMA_APPLICATION_ID=B1 matches no application-id in the rule file (program ${a.program})`]);
  });

  it('throws ConfigError on a bad value and caches nothing', () => {
    expect(() => loadConfig({ TSVMA_DEVICE: 'nic' })).toThrow(ConfigError);
    expect(loadConfig({ VMA_CONFIG_FILE: path.join(dir, 'none.conf') }).config.device).toBeNull();
  });
});
