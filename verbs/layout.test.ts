/**
 * The koffi declarations (verbs/types.ts) and constants (verbs/constants.ts) against the installed
 * rdma-core headers: a C program compiled here prints sizeof/offsetof/value of every entry of
 * verbs/layout.ts. Needs gcc and libibverbs-dev (verbs.h, mlx5dv.h), not a device; skips with the
 * reason when either is missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { layoutChecks } from './layout';

const HEADERS = ['/usr/include/infiniband/verbs.h', '/usr/include/infiniband/mlx5dv.h'];
const missing = [
  ...(spawnSync('gcc', ['--version']).status === 0 ? [] : ['gcc']),
  ...HEADERS.filter((h) => !fs.existsSync(h)),
];
const maybe = missing.length === 0 ? describe : describe.skip;
if (missing.length) {
  console.warn(`verbs layout test skipped: missing ${missing.join(', ')} (apt-get install gcc libibverbs-dev)`);
}

maybe('verbs/types.ts and constants.ts match the installed rdma-core headers', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-verbs-layout-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('every size, offset and constant tsvma uses', () => {
    const checks = layoutChecks();
    const src = [
      '#include <stdio.h>', '#include <stddef.h>', '#include <fcntl.h>', '#include <errno.h>', '#include <infiniband/verbs.h>', '#include <infiniband/mlx5dv.h>',
      'int main(void) {',
      ...checks.map((k) => `  printf("%ld\\n", (long)(${k.c}));`),
      '  return 0;', '}', '',
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'l.c'), src);
    execFileSync('gcc', ['-o', path.join(dir, 'l'), path.join(dir, 'l.c')]);
    const real = execFileSync(path.join(dir, 'l'), { encoding: 'utf8' }).trim().split('\n').map(Number);
    expect(real.length).toBe(checks.length);
    expect(checks.length).toBeGreaterThan(250);
    const wrong = checks.map((k, i) => ({ c: k.c, ours: k.ours, real: real[i] })).filter((r) => r.ours !== r.real);
    expect(wrong).toEqual([]);
  });
});
