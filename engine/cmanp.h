/* cmanp.h - Constant Memory Attentive Neural Processes: the public engine API.
 *
 *   model      weights in one float32 buffer + data-independent constants
 *   state      the constant-size summary of any number of context rows:
 *              per layer, head and own latent a float64 log-constant and a
 *              normalised value sum (cmab.h)
 *   cond       streams rows into a state in blocks of block_rows (adds and
 *              removals), with its scratch allocated once
 *   readout    every layer's latents computed from a state, plus the decoder's
 *              keys/values: the constant-cost part between conditioning and
 *              decoding any number of targets
 *
 * Conventions: rows are float32 (n, dim_x + dim_y), x columns first; targets
 * (M, dim_x); outputs (M, dim_y).  Functions return CMANP_OK or an error code
 * and fill the optional cmanp_err.
 */
#ifndef CMANP_H
#define CMANP_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "cmab.h"
#include "err.h"
#include "params.h"
#include "safetensors.h"
#include "team.h"

#define CMANP_VERSION "0.1.0"
#define CMANP_DEFAULT_BLOCK_ROWS 256
/* Targets decoded per batch: the feed-forward's first product (chunk x 2F x d)
 * stays under OpenBLAS's small-matrix limit (M N K <= 10^6) at the
 * reference configuration, which 64 would exceed. */
#define CMANP_PREDICT_CHUNK 48
/* A readout runs in this many row parts (cmab_readout_step): 64-row
 * products at the reference configuration, which OpenBLAS multiplies
 * without packing, and work for two threads.  Results depend on it, not on
 * the thread count. */
#ifndef CMANP_READOUT_PARTS
#define CMANP_READOUT_PARTS 2
#endif

typedef struct cmanp_model {
    cmanp_config cfg;
    cmanp_layout layout;
    cmanp_real *params;          /* (n_params) */
    cmanp_weights w;        /* views into params */
    cmab_dims dims;
    cmanp_real *consts;          /* (L, 3, Lp, d): per layer latn, qs, qs^T */
    cmab_consts lc[CMANP_MAX_LAYERS];
    uint64_t fingerprint;   /* hash of config and every parameter bit */
    /* The decoder's weight matrices transposed to (in, out), so that decoding
     * multiplies with row-major NN products (OpenBLAS's small-matrix kernels:
     * ~20% faster per target than the NT products on the stored layout). */
    cmanp_real *dec_t;                          /* cmanp_model_refresh fills it */
    const cmanp_real *qemb_t[CMANP_MAX_EMB];    /* query embedder: (dx, d), then (d, d) */
    cmanp_attn_wt dec_attn_t[CMANP_MAX_LAYERS];
    cmanp_ff_wt dec_ff_t[CMANP_MAX_LAYERS];
    const cmanp_real *pred0_t, *pred2_t;        /* (d, F), (F, 2 dy) */
} cmanp_model;

/* A model with the given config and all parameters zero (fill params, then
 * call cmanp_model_refresh). */
int cmanp_model_new(cmanp_model **out, const cmanp_config *cfg, cmanp_err *e);
/* Recompute constants and fingerprint after params changed (training). */
void cmanp_model_refresh(cmanp_model *m);
void cmanp_model_free(cmanp_model *m);

/* Safetensors I/O (model_io.c).  Every tensor of the layout must be present,
 * F32, with the layout's shape; unexpected tensors are rejected; config comes
 * from __metadata__.config. */
int cmanp_model_from_st(cmanp_model **out, const cmanp_st *st, cmanp_err *e);
int cmanp_model_load_bytes(cmanp_model **out, const void *bytes, size_t len, cmanp_err *e);
int cmanp_model_load_file(cmanp_model **out, const char *path, cmanp_err *e);
/* note may be NULL. */
int cmanp_model_save_bytes(const cmanp_model *m, const char *note, unsigned char **out,
                           size_t *len, cmanp_err *e);
int cmanp_model_save_file(const cmanp_model *m, const char *note, const char *path, cmanp_err *e);
uint64_t cmanp_hash64(const void *data, size_t n, uint64_t seed);

/* ------------------------------------------------------------------ state */

typedef struct cmanp_state {
    uint64_t fingerprint;   /* of the model that produced it */
    int L, H, Lp, dh;
    int64_t n_rows;         /* rows currently summarised */
    double *logc;           /* (L, H*Lp) */
    double *acc;            /* (L, H*Lp, dh) */
} cmanp_state;

int cmanp_state_new(const cmanp_model *m, cmanp_state **out, cmanp_err *e);
void cmanp_state_free(cmanp_state *s);
void cmanp_state_clear(cmanp_state *s);
int cmanp_state_copy(cmanp_state *dst, const cmanp_state *src, cmanp_err *e); /* same shape */
/* Views of layer l's state. */
cmab_state cmanp_state_layer(const cmanp_state *s, int l);
/* s = s (+) t: t summarises rows disjoint from s's. */
int cmanp_state_merge(cmanp_state *s, const cmanp_state *t, cmanp_err *e);
/* Check that s was produced by m. */
int cmanp_state_check(const cmanp_model *m, const cmanp_state *s, cmanp_err *e);

