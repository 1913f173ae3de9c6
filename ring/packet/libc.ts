/**
 * Raw libc declarations for the packet device, under their C names (searchable against the man
 * pages), plus the constants it uses, checked against the installed headers by
 * ring/packet/layout.test.ts. Pointers (BigInt) never leave ring/packet/.
 */
import koffi from 'koffi';

let lib: ReturnType<typeof load> | null = null;

function load() {
  const c = koffi.load('libc.so.6');
  return {
    socket: c.func('int socket(int domain, int type, int protocol)'),
    bind: c.func('int bind(int fd, const void *addr, uint32_t addrlen)'),
    setsockopt: c.func('int setsockopt(int fd, int level, int optname, const void *optval, uint32_t optlen)'),
    getsockopt: c.func('int getsockopt(int fd, int level, int optname, void *optval, uint32_t *optlen)'),
    mmap: c.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
    munmap: c.func('int munmap(void *addr, size_t length)'),
    close: c.func('int close(int fd)'),
    send: c.func('intptr_t send(int fd, void *buf, size_t len, int flags)'),
    if_nametoindex: c.func('unsigned int if_nametoindex(const char *ifname)'),
    setns: c.func('int setns(int fd, int nstype)'),
    open: c.func('int open(const char *path, int flags, ...)'),
    ioctl: c.func('int ioctl(int fd, unsigned long request, ...)'),
    strerror: c.func('const char *strerror(int errnum)'),
  };
}

/** The libc functions (loaded on first use). */
export function libc(): ReturnType<typeof load> {
  if (!lib) lib = load();
  return lib;
}

export function errno(): number {
  return koffi.errno();
}

export function errnoName(e: number): string {
  const names = (koffi.os as unknown as { errno: Record<string, number> }).errno;
  for (const [k, v] of Object.entries(names)) if (v === e) return k;
  return `errno ${e}`;
}

export function strerror(e: number): string {
  return libc().strerror(e) as string;
}

/** Address of a Buffer's memory (for structs that hold pointers, e.g. sock_fprog). */
export function addressOf(b: Buffer): bigint {
  return koffi.address(b) as bigint;
}

/** An ArrayBuffer aliasing native memory (no copy; valid until the memory is unmapped). */
export function viewOf(ptr: bigint, len: number): ArrayBuffer {
  return koffi.view(ptr as unknown as never, len) as ArrayBuffer;
}

export const AF_PACKET = 17;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
/** htons(ETH_P_ALL) */
export const ETH_P_ALL_BE = 0x0300;
export const SOL_SOCKET = 1;
export const SO_ATTACH_FILTER = 26;
export const SOL_PACKET = 263;
export const PACKET_ADD_MEMBERSHIP = 1;
export const PACKET_DROP_MEMBERSHIP = 2;
export const PACKET_RX_RING = 5;
export const PACKET_STATISTICS = 6;
export const PACKET_VERSION = 10;
export const PACKET_TX_RING = 13;
export const PACKET_QDISC_BYPASS = 20;
export const PACKET_MR_MULTICAST = 0;
export const PACKET_MR_UNICAST = 3;
export const TPACKET_V2 = 1;
export const TP_STATUS_KERNEL = 0;
export const TP_STATUS_USER = 1;
export const TP_STATUS_AVAILABLE = 0;
export const TP_STATUS_SEND_REQUEST = 1;
export const TP_STATUS_SENDING = 2;
export const TP_STATUS_WRONG_FORMAT = 4;
/** struct tpacket2_hdr: tp_status @0, tp_len @4, tp_snaplen @8, tp_mac @12 (u16), tp_net @14, tp_sec @16, tp_nsec @20; 32 bytes. */
export const TPACKET2_HDR_SIZE = 32;
/** TX data goes at TPACKET2_HDRLEN - sizeof(struct sockaddr_ll) = 52 - 20. */
export const TPACKET2_TX_DATA = 32;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_FAILED = 0xffffffffffffffffn;
export const O_RDONLY = 0;
export const O_CLOEXEC = 0o2000000;
export const CLONE_NEWNET = 0x40000000;
export const MSG_DONTWAIT = 0x40;
export const SIOCGIFMTU = 0x8921;
export const SIOCGIFHWADDR = 0x8927;
export const EAGAIN = 11;
