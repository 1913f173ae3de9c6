/**
 * verbs/ — koffi bindings to libibverbs and mlx5dv: the bottom layer of tsvma.
 *
 * Read in this order:
 *   raw.ts        lazy loading, functions under their C names, how verbs.h's macros and inlines
 *                 (ibv_reg_mr, ibv_query_port, ibv_create_flow, ibv_poll_cq, ibv_post_send, …)
 *                 are resolved
 *   types.ts      koffi structs under their C names; constants.ts: enum values
 *   layout.ts     every size/offset/constant used, checked against the installed headers by
 *                 layout.test.ts (gcc + libibverbs-dev; no device needed)
 *   context.ts    owning wrappers: Context, PD, MR, CompChannel, CQ, QP, AH, Flow; WcArray,
 *                 SendWrs, RecvWrs (native arrays for the data path); verbsAvailable()
 *   errors.ts     VerbsError (`ibv_modify_qp: EINVAL (22)`)
 *
 * Imports: nothing of tsvma's (the lint rule holds that); koffi only.
 *
 * Guarantees:
 * - Importing this folder loads no library. A missing libibverbs or a host without RDMA devices is
 *   a VerbsUnavailableError (or `verbsAvailable()` → `{ ok: false, reason }`) naming what is
 *   missing and how to get it, never a crash.
 * - Pointers (BigInt) stay inside verbs/: wrappers expose numbers, typed arrays and objects.
 * - Each wrapper owns one handle, closes its children first, is idempotent on close.
 * - Errors: a failed verb throws VerbsError (function + errno name + number); the data-path calls
 *   (CQ.poll, QP.postSend/postRecv, CQ.reqNotify, CompChannel.getEvent) return counts or errno
 *   values and allocate nothing.
 */
export * from './constants';
export {
  AH, CompChannel, Context, CQ, Flow, isV4Mapped, listDevices, MR, mtuBytes, PD, QP, qpTypeName, RecvWrs, SendWrs, verbsAvailable, WcArray,
  type AhOptions, type DeviceInfo, type FlowRule, type PortAttr, type QpOptions, type RcRemote, type VerbsAvailability,
} from './context';
export { errnoName, VerbsError } from './errors';
export { DEVICE_HINT, INSTALL_HINT, VerbsUnavailableError } from './raw';
