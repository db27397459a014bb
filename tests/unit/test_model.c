/* test_model.c - model files (model_io.c spec numbers):
 *   0. the golden weights load; parameter count and tensor count as documented
 *   1. config: missing, not JSON, missing key, unknown key, wrong type, out of
 *      range, d_model not divisible by nhead
 *   2. a missing tensor    3. wrong dtype / shape    4. an unexpected tensor
 *   5. a non-finite parameter
 *   R. save -> load round trip is bit-exact (same fingerprint, same bytes),
 *      and a file written by us is a valid safetensors file for the reader */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmanp.h"
#include "testutil.h"

static const char *CFG =
    "{\"dim_x\": 2, \"dim_y\": 1, \"d_model\": 8, \"emb_depth\": 2, \"dim_feedforward\": 16, "
    "\"nhead\": 2, \"num_layers\": 1, \"num_latents\": 4, \"num_latents_per_layer\": 3, "
    "\"bound_std\": true}";

/* Serialise a tiny model, letting mutate() alter the tensor list first. */
typedef void (*mutator)(cmanp_st_out *t, int *n, const char **meta);

static int load_mutated(mutator mut, const char *cfg, cmanp_err *e) {
    cmanp_config c;
    cmanp_err e0 = {0};
    cmanp_config_parse(&c, CFG, &e0);
    cmanp_model *m;
    cmanp_model_new(&m, &c, &e0);
    for (size_t i = 0; i < m->layout.n_params; i++) m->params[i] = (cmanp_real)(0.01 * (i % 13));
    int n = m->layout.n;
    cmanp_st_out *t = calloc((size_t)n + 1, sizeof *t);
    int64_t *shapes = calloc((size_t)n * 2 + 2, sizeof *shapes);
    float *f = malloc(m->layout.n_params * sizeof *f + 64);
    for (size_t i = 0; i < m->layout.n_params; i++) f[i] = (float)m->params[i];
    for (int i = 0; i < n; i++) {
        const cmanp_param_info *p = &m->layout.table[i];
        shapes[2 * i] = p->shape[0];
        shapes[2 * i + 1] = p->shape[1];
        t[i] = (cmanp_st_out){p->name, CMANP_DT_F32, p->ndim, shapes + 2 * i, f + p->offset};
    }
    const char *meta[2] = {"config", cfg};
    if (mut) mut(t, &n, meta);
    unsigned char *buf;
    size_t len;
    int rc = cmanp_st_serialize(t, n, meta, meta[1] ? 1 : 0, &buf, &len, e);
    if (rc == 0) {
        cmanp_model *m2 = NULL;
        rc = cmanp_model_load_bytes(&m2, buf, len, e);
        cmanp_model_free(m2);
        cmanp_free(buf);
    }
    free(t);
    free(shapes);
    free(f);
    cmanp_model_free(m);
    return rc;
}

static void drop_first(cmanp_st_out *t, int *n, const char **meta) {
    (void)meta;
    memmove(t, t + 1, (size_t)(*n - 1) * sizeof *t);
    (*n)--;
}
static int64_t bad_shape[2] = {3, 7};
static void reshape(cmanp_st_out *t, int *n, const char **meta) {
    (void)n;
    (void)meta;
    t[0].shape = bad_shape; /* latents (4, 8) -> (3, 7): fewer elements, still valid data */
}
static double f64data[32];
static void as_f64(cmanp_st_out *t, int *n, const char **meta) {
    (void)meta;
    for (int i = 0; i < *n; i++)
        if (strcmp(t[i].name, "norm.bias") == 0) {
            t[i].dtype = CMANP_DT_F64;
            t[i].data = f64data;
        }
}
static float extra_data[1] = {1.0f};
static int64_t extra_shape[1] = {1};
static void add_extra(cmanp_st_out *t, int *n, const char **meta) {
    (void)meta;
    t[*n] = (cmanp_st_out){"encoder.layers.9.latents", CMANP_DT_F32, 1, extra_shape, extra_data};
    (*n)++;
}
static float nan_data[8];
static void put_nan(cmanp_st_out *t, int *n, const char **meta) {
    (void)meta;
    for (int i = 0; i < 8; i++) nan_data[i] = 0.0f;
    nan_data[3] = NAN;
    for (int i = 0; i < *n; i++)
        if (strcmp(t[i].name, "norm.weight") == 0) t[i].data = nan_data;
}
static void no_config(cmanp_st_out *t, int *n, const char **meta) {
    (void)t;
    (void)n;
    meta[1] = NULL;
}

static void expect(int rc, const cmanp_err *e, int code, const char *needle, const char *what) {
    TU_CHECK(rc == code && strstr(e->msg, needle) != NULL, "%s: rc %d (%s), want %d and \"%s\"",
             what, rc, e->msg, code, needle);
}

