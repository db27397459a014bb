/* ops.h - float32 building blocks of the model, forward passes.
 *
 * Row-major everywhere: a (n, d) matrix is n rows of d floats.  Matrix
 * products go through cmanp_gemm.  Blocks write their intermediate
 * activations into caller-provided buffers (the *_acts structs) so that the
 * same code serves inference (scratch buffers, reused) and training (buffers
 * kept for the backward pass).
 */
#ifndef CMANP_OPS_H
#define CMANP_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"

#define CMANP_LN_EPS R(1e-5)

/* Work counters of the calling thread, so that tests can prove that the
 * work of an operation does not depend on the data behind it (the cost of
 * adding a row and reading out a state must not grow with the rows a state
 * already summarises).  Thread-local: nothing is shared between threads. */
typedef struct cmanp_work {
    int64_t gemm_calls;   /* matrix products through cmanp_mm */
    int64_t gemm_flops;   /* 2 m n k per product (a multiply-add is 2 FLOPs) */
    int64_t rows_folded;  /* input rows folded into or out of a CMAB state, per
                             layer (cmab_state_fold) */
} cmanp_work;
void cmanp_work_get(cmanp_work *w);
void cmanp_work_reset(void);
void cmanp_work_add_rows(int64_t n);
/* Adds another thread's counters to the calling thread's (team.c). */
void cmanp_work_add(const cmanp_work *w);

/* C (m, n) = alpha op(A) op(B) + beta C, row-major, op = transpose when
 * trans_* != 0: cmanp_gemm (cblas_sgemm), counted in cmanp_work.  Every
 * forward matrix product of the engine goes through it. */
void cmanp_mm(int trans_a, int trans_b, int m, int n, int k, cmanp_real alpha, const cmanp_real *A,
              int lda, const cmanp_real *B, int ldb, cmanp_real beta, cmanp_real *C, int ldc);

/* out (n, o) = in (n, i) . w^T (o, i) + b (o); b may be NULL. */
void cmanp_linear_fwd(cmanp_real *out, const cmanp_real *in, const cmanp_real *w, const cmanp_real *b, int n, int i,
                      int o);
/* LayerNorm over rows of d; mean and rstd (n each) may be NULL. out may alias in. */
void cmanp_ln_fwd(cmanp_real *out, cmanp_real *mean, cmanp_real *rstd, const cmanp_real *in, const cmanp_ln_w *w, int n,
                  int d);
void cmanp_relu_fwd(cmanp_real *x, size_t n);
cmanp_real cmanp_gelu(cmanp_real u);
/* MLP: Linear -> ReLU -> (Linear -> ReLU) x (E-2) -> Linear; out (n, d).
 * acts[k] (n, d), k < E-1, receives Linear k's output after its ReLU (kept for
 * the backward pass); with acts == NULL, tmp (2, n, d) is ping-pong scratch. */
void cmanp_mlp_fwd(cmanp_real *out, cmanp_real **acts, cmanp_real *tmp, const cmanp_real *in, const cmanp_linear_w *w,
                   int E, int n, int in_dim, int d);

/* Multi-head attention core: o (n, d) = concat_h softmax(q_h k_h^T * scale) v_h.
 * q (n, d); kv (m, 2d) with keys in columns 0..d-1; p (H, n, m) receives the
 * attention probabilities. */
void cmanp_mha_fwd(cmanp_real *o, cmanp_real *p, const cmanp_real *q, const cmanp_real *kv, int n, int m, int d, int H);

typedef struct cmanp_attn_acts {
    cmanp_real *xn, *x_mean, *x_rstd;   /* (n, d), (n), (n) */
    cmanp_real *cn, *c_mean, *c_rstd;   /* (m, d), (m), (m); unused for self-attention */
    cmanp_real *q;                      /* (n, d) */
    cmanp_real *kv;                     /* (m, 2d) */
    cmanp_real *p;                      /* (H, n, m) */
    cmanp_real *o;                      /* (n, d) heads before to_out */
} cmanp_attn_acts;

/* out (n, d) = MHA(LN(X), LN_ctx(C)) + LN(X); C == NULL means self-attention
 * (m = n).  kv_ready != 0: a->kv already holds LN_ctx(C) . wkv^T (decoder reuse). */
void cmanp_attn_block_fwd(cmanp_real *out, cmanp_attn_acts *a, const cmanp_attn_w *w, const cmanp_real *X,
                          int n, const cmanp_real *C, int m, int d, int H, int kv_ready);
