/* params.h - CMANP configuration and the parameter layout.
 *
 * All parameters live in one contiguous float32 buffer.  A table of
 * (name, shape, offset) uses the reference state_dict names (see
 * ../shared/golden/README.md section 2), so a safetensors file written by the
 * authors' code loads directly and ours are written the same way.  The same
 * layout binds any buffer (weights, gradients, Adam moments) to typed
 * pointer structs, llm.c style.
 */
#ifndef CMANP_PARAMS_H
#define CMANP_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "real.h"

typedef struct cmanp_config {
    int dim_x, dim_y;
    int d_model;               /* d */
    int emb_depth;             /* Linear layers per embedding MLP (< 2 behaves as 2) */
    int dim_feedforward;       /* F */
    int nhead;                 /* H; head width dh = d / H */
    int num_layers;            /* L */
    int num_latents;           /* Lq: global latents */
    int num_latents_per_layer; /* Lp: each layer's own latents (read the context) */
    int bound_std;             /* std = 0.05 + 0.95 softplus(r) if set, exp(r) otherwise */
} cmanp_config;

/* Parse the "config" JSON object (string).  Every key is required; unknown keys
 * are rejected (a typo must not silently fall back to a default). */
int cmanp_config_parse(cmanp_config *c, const char *json, cmanp_err *e);
/* Check ranges and divisibility; sizes that would overflow are rejected. */
int cmanp_config_validate(const cmanp_config *c, cmanp_err *e);
/* Canonical JSON (key order fixed); returns bytes written (excluding NUL) or -1. */
int cmanp_config_to_json(const cmanp_config *c, char *buf, size_t cap);
static inline int cmanp_config_emb_layers(const cmanp_config *c) {
    return c->emb_depth < 2 ? 2 : c->emb_depth;
}

typedef struct cmanp_param_info {
    char name[96];
    int ndim;          /* 1 or 2 */
    int shape[2];
    size_t offset;     /* in floats, into the parameter buffer */
    size_t numel;
} cmanp_param_info;

/* ---- typed views into a parameter buffer ---- */
typedef struct { cmanp_real *w, *b; } cmanp_linear_w;   /* w (out, in), b (out) or NULL */
typedef struct { cmanp_real *g, *b; } cmanp_ln_w;       /* (d), (d) */
typedef struct {
    cmanp_ln_w norm, norm_ctx;   /* norm_ctx.g == NULL for self-attention */
    cmanp_real *wq;                   /* (d, d) */
    cmanp_real *wkv;                  /* (2d, d): keys are rows 0..d-1 */
    cmanp_real *wo, *bo;              /* (d, d), (d) */
} cmanp_attn_w;
typedef struct {
    cmanp_ln_w norm;
    cmanp_real *w0, *b0;              /* (2F, d), (2F): rows F..2F-1 are the gate */
    cmanp_real *w2, *b2;              /* (d, F), (d) */
} cmanp_ff_w;

/* One Constant Memory Attention Block: own latents read an input set, then
 * global latents read the block's latents (golden README 3.2). */
typedef struct cmab_w {
    cmanp_real *latents;              /* (Lp, d) */
    cmanp_attn_w layer_cross_attn;
    cmanp_ff_w layer_cross_ff;
    cmanp_attn_w layer_latent_self_attn;
    cmanp_ff_w layer_latent_ff;
    cmanp_attn_w cross_attn;
    cmanp_ff_w cross_ff;
    cmanp_attn_w latent_self_attn;
    cmanp_ff_w latent_ff;
} cmab_w;

typedef struct {
    cmanp_attn_w cross_attn;
    cmanp_ff_w cross_ff;
} cmanp_dec_layer_w;

#define CMANP_MAX_LAYERS 64
#define CMANP_MAX_EMB 16

typedef struct cmanp_weights {
    cmanp_real *latents;                          /* (Lq, d) */
    cmanp_linear_w embedder[CMANP_MAX_EMB];       /* first (d, dx+dy), rest (d, d) */
    cmanp_linear_w query_embedder[CMANP_MAX_EMB]; /* first (d, dx), rest (d, d) */
    cmab_w enc[CMANP_MAX_LAYERS];
    cmanp_dec_layer_w dec[CMANP_MAX_LAYERS];
    cmanp_ln_w norm;
    cmanp_linear_w pred0;                    /* (F, d) */
    cmanp_linear_w pred2;                    /* (2 dy, F) */
} cmanp_weights;

typedef struct cmanp_layout {
    cmanp_param_info *table;
    int n;
    size_t n_params;
} cmanp_layout;

/* Build the table for a validated config (allocates table). */
int cmanp_layout_build(const cmanp_config *c, cmanp_layout *lay, cmanp_err *e);
void cmanp_layout_free(cmanp_layout *lay);
/* Point every member of *w into buf (n_params floats) following the layout. */
void cmanp_weights_bind(const cmanp_config *c, cmanp_real *buf, cmanp_weights *w);
/* Index of a name in the table, or -1. */
int cmanp_layout_find(const cmanp_layout *lay, const char *name);

/* Helper for other models built from the same blocks (CMHP): walk one CMAB's
 * parameters under prefix.  add(ctx, name, rows, cols) returns the pointer for
 * that parameter (cols == 0 for vectors). */
typedef cmanp_real *(*cmanp_param_cb)(void *ctx, const char *name, int rows, int cols);
void cmab_walk(const char *prefix, int d, int F, int Lp, cmanp_param_cb add, void *ctx, cmab_w *w);
void cmanp_attn_walk(const char *prefix, int d, int cross, cmanp_param_cb add, void *ctx,
                     cmanp_attn_w *w);
void cmanp_ff_walk(const char *prefix, int d, int F, cmanp_param_cb add, void *ctx, cmanp_ff_w *w);

/* The one cmanp_param_cb every model's walk is run with: it counts the
 * parameters and their floats (n, off), fills a layout's table when table is
 * set, and returns pointers into buf when buf is set (NULL otherwise). */
typedef struct cmanp_walk_ctx {
    cmanp_param_info *table; /* NULL: count only */
    int n;
    size_t off;
    cmanp_real *buf;         /* NULL: no binding */
} cmanp_walk_ctx;
cmanp_real *cmanp_walk_add(void *ctx, const char *name, int rows, int cols);

/* Reference initialisation of a layout's parameters (params_init.c), PyTorch
 * defaults drawn from seed: Linear weights and biases U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)), LayerNorm gains 1 and biases 0, and N(0, 1) for names
 * ending in "latents" or listed in normal (NULL-terminated, may be NULL). */
void cmanp_params_init(const cmanp_layout *lay, cmanp_real *params, uint64_t seed,
                       const char *const *normal);

#endif
