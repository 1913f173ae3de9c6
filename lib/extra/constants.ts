/**
 * VMA's extra-API constants, under VMA's names and with VMA's values (src/vma/vma_extra.h; every
 * value is listed in ../shared/reference/libvma-notes.md §1.2-1.7). Plain numbers (BigInt for the
 * 64-bit SocketXtreme event bits), so a program ported from C reads the same.
 */

// vma_extra_api_mask: one bit per vma_api_t member.
export const VMA_EXTRA_API_REGISTER_RECV_CALLBACK = 1 << 0;
export const VMA_EXTRA_API_RECVFROM_ZCOPY = 1 << 1;
export const VMA_EXTRA_API_FREE_PACKETS = 1 << 2;
export const VMA_EXTRA_API_ADD_CONF_RULE = 1 << 3;
export const VMA_EXTRA_API_THREAD_OFFLOAD = 1 << 4;
export const VMA_EXTRA_API_DUMP_FD_STATS = 1 << 5;
export const VMA_EXTRA_API_SOCKETXTREME_POLL = 1 << 6;
export const VMA_EXTRA_API_SOCKETXTREME_FREE_VMA_PACKETS = 1 << 7;
export const VMA_EXTRA_API_SOCKETXTREME_REF_VMA_BUFF = 1 << 8;
export const VMA_EXTRA_API_SOCKETXTREME_FREE_VMA_BUFF = 1 << 9;
export const VMA_EXTRA_API_GET_SOCKET_RINGS_NUM = 1 << 10;
export const VMA_EXTRA_API_GET_SOCKET_RINGS_FDS = 1 << 11;
export const VMA_EXTRA_API_GET_SOCKET_TX_RING_FD = 1 << 12;
export const VMA_EXTRA_API_GET_SOCKET_NETWORK_HEADER = 1 << 13;
export const VMA_EXTRA_API_GET_RING_DIRECT_DESCRIPTORS = 1 << 14;
export const VMA_EXTRA_API_ADD_RING_PROFILE = 1 << 16;
export const VMA_EXTRA_API_REGISTER_MEMORY_ON_RING = 1 << 17;
export const VMA_EXTRA_API_DEREGISTER_MEMORY_ON_RING = 1 << 18;
export const VMA_EXTRA_API_MODIFY_RING = 1 << 20;
export const VMA_EXTRA_API_IOCTL = 1 << 21;

// vma_recv_callback_retval_t
export const VMA_PACKET_DROP = 0;
export const VMA_PACKET_RECV = 1;
export const VMA_PACKET_HOLD = 2;

// recvfrom_zcopy flags
/** Input: never fall back to a copy. */
export const MSG_VMA_ZCOPY_FORCE = 0x01000000;
/** Output: the packets point into ring buffers (no copy was made). */
export const MSG_VMA_ZCOPY = 0x00040000;
/** Output (UDP): the buffer given could not describe the whole datagram. */
export const MSG_TRUNC = 0x20;

// vma_socketxtreme_events_t: bits above the 32 EPOLL bits, so a completion's `events` is a BigInt
// (JS bitwise operators on numbers keep 32 bits): `c.events & VMA_SOCKETXTREME_PACKET`,
// `c.events & BigInt(EPOLLIN)`.
export const VMA_SOCKETXTREME_PACKET = 1n << 32n;
export const VMA_SOCKETXTREME_NEW_CONNECTION_ACCEPTED = 1n << 33n;
export const EPOLLIN = 0x001;
export const EPOLLOUT = 0x004;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
export const EPOLLRDHUP = 0x2000;

// Socket options (level SOL_SOCKET).
export const SOL_SOCKET = 1;
export const SO_VMA_GET_API = 2800;
export const SO_VMA_USER_DATA = 2801;
export const SO_VMA_RING_ALLOC_LOGIC = 2810;
export const SO_VMA_RING_USER_MEMORY = 2811;
export const SO_VMA_FLOW_TAG = 2820;
export const SO_VMA_SHUTDOWN_RX = 2821;
export const SO_TIMESTAMP = 29;
export const SO_TIMESTAMPNS = 35;
export const SO_TIMESTAMPING = 37;
export const SOF_TIMESTAMPING_RX_HARDWARE = 1 << 2;
export const SOF_TIMESTAMPING_RX_SOFTWARE = 1 << 3;
export const SOF_TIMESTAMPING_SOFTWARE = 1 << 4;
export const SOF_TIMESTAMPING_RAW_HARDWARE = 1 << 6;

/** The ioctl member's one command (cmsg_type) and its flags. */
export const CMSG_VMA_IOCTL_USER_ALLOC = 2900;
export const VMA_IOCTL_USER_ALLOC_FLAG_TX = 1;
export const VMA_IOCTL_USER_ALLOC_FLAG_RX = 2;

/** Dummy send: a send flag (MSG_SYN's value) that runs the TX path and puts nothing on the wire. */
export const VMA_SND_FLAGS_DUMMY = 0x400;

// ring_logic_t
export const RING_LOGIC_PER_INTERFACE = 0;
export const RING_LOGIC_PER_IP = 1;
export const RING_LOGIC_PER_SOCKET = 10;
export const RING_LOGIC_PER_USER_ID = 11;
export const RING_LOGIC_PER_THREAD = 20;
export const RING_LOGIC_PER_CORE = 30;
export const RING_LOGIC_PER_CORE_ATTACH_THREADS = 31;

// vma_ring_alloc_logic_attr comp_mask bits
export const VMA_RING_ALLOC_MASK_RING_PROFILE_KEY = 1 << 0;
export const VMA_RING_ALLOC_MASK_RING_USER_ID = 1 << 1;
export const VMA_RING_ALLOC_MASK_RING_INGRESS = 1 << 2;
export const VMA_RING_ALLOC_MASK_RING_ENGRESS = 1 << 3;

// vma_modify_ring_attr comp_bit_mask
export const VMA_MODIFY_RING_CQ_MODERATION = 1 << 0;
export const VMA_MODIFY_RING_CQ_ARM = 1 << 1;

// vma_ring_type
export const VMA_RING_PACKET = 0;
export const VMA_RING_EXTERNAL_MEM = 1;

// mlx_hw_device_cap
export const VMA_HW_PP_EN = 1;
export const VMA_HW_PP_BURST_EN = 8;

/** Linux errno values the extra API reports (the `errno` of a failed call). */
export const VMA_ERRNO = Object.freeze({
  EPERM: 1,
  ENOENT: 2,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  ENODATA: 61,
  EBADFD: 77,
  EOPNOTSUPP: 95,
  ENOBUFS: 105,
  ENOTCONN: 107,
} as const);
export type VmaErrnoName = keyof typeof VMA_ERRNO;
