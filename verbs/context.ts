/**
 * Owning wrappers over the raw verbs (verbs/raw.ts), pyverbs-style: Context, PD, MR, CompChannel,
 * CQ, QP, AH, Flow. Read verbs/index.ts first for the contract.
 *
 * - Each object owns one handle. Objects made from it (a PD's MRs, QPs and AHs; a context's PDs,
 *   CQs and channels) are its children: `close()` closes the children first (newest first), then
 *   destroys its own handle. `close()` is idempotent; using a closed object throws VerbsError-like
 *   `Error('<kind> is closed')`.
 * - A failed verb throws VerbsError naming the C function and errno (`ibv_modify_qp: EINVAL (22)`).
 * - Setup calls may allocate; the data-path calls (CQ.poll, QP.postSend/postRecv, CQ.reqNotify,
 *   CompChannel.getEvent) take prebuilt native arrays (WcArray, SendWrs, RecvWrs), return counts
 *   or errno values instead of throwing, and allocate nothing.
 */
import koffi from 'koffi';
import {
  EAGAIN, F_GETFL, F_SETFL, IBV_ACCESS_LOCAL_WRITE, IBV_FLOW_ATTR_NORMAL, IBV_FLOW_SPEC_ETH, IBV_FLOW_SPEC_IPV4, IBV_FLOW_SPEC_TCP,
  IBV_FLOW_SPEC_UDP, IBV_LINK_LAYER_ETHERNET, IBV_MTU_1024, IBV_QP_ACCESS_FLAGS, IBV_QP_AV, IBV_QP_DEST_QPN, IBV_QP_MAX_DEST_RD_ATOMIC,
  IBV_QP_MAX_QP_RD_ATOMIC, IBV_QP_MIN_RNR_TIMER, IBV_QP_PATH_MTU, IBV_QP_PKEY_INDEX, IBV_QP_PORT, IBV_QP_QKEY, IBV_QP_RETRY_CNT,
  IBV_QP_RNR_RETRY, IBV_QP_RQ_PSN, IBV_QP_SQ_PSN, IBV_QP_STATE, IBV_QP_TIMEOUT, IBV_QPS_INIT, IBV_QPS_RTR, IBV_QPS_RTS, IBV_QPT_RAW_PACKET,
  IBV_QPT_RC, IBV_QPT_UD, IBV_WR_SEND, MLX5DV_OBJ_CQ, MLX5DV_OBJ_QP, O_NONBLOCK,
} from './constants';
import { fail, VerbsError } from './errors';
import { off } from './layout';
import {
  contextOps, create_flow, DEVICE_HINT, destroy_flow, errno, fcntl, ibv, mlx5dv, type Ops, query_device_ex, query_port, reg_mr,
  VerbsUnavailableError,
} from './raw';
import * as T from './types';

type Ptr = bigint;

/**
 * Something that owns one verbs handle and the objects made from it. An object can depend on
 * several others (a QP on its PD and its CQs, a CQ on its context and channel): it is a child of
 * each, so closing any of them closes it first.
 */
abstract class Resource {
  private readonly children = new Set<Resource>();
  private isClosed = false;
  private readonly parents: Resource[];

