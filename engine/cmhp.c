/* cmhp.c - Constant Memory Hawkes Process: configuration, parameters, the
 * streaming state, readout and the predictive distribution (see cmhp.h and
 * docs/cmhp.md).
 *
 * Spec (tests/unit/test_cmhp.c, items C*):
 *   C1. config JSON round trip; bad configs rejected with messages.
 *   C2. parameter names and shapes as docs/cmhp.md; safetensors round trip.
 *   C3. update in blocks of any size / any order == one block; merge of
 *       shards == the union; remove(add(S, D), D) ~ S.
 *   C4. constant memory: folding 10^5 events allocates nothing and the state
 *       size does not change.
 *   C5. the distribution: density integrates to 1, CDF(quantile(q)) = q,
 *       closed-form mean == numerical mean, samples follow the CDF, mark
 *       probabilities sum to 1, loglik = logpdf + mark logp.
 *   C6. empty history (sink only) is well defined; t before t_last rejected.
 *   C7. state BLOB round trip and rejection of damaged BLOBs.
 * The training path (cmhp_train.c) must give the same per-event log-likelihoods
 * as the streaming path here (tests/unit/test_cmhp_train.c).
 */
#include "cmhp.h"

#include <json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cmanp.h" /* cmanp_hash64 */
#include "json_parse.h"
#include "ops.h"

/* ---------------------------------------------------------------- config */

static const char *const k_int_keys[] = {"num_marks", "d_model", "nhead", "num_layers",
                                         "num_latents", "num_latents_per_layer",
                                         "dim_feedforward", "num_mix"};
#define N_INT_KEYS 8

static int *int_field(cmhp_config *c, int i) {
    int *f[N_INT_KEYS] = {&c->num_marks,   &c->d_model,
                          &c->nhead,       &c->num_layers,
                          &c->num_latents, &c->num_latents_per_layer,
                          &c->dim_feedforward, &c->num_mix};
    return f[i];
}

int cmhp_config_validate(const cmhp_config *c, cmanp_err *e) {
    struct { const char *name; int v, lo, hi; } r[] = {
        {"num_marks", c->num_marks, 1, CMHP_MAX_MARKS},
        {"d_model", c->d_model, 2, 4096},
        {"nhead", c->nhead, 1, 256},
        {"num_layers", c->num_layers, 1, CMANP_MAX_LAYERS},
        {"num_latents", c->num_latents, 1, 65536},
        {"num_latents_per_layer", c->num_latents_per_layer, 1, 65536},
        {"dim_feedforward", c->dim_feedforward, 1, 16384},
        {"num_mix", c->num_mix, 1, CMHP_MAX_MIX},
        {"recency_rates (count)", c->num_rates, 0, CMHP_MAX_RATES},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (r[i].v < r[i].lo || r[i].v > r[i].hi)
            return cmanp_err_set(e, CMANP_EINVAL,
                                 "cmhp config: '%s' = %d out of range (expected %d..%d)", r[i].name,
                                 r[i].v, r[i].lo, r[i].hi);
    if (c->d_model % c->nhead != 0)
        return cmanp_err_set(e, CMANP_EINVAL,
                             "cmhp config: d_model = %d is not divisible by nhead = %d",
                             c->d_model, c->nhead);
    if (!(c->time_scale > 0) || !isfinite(c->time_scale))
        return cmanp_err_set(e, CMANP_EINVAL,
                             "cmhp config: 'time_scale' = %g (expected a finite number > 0)",
                             c->time_scale);
    if (!(c->temporal_base > 1) || !isfinite(c->temporal_base))
        return cmanp_err_set(e, CMANP_EINVAL,
                             "cmhp config: 'temporal_base' = %g (expected a finite number > 1)",
                             c->temporal_base);
    for (int i = 0; i < c->num_rates; i++)
        if (!(c->rates[i] > 0) || !isfinite(c->rates[i]))
            return cmanp_err_set(e, CMANP_EINVAL,
                                 "cmhp config: recency_rates[%d] = %g (expected a finite number > 0)",
                                 i, c->rates[i]);
    int64_t din = (int64_t)c->num_latents * c->d_model + c->d_model + 2 +
                  (int64_t)c->num_marks * c->num_rates;
    if ((int64_t)c->num_latents * c->d_model > (1 << 28) ||
        (int64_t)c->num_latents_per_layer * c->d_model > (1 << 28) ||
        (int64_t)2 * c->dim_feedforward * c->d_model > (1 << 28) ||
        din * c->dim_feedforward > (1 << 28) || (int64_t)c->num_marks * c->d_model > (1 << 28))
        return cmanp_err_set(e, CMANP_ERANGE, "cmhp config: a tensor would exceed 2^28 elements");
    return CMANP_OK;
}

int cmhp_config_is_cmhp(const char *json) {
    if (!json) return 0;
    struct json_object *o = json_tokener_parse(json), *v;
    int yes = o && json_object_is_type(o, json_type_object) &&
              json_object_object_get_ex(o, "model", &v) &&
              json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), "cmhp");
    if (o) json_object_put(o);
    return yes;
}

