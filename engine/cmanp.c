/* cmanp.c - the CMANP model: states, streaming conditioning, readout and
 * decoding (see cmanp.h and ../shared/golden/README.md section 3). */
#include "cmanp.h"

#include "team.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ model */

/* Floats of the transposed decoder weights (cmanp_model.dec_t). */
static size_t dec_t_floats(const cmanp_config *c) {
    size_t d = (size_t)c->d_model, F = (size_t)c->dim_feedforward;
    size_t n = (size_t)c->dim_x * d + (size_t)(cmanp_config_emb_layers(c) - 1) * d * d;
    n += (size_t)c->num_layers * (2 * d * d + 3 * d * F);
    return n + d * F + F * 2 * (size_t)c->dim_y;
}

/* dst (i, o) = src^T for src (o, i) */
static void transpose(cmanp_real *dst, const cmanp_real *src, int o, int i) {
    for (int r = 0; r < o; r++)
        for (int k = 0; k < i; k++) dst[(size_t)k * o + r] = src[(size_t)r * i + k];
}

int cmanp_model_new(cmanp_model **out, const cmanp_config *cfg, cmanp_err *e) {
    *out = NULL;
    cmanp_model *m = cmanp_calloc(1, sizeof *m);
    if (!m) return cmanp_err_nomem(e);
    m->cfg = *cfg;
    int rc = cmanp_layout_build(cfg, &m->layout, e);
    if (rc) {
        cmanp_free(m);
        return rc;
    }
    const cmanp_config *c = cfg;
    m->dims.d = c->d_model;
    m->dims.H = c->nhead;
    m->dims.dh = c->d_model / c->nhead;
    m->dims.F = c->dim_feedforward;
    m->dims.Lp = c->num_latents_per_layer;
    m->dims.Lq = c->num_latents;
    /* per layer: latn, qs and qs^T, (Lp, d) each */
    size_t per_layer = 3 * (size_t)c->num_latents_per_layer * c->d_model;
    m->params = cmanp_calloc(m->layout.n_params, sizeof(cmanp_real));
    m->consts = cmanp_calloc(per_layer * c->num_layers, sizeof(cmanp_real));
    m->dec_t = cmanp_malloc(dec_t_floats(c) * sizeof(cmanp_real));
    if (!m->params || !m->consts || !m->dec_t) {
        cmanp_model_free(m);
        return cmanp_err_nomem(e);
    }
    cmanp_weights_bind(c, m->params, &m->w);
    for (int l = 0; l < c->num_layers; l++) {
        m->lc[l].latn = m->consts + per_layer * l;
        m->lc[l].qs = m->lc[l].latn + per_layer / 3;
        m->lc[l].qst = m->lc[l].qs + per_layer / 3;
    }
    cmanp_model_refresh(m);
    *out = m;
    return CMANP_OK;
}

void cmanp_model_refresh(cmanp_model *m) {
    for (int l = 0; l < m->cfg.num_layers; l++) {
        cmab_consts_compute(&m->dims, &m->w.enc[l], m->lc[l].latn, m->lc[l].qs);
        cmab_consts_transpose(&m->dims, m->lc[l].qs, m->lc[l].qst);
    }
    /* the decoder's weights transposed, in dec_t_floats' order */
    const cmanp_config *c = &m->cfg;
    const int d = c->d_model, F = c->dim_feedforward;
    cmanp_real *t = m->dec_t;
    for (int k = 0; k < cmanp_config_emb_layers(c); k++) {
        int in = k == 0 ? c->dim_x : d;
        transpose(t, m->w.query_embedder[k].w, d, in);
        m->qemb_t[k] = t;
        t += (size_t)in * d;
    }
    for (int l = 0; l < c->num_layers; l++) {
        transpose(t, m->w.dec[l].cross_attn.wq, d, d);
        m->dec_attn_t[l].wq = t;
        t += (size_t)d * d;
        transpose(t, m->w.dec[l].cross_attn.wo, d, d);
        m->dec_attn_t[l].wo = t;
        t += (size_t)d * d;
        transpose(t, m->w.dec[l].cross_ff.w0, 2 * F, d);
        m->dec_ff_t[l].w0 = t;
        t += (size_t)d * 2 * F;
        transpose(t, m->w.dec[l].cross_ff.w2, d, F);
        m->dec_ff_t[l].w2 = t;
        t += (size_t)F * d;
    }
    transpose(t, m->w.pred0.w, F, d);
    m->pred0_t = t;
    t += (size_t)d * F;
    transpose(t, m->w.pred2.w, 2 * c->dim_y, F);
    m->pred2_t = t;
    char json[512];
    int n = cmanp_config_to_json(&m->cfg, json, sizeof json);
    uint64_t h = cmanp_hash64(json, n > 0 ? (size_t)n : 0, 0x636d616e70ULL);
    m->fingerprint = cmanp_hash64(m->params, m->layout.n_params * sizeof(cmanp_real), h);
}