/* kv (m, 2d) = LN_ctx(C) . wkv^T with cn, c_mean, c_rstd stored in a. */
void cmanp_attn_kv_fwd(cmanp_attn_acts *a, const cmanp_attn_w *w, const cmanp_real *C, int m, int d);

typedef struct cmanp_ff_acts {
    cmanp_real *xn, *mean, *rstd;       /* (n, d), (n), (n) */
    cmanp_real *u;                      /* (n, 2F) */
    cmanp_real *z;                      /* (n, F) = u[:, :F] * gelu(u[:, F:]) */
} cmanp_ff_acts;

/* out (n, d) = GEGLU feed-forward(LN(X)) + LN(X).  out may alias X. */
void cmanp_ff_block_fwd(cmanp_real *out, cmanp_ff_acts *a, const cmanp_ff_w *w, const cmanp_real *X, int n,
                        int d, int F);

/* ---- inference forms (readouts and decoding): the same results as the
 * *_block_fwd functions up to float32 rounding, keeping no activations.
 * Scores are NN products against keys transposed to (d, m) (row-major NT
 * products take OpenBLAS's packing path; the NN form its small-matrix
 * kernels, ~30% faster at these shapes), and weights may come transposed to
 * (in, out) for the same reason.  NULL wt: the stored (out, in) weights. */
typedef struct cmanp_attn_wt {
    const cmanp_real *wq;   /* (d, d)  to_q^T */
    const cmanp_real *wo;   /* (d, d)  to_out^T */
} cmanp_attn_wt;
typedef struct cmanp_ff_wt {
    const cmanp_real *w0;   /* (d, 2F) */
    const cmanp_real *w2;   /* (F, d) */
} cmanp_ff_wt;
/* out (n, o) = in (n, i) . wt (i, o) + b: wt the transposed weight. */
void cmanp_linear_fwd_t(cmanp_real *out, const cmanp_real *in, const cmanp_real *wt, const cmanp_real *b,
                        int n, int i, int o);
/* kt (d, m) = the key half of kv (m, 2d), transposed. */
void cmanp_keys_transpose(cmanp_real *kt, const cmanp_real *kv, int m, int d);
/* The same for m rows of kv into columns of kt with leading dimension ldk:
 * part of a key matrix transposed into its place in the whole. */
void cmanp_keys_transpose_ld(cmanp_real *kt, int ldk, const cmanp_real *kv, int m, int d);
/* out (n, d) = MHA(LN(X), LN_ctx(C)) + LN(X) (C == NULL: self-attention,
 * m = n).  kv, kt non-NULL: the context's keys/values (m, 2d) and keys^T
 * (d, m), precomputed (decoder); otherwise computed into scratch.  out may
 * alias X.  scratch: cmanp_attn_infer_floats(n, m, d). */
size_t cmanp_attn_infer_floats(int n, int m, int d);
void cmanp_attn_infer(cmanp_real *out, cmanp_real *scratch, const cmanp_attn_w *w, const cmanp_attn_wt *wt,
                      const cmanp_real *X, int n, const cmanp_real *C, int m, int d, int H,
                      const cmanp_real *kv, const cmanp_real *kt);
/* out (n, d) = GEGLU feed-forward(LN(X)) + LN(X); out may alias X.
 * scratch: cmanp_ff_infer_floats(n, d, F). */
size_t cmanp_ff_infer_floats(int n, int d, int F);
void cmanp_ff_infer(cmanp_real *out, cmanp_real *scratch, const cmanp_ff_w *w, const cmanp_ff_wt *wt,
                    const cmanp_real *X, int n, int d, int F);

/* Scratch sizes in floats for one block call. */
size_t cmanp_attn_acts_floats(int n, int m, int d, int H);
size_t cmanp_ff_acts_floats(int n, int d, int F);
/* Point a's members into buf (which must hold *_acts_floats floats). */
void cmanp_attn_acts_bind(cmanp_attn_acts *a, cmanp_real *buf, int n, int m, int d, int H);
void cmanp_ff_acts_bind(cmanp_ff_acts *a, cmanp_real *buf, int n, int d, int F);

/* std from the raw output r. */
static inline cmanp_real cmanp_std_from_raw(cmanp_real r, int bound_std);

#include <math.h>
static inline cmanp_real cmanp_std_from_raw(cmanp_real r, int bound_std) {
    if (!bound_std) return r_exp(r);
    cmanp_real sp = r > R(20.0) ? r : r_log1p(r_exp(r));
    return R(0.05) + R(0.95) * sp;
}

#endif
