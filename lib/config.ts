/** Resolves the process's configuration once from the environment (the only place lib/ reads it). */
export function loadConfig(_env: NodeJS.ProcessEnv): void {
  // Filled in by conf/ (issue 2): parameters table, TSVMA_* surface.
}
