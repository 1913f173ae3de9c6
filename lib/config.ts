/**
 * The process's configuration, resolved once: lib/ is the only layer that reads process.env, and
 * this is the only place in lib/ that does. It resolves the TSVMA_* / VMA_* variables (conf/env.ts)
 * and reads the libvma.conf rules named by VMA_CONFIG_FILE; everything below gets the frozen result.
 */
import * as path from 'node:path';
import { applicationIdWarning, loadRulesFile, resolveConfig, type Config, type RuleError, type RuleSet } from '../conf';

export interface LoadedConfig {
  readonly config: Readonly<Config>;
  /** The libvma.conf rules (mutable: add_conf_rule adds to them). */
  readonly rules: RuleSet;
  /** Malformed rule-file lines (each skipped). */
  readonly ruleErrors: readonly RuleError[];
  /** The program name rule globs are matched against: the executable's short name, as VMA's program_invocation_short_name. */
  readonly program: string;
  /** config.warnings plus the rule file's: missing or unreadable file, unmatched VMA_APPLICATION_ID. */
  readonly warnings: readonly string[];
}

let loaded: LoadedConfig | null = null;

/**
 * Resolves the configuration and loads the rule file, once; later calls return the same object
 * whatever `env` they pass (call resetConfigForTests() first to resolve again). Throws ConfigError
 * (code ERR_TSVMA_CONFIG) on a bad value. A missing rule file is no rules (offload everything); if
 * VMA_CONFIG_FILE names it explicitly, that is also a warning, as is an unreadable file.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  if (loaded) return loaded;
  const config = resolveConfig(env);
  const file = loadRulesFile(config.vma.configFile);
  const program = path.basename(process.argv0 || process.execPath);
  const warnings = [...config.warnings];
  if (file.missing && config.sources.configFile !== 'default') warnings.push(`VMA_CONFIG_FILE=${config.vma.configFile}: no such file; no rules apply`);
  if (file.unreadable) warnings.push(`VMA_CONFIG_FILE: cannot read ${file.unreadable}; no rules apply`);
  for (const e of file.errors) warnings.push(`${e.file}:${e.line}: ${e.message}; line skipped`);
  const appIdWarning = applicationIdWarning(file.rules, program, config.vma.applicationId);
  if (appIdWarning) warnings.push(appIdWarning);
  loaded = Object.freeze({ config, rules: file.rules, ruleErrors: Object.freeze(file.errors), program, warnings: Object.freeze(warnings) });
  return loaded;
}

/** The resolved configuration (resolving it from process.env on first use). */
export function getConfig(): Readonly<Config> {
  return loadConfig().config;
}

/** Forgets the resolved configuration so the next loadConfig() resolves again (tests only). */
export function resetConfigForTests(): void {
  loaded = null;
}
