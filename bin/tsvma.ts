#!/usr/bin/env node
/**
 * The `tsvma` command: one binary, several subcommands (decode, params, ...).
 * Layer contract (bin/): may import everything; owns process exit codes and argument parsing.
 */
import { main } from './main';

// `tsvma decode x | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`tsvma: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