/* Serialised form (state_io.c; format in docs/state-format.md). */
size_t cmanp_state_encoded_size(const cmanp_state *s);
void cmanp_state_encode(const cmanp_state *s, unsigned char *out); /* encoded_size bytes */
/* Decode an untrusted BLOB: header and sizes are validated before data is read;
 * with m non-NULL the fingerprint and dims must match m.  *out allocated. */
int cmanp_state_decode(const cmanp_model *m, const void *buf, size_t len, cmanp_state **out,
                       cmanp_err *e);
/* Header-only inspection (for *_state_info). */
typedef struct cmanp_state_header {
    uint32_t version;
    uint64_t fingerprint;
    int64_t n_rows;
    int L, H, Lp, dh;
    size_t bytes;
} cmanp_state_header;
int cmanp_state_peek(const void *buf, size_t len, cmanp_state_header *h, cmanp_err *e);
#define CMANP_STATE_FORMAT_VERSION 1
/* Row counts are limited to 2^53 (exact in a double and in JSON): decoding
 * rejects a state claiming more, merging and adding refuse to exceed it, so
 * row arithmetic never overflows int64. */
#define CMANP_STATE_MAX_ROWS (INT64_C(1) << 53)

/* -------------------------------------------------------------- conditioner */

typedef struct cmanp_cond cmanp_cond;

/* block_rows <= 0 selects CMANP_DEFAULT_BLOCK_ROWS. */
int cmanp_cond_new(const cmanp_model *m, int block_rows, cmanp_cond **out, cmanp_err *e);
void cmanp_cond_free(cmanp_cond *c);
/* Queue rows (n, dx+dy) to add to / remove from s; full blocks are folded as
 * they fill.  Non-finite values are rejected (CMANP_ENUMERIC). Removing rows
 * that were never added gives meaningless results (the engine cannot know). */
int cmanp_cond_add(cmanp_cond *c, cmanp_state *s, const cmanp_real *xy, int n, cmanp_err *e);
int cmanp_cond_remove(cmanp_cond *c, cmanp_state *s, const cmanp_real *xy, int n, cmanp_err *e);
/* Fold whatever is queued: call before reading s. */
int cmanp_cond_flush(cmanp_cond *c, cmanp_state *s, cmanp_err *e);
/* Rows fed per cmab fold so far and removals that hit cancellation (diagnostics). */
int64_t cmanp_cond_folds(const cmanp_cond *c);
int64_t cmanp_cond_cancellations(const cmanp_cond *c);
/* Context embeddings E (n, d) of rows xy (n, dx+dy) (uses c's scratch). */
int cmanp_cond_embed(cmanp_cond *c, const cmanp_real *xy, int n, cmanp_real *E, cmanp_err *e);

/* ------------------------------------------------------------------ readout */

typedef struct cmanp_readout cmanp_readout;

int cmanp_readout_new(const cmanp_model *m, cmanp_readout **out, cmanp_err *e);
void cmanp_readout_free(cmanp_readout *r);
/* Threads (1..CMANP_TEAM_MAX, default 1) for cmanp_readout_compute (up to
 * CMANP_READOUT_PARTS) and cmanp_predict (one per batch of
 * CMANP_PREDICT_CHUNK targets), created per call and joined before it
 * returns.  Results are bit-identical for every count (team.h). */
int cmanp_readout_set_threads(cmanp_readout *r, int n, cmanp_err *e);
int cmanp_readout_threads(const cmanp_readout *r);
/* Compute every layer's latents from s (constant cost in the number of rows). */
int cmanp_readout_compute(cmanp_readout *r, const cmanp_state *s, cmanp_err *e);
/* Encoder outputs Z_0..Z_{L-1}: (L, Lq, d). */
const cmanp_real *cmanp_readout_latents(const cmanp_readout *r);
/* Decode M targets x (M, dx) -> mean, std (M, dy); h (M, d) optional (final
 * LayerNorm output). */
int cmanp_predict(cmanp_readout *r, const cmanp_real *x, int M, cmanp_real *mean, cmanp_real *std, cmanp_real *h,
                  cmanp_err *e);
/* log N(y; mean, std^2) summed over dy, in float64. */
double cmanp_gauss_logp(const cmanp_real *y, const cmanp_real *mean, const cmanp_real *std, int dy);

/* FLOPs (multiply-add = 2) per context row folded into a state, per state
 * readout, and per decoded target; see docs/performance.md. */
double cmanp_flops_per_row(const cmanp_config *c);
double cmanp_flops_per_readout(const cmanp_config *c);
double cmanp_flops_per_target(const cmanp_config *c);

#endif
