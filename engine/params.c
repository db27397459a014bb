/* params.c - configuration parsing and the parameter layout (see params.h). */
#include "params.h"

#include <json.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "json_parse.h"

/* ---------------------------------------------------------------- config */

static const char *const k_keys[] = {"dim_x", "dim_y", "d_model", "emb_depth", "dim_feedforward",
                                     "nhead", "num_layers", "num_latents", "num_latents_per_layer",
                                     "bound_std"};
#define N_KEYS ((int)(sizeof k_keys / sizeof k_keys[0]))

static int *config_field(cmanp_config *c, int i) {
    int *f[N_KEYS] = {&c->dim_x,  &c->dim_y,       &c->d_model,    &c->emb_depth,
                      &c->dim_feedforward, &c->nhead, &c->num_layers, &c->num_latents,
                      &c->num_latents_per_layer, &c->bound_std};
    return f[i];
}

int cmanp_config_parse(cmanp_config *c, const char *json, cmanp_err *e) {
    memset(c, 0, sizeof *c);
    if (!json) return cmanp_err_set(e, CMANP_EFORMAT, "config: missing (expected a JSON object)");
    struct json_object *o;
    enum json_tokener_error jerr;
    if (cmanp_json_parse(json, 1 << 20, &o, &jerr)) return cmanp_err_nomem(e);
    int rc = CMANP_OK;
    if (!o || jerr != json_tokener_success) {
        rc = cmanp_err_set(e, CMANP_EFORMAT, "config: not valid JSON (%s)",
                           json_tokener_error_desc(jerr));
        goto done;
    }
    if (!json_object_is_type(o, json_type_object)) {
        rc = cmanp_err_set(e, CMANP_EFORMAT, "config: expected a JSON object, found %s",
                           json_type_to_name(json_object_get_type(o)));
        goto done;
    }
    int seen = 0;
    json_object_object_foreach(o, key, val) {
        int i;
        for (i = 0; i < N_KEYS; i++)
            if (strcmp(key, k_keys[i]) == 0) break;
        if (i == N_KEYS) {
            if (strcmp(key, "model") == 0 && json_object_is_type(val, json_type_string) &&
                strcmp(json_object_get_string(val), "cmanp") == 0)
                continue;
            rc = cmanp_err_set(e, CMANP_EFORMAT, "config: unexpected key '%s'", key);
            goto done;
        }
        seen |= 1 << i;
        if (strcmp(key, "bound_std") == 0) {
            if (!json_object_is_type(val, json_type_boolean)) {
                rc = cmanp_err_set(e, CMANP_EFORMAT, "config: 'bound_std' must be a boolean, found %s",
                                   json_type_to_name(json_object_get_type(val)));
                goto done;
            }
            c->bound_std = json_object_get_boolean(val) ? 1 : 0;
        } else {
            if (!json_object_is_type(val, json_type_int)) {
                rc = cmanp_err_set(e, CMANP_EFORMAT, "config: '%s' must be an integer, found %s", key,
                                   json_type_to_name(json_object_get_type(val)));
                goto done;
            }
            int64_t v = json_object_get_int64(val);
            if (v < 1 || v > 1000000) {
                rc = cmanp_err_set(e, CMANP_EFORMAT,
                                   "config: '%s' = %lld out of range (expected 1..1000000)", key,
                                   (long long)v);
                goto done;
            }
            *config_field(c, i) = (int)v;
        }
    }
    for (int i = 0; i < N_KEYS; i++)
        if (!(seen & (1 << i))) {
            rc = cmanp_err_set(e, CMANP_EFORMAT, "config: missing key '%s'", k_keys[i]);
            goto done;
        }
    rc = cmanp_config_validate(c, e);
done:
    if (o) json_object_put(o);
    return rc;
}