  constructor(protected readonly kind: string, ...parents: (Resource | null)[]) {
    this.parents = parents.filter((p): p is Resource => p !== null);
    for (const p of this.parents) {
      p.live();
      p.children.add(this);
    }
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Closes the children (newest first), then the handle. Idempotent; a failing destroy still marks it closed. */
  close(): void {
    if (this.isClosed) return;
    const kids = [...this.children].reverse();
    let first: unknown = null;
    for (const k of kids) {
      try {
        k.close();
      } catch (e) {
        first ??= e;
      }
    }
    this.isClosed = true;
    for (const p of this.parents) p.children.delete(this);
    this.destroy();
    if (first) throw first;
  }

  protected live(): void {
    if (this.isClosed) throw new Error(`verbs: ${this.kind} is closed`);
  }

  protected abstract destroy(): void;
}

export interface DeviceInfo {
  readonly name: string;
  /** Node GUID as 16 hex digits (network byte order). */
  readonly guid: string;
  readonly nodeType: number;
  readonly transportType: number;
}

/** The verbs devices present (ibv_get_device_list). Throws VerbsUnavailableError when libibverbs is missing. */
export function listDevices(): DeviceInfo[] {
  return withDeviceList((devs) => devs.map((d) => describe(d)));
}

function describe(d: Ptr): DeviceInfo {
  const dev = koffi.decode(d, T.ibv_device) as { node_type: number; transport_type: number };
  const guid = BigInt.asUintN(64, BigInt(ibv().ibv_get_device_guid(d) as bigint | number));
  // __be64 read as a host-order u64: swap bytes to print it as the wire shows it.
  let g = '';
  for (let i = 0n; i < 8n; i++) g += ((guid >> (8n * i)) & 0xffn).toString(16).padStart(2, '0');
  return { name: ibv().ibv_get_device_name(d) as string, guid: g, nodeType: dev.node_type, transportType: dev.transport_type };
}

function withDeviceList<R>(fn: (devs: Ptr[]) => R): R {
  const l = ibv();
  const n = [0];
  const list = l.ibv_get_device_list(n) as Ptr | null;
  if (list === null) {
    const e = errno();
    // ENOSYS: no kernel verbs support (ib_uverbs not loaded, or no device at all).
    if (e === 38 || e === 0) return fn([]);
    fail('ibv_get_device_list', e);
  }
  try {
    const devs: Ptr[] = [];
    for (let i = 0; i < n[0]; i++) devs.push(koffi.decode(list, i * 8, 'void *') as Ptr);
    return fn(devs);
  } finally {
    l.ibv_free_device_list(list);
  }
}

export interface VerbsAvailability {
  readonly ok: boolean;
  /** Why not (what is missing and how to get it); '' when ok. */
  readonly reason: string;
  readonly devices: readonly string[];
}

/**
 * Whether verbs offload can run here (optionally: on device `dev`). Never throws: a missing
 * library or device is `{ ok: false, reason }` with the package or command that provides it.
 */
export function verbsAvailable(dev?: string): VerbsAvailability {
  let names: string[];
  try {
    names = listDevices().map((d) => d.name);
  } catch (e) {
    return { ok: false, reason: (e as Error).message, devices: [] };
  }
  if (names.length === 0) return { ok: false, reason: `no RDMA device found (ibv_get_device_list: 0 devices): ${DEVICE_HINT}`, devices: [] };
  if (dev !== undefined && !names.includes(dev)) {
    return { ok: false, reason: `no verbs device '${dev}' (found: ${names.join(', ')}); see ibv_devices`, devices: names };
  }
  return { ok: true, reason: '', devices: names };
}

/** An ibv_port_attr, decoded. */
export interface PortAttr {
  state: number;
  max_mtu: number;
  active_mtu: number;
  gid_tbl_len: number;
  port_cap_flags: number;
  max_msg_sz: number;
  lid: number;
  link_layer: number;
  [k: string]: number;
}

/** ibv_mtu (1…5) in bytes. */
export function mtuBytes(mtu: number): number {
  return 128 << mtu;
}

export class Context extends Resource {
  readonly ptr: Ptr;
  readonly name: string;
  readonly ops: Ops;
  private readonly devPtr: Ptr;

  private constructor(ptr: Ptr, name: string, devPtr: Ptr) {
    super(`context ${name}`, null);
    this.ptr = ptr;
    this.name = name;
    this.devPtr = devPtr;
    this.ops = contextOps(ptr);
  }

  /** Opens the device called `name` (ibv_devices), or the first one. */
  static open(name?: string): Context {
    return withDeviceList((devs) => {
      if (devs.length === 0) throw new VerbsUnavailableError(`no RDMA device found (ibv_get_device_list: 0 devices): ${DEVICE_HINT}`, 'device');
      const names = devs.map((d) => ibv().ibv_get_device_name(d) as string);
      const i = name === undefined ? 0 : names.indexOf(name);
      if (i < 0) throw new VerbsUnavailableError(`no verbs device '${name}' (found: ${names.join(', ')}); see ibv_devices`, 'device');
      const ctx = ibv().ibv_open_device(devs[i]) as Ptr | null;
      if (ctx === null) fail(`ibv_open_device(${names[i]})`);
      // The ibv_device stays valid after ibv_free_device_list while a context holds it.
      return new Context(ctx, names[i], devs[i]);
    });
  }

  queryDevice(): Record<string, number | string | bigint> {
    this.live();
    const a = Buffer.alloc(koffi.sizeof(T.ibv_device_attr_ex));
    const rc = query_device_ex(this.ptr, a);
    if (rc !== 0) fail('ibv_query_device_ex', rc);
    const ex = koffi.decode(a, T.ibv_device_attr_ex) as Record<string, unknown>;
    const orig = ex.orig_attr as Record<string, number | string>;
    return {
      ...orig,
      device_cap_flags_ex: ex.device_cap_flags_ex as bigint,
      raw_packet_caps: ex.raw_packet_caps as number,
      max_tso: (ex.tso_caps as { max_tso: number }).max_tso,
      phys_port_cnt_ex: ex.phys_port_cnt_ex as number,
    };
  }

  queryPort(port: number): PortAttr {
    this.live();
    const attr = {} as PortAttr;
    const rc = query_port(this.ptr, port, attr as unknown as Record<string, number>);
    if (rc !== 0) fail(`ibv_query_port(${this.name}, ${port})`, rc);
    return attr;
  }

  /** GID `index` of `port` (16 bytes). */
  queryGid(port: number, index: number): Uint8Array {
    this.live();
    const g = new Uint8Array(16);
    if ((ibv().ibv_query_gid(this.ptr, port, index, g) as number) !== 0) fail(`ibv_query_gid(${this.name}, ${port}, ${index})`);
    return g;
  }

  /**
   * The GID index to use on `port`: on Ethernet (RoCE), the first IPv4-mapped GID
   * (::ffff:a.b.c.d, RoCE v2 on rxe); else (InfiniBand) index 0.
   */
  defaultGidIndex(port: number): number {
    const p = this.queryPort(port);
    if (p.link_layer !== IBV_LINK_LAYER_ETHERNET) return 0;
    for (let i = 0; i < p.gid_tbl_len; i++) {
      let g: Uint8Array;
      try {
        g = this.queryGid(port, i);
      } catch {
        continue;
      }
      if (isV4Mapped(g)) return i;
    }
    return 0;
  }

