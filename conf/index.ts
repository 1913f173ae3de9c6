/**
 * conf/ — the configuration surface: tsvma's TSVMA_* variables and the VMA_* parameters it honours
 * (one typed table, params.ts), VMA_SPEC profiles (profiles.ts), resolution of an environment map
 * into a frozen Config (env.ts), docs/parameters.md (docs.ts), and libvma.conf rules: parser,
 * matcher, add_conf_rule (rules.ts).
 *
 * Layer contract:
 * - A leaf: imports no other tsvma layer (eslint enforces it), only node:fs (rules.ts reads a rule
 *   file when asked). Every layer may import conf, for types and for the resolved values.
 * - Never reads process.env: `resolveConfig(env)` takes the map. lib/config.ts is the one place that
 *   passes process.env in, once, and hands the frozen Config down; nothing below lib/ reads the
 *   environment (STYLE.md rule 11).
 * - Configuration is declared once as data. Adding a parameter is adding a row to params.ts; the
 *   Config type, the parser, `tsvma params` and docs/parameters.md follow from it.
 * - Errors: a bad configuration value throws ConfigError (code ERR_TSVMA_CONFIG) whose message names
 *   the variable, the value and what is accepted. Rule-file text never throws: a malformed line is
 *   reported as {file, line, message} and skipped.
 * - No clock, no timers, no allocation concerns: this runs once at start-up (and on add_conf_rule).
 */
export * from './params';
export * from './profiles';
export * from './values';
export * from './env';
export * from './rules';
export * from './docs';