void cmanp_model_free(cmanp_model *m) {
    if (!m) return;
    cmanp_layout_free(&m->layout);
    cmanp_free(m->params);
    cmanp_free(m->consts);
    cmanp_free(m->dec_t);
    cmanp_free(m);
}

/* 64-bit hash over 8-byte words (multiply-xorshift mixing, as in wyhash/murmur
 * finalisers): fast enough to fingerprint a 5 MB model at load time. */
static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

uint64_t cmanp_hash64(const void *data, size_t n, uint64_t seed) {
    const unsigned char *p = data;
    uint64_t h = mix64(seed ^ (0x9e3779b97f4a7c15ULL * (n + 1)));
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ mix64(w + i)) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    if (n > i) memcpy(&tail, p + i, n - i); /* data may be NULL when n = 0 (an empty BLOB) */
    h = (h ^ mix64(tail ^ (uint64_t)(n - i) << 56)) * 0x9e3779b97f4a7c15ULL;
    return mix64(h);
}

/* ------------------------------------------------------------------ state */

int cmanp_state_new(const cmanp_model *m, cmanp_state **out, cmanp_err *e) {
    *out = NULL;
    const cmanp_config *c = &m->cfg;
    size_t nlog = (size_t)c->num_layers * c->nhead * c->num_latents_per_layer;
    size_t nacc = nlog * (size_t)m->dims.dh;
    cmanp_state *s = cmanp_malloc(sizeof *s + (nlog + nacc) * sizeof(double));
    if (!s) return cmanp_err_nomem(e);
    s->fingerprint = m->fingerprint;
    s->L = c->num_layers;
    s->H = c->nhead;
    s->Lp = c->num_latents_per_layer;
    s->dh = m->dims.dh;
    s->logc = (double *)(void *)(s + 1);
    s->acc = s->logc + nlog;
    cmanp_state_clear(s);
    *out = s;
    return CMANP_OK;
}

void cmanp_state_free(cmanp_state *s) { cmanp_free(s); }

void cmanp_state_clear(cmanp_state *s) {
    size_t nlog = (size_t)s->L * s->H * s->Lp;
    for (size_t i = 0; i < nlog; i++) s->logc[i] = -INFINITY;
    memset(s->acc, 0, nlog * (size_t)s->dh * sizeof(double));
    s->n_rows = 0;
}

static int same_shape(const cmanp_state *a, const cmanp_state *b) {
    return a->L == b->L && a->H == b->H && a->Lp == b->Lp && a->dh == b->dh;
}

int cmanp_state_copy(cmanp_state *dst, const cmanp_state *src, cmanp_err *e) {
    if (!same_shape(dst, src))
        return cmanp_err_set(e, CMANP_EMISMATCH, "state copy: shapes differ");
    size_t nlog = (size_t)src->L * src->H * src->Lp;
    dst->fingerprint = src->fingerprint;
    dst->n_rows = src->n_rows;
    memcpy(dst->logc, src->logc, nlog * sizeof(double));
    memcpy(dst->acc, src->acc, nlog * (size_t)src->dh * sizeof(double));
    return CMANP_OK;
}