  /** Whether the mlx5 direct-verbs provider drives this device (ConnectX). */
  get isMlx5(): boolean {
    try {
      return mlx5dv().mlx5dv_is_supported(this.devPtr) as boolean;
    } catch {
      return false;
    }
  }

  allocPd(): PD {
    this.live();
    const p = ibv().ibv_alloc_pd(this.ptr) as Ptr | null;
    if (p === null) fail('ibv_alloc_pd');
    return new PD(this, p);
  }

  createCompChannel(): CompChannel {
    this.live();
    const p = ibv().ibv_create_comp_channel(this.ptr) as Ptr | null;
    if (p === null) fail('ibv_create_comp_channel');
    return new CompChannel(this, p);
  }

  /** A CQ of at least `cqe` entries, reporting events to `channel` when given. */
  createCq(cqe: number, channel: CompChannel | null = null, compVector = 0): CQ {
    this.live();
    const p = ibv().ibv_create_cq(this.ptr, cqe, null, channel ? channel.ptr : null, compVector) as Ptr | null;
    if (p === null) fail(`ibv_create_cq(${cqe})`);
    return new CQ(this, p, channel);
  }

  protected destroy(): void {
    const rc = ibv().ibv_close_device(this.ptr) as number;
    if (rc !== 0) fail('ibv_close_device', rc);
  }
}

/** Whether a GID is ::ffff:a.b.c.d. */
export function isV4Mapped(g: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (g[i] !== 0) return false;
  return g[10] === 0xff && g[11] === 0xff;
}

export class PD extends Resource {
  constructor(readonly context: Context, readonly ptr: Ptr) {
    super('pd', context);
  }

  /** Registers native memory [addr, addr+length). */
  regMr(addr: Ptr, length: number, access = IBV_ACCESS_LOCAL_WRITE, keep: unknown = null): MR {
    this.live();
    const p = reg_mr(this.ptr, addr, length, access);
    if (p === null) fail(`ibv_reg_mr(${length} bytes)`);
    return new MR(this, p, keep);
  }

  /** Registers the memory of a typed array or Buffer (which must not be freed while the MR lives: the MR keeps it). */
  regBuffer(mem: Uint8Array, access = IBV_ACCESS_LOCAL_WRITE): MR {
    return this.regMr(koffi.address(mem) as Ptr, mem.byteLength, access, mem);
  }

  createQp(opts: QpOptions): QP {
    this.live();
    const init = {
      qp_context: null, send_cq: opts.sendCq.ptr, recv_cq: (opts.recvCq ?? opts.sendCq).ptr, srq: null,
      cap: {
        max_send_wr: opts.maxSendWr ?? 64, max_recv_wr: opts.maxRecvWr ?? 64, max_send_sge: opts.maxSendSge ?? 1,
        max_recv_sge: opts.maxRecvSge ?? 1, max_inline_data: opts.maxInlineData ?? 0,
      },
      qp_type: opts.type, sq_sig_all: opts.sqSigAll ? 1 : 0,
    };
    const p = ibv().ibv_create_qp(this.ptr, init) as Ptr | null;
    if (p === null) {
      const e = errno();
      fail(`ibv_create_qp(${qpTypeName(opts.type)})`, e, e === 95 && opts.type === IBV_QPT_RAW_PACKET ? `${this.context.name} has no raw-packet QPs (rxe and InfiniBand do not; ConnectX does)` : '');
    }
    return new QP(this, p, opts.type, init.cap, opts.sendCq, opts.recvCq ?? null);
  }

  /** An address handle (ibv_create_ah): `dgid` for a global route (RoCE always; IB across subnets). */
  createAh(a: AhOptions): AH {
    this.live();
    const attr = {
      grh: { dgid: { raw: Array.from(a.dgid ?? new Uint8Array(16)) }, flow_label: 0, sgid_index: a.sgidIndex ?? 0, hop_limit: a.hopLimit ?? 64, traffic_class: 0 },
      dlid: a.dlid ?? 0, sl: 0, src_path_bits: 0, static_rate: 0, is_global: a.dgid ? 1 : 0, port_num: a.port,
    };
    const p = ibv().ibv_create_ah(this.ptr, attr) as Ptr | null;
    if (p === null) fail('ibv_create_ah');
    return new AH(this, p);
  }

  protected destroy(): void {
    const rc = ibv().ibv_dealloc_pd(this.ptr) as number;
    if (rc !== 0) fail('ibv_dealloc_pd', rc);
  }
}

export class MR extends Resource {
  readonly lkey: number;
  readonly rkey: number;
  /** Start address as a Number (user-space addresses are < 2^47) and length. */
  readonly addr: number;
  readonly length: number;

