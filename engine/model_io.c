/* model_io.c - CMANP models from and to safetensors.
 *
 * Loading treats the file as untrusted.  After the container checks of
 * safetensors.c, in order:
 *   1. __metadata__ must carry "config", a JSON object that passes
 *      cmanp_config_parse (all keys, ranges, d_model % nhead == 0);
 *   2. every tensor of the layout must be present;
 *   3. each must be F32 with exactly the layout's shape;
 *   4. no other tensor may be present;
 *   5. every parameter must be finite.
 * Each failure is its own message naming the tensor.  Steps 2-5 and the
 * writer are params_io.c, shared with CMHP models.
 */
#include <stdio.h>
#include <string.h>

#include "cmanp.h"
#include "params_io.h"

int cmanp_model_from_st(cmanp_model **out, const cmanp_st *st, cmanp_err *e) {
    *out = NULL;
    const char *cj = cmanp_st_meta(st, "config");
    if (!cj)
        return cmanp_err_set(e, CMANP_EFORMAT,
                             "model: __metadata__ has no 'config' (expected a JSON object with the "
                             "model configuration)");
    cmanp_config cfg;
    int rc = cmanp_config_parse(&cfg, cj, e);
    if (rc) return cmanp_err_prefix(e, "model");
    /* Sizes before allocation: every tensor the configuration needs must be
     * in the file with its shape before the model (n_params floats and the
     * per-layer constants) is allocated, so a few bytes whose config claims
     * a huge model are refused with the first missing tensor instead of
     * allocating gigabytes. */
    cmanp_layout lay;
    if ((rc = cmanp_layout_build(&cfg, &lay, e))) return cmanp_err_prefix(e, "model");
    rc = cmanp_params_read(st, &lay, NULL, "model", e);
    cmanp_layout_free(&lay);
    if (rc) return rc;
    cmanp_model *m;
    if ((rc = cmanp_model_new(&m, &cfg, e))) return rc;
    if ((rc = cmanp_params_read(st, &m->layout, m->params, "model", e))) {
        cmanp_model_free(m);
        return rc;
    }
    cmanp_model_refresh(m);
    *out = m;
    return CMANP_OK;
}

int cmanp_model_load_bytes(cmanp_model **out, const void *bytes, size_t len, cmanp_err *e) {
    cmanp_st st;
    *out = NULL;
    int rc = cmanp_st_parse(&st, bytes, len, 0, e);
    if (rc) return rc;
    rc = cmanp_model_from_st(out, &st, e);
    cmanp_st_free(&st);
    return rc;
}

int cmanp_model_load_file(cmanp_model **out, const char *path, cmanp_err *e) {
    cmanp_st st;
    *out = NULL;
    int rc = cmanp_st_read_file(&st, path, e);
    if (rc) return rc;
    rc = cmanp_model_from_st(out, &st, e);
    cmanp_st_free(&st);
    if (rc) cmanp_err_prefix(e, "%s", path);
    return rc;
}

static int model_save(const cmanp_model *m, const char *note, const char *path, unsigned char **buf,
                      size_t *len, cmanp_err *e) {
    char cfg[512];
    if (cmanp_config_to_json(&m->cfg, cfg, sizeof cfg) < 0)
        return cmanp_err_set(e, CMANP_ERANGE, "model: config does not fit its buffer");
    const char *meta[6] = {"config", cfg, "format", "cmanp", "note", note ? note : ""};
    return cmanp_params_write(&m->layout, m->params, meta, 3, path, buf, len, e);
}

int cmanp_model_save_bytes(const cmanp_model *m, const char *note, unsigned char **out, size_t *len,
                           cmanp_err *e) {
    return model_save(m, note, NULL, out, len, e);
}

int cmanp_model_save_file(const cmanp_model *m, const char *note, const char *path, cmanp_err *e) {
    return model_save(m, note, path, NULL, NULL, e);
}
