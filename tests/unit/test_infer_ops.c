/* test_infer_ops.c - the inference forms of the blocks and the kernels the
 * fold and decoding use (engine/ops.c, engine/vmath.c), against the training
 * forms and plain loops:
 *   1. cmanp_attn_infer == cmanp_attn_block_fwd (cross- and self-attention;
 *      stored or transposed weights; keys/values computed or given)
 *   2. cmanp_ff_infer == cmanp_ff_block_fwd, cmanp_linear_fwd_t == cmanp_linear_fwd
 *   3. cmanp_keys_transpose for every m up to 20
 *   4. cmanp_vmax_cols / cmanp_vexp_cols_sum: column maxima exactly, the
 *      exponentials within 2 ulp and the float64 sums exactly the sums of
 *      the values written, in row order
 *   5. cmanp_vmax: -0 and +0, and the largest of mixed signs; cmanp_vrelu
 *      and cmanp_vadd exactly
 * Runs against the float32 engine and (it mentions CMANP_REAL_DOUBLE) the
 * float64 one, where the forms must agree to 1e-12. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "testutil.h"
#include "vmath.h"

#ifdef CMANP_REAL_DOUBLE
#define TOL 1e-12
#else
#define TOL 2e-5
#endif

static uint64_t lcg = 0x9E3779B97F4A7C15ULL;
static double urand(void) {
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg >> 11) / 9007199254740992.0;
}

static cmanp_real *rnd(size_t n, double scale) {
    cmanp_real *p = malloc(n * sizeof *p);
    if (!p) exit(1);
    for (size_t i = 0; i < n; i++) p[i] = (cmanp_real)(scale * (2 * urand() - 1));
    return p;
}

static cmanp_real *transposed(const cmanp_real *w, int o, int i) {
    cmanp_real *t = malloc((size_t)o * i * sizeof *t);
    if (!t) exit(1);
    for (int r = 0; r < o; r++)
        for (int k = 0; k < i; k++) t[(size_t)k * o + r] = w[(size_t)r * i + k];
    return t;
}

static double max_rel(const cmanp_real *a, const cmanp_real *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

static cmanp_ln_w ln_w(int d) {
    cmanp_ln_w w = {rnd((size_t)d, 0.2), rnd((size_t)d, 0.2)};
    for (int k = 0; k < d; k++) w.g[k] += R(1.0);
    return w;
}

static void attention(int n, int m, int d, int H, int self) {
    cmanp_attn_w w;
    w.norm = ln_w(d);
    w.norm_ctx = self ? (cmanp_ln_w){NULL, NULL} : ln_w(d);
    w.wq = rnd((size_t)d * d, 0.4);
    w.wkv = rnd((size_t)2 * d * d, 0.4);
    w.wo = rnd((size_t)d * d, 0.4);
    w.bo = rnd((size_t)d, 0.1);
    cmanp_real *X = rnd((size_t)n * d, 1.0), *C = self ? NULL : rnd((size_t)m * d, 1.0);
    int mm = self ? n : m;
    cmanp_real *acts = malloc(cmanp_attn_acts_floats(n, mm, d, H) * sizeof *acts);
    cmanp_real *want = malloc((size_t)n * d * sizeof *want), *got = malloc((size_t)n * d * sizeof *got);
    cmanp_real *scr = malloc(cmanp_attn_infer_floats(n, mm, d) * sizeof *scr);
    cmanp_attn_acts a;
    cmanp_attn_acts_bind(&a, acts, n, mm, d, H);
    cmanp_attn_block_fwd(want, &a, &w, X, n, C, mm, d, H, 0);
    cmanp_attn_wt wt = {transposed(w.wq, d, d), transposed(w.wo, d, d)};
    for (int variant = 0; variant < 3; variant++) {
        const cmanp_attn_wt *t = variant ? &wt : NULL;
        const cmanp_real *kv = NULL, *kt = NULL;
        cmanp_real *ktb = NULL;
        if (variant == 2) { /* keys/values given, as the decoder does */
            ktb = malloc((size_t)d * mm * sizeof *ktb);
            cmanp_keys_transpose(ktb, a.kv, mm, d);
            kv = a.kv;
            kt = ktb;
        }
        memcpy(got, X, (size_t)n * d * sizeof *got); /* out aliases X */
        cmanp_attn_infer(got, scr, &w, t, got, n, C, mm, d, H, kv, kt);
        double e = max_rel(got, want, (size_t)n * d);
        TU_CHECK(e <= TOL, "attention n %d m %d d %d H %d %s variant %d: error %.3g", n, mm, d, H,
                 self ? "self" : "cross", variant, e);
        free(ktb);
    }
    free((void *)wt.wq);
    free((void *)wt.wo);
    free(w.norm.g), free(w.norm.b), free(w.norm_ctx.g), free(w.norm_ctx.b);
    free(w.wq), free(w.wkv), free(w.wo), free(w.bo);
    free(X), free(C), free(acts), free(want), free(got), free(scr);
}

