import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { params as allParams, parametersMarkdown, resolveConfig } from '../conf';
import { paramsTable } from './params';

describe('tsvma params: the table', () => {
  it('has a row per parameter with its value, where it came from and its default', () => {
    const out = paramsTable(resolveConfig({ VMA_SPEC: 'latency', VMA_RX_POLL: '5', TSVMA_DEVICE: 'sim' }));
    const lines = out.split('\n');
    for (const p of allParams) expect(lines.filter((l) => l.startsWith(`${p.env} `))).toHaveLength(1);
    const row = (env: string): string[] => lines.find((l) => l.startsWith(`${env} `))!.split(/\s{2,}/);
    expect(row('VMA_RX_POLL').slice(0, 4)).toEqual(['VMA_RX_POLL', '5', 'env', '100000']);
    expect(row('VMA_TX_WRE').slice(0, 4)).toEqual(['VMA_TX_WRE', '256', 'profile', '2048']);
    expect(row('TSVMA_DEVICE').slice(0, 4)).toEqual(['TSVMA_DEVICE', 'sim', 'env', '(unset)']);
    expect(row('VMA_CQ_POLL_BATCH_MAX')).toEqual(['VMA_CQ_POLL_BATCH_MAX', '16', '16', 'Maximum completions processed per poll.']);
    expect(out.endsWith('\nProfile applied (VMA_SPEC): latency\n')).toBe(true);
  });
});

const cli = path.join(__dirname, '..', 'dist', 'bin', 'tsvma.js');
const run = (args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [cli, 'params', ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, encoding: 'utf8' });

// Runs the built CLI (npm test builds first); skipped without dist/.
(fs.existsSync(cli) ? describe : describe.skip)('tsvma params: the command (dist/bin/tsvma.js)', () => {
  it('prints the table for the environment, warnings on stderr', () => {
    const r = run([], { VMA_SPEC: '15', VMA_RX_POLL: '5', VMA_NOT_A_THING: '1' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^VMA_RX_POLL +5 +env +100000 /m);
    expect(r.stdout).toMatch(/^VMA_TX_WRE +256 +profile +2048 /m);
    expect(r.stdout).toMatch(/^TSVMA_LOG +warn +warn /m);
    expect(r.stderr).toBe('tsvma params: warning: VMA_NOT_A_THING is not a parameter tsvma knows; ignored\n');
  });

  it('exits 1 with the error for a bad value, 2 for bad arguments', () => {
    const bad = run([], { VMA_CQ_POLL_BATCH_MAX: '500' });
    expect([bad.status, bad.stdout, bad.stderr]).toEqual([1, '', 'tsvma params: VMA_CQ_POLL_BATCH_MAX="500": must be an integer from 1 to 128\n']);
    const usage = run(['--json']);
    expect([usage.status, usage.stderr]).toEqual([2, 'usage: tsvma params [--markdown]\n']);
  });

  it('--markdown prints docs/parameters.md, whatever the environment (rebuild if this fails after a table change)', () => {
    const r = run(['--markdown'], { VMA_CQ_POLL_BATCH_MAX: '500' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(parametersMarkdown());
  });
});
