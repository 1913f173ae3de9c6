/**
 * Raw libibverbs and mlx5dv functions, under their C names and prototypes (man ibv_*(3),
 * verbs.h). Read this after verbs/index.ts; the structs are in verbs/types.ts, the wrappers that
 * own handles and throw typed errors in verbs/context.ts.
 *
 * Loading is lazy: nothing is dlopen'ed until `ibv()` (or `mlx5dv()`) is called, and a missing
 * library is a VerbsUnavailableError saying which package provides it, never a crash at import.
 *
 * Symbols, as verbs.h maps them:
 * - Exported functions (ibv_get_device_list, ibv_open_device, ibv_alloc_pd, ibv_reg_mr, …) are
 *   bound by name; libibverbs exports many twice (@IBVERBS_1.0 compat, @@IBVERBS_1.1 default) and
 *   dlsym — what koffi uses — returns the default, which is what the C header links against.
 * - `ibv_reg_mr` is a macro: with access bits in IBV_ACCESS_OPTIONAL_RANGE it becomes
 *   ibv_reg_mr_iova2(pd, addr, len, addr, access). `reg_mr` below does the same.
 * - `ibv_query_port` is a macro over the inline ___ibv_query_port: verbs_context->query_port with
 *   sizeof(struct ibv_port_attr) when the provider has it, else the exported compat
 *   ibv_query_port (which fills the compat prefix). `query_port` below does the same.
 * - `ibv_query_device_ex`, `ibv_create_flow`, `ibv_destroy_flow` are inlines over verbs_context
 *   members (verbs_get_ctx_op: abi_compat must be the extended marker, `sz` must cover the
 *   member, the pointer must be set); missing → EOPNOTSUPP, as in C.
 * - `ibv_poll_cq`, `ibv_req_notify_cq`, `ibv_post_send`, `ibv_post_recv` are inlines calling
 *   context->ops.*: `Ops` decodes those four function pointers once per context.
 *
 * Pointers are BigInt (koffi 3); NULL is null. Pointers never leave verbs/.
 */
import koffi from 'koffi';
import { IBV_ACCESS_OPTIONAL_RANGE } from './constants';
import { off } from './layout';
import * as T from './types';

/** What is missing and how to get it. */
export class VerbsUnavailableError extends Error {
  override readonly name = 'VerbsUnavailableError';
  constructor(message: string, readonly missing: 'library' | 'device') {
    super(message);
  }
}

export const LIBIBVERBS = 'libibverbs.so.1';
export const LIBMLX5 = 'libmlx5.so.1';
export const INSTALL_HINT = 'install rdma-core\'s user-space packages: apt-get install libibverbs1 ibverbs-providers rdma-core';
export const DEVICE_HINT = 'load a driver for an RDMA NIC (e.g. mlx5_ib for ConnectX), or create a soft-RoCE device on a netdev: rdma link add rxe0 type rxe netdev IF';

type Ptr = bigint;
type Fn = ReturnType<ReturnType<typeof koffi.load>['func']>;

function loadIbverbs() {
  let l: ReturnType<typeof koffi.load>;
  try {
    l = koffi.load(LIBIBVERBS);
  } catch (e) {
    throw new VerbsUnavailableError(`${LIBIBVERBS} cannot be loaded (${(e as Error).message.split('\n')[0]}): ${INSTALL_HINT}`, 'library');
  }
  return {
    ibv_get_device_list: l.func('void *ibv_get_device_list(_Out_ int *num_devices)'),
    ibv_free_device_list: l.func('void ibv_free_device_list(void *list)'),
    ibv_get_device_name: l.func('const char *ibv_get_device_name(void *device)'),
    ibv_get_device_guid: l.func('uint64_t ibv_get_device_guid(void *device)'),
    ibv_open_device: l.func('void *ibv_open_device(void *device)'),
    ibv_close_device: l.func('int ibv_close_device(void *context)'),
    ibv_query_device: l.func('int ibv_query_device(void *context, _Out_ ibv_device_attr *device_attr)'),
    /** The exported compat symbol (struct _compat_ibv_port_attr *): used only when the provider has no query_port. */
    ibv_query_port: l.func('int ibv_query_port(void *context, uint8_t port_num, void *port_attr)'),
    ibv_query_gid: l.func('int ibv_query_gid(void *context, uint8_t port_num, int index, void *gid)'),
    ibv_alloc_pd: l.func('void *ibv_alloc_pd(void *context)'),
    ibv_dealloc_pd: l.func('int ibv_dealloc_pd(void *pd)'),
    ibv_reg_mr: l.func('void *ibv_reg_mr(void *pd, void *addr, size_t length, int access)'),
    ibv_reg_mr_iova2: l.func('void *ibv_reg_mr_iova2(void *pd, void *addr, size_t length, uint64_t iova, unsigned int access)'),
    ibv_dereg_mr: l.func('int ibv_dereg_mr(void *mr)'),
    ibv_create_comp_channel: l.func('void *ibv_create_comp_channel(void *context)'),
    ibv_destroy_comp_channel: l.func('int ibv_destroy_comp_channel(void *channel)'),
    ibv_create_cq: l.func('void *ibv_create_cq(void *context, int cqe, void *cq_context, void *channel, int comp_vector)'),
    ibv_destroy_cq: l.func('int ibv_destroy_cq(void *cq)'),
    ibv_get_cq_event: l.func('int ibv_get_cq_event(void *channel, _Out_ void **cq, _Out_ void **cq_context)'),
    ibv_ack_cq_events: l.func('void ibv_ack_cq_events(void *cq, unsigned int nevents)'),
    ibv_create_qp: l.func('void *ibv_create_qp(void *pd, _Inout_ ibv_qp_init_attr *qp_init_attr)'),
    ibv_modify_qp: l.func('int ibv_modify_qp(void *qp, ibv_qp_attr *attr, int attr_mask)'),
    ibv_query_qp: l.func('int ibv_query_qp(void *qp, _Out_ ibv_qp_attr *attr, int attr_mask, _Out_ ibv_qp_init_attr *init_attr)'),
    ibv_destroy_qp: l.func('int ibv_destroy_qp(void *qp)'),
    ibv_create_ah: l.func('void *ibv_create_ah(void *pd, ibv_ah_attr *attr)'),
    ibv_destroy_ah: l.func('int ibv_destroy_ah(void *ah)'),
    ibv_attach_mcast: l.func('int ibv_attach_mcast(void *qp, const void *gid, uint16_t lid)'),
    ibv_detach_mcast: l.func('int ibv_detach_mcast(void *qp, const void *gid, uint16_t lid)'),
    ibv_wc_status_str: l.func('const char *ibv_wc_status_str(int status)'),
  };
}