  /** `memory`: the JS memory registered (kept alive as long as the MR object). */
  constructor(pd: PD, readonly ptr: Ptr, readonly memory: unknown) {
    super('mr', pd);
    const mr = koffi.decode(ptr, T.ibv_mr) as { addr: Ptr; length: number | bigint; lkey: number; rkey: number };
    this.lkey = mr.lkey;
    this.rkey = mr.rkey;
    this.addr = Number(mr.addr);
    this.length = Number(mr.length);
  }

  protected destroy(): void {
    const rc = ibv().ibv_dereg_mr(this.ptr) as number;
    if (rc !== 0) fail('ibv_dereg_mr', rc);
  }
}

export class CompChannel extends Resource {
  readonly fd: number;
  private readonly cqOut = [null as Ptr | null];
  private readonly ctxOut = [null as Ptr | null];

  constructor(context: Context, readonly ptr: Ptr) {
    super('completion channel', context);
    this.fd = koffi.decode(ptr, off(T.ibv_comp_channel, 'fd'), 'int') as number;
    const fl = fcntl(this.fd, F_GETFL, 0);
    if (fl < 0 || fcntl(this.fd, F_SETFL, fl | O_NONBLOCK) < 0) fail('fcntl(O_NONBLOCK)');
  }

  /**
   * ibv_get_cq_event without blocking (the fd is O_NONBLOCK): true when an event was taken (the CQ
   * must then ack it: CQ.ackEvents), false when none waits.
   */
  getEvent(): boolean {
    const rc = ibv().ibv_get_cq_event(this.ptr, this.cqOut, this.ctxOut) as number;
    if (rc === 0) return true;
    const e = errno();
    if (e === EAGAIN) return false;
    fail('ibv_get_cq_event', e);
  }

  protected destroy(): void {
    const rc = ibv().ibv_destroy_comp_channel(this.ptr) as number;
    if (rc !== 0) fail('ibv_destroy_comp_channel', rc);
  }
}

/** `n` ibv_wc entries in native memory, read through a DataView (no allocation per poll). */
export class WcArray {
  static readonly SIZE = koffi.sizeof(T.ibv_wc);
  readonly ptr: Ptr;
  readonly dv: DataView;
  private freed = false;

  constructor(readonly length: number) {
    this.ptr = koffi.alloc('uint8_t', length * WcArray.SIZE) as Ptr;
    this.dv = new DataView(koffi.view(this.ptr, length * WcArray.SIZE));
  }

  /** Low 32 bits of wr_id (tsvma's wr_ids are 32-bit). */
  wrId(i: number): number {
    return this.dv.getUint32(i * WcArray.SIZE + WC_WR_ID, true);
  }
  status(i: number): number {
    return this.dv.getInt32(i * WcArray.SIZE + WC_STATUS, true);
  }
  opcode(i: number): number {
    return this.dv.getInt32(i * WcArray.SIZE + WC_OPCODE, true);
  }
  byteLen(i: number): number {
    return this.dv.getUint32(i * WcArray.SIZE + WC_BYTE_LEN, true);
  }
  srcQp(i: number): number {
    return this.dv.getUint32(i * WcArray.SIZE + WC_SRC_QP, true);
  }
  wcFlags(i: number): number {
    return this.dv.getUint32(i * WcArray.SIZE + WC_FLAGS, true);
  }
  slid(i: number): number {
    return this.dv.getUint16(i * WcArray.SIZE + WC_SLID, true);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    koffi.free(this.ptr);
  }
}

const WC_WR_ID = off(T.ibv_wc, 'wr_id');
const WC_STATUS = off(T.ibv_wc, 'status');
const WC_OPCODE = off(T.ibv_wc, 'opcode');
const WC_BYTE_LEN = off(T.ibv_wc, 'byte_len');
const WC_SRC_QP = off(T.ibv_wc, 'src_qp');
const WC_FLAGS = off(T.ibv_wc, 'wc_flags');
const WC_SLID = off(T.ibv_wc, 'slid');

export class CQ extends Resource {
  private unacked = 0;
  private readonly pollFn: Ops['poll_cq'];
  private readonly notifyFn: Ops['req_notify_cq'];

  constructor(readonly context: Context, readonly ptr: Ptr, readonly channel: CompChannel | null) {
    super('cq', context, channel);
    this.pollFn = context.ops.poll_cq;
    this.notifyFn = context.ops.req_notify_cq;
  }

  /** ibv_poll_cq into `wc[0, max)`: completions taken (≥ 0), or a negative value on error. */
  poll(wc: WcArray, max: number): number {
    return this.pollFn(this.ptr, max, wc.ptr) as number;
  }

  /** ibv_req_notify_cq: 0, or an errno value. */
  reqNotify(solicitedOnly = false): number {
    return this.notifyFn(this.ptr, solicitedOnly ? 1 : 0) as number;
  }

  /** Acks events taken with CompChannel.getEvent (batched: the C call runs every 64, and at close). */
  ackEvents(n: number): void {
    this.unacked += n;
    if (this.unacked >= 64) this.flushAcks();
  }

  private flushAcks(): void {
    if (this.unacked > 0) ibv().ibv_ack_cq_events(this.ptr, this.unacked);
    this.unacked = 0;
  }