int cmhp_config_parse(cmhp_config *c, const char *json, cmanp_err *e) {
    memset(c, 0, sizeof *c);
    if (!json) return cmanp_err_set(e, CMANP_EFORMAT, "cmhp config: missing (expected a JSON object)");
    struct json_object *o;
    enum json_tokener_error jerr;
    if (cmanp_json_parse(json, 1 << 20, &o, &jerr)) return cmanp_err_nomem(e);
    int rc = CMANP_OK, seen = 0;
    enum { S_MODEL = 1 << 8, S_SCALE = 1 << 9, S_BASE = 1 << 10, S_RATES = 1 << 11 };
    if (!o || jerr != json_tokener_success || !json_object_is_type(o, json_type_object)) {
        rc = cmanp_err_set(e, CMANP_EFORMAT, "cmhp config: not a JSON object (%s)",
                           json_tokener_error_desc(jerr));
        goto done;
    }
    json_object_object_foreach(o, key, val) {
        int i;
        for (i = 0; i < N_INT_KEYS; i++)
            if (!strcmp(key, k_int_keys[i])) break;
        if (i < N_INT_KEYS) {
            if (!json_object_is_type(val, json_type_int)) {
                rc = cmanp_err_set(e, CMANP_EFORMAT, "cmhp config: '%s' must be an integer, found %s",
                                   key, json_type_to_name(json_object_get_type(val)));
                goto done;
            }
            int64_t v = json_object_get_int64(val);
            if (v < 0 || v > 1000000) {
                rc = cmanp_err_set(e, CMANP_EFORMAT, "cmhp config: '%s' = %lld out of range", key,
                                   (long long)v);
                goto done;
            }
            *int_field(c, i) = (int)v;
            seen |= 1 << i;
        } else if (!strcmp(key, "model")) {
            if (!json_object_is_type(val, json_type_string) ||
                strcmp(json_object_get_string(val), "cmhp") != 0) {
                rc = cmanp_err_set(e, CMANP_EFORMAT,
                                   "cmhp config: 'model' must be \"cmhp\", found %s",
                                   json_object_to_json_string(val));
                goto done;
            }
            seen |= S_MODEL;
        } else if (!strcmp(key, "time_scale") || !strcmp(key, "temporal_base")) {
            if (!json_object_is_type(val, json_type_double) && !json_object_is_type(val, json_type_int)) {
                rc = cmanp_err_set(e, CMANP_EFORMAT, "cmhp config: '%s' must be a number, found %s",
                                   key, json_type_to_name(json_object_get_type(val)));
                goto done;
            }
            if (key[1] == 'i') {
                c->time_scale = json_object_get_double(val);
                seen |= S_SCALE;
            } else {
                c->temporal_base = json_object_get_double(val);
                seen |= S_BASE;
            }
        } else if (!strcmp(key, "recency_rates")) {
            if (!json_object_is_type(val, json_type_array) ||
                json_object_array_length(val) > CMHP_MAX_RATES) {
                rc = cmanp_err_set(e, CMANP_EFORMAT,
                                   "cmhp config: 'recency_rates' must be an array of at most %d "
                                   "numbers",
                                   CMHP_MAX_RATES);
                goto done;
            }
            c->num_rates = (int)json_object_array_length(val);
            for (int r = 0; r < c->num_rates; r++) {
                struct json_object *x = json_object_array_get_idx(val, (size_t)r);
                if (!json_object_is_type(x, json_type_double) && !json_object_is_type(x, json_type_int)) {
                    rc = cmanp_err_set(e, CMANP_EFORMAT,
                                       "cmhp config: recency_rates[%d] must be a number", r);
                    goto done;
                }
                c->rates[r] = json_object_get_double(x);
            }
            seen |= S_RATES;
        } else {
            rc = cmanp_err_set(e, CMANP_EFORMAT, "cmhp config: unexpected key '%s'", key);
            goto done;
        }
    }
    for (int i = 0; i < N_INT_KEYS; i++)
        if (!(seen & (1 << i))) {
            rc = cmanp_err_set(e, CMANP_EFORMAT, "cmhp config: missing key '%s'", k_int_keys[i]);
            goto done;
        }
    {
        const struct { int bit; const char *name; } more[] = {
            {S_MODEL, "model"}, {S_SCALE, "time_scale"}, {S_BASE, "temporal_base"},
            {S_RATES, "recency_rates"}};
        for (int i = 0; i < 4; i++)
            if (!(seen & more[i].bit)) {
                rc = cmanp_err_set(e, CMANP_EFORMAT, "cmhp config: missing key '%s'", more[i].name);
                goto done;
            }
    }
    rc = cmhp_config_validate(c, e);
done:
    if (o) json_object_put(o);
    return rc;
}

int cmhp_config_to_json(const cmhp_config *c, char *buf, size_t cap) {
    char rates[CMHP_MAX_RATES * 26 + 4];
    size_t o = 0;
    rates[o++] = '[';
    for (int i = 0; i < c->num_rates; i++)
        o += (size_t)snprintf(rates + o, sizeof rates - o, i ? ", %.17g" : "%.17g", c->rates[i]);
    snprintf(rates + o, sizeof rates - o, "]");
    /* %.17g: a double printed this way parses back to the same bits, so the
     * fingerprint (which hashes this text) survives save / load. */
    int n = snprintf(buf, cap,
                     "{\"model\": \"cmhp\", \"num_marks\": %d, \"d_model\": %d, \"nhead\": %d, "
                     "\"num_layers\": %d, \"num_latents\": %d, \"num_latents_per_layer\": %d, "
                     "\"dim_feedforward\": %d, \"num_mix\": %d, \"time_scale\": %.17g, "
                     "\"temporal_base\": %.17g, \"recency_rates\": %s}",
                     c->num_marks, c->d_model, c->nhead, c->num_layers, c->num_latents,
                     c->num_latents_per_layer, c->dim_feedforward, c->num_mix, c->time_scale,
                     c->temporal_base, rates);
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

const char *cmhp_variant_name(const cmhp_config *c) { return c->num_rates ? "recency" : "paper"; }

int cmhp_decoder_in(const cmhp_config *c) {
    return c->num_latents * c->d_model + c->d_model + 2 + c->num_marks * c->num_rates;
}

int cmhp_decoder_out(const cmhp_config *c) { return 3 * c->num_mix + c->num_marks; }

/* ---------------------------------------------------------------- layout */

/* The one place that defines the CMHP parameter order (docs/cmhp.md). */
static void cmhp_walk(const cmhp_config *c, cmanp_param_cb add, void *ctx, cmhp_weights *w) {
    const int d = c->d_model, F = c->dim_feedforward;
    char p[80];
    w->mark_emb = add(ctx, "mark_embedding", c->num_marks, d);
    w->sink = add(ctx, "sink", d, 0);
    w->latents = add(ctx, "latents", c->num_latents, d);
    for (int l = 0; l < c->num_layers; l++) {
        snprintf(p, sizeof p, "encoder.layers.%d.", l);
        cmab_walk(p, d, F, c->num_latents_per_layer, add, ctx, &w->enc[l]);
    }
    const int in[3] = {cmhp_decoder_in(c), F, F}, out[3] = {F, F, cmhp_decoder_out(c)};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "decoder.%d.weight", 2 * i);
        w->dec[i].w = add(ctx, p, out[i], in[i]);
        snprintf(p, sizeof p, "decoder.%d.bias", 2 * i);
        w->dec[i].b = add(ctx, p, out[i], 0);
    }
}

