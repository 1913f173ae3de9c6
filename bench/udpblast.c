/* udpblast: sends UDP datagrams as fast as one core can (sendmmsg, 64 per call) for a number of
 * seconds, each carrying a sequence number; prints the count. Built at bench time into /tmp, never
 * committed as a binary. usage: udpblast DST_IP PORT SECONDS PAYLOAD_BYTES */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: udpblast DST_IP PORT SECONDS PAYLOAD\n"); return 2; }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
  inet_pton(AF_INET, argv[1], &dst.sin_addr);
  if (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0) { perror("connect"); return 1; }
  int size = atoi(argv[4]);
  enum { B = 64 };
  static char bufs[B][2048];
  struct iovec iov[B];
  struct mmsghdr msgs[B];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < B; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = size;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  double secs = atof(argv[3]);
  unsigned long seq = 0, sent = 0;
  for (;;) {
    for (int i = 0; i < B; i++) { unsigned long s = seq + i; memcpy(bufs[i], &s, sizeof s); }
    int n = sendmmsg(fd, msgs, B, 0);
    if (n > 0) { sent += n; seq += n; }
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 >= secs) break;
  }
  printf("%lu\n", sent);
  return 0;
}