  /** mlx5dv_init_obj for direct CQE access (ConnectX only): the CQE ring and its doorbell record. */
  mlx5(): { cqn: number; cqeCnt: number; cqeSize: number; buf: ArrayBuffer; dbrec: ArrayBuffer } {
    this.live();
    const out = koffi.alloc(T.mlx5dv_cq, 1) as Ptr;
    try {
      const rc = mlx5dv().mlx5dv_init_obj({ qp: { in: null, out: null }, cq: { in: this.ptr, out }, srq: { in: null, out: null }, rwq: { in: null, out: null }, dm: { in: null, out: null }, ah: { in: null, out: null }, pd: { in: null, out: null } }, MLX5DV_OBJ_CQ) as number;
      if (rc !== 0) fail('mlx5dv_init_obj(CQ)', rc);
      const c = koffi.decode(out, T.mlx5dv_cq) as { buf: Ptr; dbrec: Ptr; cqe_cnt: number; cqe_size: number; cqn: number };
      return { cqn: c.cqn, cqeCnt: c.cqe_cnt, cqeSize: c.cqe_size, buf: koffi.view(c.buf, c.cqe_cnt * c.cqe_size), dbrec: koffi.view(c.dbrec, 8) };
    } finally {
      koffi.free(out);
    }
  }

  protected destroy(): void {
    this.flushAcks();
    const rc = ibv().ibv_destroy_cq(this.ptr) as number;
    if (rc !== 0) fail('ibv_destroy_cq', rc);
  }
}

export interface QpOptions {
  /** IBV_QPT_RC, IBV_QPT_UD or IBV_QPT_RAW_PACKET. */
  type: number;
  sendCq: CQ;
  recvCq?: CQ;
  maxSendWr?: number;
  maxRecvWr?: number;
  maxSendSge?: number;
  maxRecvSge?: number;
  maxInlineData?: number;
  sqSigAll?: boolean;
}

export interface AhOptions {
  port: number;
  dgid?: Uint8Array;
  sgidIndex?: number;
  dlid?: number;
  hopLimit?: number;
}

/** Where an RC QP connects to (exchanged out of band). */
export interface RcRemote {
  qpn: number;
  psn: number;
  gid: Uint8Array;
  lid?: number;
  sgidIndex: number;
  mtu?: number;
}

export function qpTypeName(t: number): string {
  return t === IBV_QPT_RC ? 'RC' : t === IBV_QPT_UD ? 'UD' : t === IBV_QPT_RAW_PACKET ? 'RAW_PACKET' : `type ${t}`;
}

export class QP extends Resource {
  readonly qpNum: number;
  /** The capabilities the provider granted (ibv_create_qp writes them back). */
  readonly cap: Readonly<{ max_send_wr: number; max_recv_wr: number; max_send_sge: number; max_recv_sge: number; max_inline_data: number }>;
  private readonly sendFn: Ops['post_send'];
  private readonly recvFn: Ops['post_recv'];
  private readonly badWr: Ptr;

  constructor(readonly pd: PD, readonly ptr: Ptr, readonly type: number, cap: QP['cap'], sendCq: CQ, recvCq: CQ | null) {
    super(`qp (${qpTypeName(type)})`, pd, sendCq, recvCq === sendCq ? null : recvCq);
    this.qpNum = koffi.decode(ptr, off(T.ibv_qp, 'qp_num'), 'uint32_t') as number;
    this.cap = Object.freeze({ ...cap });
    this.sendFn = pd.context.ops.post_send;
    this.recvFn = pd.context.ops.post_recv;
    this.badWr = koffi.alloc('void *', 1) as Ptr;
  }

  /** ibv_qp.state as the library last recorded it (IBV_QPS_*). */
  get state(): number {
    this.live();
    return koffi.decode(this.ptr, off(T.ibv_qp, 'state'), 'int') as number;
  }

  /** ibv_modify_qp with an ibv_qp_attr (missing members are 0). */
  modify(attr: Record<string, unknown>, mask: number): void {
    this.live();
    const rc = ibv().ibv_modify_qp(this.ptr, attr, mask) as number;
    if (rc !== 0) fail('ibv_modify_qp', rc);
  }

  /** RESET → INIT → RTR → RTS for a UD QP with `qkey`. */
  readyUd(port: number, qkey: number, psn = 0): void {
    this.modify({ qp_state: IBV_QPS_INIT, pkey_index: 0, port_num: port, qkey }, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_QKEY);
    this.modify({ qp_state: IBV_QPS_RTR }, IBV_QP_STATE);
    this.modify({ qp_state: IBV_QPS_RTS, sq_psn: psn }, IBV_QP_STATE | IBV_QP_SQ_PSN);
  }

  /** RESET → INIT → RTR → RTS for a raw-packet QP on `port`. */
  readyRaw(port: number): void {
    this.modify({ qp_state: IBV_QPS_INIT, port_num: port }, IBV_QP_STATE | IBV_QP_PORT);
    this.modify({ qp_state: IBV_QPS_RTR }, IBV_QP_STATE);
    this.modify({ qp_state: IBV_QPS_RTS }, IBV_QP_STATE);
  }

