/* cmhp_train.c - CMHP training forward + backward (see cmhp_train.h).
 *
 * Spec (tests/unit/test_cmhp_train.c, items T*):
 *   T1. per-event log-likelihoods of the training forward equal the streaming
 *       engine's (cmhp_sequence_loglik: fold one event at a time, read out)
 *       within float32 rounding, for both variants, several sequences of
 *       different lengths in one batch and any chunk size;
 *   T2. every parameter gradient matches central finite differences of the
 *       loss in the float64 build (relative error < 1e-6);
 *   T3. the loss is the mean over targets (first_target respected);
 *   T4. invalid batches are rejected with messages.
 *
 * Layout of one batch.  Sequence s has N_s events and occupies global rows
 * q0 = sum_{s' < s} N_s' .. q0 + N_s - 1 of every per-position / per-target
 * array.  Row q0 + p is at the same time
 *   position p of the scan: the sink for p = 0, event p - 1 otherwise;
 *   target p: event p, predicted from positions 0..p (sink + events < p).
 * The last event of a sequence is a target but never a position.
 */
#include "cmhp_train.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "arena.h"
#include "ops_bwd.h"

/* ----------------------------------------------------------------- arenas */

/* Float64 values from the same arena (the scan's running state). */
static double *take_d(cmanp_arena *b, size_t n) {
    return (double *)(void *)cmanp_arena_take(b, n * (sizeof(double) / sizeof(cmanp_real)));
}

static void bind_ff(cmanp_arena *b, cmanp_ff_acts *f, size_t n, size_t d, size_t F) {
    f->xn = cmanp_arena_take(b, n * d);
    f->mean = cmanp_arena_take(b, n);
    f->rstd = cmanp_arena_take(b, n);
    f->u = cmanp_arena_take(b, n * 2 * F);
    f->z = cmanp_arena_take(b, n * F);
}

/* Activations of one chunk of TC targets: the readout of every layer and the
 * decoder, plus the backward buffers. */
typedef struct layer_acts {
    cmanp_real *B0;          /* (TC Lp, d) layer_cross_attn output (from the scan) */
    cmanp_ff_acts lcf;
    cmanp_real *B1;
    cmanp_attn_acts lsa;
    cmanp_real *B2;
    cmanp_ff_acts lff;
    cmanp_real *B3;
    cmanp_attn_acts ca;      /* global latents read B3 */
    cmanp_real *Z1;          /* (TC Lq, d) */
    cmanp_ff_acts cf;
    cmanp_real *Z2;
    cmanp_attn_acts sa;
    cmanp_real *Z3;
    cmanp_ff_acts ff;
    cmanp_real *Z;           /* Z_l */
} layer_acts;

typedef struct chunk_acts {
    cmanp_real *Z0;                       /* (TC Lq, d) global latents, one copy per target */
    layer_acts lay[CMANP_MAX_LAYERS];
    cmanp_real *u, *h1, *h2, *raw;        /* (TC, Din), (TC, F) x 2, (TC, Dout) */
    cmanp_real *draw, *dh1, *dh2, *du;    /* gradients of the same */
    cmanp_real *GZ, *GB, *G0, *G1;        /* chain gradients: (TC Lq, d), (TC Lp, d), 2 x max */
    cmanp_real *scr;                      /* block backward scratch */
} chunk_acts;

/* Per-batch arrays (rows = positions = targets, P in total). */
typedef struct batch_bufs {
    cmanp_real *E;                        /* (P, d) sink / event embeddings */
    cmanp_real *feat;                     /* (P, d + 2 + K R) decoder features after Z */
    double *taus;                         /* (P) scaled waiting time of each target */
    double *lp;                           /* (P) log p of each target (original units) */
    cmanp_real *En[CMANP_MAX_LAYERS], *En_mean[CMANP_MAX_LAYERS], *En_rstd[CMANP_MAX_LAYERS];
    cmanp_real *kv[CMANP_MAX_LAYERS];     /* (P, 2d) */
    cmanp_real *o[CMANP_MAX_LAYERS];      /* (P, Lp, d) scan output: heads before to_out */
    double *logc[CMANP_MAX_LAYERS];       /* (P, H, Lp) log-constants of every prefix */
    cmanp_real *S;                        /* (Lp, maxN) scores of one sequence and head */
    double *acc;                          /* (dh) */
    /* backward */
    cmanp_real *dO[CMANP_MAX_LAYERS];     /* (P, Lp, d) */
    cmanp_real *dkv, *dEn, *dE;           /* (P, 2d), (P, d), (P, d) */
    cmanp_real *dS;                       /* (Lp, maxN) */
    cmanp_real *dqs, *dlatn;              /* (L, Lp, d) */
    cmanp_real *lat_tmp, *lat_mean, *lat_rstd; /* (Lp, d), (Lp), (Lp) */
} batch_bufs;

