/**
 * Raw libc declarations for the daemon device and ringd: functions under their C names and
 * prototypes (searchable against the man pages) and the constants they take, nothing else. The
 * owning wrappers are shm.ts (the shared region) and control.ts (the client's control socket).
 * BigInt pointers never leave ring/daemon/.
 */
import koffi from 'koffi';

function load() {
  const c = koffi.load('libc.so.6');
  return {
    socket: c.func('int socket(int domain, int type, int protocol)'),
    connect: c.func('int connect(int sockfd, const void *addr, uint32_t addrlen)'),
    send: c.func('intptr_t send(int sockfd, const void *buf, size_t len, int flags)'),
    recv: c.func('intptr_t recv(int sockfd, _Out_ void *buf, size_t len, int flags)'),
    poll: c.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    open: c.func('int open(const char *pathname, int flags, ...)'),
    ftruncate: c.func('int ftruncate(int fd, int64_t length)'),
    fchown: c.func('int fchown(int fd, uint32_t owner, uint32_t group)'),
    fchmod: c.func('int fchmod(int fd, uint32_t mode)'),
    mmap: c.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
    munmap: c.func('int munmap(void *addr, size_t length)'),
    close: c.func('int close(int fd)'),
    getsockopt: c.func('int getsockopt(int sockfd, int level, int optname, _Out_ void *optval, _Inout_ uint32_t *optlen)'),
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

/** "ENOENT (No such file or directory)" for an errno value. */
export function describeErrno(e: number): string {
  const name = Object.entries(koffi.os.errno).find(([, v]) => v === e)?.[0] ?? `errno ${e}`;
  return `${name} (${libc().strerror(e)})`;
}

// <sys/socket.h>, <sys/un.h>
export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_PEERCRED = 17;
/** struct ucred { pid_t pid; uid_t uid; gid_t gid; }: 12 bytes. */
export const UCRED_SIZE = 12;
/** struct sockaddr_un { sa_family_t sun_family @0; char sun_path[108] @2 }: 110 bytes. */
export const SOCKADDR_UN_SIZE = 110;
export const SUN_PATH_MAX = 107;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;

// <poll.h>: struct pollfd { int fd @0; short events @4; short revents @6 }: 8 bytes.
export const POLLFD_SIZE = 8;
export const POLLIN = 1;
export const POLLERR = 8;
export const POLLHUP = 0x10;

// <fcntl.h>, <sys/mman.h>
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_CLOEXEC = 0o2000000;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
/** (void *) -1 as koffi 3 returns it. */
export const MAP_FAILED = 0xffffffffffffffffn;

// <errno.h>
export const EINTR = 4;
export const EAGAIN = 11;
export const EACCES = 13;
export const ENOENT = 2;
export const ECONNREFUSED = 111;