static int layout_build(const cmhp_config *c, cmanp_layout *lay, cmanp_err *e) {
    memset(lay, 0, sizeof *lay);
    cmhp_weights w;
    cmanp_walk_ctx ctx = {0};
    cmhp_walk(c, cmanp_walk_add, &ctx, &w);
    if (ctx.off > (size_t)1 << 31)
        return cmanp_err_set(e, CMANP_ERANGE, "cmhp config: %zu parameters exceed 2^31", ctx.off);
    lay->table = cmanp_calloc((size_t)ctx.n, sizeof *lay->table);
    if (!lay->table) return cmanp_err_nomem(e);
    cmanp_walk_ctx ctx2 = {lay->table, 0, 0, NULL};
    cmhp_walk(c, cmanp_walk_add, &ctx2, &w);
    lay->n = ctx2.n;
    lay->n_params = ctx2.off;
    return CMANP_OK;
}

int cmhp_layout_build(const cmhp_config *c, cmanp_layout *lay, cmanp_err *e) {
    int rc = cmhp_config_validate(c, e);
    return rc ? rc : layout_build(c, lay, e);
}

void cmhp_weights_bind(const cmhp_config *c, cmanp_real *buf, cmhp_weights *w) {
    cmanp_walk_ctx ctx = {NULL, 0, 0, buf};
    memset(w, 0, sizeof *w);
    cmhp_walk(c, cmanp_walk_add, &ctx, w);
}

/* ----------------------------------------------------------------- model */

int cmhp_model_new(cmhp_model **out, const cmhp_config *cfg, cmanp_err *e) {
    *out = NULL;
    int rc = cmhp_config_validate(cfg, e);
    if (rc) return rc;
    cmhp_model *m = cmanp_calloc(1, sizeof *m);
    if (!m) return cmanp_err_nomem(e);
    m->cfg = *cfg;
    if ((rc = layout_build(cfg, &m->layout, e))) {
        cmanp_free(m);
        return rc;
    }
    const int d = cfg->d_model, Lp = cfg->num_latents_per_layer;
    m->dims = (cmab_dims){d, cfg->nhead, d / cfg->nhead, cfg->dim_feedforward, Lp,
                          cfg->num_latents};
    m->din = cmhp_decoder_in(cfg);
    m->dout = cmhp_decoder_out(cfg);
    size_t per_layer = 2 * (size_t)Lp * d;
    m->params = cmanp_calloc(m->layout.n_params, sizeof(cmanp_real));
    m->consts = cmanp_calloc(per_layer * cfg->num_layers, sizeof(cmanp_real));
    m->te_freq = cmanp_malloc((size_t)d * sizeof(double));
    if (!m->params || !m->consts || !m->te_freq) {
        cmhp_model_free(m);
        return cmanp_err_nomem(e);
    }
    cmhp_weights_bind(cfg, m->params, &m->w);
    for (int l = 0; l < cfg->num_layers; l++) {
        m->lc[l].latn = m->consts + per_layer * l;
        m->lc[l].qs = m->lc[l].latn + per_layer / 2;
    }
    /* THP: column i has angular frequency base^(-2 floor(i/2) / d); even
     * columns are sines, odd ones cosines. */
    for (int i = 0; i < d; i++)
        m->te_freq[i] = pow(cfg->temporal_base, -2.0 * (double)(i / 2) / (double)d);
    cmhp_model_refresh(m);
    *out = m;
    return CMANP_OK;
}

void cmhp_model_refresh(cmhp_model *m) {
    for (int l = 0; l < m->cfg.num_layers; l++)
        cmab_consts_compute(&m->dims, &m->w.enc[l], m->lc[l].latn, m->lc[l].qs);
    char json[1024];
    int n = cmhp_config_to_json(&m->cfg, json, sizeof json);
    uint64_t h = cmanp_hash64(json, n > 0 ? (size_t)n : 0, 0x636d6870ULL /* "cmhp" */);
    m->fingerprint = cmanp_hash64(m->params, m->layout.n_params * sizeof(cmanp_real), h);
}

void cmhp_model_free(cmhp_model *m) {
    if (!m) return;
    cmanp_layout_free(&m->layout);
    cmanp_free(m->params);
    cmanp_free(m->consts);
    cmanp_free(m->te_freq);
    cmanp_free(m);
}

void cmhp_model_init(cmhp_model *m, uint64_t seed) {
    /* CMANP's initialisation; the sink and the mark embedding are drawn
     * N(0, 1) like latents (embedding tables). */
    static const char *const normal[] = {"sink", "mark_embedding", NULL};
    cmanp_params_init(&m->layout, m->params, seed, normal);
    cmhp_model_refresh(m);
}

void cmhp_temporal_encoding(const cmhp_model *m, double ts, cmanp_real *out) {
    const int d = m->cfg.d_model;
    for (int i = 0; i < d; i++) {
        double a = ts * m->te_freq[i];
        out[i] = (cmanp_real)((i & 1) ? cos(a) : sin(a));
    }
}