struct cmhp_train {
    const cmhp_model *m;
    int TC;
    cmanp_real *carena;
    size_t carena_cap;
    chunk_acts a;
    cmanp_seg *seg;            /* (3, TC): lsa, ca, sa */
    cmanp_real *barena;
    size_t barena_cap;
    batch_bufs bb;
    size_t *off;               /* (n_seq + 1) */
    int *tk;                   /* (P) target marks */
    size_t off_cap, tk_cap;
    cmhp_weights gw;           /* gradient views */
};

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static size_t bind_chunk(const cmhp_model *m, int TC_, cmanp_real *base, chunk_acts *a, int grad) {
    cmanp_arena b = {base, 0};
    const cmhp_config *c = &m->cfg;
    const size_t d = (size_t)c->d_model, F = (size_t)c->dim_feedforward, H = (size_t)c->nhead;
    const size_t Lp = (size_t)c->num_latents_per_layer, Lq = (size_t)c->num_latents;
    const size_t TC = (size_t)TC_;
    a->Z0 = cmanp_arena_take(&b, TC * Lq * d);
    for (int l = 0; l < c->num_layers; l++) {
        layer_acts *la = &a->lay[l];
        la->B0 = cmanp_arena_take(&b, TC * Lp * d);
        bind_ff(&b, &la->lcf, TC * Lp, d, F);
        la->B1 = cmanp_arena_take(&b, TC * Lp * d);
        cmanp_arena_take_attn(&b, &la->lsa, TC * Lp, 0, TC * Lp, TC * Lp, TC * H * Lp * Lp, d);
        la->B2 = cmanp_arena_take(&b, TC * Lp * d);
        bind_ff(&b, &la->lff, TC * Lp, d, F);
        la->B3 = cmanp_arena_take(&b, TC * Lp * d);
        cmanp_arena_take_attn(&b, &la->ca, TC * Lq, TC * Lp, TC * Lp, TC * Lq, TC * H * Lq * Lp, d);
        la->Z1 = cmanp_arena_take(&b, TC * Lq * d);
        bind_ff(&b, &la->cf, TC * Lq, d, F);
        la->Z2 = cmanp_arena_take(&b, TC * Lq * d);
        cmanp_arena_take_attn(&b, &la->sa, TC * Lq, 0, TC * Lq, TC * Lq, TC * H * Lq * Lq, d);
        la->Z3 = cmanp_arena_take(&b, TC * Lq * d);
        bind_ff(&b, &la->ff, TC * Lq, d, F);
        la->Z = cmanp_arena_take(&b, TC * Lq * d);
    }
    const size_t Din = (size_t)m->din, Dout = (size_t)m->dout;
    a->u = cmanp_arena_take(&b, TC * Din);
    a->h1 = cmanp_arena_take(&b, TC * F);
    a->h2 = cmanp_arena_take(&b, TC * F);
    a->raw = cmanp_arena_take(&b, TC * Dout);
    if (grad) {
        const size_t rows = max_sz(TC * Lq, TC * Lp);
        a->draw = cmanp_arena_take(&b, TC * Dout);
        a->dh1 = cmanp_arena_take(&b, TC * F);
        a->dh2 = cmanp_arena_take(&b, TC * F);
        a->du = cmanp_arena_take(&b, TC * Din);
        a->GZ = cmanp_arena_take(&b, TC * Lq * d);
        a->GB = cmanp_arena_take(&b, TC * Lp * d);
        a->G0 = cmanp_arena_take(&b, rows * d);
        a->G1 = cmanp_arena_take(&b, rows * d);
        const int id = (int)d, iLp = (int)Lp, iLq = (int)Lq, iT = TC_;
        size_t s = cmanp_attn_seg_bwd_floats(iT * iLp, 0, iT * iLp, iLp * iLp, id);
        s = max_sz(s, cmanp_attn_seg_bwd_floats(iT * iLq, iT * iLp, iT * iLq, iLq * iLp, id));
        s = max_sz(s, cmanp_attn_seg_bwd_floats(iT * iLq, 0, iT * iLq, iLq * iLq, id));
        s = max_sz(s, cmanp_ff_bwd_floats((int)rows, id, (int)F));
        a->scr = cmanp_arena_take(&b, s);
    }
    return b.n;
}

static size_t bind_batch(const cmhp_model *m, size_t P, int maxN, cmanp_real *base, batch_bufs *g,
                         int grad) {
    cmanp_arena b = {base, 0};
    const cmhp_config *c = &m->cfg;
    const size_t d = (size_t)c->d_model, H = (size_t)c->nhead, Lp = (size_t)c->num_latents_per_layer;
    const size_t W = d + 2 + (size_t)c->num_marks * c->num_rates, L = (size_t)c->num_layers;
    g->E = cmanp_arena_take(&b, P * d);
    g->feat = cmanp_arena_take(&b, P * W);
    g->taus = take_d(&b, P);
    g->lp = take_d(&b, P);
    for (size_t l = 0; l < L; l++) {
        g->En[l] = cmanp_arena_take(&b, P * d);
        g->En_mean[l] = cmanp_arena_take(&b, P);
        g->En_rstd[l] = cmanp_arena_take(&b, P);
        g->kv[l] = cmanp_arena_take(&b, P * 2 * d);
        g->o[l] = cmanp_arena_take(&b, P * Lp * d);
        g->logc[l] = take_d(&b, P * H * Lp);
    }
    g->S = cmanp_arena_take(&b, Lp * (size_t)maxN);
    g->acc = take_d(&b, 2 * d);
    if (grad) {
        for (size_t l = 0; l < L; l++) g->dO[l] = cmanp_arena_take(&b, P * Lp * d);
        g->dkv = cmanp_arena_take(&b, P * 2 * d);
        g->dEn = cmanp_arena_take(&b, P * d);
        g->dE = cmanp_arena_take(&b, P * d);
        g->dS = cmanp_arena_take(&b, Lp * (size_t)maxN);
        g->dqs = cmanp_arena_take(&b, L * Lp * d);
        g->dlatn = cmanp_arena_take(&b, L * Lp * d);
        g->lat_tmp = cmanp_arena_take(&b, Lp * d);
        g->lat_mean = cmanp_arena_take(&b, Lp);
        g->lat_rstd = cmanp_arena_take(&b, Lp);
    }
    return b.n;
}

