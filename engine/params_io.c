/* params_io.c - a parameter layout from and to safetensors (see params_io.h). */
#include "params_io.h"

#include <math.h>
#include <stdio.h>

#include "alloc.h"

#ifdef CMANP_REAL_DOUBLE
#define REAL_IS_DOUBLE 1
#define REAL_DT CMANP_DT_F64 /* the float64 test build keeps its precision */
#else
#define REAL_IS_DOUBLE 0
#define REAL_DT CMANP_DT_F32
#endif

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int i = 0; i < ndim && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

int cmanp_params_read(const cmanp_st *st, const cmanp_layout *lay, cmanp_real *dst,
                      const char *what, cmanp_err *e) {
    for (int i = 0; i < lay->n; i++) {
        const cmanp_param_info *p = &lay->table[i];
        const cmanp_st_tensor *t = cmanp_st_find(st, p->name);
        int64_t want[2] = {p->shape[0], p->shape[1]};
        char ws[64], gs[128];
        shape_str(ws, sizeof ws, p->ndim, want);
        if (!t)
            return cmanp_err_set(e, CMANP_EFORMAT, "%s: missing tensor '%s' (expected F32 %s)",
                                 what, p->name, ws);
        int ok = t->ndim == p->ndim;
        for (int k = 0; ok && k < p->ndim; k++) ok = t->shape[k] == want[k];
        if (!ok || !(t->dtype == CMANP_DT_F32 || (REAL_IS_DOUBLE && t->dtype == CMANP_DT_F64))) {
            shape_str(gs, sizeof gs, t->ndim, t->shape);
            return cmanp_err_set(e, CMANP_EFORMAT, "%s: tensor '%s' is %s %s, expected F32 %s",
                                 what, p->name, cmanp_dtype_name(t->dtype), gs, ws);
        }
        if (!dst) continue;
        cmanp_real *x = dst + p->offset;
#ifdef CMANP_REAL_DOUBLE
        cmanp_st_to_f64(t, x);
#else
        cmanp_st_to_f32(t, x);
#endif
        for (size_t k = 0; k < p->numel; k++)
            if (!isfinite(x[k]))
                return cmanp_err_set(e, CMANP_EFORMAT, "%s: tensor '%s' element %zu is not finite",
                                     what, p->name, k);
    }
    if (dst && st->n_tensors != lay->n) {
        for (int i = 0; i < st->n_tensors; i++)
            if (cmanp_layout_find(lay, st->tensors[i].name) < 0)
                return cmanp_err_set(e, CMANP_EFORMAT,
                                     "%s: unexpected tensor '%s' (not a parameter of this "
                                     "configuration)",
                                     what, st->tensors[i].name);
        return cmanp_err_set(e, CMANP_EFORMAT, "%s: %d tensors, expected %d", what, st->n_tensors,
                             lay->n);
    }
    return CMANP_OK;
}

int cmanp_params_write(const cmanp_layout *lay, const cmanp_real *params,
                       const char *const *meta, int n_meta, const char *path,
                       unsigned char **out, size_t *len, cmanp_err *e) {
    const int n = lay->n;
    cmanp_st_out *outs = cmanp_calloc((size_t)n, sizeof *outs);
    int64_t *shapes = cmanp_calloc((size_t)n * 2, sizeof *shapes);
    if (!outs || !shapes) {
        cmanp_free(outs);
        cmanp_free(shapes);
        return cmanp_err_nomem(e);
    }
    for (int i = 0; i < n; i++) {
        const cmanp_param_info *p = &lay->table[i];
        shapes[2 * i] = p->shape[0];
        shapes[2 * i + 1] = p->shape[1];
        outs[i] = (cmanp_st_out){p->name, REAL_DT, p->ndim, shapes + 2 * i, params + p->offset};
    }
    int rc = path ? cmanp_st_write_file(path, outs, n, meta, n_meta, e)
                  : cmanp_st_serialize(outs, n, meta, n_meta, out, len, e);
    cmanp_free(outs);
    cmanp_free(shapes);
    return rc;
}
