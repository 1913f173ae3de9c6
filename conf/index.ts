/**
 * conf/ — VMA_* and TSVMA_* parameters, VMA_SPEC profiles, libvma.conf rules.
 *
 * Contract: a leaf. Imports nothing from the other layers (Node's fs only, to read a rule file).
 * Configuration is declared once as data (params.ts, tsvma.ts) and resolved once into a deeply
 * frozen object (`resolveConfig`) that lib/ passes down; nothing below lib/ reads process.env.
 * Bad values throw ConfigError (code ERR_TSVMA_CONFIG) naming the variable, the value and what is
 * accepted; malformed rule lines are reported with file:line and skipped, never thrown.
 */
export * from './params';
export * from './profiles';
export * from './tsvma';
export * from './env';
export * from './rules';
export * from './docs';
export { formatIpv4Text, parseIpv4Text, parseMacText, maskOf } from './text';
