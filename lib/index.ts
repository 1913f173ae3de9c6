/**
 * tsvma's public entry point.
 *
 * Layer contract (lib/): the Node-facing API. May import proto, ring, conf (never bin). Reads
 * `process.env` once, at start-up, through conf/; argument errors are Node's `ERR_*` errors.
 */
export { version } from './version';