static int grow(cmanp_real **buf, size_t *cap, size_t need, cmanp_err *e) {
    if (need <= *cap) return CMANP_OK;
    cmanp_free(*buf);
    *cap = 0;
    size_t bytes;
    if (cmanp_mul_size(need, sizeof(cmanp_real), &bytes))
        return cmanp_err_set(e, CMANP_ERANGE, "cmhp training buffers overflow size_t");
    *buf = cmanp_malloc(bytes);
    if (!*buf) return cmanp_err_nomem(e);
    *cap = need;
    return CMANP_OK;
}

/* ---------------------------------------------------------------- lifecycle */

int cmhp_train_new(const cmhp_model *m, int chunk, cmhp_train **out, cmanp_err *e) {
    *out = NULL;
    if (chunk <= 0) chunk = CMHP_TRAIN_DEFAULT_CHUNK;
    if (chunk > 1 << 16) return cmanp_err_set(e, CMANP_EINVAL, "cmhp train: chunk %d too large", chunk);
    cmhp_train *t = cmanp_calloc(1, sizeof *t);
    if (!t) return cmanp_err_nomem(e);
    t->m = m;
    t->TC = chunk;
    t->seg = cmanp_malloc((size_t)3 * chunk * sizeof *t->seg);
    if (!t->seg) {
        cmhp_train_free(t);
        return cmanp_err_nomem(e);
    }
    const cmhp_config *c = &m->cfg;
    const size_t H = (size_t)c->nhead, Lp = (size_t)c->num_latents_per_layer,
                 Lq = (size_t)c->num_latents;
    cmanp_seg *lsa = t->seg, *ca = t->seg + chunk, *sa = t->seg + 2 * chunk;
    for (int i = 0; i < chunk; i++) {
        const size_t ii = (size_t)i;
        lsa[i] = (cmanp_seg){(int)Lp, (int)Lp, ii * Lp, ii * Lp, ii * Lp, ii * H * Lp * Lp};
        ca[i] = (cmanp_seg){(int)Lq, (int)Lp, ii * Lq, ii * Lq, ii * Lp, ii * H * Lq * Lp};
        sa[i] = (cmanp_seg){(int)Lq, (int)Lq, ii * Lq, ii * Lq, ii * Lq, ii * H * Lq * Lq};
    }
    *out = t;
    return CMANP_OK;
}

void cmhp_train_free(cmhp_train *t) {
    if (!t) return;
    cmanp_free(t->carena);
    cmanp_free(t->barena);
    cmanp_free(t->seg);
    cmanp_free(t->off);
    cmanp_free(t->tk);
    cmanp_free(t);
}

size_t cmhp_train_bytes(const cmhp_train *t) {
    return (t->carena_cap + t->barena_cap) * sizeof(cmanp_real) +
           t->off_cap * sizeof(size_t) + t->tk_cap * sizeof(int);
}

/* ---------------------------------------------------------------- staging */

static int check_and_offsets(cmhp_train *t, const cmhp_batch *b, size_t *P, int *maxN,
                             cmanp_err *e) {
    const cmhp_config *c = &t->m->cfg;
    if (!b || b->n_seq < 1 || !b->n || !b->t || !b->k)
        return cmanp_err_set(e, CMANP_EINVAL, "cmhp batch: expected n_seq >= 1 and non-NULL n, t, k");
    if (b->first_target < 0)
        return cmanp_err_set(e, CMANP_EINVAL, "cmhp batch: first_target = %d (expected >= 0)",
                             b->first_target);
    if ((size_t)b->n_seq + 1 > t->off_cap) {
        cmanp_free(t->off);
        t->off_cap = 0;
        t->off = cmanp_malloc(((size_t)b->n_seq + 1) * sizeof *t->off);
        if (!t->off) return cmanp_err_nomem(e);
        t->off_cap = (size_t)b->n_seq + 1;
    }
    size_t tot = 0;
    int mx = 0;
    t->off[0] = 0;
    for (int s = 0; s < b->n_seq; s++) {
        if (b->n[s] < 1)
            return cmanp_err_set(e, CMANP_EINVAL, "cmhp batch: sequence %d has %d events (expected "
                                 ">= 1)", s, b->n[s]);
        tot += (size_t)b->n[s];
        if (tot > (size_t)1 << 26)
            return cmanp_err_set(e, CMANP_ERANGE, "cmhp batch: more than 2^26 events");
        mx = b->n[s] > mx ? b->n[s] : mx;
        t->off[s + 1] = tot;
    }
    for (size_t i = 0; i < tot; i++) {
        if (!isfinite(b->t[i]))
            return cmanp_err_set(e, CMANP_ENUMERIC, "cmhp batch: event %zu has a non-finite time", i);
        if (b->k[i] < 0 || b->k[i] >= c->num_marks)
            return cmanp_err_set(e, CMANP_EINVAL, "cmhp batch: event %zu has mark %d (expected "
                                 "0..%d)", i, b->k[i], c->num_marks - 1);
    }
    *P = tot;
    *maxN = mx;
    return CMANP_OK;
}

