/**
 * koffi struct declarations for the libibverbs and mlx5dv structures tsvma reads or writes, under
 * their C names and with their C member names (searchable against verbs.h / mlx5dv.h and the man
 * pages). Read verbs/raw.ts first for how they are used; verbs/layout.ts lists every size and
 * offset tsvma relies on, and verbs/layout.test.ts compares each with a C program compiled against
 * the installed rdma-core headers.
 *
 * Where C has an anonymous union (ibv_wc's and ibv_send_wr's `imm_data`/`invalidate_rkey`), the
 * koffi struct names the member after its first C alternative (same offset, same width); the
 * trailing bind_mw/tso union of ibv_send_wr is the member `u`. layout.ts maps those paths.
 *
 * Declaring types allocates nothing native and needs no library: this module loads on any host.
 */
import koffi from 'koffi';

type Def = Record<string, string | ReturnType<typeof koffi.type>>;

/**
 * A named koffi type, or the one already registered under that name: koffi's type registry is
 * per process, and a test runner may evaluate this module more than once in one process.
 */
function named(kind: 'struct' | 'union', name: string, def: Def): ReturnType<typeof koffi.type> {
  try {
    return koffi.type(name);
  } catch {
    return kind === 'struct' ? koffi.struct(name, def) : koffi.union(name, def);
  }
}

/** pthread_mutex_t / pthread_cond_t on x86_64 glibc: 40 and 48 bytes, 8-aligned. */
const pthread_mutex_t = koffi.array('uint64_t', 5);
const pthread_cond_t = koffi.array('uint64_t', 6);

export const ibv_gid = named('union', 'ibv_gid', {
  raw: koffi.array('uint8_t', 16),
  global: koffi.struct({ subnet_prefix: 'uint64_t', interface_id: 'uint64_t' }),
});

export const _ibv_device_ops = named('struct', '_ibv_device_ops', { _dummy1: 'void *', _dummy2: 'void *' });

export const ibv_device = named('struct', 'ibv_device', {
  _ops: _ibv_device_ops,
  node_type: 'int',
  transport_type: 'int',
  name: koffi.array('char', 64),
  dev_name: koffi.array('char', 64),
  dev_path: koffi.array('char', 256),
  ibdev_path: koffi.array('char', 256),
});

/** The embedded ops table of ibv_context: the static-inline data-path verbs call through it. */
export const ibv_context_ops = named('struct', 'ibv_context_ops', {
  _compat_query_device: 'void *', _compat_query_port: 'void *', _compat_alloc_pd: 'void *', _compat_dealloc_pd: 'void *',
  _compat_reg_mr: 'void *', _compat_rereg_mr: 'void *', _compat_dereg_mr: 'void *',
  alloc_mw: 'void *', bind_mw: 'void *', dealloc_mw: 'void *', _compat_create_cq: 'void *',
  poll_cq: 'void *', req_notify_cq: 'void *',
  _compat_cq_event: 'void *', _compat_resize_cq: 'void *', _compat_destroy_cq: 'void *', _compat_create_srq: 'void *',
  _compat_modify_srq: 'void *', _compat_query_srq: 'void *', _compat_destroy_srq: 'void *',
  post_srq_recv: 'void *',
  _compat_create_qp: 'void *', _compat_query_qp: 'void *', _compat_modify_qp: 'void *', _compat_destroy_qp: 'void *',
  post_send: 'void *', post_recv: 'void *',
  _compat_create_ah: 'void *', _compat_destroy_ah: 'void *', _compat_attach_mcast: 'void *', _compat_detach_mcast: 'void *',
  _compat_async_event: 'void *',
});

export const ibv_context = named('struct', 'ibv_context', {
  device: 'void *',
  ops: ibv_context_ops,
  cmd_fd: 'int',
  async_fd: 'int',
  num_comp_vectors: 'int',
  mutex: pthread_mutex_t,
  abi_compat: 'void *',
});

