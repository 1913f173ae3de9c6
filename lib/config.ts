/**
 * The process's configuration: resolved once from the environment (lib/ is the only layer that
 * reads process.env) together with the libvma.conf rules named by VMA_CONFIG_FILE.
 */
import { loadRulesFile, resolveConfig, type Config, type RuleError, type RuleSet } from '../conf';

export interface Loaded {
  readonly config: Config;
  readonly rules: RuleSet;
  readonly ruleErrors: readonly RuleError[];
}

let loaded: Loaded | null = null;

/** Resolves the configuration (once; later calls return the same object). Throws ConfigError on a bad value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Loaded {
  if (loaded) return loaded;
  const config = resolveConfig(env);
  const { rules, errors } = loadRulesFile(config.vma.configFile);
  loaded = { config, rules, ruleErrors: errors };
  return loaded;
}

export function getConfig(): Config {
  return loadConfig().config;
}

/** Forgets the resolved configuration (tests). */
export function resetConfigForTests(): void {
  loaded = null;
}
