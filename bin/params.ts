/**
 * `tsvma params [--markdown]`: every TSVMA_* / VMA_* parameter tsvma honours, its value in this
 * environment, where that value came from, its default and its meaning. `--markdown` prints
 * docs/parameters.md instead (generated from the same tables; independent of the environment).
 */
import { ConfigError, formatParamValue, paramValue, params as allParams, parametersMarkdown, resolveConfig, type Config, type ParamName } from '../conf';

const usage = 'usage: tsvma params [--markdown]\n';

/** The text `tsvma params` prints for an environment (exported for tests). */
export function paramsTable(cfg: Readonly<Config>): string {
  const rows: string[][] = [['variable', 'value', 'from', 'default', 'meaning']];
  for (const p of allParams) {
    const source = cfg.sources[p.name as ParamName];
    const value = formatParamValue(p, paramValue(cfg, p));
    const def = formatParamValue(p, p.default);
    rows.push([p.env, value, source === 'default' ? '' : source, def, p.doc]);
  }
  const width = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => [0, 1, 2, 3].map((i) => r[i].padEnd(width[i])).join('  ') + '  ' + r[4]);
  if (cfg.vma.spec) lines.push('', `Profile applied (VMA_SPEC): ${cfg.vma.spec}`);
  return lines.join('\n') + '\n';
}

export async function params(args: string[]): Promise<number> {
  if (args.length === 1 && args[0] === '--markdown') {
    process.stdout.write(parametersMarkdown());
    return 0;
  }
  if (args.length > 0) {
    process.stderr.write(usage);
    return 2;
  }
  let cfg: Readonly<Config>;
  try {
    cfg = resolveConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tsvma params: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  process.stdout.write(paramsTable(cfg));
  for (const w of cfg.warnings) process.stderr.write(`tsvma params: warning: ${w}\n`);
  return 0;
}
