/**
 * Every constant and struct offset in ring/packet/libc.ts against the installed headers: a C
 * program compiled here prints the real values (gcc is part of the CI image).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as L from './libc';

const C = `
#define _GNU_SOURCE
#include <stdio.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>
#define P(name, v) printf("%s %ld\\n", name, (long)(v));
int main(void) {
  P("AF_PACKET", AF_PACKET) P("SOCK_RAW", SOCK_RAW) P("SOCK_NONBLOCK", SOCK_NONBLOCK) P("SOCK_CLOEXEC", SOCK_CLOEXEC)
  P("ETH_P_ALL", ETH_P_ALL) P("SOL_SOCKET", SOL_SOCKET) P("SO_ATTACH_FILTER", SO_ATTACH_FILTER) P("SO_SNDBUF", SO_SNDBUF)
  P("SO_RCVBUF", SO_RCVBUF) P("SO_RCVBUFFORCE", SO_RCVBUFFORCE) P("PACKET_COPY_THRESH", PACKET_COPY_THRESH) P("PACKET_VNET_HDR", PACKET_VNET_HDR)
  P("VNET_HDR_SIZE", sizeof(struct virtio_net_hdr)) P("VNET_FLAGS", offsetof(struct virtio_net_hdr, flags))
  P("VNET_GSO_TYPE", offsetof(struct virtio_net_hdr, gso_type)) P("VNET_HDR_LEN", offsetof(struct virtio_net_hdr, hdr_len))
  P("VNET_GSO_SIZE", offsetof(struct virtio_net_hdr, gso_size)) P("VNET_CSUM_START", offsetof(struct virtio_net_hdr, csum_start))
  P("VNET_CSUM_OFFSET", offsetof(struct virtio_net_hdr, csum_offset)) P("VIRTIO_NET_HDR_F_NEEDS_CSUM", VIRTIO_NET_HDR_F_NEEDS_CSUM)
  P("VIRTIO_NET_HDR_F_DATA_VALID", VIRTIO_NET_HDR_F_DATA_VALID) P("VIRTIO_NET_HDR_GSO_NONE", VIRTIO_NET_HDR_GSO_NONE)
  P("VIRTIO_NET_HDR_GSO_TCPV4", VIRTIO_NET_HDR_GSO_TCPV4) P("VIRTIO_NET_HDR_GSO_ECN", VIRTIO_NET_HDR_GSO_ECN)
  P("SOL_PACKET", SOL_PACKET) P("PACKET_ADD_MEMBERSHIP", PACKET_ADD_MEMBERSHIP) P("PACKET_DROP_MEMBERSHIP", PACKET_DROP_MEMBERSHIP)
  P("PACKET_RX_RING", PACKET_RX_RING) P("PACKET_STATISTICS", PACKET_STATISTICS) P("PACKET_VERSION", PACKET_VERSION)
  P("PACKET_RESERVE", PACKET_RESERVE) P("PACKET_TX_RING", PACKET_TX_RING) P("PACKET_QDISC_BYPASS", PACKET_QDISC_BYPASS)
  P("PACKET_MR_MULTICAST", PACKET_MR_MULTICAST) P("PACKET_MR_PROMISC", PACKET_MR_PROMISC) P("PACKET_MR_UNICAST", PACKET_MR_UNICAST)
  P("PACKET_HOST", PACKET_HOST) P("PACKET_BROADCAST", PACKET_BROADCAST) P("PACKET_MULTICAST", PACKET_MULTICAST)
  P("PACKET_OTHERHOST", PACKET_OTHERHOST) P("PACKET_OUTGOING", PACKET_OUTGOING) P("TPACKET_V2", TPACKET_V2)
  P("TP_STATUS_KERNEL", TP_STATUS_KERNEL) P("TP_STATUS_USER", TP_STATUS_USER) P("TP_STATUS_COPY", TP_STATUS_COPY)
  P("TP_STATUS_LOSING", TP_STATUS_LOSING) P("TP_STATUS_VLAN_VALID", TP_STATUS_VLAN_VALID) P("TP_STATUS_CSUMNOTREADY", TP_STATUS_CSUMNOTREADY) P("TP_STATUS_CSUM_VALID", TP_STATUS_CSUM_VALID)
  P("SOCKADDR_LL_SIZE", sizeof(struct sockaddr_ll)) P("SLL_PROTOCOL", offsetof(struct sockaddr_ll, sll_protocol))
  P("SLL_IFINDEX", offsetof(struct sockaddr_ll, sll_ifindex)) P("SLL_PKTTYPE", offsetof(struct sockaddr_ll, sll_pkttype))
  P("PACKET_MREQ_SIZE", sizeof(struct packet_mreq)) P("TPACKET_REQ_SIZE", sizeof(struct tpacket_req))
  P("TPACKET_STATS_SIZE", sizeof(struct tpacket_stats))
  P("TP2_STATUS", offsetof(struct tpacket2_hdr, tp_status)) P("TP2_LEN", offsetof(struct tpacket2_hdr, tp_len))
  P("TP2_SNAPLEN", offsetof(struct tpacket2_hdr, tp_snaplen)) P("TP2_MAC", offsetof(struct tpacket2_hdr, tp_mac))
  P("TP2_NET", offsetof(struct tpacket2_hdr, tp_net)) P("TP2_VLAN_TCI", offsetof(struct tpacket2_hdr, tp_vlan_tci))
  P("TPACKET2_HDR_SIZE", sizeof(struct tpacket2_hdr)) P("TPACKET2_SLL", TPACKET_ALIGN(sizeof(struct tpacket2_hdr)))
  P("SOCK_FILTER_SIZE", sizeof(struct sock_filter)) P("SOCK_FPROG_SIZE", sizeof(struct sock_fprog))
  P("SOCK_FPROG_FILTER", offsetof(struct sock_fprog, filter)) P("SKF_AD_OFF", SKF_AD_OFF) P("SKF_AD_PKTTYPE", SKF_AD_PKTTYPE)
  P("IOVEC_SIZE", sizeof(struct iovec)) P("IOV_BASE", offsetof(struct iovec, iov_base)) P("IOV_LEN", offsetof(struct iovec, iov_len))
  P("MSG_IOV", offsetof(struct msghdr, msg_iov)) P("MSG_IOVLEN", offsetof(struct msghdr, msg_iovlen))
  P("MMSGHDR_SIZE", sizeof(struct mmsghdr)) P("MSG_DONTWAIT", MSG_DONTWAIT) P("MSG_TRUNC", MSG_TRUNC)
  P("PROT_READ", PROT_READ) P("PROT_WRITE", PROT_WRITE) P("MAP_SHARED", MAP_SHARED) P("O_RDONLY", O_RDONLY) P("O_CLOEXEC", O_CLOEXEC)
  P("CLONE_NEWNET", CLONE_NEWNET) P("POLLIN", POLLIN) P("SIOCGIFMTU", SIOCGIFMTU) P("SIOCGIFHWADDR", SIOCGIFHWADDR)
  P("IFREQ_SIZE", sizeof(struct ifreq)) P("IFNAMSIZ", IFNAMSIZ) P("IFR_UNION", offsetof(struct ifreq, ifr_mtu))
  P("EPERM", EPERM) P("ENOENT", ENOENT) P("EINTR", EINTR) P("EAGAIN", EAGAIN) P("EACCES", EACCES) P("ENODEV", ENODEV)
  P("EINVAL", EINVAL) P("EMSGSIZE", EMSGSIZE) P("ENOBUFS", ENOBUFS) P("ENETDOWN", ENETDOWN) P("ENXIO", ENXIO)
  return 0;
}
`;

describe('ring/packet/libc.ts matches the installed headers', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvma-layout-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('every constant and offset', () => {
    fs.writeFileSync(path.join(dir, 'l.c'), C);
    execFileSync('gcc', ['-o', path.join(dir, 'l'), path.join(dir, 'l.c')]);
    const out = execFileSync(path.join(dir, 'l'), { encoding: 'utf8' });
    const real = Object.fromEntries(out.trim().split('\n').map((l) => { const [k, v] = l.split(' '); return [k, Number(v)]; }));
    const ours = L as unknown as Record<string, unknown>;
    const names = Object.keys(real);
    expect(names.length).toBeGreaterThan(70);
    for (const k of names) expect([k, ours[k]]).toEqual([k, real[k]]);
    // Nothing numeric in libc.ts escapes the check.
    const unchecked = Object.keys(ours).filter((k) => typeof ours[k] === 'number' && !(k in real));
    expect(unchecked).toEqual([]);
    expect(L.MAP_FAILED).toBe(2n ** 64n - 1n);
  });
});
