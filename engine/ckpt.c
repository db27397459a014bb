/* ckpt.c - training checkpoints (see ckpt.h). */
#include "ckpt.h"

#include <json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "safetensors.h"

#define CKPT_VERSION 1

#ifdef CMANP_REAL_DOUBLE
#define REAL_DT CMANP_DT_F64
#else
#define REAL_DT CMANP_DT_F32
#endif

/* ------------------------------------------------------------------ write */

int cmanp_ckpt_write(const cmanp_ckpt_kind *k, const cmanp_ckpt_vars *v, const char *config,
                     const char *options, const char *path, cmanp_err *e) {
    const cmanp_layout *lay = v->layout;
    const int n = lay->n;
    const size_t name_cap = sizeof lay->table[0].name + 16;
    cmanp_st_out *outs = cmanp_calloc((size_t)n * 3, sizeof *outs);
    int64_t *shapes = cmanp_calloc((size_t)n * 2, sizeof *shapes);
    char *names = cmanp_malloc((size_t)n * 2 * name_cap);
    if (!outs || !shapes || !names) {
        cmanp_free(outs);
        cmanp_free(shapes);
        cmanp_free(names);
        return cmanp_err_nomem(e);
    }
    for (int i = 0; i < n; i++) {
        const cmanp_param_info *p = &lay->table[i];
        shapes[2 * i] = p->shape[0];
        shapes[2 * i + 1] = p->shape[1];
        char *nm = names + (size_t)2 * i * name_cap, *nv = nm + name_cap;
        snprintf(nm, name_cap, "adam.m.%s", p->name);
        snprintf(nv, name_cap, "adam.v.%s", p->name);
        outs[i] = (cmanp_st_out){p->name, REAL_DT, p->ndim, shapes + 2 * i, v->params + p->offset};
        outs[n + i] = (cmanp_st_out){nm, REAL_DT, p->ndim, shapes + 2 * i, v->adam->m + p->offset};
        outs[2 * n + i] = (cmanp_st_out){nv, REAL_DT, p->ndim, shapes + 2 * i, v->adam->v + p->offset};
    }
    /* The generator's state as hex words: JSON numbers would lose bits. */
    char state[512];
    uint64_t spare;
    memcpy(&spare, &v->rng->spare, sizeof spare);
    const double last = *v->last_loss;
    int rc = CMANP_OK;
    if (!config || !options ||
        snprintf(state, sizeof state,
                 "{\"version\": %d, \"step\": %lld, \"rng\": [\"%016llx\", \"%016llx\", "
                 "\"%016llx\", \"%016llx\"], \"rng_spare\": \"%016llx\", \"rng_has_spare\": %d, "
                 "\"last_loss\": %.17g}",
                 CKPT_VERSION, (long long)v->adam->t, (unsigned long long)v->rng->s[0],
                 (unsigned long long)v->rng->s[1], (unsigned long long)v->rng->s[2],
                 (unsigned long long)v->rng->s[3], (unsigned long long)spare,
                 v->rng->has_spare ? 1 : 0, isfinite(last) ? last : 0.0) >= (int)sizeof state) {
        rc = cmanp_err_set(e, CMANP_ERANGE, "%s metadata does not fit its buffer", k->label);
    } else {
        const char *meta[8] = {"format", k->format, "config", config, "options", options,
                               "state", state};
        rc = cmanp_st_write_file(path, outs, 3 * n, meta, 4, e);
        if (rc) cmanp_err_prefix(e, "%s %s", k->label, path);
    }
    cmanp_free(outs);
    cmanp_free(shapes);
    cmanp_free(names);
    return rc;
}

/* ------------------------------------------------------------------- read */

/* Reads tensor `name` (shape of parameter p) into dst. */
static int load_param(const cmanp_ckpt_kind *k, const cmanp_st *st, const char *name,
                      const cmanp_param_info *p, cmanp_real *dst, cmanp_err *e) {
    const cmanp_st_tensor *t = cmanp_st_find(st, name);
    if (!t) return cmanp_err_set(e, CMANP_EFORMAT, "%s: tensor '%s' missing", k->label, name);
    int ok = t->ndim == p->ndim && t->shape[0] == p->shape[0] &&
             (p->ndim == 1 || t->shape[1] == p->shape[1]) &&
             (k->any_float ? (t->dtype == CMANP_DT_F32 || t->dtype == CMANP_DT_F64)
                           : t->dtype == REAL_DT);
    if (!ok)
        return cmanp_err_set(e, CMANP_EFORMAT, "%s: tensor '%s' has the wrong dtype or shape",
                             k->label, name);
#ifdef CMANP_REAL_DOUBLE
    cmanp_st_to_f64(t, dst);
#else
    if (t->dtype != CMANP_DT_F32)
        return cmanp_err_set(e, CMANP_EFORMAT, "%s: tensor '%s' is %s, expected F32", k->label,
                             name, cmanp_dtype_name(t->dtype));
    cmanp_st_to_f32(t, dst);
#endif
    for (size_t i = 0; i < p->numel; i++)
        if (!isfinite(dst[i]))
            return cmanp_err_set(e, CMANP_EFORMAT, "%s: '%s' element %zu is not finite", k->label,
                                 name, i);
    return CMANP_OK;
}