  /** RESET → INIT for an RC QP (then connectRc once the peer's address is known). */
  initRc(port: number, access = IBV_ACCESS_LOCAL_WRITE): void {
    this.modify({ qp_state: IBV_QPS_INIT, pkey_index: 0, port_num: port, qp_access_flags: access }, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
  }

  /** INIT → RTR → RTS for an RC QP towards `r` (ibv_rc_pingpong's parameters). */
  connectRc(port: number, r: RcRemote, myPsn: number): void {
    this.modify({
      qp_state: IBV_QPS_RTR, path_mtu: r.mtu ?? IBV_MTU_1024, dest_qp_num: r.qpn, rq_psn: r.psn, max_dest_rd_atomic: 1, min_rnr_timer: 12,
      ah_attr: { grh: { dgid: { raw: Array.from(r.gid) }, flow_label: 0, sgid_index: r.sgidIndex, hop_limit: 1, traffic_class: 0 }, dlid: r.lid ?? 0, sl: 0, src_path_bits: 0, static_rate: 0, is_global: 1, port_num: port },
    }, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
    this.modify({ qp_state: IBV_QPS_RTS, timeout: 14, retry_cnt: 7, rnr_retry: 7, sq_psn: myPsn, max_rd_atomic: 1 },
      IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
  }

  /** Posts wrs[0, count) (ibv_post_send through context->ops): 0, or an errno value. */
  postSend(wrs: SendWrs, count: number): number {
    wrs.terminate(count);
    const rc = this.sendFn(this.ptr, wrs.ptr, this.badWr) as number;
    wrs.relink(count);
    return rc;
  }

  /** Posts wrs[0, count) (ibv_post_recv): 0, or an errno value. */
  postRecv(wrs: RecvWrs, count: number): number {
    wrs.terminate(count);
    const rc = this.recvFn(this.ptr, wrs.ptr, this.badWr) as number;
    wrs.relink(count);
    return rc;
  }

  attachMcast(gid: Uint8Array, lid = 0): void {
    this.live();
    const rc = ibv().ibv_attach_mcast(this.ptr, gid, lid) as number;
    if (rc !== 0) fail('ibv_attach_mcast', rc);
  }

  detachMcast(gid: Uint8Array, lid = 0): void {
    this.live();
    const rc = ibv().ibv_detach_mcast(this.ptr, gid, lid) as number;
    if (rc !== 0) fail('ibv_detach_mcast', rc);
  }

  /** Steers frames matching `spec` to this QP (ibv_create_flow; raw-packet QPs on ConnectX). */
  createFlow(spec: FlowRule, port: number, priority = 0): Flow {
    this.live();
    const buf = encodeFlow(spec, port, priority);
    const p = create_flow(this.pd.context.ptr, this.ptr, koffi.address(buf) as Ptr);
    if (p === null) {
      const e = errno();
      fail('ibv_create_flow', e, e === 95 ? `${this.pd.context.name} has no flow steering (rxe does not; ConnectX does)` : '');
    }
    const f = new Flow(this, p, spec);
    return f;
  }

  /** mlx5dv_init_obj for direct WQE access (ConnectX only). */
  mlx5(): { sqn: number; rqn: number; sqWqeCnt: number; sqStride: number; rqWqeCnt: number; rqStride: number; bfSize: number; sq: ArrayBuffer | null; rq: ArrayBuffer | null; dbrec: ArrayBuffer } {
    this.live();
    const out = koffi.alloc(T.mlx5dv_qp, 1) as Ptr;
    try {
      const rc = mlx5dv().mlx5dv_init_obj({ qp: { in: this.ptr, out }, cq: { in: null, out: null }, srq: { in: null, out: null }, rwq: { in: null, out: null }, dm: { in: null, out: null }, ah: { in: null, out: null }, pd: { in: null, out: null } }, MLX5DV_OBJ_QP) as number;
      if (rc !== 0) fail('mlx5dv_init_obj(QP)', rc);
      type Q = { buf: Ptr | null; wqe_cnt: number; stride: number };
      const q = koffi.decode(out, T.mlx5dv_qp) as { dbrec: Ptr; sq: Q; rq: Q; bf: { size: number }; sqn: number; rqn: number };
      const view = (x: Q) => (x.buf && x.wqe_cnt ? koffi.view(x.buf, x.wqe_cnt * x.stride) : null);
      return { sqn: q.sqn, rqn: q.rqn, sqWqeCnt: q.sq.wqe_cnt, sqStride: q.sq.stride, rqWqeCnt: q.rq.wqe_cnt, rqStride: q.rq.stride, bfSize: q.bf.size, sq: view(q.sq), rq: view(q.rq), dbrec: koffi.view(q.dbrec, 8) };
    } finally {
      koffi.free(out);
    }
  }

  protected destroy(): void {
    const rc = ibv().ibv_destroy_qp(this.ptr) as number;
    koffi.free(this.badWr);
    if (rc !== 0) fail('ibv_destroy_qp', rc);
  }
}

export class AH extends Resource {
  /** The handle as a Number, for writing into send WRs without a BigInt. */
  readonly addr: number;

  constructor(pd: PD, readonly ptr: Ptr) {
    super('ah', pd);
    this.addr = Number(ptr);
  }

  protected destroy(): void {
    const rc = ibv().ibv_destroy_ah(this.ptr) as number;
    if (rc !== 0) fail('ibv_destroy_ah', rc);
  }
}

/**
 * A steering rule: Ethernet (destination MAC, optional ethertype), optionally IPv4 addresses,
 * optionally a TCP/UDP port pair. Zero / absent fields are wildcards. Numbers are host order.
 */
export interface FlowRule {
  dstMac: number;
  etherType?: number;
  ipv4?: { src?: number; dst?: number };
  l4?: { protocol: 'tcp' | 'udp'; srcPort?: number; dstPort?: number };
}

function encodeFlow(r: FlowRule, port: number, priority: number): Buffer {
  const ethSize = koffi.sizeof(T.ibv_flow_spec_eth);
  const ipSize = koffi.sizeof(T.ibv_flow_spec_ipv4);
  const l4Size = koffi.sizeof(T.ibv_flow_spec_tcp_udp);
  const head = koffi.sizeof(T.ibv_flow_attr);
  const size = head + ethSize + (r.ipv4 ? ipSize : 0) + (r.l4 ? l4Size : 0);
  const b = Buffer.alloc(size);
  let n = 1;
  let at = head;
  // ibv_flow_spec_eth: MACs as bytes, ether_type in network order.
  b.writeInt32LE(IBV_FLOW_SPEC_ETH, at + off(T.ibv_flow_spec_eth, 'type'));
  b.writeUInt16LE(ethSize, at + off(T.ibv_flow_spec_eth, 'size'));
  const mac = (o: number, v: number) => b.writeUIntBE(v, o, 6);
  mac(at + off(T.ibv_flow_spec_eth, 'val.dst_mac'), r.dstMac);
  mac(at + off(T.ibv_flow_spec_eth, 'mask.dst_mac'), 0xffffffffffff);
  if (r.etherType !== undefined) {
    b.writeUInt16BE(r.etherType, at + off(T.ibv_flow_spec_eth, 'val.ether_type'));
    b.writeUInt16BE(0xffff, at + off(T.ibv_flow_spec_eth, 'mask.ether_type'));
  }
  at += ethSize;
  if (r.ipv4) {
    n++;
    b.writeInt32LE(IBV_FLOW_SPEC_IPV4, at + off(T.ibv_flow_spec_ipv4, 'type'));
    b.writeUInt16LE(ipSize, at + off(T.ibv_flow_spec_ipv4, 'size'));
    if (r.ipv4.src) {
      b.writeUInt32BE(r.ipv4.src >>> 0, at + off(T.ibv_flow_spec_ipv4, 'val.src_ip'));
      b.writeUInt32BE(0xffffffff, at + off(T.ibv_flow_spec_ipv4, 'mask.src_ip'));
    }
    if (r.ipv4.dst) {
      b.writeUInt32BE(r.ipv4.dst >>> 0, at + off(T.ibv_flow_spec_ipv4, 'val.dst_ip'));
      b.writeUInt32BE(0xffffffff, at + off(T.ibv_flow_spec_ipv4, 'mask.dst_ip'));
    }
    at += ipSize;
  }
  if (r.l4) {
    n++;
    b.writeInt32LE(r.l4.protocol === 'tcp' ? IBV_FLOW_SPEC_TCP : IBV_FLOW_SPEC_UDP, at + off(T.ibv_flow_spec_tcp_udp, 'type'));
    b.writeUInt16LE(l4Size, at + off(T.ibv_flow_spec_tcp_udp, 'size'));
    if (r.l4.dstPort) {
      b.writeUInt16BE(r.l4.dstPort, at + off(T.ibv_flow_spec_tcp_udp, 'val.dst_port'));
      b.writeUInt16BE(0xffff, at + off(T.ibv_flow_spec_tcp_udp, 'mask.dst_port'));
    }
    if (r.l4.srcPort) {
      b.writeUInt16BE(r.l4.srcPort, at + off(T.ibv_flow_spec_tcp_udp, 'val.src_port'));
      b.writeUInt16BE(0xffff, at + off(T.ibv_flow_spec_tcp_udp, 'mask.src_port'));
    }
  }
  b.writeUInt32LE(0, off(T.ibv_flow_attr, 'comp_mask'));
  b.writeInt32LE(IBV_FLOW_ATTR_NORMAL, off(T.ibv_flow_attr, 'type'));
  b.writeUInt16LE(size, off(T.ibv_flow_attr, 'size'));
  b.writeUInt16LE(priority, off(T.ibv_flow_attr, 'priority'));
  b.writeUInt8(n, off(T.ibv_flow_attr, 'num_of_specs'));
  b.writeUInt8(port, off(T.ibv_flow_attr, 'port'));
  return b;
}

export class Flow extends Resource {
  constructor(readonly qp: QP, readonly ptr: Ptr, readonly rule: FlowRule) {
    super('flow', qp);
  }

  protected destroy(): void {
    const rc = destroy_flow(this.qp.pd.context.ptr, this.ptr);
    if (rc !== 0) fail('ibv_destroy_flow', rc);
  }
}

const SEND_WR = koffi.sizeof(T.ibv_send_wr);
const RECV_WR = koffi.sizeof(T.ibv_recv_wr);
const SGE = koffi.sizeof(T.ibv_sge);
const SW_NEXT = off(T.ibv_send_wr, 'next');
const SW_SG = off(T.ibv_send_wr, 'sg_list');
const SW_NSGE = off(T.ibv_send_wr, 'num_sge');
const SW_OPCODE = off(T.ibv_send_wr, 'opcode');
const SW_FLAGS = off(T.ibv_send_wr, 'send_flags');
const SW_WR_ID = off(T.ibv_send_wr, 'wr_id');
const SW_AH = off(T.ibv_send_wr, 'wr.ud.ah');
const SW_QPN = off(T.ibv_send_wr, 'wr.ud.remote_qpn');
const SW_QKEY = off(T.ibv_send_wr, 'wr.ud.remote_qkey');
const RW_NEXT = off(T.ibv_recv_wr, 'next');
const RW_SG = off(T.ibv_recv_wr, 'sg_list');
const RW_NSGE = off(T.ibv_recv_wr, 'num_sge');
const RW_WR_ID = off(T.ibv_recv_wr, 'wr_id');
const SGE_ADDR = off(T.ibv_sge, 'addr');
const SGE_LEN = off(T.ibv_sge, 'length');
const SGE_LKEY = off(T.ibv_sge, 'lkey');

function setPtr(dv: DataView, at: number, addr: number): void {
  dv.setUint32(at, addr % 0x100000000, true);
  dv.setUint32(at + 4, Math.floor(addr / 0x100000000), true);
}

/**
 * `length` chained work requests with one SGE each, in native memory built once; the data path
 * fills entries 0..count-1 through DataView setters and posts them (QP.postSend/postRecv), which
 * cuts the chain after `count` and mends it afterwards. No BigInt, no allocation per WR.
 */
abstract class WrArray {
  readonly ptr: Ptr;
  readonly dv: DataView;
  protected readonly base: number;
  protected readonly sgeOff: number;
  private freed = false;

  constructor(readonly length: number, private readonly wrSize: number, private readonly nextOff: number, sgOff: number, nsgeOff: number) {
    if (!(length >= 1)) throw new RangeError('verbs: a WR array needs at least one entry');
    const bytes = length * (wrSize + SGE);
    this.ptr = koffi.alloc('uint8_t', bytes) as Ptr;
    this.dv = new DataView(koffi.view(this.ptr, bytes));
    new Uint8Array(this.dv.buffer).fill(0);
    this.base = Number(this.ptr);
    this.sgeOff = length * wrSize;
    for (let i = 0; i < length; i++) {
      const w = i * wrSize;
      if (i + 1 < length) setPtr(this.dv, w + nextOff, this.base + (i + 1) * wrSize);
      setPtr(this.dv, w + sgOff, this.base + this.sgeOff + i * SGE);
      this.dv.setInt32(w + nsgeOff, 1, true);
    }
  }

  /** Entry i's one SGE: `len` bytes at `addr` (a Number address) under `lkey`. */
  setSge(i: number, addr: number, len: number, lkey: number): void {
    const s = this.sgeOff + i * SGE;
    setPtr(this.dv, s + SGE_ADDR, addr);
    this.dv.setUint32(s + SGE_LEN, len, true);
    this.dv.setUint32(s + SGE_LKEY, lkey, true);
  }

  terminate(count: number): void {
    if (count < this.length) setPtr(this.dv, (count - 1) * this.wrSize + this.nextOff, 0);
  }

  relink(count: number): void {
    if (count < this.length) setPtr(this.dv, (count - 1) * this.wrSize + this.nextOff, this.base + count * this.wrSize);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    koffi.free(this.ptr);
  }
}

export class SendWrs extends WrArray {
  constructor(length: number) {
    super(length, SEND_WR, SW_NEXT, SW_SG, SW_NSGE);
    for (let i = 0; i < length; i++) this.dv.setInt32(i * SEND_WR + SW_OPCODE, IBV_WR_SEND, true);
  }

  /** wr_id (32 bits) and send_flags of entry i. */
  set(i: number, wrId: number, flags: number): void {
    const w = i * SEND_WR;
    this.dv.setUint32(w + SW_WR_ID, wrId >>> 0, true);
    this.dv.setUint32(w + SW_FLAGS, flags, true);
  }

  /** The UD destination of entry i: an address handle (AH.addr), QPN and Q_Key. */
  setUd(i: number, ah: number, qpn: number, qkey: number): void {
    const w = i * SEND_WR;
    setPtr(this.dv, w + SW_AH, ah);
    this.dv.setUint32(w + SW_QPN, qpn, true);
    this.dv.setUint32(w + SW_QKEY, qkey >>> 0, true);
  }
}

export class RecvWrs extends WrArray {
  constructor(length: number) {
    super(length, RECV_WR, RW_NEXT, RW_SG, RW_NSGE);
  }

  setWrId(i: number, wrId: number): void {
    this.dv.setUint32(i * RECV_WR + RW_WR_ID, wrId >>> 0, true);
  }
}

export { VerbsError };
