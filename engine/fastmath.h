/* fastmath.h - branch-free float kernels for the training hot loops.
 *
 * Why: profiling the backward pass showed libm's scalar erff/expf (one call
 * per GEGLU gate element, ~7 million per step at the GP configuration)
 * dominating the step.  These kernels are plain C11 (no -ffast-math, no
 * intrinsics) written so that loops over them vectorise; callers compile
 * those loops for AVX-512 / AVX2 / baseline with FM_CLONES (GCC
 * target_clones, picked at load time).
 *
 * Accuracy (tests/unit/test_grad_fastmath.c, dense grids against libm in
 * float64):
 *   fm_expf     <= 2 ulp on [-87.3, 88.7]; 0 below, +inf above, NaN kept;
 *   fm_erfcf    relative error < 1e-6 for z <= 3 (Numerical Recipes 6.2
 *               Chebyshev fit, 1.2e-7 in exact arithmetic), < 2e-5 further out
 *               (float rounding of -z^2 in the exponent) down to erfc = 1e-30;
 *   fm_gelu / fm_gelu_grad  within 1e-6 relative + 1e-7 absolute of the exact
 *               erf forms.
 * The same constants as engine/vmath.c's forward kernels, so a forward and
 * its backward agree.
 */
#ifndef CMANP_FASTMATH_H
#define CMANP_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define FM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FM_CLONES
#endif

/* Selections are written as bit masks (fm_sel) rather than `c ? a : b`:
 * under the default -ftrapping-math GCC sinks a floating-point operation
 * used on one side of a branch into that branch and then refuses to
 * if-convert it (it would execute a possibly trapping operation
 * speculatively), so a loop over a kernel with ternaries stays scalar
 * except where AVX-512 masking rescues it.  With masks every operation
 * runs unconditionally and the loops vectorise for AVX-512, AVX2 and SSE2
 * alike.  The results are bit-identical to the ternary forms. */
static inline uint32_t fm_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static inline float fm_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
/* all ones where c, else zero */
static inline uint32_t fm_mask(int c) { return (uint32_t)0 - (uint32_t)(c != 0); }
/* m ? a : b for a mask m from fm_mask */
static inline float fm_sel(uint32_t m, float a, float b) {
    return fm_float((fm_bits(a) & m) | (fm_bits(b) & ~m));
}

/* 2^n in the exponent bits: t = x log2(e) + 1.5 * 2^23 holds the nearest
 * integer n of x log2(e) in its low mantissa bits (|n| < 2^22), so n is
 * read from t's bits with integer arithmetic (no float -> int conversion,
 * whose out-of-range behaviour is undefined). */
#define FM_ROUND_MAGIC 12582912.0f /* 1.5 * 2^23, bits 0x4B400000 */
static inline int32_t fm_round_int(float t) { return (int32_t)fm_bits(t) - 0x4B400000; }

/* exp(r) for |r| <= ln2 / 2: the Cephes degree-6 minimax polynomial. */
static inline float fm_exp_poly(float r) {
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    return p * r * r + r + 1.0f;
}

/* exp(x): x = n ln2 + r with |r| <= ln2 / 2 (n by the round-to-nearest
 * 1.5 * 2^23 trick, ln2 split so n * ln2_hi is exact), exp(r) by the Cephes
 * degree-6 minimax polynomial, 2^n put into the exponent bits. */
static inline float fm_expf(float x) {
    const float hi = 88.7228391f, lo = -87.3365448f;
    const uint32_t isnan_ = fm_mask(x != x), above = fm_mask(x > hi), below = fm_mask(x < lo);
    /* clamp to [lo, hi]; NaN computes on 0 and is put back at the end */
    float xc = fm_sel(above, hi, x);
    xc = fm_sel(below, lo, xc);
    xc = fm_sel(isnan_, 0.0f, xc);
    float t = xc * 1.44269504088896341f + FM_ROUND_MAGIC;
    float n = t - FM_ROUND_MAGIC;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float y = fm_exp_poly(r);
    /* n <= 128 after the clamp, and 2^128 is not a float: apply 2^127 * 2. */
    int32_t ni = fm_round_int(t);
    const uint32_t big = fm_mask(ni > 127);
    int32_t n1 = ni > 127 ? 127 : ni;
    float scale = fm_float((uint32_t)(n1 + 127) << 23);
    float out = y * scale * fm_sel(big, 2.0f, 1.0f);
    out = fm_sel(below, 0.0f, out);
    out = fm_sel(above, INFINITY, out);
    return fm_sel(isnan_, x, out);
}

/* exp(x) for finite x <= 0, as softmax numerators need (x - max): the same
 * kernel without the overflow handling, ~30% fewer operations.  NaN (from a
 * row that overflowed) gives NaN, -inf gives 0. */
static inline float fm_expf_nonpos(float x) {
    const float lo = -87.3365448f;
    const uint32_t ok = fm_mask(x >= lo); /* false for x < lo and for NaN */
    float xc = fm_sel(ok, x, lo);
    float t = xc * 1.44269504088896341f + FM_ROUND_MAGIC;
    float n = t - FM_ROUND_MAGIC;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float y = fm_exp_poly(r);
    /* unsigned: no overflow whatever x (n = 0 .. -126 on the domain) */
    float scale = fm_float((fm_bits(t) - 0x4B400000u + 127u) << 23);
    float out = y * scale;
    /* x >= lo: out; NaN: x; x < lo: 0 */
    return fm_float((fm_bits(out) & ok) | (fm_bits(x) & fm_mask(x != x)));
}

/* erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + |z| / 2) for z >= 0 and
 * 2 - erfc(-z) below. */
static inline float fm_erfcf(float z) {
    const uint32_t neg = fm_mask(z < 0.0f);
    float az = fm_sel(neg, -z, z);
    float t = 1.0f / (1.0f + 0.5f * az);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    float e = t * fm_expf(-az * az + p);
    return fm_sel(neg, 2.0f - e, e);
}

/* GELU (exact form) and its derivative at u:
 *   gelu(u)  = u Phi(u),  Phi(u) = erfc(-u / sqrt 2) / 2
 *   gelu'(u) = Phi(u) + u phi(u),  phi(u) = exp(-u^2 / 2) / sqrt(2 pi). */
static inline void fm_gelu_and_grad(float u, float *g, float *dg) {
    float cdf = 0.5f * fm_erfcf(-u * 0.70710678118654752f);
    float pdf = 0.39894228040143268f * fm_expf(-0.5f * u * u);
    *g = u * cdf;
    *dg = cdf + u * pdf;
}

#endif