void cmhp_embed(const cmhp_model *m, const double *t, const int *k, int n, cmanp_real *E) {
    const int d = m->cfg.d_model;
    const double inv = 1.0 / m->cfg.time_scale;
    for (int j = 0; j < n; j++) {
        cmanp_real *row = E + (size_t)j * d;
        const cmanp_real *me = m->w.mark_emb + (size_t)k[j] * d;
        cmhp_temporal_encoding(m, t[j] * inv, row);
        for (int i = 0; i < d; i++) row[i] += me[i];
    }
}

/* ----------------------------------------------------------------- state */

static size_t state_doubles(const cmhp_state *s) {
    size_t nlog = (size_t)s->L * s->H * s->Lp;
    return nlog + nlog * (size_t)s->dh + (size_t)s->K * s->R;
}

static int state_alloc(int L, int H, int Lp, int dh, int K, int R, cmhp_state **out, cmanp_err *e) {
    cmhp_state shape = {0};
    shape.L = L;
    shape.H = H;
    shape.Lp = Lp;
    shape.dh = dh;
    shape.K = K;
    shape.R = R;
    size_t nd = state_doubles(&shape);
    cmhp_state *s = cmanp_malloc(sizeof *s + (nd ? nd : 1) * sizeof(double));
    if (!s) return cmanp_err_nomem(e);
    *s = shape;
    size_t nlog = (size_t)L * H * Lp;
    s->logc = (double *)(void *)(s + 1);
    s->acc = s->logc + nlog;
    s->rec = s->acc + nlog * (size_t)dh;
    *out = s;
    return CMANP_OK;
}

int cmhp_state_new(const cmhp_model *m, cmhp_state **out, cmanp_err *e) {
    *out = NULL;
    const cmhp_config *c = &m->cfg;
    int rc = state_alloc(c->num_layers, c->nhead, c->num_latents_per_layer, m->dims.dh,
                         c->num_marks, c->num_rates, out, e);
    if (rc) return rc;
    (*out)->fingerprint = m->fingerprint;
    cmhp_state_clear(*out);
    return CMANP_OK;
}

void cmhp_state_free(cmhp_state *s) { cmanp_free(s); }

void cmhp_state_clear(cmhp_state *s) {
    size_t nlog = (size_t)s->L * s->H * s->Lp;
    for (size_t i = 0; i < nlog; i++) s->logc[i] = -INFINITY;
    memset(s->acc, 0, nlog * (size_t)s->dh * sizeof(double));
    memset(s->rec, 0, (size_t)s->K * s->R * sizeof(double));
    s->n_events = 0;
    /* -inf marks "no reference time yet": the first event sets it, predictions
     * use the origin 0 meanwhile. */
    s->t_last = -INFINITY;
}

static int same_shape(const cmhp_state *a, const cmhp_state *b) {
    return a->L == b->L && a->H == b->H && a->Lp == b->Lp && a->dh == b->dh && a->K == b->K &&
           a->R == b->R;
}

int cmhp_state_copy(cmhp_state *dst, const cmhp_state *src, cmanp_err *e) {
    if (!same_shape(dst, src))
        return cmanp_err_set(e, CMANP_EMISMATCH, "cmhp state copy: shapes differ");
    dst->fingerprint = src->fingerprint;
    dst->n_events = src->n_events;
    dst->t_last = src->t_last;
    memcpy(dst->logc, src->logc, state_doubles(src) * sizeof(double));
    return CMANP_OK;
}

int cmhp_state_clone(const cmhp_state *src, cmhp_state **out, cmanp_err *e) {
    int rc = state_alloc(src->L, src->H, src->Lp, src->dh, src->K, src->R, out, e);
    if (rc) return rc;
    return cmhp_state_copy(*out, src, e);
}

cmab_state cmhp_state_layer(const cmhp_state *s, int l) {
    size_t nlog = (size_t)s->H * s->Lp;
    cmab_state v = {s->logc + nlog * l, s->acc + nlog * (size_t)s->dh * l};
    return v;
}

int cmhp_state_check(const cmhp_model *m, const cmhp_state *s, cmanp_err *e) {
    if (s->fingerprint != m->fingerprint)
        return cmanp_err_set(e, CMANP_EMISMATCH,
                             "cmhp state was made by another model (fingerprint %016llx, expected "
                             "%016llx)",
                             (unsigned long long)s->fingerprint,
                             (unsigned long long)m->fingerprint);
    if (s->L != m->cfg.num_layers || s->H != m->cfg.nhead || s->Lp != m->cfg.num_latents_per_layer ||
        s->dh != m->dims.dh || s->K != m->cfg.num_marks || s->R != m->cfg.num_rates)
        return cmanp_err_set(e, CMANP_EMISMATCH, "cmhp state dimensions do not match the model");
    return CMANP_OK;
}

/* exp(-rate (later - earlier) / s) with "no time yet" (-inf) giving 0: an
 * empty summary contributes nothing wherever it is aligned to. */
static double decay(double rate_over_s, double later, double earlier) {
    if (earlier == -INFINITY) return 0.0;
    return exp(-rate_over_s * (later - earlier));
}

