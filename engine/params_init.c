/* params_init.c - the reference initialisation of a parameter layout (see
 * params.h), shared by CMANP (cmanp_init_weights) and CMHP
 * (cmhp_model_init).  The draws are a fixed function of the seed and the
 * layout's order, so a fresh run is reproducible bit for bit. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "params.h"
#include "rng.h"

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int listed(const char *name, const char *const *names) {
    for (; names && *names; names++)
        if (!strcmp(name, *names)) return 1;
    return 0;
}

void cmanp_params_init(const cmanp_layout *lay, cmanp_real *params, uint64_t seed,
                       const char *const *normal) {
    cmanp_rng r;
    cmanp_rng_seed(&r, seed);
    /* The data stream uses the same seed: jump to an independent stream. */
    cmanp_rng_jump(&r);
    for (int i = 0; i < lay->n; i++) {
        const cmanp_param_info *p = &lay->table[i];
        cmanp_real *x = params + p->offset;
        double bound = 0.0;
        int kind; /* 0 uniform(+-bound), 1 normal, 2 ones, 3 zeros */
        if (ends_with(p->name, "latents") || listed(p->name, normal)) {
            kind = 1;
        } else if (p->ndim == 2) {
            kind = 0;
            bound = 1.0 / sqrt((double)p->shape[1]);
        } else if (ends_with(p->name, ".bias")) {
            /* A Linear's bias when the matching weight is a matrix, else a LayerNorm's. */
            char wname[sizeof p->name + 8];
            snprintf(wname, sizeof wname, "%.*s.weight", (int)(strlen(p->name) - 5), p->name);
            int j = cmanp_layout_find(lay, wname);
            if (j >= 0 && lay->table[j].ndim == 2) {
                kind = 0;
                bound = 1.0 / sqrt((double)lay->table[j].shape[1]);
            } else {
                kind = 3;
            }
        } else {
            kind = 2; /* LayerNorm gain */
        }
        for (size_t k = 0; k < p->numel; k++) {
            double v = 0.0;
            if (kind == 0) v = bound * (2.0 * cmanp_rng_uniform(&r) - 1.0);
            else if (kind == 1) v = cmanp_rng_normal(&r);
            else if (kind == 2) v = 1.0;
            x[k] = (cmanp_real)v;
        }
    }
}