cmab_state cmanp_state_layer(const cmanp_state *s, int l) {
    size_t nlog = (size_t)s->H * s->Lp;
    cmab_state v = {s->logc + nlog * l, s->acc + nlog * (size_t)s->dh * l};
    return v;
}

int cmanp_state_check(const cmanp_model *m, const cmanp_state *s, cmanp_err *e) {
    if (s->fingerprint != m->fingerprint)
        return cmanp_err_set(e, CMANP_EMISMATCH,
                             "state was made by another model (fingerprint %016llx, expected "
                             "%016llx)",
                             (unsigned long long)s->fingerprint,
                             (unsigned long long)m->fingerprint);
    if (s->L != m->cfg.num_layers || s->H != m->cfg.nhead || s->Lp != m->cfg.num_latents_per_layer ||
        s->dh != m->dims.dh)
        return cmanp_err_set(e, CMANP_EMISMATCH, "state dimensions do not match the model");
    return CMANP_OK;
}

int cmanp_state_merge(cmanp_state *s, const cmanp_state *t, cmanp_err *e) {
    if (s->fingerprint != t->fingerprint || !same_shape(s, t))
        return cmanp_err_set(e, CMANP_EMISMATCH,
                             "cannot merge states of different models (fingerprints %016llx and "
                             "%016llx)",
                             (unsigned long long)s->fingerprint, (unsigned long long)t->fingerprint);
    if (t->n_rows > CMANP_STATE_MAX_ROWS - s->n_rows)
        return cmanp_err_set(e, CMANP_ERANGE,
                             "merging states of %lld and %lld rows would exceed the limit of 2^53 "
                             "rows",
                             (long long)s->n_rows, (long long)t->n_rows);
    cmab_dims k = {0, s->H, s->dh, 0, s->Lp, 0};
    for (int l = 0; l < s->L; l++) {
        cmab_state a = cmanp_state_layer(s, l), b = cmanp_state_layer(t, l);
        cmab_state_merge(&k, &a, &b);
    }
    s->n_rows += t->n_rows;
    return CMANP_OK;
}

/* -------------------------------------------------------------- conditioner */

struct cmanp_cond {
    const cmanp_model *m;
    int B, W;             /* block rows; row width dx + dy */
    cmanp_real *pend_add;      /* (B, W) rows waiting to be folded in */
    cmanp_real *pend_rm;       /* (B, W) rows waiting to be taken out */
    int n_add, n_rm;
    cmanp_real *E;             /* (B, d) context embeddings of one block */
    cmanp_real *mlp_tmp;       /* (2, B, d) */
    cmanp_real *scratch;       /* cmab_fold_scratch_floats(B) */
    int64_t folds, cancellations;
};

int cmanp_cond_new(const cmanp_model *m, int block_rows, cmanp_cond **out, cmanp_err *e) {
    *out = NULL;
    if (block_rows <= 0) block_rows = CMANP_DEFAULT_BLOCK_ROWS;
    /* One block of every row is the one-shot (full attention) path; beyond 2^22
     * rows its scratch would exceed ~5 GB at the reference configuration. */
    if (block_rows > 1 << 22)
        return cmanp_err_set(e, CMANP_EINVAL, "block_rows = %d exceeds 4194304", block_rows);
    cmanp_cond *c = cmanp_calloc(1, sizeof *c);
    if (!c) return cmanp_err_nomem(e);
    c->m = m;
    c->B = block_rows;
    c->W = m->cfg.dim_x + m->cfg.dim_y;
    size_t B = (size_t)block_rows, d = (size_t)m->cfg.d_model;
    c->pend_add = cmanp_malloc(B * c->W * sizeof(cmanp_real));
    c->pend_rm = cmanp_malloc(B * c->W * sizeof(cmanp_real));
    c->E = cmanp_malloc(B * d * sizeof(cmanp_real));
    c->mlp_tmp = cmanp_malloc(2 * B * d * sizeof(cmanp_real));
    c->scratch = cmanp_malloc(cmab_fold_scratch_floats(&m->dims, block_rows) * sizeof(cmanp_real));
    if (!c->pend_add || !c->pend_rm || !c->E || !c->mlp_tmp || !c->scratch) {
        cmanp_cond_free(c);
        return cmanp_err_nomem(e);
    }
    *out = c;
    return CMANP_OK;
}

