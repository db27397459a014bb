/* arena.h - bump allocation of training activations inside one arena,
 * shared by the CMANP (train.c) and CMHP (cmhp_train.c) training steps.
 *
 * A binder is called twice: with base == NULL it only counts the arena's
 * size, then with the allocated block it hands out the same pointers in the
 * same order.  Every tensor starts on a 64-byte boundary (vector loads, no
 * false sharing between lanes).
 */
#ifndef CMANP_ARENA_H
#define CMANP_ARENA_H

#include <stddef.h>

#include "ops.h"
#include "real.h"

typedef struct cmanp_arena {
    cmanp_real *base; /* NULL: only count */
    size_t n;         /* taken so far, in cmanp_real units */
} cmanp_arena;

/* n values (rounded up to 64 bytes); NULL while counting. */
static inline cmanp_real *cmanp_arena_take(cmanp_arena *a, size_t n) {
    cmanp_real *p = a->base ? a->base + a->n : NULL;
    const size_t align = 64 / sizeof(cmanp_real);
    a->n += (n + align - 1) / align * align;
    return p;
}

/* The activations one attention block keeps for its backward: nx query
 * rows, ncn normalised context rows (0: self-attention), nkv key/value
 * rows, nout output rows, np attention probabilities, width d. */
void cmanp_arena_take_attn(cmanp_arena *a, cmanp_attn_acts *acts, size_t nx, size_t ncn,
                           size_t nkv, size_t nout, size_t np, size_t d);

#endif