static int parse_u64_hex(struct json_object *j, uint64_t *out) {
    if (!j || !json_object_is_type(j, json_type_string)) return -1;
    const char *s = json_object_get_string(j);
    char *end;
    if (strlen(s) != 16) return -1;
    *out = strtoull(s, &end, 16);
    return *end ? -1 : 0;
}

static int parse_state(const cmanp_ckpt_kind *k, const cmanp_ckpt_vars *v, const char *json,
                       cmanp_err *e) {
    struct json_object *root = json_tokener_parse(json), *j, *arr;
    int rc = CMANP_OK;
    if (!root || !json_object_is_type(root, json_type_object)) {
        rc = cmanp_err_set(e, CMANP_EFORMAT, "%s: %s", k->label, k->bad_state);
        goto done;
    }
    if (!json_object_object_get_ex(root, "version", &j) || json_object_get_int(j) != CKPT_VERSION) {
        rc = cmanp_err_set(e, CMANP_EFORMAT, "%s: %s", k->label, k->bad_version);
        goto done;
    }
    if (!json_object_object_get_ex(root, "step", &j) || !json_object_is_type(j, json_type_int) ||
        json_object_get_int64(j) < 0 || json_object_get_int64(j) > v->max_step) {
        rc = cmanp_err_set(e, CMANP_EFORMAT, "%s: 'step' missing or out of range", k->label);
        goto done;
    }
    v->adam->t = json_object_get_int64(j);
    if (!json_object_object_get_ex(root, "rng", &arr) || !json_object_is_type(arr, json_type_array) ||
        json_object_array_length(arr) != 4) {
        rc = cmanp_err_set(e, CMANP_EFORMAT, "%s: 'rng' must be 4 hex strings", k->label);
        goto done;
    }
    for (int i = 0; i < 4; i++)
        if (parse_u64_hex(json_object_array_get_idx(arr, (size_t)i), &v->rng->s[i])) {
            rc = cmanp_err_set(e, CMANP_EFORMAT, "%s: 'rng' must be 4 hex strings", k->label);
            goto done;
        }
    uint64_t spare;
    if (!json_object_object_get_ex(root, "rng_spare", &j) || parse_u64_hex(j, &spare) ||
        !json_object_object_get_ex(root, "rng_has_spare", &arr) ||
        !json_object_is_type(arr, json_type_int)) {
        rc = cmanp_err_set(e, CMANP_EFORMAT, "%s: 'rng_spare' / 'rng_has_spare' missing", k->label);
        goto done;
    }
    memcpy(&v->rng->spare, &spare, sizeof spare);
    v->rng->has_spare = json_object_get_int(arr) ? 1 : 0;
    if (json_object_object_get_ex(root, "last_loss", &j)) *v->last_loss = json_object_get_double(j);
done:
    if (root) json_object_put(root);
    return rc;
}

int cmanp_ckpt_read(const cmanp_ckpt_kind *k, const char *path, cmanp_ckpt_build_fn build,
                    void *ctx, cmanp_err *e) {
    cmanp_st st;
    int rc = cmanp_st_read_file(&st, path, e);
    if (rc) return rc; /* the reader's message names the file already */
    const char *fmt = cmanp_st_meta(&st, "format"), *oj = cmanp_st_meta(&st, "options"),
               *sj = cmanp_st_meta(&st, "state");
    cmanp_ckpt_vars v;
    memset(&v, 0, sizeof v);
    if (!fmt || strcmp(fmt, k->format) != 0 || !oj || !sj) {
        rc = cmanp_err_set(e, CMANP_EFORMAT,
                           "not a %s training checkpoint (__metadata__ needs format=%s, options, "
                           "state)",
                           k->family, k->format);
        goto done;
    }
    if ((rc = build(ctx, oj, &v, e))) goto done;
    const cmanp_layout *lay = v.layout;
    if (st.n_tensors != 3 * lay->n) {
        rc = cmanp_err_set(e, CMANP_EFORMAT, "%s: %d tensors, expected %d", k->label,
                           st.n_tensors, 3 * lay->n);
        goto done;
    }
    for (int i = 0; i < lay->n && !rc; i++) {
        const cmanp_param_info *p = &lay->table[i];
        char name[sizeof p->name + 16];
        rc = load_param(k, &st, p->name, p, v.params + p->offset, e);
        snprintf(name, sizeof name, "adam.m.%s", p->name);
        if (!rc) rc = load_param(k, &st, name, p, v.adam->m + p->offset, e);
        snprintf(name, sizeof name, "adam.v.%s", p->name);
        if (!rc) rc = load_param(k, &st, name, p, v.adam->v + p->offset, e);
    }
    if (!rc) rc = parse_state(k, &v, sj, e);
done:
    cmanp_st_free(&st);
    return rc ? cmanp_err_prefix(e, "%s", path) : CMANP_OK;
}
