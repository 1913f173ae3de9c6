/*
 * C reference for bench/verbs_ud.bench.ts's FFI table: the same two loops tsvma times from JS
 * (empty ibv_poll_cq; one inline 64-byte UD ibv_post_send to the QP itself, signalled every 16th,
 * completions reaped outside the timed call; one ibv_post_recv), so the C and koffi numbers come
 * from the same VM run; and verbs_peer.ts's ping-pong loop (--c-loop).
 *
 * Built twice by `node dist/bench/verbs_ud.bench.js build` (gcc -O2 -libverbs, into dist/bench/):
 *   - an executable: `verbs_cost DEV [NPOLL NPOST]` prints {"pollNs":…,"postNs":…,"recvNs":…}
 *     (a plain C process);
 *   - a shared object with VERBS_COST_LIB: the loops alone, called once each through koffi on a QP
 *     the Node process made, which separates "C code inside the Node process" from "JS per call".
 */
#include <infiniband/verbs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ns per empty poll, n polls after 1000 warm-up polls. */
double verbs_cost_poll(struct ibv_cq *cq, int n) {
  struct ibv_wc wc[1];
  for (int i = 0; i < 1000; i++) ibv_poll_cq(cq, 1, wc);
  uint64_t t = now_ns();
  for (int i = 0; i < n; i++) ibv_poll_cq(cq, 1, wc);
  return (double)(now_ns() - t) / n;
}

/* ns per post of `wr` (one WR, its SGE set by the caller), n posts timed one at a time; -errno on failure. */
double verbs_cost_post(struct ibv_qp *qp, struct ibv_cq *cq, struct ibv_send_wr *wr, int n) {
  struct ibv_wc wc[64];
  struct ibv_send_wr *bad;
  uint64_t spent = 0;
  int inflight = 0;
  for (int posted = 0; posted < n; posted++) {
    wr->wr_id = posted;
    wr->send_flags = IBV_SEND_INLINE | ((posted & 15) == 15 ? IBV_SEND_SIGNALED : 0);
    uint64_t t = now_ns();
    int rc = ibv_post_send(qp, wr, &bad);
    spent += now_ns() - t;
    if (rc) return -rc;
    if (++inflight >= 512) {
      while (inflight > 0) inflight -= 16 * ibv_poll_cq(cq, 64, wc);
    }
  }
  return (double)spent / n;
}

/* ns per post of one receive WR (`wr`, its SGE set by the caller), n posts timed one at a time. */
double verbs_cost_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, int n) {
  struct ibv_recv_wr *bad;
  uint64_t spent = 0;
  for (int i = 0; i < n; i++) {
    wr->wr_id = i;
    uint64_t t = now_ns();
    int rc = ibv_post_recv(qp, wr, &bad);
    spent += now_ns() - t;
    if (rc) return -rc;
  }
  return (double)spent / n;
}

/*
 * One side of verbs_peer.ts's UD/RC ping-pong loop, in C, on the Node process's own QP/CQ/WRs
 * (verbs_peer.ts with --c-loop): what a zero-cost binding would reach inside a Node process.
 * rwr: one receive WR whose SGE is rewritten per repost (slot s at mem + s * slot); swr: the send WR
 * (its SGE on sendbuf, where the 4-byte sequence number goes).
 * Returns µs per iteration, or a negative value on error.
 */
double verbs_cost_pingpong(struct ibv_qp *qp, struct ibv_cq *cq, struct ibv_send_wr *swr, struct ibv_recv_wr *rwr,
                           char *mem, int slot, int grh, char *sendbuf, int iters, int client) {
  struct ibv_wc wc[4];
  struct ibv_send_wr *bs;
  struct ibv_recv_wr *br;
  uint64_t t0 = now_ns();
  for (int i = 0; i < iters; i++) {
    int seq = -1, pending = 0;
    if (client) {
      memcpy(sendbuf, &i, 4);
      if (ibv_post_send(qp, swr, &bs)) return -1;
      pending = 1;
    }
    while (seq < 0 || pending) {
      int n = ibv_poll_cq(cq, 4, wc);
      if (n < 0) return -2;
      for (int k = 0; k < n; k++) {
        if (wc[k].status != IBV_WC_SUCCESS) return -3;
        if (wc[k].opcode == IBV_WC_RECV) {
          int s = (int)wc[k].wr_id;
          memcpy(&seq, mem + (size_t)s * slot + grh, 4);
          rwr->wr_id = s;
          rwr->sg_list->addr = (uintptr_t)(mem + (size_t)s * slot);
          if (ibv_post_recv(qp, rwr, &br)) return -4;
          if (!client) {
            memcpy(sendbuf, &seq, 4);
            if (ibv_post_send(qp, swr, &bs)) return -1;
            pending = 1;
          }
        } else {
          pending = 0;
        }
      }
    }
    if (client && seq != i) return -5;
  }
  return (double)(now_ns() - t0) / 1000.0 / iters;
}

