/**
 * Raw libc declarations for the packet device: functions under their C names and prototypes
 * (searchable against the man pages), the constants and struct layouts they take, nothing else.
 * Every constant and offset here is compared with the installed headers by
 * ring/packet/layout.test.ts (a C program compiled at test time prints the real values).
 *
 * Owning wrappers (errors, namespaces, the socket, rings, filter) live in the other files of this
 * folder; BigInt pointers never leave ring/packet/.
 */
import koffi from 'koffi';

function load() {
  const c = koffi.load('libc.so.6');
  return {
    socket: c.func('int socket(int domain, int type, int protocol)'),
    bind: c.func('int bind(int sockfd, const void *addr, uint32_t addrlen)'),
    setsockopt: c.func('int setsockopt(int sockfd, int level, int optname, const void *optval, uint32_t optlen)'),
    getsockopt: c.func('int getsockopt(int sockfd, int level, int optname, void *optval, uint32_t *optlen)'),
    mmap: c.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
    munmap: c.func('int munmap(void *addr, size_t length)'),
    close: c.func('int close(int fd)'),
    sendmmsg: c.func('int sendmmsg(int sockfd, void *msgvec, unsigned int vlen, int flags)'),
    recv: c.func('intptr_t recv(int sockfd, void *buf, size_t len, int flags)'),
    if_nametoindex: c.func('unsigned int if_nametoindex(const char *ifname)'),
    setns: c.func('int setns(int fd, int nstype)'),
    open: c.func('int open(const char *pathname, int flags, ...)'),
    ioctl: c.func('int ioctl(int fd, unsigned long request, ...)'),
    strerror: c.func('const char *strerror(int errnum)'),
  };
}

export type Libc = ReturnType<typeof load>;
let lib: Libc | null = null;

/** The libc functions (loaded on first use). */
export function libc(): Libc {
  if (!lib) lib = load();
  return lib;
}

/** errno of the last call on this thread (read it before any other FFI call). */
export function errno(): number {
  return koffi.errno();
}

// <sys/socket.h>, <linux/if_ether.h>, <linux/if_packet.h>, <asm-generic/socket.h>
export const AF_PACKET = 17;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const ETH_P_ALL = 0x0003;
export const SOL_SOCKET = 1;
export const SO_ATTACH_FILTER = 26;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_RCVBUFFORCE = 33;
export const SOL_PACKET = 263;
export const PACKET_ADD_MEMBERSHIP = 1;
export const PACKET_DROP_MEMBERSHIP = 2;
export const PACKET_RX_RING = 5;
export const PACKET_STATISTICS = 6;
export const PACKET_COPY_THRESH = 7;
export const PACKET_VERSION = 10;
export const PACKET_RESERVE = 12;
export const PACKET_TX_RING = 13;
export const PACKET_VNET_HDR = 15;
export const PACKET_QDISC_BYPASS = 20;
export const PACKET_MR_MULTICAST = 0;
export const PACKET_MR_PROMISC = 1;
export const PACKET_MR_UNICAST = 3;
/** sll_pkttype / skb->pkt_type values. */
export const PACKET_HOST = 0;
export const PACKET_BROADCAST = 1;
export const PACKET_MULTICAST = 2;
export const PACKET_OTHERHOST = 3;
export const PACKET_OUTGOING = 4;
export const TPACKET_V2 = 1;
export const TP_STATUS_KERNEL = 0;
export const TP_STATUS_USER = 1;
export const TP_STATUS_COPY = 2;
export const TP_STATUS_LOSING = 4;
export const TP_STATUS_VLAN_VALID = 0x10;
/** The frame came from this host with checksum offload: its L4 checksum is not computed yet. */
export const TP_STATUS_CSUMNOTREADY = 0x8;
/** The driver verified the L4 checksum. */
export const TP_STATUS_CSUM_VALID = 0x80;

