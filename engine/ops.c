/* ops.c - forward building blocks (see ops.h). */
#include "ops.h"

#include "vmath.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

static _Thread_local cmanp_work g_work;

void cmanp_work_get(cmanp_work *w) { *w = g_work; }
void cmanp_work_reset(void) { memset(&g_work, 0, sizeof g_work); }
void cmanp_work_add_rows(int64_t n) { g_work.rows_folded += n; }
void cmanp_work_add(const cmanp_work *w) {
    g_work.gemm_calls += w->gemm_calls;
    g_work.gemm_flops += w->gemm_flops;
    g_work.rows_folded += w->rows_folded;
}

void cmanp_mm(int trans_a, int trans_b, int m, int n, int k, cmanp_real alpha, const cmanp_real *A,
              int lda, const cmanp_real *B, int ldb, cmanp_real beta, cmanp_real *C, int ldc) {
    g_work.gemm_calls++;
    g_work.gemm_flops += 2 * (int64_t)m * n * k;
    cmanp_gemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
               m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

void cmanp_linear_fwd(cmanp_real *out, const cmanp_real *in, const cmanp_real *w, const cmanp_real *b, int n, int i,
                      int o) {
    cmanp_real beta = R(0.0);
    if (b) {
        for (int r = 0; r < n; r++) memcpy(out + (size_t)r * o, b, (size_t)o * sizeof(cmanp_real));
        beta = R(1.0);
    }
    cmanp_mm(0, 1, n, o, i, R(1.0), in, i, w, i, beta, out, o);
}

void cmanp_ln_fwd(cmanp_real *out, cmanp_real *mean, cmanp_real *rstd, const cmanp_real *in, const cmanp_ln_w *w, int n,
                  int d) {
    for (int r = 0; r < n; r++) {
        const cmanp_real *x = in + (size_t)r * d;
        cmanp_real *y = out + (size_t)r * d;
#ifdef CMANP_REAL_DOUBLE
        /* Two passes: the mean first keeps the variance free of cancellation. */
        cmanp_real m = R(0.0);
        for (int k = 0; k < d; k++) m += x[k];
        m /= (cmanp_real)d;
        cmanp_real v = R(0.0);
        for (int k = 0; k < d; k++) {
            cmanp_real t = x[k] - m;
            v += t * t;
        }
        v /= (cmanp_real)d;
        cmanp_real s = R(1.0) / r_sqrt(v + CMANP_LN_EPS);
        for (int k = 0; k < d; k++) y[k] = (x[k] - m) * s * w->g[k] + w->b[k];
        if (mean) mean[r] = m;
        if (rstd) rstd[r] = s;
#else
        cmanp_vlayernorm_row(y, mean ? mean + r : NULL, rstd ? rstd + r : NULL, x, w->g, w->b,
                             (size_t)d, CMANP_LN_EPS);
#endif
    }
}

void cmanp_relu_fwd(cmanp_real *x, size_t n) {
#ifdef CMANP_REAL_DOUBLE
    for (size_t i = 0; i < n; i++) x[i] = x[i] > R(0.0) ? x[i] : R(0.0);
#else
    cmanp_vrelu(x, n);
#endif
}

/* rows of out (n, d) = rows of a + b (d) */
static void add_rows(cmanp_real *out, const cmanp_real *a, const cmanp_real *b, int n, int d) {
    for (int r = 0; r < n; r++) {
#ifdef CMANP_REAL_DOUBLE
        for (int k = 0; k < d; k++) out[(size_t)r * d + k] = a[(size_t)r * d + k] + b[k];
#else
        cmanp_vadd(out + (size_t)r * d, a + (size_t)r * d, b, (size_t)d);
#endif
    }
}

cmanp_real cmanp_gelu(cmanp_real u) {
#ifdef CMANP_REAL_DOUBLE
    return R(0.5) * u * (R(1.0) + r_erf(u * R(0.70710678118654752)));
#else
    float y;
    cmanp_vgelu(&y, &u, 1); /* the same kernel as the vectorised GEGLU rows */
    return y;
#endif
}

void cmanp_mlp_fwd(cmanp_real *out, cmanp_real **acts, cmanp_real *tmp, const cmanp_real *in, const cmanp_linear_w *w,
                   int E, int n, int in_dim, int d) {
    const cmanp_real *cur = in;
    int cur_dim = in_dim;
    for (int k = 0; k < E; k++) {
        cmanp_real *dst;
        if (k == E - 1)
            dst = out;
        else
            dst = acts ? acts[k] : tmp + (size_t)(k & 1) * n * d;
        cmanp_linear_fwd(dst, cur, w[k].w, w[k].b, n, cur_dim, d);
        if (k < E - 1) cmanp_relu_fwd(dst, (size_t)n * d);
        cur = dst;
        cur_dim = d;
    }
}

static void softmax_rows(cmanp_real *p, int n, int m) {
    for (int r = 0; r < n; r++) {
        cmanp_real *s = p + (size_t)r * m;
#ifdef CMANP_REAL_DOUBLE
        cmanp_real mx;
        cmanp_real inv = (cmanp_real)(1.0 / cmanp_softmax_numerators(s, (size_t)m, &mx));
        for (int j = 0; j < m; j++) s[j] *= inv;
#else
        cmanp_vsoftmax_row(s, (size_t)m);
#endif
    }
}

void cmanp_mha_fwd(cmanp_real *o, cmanp_real *p, const cmanp_real *q, const cmanp_real *kv, int n, int m, int d, int H) {
    int dh = d / H;
    cmanp_real scale = R(1.0) / r_sqrt((cmanp_real)dh);
    for (int h = 0; h < H; h++) {
        cmanp_real *ph = p + (size_t)h * n * m;
        cmanp_mm(0, 1, n, m, dh, scale, q + h * dh, d, kv + h * dh, 2 * d, R(0.0), ph, m);
        softmax_rows(ph, n, m);
        cmanp_mm(0, 0, n, dh, m, R(1.0), ph, m, kv + d + h * dh, 2 * d, R(0.0), o + h * dh, d);
    }
}

void cmanp_attn_kv_fwd(cmanp_attn_acts *a, const cmanp_attn_w *w, const cmanp_real *C, int m, int d) {
    cmanp_ln_fwd(a->cn, a->c_mean, a->c_rstd, C, &w->norm_ctx, m, d);
    cmanp_linear_fwd(a->kv, a->cn, w->wkv, NULL, m, d, 2 * d);
}

void cmanp_attn_block_fwd(cmanp_real *out, cmanp_attn_acts *a, const cmanp_attn_w *w, const cmanp_real *X,
                          int n, const cmanp_real *C, int m, int d, int H, int kv_ready) {
    cmanp_ln_fwd(a->xn, a->x_mean, a->x_rstd, X, &w->norm, n, d);
    if (!kv_ready) {
        if (C) {
            cmanp_attn_kv_fwd(a, w, C, m, d);
        } else {
            m = n;
            cmanp_linear_fwd(a->kv, a->xn, w->wkv, NULL, n, d, 2 * d);
        }
    } else if (!C) {
        m = n;
    }
    cmanp_linear_fwd(a->q, a->xn, w->wq, NULL, n, d, d);
    cmanp_mha_fwd(a->o, a->p, a->q, a->kv, n, m, d, H);
    memcpy(out, a->xn, (size_t)n * d * sizeof(cmanp_real));
    for (int r = 0; r < n; r++)
        for (int k = 0; k < d; k++) out[(size_t)r * d + k] += w->bo[k];
    cmanp_mm(0, 1, n, d, d, R(1.0), a->o, d, w->wo, d, R(1.0), out, d);
}

void cmanp_ff_block_fwd(cmanp_real *out, cmanp_ff_acts *a, const cmanp_ff_w *w, const cmanp_real *X, int n,
                        int d, int F) {
    cmanp_ln_fwd(a->xn, a->mean, a->rstd, X, &w->norm, n, d);
    cmanp_linear_fwd(a->u, a->xn, w->w0, w->b0, n, d, 2 * F);
    for (int r = 0; r < n; r++) {
        const cmanp_real *u = a->u + (size_t)r * 2 * F;
        cmanp_real *z = a->z + (size_t)r * F;
#ifdef CMANP_REAL_DOUBLE
        for (int k = 0; k < F; k++) z[k] = u[k] * cmanp_gelu(u[F + k]);
#else
        cmanp_vgeglu(z, u, (size_t)F);
#endif
    }
    memcpy(out, a->xn, (size_t)n * d * sizeof(cmanp_real));
    for (int r = 0; r < n; r++)
        for (int k = 0; k < d; k++) out[(size_t)r * d + k] += w->b2[k];
    cmanp_mm(0, 1, n, d, F, R(1.0), a->z, F, w->w2, F, R(1.0), out, d);
}

/* ------------------------------------------------------- inference forms */

void cmanp_linear_fwd_t(cmanp_real *out, const cmanp_real *in, const cmanp_real *wt, const cmanp_real *b,
                        int n, int i, int o) {
    cmanp_real beta = R(0.0);
    if (b) {
        for (int r = 0; r < n; r++) memcpy(out + (size_t)r * o, b, (size_t)o * sizeof(cmanp_real));
        beta = R(1.0);
    }
    cmanp_mm(0, 0, n, o, i, R(1.0), in, i, wt, o, beta, out, o);
}

/* out = in . W^T + b through whichever layout is at hand */
static void linear_any(cmanp_real *out, const cmanp_real *in, const cmanp_real *w, const cmanp_real *wt,
                       const cmanp_real *b, int n, int i, int o) {
    if (wt)
        cmanp_linear_fwd_t(out, in, wt, b, n, i, o);
    else
        cmanp_linear_fwd(out, in, w, b, n, i, o);
}

void cmanp_keys_transpose_ld(cmanp_real *kt, int ldk, const cmanp_real *kv, int m, int d) {
    /* 8 keys at a time: 8 rows read, each output row written 8 wide */
    int j = 0;
    for (; j + 8 <= m; j += 8)
        for (int c = 0; c < d; c++)
            for (int t = 0; t < 8; t++) kt[(size_t)c * ldk + j + t] = kv[(size_t)(j + t) * 2 * d + c];
    for (; j < m; j++)
        for (int c = 0; c < d; c++) kt[(size_t)c * ldk + j] = kv[(size_t)j * 2 * d + c];
}

void cmanp_keys_transpose(cmanp_real *kt, const cmanp_real *kv, int m, int d) {
    cmanp_keys_transpose_ld(kt, m, kv, m, d);
}

size_t cmanp_attn_infer_floats(int n, int m, int d) {
    size_t N = (size_t)n, M = (size_t)m, D = (size_t)d;
    /* xn, q, o (n, d); cn (m, d); kv (m, 2d); kt (d, m); p (n, m) */
    return 3 * N * D + M * D + 2 * M * D + D * M + N * M;
}

void cmanp_attn_infer(cmanp_real *out, cmanp_real *scratch, const cmanp_attn_w *w, const cmanp_attn_wt *wt,
                      const cmanp_real *X, int n, const cmanp_real *C, int m, int d, int H,
                      const cmanp_real *kv, const cmanp_real *kt) {
    if (!C) m = n;
    size_t N = (size_t)n, M = (size_t)m, D = (size_t)d;
    cmanp_real *xn = scratch, *q = xn + N * D, *o = q + N * D, *cn = o + N * D, *kvb = cn + M * D,
               *ktb = kvb + 2 * M * D, *p = ktb + D * M;
    const int dh = d / H;
    const cmanp_real scale = R(1.0) / r_sqrt((cmanp_real)dh);
    cmanp_ln_fwd(xn, NULL, NULL, X, &w->norm, n, d);
    if (!kv) {
        if (C) {
            cmanp_ln_fwd(cn, NULL, NULL, C, &w->norm_ctx, m, d);
            cmanp_linear_fwd(kvb, cn, w->wkv, NULL, m, d, 2 * d);
        } else {
            cmanp_linear_fwd(kvb, xn, w->wkv, NULL, n, d, 2 * d);
        }
        kv = kvb;
    }
    if (!kt) {
        cmanp_keys_transpose(ktb, kv, m, d);
        kt = ktb;
    }
    linear_any(q, xn, w->wq, wt ? wt->wq : NULL, NULL, n, d, d);
    for (int h = 0; h < H; h++) {
        cmanp_mm(0, 0, n, m, dh, scale, q + h * dh, d, kt + (size_t)h * dh * m, m, R(0.0), p, m);
        softmax_rows(p, n, m);
        cmanp_mm(0, 0, n, dh, m, R(1.0), p, m, kv + d + h * dh, 2 * d, R(0.0), o + h * dh, d);
    }
    add_rows(out, xn, w->bo, n, d);
    if (wt)
        cmanp_mm(0, 0, n, d, d, R(1.0), o, d, wt->wo, d, R(1.0), out, d);
    else
        cmanp_mm(0, 1, n, d, d, R(1.0), o, d, w->wo, d, R(1.0), out, d);
}

size_t cmanp_ff_infer_floats(int n, int d, int F) {
    size_t N = (size_t)n;
    return N * (size_t)d + N * 2 * (size_t)F + N * (size_t)F; /* xn, u, z */
}

void cmanp_ff_infer(cmanp_real *out, cmanp_real *scratch, const cmanp_ff_w *w, const cmanp_ff_wt *wt,
                    const cmanp_real *X, int n, int d, int F) {
    cmanp_real *xn = scratch, *u = xn + (size_t)n * d, *z = u + (size_t)n * 2 * F;
    cmanp_ln_fwd(xn, NULL, NULL, X, &w->norm, n, d);
    linear_any(u, xn, w->w0, wt ? wt->w0 : NULL, w->b0, n, d, 2 * F);
    for (int r = 0; r < n; r++) {
        const cmanp_real *ur = u + (size_t)r * 2 * F;
        cmanp_real *zr = z + (size_t)r * F;
#ifdef CMANP_REAL_DOUBLE
        for (int k = 0; k < F; k++) zr[k] = ur[k] * cmanp_gelu(ur[F + k]);
#else
        cmanp_vgeglu(zr, ur, (size_t)F);
#endif
    }
    add_rows(out, xn, w->b2, n, d);
    if (wt)
        cmanp_mm(0, 0, n, d, F, R(1.0), z, F, wt->w2, d, R(1.0), out, d);
    else
        cmanp_mm(0, 1, n, d, F, R(1.0), z, F, w->w2, F, R(1.0), out, d);
}

size_t cmanp_attn_acts_floats(int n, int m, int d, int H) {
    size_t N = (size_t)n, M = (size_t)m, D = (size_t)d;
    return N * D + 2 * N + M * D + 2 * M + N * D + M * 2 * D + (size_t)H * N * M + N * D;
}

size_t cmanp_ff_acts_floats(int n, int d, int F) {
    size_t N = (size_t)n;
    return N * (size_t)d + 2 * N + N * 2 * (size_t)F + N * (size_t)F;
}

void cmanp_attn_acts_bind(cmanp_attn_acts *a, cmanp_real *buf, int n, int m, int d, int H) {
    size_t N = (size_t)n, M = (size_t)m, D = (size_t)d;
    a->xn = buf; buf += N * D;
    a->x_mean = buf; buf += N;
    a->x_rstd = buf; buf += N;
    a->cn = buf; buf += M * D;
    a->c_mean = buf; buf += M;
    a->c_rstd = buf; buf += M;
    a->q = buf; buf += N * D;
    a->kv = buf; buf += M * 2 * D;
    a->p = buf; buf += (size_t)H * N * M;
    a->o = buf;
}

void cmanp_ff_acts_bind(cmanp_ff_acts *a, cmanp_real *buf, int n, int d, int F) {
    size_t N = (size_t)n;
    a->xn = buf; buf += N * (size_t)d;
    a->mean = buf; buf += N;
    a->rstd = buf; buf += N;
    a->u = buf; buf += N * 2 * (size_t)F;
    a->z = buf;
}
