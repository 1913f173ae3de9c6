/**
 * Joins an IPv4 multicast group on the kernel's netdev (a UDP socket with IP_ADD_MEMBERSHIP, held
 * open for as long as the membership is wanted). The verbs-ud device needs it on RoCE: soft-RoCE
 * (rxe) receives RoCE v2 multicast through the kernel's IP input path, which drops a multicast
 * datagram for a group no socket on that interface joined — ibv_attach_mcast alone only opens the
 * MAC filter. (rdma_cm's join does the same IGMP join itself.)
 * Errors: MembershipError naming the call and errno.
 */
import koffi from 'koffi';

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_IP = 0;
const IP_ADD_MEMBERSHIP = 35;

let libc: { socket: (d: number, t: number, p: number) => number; setsockopt: (fd: number, l: number, o: number, v: Buffer, n: number) => number; close: (fd: number) => number } | null = null;

function c() {
  if (!libc) {
    const l = koffi.load('libc.so.6');
    libc = {
      socket: l.func('int socket(int domain, int type, int protocol)') as never,
      setsockopt: l.func('int setsockopt(int sockfd, int level, int optname, const void *optval, uint32_t optlen)') as never,
      close: l.func('int close(int fd)') as never,
    };
  }
  return libc;
}

export class MembershipError extends Error {
  override readonly name = 'MembershipError';
}

/** One IPv4 group joined on the interface owning `localIp`; `close()` leaves it (idempotent). */
export class IpMembership {
  private fd: number;

  constructor(readonly group: number, readonly localIp: number) {
    const l = c();
    const fd = l.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new MembershipError(`socket(AF_INET, SOCK_DGRAM): errno ${koffi.errno()}`);
    // struct ip_mreq { struct in_addr imr_multiaddr; struct in_addr imr_interface; } — network order.
    const mreq = Buffer.alloc(8);
    mreq.writeUInt32BE(group >>> 0, 0);
    mreq.writeUInt32BE(localIp >>> 0, 4);
    if (l.setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq, 8) !== 0) {
      const e = koffi.errno();
      l.close(fd);
      throw new MembershipError(`setsockopt(IP_ADD_MEMBERSHIP): errno ${e}`);
    }
    this.fd = fd;
  }

  close(): void {
    if (this.fd < 0) return;
    c().close(this.fd);
    this.fd = -1;
  }
}