int cmhp_state_merge(const cmhp_model *m, cmhp_state *s, const cmhp_state *t, cmanp_err *e) {
    if (s->fingerprint != t->fingerprint || !same_shape(s, t))
        return cmanp_err_set(e, CMANP_EMISMATCH,
                             "cannot merge cmhp states of different models (fingerprints %016llx "
                             "and %016llx)",
                             (unsigned long long)s->fingerprint, (unsigned long long)t->fingerprint);
    int rc = cmhp_state_check(m, s, e);
    if (rc) return rc;
    if (t->n_events > CMHP_MAX_EVENTS - s->n_events)
        return cmanp_err_set(e, CMANP_ERANGE,
                             "merging cmhp states of %lld and %lld events would exceed the limit of "
                             "2^53 events",
                             (long long)s->n_events, (long long)t->n_events);
    cmab_dims k = {0, s->H, s->dh, 0, s->Lp, 0};
    for (int l = 0; l < s->L; l++) {
        cmab_state a = cmhp_state_layer(s, l), b = cmhp_state_layer(t, l);
        cmab_state_merge(&k, &a, &b);
    }
    /* Recency counts: both sums are aligned to the later reference time, where
     * each is an exact sum over its own events, so the result is the sum over
     * the union. */
    const double tl = s->t_last > t->t_last ? s->t_last : t->t_last;
    for (int r = 0; r < s->R; r++) {
        const double ros = m->cfg.rates[r] / m->cfg.time_scale;
        const double fs = decay(ros, tl, s->t_last), ft = decay(ros, tl, t->t_last);
        for (int q = 0; q < s->K; q++)
            s->rec[(size_t)q * s->R + r] = fs * s->rec[(size_t)q * s->R + r] +
                                           ft * t->rec[(size_t)q * s->R + r];
    }
    s->t_last = tl;
    s->n_events += t->n_events;
    return CMANP_OK;
}

double cmhp_state_time(const cmhp_state *s) { return s->t_last == -INFINITY ? 0.0 : s->t_last; }

/* ------------------------------------------------------------ conditioner */

struct cmhp_cond {
    const cmhp_model *m;
    int B;
    cmanp_real *E;        /* (B, d) event embeddings of one block */
    cmanp_real *scratch;  /* cmab_fold_scratch_floats(B) */
    int64_t cancellations;
};

int cmhp_cond_new(const cmhp_model *m, int block, cmhp_cond **out, cmanp_err *e) {
    *out = NULL;
    if (block <= 0) block = CMHP_DEFAULT_BLOCK;
    if (block > 1 << 16) return cmanp_err_set(e, CMANP_EINVAL, "cmhp block = %d exceeds 65536", block);
    cmhp_cond *c = cmanp_calloc(1, sizeof *c);
    if (!c) return cmanp_err_nomem(e);
    c->m = m;
    c->B = block;
    c->E = cmanp_malloc((size_t)block * m->cfg.d_model * sizeof(cmanp_real));
    c->scratch = cmanp_malloc(cmab_fold_scratch_floats(&m->dims, block) * sizeof(cmanp_real));
    if (!c->E || !c->scratch) {
        cmhp_cond_free(c);
        return cmanp_err_nomem(e);
    }
    *out = c;
    return CMANP_OK;
}

void cmhp_cond_free(cmhp_cond *c) {
    if (!c) return;
    cmanp_free(c->E);
    cmanp_free(c->scratch);
    cmanp_free(c);
}

int64_t cmhp_cond_cancellations(const cmhp_cond *c) { return c->cancellations; }

static int check_events(const cmhp_model *m, const double *t, const int *k, int n, cmanp_err *e) {
    if (n < 0) return cmanp_err_set(e, CMANP_EINVAL, "cmhp: negative event count %d", n);
    for (int i = 0; i < n; i++) {
        if (!isfinite(t[i]))
            return cmanp_err_set(e, CMANP_ENUMERIC, "cmhp: event %d has time %s (expected a finite "
                                 "number)", i, isnan(t[i]) ? "NaN" : "infinite");
        if (k[i] < 0 || k[i] >= m->cfg.num_marks)
            return cmanp_err_set(e, CMANP_EINVAL, "cmhp: event %d has mark %d (expected 0..%d)", i,
                                 k[i], m->cfg.num_marks - 1);
    }
    return CMANP_OK;
}

static void fold_blocks(cmhp_cond *c, cmhp_state *s, const double *t, const int *k, int n, int sign) {
    const cmhp_model *m = c->m;
    for (int off = 0; off < n; off += c->B) {
        int nb = n - off < c->B ? n - off : c->B;
        cmhp_embed(m, t + off, k + off, nb, c->E);
        for (int l = 0; l < m->cfg.num_layers; l++) {
            cmab_state v = cmhp_state_layer(s, l);
            c->cancellations += cmab_state_fold(&m->dims, &m->w.enc[l], &m->lc[l], &v, c->E, nb,
                                                sign, c->scratch);
        }
    }
}

/* One event into the recency counts (and the reference time). */
static void rec_add(const cmhp_model *m, cmhp_state *s, double t, int k) {
    const int R = s->R;
    double *row = s->rec + (size_t)k * R;
    if (s->t_last == -INFINITY || t >= s->t_last) {
        for (int r = 0; r < R; r++) {
            const double f = decay(m->cfg.rates[r] / m->cfg.time_scale, t, s->t_last);
            for (int q = 0; q < s->K; q++) s->rec[(size_t)q * R + r] *= f;
            row[r] += 1.0;
        }
        s->t_last = t;
    } else {
        /* An event older than the reference time: its decayed weight. */
        for (int r = 0; r < R; r++) row[r] += decay(m->cfg.rates[r] / m->cfg.time_scale, s->t_last, t);
    }
}

int cmhp_add(cmhp_cond *c, cmhp_state *s, const double *t, const int *k, int n, cmanp_err *e) {
    const cmhp_model *m = c->m;
    int rc = cmhp_state_check(m, s, e);
    if (rc || (rc = check_events(m, t, k, n, e))) return rc;
    if (n == 0) return CMANP_OK;
    if (n > CMHP_MAX_EVENTS - s->n_events)
        return cmanp_err_set(e, CMANP_ERANGE,
                             "adding %d events to a cmhp state of %lld events would exceed the "
                             "limit of 2^53 events",
                             n, (long long)s->n_events);
    fold_blocks(c, s, t, k, n, +1);
    for (int i = 0; i < n; i++) rec_add(m, s, t[i], k[i]);
    s->n_events += n;
    return CMANP_OK;
}

