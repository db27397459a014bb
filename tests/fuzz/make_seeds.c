/* make_seeds.c - writes the seed corpora of the fuzz targets:
 * seeds/safetensors/: the fuzz models' weights files (CMANP, CMHP);
 * seeds/state/: states of the CMANP fuzz model after 0 (empty), 1 and 50
 * rows, and of the CMHP fuzz model after 0, 1 and 40 events.
 * Usage: make_seeds <out dir> */
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"

static int put(const char *dir, const char *sub, const char *name, const void *p, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        fprintf(stderr, "make_seeds: cannot write %s\n", path);
        if (f) fclose(f);
        return 1;
    }
    return fclose(f) != 0;
}

static int cmhp_seeds(const char *dir) {
    cmhp_model *m = fuzz_cmhp_model();
    cmanp_err e;
    unsigned char *buf;
    size_t len;
    if (!m || cmhp_model_save_bytes(m, "fuzz seed", &buf, &len, &e)) return 1;
    int rc = put(dir, "safetensors", "cmhp.safetensors", buf, len);
    cmanp_free(buf);
    cmhp_state *s = NULL;
    cmhp_cond *c = NULL;
    if (cmhp_state_new(m, &s, &e) || cmhp_cond_new(m, 8, &c, &e)) return 1;
    int sizes[] = {0, 1, 40};
    for (int k = 0; k < 3; k++) {
        cmhp_state_clear(s);
        for (int i = 0; i < sizes[k]; i++) {
            double t = 0.37 * (i + 1);
            int mark = i % 3;
            if (cmhp_add(c, s, &t, &mark, 1, &e)) return 1;
        }
        len = cmhp_state_encoded_size(s);
        buf = cmanp_malloc(len);
        if (!buf) return 1;
        cmhp_state_encode(s, buf);
        char name[32];
        snprintf(name, sizeof name, "cmhp_events%d.state", sizes[k]);
        rc |= put(dir, "state", name, buf, len);
        cmanp_free(buf);
    }
    cmhp_cond_free(c);
    cmhp_state_free(s);
    cmhp_model_free(m);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds <dir with safetensors/ and state/>\n");
        return 2;
    }
    cmanp_model *m = fuzz_model();
    cmanp_err e;
    unsigned char *buf;
    size_t len;
    if (!m || cmanp_model_save_bytes(m, "fuzz seed", &buf, &len, &e)) return 1;
    int rc = put(argv[1], "safetensors", "model.safetensors", buf, len);
    cmanp_free(buf);
    cmanp_state *s;
    cmanp_cond *c;
    cmanp_state_new(m, &s, &e);
    cmanp_cond_new(m, 8, &c, &e);
    int sizes[] = {0, 1, 50};
    for (int k = 0; k < 3; k++) {
        cmanp_state_clear(s);
        for (int i = 0; i < sizes[k]; i++) {
            cmanp_real xy[2] = {(cmanp_real)(i * 0.1 - 2), (cmanp_real)(i % 7 * 0.3)};
            cmanp_cond_add(c, s, xy, 1, &e);
        }
        cmanp_cond_flush(c, s, &e);
        len = cmanp_state_encoded_size(s);
        buf = cmanp_malloc(len);
        cmanp_state_encode(s, buf);
        char name[32];
        snprintf(name, sizeof name, "rows%d.state", sizes[k]);
        rc |= put(argv[1], "state", name, buf, len);
        cmanp_free(buf);
    }
    cmanp_cond_free(c);
    cmanp_state_free(s);
    cmanp_model_free(m);
    return rc | cmhp_seeds(argv[1]);
}
