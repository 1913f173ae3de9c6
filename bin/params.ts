/** `tsvma params [--markdown]`: every parameter tsvma honours, its value here and its meaning. */
import { ConfigError, formatValue, parametersMarkdown, resolveConfig, tsvmaParams, vmaParams } from '../conf';

export async function params(args: string[]): Promise<number> {
  if (args.includes('--markdown')) {
    process.stdout.write(parametersMarkdown());
    return 0;
  }
  if (args.length > 0) {
    process.stderr.write('usage: tsvma params [--markdown]\n');
    return 2;
  }
  let cfg;
  try {
    cfg = resolveConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tsvma params: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const rows: string[][] = [['variable', 'value', 'default', 'meaning']];
  for (const p of tsvmaParams) rows.push([p.env, process.env[p.env] ?? '(unset)', p.default.replace(/`/g, '').split(/[;(]/)[0].trim(), p.doc]);
  for (const p of vmaParams) {
    const v = (cfg.vma as Record<string, unknown>)[p.key];
    rows.push([p.env, formatValue(p, v) + (process.env[p.env] !== undefined ? ' *' : ''), formatValue(p, p.default), p.doc]);
  }
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) process.stdout.write(`${r[0].padEnd(w[0])}  ${r[1].padEnd(w[1])}  ${r[2].padEnd(w[2])}  ${r[3]}\n`);
  if (cfg.profile) process.stdout.write(`\nVMA_SPEC profile: ${cfg.profile}\n`);
  for (const warning of cfg.warnings) process.stdout.write(`warning: ${warning}\n`);
  process.stdout.write('\n* set in the environment\n');
  return 0;
}