void cmanp_cond_free(cmanp_cond *c) {
    if (!c) return;
    cmanp_free(c->pend_add);
    cmanp_free(c->pend_rm);
    cmanp_free(c->E);
    cmanp_free(c->mlp_tmp);
    cmanp_free(c->scratch);
    cmanp_free(c);
}

static void embed(cmanp_cond *c, const cmanp_real *xy, int n, cmanp_real *E) {
    const cmanp_model *m = c->m;
    cmanp_mlp_fwd(E, NULL, c->mlp_tmp, xy, m->w.embedder, cmanp_config_emb_layers(&m->cfg), n, c->W,
                  m->cfg.d_model);
}

int cmanp_cond_embed(cmanp_cond *c, const cmanp_real *xy, int n, cmanp_real *E, cmanp_err *e) {
    for (int off = 0; off < n; off += c->B) {
        int k = n - off < c->B ? n - off : c->B;
        embed(c, xy + (size_t)off * c->W, k, E + (size_t)off * c->m->cfg.d_model);
    }
    (void)e;
    return CMANP_OK;
}

static void fold_block(cmanp_cond *c, cmanp_state *s, const cmanp_real *xy, int n, int sign) {
    const cmanp_model *m = c->m;
    embed(c, xy, n, c->E);
    for (int l = 0; l < m->cfg.num_layers; l++) {
        cmab_state v = cmanp_state_layer(s, l);
        c->cancellations += cmab_state_fold(&m->dims, &m->w.enc[l], &m->lc[l], &v, c->E, n, sign,
                                            c->scratch);
    }
    c->folds++;
}

static int flush_add(cmanp_cond *c, cmanp_state *s) {
    if (c->n_add == 0) return CMANP_OK;
    fold_block(c, s, c->pend_add, c->n_add, +1);
    s->n_rows += c->n_add;
    c->n_add = 0;
    return CMANP_OK;
}

static int flush_rm(cmanp_cond *c, cmanp_state *s, cmanp_err *e) {
    if (c->n_rm == 0) return CMANP_OK;
    int n = c->n_rm;
    c->n_rm = 0;
    if (n > s->n_rows)
        return cmanp_err_set(e, CMANP_EINVAL,
                             "cannot remove %d rows from a state that holds %lld", n,
                             (long long)s->n_rows);
    if (n == s->n_rows) {
        /* Everything leaves: the exact answer is the empty state, which the
         * inverse update could only approach. */
        cmanp_state_clear(s);
        return CMANP_OK;
    }
    fold_block(c, s, c->pend_rm, n, -1);
    s->n_rows -= n;
    return CMANP_OK;
}

static int check_rows(const cmanp_real *xy, size_t n, cmanp_err *e) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(xy[i]))
            return cmanp_err_set(e, CMANP_ENUMERIC, "row value %zu is %s (expected a finite number)",
                                 i, isnan(xy[i]) ? "NaN" : "infinite");
    return CMANP_OK;
}

int cmanp_cond_add(cmanp_cond *c, cmanp_state *s, const cmanp_real *xy, int n, cmanp_err *e) {
    int rc = check_rows(xy, (size_t)n * c->W, e);
    if (rc) return rc;
    if ((int64_t)c->n_add + n > CMANP_STATE_MAX_ROWS - s->n_rows)
        return cmanp_err_set(e, CMANP_ERANGE,
                             "adding %d rows to a state of %lld rows would exceed the limit of 2^53 "
                             "rows",
                             n, (long long)s->n_rows);
    if (c->n_rm && (rc = flush_rm(c, s, e))) return rc;
    while (n > 0) {
        int k = c->B - c->n_add < n ? c->B - c->n_add : n;
        memcpy(c->pend_add + (size_t)c->n_add * c->W, xy, (size_t)k * c->W * sizeof(cmanp_real));
        c->n_add += k;
        xy += (size_t)k * c->W;
        n -= k;
        if (c->n_add == c->B) flush_add(c, s);
    }
    return CMANP_OK;
}