/* Embeddings of the scan positions, decoder features and waiting times of
 * the targets.  The recency counts follow exactly the streaming update of
 * cmhp.c (decay to the new event, then add it) so that both paths agree. */
static int stage(cmhp_train *t, const cmhp_batch *b, int need_targets_ok, cmanp_err *e) {
    const cmhp_model *m = t->m;
    const cmhp_config *c = &m->cfg;
    const int d = c->d_model, K = c->num_marks, R = c->num_rates;
    const size_t W = (size_t)d + 2 + (size_t)K * R;
    batch_bufs *g = &t->bb;
    double recv[CMHP_MAX_RATES * 64]; /* K R <= this, checked by run() */
    (void)need_targets_ok;
    for (int s = 0; s < b->n_seq; s++) {
        const size_t q0 = t->off[s];
        const int N = b->n[s];
        const double *ts = b->t + q0;
        const int *ks = b->k + q0;
        double t_last = -INFINITY;
        memset(recv, 0, (size_t)K * R * sizeof(double));
        memcpy(g->E + q0 * d, m->w.sink, (size_t)d * sizeof(cmanp_real));
        if (N > 1) cmhp_embed(m, ts, ks, N - 1, g->E + (q0 + 1) * d);
        for (int p = 0; p < N; p++) {
            if (p > 0) {
                /* Event p-1 joins the history. */
                const double tn = ts[p - 1];
                for (int r = 0; r < R; r++) {
                    const double f = t_last == -INFINITY
                                         ? 0.0
                                         : exp(-(c->rates[r] / c->time_scale) * (tn - t_last));
                    for (int q = 0; q < K; q++) recv[(size_t)q * R + r] *= f;
                    recv[(size_t)ks[p - 1] * R + r] += 1.0;
                }
                t_last = tn;
                if (ts[p] < ts[p - 1])
                    return cmanp_err_set(e, CMANP_EINVAL,
                                         "cmhp batch: sequence %d event %d at t = %.17g precedes "
                                         "event %d (expected non-decreasing times)",
                                         s, p, ts[p], p - 1);
            }
            const double t_ref = t_last == -INFINITY ? 0.0 : t_last;
            cmhp_features(m, t_ref, p, recv, g->feat + (q0 + p) * W);
            g->taus[q0 + p] = (ts[p] - t_ref) / c->time_scale;
            t->tk[q0 + p] = ks[p];
            if (p >= b->first_target && !(g->taus[q0 + p] > 0))
                return cmanp_err_set(e, CMANP_EINVAL,
                                     "cmhp batch: sequence %d event %d at t = %.17g is not after "
                                     "the previous event / origin (t = %.17g): its waiting time "
                                     "has zero density",
                                     s, p, ts[p], t_ref);
        }
    }
    return CMANP_OK;
}

/* ------------------------------------------------------------ prefix scan */

/* Per layer: kv of every position, then for every sequence, head and own
 * latent a running log-sum-exp over positions 0, 1, ..: after position p the
 * normalised accumulator is the attention output of the state holding
 * positions 0..p, i.e. what cmab_readout reads for target p. */
static void scan_fwd(cmhp_train *t, const cmhp_batch *b, int l, size_t P) {
    const cmhp_model *m = t->m;
    const cmab_w *wl = &m->w.enc[l];
    const int d = m->dims.d, H = m->dims.H, dh = m->dims.dh, Lp = m->dims.Lp;
    batch_bufs *g = &t->bb;
    cmanp_ln_fwd(g->En[l], g->En_mean[l], g->En_rstd[l], g->E, &wl->layer_cross_attn.norm_ctx,
                 (int)P, d);
    cmanp_linear_fwd(g->kv[l], g->En[l], wl->layer_cross_attn.wkv, NULL, (int)P, d, 2 * d);
    const cmanp_real *qs = m->lc[l].qs;
    double *acc = g->acc;
    for (int s = 0; s < b->n_seq; s++) {
        const size_t q0 = t->off[s];
        const int N = b->n[s];
        const cmanp_real *kv = g->kv[l] + q0 * 2 * d;
        for (int h = 0; h < H; h++) {
            // S (Lp, N) = qs_h (Lp, dh) . K_h^T (dh, N); qs carries 1/sqrt(dh)
            cmanp_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, Lp, N, dh, R(1.0), qs + h * dh, d,
                       kv + h * dh, 2 * d, R(0.0), g->S, N);
            for (int i = 0; i < Lp; i++) {
                const cmanp_real *srow = g->S + (size_t)i * N;
                double mx = -INFINITY, sum = 0;
                for (int x = 0; x < dh; x++) acc[x] = 0;
                for (int p = 0; p < N; p++) {
                    const double sc = srow[p];
                    if (sc > mx) {
                        const double f = exp(mx - sc); /* 0 for the first position */
                        sum *= f;
                        for (int x = 0; x < dh; x++) acc[x] *= f;
                        mx = sc;
                    }
                    const double w = exp(sc - mx);
                    const cmanp_real *v = kv + (size_t)p * 2 * d + d + h * dh;
                    sum += w;
                    for (int x = 0; x < dh; x++) acc[x] += w * (double)v[x];
                    const double inv = 1.0 / sum;
                    cmanp_real *o = g->o[l] + ((q0 + p) * Lp + i) * d + h * dh;
                    for (int x = 0; x < dh; x++) o[x] = (cmanp_real)(acc[x] * inv);
                    g->logc[l][((q0 + p) * H + h) * Lp + i] = mx + log(sum);
                }
            }
        }
    }
}

