/* vmath.h - vectorisable elementwise math for the hot loops (softmax over
 * context rows dominates conditioning: H * Lp exponentials per row and layer).
 *
 * libm's expf is scalar; these loops over the scalar kernels of fastmath.h
 * (Cephes-style polynomials) vectorise, compiled for AVX-512, AVX2 and
 * baseline x86-64 and chosen at load time (GCC target_clones), with no
 * -ffast-math.
 * Accuracy: cmanp_vexp within 2 ulp of the correctly rounded expf on the
 * normal range; results below FLT_MIN (x < -87.33) flush to 0, x > 88.72
 * gives +inf, NaN stays NaN (tests/unit/test_vmath.c).
 */
#ifndef CMANP_VMATH_H
#define CMANP_VMATH_H

#include <stddef.h>

/* x[i] = exp(x[i] - shift); returns the sum of the results, accumulated in
 * float64. */
double cmanp_vexp_shift_sum(float *x, size_t n, float shift);
/* x[i] = exp(x[i]). */
void cmanp_vexp(float *x, size_t n);
/* softmax of one row in place. */
void cmanp_vsoftmax_row(float *x, size_t m);
/* max of x[0..n) (n >= 1); NaN-free input assumed (scores of finite data). */
float cmanp_vmax(const float *x, size_t n);

/* z[k] = u[k] * gelu(u[F + k]) for k < F: one row of the GEGLU feed-forward.
 * gelu is the exact (erf) form to within ~2e-7 relative. */
void cmanp_vgeglu(float *z, const float *u, size_t F);
void cmanp_vgelu(float *y, const float *u, size_t n);
/* One row of LayerNorm: y = (x - mean) * rstd * g + b; mean/rstd may be NULL. */
void cmanp_vlayernorm_row(float *y, float *mean, float *rstd, const float *x, const float *g,
                          const float *b, size_t d, float eps);

/* x[i] = x[i] > 0 ? x[i] : 0;  y[i] = a[i] + b[i] (y may alias a or b). */
void cmanp_vrelu(float *x, size_t n);
void cmanp_vadd(float *y, const float *a, const float *b, size_t n);

/* Column-wise, for scores stored (rows, columns) = (inputs, queries):
 * mx[i] = max over the n rows of column i (n >= 1; NaN-free input), and
 * S[j, i] = exp(S[j, i] - mx[i]) with sum[i] += the new values in float64. */
void cmanp_vmax_cols(float *mx, const float *S, size_t n, size_t m);
void cmanp_vexp_cols_sum(float *S, size_t n, size_t m, const float *mx, double *sum);

/* For code written over cmanp_real: the float32 build uses the kernels above,
 * the float64 test build plain libm. *mx receives the maximum. */
#include "real.h"
static inline double cmanp_softmax_numerators(cmanp_real *x, size_t n, cmanp_real *mx) {
#ifdef CMANP_REAL_DOUBLE
    double m = x[0], s = 0;
    for (size_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    for (size_t i = 0; i < n; i++) {
        x[i] = exp(x[i] - m);
        s += x[i];
    }
    *mx = m;
    return s;
#else
    float m = cmanp_vmax(x, n);
    *mx = m;
    return cmanp_vexp_shift_sum(x, n, m);
#endif
}

/* Softmax numerators of every column of S (n, m) relative to its maximum,
 * mx (m) receiving the maxima and sum (m) the column sums (float64). */
static inline void cmanp_softmax_numerators_cols(cmanp_real *S, size_t n, size_t m, cmanp_real *mx,
                                                 double *sum) {
    for (size_t i = 0; i < m; i++) sum[i] = 0.0;
#ifdef CMANP_REAL_DOUBLE
    for (size_t i = 0; i < m; i++) mx[i] = S[i];
    for (size_t j = 1; j < n; j++)
        for (size_t i = 0; i < m; i++) mx[i] = S[j * m + i] > mx[i] ? S[j * m + i] : mx[i];
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < m; i++) {
            S[j * m + i] = exp(S[j * m + i] - mx[i]);
            sum[i] += S[j * m + i];
        }
#else
    cmanp_vmax_cols(mx, S, n, m);
    cmanp_vexp_cols_sum(S, n, m, mx, sum);
#endif
}

#endif