/**
 * The provider's extended context, laid out *before* ibv_context (verbs_get_ctx: container_of).
 * tsvma reaches query_port, query_device_ex and the flow verbs through it, as verbs.h's inlines do.
 */
export const verbs_context = named('struct', 'verbs_context', {
  query_port: 'void *', advise_mr: 'void *', alloc_null_mr: 'void *', read_counters: 'void *',
  attach_counters_point_flow: 'void *', create_counters: 'void *', destroy_counters: 'void *', reg_dm_mr: 'void *',
  alloc_dm: 'void *', free_dm: 'void *', modify_flow_action_esp: 'void *', destroy_flow_action: 'void *',
  create_flow_action_esp: 'void *', modify_qp_rate_limit: 'void *', alloc_parent_domain: 'void *', dealloc_td: 'void *',
  alloc_td: 'void *', modify_cq: 'void *', post_srq_ops: 'void *', destroy_rwq_ind_table: 'void *',
  create_rwq_ind_table: 'void *', destroy_wq: 'void *', modify_wq: 'void *', create_wq: 'void *',
  query_rt_values: 'void *', create_cq_ex: 'void *', priv: 'void *', query_device_ex: 'void *',
  ibv_destroy_flow: 'void *', ABI_placeholder2: 'void *', ibv_create_flow: 'void *', ABI_placeholder1: 'void *',
  open_qp: 'void *', create_qp_ex: 'void *', get_srq_num: 'void *', create_srq_ex: 'void *',
  open_xrcd: 'void *', close_xrcd: 'void *', _ABI_placeholder3: 'uint64_t', sz: 'size_t',
  context: ibv_context,
});

export const ibv_device_attr = named('struct', 'ibv_device_attr', {
  fw_ver: koffi.array('char', 64),
  node_guid: 'uint64_t', sys_image_guid: 'uint64_t', max_mr_size: 'uint64_t', page_size_cap: 'uint64_t',
  vendor_id: 'uint32_t', vendor_part_id: 'uint32_t', hw_ver: 'uint32_t',
  max_qp: 'int', max_qp_wr: 'int', device_cap_flags: 'unsigned int', max_sge: 'int', max_sge_rd: 'int', max_cq: 'int',
  max_cqe: 'int', max_mr: 'int', max_pd: 'int', max_qp_rd_atom: 'int', max_ee_rd_atom: 'int', max_res_rd_atom: 'int',
  max_qp_init_rd_atom: 'int', max_ee_init_rd_atom: 'int', atomic_cap: 'int', max_ee: 'int', max_rdd: 'int', max_mw: 'int',
  max_raw_ipv6_qp: 'int', max_raw_ethy_qp: 'int', max_mcast_grp: 'int', max_mcast_qp_attach: 'int',
  max_total_mcast_qp_attach: 'int', max_ah: 'int', max_fmr: 'int', max_map_per_fmr: 'int', max_srq: 'int',
  max_srq_wr: 'int', max_srq_sge: 'int', max_pkeys: 'uint16_t', local_ca_ack_delay: 'uint8_t', phys_port_cnt: 'uint8_t',
});

export const ibv_odp_caps = named('struct', 'ibv_odp_caps', {
  general_caps: 'uint64_t',
  per_transport_caps: koffi.struct({ rc_odp_caps: 'uint32_t', uc_odp_caps: 'uint32_t', ud_odp_caps: 'uint32_t' }),
});
export const ibv_tso_caps = named('struct', 'ibv_tso_caps', { max_tso: 'uint32_t', supported_qpts: 'uint32_t' });
export const ibv_rss_caps = named('struct', 'ibv_rss_caps', {
  supported_qpts: 'uint32_t', max_rwq_indirection_tables: 'uint32_t', max_rwq_indirection_table_size: 'uint32_t',
  rx_hash_fields_mask: 'uint64_t', rx_hash_function: 'uint8_t',
});
export const ibv_packet_pacing_caps = named('struct', 'ibv_packet_pacing_caps', { qp_rate_limit_min: 'uint32_t', qp_rate_limit_max: 'uint32_t', supported_qpts: 'uint32_t' });
export const ibv_tm_caps = named('struct', 'ibv_tm_caps', { max_rndv_hdr_size: 'uint32_t', max_num_tags: 'uint32_t', flags: 'uint32_t', max_ops: 'uint32_t', max_sge: 'uint32_t' });
export const ibv_cq_moderation_caps = named('struct', 'ibv_cq_moderation_caps', { max_cq_count: 'uint16_t', max_cq_period: 'uint16_t' });
export const ibv_pci_atomic_caps = named('struct', 'ibv_pci_atomic_caps', { fetch_add: 'uint16_t', swap: 'uint16_t', compare_swap: 'uint16_t' });