int cmanp_cond_remove(cmanp_cond *c, cmanp_state *s, const cmanp_real *xy, int n, cmanp_err *e) {
    int rc = check_rows(xy, (size_t)n * c->W, e);
    if (rc) return rc;
    /* Additions first: removing from a state that does not yet hold the
     * queued rows would cancel against too small a total. */
    flush_add(c, s);
    while (n > 0) {
        int k = c->B - c->n_rm < n ? c->B - c->n_rm : n;
        memcpy(c->pend_rm + (size_t)c->n_rm * c->W, xy, (size_t)k * c->W * sizeof(cmanp_real));
        c->n_rm += k;
        xy += (size_t)k * c->W;
        n -= k;
        if (c->n_rm == c->B && (rc = flush_rm(c, s, e))) return rc;
    }
    return CMANP_OK;
}

int cmanp_cond_flush(cmanp_cond *c, cmanp_state *s, cmanp_err *e) {
    flush_add(c, s);
    return flush_rm(c, s, e);
}

int64_t cmanp_cond_folds(const cmanp_cond *c) { return c->folds; }
int64_t cmanp_cond_cancellations(const cmanp_cond *c) { return c->cancellations; }

/* ------------------------------------------------------------------ readout */

struct cmanp_readout {
    const cmanp_model *m;
    cmanp_real *Z;        /* (L, Lq, d) encoder outputs */
    cmanp_real *dec_kv;   /* (L, Lq, 2d) decoder keys/values from Z */
    cmanp_real *dec_kt;   /* (L, d, Lq) the keys transposed, for NN score products */
    cmanp_real *shared;   /* cmab_readout_buf_floats */
    cmab_readout_buf buf; /* views into shared */
    int threads;          /* cmanp_readout_set_threads */
    cmanp_real *scratch[CMANP_TEAM_MAX]; /* per thread: max(readout part, predict batch) */
};

static size_t predict_scratch_floats(const cmanp_model *m) {
    const int T0 = CMANP_PREDICT_CHUNK, d = m->cfg.d_model, F = m->cfg.dim_feedforward;
    size_t T = (size_t)T0, a = cmanp_attn_infer_floats(T0, m->cfg.num_latents, d),
           f = cmanp_ff_infer_floats(T0, d, F);
    return T * (size_t)d                                     /* T */
           + 2 * T * (size_t)d                               /* MLP ping-pong */
           + (a > f ? a : f)                                 /* one block at a time */
           + T * (size_t)d + T * (size_t)F + T * 2 * (size_t)m->cfg.dim_y; /* h, hidden, out */
}

static size_t thread_scratch_floats(const cmanp_model *m) {
    size_t a = cmab_readout_part_floats(&m->dims, CMANP_READOUT_PARTS), b = predict_scratch_floats(m);
    size_t c = (size_t)m->cfg.num_latents * m->cfg.d_model; /* LN of Z for the decoder's keys */
    a = a > b ? a : b;
    return a > c ? a : c;
}

int cmanp_readout_new(const cmanp_model *m, cmanp_readout **out, cmanp_err *e) {
    *out = NULL;
    cmanp_readout *r = cmanp_calloc(1, sizeof *r);
    if (!r) return cmanp_err_nomem(e);
    r->m = m;
    r->threads = 1;
    size_t L = (size_t)m->cfg.num_layers, Lq = (size_t)m->cfg.num_latents,
           d = (size_t)m->cfg.d_model;
    r->Z = cmanp_malloc(L * Lq * d * sizeof(cmanp_real));
    r->dec_kv = cmanp_malloc(L * Lq * 2 * d * sizeof(cmanp_real));
    r->dec_kt = cmanp_malloc(L * d * Lq * sizeof(cmanp_real));
    r->shared = cmanp_malloc(cmab_readout_buf_floats(&m->dims) * sizeof(cmanp_real));
    r->scratch[0] = cmanp_malloc(thread_scratch_floats(m) * sizeof(cmanp_real));
    if (!r->Z || !r->dec_kv || !r->dec_kt || !r->shared || !r->scratch[0]) {
        cmanp_readout_free(r);
        return cmanp_err_nomem(e);
    }
    cmab_readout_buf_bind(&m->dims, &r->buf, r->shared);
    *out = r;
    return CMANP_OK;
}

