/**
 * Every struct size, member offset and constant tsvma's verbs code relies on, as (C expression,
 * our value) pairs. verbs/layout.test.ts compiles the C expressions against the installed
 * rdma-core headers and compares; raw.ts and the wrappers take their offsets from here (through
 * `off`), so what is checked is what is used.
 */
import koffi from 'koffi';
import * as C from './constants';
import * as T from './types';

type KType = ReturnType<typeof koffi.type>;

/** Byte offset of a dotted member path in a koffi struct/union type ('wr.ud.remote_qpn'). */
export function off(t: KType, path: string): number {
  let cur = koffi.type(t);
  let at = 0;
  for (const part of path.split('.')) {
    const m = cur.members?.[part];
    if (!m) throw new Error(`verbs layout: ${cur.name} has no member ${part} (path ${path})`);
    at += m.offset;
    cur = m.type;
  }
  return at;
}

export interface LayoutCheck {
  /** A C expression (sizeof/offsetof/constant) evaluated against verbs.h and mlx5dv.h. */
  readonly c: string;
  readonly ours: number;
}

/** (C struct name, koffi type, members: C path or [C path, koffi path]). */
const STRUCTS: [string, KType, (string | [string, string])[]][] = [
  ['union ibv_gid', T.ibv_gid, ['raw', 'global.subnet_prefix', 'global.interface_id']],
  ['struct ibv_device', T.ibv_device, ['node_type', 'transport_type', 'name', 'dev_name', 'dev_path', 'ibdev_path']],
  ['struct ibv_context_ops', T.ibv_context_ops, ['poll_cq', 'req_notify_cq', 'post_srq_recv', 'post_send', 'post_recv', 'alloc_mw', '_compat_async_event']],
  ['struct ibv_context', T.ibv_context, ['device', 'ops', 'ops.poll_cq', 'ops.req_notify_cq', 'ops.post_send', 'ops.post_recv', 'cmd_fd', 'async_fd', 'num_comp_vectors', 'mutex', 'abi_compat']],
  ['struct verbs_context', T.verbs_context, ['query_port', 'create_cq_ex', 'query_device_ex', 'ibv_destroy_flow', 'ibv_create_flow', 'create_qp_ex', 'close_xrcd', 'sz', 'context']],
  ['struct ibv_device_attr', T.ibv_device_attr, ['fw_ver', 'node_guid', 'max_mr_size', 'vendor_id', 'vendor_part_id', 'max_qp', 'max_qp_wr', 'device_cap_flags', 'max_sge', 'max_cq', 'max_cqe', 'max_mr', 'max_pd', 'max_raw_ethy_qp', 'max_mcast_grp', 'max_mcast_qp_attach', 'max_ah', 'max_srq', 'max_pkeys', 'local_ca_ack_delay', 'phys_port_cnt']],
  ['struct ibv_device_attr_ex', T.ibv_device_attr_ex, ['orig_attr', 'comp_mask', 'odp_caps', 'completion_timestamp_mask', 'hca_core_clock', 'device_cap_flags_ex', 'tso_caps', 'tso_caps.max_tso', 'rss_caps', 'max_wq_type_rq', 'packet_pacing_caps', 'raw_packet_caps', 'tm_caps', 'cq_mod_caps', 'max_dm_size', 'pci_atomic_caps', 'xrc_odp_caps', 'phys_port_cnt_ex']],
  ['struct ibv_port_attr', T.ibv_port_attr, ['state', 'max_mtu', 'active_mtu', 'gid_tbl_len', 'port_cap_flags', 'max_msg_sz', 'pkey_tbl_len', 'lid', 'sm_lid', 'lmc', 'active_width', 'active_speed', 'phys_state', 'link_layer', 'flags', 'port_cap_flags2']],
  ['struct ibv_pd', T.ibv_pd, ['context', 'handle']],
  ['struct ibv_mr', T.ibv_mr, ['context', 'pd', 'addr', 'length', 'handle', 'lkey', 'rkey']],
  ['struct ibv_comp_channel', T.ibv_comp_channel, ['context', 'fd', 'refcnt']],
  ['struct ibv_cq', T.ibv_cq, ['context', 'channel', 'cq_context', 'handle', 'cqe', 'comp_events_completed', 'async_events_completed']],
  ['struct ibv_qp', T.ibv_qp, ['context', 'qp_context', 'pd', 'send_cq', 'recv_cq', 'srq', 'handle', 'qp_num', 'state', 'qp_type', 'events_completed']],
  ['struct ibv_ah', T.ibv_ah, ['context', 'pd', 'handle']],
  ['struct ibv_sge', T.ibv_sge, ['addr', 'length', 'lkey']],
  ['struct ibv_send_wr', T.ibv_send_wr, ['wr_id', 'next', 'sg_list', 'num_sge', 'opcode', 'send_flags', 'imm_data', 'wr.rdma.remote_addr', 'wr.rdma.rkey', 'wr.atomic.swap', 'wr.atomic.rkey', 'wr.ud.ah', 'wr.ud.remote_qpn', 'wr.ud.remote_qkey', 'qp_type.xrc.remote_srqn', ['bind_mw.bind_info.mw_access_flags', 'u.bind_mw.bind_info.mw_access_flags'], ['tso.hdr', 'u.tso.hdr'], ['tso.mss', 'u.tso.mss']]],
  ['struct ibv_recv_wr', T.ibv_recv_wr, ['wr_id', 'next', 'sg_list', 'num_sge']],
  ['struct ibv_wc', T.ibv_wc, ['wr_id', 'status', 'opcode', 'vendor_err', 'byte_len', 'imm_data', 'qp_num', 'src_qp', 'wc_flags', 'pkey_index', 'slid', 'sl', 'dlid_path_bits']],
  ['struct ibv_qp_cap', T.ibv_qp_cap, ['max_send_wr', 'max_recv_wr', 'max_send_sge', 'max_recv_sge', 'max_inline_data']],
  ['struct ibv_qp_init_attr', T.ibv_qp_init_attr, ['qp_context', 'send_cq', 'recv_cq', 'srq', 'cap', 'qp_type', 'sq_sig_all']],
  ['struct ibv_global_route', T.ibv_global_route, ['dgid', 'flow_label', 'sgid_index', 'hop_limit', 'traffic_class']],
  ['struct ibv_ah_attr', T.ibv_ah_attr, ['grh', 'dlid', 'sl', 'src_path_bits', 'static_rate', 'is_global', 'port_num']],
  ['struct ibv_qp_attr', T.ibv_qp_attr, ['qp_state', 'cur_qp_state', 'path_mtu', 'path_mig_state', 'qkey', 'rq_psn', 'sq_psn', 'dest_qp_num', 'qp_access_flags', 'cap', 'ah_attr', 'ah_attr.grh.sgid_index', 'ah_attr.is_global', 'ah_attr.port_num', 'alt_ah_attr', 'pkey_index', 'alt_pkey_index', 'en_sqd_async_notify', 'sq_draining', 'max_rd_atomic', 'max_dest_rd_atomic', 'min_rnr_timer', 'port_num', 'timeout', 'retry_cnt', 'rnr_retry', 'alt_port_num', 'alt_timeout', 'rate_limit']],
  ['struct ibv_flow_attr', T.ibv_flow_attr, ['comp_mask', 'type', 'size', 'priority', 'num_of_specs', 'port', 'flags']],
  ['struct ibv_flow_eth_filter', T.ibv_flow_eth_filter, ['dst_mac', 'src_mac', 'ether_type', 'vlan_tag']],
  ['struct ibv_flow_spec_eth', T.ibv_flow_spec_eth, ['type', 'size', 'val', 'mask']],
  ['struct ibv_flow_ipv4_filter', T.ibv_flow_ipv4_filter, ['src_ip', 'dst_ip']],
  ['struct ibv_flow_spec_ipv4', T.ibv_flow_spec_ipv4, ['type', 'size', 'val', 'mask']],
  ['struct ibv_flow_tcp_udp_filter', T.ibv_flow_tcp_udp_filter, ['dst_port', 'src_port']],
  ['struct ibv_flow_spec_tcp_udp', T.ibv_flow_spec_tcp_udp, ['type', 'size', 'val', 'mask']],
  ['struct ibv_flow', T.ibv_flow, ['comp_mask', 'context', 'handle']],
  ['struct mlx5dv_qp', T.mlx5dv_qp, ['dbrec', 'sq.buf', 'sq.wqe_cnt', 'sq.stride', 'rq.buf', 'rq.wqe_cnt', 'rq.stride', 'bf.reg', 'bf.size', 'comp_mask', 'uar_mmap_offset', 'tirn', 'tisn', 'rqn', 'sqn', 'tir_icm_addr']],
  ['struct mlx5dv_cq', T.mlx5dv_cq, ['buf', 'dbrec', 'cqe_cnt', 'cqe_size', 'cq_uar', 'cqn', 'comp_mask']],
  ['struct mlx5dv_obj', T.mlx5dv_obj, ['qp.in', 'qp.out', 'cq.in', 'cq.out', 'srq', 'rwq', 'dm', 'ah', 'pd']],
  ['struct mlx5dv_context', T.mlx5dv_context, ['version', 'flags', 'comp_mask']],
];

/** Every check: sizes, offsets, then the constants of verbs/constants.ts (by their C names). */
export function layoutChecks(): LayoutCheck[] {
  const out: LayoutCheck[] = [];
  for (const [cname, t, members] of STRUCTS) {
    out.push({ c: `sizeof(${cname})`, ours: koffi.sizeof(t) });
    for (const m of members) {
      const [cp, kp] = typeof m === 'string' ? [m, m] : m;
      out.push({ c: `offsetof(${cname}, ${cp})`, ours: off(t, kp) });
    }
  }
  for (const [name, v] of Object.entries(C)) {
    if (typeof v === 'number') out.push({ c: name, ours: v });
  }
  return out;
}