/** struct sockaddr_ll: sll_family u16 @0, sll_protocol be16 @2, sll_ifindex i32 @4, sll_hatype @8, sll_pkttype u8 @10, sll_halen @11, sll_addr[8] @12; 20 bytes. */
export const SOCKADDR_LL_SIZE = 20;
export const SLL_PROTOCOL = 2;
export const SLL_IFINDEX = 4;
export const SLL_PKTTYPE = 10;
/** struct packet_mreq: mr_ifindex i32 @0, mr_type u16 @4, mr_alen u16 @6, mr_address[8] @8; 16 bytes. */
export const PACKET_MREQ_SIZE = 16;
/** struct tpacket_req: tp_block_size, tp_block_nr, tp_frame_size, tp_frame_nr (u32 each); 16 bytes. */
export const TPACKET_REQ_SIZE = 16;
/** struct tpacket_stats: tp_packets u32 @0, tp_drops u32 @4; 8 bytes. */
export const TPACKET_STATS_SIZE = 8;
/** struct tpacket2_hdr: tp_status u32 @0, tp_len @4, tp_snaplen @8, tp_mac u16 @12, tp_net u16 @14, tp_sec @16, tp_nsec @20, tp_vlan_tci u16 @24, tp_vlan_tpid u16 @26; 32 bytes. */
export const TP2_STATUS = 0;
export const TP2_LEN = 4;
export const TP2_SNAPLEN = 8;
export const TP2_MAC = 12;
export const TP2_NET = 14;
export const TP2_VLAN_TCI = 24;
export const TPACKET2_HDR_SIZE = 32;
/** TPACKET_ALIGN(sizeof(struct tpacket2_hdr)): where the kernel's struct sockaddr_ll follows the header in an RX slot. */
export const TPACKET2_SLL = 32;
/** struct sock_filter: code u16 @0, jt u8 @2, jf u8 @3, k u32 @4; 8 bytes. struct sock_fprog: len u16 @0, filter ptr @8; 16 bytes. */
export const SOCK_FILTER_SIZE = 8;
export const SOCK_FPROG_SIZE = 16;
export const SOCK_FPROG_FILTER = 8;
/** <linux/filter.h> ancillary loads: SKF_AD_OFF + SKF_AD_PKTTYPE. */
export const SKF_AD_OFF = -0x1000;
export const SKF_AD_PKTTYPE = 4;

// <linux/virtio_net.h>: struct virtio_net_hdr, in front of every frame once PACKET_VNET_HDR is set
// (little-endian fields on a little-endian host: the kernel uses vio_le()). flags u8 @0,
// gso_type u8 @1, hdr_len u16 @2, gso_size u16 @4, csum_start u16 @6, csum_offset u16 @8; 10 bytes.
export const VNET_HDR_SIZE = 10;
export const VNET_FLAGS = 0;
export const VNET_GSO_TYPE = 1;
export const VNET_HDR_LEN = 2;
export const VNET_GSO_SIZE = 4;
export const VNET_CSUM_START = 6;
export const VNET_CSUM_OFFSET = 8;
/** The L4 checksum is partial: sum from csum_start (the field holds the pseudo-header sum), store at csum_start + csum_offset. */
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
/** The checksum was verified (CHECKSUM_UNNECESSARY). */
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

// <sys/uio.h>, <sys/socket.h>: struct iovec { void *iov_base @0; size_t iov_len @8 } 16 bytes;
// struct msghdr { msg_name @0, msg_namelen @8, msg_iov @16, msg_iovlen @24, msg_control @32,
// msg_controllen @40, msg_flags @48 } 56 bytes; struct mmsghdr { msg_hdr @0, msg_len @56 } 64 bytes.
export const IOVEC_SIZE = 16;
export const IOV_BASE = 0;
export const IOV_LEN = 8;
export const MSG_IOV = 16;
export const MSG_IOVLEN = 24;
export const MMSGHDR_SIZE = 64;
export const MSG_DONTWAIT = 0x40;
export const MSG_TRUNC = 0x20;

// <sys/mman.h>, <fcntl.h>, <sched.h>, <poll.h>
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
/** (void *) -1 as koffi 3 returns it. */
export const MAP_FAILED = 0xffffffffffffffffn;
export const O_RDONLY = 0;
export const O_CLOEXEC = 0o2000000;
export const CLONE_NEWNET = 0x40000000;
export const POLLIN = 1;

// <linux/sockios.h>, <net/if.h>: struct ifreq is 40 bytes, ifr_name[16] @0, the union @16
// (ifr_mtu int; ifr_hwaddr struct sockaddr: sa_family u16 @16, sa_data @18).
export const SIOCGIFMTU = 0x8921;
export const SIOCGIFHWADDR = 0x8927;
export const IFREQ_SIZE = 40;
export const IFNAMSIZ = 16;
export const IFR_UNION = 16;

// <errno.h>
export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EAGAIN = 11;
export const EACCES = 13;
export const ENODEV = 19;
export const EINVAL = 22;
export const EMSGSIZE = 90;
export const ENOBUFS = 105;
export const ENETDOWN = 100;
export const ENXIO = 6;
