/**
 * verbs.h / mlx5dv.h enum values tsvma uses, under their C names (every number exported here is
 * compared with the installed headers by verbs/layout.test.ts; export nothing numeric that is not a
 * C identifier).
 */

// enum ibv_node_type, ibv_transport_type
export const IBV_NODE_CA = 1;
export const IBV_TRANSPORT_IB = 0;

// enum ibv_port_state, ibv_mtu, link layer
export const IBV_PORT_DOWN = 1;
export const IBV_PORT_ACTIVE = 4;
export const IBV_MTU_256 = 1;
export const IBV_MTU_1024 = 3;
export const IBV_MTU_4096 = 5;
export const IBV_LINK_LAYER_INFINIBAND = 1;
export const IBV_LINK_LAYER_ETHERNET = 2;

// enum ibv_access_flags
export const IBV_ACCESS_LOCAL_WRITE = 1;
export const IBV_ACCESS_REMOTE_WRITE = 2;
export const IBV_ACCESS_REMOTE_READ = 4;
/** Access bits that make verbs.h's ibv_reg_mr macro call ibv_reg_mr_iova2 instead (IBV_ACCESS_OPTIONAL_RANGE). */
export const IBV_ACCESS_OPTIONAL_RANGE = 0x3ff00000;
export const IBV_ACCESS_OPTIONAL_FIRST = 0x100000;

// enum ibv_qp_type, ibv_qp_state, ibv_qp_attr_mask
export const IBV_QPT_RC = 2;
export const IBV_QPT_UC = 3;
export const IBV_QPT_UD = 4;
export const IBV_QPT_RAW_PACKET = 8;
export const IBV_QPS_RESET = 0;
export const IBV_QPS_INIT = 1;
export const IBV_QPS_RTR = 2;
export const IBV_QPS_RTS = 3;
export const IBV_QPS_ERR = 6;
export const IBV_QP_STATE = 1 << 0;
export const IBV_QP_ACCESS_FLAGS = 1 << 3;
export const IBV_QP_PKEY_INDEX = 1 << 4;
export const IBV_QP_PORT = 1 << 5;
export const IBV_QP_QKEY = 1 << 6;
export const IBV_QP_AV = 1 << 7;
export const IBV_QP_PATH_MTU = 1 << 8;
export const IBV_QP_TIMEOUT = 1 << 9;
export const IBV_QP_RETRY_CNT = 1 << 10;
export const IBV_QP_RNR_RETRY = 1 << 11;
export const IBV_QP_RQ_PSN = 1 << 12;
export const IBV_QP_MAX_QP_RD_ATOMIC = 1 << 13;
export const IBV_QP_MIN_RNR_TIMER = 1 << 15;
export const IBV_QP_SQ_PSN = 1 << 16;
export const IBV_QP_MAX_DEST_RD_ATOMIC = 1 << 17;
export const IBV_QP_DEST_QPN = 1 << 20;

// enum ibv_wr_opcode, ibv_send_flags, ibv_wc_opcode, ibv_wc_status, ibv_wc_flags
export const IBV_WR_SEND = 2;
export const IBV_SEND_SIGNALED = 1 << 1;
export const IBV_SEND_INLINE = 1 << 3;
export const IBV_SEND_IP_CSUM = 1 << 4;
export const IBV_WC_SEND = 0;
export const IBV_WC_RECV = 128;
export const IBV_WC_SUCCESS = 0;
export const IBV_WC_WR_FLUSH_ERR = 5;
export const IBV_WC_GRH = 1 << 0;
export const IBV_WC_IP_CSUM_OK = 1 << 2;

// enum ibv_flow_attr_type, ibv_flow_spec_type
export const IBV_FLOW_ATTR_NORMAL = 0;
export const IBV_FLOW_SPEC_ETH = 0x20;
export const IBV_FLOW_SPEC_IPV4 = 0x30;
export const IBV_FLOW_SPEC_TCP = 0x40;
export const IBV_FLOW_SPEC_UDP = 0x41;

// enum ibv_device_cap_flags, ibv_raw_packet_caps
export const IBV_DEVICE_UD_IP_CSUM = 1 << 18;
export const IBV_DEVICE_MANAGED_FLOW_STEERING = 1 << 29;
export const IBV_RAW_PACKET_CAP_IP_CSUM = 1 << 2;

// enum mlx5dv_obj_type
export const MLX5DV_OBJ_QP = 1 << 0;
export const MLX5DV_OBJ_CQ = 1 << 1;

// <fcntl.h>: the completion channel's fd is made non-blocking (ibv_get_cq_event then returns EAGAIN).
export const F_GETFL = 3;
export const F_SETFL = 4;
export const O_NONBLOCK = 0o4000;
export const EAGAIN = 11;
