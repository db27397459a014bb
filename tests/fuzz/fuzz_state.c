/* fuzz_state.c - libFuzzer target: state BLOB decoding, then every operation a
 * decoded state can reach, for both kinds of state BLOB ("CMNPSTAT" kind 1,
 * CMANP; kind 2, CMHP: a SQL function receives either from the user).
 *
 *   CMANP: merge with itself, add and remove rows, readout, predict, re-encode;
 *   CMHP:  merge with itself, add and remove events, readout, the next-event
 *          distribution (mean, quantiles, density, survival, CDF, marks,
 *          log-likelihood, a sample), re-encode.
 *
 * With the fuzz models' dimensions and fingerprints patched in by the seeds
 * (make_seeds.c), the fuzzer reaches past the header checks.  Oracles besides
 * the sanitizers: a decoded state re-encodes into bytes that decode again to
 * the same bytes, and so does a state after updates that all succeeded (an
 * update never makes a state that decoding would refuse). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static cmanp_model *g_model;
static cmhp_model *g_hp;

/* Random mutations almost always break the checksum, which would stop the
 * fuzzer at the header; so every input is also tried with its checksum
 * recomputed (the formulas of state_io.c and cmhp_io.c), to reach value
 * validation, merge, update and readout. */
static void fix_checksum(uint8_t *buf, size_t size) {
    if (size < 64) return;
    uint64_t h = cmanp_hash64(buf + 64, size - 64, cmanp_hash64(buf, 56, 0x5354415445ULL));
    memcpy(buf + 56, &h, 8);
}
static void fix_checksum_cmhp(uint8_t *buf, size_t size) {
    if (size < 80) return;
    uint64_t h = cmanp_hash64(buf, 56, 0x434d485053ULL);
    h = cmanp_hash64(buf + 64, 16, h);
    h = cmanp_hash64(buf + 80, size - 80, h);
    memcpy(buf + 56, &h, 8);
}

static void one_input(const uint8_t *data, size_t size);
static void one_cmhp(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_model && !(g_model = fuzz_model())) return 0;
    if (!g_hp && !(g_hp = fuzz_cmhp_model())) return 0;
    one_input(data, size);
    one_cmhp(data, size);
    uint8_t *copy = cmanp_malloc(size ? size : 1);
    if (copy) {
        memcpy(copy, data, size);
        fix_checksum(copy, size);
        one_input(copy, size);
        memcpy(copy, data, size);
        fix_checksum_cmhp(copy, size);
        one_cmhp(copy, size);
        cmanp_free(copy);
    }
    return 0;
}

/* enc (len bytes) decodes again and encodes to the same bytes. */
static void check_reencode(const unsigned char *enc, size_t len, int cmhp) {
    cmanp_err e;
    unsigned char *again = NULL;
    if (cmhp) {
        cmhp_state *s = NULL;
        if (cmhp_state_decode(g_hp, enc, len, &s, &e) != CMANP_OK) {
            if (e.code == CMANP_ENOMEM) return;
            abort();
        }
        if (cmhp_state_encoded_size(s) != len || !(again = cmanp_malloc(len))) abort();
        cmhp_state_encode(s, again);
        cmhp_state_free(s);
    } else {
        cmanp_state *s = NULL;
        if (cmanp_state_decode(g_model, enc, len, &s, &e) != CMANP_OK) {
            if (e.code == CMANP_ENOMEM) return;
            abort();
        }
        if (cmanp_state_encoded_size(s) != len || !(again = cmanp_malloc(len))) abort();
        cmanp_state_encode(s, again);
        cmanp_state_free(s);
    }
    if (memcmp(again, enc, len) != 0) abort();
    cmanp_free(again);
}