static void feed_forward(int n, int d, int F) {
    cmanp_ff_w w;
    w.norm = ln_w(d);
    w.w0 = rnd((size_t)2 * F * d, 0.4);
    w.b0 = rnd((size_t)2 * F, 0.1);
    w.w2 = rnd((size_t)d * F, 0.4);
    w.b2 = rnd((size_t)d, 0.1);
    cmanp_real *X = rnd((size_t)n * d, 1.0);
    cmanp_real *acts = malloc(cmanp_ff_acts_floats(n, d, F) * sizeof *acts);
    cmanp_real *scr = malloc(cmanp_ff_infer_floats(n, d, F) * sizeof *scr);
    cmanp_real *want = malloc((size_t)n * d * sizeof *want), *got = malloc((size_t)n * d * sizeof *got);
    cmanp_ff_acts a;
    cmanp_ff_acts_bind(&a, acts, n, d, F);
    cmanp_ff_block_fwd(want, &a, &w, X, n, d, F);
    cmanp_ff_wt wt = {transposed(w.w0, 2 * F, d), transposed(w.w2, d, F)};
    for (int variant = 0; variant < 2; variant++) {
        memcpy(got, X, (size_t)n * d * sizeof *got);
        cmanp_ff_infer(got, scr, &w, variant ? &wt : NULL, got, n, d, F);
        double e = max_rel(got, want, (size_t)n * d);
        TU_CHECK(e <= TOL, "feed-forward n %d d %d F %d variant %d: error %.3g", n, d, F, variant, e);
    }
    /* linear with the transposed weight */
    cmanp_real *o1 = malloc((size_t)n * 2 * F * sizeof *o1), *o2 = malloc((size_t)n * 2 * F * sizeof *o2);
    cmanp_linear_fwd(o1, X, w.w0, w.b0, n, d, 2 * F);
    cmanp_linear_fwd_t(o2, X, wt.w0, w.b0, n, d, 2 * F);
    TU_CHECK(max_rel(o2, o1, (size_t)n * 2 * F) <= TOL, "linear_fwd_t n %d", n);
    free((void *)wt.w0), free((void *)wt.w2);
    free(w.norm.g), free(w.norm.b), free(w.w0), free(w.b0), free(w.w2), free(w.b2);
    free(X), free(acts), free(scr), free(want), free(got), free(o1), free(o2);
}

static int64_t ulps(float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    return ia > ib ? (int64_t)ia - ib : (int64_t)ib - ia;
}

