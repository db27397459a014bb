/* cmab.c - Constant Memory Attention Block: streaming state and readout (see cmab.h). */
#include "cmab.h"

#include "vmath.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Removal that leaves less than this fraction of a latent's attention mass is
 * numerically meaningless in float64; it is clamped and counted. */
#define CMAB_CANCEL_FLOOR 9.094947017729282e-13 /* 2^-40 */

size_t cmab_fold_scratch_floats(const cmab_dims *k, int max_rows) {
    size_t n = (size_t)max_rows, d = (size_t)k->d, Lp = (size_t)k->Lp;
    /* Lp doubles (block softmax denominators) first, so they stay aligned;
     * then the block maxima, En, kv, the scores and A. */
    return 2 * Lp + Lp + n * d + n * 2 * d + n * Lp + Lp * (size_t)k->dh;
}

void cmab_consts_compute(const cmab_dims *k, const cmab_w *w, cmanp_real *latn, cmanp_real *qs) {
    cmanp_ln_fwd(latn, NULL, NULL, w->latents, &w->layer_cross_attn.norm, k->Lp, k->d);
    cmanp_linear_fwd(qs, latn, w->layer_cross_attn.wq, NULL, k->Lp, k->d, k->d);
    cmanp_real scale = R(1.0) / r_sqrt((cmanp_real)k->dh);
    for (size_t i = 0; i < (size_t)k->Lp * k->d; i++) qs[i] *= scale;
}

void cmab_consts_transpose(const cmab_dims *k, const cmanp_real *qs, cmanp_real *qst) {
    for (int i = 0; i < k->Lp; i++)
        for (int c = 0; c < k->d; c++) qst[(size_t)c * k->Lp + i] = qs[(size_t)i * k->d + c];
}

void cmab_state_reset(const cmab_dims *k, cmab_state *s) {
    size_t n = (size_t)k->H * k->Lp;
    for (size_t i = 0; i < n; i++) s->logc[i] = -INFINITY;
    memset(s->acc, 0, n * (size_t)k->dh * sizeof(double));
}

static double logaddexp(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    double m = a > b ? a : b;
    return m + log1p(exp(-fabs(a - b)));
}

/* Per block and layer, with n rows:
 *   kv (n, 2d) = LN_ctx(E) . wkv^T
 *   per head h, the scores of every row against every latent as (n, Lp) =
 *   K_h (n, dh) . qs_h^T (dh, Lp): with qs^T stored (cmab_consts.qst) a
 *   row-major NN product (OpenBLAS's small-matrix kernels take it without
 *   packing; the (Lp, n) = qs_h K_h^T form is an NT product, ~30% slower at
 *   these shapes), else NT from qs itself; softmax numerators
 *   down the columns (contiguous across latents, so the maxima and
 *   exponentials vectorise without reductions), and A (Lp, dh) = S^T V_h. */