int cmanp_config_validate(const cmanp_config *c, cmanp_err *e) {
    struct { const char *name; int v, lo, hi; } r[] = {
        {"dim_x", c->dim_x, 1, 64},
        {"dim_y", c->dim_y, 1, 64},
        {"d_model", c->d_model, 1, 4096},
        {"emb_depth", c->emb_depth, 1, CMANP_MAX_EMB},
        {"dim_feedforward", c->dim_feedforward, 1, 16384},
        {"nhead", c->nhead, 1, 256},
        {"num_layers", c->num_layers, 1, CMANP_MAX_LAYERS},
        {"num_latents", c->num_latents, 1, 65536},
        {"num_latents_per_layer", c->num_latents_per_layer, 1, 65536},
        {"bound_std", c->bound_std, 0, 1},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (r[i].v < r[i].lo || r[i].v > r[i].hi)
            return cmanp_err_set(e, CMANP_EINVAL, "config: '%s' = %d out of range (expected %d..%d)",
                                 r[i].name, r[i].v, r[i].lo, r[i].hi);
    if (c->d_model % c->nhead != 0)
        return cmanp_err_set(e, CMANP_EINVAL,
                             "config: d_model = %d is not divisible by nhead = %d", c->d_model,
                             c->nhead);
    /* Largest single tensors: latents (65536 x 4096) and net.0 (2F x d) stay far below 2^31 floats
     * only if we check; the total is checked when the layout is built. */
    if ((int64_t)c->num_latents * c->d_model > (1 << 28) ||
        (int64_t)c->num_latents_per_layer * c->d_model > (1 << 28) ||
        (int64_t)2 * c->dim_feedforward * c->d_model > (1 << 28))
        return cmanp_err_set(e, CMANP_ERANGE, "config: a tensor would exceed 2^28 elements");
    return CMANP_OK;
}

int cmanp_config_to_json(const cmanp_config *c, char *buf, size_t cap) {
    int n = snprintf(buf, cap,
                     "{\"dim_x\": %d, \"dim_y\": %d, \"d_model\": %d, \"emb_depth\": %d, "
                     "\"dim_feedforward\": %d, \"nhead\": %d, \"num_layers\": %d, "
                     "\"num_latents\": %d, \"num_latents_per_layer\": %d, \"bound_std\": %s}",
                     c->dim_x, c->dim_y, c->d_model, c->emb_depth, c->dim_feedforward, c->nhead,
                     c->num_layers, c->num_latents, c->num_latents_per_layer,
                     c->bound_std ? "true" : "false");
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

/* ---------------------------------------------------------------- walking */

static cmanp_real *pname(cmanp_param_cb add, void *ctx, int rows, int cols, const char *fmt,
                    const char *a, const char *b) {
    char name[96];
    snprintf(name, sizeof name, fmt, a, b);
    return add(ctx, name, rows, cols);
}

void cmanp_attn_walk(const char *prefix, int d, int cross, cmanp_param_cb add, void *ctx,
                     cmanp_attn_w *w) {
    w->wq = pname(add, ctx, d, d, "%s%s", prefix, ".fn.to_q.weight");
    w->wkv = pname(add, ctx, 2 * d, d, "%s%s", prefix, ".fn.to_kv.weight");
    w->wo = pname(add, ctx, d, d, "%s%s", prefix, ".fn.to_out.weight");
    w->bo = pname(add, ctx, d, 0, "%s%s", prefix, ".fn.to_out.bias");
    w->norm.g = pname(add, ctx, d, 0, "%s%s", prefix, ".norm.weight");
    w->norm.b = pname(add, ctx, d, 0, "%s%s", prefix, ".norm.bias");
    if (cross) {
        w->norm_ctx.g = pname(add, ctx, d, 0, "%s%s", prefix, ".norm_context.weight");
        w->norm_ctx.b = pname(add, ctx, d, 0, "%s%s", prefix, ".norm_context.bias");
    } else {
        w->norm_ctx.g = w->norm_ctx.b = NULL;
    }
}

void cmanp_ff_walk(const char *prefix, int d, int F, cmanp_param_cb add, void *ctx, cmanp_ff_w *w) {
    w->w0 = pname(add, ctx, 2 * F, d, "%s%s", prefix, ".fn.net.0.weight");
    w->b0 = pname(add, ctx, 2 * F, 0, "%s%s", prefix, ".fn.net.0.bias");
    w->w2 = pname(add, ctx, d, F, "%s%s", prefix, ".fn.net.2.weight");
    w->b2 = pname(add, ctx, d, 0, "%s%s", prefix, ".fn.net.2.bias");
    w->norm.g = pname(add, ctx, d, 0, "%s%s", prefix, ".norm.weight");
    w->norm.b = pname(add, ctx, d, 0, "%s%s", prefix, ".norm.bias");
}

void cmab_walk(const char *prefix, int d, int F, int Lp, cmanp_param_cb add, void *ctx, cmab_w *w) {
    char p[80];
    w->latents = pname(add, ctx, Lp, d, "%s%s", prefix, "latents");
#define SUB(field, kind, ...)                              \
    snprintf(p, sizeof p, "%s%s", prefix, #field);         \
    cmanp_##kind##_walk(p, __VA_ARGS__, add, ctx, &w->field)
    SUB(layer_cross_attn, attn, d, 1);
    SUB(layer_cross_ff, ff, d, F);
    SUB(layer_latent_self_attn, attn, d, 0);
    SUB(layer_latent_ff, ff, d, F);
    SUB(cross_attn, attn, d, 1);
    SUB(cross_ff, ff, d, F);
    SUB(latent_self_attn, attn, d, 0);
    SUB(latent_ff, ff, d, F);
#undef SUB
}

static void mlp_walk(const char *prefix, int in, int d, int E, cmanp_param_cb add, void *ctx,
                     cmanp_linear_w *w) {
    char p[80];
    for (int i = 0; i < E; i++) {
        snprintf(p, sizeof p, "%s.%d", prefix, 2 * i);
        w[i].w = pname(add, ctx, d, i == 0 ? in : d, "%s%s", p, ".weight");
        w[i].b = pname(add, ctx, d, 0, "%s%s", p, ".bias");
    }
}

/* The one place that defines the CMANP parameter order. */
static void cmanp_walk(const cmanp_config *c, cmanp_param_cb add, void *ctx, cmanp_weights *w) {
    int d = c->d_model, F = c->dim_feedforward, E = cmanp_config_emb_layers(c);
    char p[80];
    w->latents = add(ctx, "latents", c->num_latents, d);
    mlp_walk("embedder", c->dim_x + c->dim_y, d, E, add, ctx, w->embedder);
    mlp_walk("query_embedder", c->dim_x, d, E, add, ctx, w->query_embedder);
    for (int l = 0; l < c->num_layers; l++) {
        snprintf(p, sizeof p, "encoder.layers.%d.", l);
        cmab_walk(p, d, F, c->num_latents_per_layer, add, ctx, &w->enc[l]);
    }
    for (int l = 0; l < c->num_layers; l++) {
        snprintf(p, sizeof p, "decoder.layers.%d.cross_attn", l);
        cmanp_attn_walk(p, d, 1, add, ctx, &w->dec[l].cross_attn);
        snprintf(p, sizeof p, "decoder.layers.%d.cross_ff", l);
        cmanp_ff_walk(p, d, F, add, ctx, &w->dec[l].cross_ff);
    }
    w->norm.g = add(ctx, "norm.weight", d, 0);
    w->norm.b = add(ctx, "norm.bias", d, 0);
    w->pred0.w = add(ctx, "predictor.0.weight", F, d);
    w->pred0.b = add(ctx, "predictor.0.bias", F, 0);
    w->pred2.w = add(ctx, "predictor.2.weight", 2 * c->dim_y, F);
    w->pred2.b = add(ctx, "predictor.2.bias", 2 * c->dim_y, 0);
}

cmanp_real *cmanp_walk_add(void *vctx, const char *name, int rows, int cols) {
    cmanp_walk_ctx *w = vctx;
    size_t numel = (size_t)rows * (size_t)(cols ? cols : 1);
    if (w->table) {
        cmanp_param_info *p = &w->table[w->n];
        snprintf(p->name, sizeof p->name, "%s", name);
        p->ndim = cols ? 2 : 1;
        p->shape[0] = rows;
        p->shape[1] = cols;
        p->offset = w->off;
        p->numel = numel;
    }
    cmanp_real *ptr = w->buf ? w->buf + w->off : NULL;
    w->n++;
    w->off += numel;
    return ptr;
}

int cmanp_layout_build(const cmanp_config *c, cmanp_layout *lay, cmanp_err *e) {
    memset(lay, 0, sizeof *lay);
    int rc = cmanp_config_validate(c, e);
    if (rc) return rc;
    cmanp_weights w;
    cmanp_walk_ctx ctx = {0};
    cmanp_walk(c, cmanp_walk_add, &ctx, &w);
    if (ctx.off > (size_t)1 << 31)
        return cmanp_err_set(e, CMANP_ERANGE, "config: %zu parameters exceed the limit of 2^31",
                             ctx.off);
    lay->table = cmanp_calloc((size_t)ctx.n, sizeof *lay->table);
    if (!lay->table) return cmanp_err_nomem(e);
    cmanp_walk_ctx ctx2 = {lay->table, 0, 0, NULL};
    cmanp_walk(c, cmanp_walk_add, &ctx2, &w);
    lay->n = ctx2.n;
    lay->n_params = ctx2.off;
    return CMANP_OK;
}

void cmanp_layout_free(cmanp_layout *lay) {
    cmanp_free(lay->table);
    memset(lay, 0, sizeof *lay);
}

void cmanp_weights_bind(const cmanp_config *c, cmanp_real *buf, cmanp_weights *w) {
    cmanp_walk_ctx ctx = {NULL, 0, 0, buf};
    memset(w, 0, sizeof *w);
    cmanp_walk(c, cmanp_walk_add, &ctx, w);
}

int cmanp_layout_find(const cmanp_layout *lay, const char *name) {
    for (int i = 0; i < lay->n; i++)
        if (strcmp(lay->table[i].name, name) == 0) return i;
    return -1;
}