#ifndef VERBS_COST_LIB
static void die(const char *what) {
  perror(what);
  exit(1);
}

int main(int argc, char **argv) {
  const char *name = argc > 1 ? argv[1] : "rxe0";
  int npoll = argc > 2 ? atoi(argv[2]) : 20000, npost = argc > 3 ? atoi(argv[3]) : 4000;
  int num;
  struct ibv_device **list = ibv_get_device_list(&num);
  struct ibv_context *ctx = NULL;
  for (int i = 0; list && i < num; i++)
    if (!strcmp(ibv_get_device_name(list[i]), name)) ctx = ibv_open_device(list[i]);
  if (!ctx) die("ibv_open_device");
  struct ibv_pd *pd = ibv_alloc_pd(ctx);
  struct ibv_cq *cq = ibv_create_cq(ctx, 4096, NULL, NULL, 0);
  struct ibv_qp_init_attr ia = {
    .send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_UD,
    .cap = { .max_send_wr = 1024, .max_recv_wr = 1024, .max_send_sge = 1, .max_recv_sge = 1, .max_inline_data = 64 },
  };
  struct ibv_qp *qp = pd && cq ? ibv_create_qp(pd, &ia) : NULL;
  if (!qp) die("ibv_create_qp");

  struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .pkey_index = 0, .port_num = 1, .qkey = 0x11111111 };
  if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_QKEY)) die("INIT");
  a.qp_state = IBV_QPS_RTR;
  if (ibv_modify_qp(qp, &a, IBV_QP_STATE)) die("RTR");
  a.qp_state = IBV_QPS_RTS;
  a.sq_psn = 0;
  if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_SQ_PSN)) die("RTS");
  ia.cap.max_recv_wr = npost;
  struct ibv_qp *rqp = ibv_create_qp(pd, &ia);
  if (!rqp) die("ibv_create_qp");
  a.qp_state = IBV_QPS_INIT; /* post_recv needs INIT or later */
  if (ibv_modify_qp(rqp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_QKEY)) die("INIT");
  union ibv_gid gid;
  if (ibv_query_gid(ctx, 1, 1, &gid)) die("ibv_query_gid");
  struct ibv_ah_attr aa = { .is_global = 1, .port_num = 1, .grh = { .dgid = gid, .sgid_index = 1, .hop_limit = 1 } };
  struct ibv_ah *ah = ibv_create_ah(pd, &aa);
  if (!ah) die("ibv_create_ah");
  static char mem[4096];
  struct ibv_mr *mr = ibv_reg_mr(pd, mem, sizeof mem, IBV_ACCESS_LOCAL_WRITE);
  if (!mr) die("ibv_reg_mr");
  struct ibv_sge sge = { .addr = (uintptr_t)mem, .length = 64, .lkey = mr->lkey };
  struct ibv_send_wr wr = { .sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_SEND,
                            .wr.ud = { .ah = ah, .remote_qpn = qp->qp_num, .remote_qkey = 0x11111111 } };
  double pollNs = verbs_cost_poll(cq, npoll);
  double postNs = verbs_cost_post(qp, cq, &wr, npost);
  struct ibv_sge rsge = { .addr = (uintptr_t)mem, .length = sizeof mem, .lkey = mr->lkey };
  struct ibv_recv_wr rwr = { .sg_list = &rsge, .num_sge = 1 };
  double recvNs = verbs_cost_recv(rqp, &rwr, npost);
  printf("{\"pollNs\":%.0f,\"postNs\":%.0f,\"recvNs\":%.0f}\n", pollNs, postNs, recvNs);
  return 0;
}
#endif