int cmab_state_fold(const cmab_dims *k, const cmab_w *w, const cmab_consts *c, cmab_state *s,
                    const cmanp_real *E, int n, int sign, cmanp_real *scratch) {
    const int d = k->d, dh = k->dh, Lp = k->Lp;
    double *sum = (double *)(void *)scratch;                // (Lp) block softmax denominator
    cmanp_real *mx = (cmanp_real *)(void *)(sum + Lp);      // (Lp) block maximum per latent
    cmanp_real *En = mx + Lp;                               // (n, d)
    cmanp_real *kv = En + (size_t)n * d;                    // (n, 2d)
    cmanp_real *S = kv + (size_t)n * 2 * d;                 // (n, Lp) one head at a time
    cmanp_real *A = S + (size_t)n * Lp;                     // (Lp, dh)
    int cancelled = 0;
    if (n <= 0) return 0;
    cmanp_work_add_rows(n);

    cmanp_ln_fwd(En, NULL, NULL, E, &w->layer_cross_attn.norm_ctx, n, d);
    cmanp_linear_fwd(kv, En, w->layer_cross_attn.wkv, NULL, n, d, 2 * d);
    for (int h = 0; h < k->H; h++) {
        if (c->qst)
            cmanp_mm(0, 0, n, Lp, dh, R(1.0), kv + h * dh, 2 * d, c->qst + (size_t)h * dh * Lp, Lp,
                     R(0.0), S, Lp);
        else /* the same product from qs (Lp, d) as stored: NT */
            cmanp_mm(0, 1, n, Lp, dh, R(1.0), kv + h * dh, 2 * d, c->qs + h * dh, d, R(0.0), S, Lp);
        /* Block-local softmax numerators relative to the block maximum: every
         * exponent is <= 0, so float32 cannot overflow whatever the scores. */
        cmanp_softmax_numerators_cols(S, (size_t)n, (size_t)Lp, mx, sum);
        cmanp_mm(1, 0, Lp, dh, n, R(1.0), S, Lp, kv + d + h * dh, 2 * d, R(0.0), A, dh);
        for (int i = 0; i < Lp; i++) {
            size_t si = (size_t)h * Lp + i;
            double lb = mx[i] + log(sum[i]);
            double inv = 1.0 / sum[i];
            double *acc = s->acc + si * dh;
            const cmanp_real *ab = A + (size_t)i * dh;
            double la = s->logc[si];
            if (sign > 0) {
                if (la == -INFINITY) {
                    s->logc[si] = lb;
                    for (int t = 0; t < dh; t++) acc[t] = ab[t] * inv;
                    continue;
                }
                /* lc = log(e^la + e^lb) and the weights e^(la - lc), e^(lb - lc)
                 * from one exponential: with e = e^-|la - lb| <= 1 the larger
                 * side's weight is 1 / (1 + e), the other's e / (1 + e). */
                double e = exp(-fabs(la - lb)), q = 1.0 / (1.0 + e);
                double wa = la >= lb ? q : e * q, wb = (la >= lb ? e * q : q) * inv;
                s->logc[si] = (la >= lb ? la : lb) + log1p(e);
                for (int t = 0; t < dh; t++) acc[t] = wa * acc[t] + wb * ab[t];
            } else {
                /* Inverse of the update: mass r of the current total leaves. */
                double r = exp(lb - la);
                if (!(r < 1.0 - CMAB_CANCEL_FLOOR)) {
                    r = 1.0 - CMAB_CANCEL_FLOOR;
                    cancelled++;
                }
                double keep = 1.0 / (1.0 - r);
                s->logc[si] = la + log1p(-r);
                for (int t = 0; t < dh; t++) acc[t] = (acc[t] - r * ab[t] * inv) * keep;
            }
        }
    }
    return cancelled;
}

void cmab_state_merge(const cmab_dims *k, cmab_state *s, const cmab_state *t) {
    size_t n = (size_t)k->H * k->Lp;
    for (size_t si = 0; si < n; si++) {
        double la = s->logc[si], lb = t->logc[si];
        if (lb == -INFINITY) continue;
        double *acc = s->acc + si * k->dh;
        const double *bcc = t->acc + si * k->dh;
        if (la == -INFINITY) {
            s->logc[si] = lb;
            memcpy(acc, bcc, (size_t)k->dh * sizeof(double));
            continue;
        }
        double lc = logaddexp(la, lb);
        double wa = exp(la - lc), wb = exp(lb - lc);
        for (int q = 0; q < k->dh; q++) acc[q] = wa * acc[q] + wb * bcc[q];
        s->logc[si] = lc;
    }
}

static size_t max3(size_t a, size_t b, size_t c) {
    size_t m = a > b ? a : b;
    return m > c ? m : c;
}

static int max_rows(const cmab_dims *k) { return k->Lp > k->Lq ? k->Lp : k->Lq; }

void cmab_part_rows(int n, int parts, int p, int *r0, int *r1) {
    *r0 = (int)((long)n * p / parts);
    *r1 = (int)((long)n * (p + 1) / parts);
}

size_t cmab_readout_buf_floats(const cmab_dims *k) {
    size_t Lp = (size_t)k->Lp, d = (size_t)k->d, mr = (size_t)max_rows(k);
    return Lp * d + 3 * (mr * 2 * d + d * mr);
}

void cmab_readout_buf_bind(const cmab_dims *k, cmab_readout_buf *b, cmanp_real *mem) {
    size_t d = (size_t)k->d, mr = (size_t)max_rows(k);
    b->B = mem;
    mem += (size_t)k->Lp * d;
    for (int j = 0; j < 3; j++) {
        b->kv[j] = mem;
        mem += mr * 2 * d;
        b->kt[j] = mem;
        mem += d * mr;
    }
}

size_t cmab_readout_part_floats(const cmab_dims *k, int parts) {
    int np = (max_rows(k) + parts - 1) / parts;
    size_t nd = (size_t)np * k->d;
    return nd + max3(cmanp_attn_infer_floats(np, max_rows(k), k->d),
                     cmanp_ff_infer_floats(np, k->d, k->F), nd);
}

/* Keys/values (and keys^T) of rows X (n, d) of an m-row context, for the
 * rows r0..r0+n-1: LN(X) . wkv^T into kv's rows, keys into kt's columns. */