void cmanp_readout_free(cmanp_readout *r) {
    if (!r) return;
    cmanp_free(r->Z);
    cmanp_free(r->dec_kv);
    cmanp_free(r->dec_kt);
    cmanp_free(r->shared);
    for (int k = 0; k < CMANP_TEAM_MAX; k++) cmanp_free(r->scratch[k]);
    cmanp_free(r);
}

int cmanp_readout_set_threads(cmanp_readout *r, int n, cmanp_err *e) {
    if (n < 1 || n > CMANP_TEAM_MAX)
        return cmanp_err_set(e, CMANP_EINVAL, "threads: expected 1..%d, found %d", CMANP_TEAM_MAX, n);
    for (int k = 1; k < n; k++)
        if (!r->scratch[k]) {
            r->scratch[k] = cmanp_malloc(thread_scratch_floats(r->m) * sizeof(cmanp_real));
            if (!r->scratch[k]) return cmanp_err_nomem(e);
        }
    /* Scratch of threads no longer used is kept: switching back costs nothing. */
    r->threads = n;
    return CMANP_OK;
}

int cmanp_readout_threads(const cmanp_readout *r) { return r->threads; }

typedef struct readout_job {
    cmanp_readout *r;
    const cmanp_state *s;
} readout_job;

/* Thread tid's share of a readout: parts tid, tid + n, ... of every step,
 * with a barrier after each step but the last of a layer (cmab.h). */
static void readout_run(void *arg, int tid, cmanp_team *t) {
    readout_job *j = arg;
    cmanp_readout *r = j->r;
    const cmanp_model *m = r->m;
    const int L = m->cfg.num_layers, Lq = m->cfg.num_latents, d = m->cfg.d_model,
              P = CMANP_READOUT_PARTS;
    cmanp_real *scr = r->scratch[tid];
    for (int l = 0; l < L; l++) {
        cmab_state v = cmanp_state_layer(j->s, l);
        const cmanp_real *Zin = l == 0 ? m->w.latents : r->Z + (size_t)(l - 1) * Lq * d;
        cmanp_real *Zout = r->Z + (size_t)l * Lq * d;
        for (int step = 0; step < CMAB_READOUT_STEPS; step++) {
            for (int p = tid; p < P; p += t->n)
                cmab_readout_step(&m->dims, &m->w.enc[l], &m->lc[l], &v, Zin, Zout, &r->buf, scr, step,
                                  p, P);
            if (step < CMAB_READOUT_STEPS - 1) cmanp_team_barrier(t);
        }
        /* The decoder's keys/values depend only on Z_l, row by row: computed
         * once per state, not once per target batch. */
        for (int p = tid; p < P; p += t->n) {
            int z0, z1;
            cmab_part_rows(Lq, P, p, &z0, &z1);
            cmanp_real *kv = r->dec_kv + (size_t)l * Lq * 2 * d + (size_t)z0 * 2 * d;
            cmanp_ln_fwd(scr, NULL, NULL, Zout + (size_t)z0 * d, &m->w.dec[l].cross_attn.norm_ctx,
                         z1 - z0, d);
            cmanp_linear_fwd(kv, scr, m->w.dec[l].cross_attn.wkv, NULL, z1 - z0, d, 2 * d);
            cmanp_keys_transpose_ld(r->dec_kt + (size_t)l * d * Lq + z0, Lq, kv, z1 - z0, d);
        }
    }
}

