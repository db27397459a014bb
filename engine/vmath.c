/* vmath.c - see vmath.h. */
#include "vmath.h"

#include "fastmath.h" /* the scalar kernels: one definition for forward and backward */

#include <math.h>
#include <stdint.h>
#include <string.h>

#define CMANP_CLONES FM_CLONES

CMANP_CLONES
double cmanp_vexp_shift_sum(float *x, size_t n, float shift) {
    /* Eight float64 partial sums: vectorisable and far more accurate than one
     * float accumulator over thousands of terms. */
    double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            float v = fm_expf_nonpos(x[i + k] - shift);
            x[i + k] = v;
            part[k] += (double)v;
        }
    double s = 0;
    for (; i < n; i++) {
        x[i] = fm_expf_nonpos(x[i] - shift);
        s += (double)x[i];
    }
    return s + ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

CMANP_CLONES
void cmanp_vexp(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = fm_expf(x[i]);
}

/* The maximum through order-preserving integer keys (the magnitude bits of
 * negative floats flipped): an integer max reduction vectorises, a float
 * one does not without -ffast-math (and a 16-lane `x > m ? x : m` stays
 * scalar).  Same result for every NaN-free input, except that of +0 and -0
 * either may come back. */
static inline uint32_t order_key(float f) {
    uint32_t u = fm_bits(f);
    return u ^ (((uint32_t)0 - (u >> 31)) >> 1) ^ 0x80000000u;
}

CMANP_CLONES
float cmanp_vmax(const float *x, size_t n) {
    uint32_t m = order_key(x[0]);
    for (size_t i = 1; i < n; i++) {
        uint32_t k = order_key(x[i]);
        m = k > m ? k : m;
    }
    return fm_float(m ^ (m >> 31 ? 0x80000000u : 0xFFFFFFFFu));
}

/* Column maxima of S (n, m), n >= 1: 64 columns at a time, as integer keys. */
CMANP_CLONES
void cmanp_vmax_cols(float *mx, const float *S, size_t n, size_t m) {
    for (size_t i0 = 0; i0 < m; i0 += 64) {
        const size_t w = m - i0 < 64 ? m - i0 : 64;
        uint32_t key[64];
        for (size_t i = 0; i < w; i++) key[i] = order_key(S[i0 + i]);
        for (size_t j = 1; j < n; j++) {
            const float *row = S + j * m + i0;
            for (size_t i = 0; i < w; i++) {
                uint32_t k = order_key(row[i]);
                key[i] = k > key[i] ? k : key[i];
            }
        }
        for (size_t i = 0; i < w; i++)
            mx[i0 + i] = fm_float(key[i] ^ (key[i] >> 31 ? 0x80000000u : 0xFFFFFFFFu));
    }
}

/* S[j, i] = exp(S[j, i] - mx[i]) for every row j; sum[i] += the column's
 * values, in float64. */
CMANP_CLONES
void cmanp_vexp_cols_sum(float *S, size_t n, size_t m, const float *mx, double *sum) {
    for (size_t j = 0; j < n; j++) {
        float *row = S + j * m;
        for (size_t i = 0; i < m; i++) {
            float v = fm_expf_nonpos(row[i] - mx[i]);
            row[i] = v;
            sum[i] += (double)v;
        }
    }
}

/* x = max(x, 0) as `x > 0 ? x : 0` (NaN -> 0), through a mask select. */
CMANP_CLONES
void cmanp_vrelu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = fm_sel(fm_mask(x[i] > 0.0f), x[i], 0.0f);
}

CMANP_CLONES
void cmanp_vadd(float *y, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/* gelu(u) = 0.5 u erfc(-u / sqrt 2): over erfc rather than erf so that the
 * tiny values of gelu for very negative u keep their relative accuracy. */
static inline float gelu_kernel(float u) { return 0.5f * u * fm_erfcf(-u * 0.70710678118654752f); }

CMANP_CLONES
void cmanp_vgeglu(float *z, const float *u, size_t F) {
    for (size_t k = 0; k < F; k++) z[k] = u[k] * gelu_kernel(u[F + k]);
}

CMANP_CLONES
void cmanp_vgelu(float *y, const float *u, size_t n) {
    for (size_t k = 0; k < n; k++) y[k] = gelu_kernel(u[k]);
}

/* LayerNorm of one row: two passes (mean, then centred variance) with 16
 * partial sums each, so the reductions vectorise without reassociation flags. */
CMANP_CLONES
void cmanp_vlayernorm_row(float *y, float *mean, float *rstd, const float *x, const float *g,
                          const float *b, size_t d, float eps) {
    float part[16] = {0};
    size_t i = 0;
    for (; i + 16 <= d; i += 16)
        for (int k = 0; k < 16; k++) part[k] += x[i + k];
    float s = 0.0f;
    for (; i < d; i++) s += x[i];
    for (int k = 0; k < 16; k++) s += part[k];
    float m = s / (float)d;
    for (int k = 0; k < 16; k++) part[k] = 0.0f;
    for (i = 0; i + 16 <= d; i += 16)
        for (int k = 0; k < 16; k++) {
            float c = x[i + k] - m;
            part[k] += c * c;
        }
    float v = 0.0f;
    for (; i < d; i++) v += (x[i] - m) * (x[i] - m);
    for (int k = 0; k < 16; k++) v += part[k];
    float r = 1.0f / sqrtf(v / (float)d + eps);
    for (i = 0; i < d; i++) y[i] = (x[i] - m) * r * g[i] + b[i];
    if (mean) *mean = m;
    if (rstd) *rstd = r;
}

/* One softmax row in place: max, exponentials with a 16-lane float sum, scale.
 * (The streaming state uses cmanp_vexp_shift_sum instead: its sums feed the
 * float64 state and are accumulated in float64.) */
CMANP_CLONES
void cmanp_vsoftmax_row(float *x, size_t m) {
    float mx = cmanp_vmax(x, m), part[16] = {0}, s = 0.0f;
    size_t j = 0;
    for (; j + 16 <= m; j += 16)
        for (int k = 0; k < 16; k++) {
            float v = fm_expf_nonpos(x[j + k] - mx);
            x[j + k] = v;
            part[k] += v;
        }
    for (; j < m; j++) {
        x[j] = fm_expf_nonpos(x[j] - mx);
        s += x[j];
    }
    for (int k = 0; k < 16; k++) s += part[k];
    const float inv = 1.0f / s;
    for (j = 0; j < m; j++) x[j] *= inv;
}