int cmhp_remove(cmhp_cond *c, cmhp_state *s, const double *t, const int *k, int n, cmanp_err *e) {
    const cmhp_model *m = c->m;
    int rc = cmhp_state_check(m, s, e);
    if (rc || (rc = check_events(m, t, k, n, e))) return rc;
    if (n == 0) return CMANP_OK;
    if (n > s->n_events)
        return cmanp_err_set(e, CMANP_EINVAL, "cmhp: cannot remove %d events from a state that "
                             "holds %lld", n, (long long)s->n_events);
    for (int i = 0; i < n; i++)
        if (t[i] > s->t_last)
            return cmanp_err_set(e, CMANP_EINVAL,
                                 "cmhp: cannot remove an event at t = %.17g, after the state's "
                                 "last event (%.17g): it was never added",
                                 t[i], s->t_last);
    if (n == s->n_events) {
        /* Everything leaves: the exact empty summary, which the inverse update
         * could only approach.  The reference time stays. */
        double tl = s->t_last;
        cmhp_state_clear(s);
        s->t_last = tl;
        return CMANP_OK;
    }
    fold_blocks(c, s, t, k, n, -1);
    for (int i = 0; i < n; i++) {
        double *row = s->rec + (size_t)k[i] * s->R;
        for (int r = 0; r < s->R; r++) {
            /* Each count is a sum of positive terms, so it cannot be negative;
             * rounding of the subtraction is bounded by a few ulp of the
             * largest value the count held since, decayed (docs/cmhp.md). */
            double v = row[r] - decay(m->cfg.rates[r] / m->cfg.time_scale, s->t_last, t[i]);
            row[r] = v > 0 ? v : 0.0;
        }
    }
    s->n_events -= n;
    return CMANP_OK;
}

/* ---------------------------------------------------------------- features */

void cmhp_features(const cmhp_model *m, double t_ref, int64_t n, const double *rec,
                   cmanp_real *out) {
    const cmhp_config *c = &m->cfg;
    const double ts = t_ref / c->time_scale;
    cmhp_temporal_encoding(m, ts, out);
    out += c->d_model;
    out[0] = (cmanp_real)log1p((double)n);
    out[1] = (cmanp_real)asinh(ts);
    out += 2;
    for (int i = 0; i < c->num_marks * c->num_rates; i++)
        out[i] = (cmanp_real)log(CMHP_REC_EPS + rec[i]);
}

/* ------------------------------------------------------------------ head */

static const double k_half_log_2pi = 0.91893853320467274178;

static double logsumexp(const double *x, int n) {
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    if (mx == -INFINITY) return -INFINITY;
    for (int i = 0; i < n; i++) s += exp(x[i] - mx);
    return mx + log(s);
}

double cmhp_head(const cmanp_real *raw, int C, int K, double tau_s, int k, cmanp_real *draw,
                 double gscale) {
    double lw[CMHP_MAX_MIX] = {0}, lp[CMHP_MAX_MIX] = {0}, z[CMHP_MAX_MIX], sg[CMHP_MAX_MIX],
        th[CMHP_MAX_MIX];
    const double y = log(tau_s);
    for (int c = 0; c < C; c++) lw[c] = raw[c];
    const double lse_w = logsumexp(lw, C);
    for (int c = 0; c < C; c++) {
        th[c] = tanh((double)raw[2 * C + c] / CMHP_LOGSIG_BOUND);
        const double ls = CMHP_LOGSIG_BOUND * th[c];
        sg[c] = exp(ls);
        z[c] = (y - (double)raw[C + c]) / sg[c];
        lp[c] = lw[c] - lse_w - 0.5 * z[c] * z[c] - ls - k_half_log_2pi;
    }
    const double ltime = logsumexp(lp, C);
    /* Mark log-softmax without a K-sized buffer: two passes over the logits. */
    double mmax = -INFINITY, msum = 0;
    for (int q = 0; q < K; q++) mmax = raw[3 * C + q] > mmax ? raw[3 * C + q] : mmax;
    for (int q = 0; q < K; q++) msum += exp((double)raw[3 * C + q] - mmax);
    const double lse_m = mmax + log(msum);
    const double lmark = (double)raw[3 * C + k] - lse_m;
    if (draw) {
        /* Gradients of -gscale * logp: responsibilities r_c = exp(lp_c - ltime). */
        for (int c = 0; c < C; c++) {
            const double r = exp(lp[c] - ltime), pi = exp(lw[c] - lse_w);
            draw[c] = (cmanp_real)(-gscale * (r - pi));
            draw[C + c] = (cmanp_real)(-gscale * r * z[c] / sg[c]);
            draw[2 * C + c] = (cmanp_real)(-gscale * r * (z[c] * z[c] - 1.0) * (1.0 - th[c] * th[c]));
        }
        for (int q = 0; q < K; q++) {
            const double p = exp((double)raw[3 * C + q] - lse_m);
            draw[3 * C + q] = (cmanp_real)(-gscale * ((q == k) - p));
        }
    }
    return ltime - y + lmark;
}

/* ------------------------------------------------------------ distribution */

void cmhp_dist_from_raw(cmhp_dist *d, const cmanp_real *raw, double t_ref, double scale) {
    const int C = d->C, K = d->K;
    for (int c = 0; c < C; c++) d->logw[c] = raw[c];
    const double lse = logsumexp(d->logw, C);
    for (int c = 0; c < C; c++) {
        d->logw[c] -= lse;
        d->mu[c] = raw[C + c];
        d->sigma[c] = exp(CMHP_LOGSIG_BOUND * tanh((double)raw[2 * C + c] / CMHP_LOGSIG_BOUND));
    }
    double mmax = -INFINITY, msum = 0;
    for (int q = 0; q < K; q++) mmax = raw[3 * C + q] > mmax ? raw[3 * C + q] : mmax;
    for (int q = 0; q < K; q++) msum += exp((double)raw[3 * C + q] - mmax);
    for (int q = 0; q < K; q++) d->mark_logp[q] = (double)raw[3 * C + q] - mmax - log(msum);
    d->t_last = t_ref;
    d->scale = scale;
}