static void one_input(const uint8_t *data, size_t size) {
    cmanp_state_header h;
    cmanp_err e;
    cmanp_state_peek(data, size, &h, &e);
    cmanp_state *s = NULL;
    if (cmanp_state_decode(NULL, data, size, &s, &e) == CMANP_OK) cmanp_state_free(s);
    if (cmanp_state_decode(g_model, data, size, &s, &e) != CMANP_OK) return;
    size_t len = cmanp_state_encoded_size(s);
    unsigned char *buf = cmanp_malloc(len);
    if (buf) {
        cmanp_state_encode(s, buf);
        check_reencode(buf, len, 0);
        cmanp_free(buf);
    }
    cmanp_state *t = NULL;
    cmanp_state_new(g_model, &t, &e);
    if (t && cmanp_state_copy(t, s, &e) == CMANP_OK) cmanp_state_merge(t, s, &e);
    cmanp_cond *c = NULL;
    int ok = 0; /* every update succeeded: the state must encode into a valid BLOB */
    if (cmanp_cond_new(g_model, 4, &c, &e) == CMANP_OK) {
        cmanp_real xy[6] = {0.5, -1, 1.5, 2, -0.25, 0};
        ok = cmanp_cond_add(c, s, xy, 3, &e) == CMANP_OK;
        ok &= cmanp_cond_remove(c, s, xy, 2, &e) == CMANP_OK;
        ok &= cmanp_cond_flush(c, s, &e) == CMANP_OK;
        cmanp_cond_free(c);
    }
    cmanp_readout *r = NULL;
    if (cmanp_readout_new(g_model, &r, &e) == CMANP_OK) {
        if (cmanp_readout_compute(r, s, &e) == CMANP_OK) {
            cmanp_real x[2] = {0.1, -0.7}, mean[2], sd[2];
            cmanp_predict(r, x, 2, mean, sd, NULL, &e);
        }
        cmanp_readout_free(r);
    }
    len = cmanp_state_encoded_size(s);
    buf = cmanp_malloc(len);
    if (buf) {
        cmanp_state_encode(s, buf);
        if (ok) check_reencode(buf, len, 0);
        cmanp_free(buf);
    }
    cmanp_state_free(t);
    cmanp_state_free(s);
}

static void one_cmhp(const uint8_t *data, size_t size) {
    cmhp_state_header h;
    cmanp_err e;
    cmhp_state_peek(data, size, &h, &e);
    cmhp_state *s = NULL;
    if (cmhp_state_decode(NULL, data, size, &s, &e) == CMANP_OK) cmhp_state_free(s);
    if (cmhp_state_decode(g_hp, data, size, &s, &e) != CMANP_OK) return;
    cmhp_state_check(g_hp, s, &e);
    size_t len = cmhp_state_encoded_size(s);
    unsigned char *buf = cmanp_malloc(len);
    if (buf) {
        cmhp_state_encode(s, buf);
        check_reencode(buf, len, 1);
        cmanp_free(buf);
    }
    cmhp_state *t = NULL;
    if (cmhp_state_clone(s, &t, &e) == CMANP_OK) cmhp_state_merge(g_hp, t, s, &e);
    cmhp_cond *c = NULL;
    int ok = 0;
    if (cmhp_cond_new(g_hp, 4, &c, &e) == CMANP_OK) {
        double t0 = cmhp_state_time(s);
        double ts[3] = {t0 + 0.5, t0 + 0.25, t0 + 2};
        int ks[3] = {0, 2, 1};
        ok = cmhp_add(c, s, ts, ks, 3, &e) == CMANP_OK;
        ok &= cmhp_remove(c, s, ts, ks, 2, &e) == CMANP_OK;
        cmhp_cond_free(c);
    }
    cmhp_readout *r = NULL;
    if (cmhp_readout_new(g_hp, &r, &e) == CMANP_OK) {
        if (cmhp_readout_compute(r, s, &e) == CMANP_OK) {
            const cmhp_dist *d = cmhp_readout_dist(r);
            double t0 = cmhp_state_time(s), acc = 0;
            acc += cmhp_dist_mean(d);
            acc += cmhp_dist_quantile(d, 0.05) + cmhp_dist_quantile(d, 0.5) + cmhp_dist_quantile(d, 0.95);
            acc += cmhp_dist_logpdf(d, t0 + 1) + cmhp_dist_survival(d, t0 + 1) + cmhp_dist_cdf(d, t0 + 1);
            for (int k = 0; k < d->K; k++) acc += cmhp_dist_mark_logp(d, k) + cmhp_dist_loglik(d, t0 + 0.5, k);
            cmanp_rng rng;
            cmanp_rng_seed(&rng, 1);
            double ts;
            int ks;
            cmhp_dist_sample(d, &rng, &ts, &ks);
            if (ks < 0 || ks >= d->K) abort();
            (void)acc;
        }
        cmhp_readout_free(r);
    }
    if (ok && (buf = cmanp_malloc(len = cmhp_state_encoded_size(s)))) {
        cmhp_state_encode(s, buf);
        check_reencode(buf, len, 1);
        cmanp_free(buf);
    }
    cmhp_state_free(t);
    cmhp_state_free(s);
}
