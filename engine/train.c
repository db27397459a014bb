/* train.c - training forward + backward over batches of tasks (see train.h).
 *
 * Structure: the batch's tasks are split into contiguous lanes (one per
 * thread); a lane processes its tasks in micro-batches of up to `chunk` tasks.
 * For one micro-batch of T tasks with NC context rows and NT target rows in
 * total, the forward pass (golden README section 3, one-block conditioning)
 * keeps every activation the backward pass needs in one arena:
 *
 *   embedder        xy (NC, W) -> E (NC, d)
 *   encoder layer l  B0..B3 (T Lp, d): the layer's own latents, per task;
 *                    Z1..Z3, Z_l (T Lq, d): the global latents, per task
 *   decoder layer l  T1, T2 (NT, d)
 *   head             h (NT, d), hid (NT, F), out (NT, 2 dy)
 *
 * Rows of different tasks are stacked, so per-row ops are single gemms; the
 * attention blocks get a cmanp_seg per task saying where its queries, keys
 * and probabilities are.  The first attention of each encoder layer has
 * data-independent queries (the layer's latents): they are computed once per
 * micro-batch and shared by all its tasks (shared_q).
 */
#include "train.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "arena.h"
#include "ops_bwd.h"

/* --------------------------------------------------------------- activations */

/* A feed-forward block's activations plus Phi(gate) (cmanp_ff_train_fwd). */
typedef struct ff_tacts {
    cmanp_ff_acts f;
    cmanp_real *cdf;      /* (rows, F) */
} ff_tacts;

typedef struct enc_acts {
    cmanp_attn_acts lca;  /* layer_cross_attn: own latents (shared queries) read E */
    cmanp_real *B0;       /* (T Lp, d) */
    ff_tacts lcf;
    cmanp_real *B1;       /* (T Lp, d) */
    cmanp_attn_acts lsa;
    cmanp_real *B2;       /* (T Lp, d) */
    ff_tacts lff;
    cmanp_real *B3;       /* (T Lp, d) */
    cmanp_attn_acts ca;   /* global latents read B3 */
    cmanp_real *Z1;       /* (T Lq, d) */
    ff_tacts cf;
    cmanp_real *Z2;       /* (T Lq, d) */
    cmanp_attn_acts sa;
    cmanp_real *Z3;       /* (T Lq, d) */
    ff_tacts ff;
    cmanp_real *Z;        /* (T Lq, d) Z_l, read by decoder layer l and encoder layer l+1 */
} enc_acts;

typedef struct dec_acts {
    cmanp_attn_acts ca;
    cmanp_real *T1;       /* (NT, d) */
    ff_tacts ff;
    cmanp_real *T2;       /* (NT, d) */
} dec_acts;

typedef struct fwd_acts {
    cmanp_real *xy;                    /* (NC, dx + dy) context rows */
    cmanp_real *xt;                    /* (NT, dx) */
    cmanp_real *yt;                    /* (NT, dy) */
    cmanp_real *emb[CMANP_MAX_EMB];    /* (NC, d) post-ReLU outputs of the embedder's Linears */
    cmanp_real *E;                     /* (NC, d) context embeddings */
    enc_acts enc[CMANP_MAX_LAYERS];
    cmanp_real *qemb[CMANP_MAX_EMB];   /* (NT, d) */
    cmanp_real *T0;                    /* (NT, d) target embeddings */
    dec_acts dec[CMANP_MAX_LAYERS];
    cmanp_real *h, *h_mean, *h_rstd;   /* (NT, d), (NT), (NT) final LayerNorm */
    cmanp_real *hid;                   /* (NT, F) after ReLU */
    cmanp_real *out;                   /* (NT, 2 dy) mean | raw std */
} fwd_acts;

typedef struct bwd_bufs {
    cmanp_real *dE;                    /* (NC, d) summed over the encoder layers */
    cmanp_real *dZ[CMANP_MAX_LAYERS];  /* (T Lq, d) decoder layer l + encoder layer l+1 */
    cmanp_real *G0, *G1, *G2;          /* (max rows, d) gradients flowing through the chain */
    cmanp_real *dout;                  /* (NT, 2 dy) */
    cmanp_real *dhid;                  /* (NT, F) */
    cmanp_real *dh;                    /* (NT, d) */
    cmanp_real *scratch;               /* block backward scratch */
} bwd_bufs;

/* One micro-batch: tasks t0 .. t0+T-1, global context rows c0 .. c0+NC-1,
 * global target rows r0 .. r0+NT-1. */
typedef struct mbatch {
    int t0, T;
    size_t c0, NC, r0, NT;
    int max_nc, max_nt;
} mbatch;

/* Attention segment kinds; CA0 is layer 0's cross_attn, whose queries (the
 * global latents) are shared by all tasks. */
enum { SEG_LCA, SEG_LSA, SEG_CA0, SEG_CA, SEG_SA, SEG_DEC, SEG_KINDS };

typedef struct lane {
    struct cmanp_train *t;
    int lo, hi;                 /* tasks of the current call */
    cmanp_real *fwd;            /* forward arena */
    size_t fwd_cap;             /* floats */
    cmanp_real *bwd;            /* backward arena */
    size_t bwd_cap;
    cmanp_real *grad;           /* (n_params) private gradient, lanes > 0 */
    cmanp_real *gout;           /* where this lane's gradient goes in the current call */
    cmanp_weights gw;           /* typed views of gout */
    cmanp_seg *seg;             /* (SEG_KINDS, seg_cap) */
    int seg_cap;
    fwd_acts a;
    bwd_bufs g;
    double lsum;                /* sum of logp over the lane's targets */
} lane;

