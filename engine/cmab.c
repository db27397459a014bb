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

size_t cmab_readout_scratch_floats(const cmab_dims *k) {
    size_t Lp = (size_t)k->Lp, d = (size_t)k->d;
    size_t attn = max3(cmanp_attn_infer_floats(k->Lp, k->Lp, k->d),
                       cmanp_attn_infer_floats(k->Lq, k->Lp, k->d),
                       cmanp_attn_infer_floats(k->Lq, k->Lq, k->d));
    size_t ff = cmanp_ff_infer_floats(k->Lp > k->Lq ? k->Lp : k->Lq, k->d, k->F);
    return 2 * Lp * d + (attn > ff ? attn : ff);
}

void cmab_readout(const cmab_dims *k, const cmab_w *w, const cmab_consts *c, const cmab_state *s,
                  const cmanp_real *Zin, cmanp_real *Zout, cmanp_real *scratch) {
    const int d = k->d, dh = k->dh, Lp = k->Lp, Lq = k->Lq, H = k->H, F = k->F;
    cmanp_real *o = scratch;                               // (Lp, d) heads of layer_cross_attn
    cmanp_real *B = o + (size_t)Lp * d;                    // (Lp, d) the block's latents
    cmanp_real *work = B + (size_t)Lp * d;                 // one block's scratch at a time

    for (int h = 0; h < H; h++)
        for (int i = 0; i < Lp; i++) {
            const double *acc = s->acc + ((size_t)h * Lp + i) * dh;
            cmanp_real *dst = o + (size_t)i * d + h * dh;
            for (int t = 0; t < dh; t++) dst[t] = (cmanp_real)acc[t];
        }
    /* B = o . to_out^T + to_out.bias + LN_norm(latents): the attention block's
     * residual adds the normalised input. */
    for (int i = 0; i < Lp; i++)
        for (int t = 0; t < d; t++)
            B[(size_t)i * d + t] = c->latn[(size_t)i * d + t] + w->layer_cross_attn.bo[t];
    cmanp_mm(0, 1, Lp, d, d, R(1.0), o, d, w->layer_cross_attn.wo, d, R(1.0), B, d);

    cmanp_ff_infer(B, work, &w->layer_cross_ff, NULL, B, Lp, d, F);
    cmanp_attn_infer(B, work, &w->layer_latent_self_attn, NULL, B, Lp, NULL, Lp, d, H, NULL, NULL);
    cmanp_ff_infer(B, work, &w->layer_latent_ff, NULL, B, Lp, d, F);

    cmanp_attn_infer(Zout, work, &w->cross_attn, NULL, Zin, Lq, B, Lp, d, H, NULL, NULL);
    cmanp_ff_infer(Zout, work, &w->cross_ff, NULL, Zout, Lq, d, F);
    cmanp_attn_infer(Zout, work, &w->latent_self_attn, NULL, Zout, Lq, NULL, Lq, d, H, NULL, NULL);
    cmanp_ff_infer(Zout, work, &w->latent_ff, NULL, Zout, Lq, d, F);
}
