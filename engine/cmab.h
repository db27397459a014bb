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

/* The readout in parts, for threads.  Every operation of a readout is per
 * row except the three attentions that read all rows of B or Z as keys, so
 * a readout is CMAB_READOUT_STEPS steps; step j of part p (p < parts)
 * computes p's rows (cmab_part_rows of Lp for B, of Lq for Z):
 *   0  B = cross-attention output from the state; FF; keys/values of B for
 *      B's self-attention -> kv[0]
 *   1  B's self-attention; FF; keys/values of B for Z's cross-attention -> kv[1]
 *   2  Z's cross-attention to B; FF; keys/values of Z for its self-attention -> kv[2]
 *   3  Z's self-attention; FF
 * All parts of step j must finish before any part starts step j+1 (j < 3);
 * step 0 of the next layer may start while step 3 runs (it touches B and
 * kv[0] only, and step 3 reads kv[2] and its own rows of Z).  With parts == 1
 * the steps do exactly what cmab_readout does; the parts change only the
 * row count of each product, so results depend on parts, never on threads. */
#define CMAB_READOUT_STEPS 4
typedef struct cmab_readout_buf {
    cmanp_real *B;        /* (Lp, d) the block's own latents */
    cmanp_real *kv[3];    /* (max(Lp, Lq), 2d) keys/values of the steps above */
    cmanp_real *kt[3];    /* (d, max(Lp, Lq)) their keys transposed */
} cmab_readout_buf;
size_t cmab_readout_buf_floats(const cmab_dims *k);
void cmab_readout_buf_bind(const cmab_dims *k, cmab_readout_buf *b, cmanp_real *mem);
/* Scratch of one thread running parts of a readout split into `parts`. */
size_t cmab_readout_part_floats(const cmab_dims *k, int parts);
/* Rows r0..r1-1 of n form part p of `parts`. */
void cmab_part_rows(int n, int parts, int p, int *r0, int *r1);
void cmab_readout_step(const cmab_dims *k, const cmab_w *w, const cmab_consts *c, const cmab_state *s,
                       const cmanp_real *Zin, cmanp_real *Zout, const cmab_readout_buf *b,
                       cmanp_real *scratch, int step, int part, int parts);

#endif