struct cmanp_train {
    const cmanp_model *m;
    int threads, chunk;
    lane lanes[CMANP_TRAIN_MAX_THREADS];
    /* the current call */
    const cmanp_batch *b;
    size_t *coff, *toff;        /* (n_tasks + 1) prefix sums of nc and nt */
    int off_cap;
    int need_grad;
    double scale;               /* 1 / total targets */
    double *out_logp;
    cmanp_real *out_mean, *out_std;
};

/* Activations live in arenas (arena.h).  z is only the feed-forward's
 * intermediate: the backward recomputes it from u and Phi(gate), so every
 * block shares one buffer. */
static void bind_ff(cmanp_arena *b, ff_tacts *t, size_t n, size_t d, size_t F, cmanp_real *z) {
    t->f.xn = cmanp_arena_take(b, n * d);
    t->f.mean = cmanp_arena_take(b, n);
    t->f.rstd = cmanp_arena_take(b, n);
    t->f.u = cmanp_arena_take(b, n * 2 * F);
    t->f.z = z;
    t->cdf = cmanp_arena_take(b, n * F);
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* Binds (or, with base NULL, sizes) the forward arena for micro-batch mb. */
static size_t bind_fwd(const cmanp_config *c, const mbatch *mb, cmanp_real *base, fwd_acts *a) {
    cmanp_arena b = {base, 0};
    const size_t d = (size_t)c->d_model, F = (size_t)c->dim_feedforward, H = (size_t)c->nhead;
    const size_t Lp = (size_t)c->num_latents_per_layer, Lq = (size_t)c->num_latents;
    const size_t T = (size_t)mb->T, NC = mb->NC, NT = mb->NT;
    const int E = cmanp_config_emb_layers(c);
    a->xy = cmanp_arena_take(&b, NC * (size_t)(c->dim_x + c->dim_y));
    a->xt = cmanp_arena_take(&b, NT * (size_t)c->dim_x);
    a->yt = cmanp_arena_take(&b, NT * (size_t)c->dim_y);
    for (int k = 0; k < E - 1; k++) a->emb[k] = cmanp_arena_take(&b, NC * d);
    a->E = cmanp_arena_take(&b, NC * d);
    cmanp_real *z = cmanp_arena_take(&b, max_sz(max_sz(T * Lp, T * Lq), NT) * F);  /* shared FF z */
    for (int l = 0; l < c->num_layers; l++) {
        enc_acts *el = &a->enc[l];
        cmanp_arena_take_attn(&b, &el->lca, Lp, NC, NC, T * Lp, H * Lp * NC, d);
        el->B0 = cmanp_arena_take(&b, T * Lp * d);
        bind_ff(&b, &el->lcf, T * Lp, d, F, z);
        el->B1 = cmanp_arena_take(&b, T * Lp * d);
        cmanp_arena_take_attn(&b, &el->lsa, T * Lp, 0, T * Lp, T * Lp, T * H * Lp * Lp, d);
        el->B2 = cmanp_arena_take(&b, T * Lp * d);
        bind_ff(&b, &el->lff, T * Lp, d, F, z);
        el->B3 = cmanp_arena_take(&b, T * Lp * d);
        cmanp_arena_take_attn(&b, &el->ca, T * Lq, T * Lp, T * Lp, T * Lq, T * H * Lq * Lp, d);
        el->Z1 = cmanp_arena_take(&b, T * Lq * d);
        bind_ff(&b, &el->cf, T * Lq, d, F, z);
        el->Z2 = cmanp_arena_take(&b, T * Lq * d);
        cmanp_arena_take_attn(&b, &el->sa, T * Lq, 0, T * Lq, T * Lq, T * H * Lq * Lq, d);
        el->Z3 = cmanp_arena_take(&b, T * Lq * d);
        bind_ff(&b, &el->ff, T * Lq, d, F, z);
        el->Z = cmanp_arena_take(&b, T * Lq * d);
    }
    for (int k = 0; k < E - 1; k++) a->qemb[k] = cmanp_arena_take(&b, NT * d);
    a->T0 = cmanp_arena_take(&b, NT * d);
    for (int l = 0; l < c->num_layers; l++) {
        dec_acts *dl = &a->dec[l];
        cmanp_arena_take_attn(&b, &dl->ca, NT, T * Lq, T * Lq, NT, H * Lq * NT, d);
        dl->T1 = cmanp_arena_take(&b, NT * d);
        bind_ff(&b, &dl->ff, NT, d, F, z);
        dl->T2 = cmanp_arena_take(&b, NT * d);
    }
    a->h = cmanp_arena_take(&b, NT * d);
    a->h_mean = cmanp_arena_take(&b, NT);
    a->h_rstd = cmanp_arena_take(&b, NT);
    a->hid = cmanp_arena_take(&b, NT * F);
    a->out = cmanp_arena_take(&b, NT * 2 * (size_t)c->dim_y);
    return b.n;
}

static size_t bind_bwd(const cmanp_config *c, const mbatch *mb, cmanp_real *base, bwd_bufs *g) {
    cmanp_arena b = {base, 0};
    const size_t d = (size_t)c->d_model, F = (size_t)c->dim_feedforward;
    const size_t Lp = (size_t)c->num_latents_per_layer, Lq = (size_t)c->num_latents;
    const size_t T = (size_t)mb->T, NC = mb->NC, NT = mb->NT;
    const size_t rows = max_sz(max_sz(T * Lp, T * Lq), NT);
    g->dE = cmanp_arena_take(&b, NC * d);
    for (int l = 0; l < c->num_layers; l++) g->dZ[l] = cmanp_arena_take(&b, T * Lq * d);
    g->G0 = cmanp_arena_take(&b, rows * d);
    g->G1 = cmanp_arena_take(&b, rows * d);
    g->G2 = cmanp_arena_take(&b, rows * d);
    g->dout = cmanp_arena_take(&b, NT * 2 * (size_t)c->dim_y);
    g->dhid = cmanp_arena_take(&b, NT * F);
    g->dh = cmanp_arena_take(&b, NT * d);
    const int id = (int)d;
    const int iLp = (int)Lp, iLq = (int)Lq, iT = mb->T;
    size_t s = cmanp_attn_seg_bwd_floats(iLp, (int)NC, iT * iLp, iLp * mb->max_nc, id);
    s = max_sz(s, cmanp_attn_seg_bwd_floats(iT * iLp, 0, iT * iLp, iLp * iLp, id));
    s = max_sz(s, cmanp_attn_seg_bwd_floats(iT * iLq, iT * iLp, iT * iLq, iLq * iLp, id));
    s = max_sz(s, cmanp_attn_seg_bwd_floats(iT * iLq, 0, iT * iLq, iLq * iLq, id));
    s = max_sz(s, cmanp_attn_seg_bwd_floats((int)NT, iT * iLq, (int)NT, mb->max_nt * iLq, id));
    s = max_sz(s, cmanp_ff_bwd_floats((int)rows, id, (int)F));
    s = max_sz(s, 2 * max_sz(NC, NT) * d);
    g->scratch = cmanp_arena_take(&b, s);
    return b.n;
}

/* ------------------------------------------------------------------ segments */

static void build_segs(const cmanp_train *t, const mbatch *mb, cmanp_seg *seg, int cap) {
    const cmanp_config *c = &t->m->cfg;
    const size_t H = (size_t)c->nhead;
    const size_t Lp = (size_t)c->num_latents_per_layer, Lq = (size_t)c->num_latents;
    cmanp_seg *lca = seg + SEG_LCA * cap, *lsa = seg + SEG_LSA * cap, *ca = seg + SEG_CA * cap,
              *ca0 = seg + SEG_CA0 * cap,
              *sa = seg + SEG_SA * cap, *dec = seg + SEG_DEC * cap;
    for (int i = 0; i < mb->T; i++) {
        const int bt = mb->t0 + i;
        const size_t cs = t->coff[bt] - mb->c0, ts = t->toff[bt] - mb->r0;  /* local row starts */
        const int nc = t->b->nc[bt], nt = t->b->nt[bt];
        const size_t ti = (size_t)i; /* not I: <complex.h> (via cblas.h) defines it */
        lca[i] = (cmanp_seg){(int)Lp, nc, 0, ti * Lp, cs, H * Lp * cs};
        lsa[i] = (cmanp_seg){(int)Lp, (int)Lp, ti * Lp, ti * Lp, ti * Lp, ti * H * Lp * Lp};
        ca[i] = (cmanp_seg){(int)Lq, (int)Lp, ti * Lq, ti * Lq, ti * Lp, ti * H * Lq * Lp};
        ca0[i] = (cmanp_seg){(int)Lq, (int)Lp, 0, ti * Lq, ti * Lp, ti * H * Lq * Lp};
        sa[i] = (cmanp_seg){(int)Lq, (int)Lq, ti * Lq, ti * Lq, ti * Lq, ti * H * Lq * Lq};
        dec[i] = (cmanp_seg){nt, (int)Lq, ts, ts, ti * Lq, H * Lq * ts};
    }
}

/* ------------------------------------------------------------------- forward */

static void stage_inputs(const cmanp_train *t, const mbatch *mb, fwd_acts *a) {
    const cmanp_config *c = &t->m->cfg;
    const int dx = c->dim_x, dy = c->dim_y, W = dx + dy;
    const cmanp_batch *b = t->b;
    for (size_t i = 0; i < mb->NC; i++) {
        const float *x = b->xc + (mb->c0 + i) * dx;  // (dx)
        const float *y = b->yc + (mb->c0 + i) * dy;  // (dy)
        cmanp_real *r = a->xy + i * W;               // (W)
        for (int k = 0; k < dx; k++) r[k] = (cmanp_real)x[k];
        for (int k = 0; k < dy; k++) r[dx + k] = (cmanp_real)y[k];
    }
    for (size_t i = 0; i < mb->NT * dx; i++) a->xt[i] = (cmanp_real)b->xt[mb->r0 * dx + i];
    if (b->yt)
        for (size_t i = 0; i < mb->NT * dy; i++) a->yt[i] = (cmanp_real)b->yt[mb->r0 * dy + i];
}

static void forward(lane *ln, const mbatch *mb) {
    const cmanp_model *m = ln->t->m;
    const cmanp_config *c = &m->cfg;
    const cmanp_weights *w = &m->w;
    fwd_acts *a = &ln->a;
    const int d = c->d_model, F = c->dim_feedforward, H = c->nhead, L = c->num_layers;
    const int Lp = c->num_latents_per_layer, Lq = c->num_latents, E = cmanp_config_emb_layers(c);
    const int T = mb->T, NC = (int)mb->NC, NT = (int)mb->NT;
    const int cap = ln->seg_cap;
    const cmanp_seg *seg = ln->seg;

    // E (NC, d) = MLP_embedder([x_c | y_c])
    cmanp_mlp_fwd(a->E, a->emb, NULL, a->xy, w->embedder, E, NC, c->dim_x + c->dim_y, d);
    /* Every task starts from the global latents (Lq, d): layer 0's cross_attn
     * takes them as shared queries, so they are normalised and projected once. */
    const cmanp_real *Zin = w->latents;  // (Lq, d) for l = 0, then (T Lq, d)
    for (int l = 0; l < L; l++) {
        enc_acts *el = &a->enc[l];
        const cmab_w *wl = &w->enc[l];
        const int TLp = T * Lp, TLq = T * Lq;
        cmanp_attn_seg_fwd(el->B0, &el->lca, &wl->layer_cross_attn, wl->latents, Lp, a->E, NC,
                           seg + SEG_LCA * cap, T, d, H, 1);
        cmanp_ff_train_fwd(el->B1, &el->lcf.f, el->lcf.cdf, &wl->layer_cross_ff, el->B0, TLp, d,
                           F);
        cmanp_attn_seg_fwd(el->B2, &el->lsa, &wl->layer_latent_self_attn, el->B1, TLp, NULL, 0,
                           seg + SEG_LSA * cap, T, d, H, 0);
        cmanp_ff_train_fwd(el->B3, &el->lff.f, el->lff.cdf, &wl->layer_latent_ff, el->B2, TLp, d,
                           F);
        cmanp_attn_seg_fwd(el->Z1, &el->ca, &wl->cross_attn, Zin, l ? TLq : Lq, el->B3, TLp,
                           seg + (l ? SEG_CA : SEG_CA0) * cap, T, d, H, l == 0);
        cmanp_ff_train_fwd(el->Z2, &el->cf.f, el->cf.cdf, &wl->cross_ff, el->Z1, TLq, d, F);
        cmanp_attn_seg_fwd(el->Z3, &el->sa, &wl->latent_self_attn, el->Z2, TLq, NULL, 0,
                           seg + SEG_SA * cap, T, d, H, 0);
        cmanp_ff_train_fwd(el->Z, &el->ff.f, el->ff.cdf, &wl->latent_ff, el->Z3, TLq, d, F);
        Zin = el->Z;
    }
    // T0 (NT, d) = MLP_query_embedder(x_t)
    cmanp_mlp_fwd(a->T0, a->qemb, NULL, a->xt, w->query_embedder, E, NT, c->dim_x, d);
    const cmanp_real *Tin = a->T0;  // (NT, d)
    for (int l = 0; l < L; l++) {
        dec_acts *dl = &a->dec[l];
        cmanp_attn_seg_fwd(dl->T1, &dl->ca, &w->dec[l].cross_attn, Tin, NT, a->enc[l].Z, T * Lq,
                           seg + SEG_DEC * cap, T, d, H, 0);
        cmanp_ff_train_fwd(dl->T2, &dl->ff.f, dl->ff.cdf, &w->dec[l].cross_ff, dl->T1, NT, d,
                           F);
        Tin = dl->T2;
    }
    // h (NT, d) = LN(T); hid (NT, F) = ReLU(h . pred0^T + b); out (NT, 2dy)
    cmanp_ln_fwd(a->h, a->h_mean, a->h_rstd, Tin, &w->norm, NT, d);
    cmanp_linear_fwd(a->hid, a->h, w->pred0.w, w->pred0.b, NT, d, F);
    cmanp_relu_fwd(a->hid, (size_t)NT * F);
    cmanp_linear_fwd(a->out, a->hid, w->pred2.w, w->pred2.b, NT, F, 2 * c->dim_y);
}

/* ------------------------------------------------------------------ backward */

static void backward(lane *ln, const mbatch *mb) {
    const cmanp_model *m = ln->t->m;
    const cmanp_config *c = &m->cfg;
    const cmanp_weights *w = &m->w;
    const cmanp_weights *gw = &ln->gw;
    const fwd_acts *a = &ln->a;
    const bwd_bufs *g = &ln->g;
    const int d = c->d_model, F = c->dim_feedforward, H = c->nhead, L = c->num_layers;
    const int Lp = c->num_latents_per_layer, Lq = c->num_latents, E = cmanp_config_emb_layers(c);
    const int T = mb->T, NC = (int)mb->NC, NT = (int)mb->NT, dy = c->dim_y;
    const int TLp = T * Lp, TLq = T * Lq;
    const int cap = ln->seg_cap;
    const cmanp_seg *seg = ln->seg;
    cmanp_real *S = g->scratch;

    /* ---- head: g->dout (NT, 2dy) holds d loss / d out */
    cmanp_linear_bwd(g->dhid, gw->pred2.w, gw->pred2.b, g->dout, a->hid, w->pred2.w, NT, F, 2 * dy,
                     0);
    cmanp_relu_bwd(g->dhid, a->hid, (size_t)NT * F);
    cmanp_linear_bwd(g->dh, gw->pred0.w, gw->pred0.b, g->dhid, a->h, w->pred0.w, NT, d, F, 0);
    const cmanp_real *Tlast = a->dec[L - 1].T2;  // (NT, d)
    cmanp_ln_bwd(g->G0, gw->norm.g, gw->norm.b, g->dh, Tlast, a->h_mean, a->h_rstd, w->norm.g, NT,
                 d, 0);

    /* ---- decoder: G0 (NT, d) is d loss / d T2[l] */
    for (int l = L - 1; l >= 0; l--) {
        const dec_acts *dl = &a->dec[l];
        const cmanp_real *Tin = l ? a->dec[l - 1].T2 : a->T0;  // (NT, d)
        cmanp_ff_train_bwd(g->G1, &gw->dec[l].cross_ff, g->G0, &dl->ff.f, dl->ff.cdf,
                           &w->dec[l].cross_ff, dl->T1, NT, d, F, 0, S);
        /* dZ[l] is written here first; encoder layer l+1 adds to it below. */
        cmanp_attn_seg_bwd(g->G0, g->dZ[l], &gw->dec[l].cross_attn, g->G1, &dl->ca,
                           &w->dec[l].cross_attn, Tin, NT, a->enc[l].Z, TLq, seg + SEG_DEC * cap,
                           T, d, H, 0, 0, 0, S);
    }
    cmanp_mlp_bwd(NULL, gw->query_embedder, g->G0, a->xt, a->qemb, w->query_embedder, E, NT,
                  c->dim_x, d, S);

    /* ---- encoder, last layer first: dZ[l] is complete when layer l is reached */
    for (int l = L - 1; l >= 0; l--) {
        const enc_acts *el = &a->enc[l];
        const cmab_w *wl = &w->enc[l];
        const cmab_w *gl = &gw->enc[l];
        const cmanp_real *Zin = l ? a->enc[l - 1].Z : w->latents;  // (T Lq, d) or (Lq, d)
        cmanp_ff_train_bwd(g->G0, &gl->latent_ff, g->dZ[l], &el->ff.f, el->ff.cdf, &wl->latent_ff,
                           el->Z3, TLq, d, F, 0, S);
        cmanp_attn_seg_bwd(g->G1, NULL, &gl->latent_self_attn, g->G0, &el->sa,
                           &wl->latent_self_attn, el->Z2, TLq, NULL, 0, seg + SEG_SA * cap, T, d,
                           H, 0, 0, 0, S);
        cmanp_ff_train_bwd(g->G0, &gl->cross_ff, g->G1, &el->cf.f, el->cf.cdf, &wl->cross_ff,
                           el->Z1, TLq, d, F, 0, S);
        /* Z_{l-1} also feeds decoder layer l-1, whose gradient is already in
         * dZ[l-1]; layer 0's queries are the global latents (a parameter). */
        cmanp_real *dZin = l ? g->dZ[l - 1] : gw->latents;
        cmanp_attn_seg_bwd(dZin, g->G2, &gl->cross_attn, g->G0, &el->ca, &wl->cross_attn, Zin,
                           l ? TLq : Lq, el->B3, TLp, seg + (l ? SEG_CA : SEG_CA0) * cap, T, d, H,
                           l == 0, 1, 0, S);
        cmanp_ff_train_bwd(g->G0, &gl->layer_latent_ff, g->G2, &el->lff.f, el->lff.cdf,
                           &wl->layer_latent_ff, el->B2, TLp, d, F, 0, S);
        cmanp_attn_seg_bwd(g->G1, NULL, &gl->layer_latent_self_attn, g->G0, &el->lsa,
                           &wl->layer_latent_self_attn, el->B1, TLp, NULL, 0, seg + SEG_LSA * cap,
                           T, d, H, 0, 0, 0, S);
        cmanp_ff_train_bwd(g->G0, &gl->layer_cross_ff, g->G1, &el->lcf.f, el->lcf.cdf,
                           &wl->layer_cross_ff, el->B0, TLp, d, F, 0, S);
        /* Queries come from the layer's latents (a parameter); every layer reads
         * the same context embeddings, so dE sums over layers. */
        cmanp_attn_seg_bwd(gl->latents, g->dE, &gl->layer_cross_attn, g->G0, &el->lca,
                           &wl->layer_cross_attn, wl->latents, Lp, a->E, NC, seg + SEG_LCA * cap,
                           T, d, H, 1, 1, l != L - 1, S);
    }
    cmanp_mlp_bwd(NULL, gw->embedder, g->dE, a->xy, a->emb, w->embedder, E, NC,
                  c->dim_x + c->dim_y, d, S);
}

/* --------------------------------------------------------------------- lanes */

static void make_mb(const cmanp_train *t, int t0, int T, mbatch *mb) {
    mb->t0 = t0;
    mb->T = T;
    mb->c0 = t->coff[t0];
    mb->NC = t->coff[t0 + T] - mb->c0;
    mb->r0 = t->toff[t0];
    mb->NT = t->toff[t0 + T] - mb->r0;
    mb->max_nc = mb->max_nt = 0;
    for (int i = t0; i < t0 + T; i++) {
        if (t->b->nc[i] > mb->max_nc) mb->max_nc = t->b->nc[i];
        if (t->b->nt[i] > mb->max_nt) mb->max_nt = t->b->nt[i];
    }
}

/* Makes lane ln big enough for micro-batch mb (allocates only when it grows). */
static int lane_fit(cmanp_train *t, lane *ln, const mbatch *mb, int need_grad, cmanp_err *e) {
    const cmanp_config *c = &t->m->cfg;
    fwd_acts fa;
    bwd_bufs gb;
    size_t nf = bind_fwd(c, mb, NULL, &fa);
    if (nf > ln->fwd_cap) {
        cmanp_free(ln->fwd);
        ln->fwd_cap = 0;
        size_t bytes;
        if (cmanp_mul_size(nf, sizeof(cmanp_real), &bytes))
            return cmanp_err_set(e, CMANP_ERANGE, "training activations overflow size_t");
        ln->fwd = cmanp_malloc(bytes);
        if (!ln->fwd) return cmanp_err_nomem(e);
        ln->fwd_cap = nf;
    }
    if (need_grad) {
        size_t nb = bind_bwd(c, mb, NULL, &gb);
        if (nb > ln->bwd_cap) {
            cmanp_free(ln->bwd);
            ln->bwd_cap = 0;
            size_t bytes;
            if (cmanp_mul_size(nb, sizeof(cmanp_real), &bytes))
                return cmanp_err_set(e, CMANP_ERANGE, "training gradients overflow size_t");
            ln->bwd = cmanp_malloc(bytes);
            if (!ln->bwd) return cmanp_err_nomem(e);
            ln->bwd_cap = nb;
        }
    }
    if (mb->T > ln->seg_cap) {
        cmanp_free(ln->seg);
        ln->seg_cap = 0;
        ln->seg = cmanp_malloc((size_t)SEG_KINDS * mb->T * sizeof *ln->seg);
        if (!ln->seg) return cmanp_err_nomem(e);
        ln->seg_cap = mb->T;
    }
    return CMANP_OK;
}

static void lane_run(lane *ln) {
    cmanp_train *t = ln->t;
    const cmanp_model *m = t->m;
    const cmanp_config *c = &m->cfg;
    ln->lsum = 0.0;
    if (t->need_grad) {
        memset(ln->gout, 0, m->layout.n_params * sizeof(cmanp_real));
        cmanp_weights_bind(c, ln->gout, &ln->gw);
    }
    for (int t0 = ln->lo; t0 < ln->hi; t0 += t->chunk) {
        int T = ln->hi - t0 < t->chunk ? ln->hi - t0 : t->chunk;
        mbatch mb;
        make_mb(t, t0, T, &mb);
        bind_fwd(c, &mb, ln->fwd, &ln->a);
        if (t->need_grad) bind_bwd(c, &mb, ln->bwd, &ln->g);
        build_segs(t, &mb, ln->seg, ln->seg_cap);
        stage_inputs(t, &mb, &ln->a);
        forward(ln, &mb);
        const int NT = (int)mb.NT, dy = c->dim_y;
        cmanp_real *mean = t->out_mean ? t->out_mean + mb.r0 * dy : NULL;
        cmanp_real *std = t->out_std ? t->out_std + mb.r0 * dy : NULL;
        if (t->b->yt) {
            ln->lsum += cmanp_gauss_head(t->need_grad ? ln->g.dout : NULL,
                                         t->out_logp ? t->out_logp + mb.r0 : NULL, mean, std,
                                         ln->a.out, ln->a.yt, NT, dy, c->bound_std, t->scale);
        } else {
            for (int r = 0; r < NT; r++)
                for (int k = 0; k < dy; k++) {
                    const cmanp_real *o = ln->a.out + (size_t)r * 2 * dy;
                    if (mean) mean[(size_t)r * dy + k] = o[k];
                    if (std) std[(size_t)r * dy + k] = cmanp_std_from_raw(o[dy + k], c->bound_std);
                }
        }
        if (t->need_grad) backward(ln, &mb);
    }
}

static void *lane_thread(void *p) {
    lane_run(p);
    return NULL;
}

/* ---------------------------------------------------------------- parallel */

typedef struct pf_job {
    void (*fn)(void *ctx, size_t lo, size_t hi);
    void *ctx;
    size_t lo, hi;
} pf_job;

static void *pf_thread(void *p) {
    pf_job *j = p;
    j->fn(j->ctx, j->lo, j->hi);
    return NULL;
}

void cmanp_parallel_for(int threads, size_t n, void (*fn)(void *ctx, size_t lo, size_t hi),
                        void *ctx) {
    if (threads > CMANP_TRAIN_MAX_THREADS) threads = CMANP_TRAIN_MAX_THREADS;
    if (threads <= 1 || n < 2) {
        fn(ctx, 0, n);
        return;
    }
    pf_job job[CMANP_TRAIN_MAX_THREADS];
    pthread_t th[CMANP_TRAIN_MAX_THREADS];
    int started[CMANP_TRAIN_MAX_THREADS] = {0};
    for (int k = 0; k < threads; k++)
        job[k] = (pf_job){fn, ctx, n * (size_t)k / (size_t)threads,
                          n * (size_t)(k + 1) / (size_t)threads};
    for (int k = 1; k < threads; k++)
        started[k] = pthread_create(&th[k], NULL, pf_thread, &job[k]) == 0;
    fn(ctx, job[0].lo, job[0].hi);
    for (int k = 1; k < threads; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        else
            fn(ctx, job[k].lo, job[k].hi);
    }
}

/* grad[i] += lane k's gradient, k = 1, 2, ... in order (so the sum does not
 * depend on how the elements are split). */
typedef struct reduce_ctx {
    cmanp_train *t;
    cmanp_real *grad;
    int nl;
} reduce_ctx;

static void reduce_range(void *p, size_t lo, size_t hi) {
    reduce_ctx *r = p;
    for (int k = 1; k < r->nl; k++) {
        const cmanp_real *src = r->t->lanes[k].grad;
        for (size_t i = lo; i < hi; i++) r->grad[i] += src[i];
    }
}

/* --------------------------------------------------------------------- API */

int cmanp_train_new(const cmanp_model *m, const cmanp_train_opts *o, cmanp_train **out,
                    cmanp_err *e) {
    *out = NULL;
    int threads = o && o->threads > 0 ? o->threads : 1;
    int chunk = o && o->chunk > 0 ? o->chunk : CMANP_TRAIN_DEFAULT_CHUNK;
    if (threads > CMANP_TRAIN_MAX_THREADS)
        return cmanp_err_set(e, CMANP_EINVAL, "training threads = %d exceeds %d", threads,
                             CMANP_TRAIN_MAX_THREADS);
    cmanp_train *t = cmanp_calloc(1, sizeof *t);
    if (!t) return cmanp_err_nomem(e);
    t->m = m;
    t->threads = threads;
    t->chunk = chunk;
    for (int k = 0; k < threads; k++) t->lanes[k].t = t;
    *out = t;
    return CMANP_OK;
}

void cmanp_train_free(cmanp_train *t) {
    if (!t) return;
    for (int k = 0; k < t->threads; k++) {
        cmanp_free(t->lanes[k].fwd);
        cmanp_free(t->lanes[k].bwd);
        cmanp_free(t->lanes[k].grad);
        cmanp_free(t->lanes[k].seg);
    }
    cmanp_free(t->coff);
    cmanp_free(t->toff);
    cmanp_free(t);
}

size_t cmanp_train_bytes(const cmanp_train *t) {
    size_t n = 0;
    for (int k = 0; k < t->threads; k++) {
        const lane *ln = &t->lanes[k];
        n += (ln->fwd_cap + ln->bwd_cap) * sizeof(cmanp_real);
        if (ln->grad) n += t->m->layout.n_params * sizeof(cmanp_real);
    }
    return n;
}

/* Lanes in use for n tasks, and lane k's task range. */
static int n_lanes(const cmanp_train *t, int n) { return n < t->threads ? n : t->threads; }
/* Contiguous task ranges of about equal work: a task costs its latent rows
 * (Lp + Lq per layer, the same for all tasks) plus its context and target
 * rows, so tasks of different sizes (SQL sources) still balance.  Each lane
 * gets at least one task; the split depends only on the batch. */
static void lane_ranges(cmanp_train *t, int n, int nl) {
    const cmanp_config *c = &t->m->cfg;
    const double fixed = (double)c->num_latents_per_layer + (double)c->num_latents;
    const double total = fixed * n + (double)t->coff[n] + (double)t->toff[n];
    int lo = 0;
    for (int k = 0; k < nl; k++) {
        int hi = lo + 1;
        if (k == nl - 1) {
            hi = n;
        } else {
            const double target = total * (k + 1) / nl;
            /* Extend while the next task's midpoint lies before the target,
             * leaving at least one task for each later lane. */
            while (hi < n - (nl - 1 - k) &&
                   fixed * hi + (double)t->coff[hi] + (double)t->toff[hi] +
                           0.5 * (fixed + (double)t->b->nc[hi] + (double)t->b->nt[hi]) <=
                       target)
                hi++;
        }
        t->lanes[k].lo = lo;
        t->lanes[k].hi = hi;
        lo = hi;
    }
}

static int grow_offsets(cmanp_train *t, int n, cmanp_err *e) {
    if (n + 1 <= t->off_cap) return CMANP_OK;
    cmanp_free(t->coff);
    cmanp_free(t->toff);
    t->off_cap = 0;
    t->coff = cmanp_malloc((size_t)(n + 1) * sizeof *t->coff);
    t->toff = cmanp_malloc((size_t)(n + 1) * sizeof *t->toff);
    if (!t->coff || !t->toff) return cmanp_err_nomem(e);
    t->off_cap = n + 1;
    return CMANP_OK;
}

static int lane_grad_buf(cmanp_train *t, lane *ln, cmanp_err *e) {
    if (ln->grad) return CMANP_OK;
    ln->grad = cmanp_malloc(t->m->layout.n_params * sizeof(cmanp_real));
    return ln->grad ? CMANP_OK : cmanp_err_nomem(e);
}

int cmanp_train_reserve(cmanp_train *t, int n_tasks, int max_nc, int max_nt, int need_grad,
                        cmanp_err *e) {
    if (n_tasks < 1 || max_nc < 1 || max_nt < 1)
        return cmanp_err_set(e, CMANP_EINVAL,
                             "train reserve: n_tasks, max_nc and max_nt must be >= 1 (got %d, %d, "
                             "%d)",
                             n_tasks, max_nc, max_nt);
    int nl = n_lanes(t, n_tasks);
    /* A lane may get up to n_tasks - (nl - 1) tasks (lane_ranges balances
     * work, not counts); a micro-batch holds at most chunk of them. */
    int most = n_tasks - (nl - 1);
    int T = most < t->chunk ? most : t->chunk;
    mbatch mb = {0, T, 0, (size_t)T * max_nc, 0, (size_t)T * max_nt, max_nc, max_nt};
    int rc = grow_offsets(t, n_tasks, e);
    for (int k = 0; !rc && k < nl; k++) {
        rc = lane_fit(t, &t->lanes[k], &mb, need_grad, e);
        if (!rc && need_grad && k > 0) rc = lane_grad_buf(t, &t->lanes[k], e);
    }
    return rc;
}

static int check_batch(const cmanp_config *c, const cmanp_batch *b, int need_y, size_t *NC,
                       size_t *NT, cmanp_err *e) {
    if (!b || b->n_tasks < 1 || !b->nc || !b->nt || !b->xc || !b->yc || !b->xt)
        return cmanp_err_set(e, CMANP_EINVAL,
                             "batch: expected n_tasks >= 1 and non-NULL nc, nt, xc, yc, xt");
    if (need_y && !b->yt)
        return cmanp_err_set(e, CMANP_EINVAL, "batch: yt is NULL but a loss was requested");
    int64_t nc = 0, nt = 0;
    for (int i = 0; i < b->n_tasks; i++) {
        if (b->nc[i] < 1 || b->nt[i] < 1)
            return cmanp_err_set(e, CMANP_EINVAL,
                                 "batch: task %d has %d context and %d target rows (each must be "
                                 ">= 1)",
                                 i, b->nc[i], b->nt[i]);
        nc += b->nc[i];
        nt += b->nt[i];
        if (nc > INT32_MAX / 2 || nt > INT32_MAX / 2)
            return cmanp_err_set(e, CMANP_ERANGE, "batch: too many rows (%lld context, %lld target)",
                                 (long long)nc, (long long)nt);
    }
    const struct { const float *p; size_t n; const char *name; } arr[4] = {
        {b->xc, (size_t)nc * c->dim_x, "xc"},
        {b->yc, (size_t)nc * c->dim_y, "yc"},
        {b->xt, (size_t)nt * c->dim_x, "xt"},
        {b->yt, b->yt ? (size_t)nt * c->dim_y : 0, "yt"},
    };
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < arr[k].n; i++)
            if (!isfinite(arr[k].p[i]))
                return cmanp_err_set(e, CMANP_ENUMERIC, "batch: %s[%zu] is not finite", arr[k].name,
                                     i);
    *NC = (size_t)nc;
    *NT = (size_t)nt;
    return CMANP_OK;
}