export const ibv_device_attr_ex = named('struct', 'ibv_device_attr_ex', {
  orig_attr: ibv_device_attr,
  comp_mask: 'uint32_t',
  odp_caps: ibv_odp_caps,
  completion_timestamp_mask: 'uint64_t',
  hca_core_clock: 'uint64_t',
  device_cap_flags_ex: 'uint64_t',
  tso_caps: ibv_tso_caps,
  rss_caps: ibv_rss_caps,
  max_wq_type_rq: 'uint32_t',
  packet_pacing_caps: ibv_packet_pacing_caps,
  raw_packet_caps: 'uint32_t',
  tm_caps: ibv_tm_caps,
  cq_mod_caps: ibv_cq_moderation_caps,
  max_dm_size: 'uint64_t',
  pci_atomic_caps: ibv_pci_atomic_caps,
  xrc_odp_caps: 'uint32_t',
  phys_port_cnt_ex: 'uint32_t',
});

export const ibv_query_device_ex_input = named('struct', 'ibv_query_device_ex_input', { comp_mask: 'uint32_t' });

export const ibv_port_attr = named('struct', 'ibv_port_attr', {
  state: 'int', max_mtu: 'int', active_mtu: 'int', gid_tbl_len: 'int', port_cap_flags: 'uint32_t', max_msg_sz: 'uint32_t',
  bad_pkey_cntr: 'uint32_t', qkey_viol_cntr: 'uint32_t', pkey_tbl_len: 'uint16_t', lid: 'uint16_t', sm_lid: 'uint16_t',
  lmc: 'uint8_t', max_vl_num: 'uint8_t', sm_sl: 'uint8_t', subnet_timeout: 'uint8_t', init_type_reply: 'uint8_t',
  active_width: 'uint8_t', active_speed: 'uint8_t', phys_state: 'uint8_t', link_layer: 'uint8_t', flags: 'uint8_t',
  port_cap_flags2: 'uint16_t',
});

export const ibv_pd = named('struct', 'ibv_pd', { context: 'void *', handle: 'uint32_t' });

export const ibv_mr = named('struct', 'ibv_mr', {
  context: 'void *', pd: 'void *', addr: 'void *', length: 'size_t', handle: 'uint32_t', lkey: 'uint32_t', rkey: 'uint32_t',
});

export const ibv_comp_channel = named('struct', 'ibv_comp_channel', { context: 'void *', fd: 'int', refcnt: 'int' });

export const ibv_cq = named('struct', 'ibv_cq', {
  context: 'void *', channel: 'void *', cq_context: 'void *', handle: 'uint32_t', cqe: 'int',
  mutex: pthread_mutex_t, cond: pthread_cond_t, comp_events_completed: 'uint32_t', async_events_completed: 'uint32_t',
});

export const ibv_qp = named('struct', 'ibv_qp', {
  context: 'void *', qp_context: 'void *', pd: 'void *', send_cq: 'void *', recv_cq: 'void *', srq: 'void *',
  handle: 'uint32_t', qp_num: 'uint32_t', state: 'int', qp_type: 'int',
  mutex: pthread_mutex_t, cond: pthread_cond_t, events_completed: 'uint32_t',
});

