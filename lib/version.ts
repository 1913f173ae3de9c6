/** tsvma's version, from package.json (two levels up from dist/lib, one from the sources in lib). */
function readVersion(): string {
  for (const p of ['../../package.json', '../package.json']) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return (require(p) as { version: string }).version;
    } catch {
      // not this layout
    }
  }
  return '0.0.0';
}

export const version: string = readVersion();