/* Backward of scan_fwd.  With c_p the log-constant after position p (non-
 * decreasing in p) and dO_p the gradient of target p's output, position j is
 * seen by every target p >= j with weight exp(s_j - c_p), so
 *   dv_j = exp(s_j - c_j) G_j,   ds_j = exp(s_j - c_j) (G_j . v_j - g_j),
 *   G_j = sum_{p >= j} exp(c_j - c_p) dO_p,   g_j = sum_{p >= j} exp(c_j - c_p) dO_p . o_p,
 * a suffix scan whose factors exp(c_j - c_{j+1}) are all <= 1 (no overflow). */
static void scan_bwd(cmhp_train *t, const cmhp_batch *b, int l, size_t P) {
    const cmhp_model *m = t->m;
    const cmab_w *wl = &m->w.enc[l];
    const cmab_w *gl = &t->gw.enc[l];
    const int d = m->dims.d, H = m->dims.H, dh = m->dims.dh, Lp = m->dims.Lp;
    batch_bufs *g = &t->bb;
    const cmanp_real *qs = m->lc[l].qs;
    cmanp_real *dqs = g->dqs + (size_t)l * Lp * d;
    double *G = g->acc;
    memset(g->dkv, 0, P * 2 * d * sizeof(cmanp_real));
    for (int s = 0; s < b->n_seq; s++) {
        const size_t q0 = t->off[s];
        const int N = b->n[s];
        const cmanp_real *kv = g->kv[l] + q0 * 2 * d;
        cmanp_real *dkv = g->dkv + q0 * 2 * d;
        for (int h = 0; h < H; h++) {
            cmanp_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, Lp, N, dh, R(1.0), qs + h * dh, d,
                       kv + h * dh, 2 * d, R(0.0), g->S, N);
            for (int i = 0; i < Lp; i++) {
                const cmanp_real *srow = g->S + (size_t)i * N;
                cmanp_real *dsrow = g->dS + (size_t)i * N;
                double gs = 0, c_next = 0;
                for (int x = 0; x < dh; x++) G[x] = 0;
                for (int p = N - 1; p >= 0; p--) {
                    const size_t row = ((q0 + p) * Lp + i) * d + h * dh;
                    const cmanp_real *dO = g->dO[l] + row, *o = g->o[l] + row;
                    const double cp = g->logc[l][((q0 + p) * H + h) * Lp + i];
                    if (p < N - 1) {
                        const double f = exp(cp - c_next);
                        for (int x = 0; x < dh; x++) G[x] *= f;
                        gs *= f;
                    }
                    double D = 0;
                    for (int x = 0; x < dh; x++) {
                        D += (double)dO[x] * (double)o[x];
                        G[x] += dO[x];
                    }
                    gs += D;
                    const double a = exp((double)srow[p] - cp);
                    const cmanp_real *v = kv + (size_t)p * 2 * d + d + h * dh;
                    cmanp_real *dv = dkv + (size_t)p * 2 * d + d + h * dh;
                    double Gv = 0;
                    for (int x = 0; x < dh; x++) {
                        Gv += G[x] * (double)v[x];
                        dv[x] += (cmanp_real)(a * G[x]);
                    }
                    dsrow[p] = (cmanp_real)(a * (Gv - gs));
                    c_next = cp;
                }
            }
            // dK_h (N, dh) = dS^T (N, Lp) . qs_h (Lp, dh)
            cmanp_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, dh, Lp, R(1.0), g->dS, N,
                       qs + h * dh, d, R(1.0), dkv + h * dh, 2 * d);
            // dqs_h (Lp, dh) += dS (Lp, N) . K_h (N, dh)
            cmanp_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Lp, dh, N, R(1.0), g->dS, N,
                       kv + h * dh, 2 * d, R(1.0), dqs + h * dh, d);
        }
    }
    // kv (P, 2d) = En . wkv^T;  En = LN_ctx(E): every layer reads the same E
    cmanp_linear_bwd(g->dEn, gl->layer_cross_attn.wkv, NULL, g->dkv, g->En[l],
                     wl->layer_cross_attn.wkv, (int)P, d, 2 * d, 0);
    cmanp_ln_bwd(g->dE, gl->layer_cross_attn.norm_ctx.g, gl->layer_cross_attn.norm_ctx.b, g->dEn,
                 g->E, g->En_mean[l], g->En_rstd[l], wl->layer_cross_attn.norm_ctx.g, (int)P, d,
                 l != m->cfg.num_layers - 1); /* run() goes from the last layer down */
    // qs = latn . wq^T / sqrt(dh)
    const cmanp_real scale = R(1.0) / r_sqrt((cmanp_real)dh);
    for (size_t i = 0; i < (size_t)Lp * d; i++) dqs[i] *= scale;
    cmanp_real *dlatn = g->dlatn + (size_t)l * Lp * d;
    cmanp_linear_bwd(dlatn, gl->layer_cross_attn.wq, NULL, dqs, m->lc[l].latn,
                     wl->layer_cross_attn.wq, Lp, d, d, 1);
    // latn = LN_norm(latents_l): queries and the block's residual
    cmanp_ln_fwd(g->lat_tmp, g->lat_mean, g->lat_rstd, wl->latents, &wl->layer_cross_attn.norm, Lp,
                 d);
    cmanp_ln_bwd(gl->latents, gl->layer_cross_attn.norm.g, gl->layer_cross_attn.norm.b, dlatn,
                 wl->latents, g->lat_mean, g->lat_rstd, wl->layer_cross_attn.norm.g, Lp, d, 1);
}