static void kv_rows(const cmab_dims *k, const cmanp_ln_w *norm, const cmanp_real *wkv, const cmanp_real *X,
                    int n, int r0, int m, cmanp_real *kv, cmanp_real *kt, cmanp_real *xn) {
    const int d = k->d;
    cmanp_ln_fwd(xn, NULL, NULL, X, norm, n, d);
    cmanp_linear_fwd(kv + (size_t)r0 * 2 * d, xn, wkv, NULL, n, d, 2 * d);
    cmanp_keys_transpose_ld(kt + r0, m, kv + (size_t)r0 * 2 * d, n, d);
}

void cmab_readout_step(const cmab_dims *k, const cmab_w *w, const cmab_consts *c, const cmab_state *s,
                       const cmanp_real *Zin, cmanp_real *Zout, const cmab_readout_buf *b,
                       cmanp_real *scratch, int step, int part, int parts) {
    const int d = k->d, dh = k->dh, Lp = k->Lp, Lq = k->Lq, H = k->H, F = k->F;
    int b0, b1, z0, z1;
    cmab_part_rows(Lp, parts, part, &b0, &b1);
    cmab_part_rows(Lq, parts, part, &z0, &z1);
    const int nb = b1 - b0, nz = z1 - z0;
    const int np = (max_rows(k) + parts - 1) / parts;
    cmanp_real *o = scratch;                            // (nb, d) heads of layer_cross_attn
    cmanp_real *work = o + (size_t)np * d;              // one block's scratch at a time
    cmanp_real *Bp = b->B + (size_t)b0 * d;             // (nb, d) this part's rows of B
    cmanp_real *Zp = Zout + (size_t)z0 * d;             // (nz, d) this part's rows of Z_out
    switch (step) {
    case 0:
        /* B = o . to_out^T + to_out.bias + LN_norm(latents): the attention
         * block's residual adds the normalised input. */
        for (int h = 0; h < H; h++)
            for (int i = b0; i < b1; i++) {
                const double *acc = s->acc + ((size_t)h * Lp + i) * dh;
                cmanp_real *dst = o + (size_t)(i - b0) * d + h * dh;
                for (int t = 0; t < dh; t++) dst[t] = (cmanp_real)acc[t];
            }
        for (int i = b0; i < b1; i++)
            for (int t = 0; t < d; t++)
                Bp[(size_t)(i - b0) * d + t] = c->latn[(size_t)i * d + t] + w->layer_cross_attn.bo[t];
        cmanp_mm(0, 1, nb, d, d, R(1.0), o, d, w->layer_cross_attn.wo, d, R(1.0), Bp, d);
        cmanp_ff_infer(Bp, work, &w->layer_cross_ff, NULL, Bp, nb, d, F);
        kv_rows(k, &w->layer_latent_self_attn.norm, w->layer_latent_self_attn.wkv, Bp, nb, b0, Lp,
                b->kv[0], b->kt[0], work);
        break;
    case 1:
        cmanp_attn_infer(Bp, work, &w->layer_latent_self_attn, NULL, Bp, nb, b->B, Lp, d, H, b->kv[0],
                         b->kt[0]);
        cmanp_ff_infer(Bp, work, &w->layer_latent_ff, NULL, Bp, nb, d, F);
        kv_rows(k, &w->cross_attn.norm_ctx, w->cross_attn.wkv, Bp, nb, b0, Lp, b->kv[1], b->kt[1], work);
        break;
    case 2:
        cmanp_attn_infer(Zp, work, &w->cross_attn, NULL, Zin + (size_t)z0 * d, nz, b->B, Lp, d, H,
                         b->kv[1], b->kt[1]);
        cmanp_ff_infer(Zp, work, &w->cross_ff, NULL, Zp, nz, d, F);
        kv_rows(k, &w->latent_self_attn.norm, w->latent_self_attn.wkv, Zp, nz, z0, Lq, b->kv[2], b->kt[2],
                work);
        break;
    default:
        cmanp_attn_infer(Zp, work, &w->latent_self_attn, NULL, Zp, nz, Zout, Lq, d, H, b->kv[2],
                         b->kt[2]);
        cmanp_ff_infer(Zp, work, &w->latent_ff, NULL, Zp, nz, d, F);
        break;
    }
}

size_t cmab_readout_scratch_floats(const cmab_dims *k) {
    return cmab_readout_buf_floats(k) + cmab_readout_part_floats(k, 1);
}

void cmab_readout(const cmab_dims *k, const cmab_w *w, const cmab_consts *c, const cmab_state *s,
                  const cmanp_real *Zin, cmanp_real *Zout, cmanp_real *scratch) {
    cmab_readout_buf b;
    cmab_readout_buf_bind(k, &b, scratch);
    cmanp_real *part = scratch + cmab_readout_buf_floats(k);
    for (int step = 0; step < CMAB_READOUT_STEPS; step++)
        cmab_readout_step(k, w, c, s, Zin, Zout, &b, part, step, 0, 1);
}