export const ibv_ah = named('struct', 'ibv_ah', { context: 'void *', pd: 'void *', handle: 'uint32_t' });

export const ibv_sge = named('struct', 'ibv_sge', { addr: 'uint64_t', length: 'uint32_t', lkey: 'uint32_t' });

export const ibv_mw_bind_info = named('struct', 'ibv_mw_bind_info', { mr: 'void *', addr: 'uint64_t', length: 'uint64_t', mw_access_flags: 'unsigned int' });

export const ibv_send_wr = named('struct', 'ibv_send_wr', {
  wr_id: 'uint64_t',
  next: 'void *',
  sg_list: 'void *',
  num_sge: 'int',
  opcode: 'int',
  send_flags: 'unsigned int',
  imm_data: 'uint32_t',
  wr: koffi.union({
    rdma: koffi.struct({ remote_addr: 'uint64_t', rkey: 'uint32_t' }),
    atomic: koffi.struct({ remote_addr: 'uint64_t', compare_add: 'uint64_t', swap: 'uint64_t', rkey: 'uint32_t' }),
    ud: koffi.struct({ ah: 'void *', remote_qpn: 'uint32_t', remote_qkey: 'uint32_t' }),
  }),
  qp_type: koffi.union({ xrc: koffi.struct({ remote_srqn: 'uint32_t' }) }),
  u: koffi.union({
    bind_mw: koffi.struct({ mw: 'void *', rkey: 'uint32_t', bind_info: ibv_mw_bind_info }),
    tso: koffi.struct({ hdr: 'void *', hdr_sz: 'uint16_t', mss: 'uint16_t' }),
  }),
});

export const ibv_recv_wr = named('struct', 'ibv_recv_wr', { wr_id: 'uint64_t', next: 'void *', sg_list: 'void *', num_sge: 'int' });

export const ibv_wc = named('struct', 'ibv_wc', {
  wr_id: 'uint64_t', status: 'int', opcode: 'int', vendor_err: 'uint32_t', byte_len: 'uint32_t', imm_data: 'uint32_t',
  qp_num: 'uint32_t', src_qp: 'uint32_t', wc_flags: 'unsigned int', pkey_index: 'uint16_t', slid: 'uint16_t',
  sl: 'uint8_t', dlid_path_bits: 'uint8_t',
});

export const ibv_qp_cap = named('struct', 'ibv_qp_cap', {
  max_send_wr: 'uint32_t', max_recv_wr: 'uint32_t', max_send_sge: 'uint32_t', max_recv_sge: 'uint32_t', max_inline_data: 'uint32_t',
});

export const ibv_qp_init_attr = named('struct', 'ibv_qp_init_attr', {
  qp_context: 'void *', send_cq: 'void *', recv_cq: 'void *', srq: 'void *', cap: ibv_qp_cap, qp_type: 'int', sq_sig_all: 'int',
});

export const ibv_global_route = named('struct', 'ibv_global_route', {
  dgid: ibv_gid, flow_label: 'uint32_t', sgid_index: 'uint8_t', hop_limit: 'uint8_t', traffic_class: 'uint8_t',
});

export const ibv_ah_attr = named('struct', 'ibv_ah_attr', {
  grh: ibv_global_route, dlid: 'uint16_t', sl: 'uint8_t', src_path_bits: 'uint8_t', static_rate: 'uint8_t', is_global: 'uint8_t', port_num: 'uint8_t',
});

export const ibv_qp_attr = named('struct', 'ibv_qp_attr', {
  qp_state: 'int', cur_qp_state: 'int', path_mtu: 'int', path_mig_state: 'int', qkey: 'uint32_t', rq_psn: 'uint32_t',
  sq_psn: 'uint32_t', dest_qp_num: 'uint32_t', qp_access_flags: 'unsigned int', cap: ibv_qp_cap, ah_attr: ibv_ah_attr,
  alt_ah_attr: ibv_ah_attr, pkey_index: 'uint16_t', alt_pkey_index: 'uint16_t', en_sqd_async_notify: 'uint8_t',
  sq_draining: 'uint8_t', max_rd_atomic: 'uint8_t', max_dest_rd_atomic: 'uint8_t', min_rnr_timer: 'uint8_t',
  port_num: 'uint8_t', timeout: 'uint8_t', retry_cnt: 'uint8_t', rnr_retry: 'uint8_t', alt_port_num: 'uint8_t',
  alt_timeout: 'uint8_t', rate_limit: 'uint32_t',
});

