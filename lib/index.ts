/**
 * tsvma's public entry point.
 *
 * Layer contract (lib/): the Node-facing API. May import proto, ring, conf (never bin). Reads
 * `process.env` once, at start-up, through conf/; argument errors are Node's `ERR_*` errors.
 */
export { version } from './version';
export { getVmaApi, getVmaApi as vma_get_api, fdOf, type VmaApi, type VmaInfo, type VmaPacket, type VmaRecvCallback, type ZcopyResult } from './extra/api';
export { VmaBuff, type VmaCompletion, type VmaPacketDesc } from './extra/xtreme';
export * from './extra/constants';
export { sendDummy } from './extra/dummy';