int cmanp_readout_compute(cmanp_readout *r, const cmanp_state *s, cmanp_err *e) {
    const cmanp_model *m = r->m;
    int rc = cmanp_state_check(m, s, e);
    if (rc) return rc;
    if (s->n_rows <= 0)
        return cmanp_err_set(e, CMANP_EINVAL, "state holds no rows (nothing to condition on)");
    readout_job j = {r, s};
    int n = r->threads < CMANP_READOUT_PARTS ? r->threads : CMANP_READOUT_PARTS;
    cmanp_team_run(n, readout_run, &j);
    return CMANP_OK;
}

const cmanp_real *cmanp_readout_latents(const cmanp_readout *r) { return r->Z; }

/* Targets off..off+n-1 (n <= CMANP_PREDICT_CHUNK) through the decoder. */
static void predict_chunk(const cmanp_readout *r, cmanp_real *scr, const cmanp_real *x, int off, int n,
                          cmanp_real *mean, cmanp_real *std, cmanp_real *h) {
    const cmanp_model *m = r->m;
    const cmanp_config *c = &m->cfg;
    const int d = c->d_model, F = c->dim_feedforward, dy = c->dim_y, Lq = c->num_latents;
    const int T0 = CMANP_PREDICT_CHUNK;
    const int E = cmanp_config_emb_layers(c);
    cmanp_real *T = scr;                                // (n, d) the targets' latents
    cmanp_real *tmp = T + (size_t)T0 * d;               // (2, n, d) MLP ping-pong
    cmanp_real *work = tmp + 2 * (size_t)T0 * d;
    size_t wa = cmanp_attn_infer_floats(T0, Lq, d), wf = cmanp_ff_infer_floats(T0, d, F);
    cmanp_real *hb = work + (wa > wf ? wa : wf);        // (n, d) final LayerNorm
    cmanp_real *hid = hb + (size_t)T0 * d;              // (n, F)
    cmanp_real *o = hid + (size_t)T0 * F;               // (n, 2 dy)
    /* query embedding MLP (transposed weights) */
    const cmanp_real *cur = x + (size_t)off * c->dim_x;
    for (int k = 0; k < E; k++) {
        cmanp_real *dst = k == E - 1 ? T : tmp + (size_t)(k & 1) * T0 * d;
        cmanp_linear_fwd_t(dst, cur, m->qemb_t[k], m->w.query_embedder[k].b, n, k == 0 ? c->dim_x : d, d);
        if (k < E - 1) cmanp_relu_fwd(dst, (size_t)n * d);
        cur = dst;
    }
    for (int l = 0; l < c->num_layers; l++) {
        cmanp_attn_infer(T, work, &m->w.dec[l].cross_attn, &m->dec_attn_t[l], T, n, r->Z, Lq, d, c->nhead,
                         r->dec_kv + (size_t)l * Lq * 2 * d, r->dec_kt + (size_t)l * d * Lq);
        cmanp_ff_infer(T, work, &m->w.dec[l].cross_ff, &m->dec_ff_t[l], T, n, d, F);
    }
    cmanp_ln_fwd(hb, NULL, NULL, T, &m->w.norm, n, d);
    if (h) memcpy(h + (size_t)off * d, hb, (size_t)n * d * sizeof(cmanp_real));
    cmanp_linear_fwd_t(hid, hb, m->pred0_t, m->w.pred0.b, n, d, F);
    cmanp_relu_fwd(hid, (size_t)n * F);
    cmanp_linear_fwd_t(o, hid, m->pred2_t, m->w.pred2.b, n, F, 2 * dy);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < dy; k++) {
            mean[(size_t)(off + i) * dy + k] = o[(size_t)i * 2 * dy + k];
            std[(size_t)(off + i) * dy + k] = cmanp_std_from_raw(o[(size_t)i * 2 * dy + dy + k], c->bound_std);
        }
}

typedef struct predict_job {
    cmanp_readout *r;
    const cmanp_real *x;
    int M;
    cmanp_real *mean, *std, *h;
} predict_job;