export type Ibverbs = ReturnType<typeof loadIbverbs>;
let ibverbs: Ibverbs | null = null;
let ibverbsError: VerbsUnavailableError | null = null;

/** libibverbs' functions; loads the library on first use. Throws VerbsUnavailableError when it is missing. */
export function ibv(): Ibverbs {
  if (ibverbs) return ibverbs;
  if (ibverbsError) throw ibverbsError;
  try {
    ibverbs = loadIbverbs();
  } catch (e) {
    if (e instanceof VerbsUnavailableError) ibverbsError = e;
    throw e;
  }
  return ibverbs;
}

function loadMlx5dv() {
  let l: ReturnType<typeof koffi.load>;
  try {
    l = koffi.load(LIBMLX5);
  } catch (e) {
    throw new VerbsUnavailableError(`${LIBMLX5} cannot be loaded (${(e as Error).message.split('\n')[0]}): apt-get install ibverbs-providers`, 'library');
  }
  return {
    mlx5dv_is_supported: l.func('bool mlx5dv_is_supported(void *device)'),
    mlx5dv_query_device: l.func('int mlx5dv_query_device(void *ctx_in, _Inout_ mlx5dv_context *attrs_out)'),
    mlx5dv_init_obj: l.func('int mlx5dv_init_obj(mlx5dv_obj *obj, uint64_t obj_type)'),
  };
}

export type Mlx5dv = ReturnType<typeof loadMlx5dv>;
let mlx5: Mlx5dv | null = null;

/** mlx5dv's functions (libmlx5.so.1, from ibverbs-providers); loads it on first use. */
export function mlx5dv(): Mlx5dv {
  if (!mlx5) mlx5 = loadMlx5dv();
  return mlx5;
}