static int run(cmanp_train *t, const cmanp_batch *b, int need_grad, cmanp_real *grad,
               double *loss, double *logp, cmanp_real *mean, cmanp_real *std, cmanp_err *e) {
    const cmanp_model *m = t->m;
    size_t NC = 0, NT = 0;
    int rc = check_batch(&m->cfg, b, need_grad || loss || logp, &NC, &NT, e);
    if (rc) return rc;
    const int n = b->n_tasks;
    if ((rc = grow_offsets(t, n, e))) return rc;
    t->coff[0] = t->toff[0] = 0;
    for (int i = 0; i < n; i++) {
        t->coff[i + 1] = t->coff[i] + (size_t)b->nc[i];
        t->toff[i + 1] = t->toff[i] + (size_t)b->nt[i];
    }
    t->b = b;
    t->need_grad = need_grad;
    t->scale = 1.0 / (double)NT;
    t->out_logp = logp;
    t->out_mean = mean;
    t->out_std = std;
    const int nl = n_lanes(t, n);
    lane_ranges(t, n, nl);
    /* Size everything before any thread starts: lanes then cannot fail. */
    for (int k = 0; k < nl; k++) {
        lane *ln = &t->lanes[k];
        for (int t0 = ln->lo; t0 < ln->hi; t0 += t->chunk) {
            mbatch mb;
            make_mb(t, t0, ln->hi - t0 < t->chunk ? ln->hi - t0 : t->chunk, &mb);
            if ((rc = lane_fit(t, ln, &mb, need_grad, e))) return rc;
        }
        if (need_grad) {
            if (k > 0 && (rc = lane_grad_buf(t, ln, e))) return rc;
            ln->gout = k == 0 ? grad : ln->grad;
        }
    }
    pthread_t th[CMANP_TRAIN_MAX_THREADS];
    int started[CMANP_TRAIN_MAX_THREADS] = {0};
    for (int k = 1; k < nl; k++)
        started[k] = pthread_create(&th[k], NULL, lane_thread, &t->lanes[k]) == 0;
    lane_run(&t->lanes[0]);
    /* A lane whose thread could not start runs here: same arithmetic, same bits. */
    for (int k = 1; k < nl; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        else
            lane_run(&t->lanes[k]);
    }
    double lsum = 0.0;
    for (int k = 0; k < nl; k++) lsum += t->lanes[k].lsum;
    if (need_grad && nl > 1) {
        reduce_ctx rc_ = {t, grad, nl};
        cmanp_parallel_for(nl, m->layout.n_params, reduce_range, &rc_);
    }
    t->b = NULL;
    double l = -lsum / (double)NT;
    if (loss) *loss = l;
    if ((need_grad || loss) && !isfinite(l))
        return cmanp_err_set(e, CMANP_ENUMERIC, "training loss is not finite (%g)", l);
    return CMANP_OK;
}

