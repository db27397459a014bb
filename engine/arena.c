/* arena.c - bump allocation of training activations (see arena.h). */
#include "arena.h"

void cmanp_arena_take_attn(cmanp_arena *a, cmanp_attn_acts *acts, size_t nx, size_t ncn,
                           size_t nkv, size_t nout, size_t np, size_t d) {
    acts->xn = cmanp_arena_take(a, nx * d);
    acts->x_mean = cmanp_arena_take(a, nx);
    acts->x_rstd = cmanp_arena_take(a, nx);
    acts->cn = ncn ? cmanp_arena_take(a, ncn * d) : NULL;
    acts->c_mean = ncn ? cmanp_arena_take(a, ncn) : NULL;
    acts->c_rstd = ncn ? cmanp_arena_take(a, ncn) : NULL;
    acts->q = cmanp_arena_take(a, nx * d);
    acts->kv = cmanp_arena_take(a, nkv * 2 * d);
    acts->p = cmanp_arena_take(a, np);
    acts->o = cmanp_arena_take(a, nout * d);
}