/* ------------------------------------------------------------------ chunks */

static void chunk_fwd(cmhp_train *t, size_t t0, int n) {
    const cmhp_model *m = t->m;
    const cmhp_config *c = &m->cfg;
    const int d = c->d_model, F = c->dim_feedforward, H = c->nhead, L = c->num_layers;
    const int Lp = c->num_latents_per_layer, Lq = c->num_latents;
    const int nLp = n * Lp, nLq = n * Lq, TC = t->TC;
    chunk_acts *a = &t->a;
    const cmanp_seg *lsa = t->seg, *ca = t->seg + TC, *sa = t->seg + 2 * TC;
    for (int i = 0; i < n; i++)
        memcpy(a->Z0 + (size_t)i * Lq * d, m->w.latents, (size_t)Lq * d * sizeof(cmanp_real));
    const cmanp_real *Zin = a->Z0;
    for (int l = 0; l < L; l++) {
        layer_acts *la = &a->lay[l];
        const cmab_w *wl = &m->w.enc[l];
        const cmanp_real *ol = t->bb.o[l] + t0 * Lp * d;  // (n Lp, d)
        // B0 = o . to_out^T + to_out.bias + LN_norm(latents): as cmab_readout
        for (int r = 0; r < nLp; r++) {
            const cmanp_real *lr = m->lc[l].latn + (size_t)(r % Lp) * d;
            cmanp_real *br = la->B0 + (size_t)r * d;
            for (int x = 0; x < d; x++) br[x] = lr[x] + wl->layer_cross_attn.bo[x];
        }
        cmanp_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, nLp, d, d, R(1.0), ol, d,
                   wl->layer_cross_attn.wo, d, R(1.0), la->B0, d);
        cmanp_ff_block_fwd(la->B1, &la->lcf, &wl->layer_cross_ff, la->B0, nLp, d, F);
        cmanp_attn_seg_fwd(la->B2, &la->lsa, &wl->layer_latent_self_attn, la->B1, nLp, NULL, 0, lsa,
                           n, d, H, 0);
        cmanp_ff_block_fwd(la->B3, &la->lff, &wl->layer_latent_ff, la->B2, nLp, d, F);
        cmanp_attn_seg_fwd(la->Z1, &la->ca, &wl->cross_attn, Zin, nLq, la->B3, nLp, ca, n, d, H, 0);
        cmanp_ff_block_fwd(la->Z2, &la->cf, &wl->cross_ff, la->Z1, nLq, d, F);
        cmanp_attn_seg_fwd(la->Z3, &la->sa, &wl->latent_self_attn, la->Z2, nLq, NULL, 0, sa, n, d,
                           H, 0);
        cmanp_ff_block_fwd(la->Z, &la->ff, &wl->latent_ff, la->Z3, nLq, d, F);
        Zin = la->Z;
    }
    // u = [flatten(Z_L) | features]
    const size_t LqD = (size_t)Lq * d, W = (size_t)m->din - LqD;
    for (int i = 0; i < n; i++) {
        cmanp_real *ur = a->u + (size_t)i * m->din;
        memcpy(ur, Zin + (size_t)i * LqD, LqD * sizeof(cmanp_real));
        memcpy(ur + LqD, t->bb.feat + (t0 + (size_t)i) * W, W * sizeof(cmanp_real));
    }
    cmhp_decoder_fwd(m, a->u, n, a->h1, a->h2, a->raw);
}