int cmanp_train_grad(cmanp_train *t, const cmanp_batch *b, double *loss, cmanp_real *grad,
                     cmanp_err *e) {
    if (!grad) return cmanp_err_set(e, CMANP_EINVAL, "cmanp_train_grad: grad is NULL");
    return run(t, b, 1, grad, loss, NULL, NULL, NULL, e);
}

int cmanp_train_forward(cmanp_train *t, const cmanp_batch *b, double *loss, double *logp,
                        cmanp_real *mean, cmanp_real *std, cmanp_err *e) {
    return run(t, b, 0, NULL, loss, logp, mean, std, e);
}

int cmanp_eval_tasks(const cmanp_model *m, const cmanp_batch *b, int threads, double *tar_ll,
                     double *logp, cmanp_real *mean, cmanp_real *std, cmanp_err *e) {
    if (!b || b->n_tasks < 1 || !b->nt)
        return cmanp_err_set(e, CMANP_EINVAL, "eval: expected a batch with n_tasks >= 1");
    if (tar_ll && !b->yt)
        return cmanp_err_set(e, CMANP_EINVAL, "eval: yt is NULL but tar_ll was requested");
    cmanp_train_opts o = {threads, 0};
    cmanp_train *t;
    int rc = cmanp_train_new(m, &o, &t, e);
    if (rc) return rc;
    size_t NT = 0;
    for (int i = 0; i < b->n_tasks; i++) NT += b->nt[i] > 0 ? (size_t)b->nt[i] : 0;
    double *lp = logp;
    if (tar_ll && !lp) {
        lp = cmanp_malloc((NT ? NT : 1) * sizeof *lp);
        if (!lp) {
            cmanp_train_free(t);
            return cmanp_err_nomem(e);
        }
    }
    /* Groups of tasks bound the arena: lanes hold `chunk` tasks at a time,
     * whatever the number of tasks. */
    rc = cmanp_train_forward(t, b, NULL, lp, mean, std, e);
    if (!rc && tar_ll) {
        size_t r = 0;
        for (int i = 0; i < b->n_tasks; i++) {
            double s = 0.0;
            for (int j = 0; j < b->nt[i]; j++) s += lp[r + j];
            tar_ll[i] = s / b->nt[i];
            r += (size_t)b->nt[i];
        }
    }
    if (lp != logp) cmanp_free(lp);
    cmanp_train_free(t);
    return rc;
}