/* Batches tid, tid + n, ...: each batch is decoded the same way on any thread. */
static void predict_run(void *arg, int tid, cmanp_team *t) {
    predict_job *j = arg;
    const int T0 = CMANP_PREDICT_CHUNK;
    for (int off = tid * T0; off < j->M; off += t->n * T0)
        predict_chunk(j->r, j->r->scratch[tid], j->x, off, j->M - off < T0 ? j->M - off : T0, j->mean,
                      j->std, j->h);
}

int cmanp_predict(cmanp_readout *r, const cmanp_real *x, int M, cmanp_real *mean, cmanp_real *std, cmanp_real *h,
                  cmanp_err *e) {
    const cmanp_config *c = &r->m->cfg;
    const int dy = c->dim_y;
    for (size_t i = 0; i < (size_t)M * c->dim_x; i++)
        if (!isfinite(x[i]))
            return cmanp_err_set(e, CMANP_ENUMERIC, "target input %zu is not finite", i);
    predict_job j = {r, x, M, mean, std, h};
    int batches = (M + CMANP_PREDICT_CHUNK - 1) / CMANP_PREDICT_CHUNK;
    cmanp_team_run(r->threads < batches ? r->threads : batches, predict_run, &j);
    /* A NaN or infinite prediction (float32 overflow from a state or an
     * input far outside the model's range) is an error, not an answer: in
     * SQL a NaN would come back as a silent NULL. */
    for (size_t i = 0; i < (size_t)M * dy; i++)
        if (!isfinite(mean[i]) || !isfinite(std[i]))
            return cmanp_err_set(e, CMANP_ENUMERIC,
                                 "target %zu: the prediction is not finite (mean %g, std %g); the "
                                 "state or the input is out of the model's range",
                                 i / (size_t)dy, (double)mean[i], (double)std[i]);
    return CMANP_OK;
}

double cmanp_gauss_logp(const cmanp_real *y, const cmanp_real *mean, const cmanp_real *std, int dy) {
    double lp = 0.0;
    for (int k = 0; k < dy; k++) {
        double z = ((double)y[k] - mean[k]) / std[k];
        lp += -0.5 * z * z - log((double)std[k]) - 0.91893853320467274178;
    }
    return lp;
}

/* ------------------------------------------------------------------- FLOPs */

double cmanp_flops_per_row(const cmanp_config *c) {
    double d = c->d_model, W = c->dim_x + c->dim_y, E = cmanp_config_emb_layers(c);
    double Lp = c->num_latents_per_layer;
    /* embedding MLP; per layer: keys/values (d -> 2d), scores and weighted sum
     * against Lp queries over all heads */
    return 2 * (W * d + (E - 1) * d * d) + c->num_layers * (4 * d * d + 4 * Lp * d);
}

double cmanp_flops_per_readout(const cmanp_config *c) {
    double d = c->d_model, F = c->dim_feedforward, Lp = c->num_latents_per_layer,
           Lq = c->num_latents;
    double ff = 6 * d * F; /* per row: d -> 2F, F -> d */
    double per_layer = 2 * Lp * d * d                       /* to_out */
                       + 2 * Lp * ff                        /* two FF blocks on B */
                       + 8 * Lp * d * d + 4 * Lp * Lp * d   /* self-attention on B */
                       + 4 * Lq * d * d + 4 * Lp * d * d + 4 * Lq * Lp * d /* Z reads B */
                       + 2 * Lq * ff                        /* two FF blocks on Z */
                       + 8 * Lq * d * d + 4 * Lq * Lq * d   /* self-attention on Z */
                       + 4 * Lq * d * d;                    /* decoder keys/values */
    return c->num_layers * per_layer;
}

double cmanp_flops_per_target(const cmanp_config *c) {
    double d = c->d_model, F = c->dim_feedforward, Lq = c->num_latents,
           E = cmanp_config_emb_layers(c);
    return 2 * (c->dim_x * d + (E - 1) * d * d) +
           c->num_layers * (4 * d * d + 4 * Lq * d + 6 * d * F) + 2 * d * F +
           4 * F * c->dim_y;
}