/** A named prototype, or the one already registered under that name (see types.ts `named`). */
function proto(decl: string): ReturnType<typeof koffi.proto> {
  const name = /(\w+)\(/.exec(decl)![1];
  try {
    return koffi.type(name);
  } catch {
    return koffi.proto(decl);
  }
}

// Prototypes of the function pointers reached through ibv_context.ops and verbs_context.
export const PollCqFn = proto('int ibv_poll_cq_fn(void *cq, int num_entries, void *wc)');
export const ReqNotifyCqFn = proto('int ibv_req_notify_cq_fn(void *cq, int solicited_only)');
export const PostSendFn = proto('int ibv_post_send_fn(void *qp, void *wr, void *bad_wr)');
export const PostRecvFn = proto('int ibv_post_recv_fn(void *qp, void *wr, void *bad_wr)');
export const QueryPortFn = proto('int verbs_query_port_fn(void *context, uint8_t port_num, _Out_ ibv_port_attr *port_attr, size_t port_attr_len)');
export const QueryDeviceExFn = proto('int verbs_query_device_ex_fn(void *context, const ibv_query_device_ex_input *input, void *attr, size_t attr_size)');
export const CreateFlowFn = proto('void *verbs_create_flow_fn(void *qp, void *flow_attr)');
export const DestroyFlowFn = proto('int verbs_destroy_flow_fn(void *flow)');

/** verbs.h's __VERBS_ABI_IS_EXTENDED: ibv_context.abi_compat of a context that has a verbs_context. */
const VERBS_ABI_IS_EXTENDED = 2n ** 64n - 1n;
const CTX_IN_VCTX = off(T.verbs_context, 'context');
const VCTX_SIZE = koffi.sizeof(T.verbs_context);

/**
 * verbs_get_ctx_op: the function pointer `op` of the context's verbs_context, or null when the
 * provider does not have it (old ABI, `sz` too small, or NULL).
 */
export function verbsCtxOp(ctx: Ptr, op: string): Ptr | null {
  const abi = koffi.decode(ctx, off(T.ibv_context, 'abi_compat'), 'uint64_t') as bigint;
  if (BigInt.asUintN(64, abi) !== VERBS_ABI_IS_EXTENDED) return null;
  const vctx = ctx - BigInt(CTX_IN_VCTX);
  const sz = Number(koffi.decode(vctx, off(T.verbs_context, 'sz'), 'size_t'));
  const at = off(T.verbs_context, op);
  if (sz < VCTX_SIZE - at) return null;
  return (koffi.decode(vctx, at, 'void *') as Ptr | null) ?? null;
}

/** The four data-path verbs of one context, decoded once from context->ops (verbs.h's inlines). */
export interface Ops {
  poll_cq: Fn;
  req_notify_cq: Fn;
  post_send: Fn;
  post_recv: Fn;
}

export function contextOps(ctx: Ptr): Ops {
  const fp = (name: string) => koffi.decode(ctx, off(T.ibv_context, `ops.${name}`), 'void *') as Ptr;
  return {
    poll_cq: koffi.decode(fp('poll_cq'), PollCqFn) as Fn,
    req_notify_cq: koffi.decode(fp('req_notify_cq'), ReqNotifyCqFn) as Fn,
    post_send: koffi.decode(fp('post_send'), PostSendFn) as Fn,
    post_recv: koffi.decode(fp('post_recv'), PostRecvFn) as Fn,
  };
}

/** verbs.h's ___ibv_query_port: the extended provider call, else the compat export (prefix only). */
export function query_port(ctx: Ptr, port: number, attr: Record<string, number>): number {
  const fp = verbsCtxOp(ctx, 'query_port');
  if (fp !== null) return koffi.call(fp, QueryPortFn, ctx, port, attr, koffi.sizeof(T.ibv_port_attr)) as number;
  const buf = Buffer.alloc(koffi.sizeof(T.ibv_port_attr));
  const rc = ibv().ibv_query_port(ctx, port, buf) as number;
  Object.assign(attr, koffi.decode(buf, T.ibv_port_attr));
  return rc;
}

/** verbs.h's ibv_query_device_ex into `attr` (sizeof ibv_device_attr_ex bytes); legacy fallback as in C. */
export function query_device_ex(ctx: Ptr, attr: Buffer): number {
  const fp = verbsCtxOp(ctx, 'query_device_ex');
  if (fp !== null) {
    const rc = koffi.call(fp, QueryDeviceExFn, ctx, null, attr, attr.length) as number;
    if (rc !== 95 /* EOPNOTSUPP */ && rc !== 38 /* ENOSYS */) return rc;
  }
  attr.fill(0);
  const orig = {} as Record<string, unknown>;
  const rc = ibv().ibv_query_device(ctx, orig) as number;
  if (rc === 0) koffi.encode(attr, 0, T.ibv_device_attr, orig);
  return rc;
}

/** verbs.h's ibv_create_flow: NULL with errno EOPNOTSUPP when the provider has no flow steering. */
export function create_flow(ctx: Ptr, qp: Ptr, flowAttr: Ptr): Ptr | null {
  const fp = verbsCtxOp(ctx, 'ibv_create_flow');
  if (fp === null) {
    koffi.errno(95);
    return null;
  }
  return koffi.call(fp, CreateFlowFn, qp, flowAttr) as Ptr | null;
}

/** verbs.h's ibv_destroy_flow: returns an errno value (0 on success). */
export function destroy_flow(ctx: Ptr, flow: Ptr): number {
  const fp = verbsCtxOp(ctx, 'ibv_destroy_flow');
  if (fp === null) return 95;
  return koffi.call(fp, DestroyFlowFn, flow) as number;
}

/** verbs.h's ibv_reg_mr macro (see the file head). */
export function reg_mr(pd: Ptr, addr: Ptr, length: number, access: number): Ptr | null {
  if ((access & IBV_ACCESS_OPTIONAL_RANGE) === 0) return ibv().ibv_reg_mr(pd, addr, length, access) as Ptr | null;
  return ibv().ibv_reg_mr_iova2(pd, addr, length, addr, access >>> 0) as Ptr | null;
}

let libc: { fcntl: Fn } | null = null;

/** fcntl(2) (libc), for the completion channel's O_NONBLOCK. */
export function fcntl(fd: number, cmd: number, arg: number): number {
  if (!libc) libc = { fcntl: koffi.load('libc.so.6').func('int fcntl(int fd, int cmd, ...)') };
  return libc.fcntl(fd, cmd, 'int', arg) as number;
}

/** errno of the last FFI call on this thread (read it before any other FFI call). */
export function errno(): number {
  return koffi.errno();
}