int main(void) {
    cmanp_err e = {0};
    cmanp_model *g = NULL;
    /* 0 */
    TU_CHECK(cmanp_model_load_file(&g, tu_shared("golden/gp_cmanp.weights.safetensors"), &e) == 0,
             "golden load: %s", e.msg);
    TU_CHECK(g && g->layout.n_params == 1341634 && g->layout.n == 425, "golden P: %zu params, %d tensors",
             g ? g->layout.n_params : 0, g ? g->layout.n : 0);
    if (!g) return tu_finish(); /* every later check needs the golden model */

    /* R: round trip */
    unsigned char *buf;
    size_t len;
    TU_CHECK(cmanp_model_save_bytes(g, "test", &buf, &len, &e) == 0, "save: %s", e.msg);
    cmanp_model *g2 = NULL;
    TU_CHECK(cmanp_model_load_bytes(&g2, buf, len, &e) == 0, "reload: %s", e.msg);
    TU_CHECK(g2 && g2->fingerprint == g->fingerprint &&
                 memcmp(g2->params, g->params, g->layout.n_params * sizeof(cmanp_real)) == 0,
             "round trip is bit-exact");
    unsigned char *buf2;
    size_t len2;
    cmanp_model_save_bytes(g2, "test", &buf2, &len2, &e);
    TU_CHECK(len2 == len && memcmp(buf, buf2, len) == 0, "saving twice gives identical bytes");
    cmanp_st st;
    TU_CHECK(cmanp_st_parse(&st, buf, len, 0, &e) == 0 && strcmp(cmanp_st_meta(&st, "note"), "test") == 0,
             "saved file parses and keeps the note");
    cmanp_st_free(&st);
    cmanp_free(buf);
    cmanp_free(buf2);
    /* file round trip */
    const char *tmp = "test_model_roundtrip.safetensors";
    TU_CHECK(cmanp_model_save_file(g, NULL, tmp, &e) == 0, "save_file: %s", e.msg);
    cmanp_model *g3 = NULL;
    TU_CHECK(cmanp_model_load_file(&g3, tmp, &e) == 0 && g3->fingerprint == g->fingerprint,
             "file round trip: %s", e.msg);
    remove(tmp);
    cmanp_model_free(g2);
    cmanp_model_free(g3);
    cmanp_model_free(g);

    TU_CHECK(load_mutated(NULL, CFG, &e) == 0, "tiny model loads: %s", e.msg);
    /* 1: config */
    expect(load_mutated(no_config, CFG, &e), &e, CMANP_EFORMAT, "no 'config'", "no config");
    expect(load_mutated(NULL, "{\"dim_x\": 2,", &e), &e, CMANP_EFORMAT, "not valid JSON", "bad JSON");
    expect(load_mutated(NULL, "[1, 2]", &e), &e, CMANP_EFORMAT, "expected a JSON object", "array");
    expect(load_mutated(NULL, "{\"dim_x\": 2}", &e), &e, CMANP_EFORMAT, "missing key 'dim_y'",
           "missing key");
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%.*s, \"dropout\": 0.1}", (int)strlen(CFG) - 1, CFG);
    expect(load_mutated(NULL, cfg, &e), &e, CMANP_EFORMAT, "unexpected key 'dropout'", "unknown key");
    char *p;
    snprintf(cfg, sizeof cfg, "%s", CFG);
    p = strstr(cfg, "\"nhead\": 2");
    memcpy(p, "\"nhead\": 3", 10);
    expect(load_mutated(NULL, cfg, &e), &e, CMANP_EINVAL, "not divisible by nhead", "divisibility");
    snprintf(cfg, sizeof cfg, "%s", CFG);
    p = strstr(cfg, "true");
    memcpy(p, "1   ", 4);
    expect(load_mutated(NULL, cfg, &e), &e, CMANP_EFORMAT, "'bound_std' must be a boolean", "bool type");
    snprintf(cfg, sizeof cfg, "%s", CFG);
    p = strstr(cfg, "\"d_model\": 8");
    memcpy(p, "\"d_model\": 0", 12);
    expect(load_mutated(NULL, cfg, &e), &e, CMANP_EFORMAT, "'d_model' = 0 out of range", "range");
    /* 2-5 */
    expect(load_mutated(drop_first, CFG, &e), &e, CMANP_EFORMAT, "missing tensor 'latents'", "missing");
    expect(load_mutated(reshape, CFG, &e), &e, CMANP_EFORMAT,
           "tensor 'latents' is F32 [3, 7], expected F32 [4, 8]", "shape");
    expect(load_mutated(as_f64, CFG, &e), &e, CMANP_EFORMAT, "'norm.bias' is F64 [8], expected F32 [8]",
           "dtype");
    expect(load_mutated(add_extra, CFG, &e), &e, CMANP_EFORMAT,
           "unexpected tensor 'encoder.layers.9.latents'", "extra");
    expect(load_mutated(put_nan, CFG, &e), &e, CMANP_EFORMAT, "'norm.weight' element 3 is not finite",
           "NaN");
    cmanp_alloc_stats s;
    cmanp_alloc_stats_get(&s);
    TU_CHECK(s.live_bytes == 0, "leaked %lld bytes", (long long)s.live_bytes);
    return tu_finish();
}