static void column_kernels(void) {
    int bad_max = 0, bad_sum = 0;
    int64_t worst = 0;
    for (size_t n = 1; n <= 9; n++)
        for (size_t m = 1; m <= 150; m += (m < 20 ? 1 : 13)) {
            float *S = malloc(n * m * sizeof *S), *orig = malloc(n * m * sizeof *orig);
            float mx[150];
            double sum[150];
            for (size_t i = 0; i < n * m; i++) orig[i] = S[i] = (float)(40 * urand() - 30);
            cmanp_vmax_cols(mx, S, n, m);
            for (size_t i = 0; i < m; i++) {
                float want = orig[i];
                for (size_t j = 1; j < n; j++) want = orig[j * m + i] > want ? orig[j * m + i] : want;
                bad_max += mx[i] != want;
                sum[i] = 0.5; /* accumulates onto what is there */
            }
            cmanp_vexp_cols_sum(S, n, m, mx, sum);
            for (size_t i = 0; i < m; i++) {
                double want = 0.5;
                for (size_t j = 0; j < n; j++) {
                    float dlt = orig[j * m + i] - mx[i]; /* the kernel's float argument */
                    int64_t u = ulps(S[j * m + i], (float)exp((double)dlt));
                    if (u > worst) worst = u;
                    want += (double)S[j * m + i];
                }
                bad_sum += sum[i] != want;
            }
            free(S);
            free(orig);
        }
    TU_CHECK(bad_max == 0, "vmax_cols wrong in %d columns", bad_max);
    TU_CHECK(bad_sum == 0, "vexp_cols_sum: %d column sums differ from the row-order float64 sum", bad_sum);
    TU_CHECK(worst <= 2, "vexp_cols_sum: exponential %lld ulp off", (long long)worst);

    float z[3] = {-0.0f, 0.0f, -0.0f};
    TU_CHECK(cmanp_vmax(z, 3) == 0.0f, "vmax of zeros");
    float v[40];
    for (int i = 0; i < 40; i++) v[i] = -1e30f + (float)i;
    v[23] = 3.5f;
    v[7] = -0.0f;
    TU_CHECK(cmanp_vmax(v, 40) == 3.5f, "vmax of mixed signs: %g", cmanp_vmax(v, 40));
    v[23] = -2.0f;
    TU_CHECK(cmanp_vmax(v, 40) == 0.0f, "vmax with -0 the largest: %g", cmanp_vmax(v, 40));
    float neg[5] = {-5.0f, -1e-30f, -3.0f, -INFINITY, -7.0f};
    TU_CHECK(cmanp_vmax(neg, 5) == -1e-30f, "vmax of negatives: %g", cmanp_vmax(neg, 5));

    float r[37], a[37], b[37], y[37];
    for (int i = 0; i < 37; i++) {
        r[i] = (float)(urand() - 0.5);
        a[i] = (float)urand();
        b[i] = (float)urand();
    }
    r[3] = NAN;
    r[4] = -0.0f;
    r[5] = -INFINITY;
    float want[37];
    for (int i = 0; i < 37; i++) want[i] = r[i] > 0.0f ? r[i] : 0.0f;
    cmanp_vrelu(r, 37);
    TU_CHECK(memcmp(r, want, sizeof r) == 0, "vrelu differs from x > 0 ? x : 0");
    cmanp_vadd(y, a, b, 37);
    int bad_add = 0;
    for (int i = 0; i < 37; i++) bad_add += y[i] != a[i] + b[i];
    TU_CHECK(bad_add == 0, "vadd wrong in %d places", bad_add);
}

static void keys_transpose(void) {
    int bad = 0;
    for (int m = 1; m <= 20; m++) {
        const int d = 6;
        cmanp_real *kv = rnd((size_t)m * 2 * d, 1.0), *kt = malloc((size_t)d * m * sizeof *kt);
        cmanp_keys_transpose(kt, kv, m, d);
        for (int j = 0; j < m; j++)
            for (int c = 0; c < d; c++) bad += kt[(size_t)c * m + j] != kv[(size_t)j * 2 * d + c];
        free(kv);
        free(kt);
    }
    TU_CHECK(bad == 0, "keys_transpose wrong in %d places", bad);
}

int main(void) {
    attention(5, 7, 8, 2, 0);
    attention(6, 6, 8, 4, 1);
    attention(1, 13, 16, 4, 0);
    attention(48, 128, 64, 4, 0);
    attention(17, 17, 64, 4, 1);
    feed_forward(1, 8, 12);
    feed_forward(48, 64, 128);
    feed_forward(7, 16, 5);
    keys_transpose();
    column_kernels();
    return tu_finish();
}
