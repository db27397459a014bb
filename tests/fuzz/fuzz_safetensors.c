/* fuzz_safetensors.c - libFuzzer target: the safetensors container reader and
 * both model loaders (CMANP and CMHP: a cmanp_models row may hold either) on
 * arbitrary bytes.  Anything accepted must be internally consistent: every
 * tensor converts, and a loaded model serialises again into bytes that load
 * back into the same model (same fingerprint: configuration and weights). */
#include <stdlib.h>

#include "fuzz_common.h"

static void cmanp_roundtrip(const cmanp_model *m) {
    unsigned char *buf;
    size_t len;
    cmanp_err e;
    if (cmanp_model_save_bytes(m, NULL, &buf, &len, &e) != CMANP_OK) return; /* out of memory */
    cmanp_model *m2 = NULL;
    if (cmanp_model_load_bytes(&m2, buf, len, &e) != CMANP_OK && e.code != CMANP_ENOMEM) abort();
    if (m2 && m2->fingerprint != m->fingerprint) abort();
    cmanp_model_free(m2);
    cmanp_free(buf);
}

static void cmhp_roundtrip(const cmhp_model *m) {
    unsigned char *buf;
    size_t len;
    cmanp_err e;
    if (cmhp_model_save_bytes(m, NULL, &buf, &len, &e) != CMANP_OK) return;
    cmhp_model *m2 = NULL;
    if (cmhp_model_load_bytes(&m2, buf, len, &e) != CMANP_OK && e.code != CMANP_ENOMEM) abort();
    if (m2 && m2->fingerprint != m->fingerprint) abort();
    cmhp_model_free(m2);
    cmanp_free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cmanp_st st;
    cmanp_err e;
    if (cmanp_st_parse(&st, data, size, 0, &e) == CMANP_OK) {
        for (int i = 0; i < st.n_tensors; i++) {
            const cmanp_st_tensor *t = &st.tensors[i];
            if (t->numel > (1 << 20)) continue;
            double *v = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *v);
            if (v) {
                cmanp_st_to_f64(t, v);
                free(v);
            }
            if (cmanp_st_find(&st, t->name) == NULL) abort();
        }
        cmanp_st_free(&st);
    }
    cmanp_model *m = NULL;
    if (cmanp_model_load_bytes(&m, data, size, &e) == CMANP_OK) {
        cmanp_roundtrip(m);
        cmanp_model_free(m);
    }
    cmhp_model *h = NULL;
    if (cmhp_model_load_bytes(&h, data, size, &e) == CMANP_OK) {
        cmhp_roundtrip(h);
        cmhp_model_free(h);
    }
    return 0;
}
