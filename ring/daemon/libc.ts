/**
 * Raw libc declarations for the daemon device and ringd: functions under their C names and
 * prototypes (searchable against the man pages) and the constants they take, nothing else. The
 * owning wrappers are shm.ts (the shared region) and control.ts (the client's control socket).
 * BigInt pointers never leave ring/daemon/.
 *
 * What ring/packet/libc.ts already declares (functions with the same prototypes, errno(), the
 * constants, which ring/packet/layout.test.ts checks against the headers) is taken from there;
 * only the daemon's own calls and constants are declared here.
 */
import koffi from 'koffi';
import { libc as packetLibc } from '../packet/libc';
import { errnoName } from '../packet/socket';

export {
  EACCES, EAGAIN, EINTR, ENOENT, errno, MAP_FAILED, MAP_SHARED, MSG_DONTWAIT, O_CLOEXEC, POLLIN, PROT_READ, PROT_WRITE, SOCK_CLOEXEC, SOL_SOCKET,
} from '../packet/libc';

function load() {
  const c = koffi.load('libc.so.6');
  const { socket, recv, open, mmap, munmap, close, getsockopt, strerror } = packetLibc();
  return {
    socket,
    connect: c.func('int connect(int sockfd, const void *addr, uint32_t addrlen)'),
    send: c.func('intptr_t send(int sockfd, const void *buf, size_t len, int flags)'),
    recv,
    poll: c.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    open,
    ftruncate: c.func('int ftruncate(int fd, int64_t length)'),
    fchown: c.func('int fchown(int fd, uint32_t owner, uint32_t group)'),
    fchmod: c.func('int fchmod(int fd, uint32_t mode)'),
    mmap,
    munmap,
    close,
    getsockopt,
    strerror,
  };
}

export type Libc = ReturnType<typeof load>;
let lib: Libc | null = null;

/** The libc functions (loaded on first use). */
export function libc(): Libc {
  if (!lib) lib = load();
  return lib;
}

/** "ENOENT (No such file or directory)" for an errno value. */
export function describeErrno(e: number): string {
  return `${errnoName(e)} (${libc().strerror(e) as string})`;
}

// <sys/socket.h>, <sys/un.h>
export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SO_PEERCRED = 17;
/** struct ucred { pid_t pid; uid_t uid; gid_t gid; }: 12 bytes. */
export const UCRED_SIZE = 12;
/** struct sockaddr_un { sa_family_t sun_family @0; char sun_path[108] @2 }: 110 bytes. */
export const SOCKADDR_UN_SIZE = 110;
export const SUN_PATH_MAX = 107;
export const MSG_NOSIGNAL = 0x4000;

// <poll.h>: struct pollfd { int fd @0; short events @4; short revents @6 }: 8 bytes.
export const POLLFD_SIZE = 8;

// <fcntl.h>, <sys/mman.h>
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;

// <errno.h>
export const ECONNREFUSED = 111;