double cmhp_dist_logpdf(const cmhp_dist *d, double t) {
    const double tau = t - d->t_last;
    if (!(tau >= 0)) return NAN;
    if (tau == 0) return -INFINITY;
    const double y = log(tau / d->scale);
    double lp[CMHP_MAX_MIX];
    for (int c = 0; c < d->C; c++) {
        const double z = (y - d->mu[c]) / d->sigma[c];
        lp[c] = d->logw[c] - 0.5 * z * z - log(d->sigma[c]) - k_half_log_2pi;
    }
    return logsumexp(lp, d->C) - y - log(d->scale);
}

/* P(log(tau/s) > y) and P(<= y), each summed from its own tail so that both
 * stay accurate where they are small. */
static double surv_y(const cmhp_dist *d, double y) {
    double s = 0;
    for (int c = 0; c < d->C; c++)
        s += exp(d->logw[c]) * 0.5 * erfc((y - d->mu[c]) / (d->sigma[c] * 1.4142135623730951));
    return s;
}

static double cdf_y(const cmhp_dist *d, double y) {
    double s = 0;
    for (int c = 0; c < d->C; c++)
        s += exp(d->logw[c]) * 0.5 * erfc(-(y - d->mu[c]) / (d->sigma[c] * 1.4142135623730951));
    return s;
}

double cmhp_dist_survival(const cmhp_dist *d, double t) {
    const double tau = t - d->t_last;
    if (isnan(tau)) return NAN;
    if (tau <= 0) return 1.0;
    if (tau == INFINITY) return 0.0;
    return surv_y(d, log(tau / d->scale));
}

double cmhp_dist_cdf(const cmhp_dist *d, double t) {
    const double tau = t - d->t_last;
    if (isnan(tau)) return NAN;
    if (tau <= 0) return 0.0;
    if (tau == INFINITY) return 1.0;
    return cdf_y(d, log(tau / d->scale));
}

double cmhp_dist_quantile(const cmhp_dist *d, double q) {
    if (isnan(q)) return NAN;
    if (q <= 0) return d->t_last;
    if (q >= 1) return INFINITY;
    /* Bracket in y = log(tau / s): beyond 40 standard deviations of every
     * component the mixture CDF is 0 or 1 to double precision. */
    double lo = INFINITY, hi = -INFINITY;
    for (int c = 0; c < d->C; c++) {
        lo = fmin(lo, d->mu[c] - 40 * d->sigma[c]);
        hi = fmax(hi, d->mu[c] + 40 * d->sigma[c]);
    }
    /* Monotone in y; for q > 1/2 compare survival with 1 - q, which keeps the
     * upper tail's digits. */
    const int upper = q > 0.5;
    for (int it = 0; it < 300 && hi - lo > 1e-15 * (1.0 + fabs(lo) + fabs(hi)); it++) {
        const double mid = 0.5 * (lo + hi);
        const int below = upper ? surv_y(d, mid) > 1.0 - q : cdf_y(d, mid) < q;
        if (below)
            lo = mid;
        else
            hi = mid;
    }
    return d->t_last + d->scale * exp(0.5 * (lo + hi));
}

double cmhp_dist_mean(const cmhp_dist *d) {
    double s = 0;
    for (int c = 0; c < d->C; c++)
        s += exp(d->logw[c] + d->mu[c] + 0.5 * d->sigma[c] * d->sigma[c]);
    return d->t_last + d->scale * s;
}

double cmhp_dist_mark_logp(const cmhp_dist *d, int k) {
    if (k < 0 || k >= d->K) return NAN;
    return d->mark_logp[k];
}

double cmhp_dist_loglik(const cmhp_dist *d, double t, int k) {
    return cmhp_dist_logpdf(d, t) + cmhp_dist_mark_logp(d, k);
}

void cmhp_dist_sample(const cmhp_dist *d, cmanp_rng *rng, double *t, int *k) {
    double u = cmanp_rng_uniform(rng), acc = 0;
    int comp = d->C - 1; /* rounding can leave u above the last cumulative weight */
    for (int c = 0; c < d->C; c++) {
        acc += exp(d->logw[c]);
        if (u < acc) {
            comp = c;
            break;
        }
    }
    const double y = d->mu[comp] + d->sigma[comp] * cmanp_rng_normal(rng);
    *t = d->t_last + d->scale * exp(y);
    u = cmanp_rng_uniform(rng);
    acc = 0;
    *k = d->K - 1;
    for (int q = 0; q < d->K; q++) {
        acc += exp(d->mark_logp[q]);
        if (u < acc) {
            *k = q;
            break;
        }
    }
}

/* ---------------------------------------------------------------- readout */

struct cmhp_readout {
    const cmhp_model *m;
    double *tmp;            /* (H Lp (1 + dh)) one layer's state with the sink folded in */
    cmanp_real *fold_scr;   /* cmab_fold_scratch_floats(1) */
    cmanp_real *Z;          /* (2, Lq, d) ping-pong */
    cmanp_real *scr;        /* cmab_readout_scratch_floats */
    cmanp_real *u;          /* (Din) */
    cmanp_real *h1, *h2;    /* (F) */
    cmanp_real *raw;        /* (Dout) */
    cmhp_dist dist;
};