static void chunk_bwd(cmhp_train *t, size_t t0, int n) {
    const cmhp_model *m = t->m;
    const cmhp_config *c = &m->cfg;
    const cmhp_weights *w = &m->w, *gw = &t->gw;
    const int d = c->d_model, F = c->dim_feedforward, H = c->nhead, L = c->num_layers;
    const int Lp = c->num_latents_per_layer, Lq = c->num_latents;
    const int nLp = n * Lp, nLq = n * Lq, TC = t->TC, Din = m->din, Dout = m->dout;
    chunk_acts *a = &t->a;
    const cmanp_seg *lsa = t->seg, *ca = t->seg + TC, *sa = t->seg + 2 * TC;
    // decoder: raw = h2 W4^T + b4;  h2 = relu(h1 W2^T + b2);  h1 = relu(u W0^T + b0)
    cmanp_linear_bwd(a->dh2, gw->dec[2].w, gw->dec[2].b, a->draw, a->h2, w->dec[2].w, n, F, Dout, 0);
    cmanp_relu_bwd(a->dh2, a->h2, (size_t)n * F);
    cmanp_linear_bwd(a->dh1, gw->dec[1].w, gw->dec[1].b, a->dh2, a->h1, w->dec[1].w, n, F, F, 0);
    cmanp_relu_bwd(a->dh1, a->h1, (size_t)n * F);
    cmanp_linear_bwd(a->du, gw->dec[0].w, gw->dec[0].b, a->dh1, a->u, w->dec[0].w, n, Din, F, 0);
    const size_t LqD = (size_t)Lq * d;
    for (int i = 0; i < n; i++)
        memcpy(a->GZ + (size_t)i * LqD, a->du + (size_t)i * Din, LqD * sizeof(cmanp_real));
    cmanp_real *S = a->scr;
    for (int l = L - 1; l >= 0; l--) {
        layer_acts *la = &a->lay[l];
        const cmab_w *wl = &w->enc[l], *gl = &gw->enc[l];
        const cmanp_real *Zin = l ? a->lay[l - 1].Z : a->Z0;
        cmanp_ff_block_bwd(a->G0, &gl->latent_ff, a->GZ, &la->ff, &wl->latent_ff, la->Z3, nLq, d, F,
                           0, S);
        cmanp_attn_seg_bwd(a->G1, NULL, &gl->latent_self_attn, a->G0, &la->sa, &wl->latent_self_attn,
                           la->Z2, nLq, NULL, 0, sa, n, d, H, 0, 0, 0, S);
        cmanp_ff_block_bwd(a->G0, &gl->cross_ff, a->G1, &la->cf, &wl->cross_ff, la->Z1, nLq, d, F, 0,
                           S);
        /* GZ becomes the gradient of this layer's input Z_{l-1} (or of the
         * broadcast global latents). */
        cmanp_attn_seg_bwd(a->GZ, a->GB, &gl->cross_attn, a->G0, &la->ca, &wl->cross_attn, Zin, nLq,
                           la->B3, nLp, ca, n, d, H, 0, 0, 0, S);
        cmanp_ff_block_bwd(a->G0, &gl->layer_latent_ff, a->GB, &la->lff, &wl->layer_latent_ff,
                           la->B2, nLp, d, F, 0, S);
        cmanp_attn_seg_bwd(a->G1, NULL, &gl->layer_latent_self_attn, a->G0, &la->lsa,
                           &wl->layer_latent_self_attn, la->B1, nLp, NULL, 0, lsa, n, d, H, 0, 0, 0,
                           S);
        cmanp_ff_block_bwd(a->G0, &gl->layer_cross_ff, a->G1, &la->lcf, &wl->layer_cross_ff, la->B0,
                           nLp, d, F, 0, S);
        // B0 = o . wo^T + bo + latn (broadcast over targets)
        cmanp_linear_bwd(t->bb.dO[l] + t0 * Lp * d, gl->layer_cross_attn.wo,
                         gl->layer_cross_attn.bo, a->G0, t->bb.o[l] + t0 * Lp * d,
                         wl->layer_cross_attn.wo, nLp, d, d, 0);
        cmanp_real *dlatn = t->bb.dlatn + (size_t)l * Lp * d;
        for (int r = 0; r < nLp; r++) {
            const cmanp_real *gr = a->G0 + (size_t)r * d;
            cmanp_real *dr = dlatn + (size_t)(r % Lp) * d;
            for (int x = 0; x < d; x++) dr[x] += gr[x];
        }
    }
    /* Every target started from the same global latents. */
    for (int i = 0; i < n; i++) {
        const cmanp_real *src = a->GZ + (size_t)i * LqD;
        for (size_t x = 0; x < LqD; x++) gw->latents[x] += src[x];
    }
}

/* -------------------------------------------------------------------- run */