export const ibv_flow_attr = named('struct', 'ibv_flow_attr', {
  comp_mask: 'uint32_t', type: 'int', size: 'uint16_t', priority: 'uint16_t', num_of_specs: 'uint8_t', port: 'uint8_t', flags: 'uint32_t',
});

export const ibv_flow_eth_filter = named('struct', 'ibv_flow_eth_filter', {
  dst_mac: koffi.array('uint8_t', 6), src_mac: koffi.array('uint8_t', 6), ether_type: 'uint16_t', vlan_tag: 'uint16_t',
});
export const ibv_flow_spec_eth = named('struct', 'ibv_flow_spec_eth', { type: 'int', size: 'uint16_t', val: ibv_flow_eth_filter, mask: ibv_flow_eth_filter });

export const ibv_flow_ipv4_filter = named('struct', 'ibv_flow_ipv4_filter', { src_ip: 'uint32_t', dst_ip: 'uint32_t' });
export const ibv_flow_spec_ipv4 = named('struct', 'ibv_flow_spec_ipv4', { type: 'int', size: 'uint16_t', val: ibv_flow_ipv4_filter, mask: ibv_flow_ipv4_filter });

export const ibv_flow_tcp_udp_filter = named('struct', 'ibv_flow_tcp_udp_filter', { dst_port: 'uint16_t', src_port: 'uint16_t' });
export const ibv_flow_spec_tcp_udp = named('struct', 'ibv_flow_spec_tcp_udp', { type: 'int', size: 'uint16_t', val: ibv_flow_tcp_udp_filter, mask: ibv_flow_tcp_udp_filter });

export const ibv_flow = named('struct', 'ibv_flow', { comp_mask: 'uint32_t', context: 'void *', handle: 'uint32_t' });

// mlx5dv.h: what direct WQE/CQE access needs (the queues' buffers, doorbell records, BlueFlame).
export const mlx5dv_qp = named('struct', 'mlx5dv_qp', {
  dbrec: 'void *',
  sq: koffi.struct({ buf: 'void *', wqe_cnt: 'uint32_t', stride: 'uint32_t' }),
  rq: koffi.struct({ buf: 'void *', wqe_cnt: 'uint32_t', stride: 'uint32_t' }),
  bf: koffi.struct({ reg: 'void *', size: 'uint32_t' }),
  comp_mask: 'uint64_t',
  uar_mmap_offset: 'int64_t',
  tirn: 'uint32_t', tisn: 'uint32_t', rqn: 'uint32_t', sqn: 'uint32_t',
  tir_icm_addr: 'uint64_t',
});

export const mlx5dv_cq = named('struct', 'mlx5dv_cq', {
  buf: 'void *', dbrec: 'void *', cqe_cnt: 'uint32_t', cqe_size: 'uint32_t', cq_uar: 'void *', cqn: 'uint32_t', comp_mask: 'uint64_t',
});

const inOut = () => koffi.struct({ in: 'void *', out: 'void *' });
export const mlx5dv_obj = named('struct', 'mlx5dv_obj', {
  qp: inOut(), cq: inOut(), srq: inOut(), rwq: inOut(), dm: inOut(), ah: inOut(), pd: inOut(),
});

/** Only the head of mlx5dv_context is read; the rest is reserved room of the right size (checked). */
export const mlx5dv_context = named('struct', 'mlx5dv_context', {
  version: 'uint8_t',
  flags: 'uint64_t',
  comp_mask: 'uint64_t',
  _rest: koffi.array('uint8_t', 128),
});
