/* cmab.h - the Constant Memory Attention Block (CMAB) as a reusable block.
 *
 * A CMAB's own latents (Lp, d) cross-attend to an input set, then the global
 * latents (Lq, d) read the block's latents (golden README 3.2).  Only the first
 * cross-attention touches the input set, and its queries do not depend on the
 * data, so the whole dependence on the set is, per head h and latent i,
 *
 *   logc_hi = log sum_j exp(s_hij)                   (float64)
 *   acc_hi  = sum_j exp(s_hij - logc_hi) v_hj        (float64, dh values)
 *
 * which is updated exactly by folding blocks of rows in (any order, any block
 * partition), merged exactly across disjoint sets, and can have rows taken
 * back out.  CMANP stacks L CMABs that all read the same context embeddings;
 * CMHP streams event embeddings through the same block.
 */
#ifndef CMANP_CMAB_H
#define CMANP_CMAB_H

#include <stdint.h>

#include "err.h"
#include "ops.h"
#include "params.h"

typedef struct cmab_dims {
    int d, H, dh, F, Lp, Lq;
} cmab_dims;

/* Data-independent constants of one block, computed once per model. */
typedef struct cmab_consts {
    cmanp_real *latn;   /* (Lp, d)  LN_norm(latents) of layer_cross_attn: queries' input and residual */
    cmanp_real *qs;     /* (Lp, d)  latn . to_q^T / sqrt(dh): pre-scaled queries */
    cmanp_real *qst;    /* (d, Lp)  qs transposed (cmab_consts_transpose), or NULL: the fold's
                           score products then take qs as stored (NT, ~30% slower) */
} cmab_consts;

/* Views of one block's state inside a larger buffer. */
typedef struct cmab_state {
    double *logc;  /* (H*Lp)      index h*Lp + i; -inf while empty */
    double *acc;   /* (H*Lp, dh) */
} cmab_state;

/* Scratch for folding up to max_rows rows at a time. */
size_t cmab_fold_scratch_floats(const cmab_dims *k, int max_rows);

void cmab_consts_compute(const cmab_dims *k, const cmab_w *w, cmanp_real *latn, cmanp_real *qs);
/* qst (d, Lp) = qs^T: the layout the fold multiplies with (cmab_state_fold). */
void cmab_consts_transpose(const cmab_dims *k, const cmanp_real *qs, cmanp_real *qst);
void cmab_state_reset(const cmab_dims *k, cmab_state *s);

/* Fold (sign = +1) or take out (sign = -1) the rows E (n, d) of the block's
 * input set.  Removal uses the exact inverse of the update in float64
 * (log1mexp form); its accuracy is discussed in docs/numerics.md.
 * scratch: cmab_fold_scratch_floats(k, n) floats.  Returns the number of
 * (h, i) pairs where removal hit catastrophic cancellation (removed mass within
 * 2^-40 of the total), 0 for additions. */
int cmab_state_fold(const cmab_dims *k, const cmab_w *w, const cmab_consts *c, cmab_state *s,
                    const cmanp_real *E, int n, int sign, cmanp_real *scratch);

/* s = s (+) t, for states of disjoint row sets. */
void cmab_state_merge(const cmab_dims *k, cmab_state *s, const cmab_state *t);

/* Readout: the block's output given its state and the incoming global latents.
 * Zin (Lq, d) -> Zout (Lq, d) (may alias).  scratch: cmab_readout_scratch_floats. */
size_t cmab_readout_scratch_floats(const cmab_dims *k);
void cmab_readout(const cmab_dims *k, const cmab_w *w, const cmab_consts *c, const cmab_state *s,
                  const cmanp_real *Zin, cmanp_real *Zout, cmanp_real *scratch);

#endif