static int run(cmhp_train *t, const cmhp_batch *b, int need_grad, cmanp_real *grad, double *loss,
               double *logp, cmanp_err *e) {
    const cmhp_model *m = t->m;
    const cmhp_config *c = &m->cfg;
    size_t P = 0;
    int maxN = 0, rc;
    if ((rc = check_and_offsets(t, b, &P, &maxN, e))) return rc;
    if ((size_t)c->num_marks * c->num_rates > CMHP_MAX_RATES * 64)
        return cmanp_err_set(e, CMANP_ERANGE,
                             "cmhp training supports num_marks x recency rates <= %d (got %d)",
                             CMHP_MAX_RATES * 64, c->num_marks * c->num_rates);
    batch_bufs probe;
    chunk_acts cprobe;
    if ((rc = grow(&t->barena, &t->barena_cap, bind_batch(m, P, maxN, NULL, &probe, need_grad), e)))
        return rc;
    if ((rc = grow(&t->carena, &t->carena_cap, bind_chunk(m, t->TC, NULL, &cprobe, need_grad), e)))
        return rc;
    if (P > t->tk_cap) {
        cmanp_free(t->tk);
        t->tk_cap = 0;
        t->tk = cmanp_malloc(P * sizeof *t->tk);
        if (!t->tk) return cmanp_err_nomem(e);
        t->tk_cap = P;
    }
    bind_batch(m, P, maxN, t->barena, &t->bb, need_grad);
    bind_chunk(m, t->TC, t->carena, &t->a, need_grad);
    if ((rc = stage(t, b, 1, e))) return rc;

    const int L = c->num_layers, d = c->d_model, Lp = c->num_latents_per_layer;
    const double log_s = log(c->time_scale);
    size_t NT = 0;
    for (int s = 0; s < b->n_seq; s++)
        NT += b->n[s] > b->first_target ? (size_t)(b->n[s] - b->first_target) : 0;
    if (need_grad && NT == 0)
        return cmanp_err_set(e, CMANP_EINVAL,
                             "cmhp batch: no targets (every sequence has at most first_target = %d "
                             "events)",
                             b->first_target);
    const double gscale = NT ? 1.0 / (double)NT : 0.0;
    if (need_grad) {
        memset(grad, 0, m->layout.n_params * sizeof(cmanp_real));
        cmhp_weights_bind(c, grad, &t->gw);
        memset(t->bb.dlatn, 0, (size_t)L * Lp * d * sizeof(cmanp_real));
        memset(t->bb.dqs, 0, (size_t)L * Lp * d * sizeof(cmanp_real));
    }
    for (int l = 0; l < L; l++) scan_fwd(t, b, l, P);

    /* Whether a global row is a target: its index within its sequence. */
    double lsum = 0;
    int s_cur = 0;
    for (size_t t0 = 0; t0 < P; t0 += (size_t)t->TC) {
        const int n = P - t0 < (size_t)t->TC ? (int)(P - t0) : t->TC;
        chunk_fwd(t, t0, n);
        for (int i = 0; i < n; i++) {
            const size_t q = t0 + (size_t)i;
            while (t->off[s_cur + 1] <= q) s_cur++;
            const int is_target = (int)(q - t->off[s_cur]) >= b->first_target;
            cmanp_real *dr = need_grad ? t->a.draw + (size_t)i * m->dout : NULL;
            const cmanp_real *raw = t->a.raw + (size_t)i * m->dout;
            double lp;
            if (is_target) {
                lp = cmhp_head(raw, c->num_mix, c->num_marks, t->bb.taus[q], t->tk[q], dr, gscale);
                lsum += lp - log_s;
            } else {
                lp = cmhp_head(raw, c->num_mix, c->num_marks, t->bb.taus[q], t->tk[q], NULL, 0);
                if (dr) memset(dr, 0, (size_t)m->dout * sizeof(cmanp_real));
            }
            t->bb.lp[q] = lp - log_s;
        }
        if (need_grad) chunk_bwd(t, t0, n);
    }
    const double l = NT ? -lsum / (double)NT : 0.0;
    if (loss) *loss = l;
    if (logp) memcpy(logp, t->bb.lp, P * sizeof(double));
    if ((need_grad || loss) && !isfinite(l))
        return cmanp_err_set(e, CMANP_ENUMERIC, "cmhp training loss is not finite (%g)", l);
    if (!need_grad) return CMANP_OK;

    for (int l2 = L - 1; l2 >= 0; l2--) scan_bwd(t, b, l2, P);
    // E rows: the sink at position 0 of each sequence, event p-1 at position p
    for (int s = 0; s < b->n_seq; s++) {
        const size_t q0 = t->off[s];
        for (int p = 0; p < b->n[s]; p++) {
            const cmanp_real *gr = t->bb.dE + (q0 + p) * d;
            cmanp_real *dst = p == 0 ? t->gw.sink : t->gw.mark_emb + (size_t)b->k[q0 + p - 1] * d;
            for (int x = 0; x < d; x++) dst[x] += gr[x];
        }
    }
    return CMANP_OK;
}

int cmhp_train_grad(cmhp_train *t, const cmhp_batch *b, double *loss, cmanp_real *grad,
                    cmanp_err *e) {
    if (!grad) return cmanp_err_set(e, CMANP_EINVAL, "cmhp_train_grad: grad is NULL");
    return run(t, b, 1, grad, loss, NULL, e);
}

int cmhp_train_forward(cmhp_train *t, const cmhp_batch *b, double *loss, double *logp,
                       cmanp_err *e) {
    return run(t, b, 0, NULL, loss, logp, e);
}