int cmhp_readout_new(const cmhp_model *m, cmhp_readout **out, cmanp_err *e) {
    *out = NULL;
    cmhp_readout *r = cmanp_calloc(1, sizeof *r);
    if (!r) return cmanp_err_nomem(e);
    r->m = m;
    const cmhp_config *c = &m->cfg;
    const size_t nlog = (size_t)c->nhead * c->num_latents_per_layer;
    const size_t LqD = (size_t)c->num_latents * c->d_model, F = (size_t)c->dim_feedforward;
    r->tmp = cmanp_malloc(nlog * (1 + (size_t)m->dims.dh) * sizeof(double));
    r->fold_scr = cmanp_malloc(cmab_fold_scratch_floats(&m->dims, 1) * sizeof(cmanp_real));
    r->Z = cmanp_malloc(2 * LqD * sizeof(cmanp_real));
    r->scr = cmanp_malloc(cmab_readout_scratch_floats(&m->dims) * sizeof(cmanp_real));
    r->u = cmanp_malloc((size_t)m->din * sizeof(cmanp_real));
    r->h1 = cmanp_malloc(2 * F * sizeof(cmanp_real));
    r->raw = cmanp_malloc((size_t)m->dout * sizeof(cmanp_real));
    r->dist.mark_logp = cmanp_malloc((size_t)c->num_marks * sizeof(double));
    if (!r->tmp || !r->fold_scr || !r->Z || !r->scr || !r->u || !r->h1 || !r->raw ||
        !r->dist.mark_logp) {
        cmhp_readout_free(r);
        return cmanp_err_nomem(e);
    }
    r->h2 = r->h1 + F;
    r->dist.C = c->num_mix;
    r->dist.K = c->num_marks;
    *out = r;
    return CMANP_OK;
}

void cmhp_readout_free(cmhp_readout *r) {
    if (!r) return;
    cmanp_free(r->tmp);
    cmanp_free(r->fold_scr);
    cmanp_free(r->Z);
    cmanp_free(r->scr);
    cmanp_free(r->u);
    cmanp_free(r->h1);
    cmanp_free(r->raw);
    cmanp_free(r->dist.mark_logp);
    cmanp_free(r);
}

void cmhp_decoder_fwd(const cmhp_model *m, const cmanp_real *u, int n, cmanp_real *h1,
                      cmanp_real *h2, cmanp_real *raw) {
    const int F = m->cfg.dim_feedforward;
    cmanp_linear_fwd(h1, u, m->w.dec[0].w, m->w.dec[0].b, n, m->din, F);
    cmanp_relu_fwd(h1, (size_t)n * F);
    cmanp_linear_fwd(h2, h1, m->w.dec[1].w, m->w.dec[1].b, n, F, F);
    cmanp_relu_fwd(h2, (size_t)n * F);
    cmanp_linear_fwd(raw, h2, m->w.dec[2].w, m->w.dec[2].b, n, F, m->dout);
}

int cmhp_readout_compute(cmhp_readout *r, const cmhp_state *s, cmanp_err *e) {
    const cmhp_model *m = r->m;
    const cmhp_config *c = &m->cfg;
    int rc = cmhp_state_check(m, s, e);
    if (rc) return rc;
    const size_t nlog = (size_t)c->nhead * c->num_latents_per_layer;
    const size_t LqD = (size_t)c->num_latents * c->d_model;
    cmab_state v = {r->tmp, r->tmp + nlog};
    const cmanp_real *Zin = m->w.latents;
    for (int l = 0; l < c->num_layers; l++) {
        /* The sink joins a private copy: the state stays a pure sum over
         * events (merge exact) and the empty history is well defined. */
        cmab_state src = cmhp_state_layer(s, l);
        memcpy(v.logc, src.logc, nlog * sizeof(double));
        memcpy(v.acc, src.acc, nlog * (size_t)m->dims.dh * sizeof(double));
        cmab_state_fold(&m->dims, &m->w.enc[l], &m->lc[l], &v, m->w.sink, 1, +1, r->fold_scr);
        cmanp_real *Zout = r->Z + (size_t)(l & 1) * LqD;
        cmab_readout(&m->dims, &m->w.enc[l], &m->lc[l], &v, Zin, Zout, r->scr);
        Zin = Zout;
    }
    memcpy(r->u, Zin, LqD * sizeof(cmanp_real));
    const double t_ref = cmhp_state_time(s);
    cmhp_features(m, t_ref, s->n_events, s->rec, r->u + LqD);
    cmhp_decoder_fwd(m, r->u, 1, r->h1, r->h2, r->raw);
    for (int i = 0; i < m->dout; i++)
        if (!isfinite(r->raw[i]))
            return cmanp_err_set(e, CMANP_ENUMERIC, "cmhp readout: decoder output %d is not finite",
                                 i);
    cmhp_dist_from_raw(&r->dist, r->raw, t_ref, c->time_scale);
    return CMANP_OK;
}

const cmhp_dist *cmhp_readout_dist(const cmhp_readout *r) { return &r->dist; }
const cmanp_real *cmhp_readout_raw(const cmhp_readout *r) { return r->raw; }

/* ------------------------------------------------------------ conveniences */

int cmhp_sequence_loglik(const cmhp_model *m, const double *t, const int *k, int n, double *ll,
                         cmanp_err *e) {
    cmhp_state *s = NULL;
    cmhp_cond *c = NULL;
    cmhp_readout *r = NULL;
    int rc = check_events(m, t, k, n, e);
    if (!rc) rc = cmhp_state_new(m, &s, e);
    if (!rc) rc = cmhp_cond_new(m, 1, &c, e);
    if (!rc) rc = cmhp_readout_new(m, &r, e);
    for (int i = 0; !rc && i < n; i++) {
        if (i > 0 && t[i] < t[i - 1]) {
            rc = cmanp_err_set(e, CMANP_EINVAL, "cmhp: event %d at t = %.17g precedes event %d "
                               "(expected non-decreasing times)", i, t[i], i - 1);
            break;
        }
        rc = cmhp_readout_compute(r, s, e);
        if (!rc) {
            ll[i] = cmhp_dist_loglik(&r->dist, t[i], k[i]);
            rc = cmhp_add(c, s, t + i, k + i, 1, e);
        }
    }
    cmhp_readout_free(r);
    cmhp_cond_free(c);
    cmhp_state_free(s);
    return rc;
}
