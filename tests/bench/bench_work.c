#define _POSIX_C_SOURCE 200809L
/* bench_work.c - fixed amounts of engine work, for instruction counting.
 *
 * Each mode runs one kind of work in the function `measured`, so that
 *
 *   valgrind --tool=callgrind --collect-atstart=no --toggle-collect=measured \
 *       build/bench_work MODE [args]
 *
 * counts exactly that work (model loading and set-up excluded); without
 * valgrind it prints the thread CPU time.  Modes (golden GP weights unless
 * BENCH_MODEL is set):
 *   cond N [B]     fold N context rows into a state in blocks of B (default 256)
 *   readout R      R readouts (latents of every layer from a state)
 *   decode M       M targets through cmanp_predict in one call (batches of 64)
 *   decode1 M      M targets, one cmanp_predict call each
 *   update R       R x (add 1 row, flush, readout, predict 1 target)
 * Hardware counters are not available on this project's machine (perf
 * stat says "not supported"), hence callgrind; note that under valgrind
 * OpenBLAS and the target_clones kernels see no AVX-512 and run their AVX2
 * code, so counts compare code versions, not absolute speed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmanp.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const cmanp_err *e) {
    fprintf(stderr, "bench_work: %s: %s\n", what, e ? e->msg : "");
    exit(1);
}

typedef struct job {
    const char *mode;
    cmanp_model *m;
    cmanp_state *s;
    cmanp_cond *c;
    cmanp_readout *r;
    cmanp_real *xy, *xt, *mean, *sd;
    long n;
} job;

__attribute__((noinline)) void measured(job *j);
__attribute__((noinline)) void measured(job *j) {
    cmanp_err e;
    const char *md = j->mode;
    if (strcmp(md, "cond") == 0) {
        for (long done = 0; done < j->n; done += 4096) {
            int k = (int)(j->n - done < 4096 ? j->n - done : 4096);
            if (cmanp_cond_add(j->c, j->s, j->xy, k, &e)) die("add", &e);
        }
        if (cmanp_cond_flush(j->c, j->s, &e)) die("flush", &e);
    } else if (strcmp(md, "readout") == 0) {
        for (long i = 0; i < j->n; i++)
            if (cmanp_readout_compute(j->r, j->s, &e)) die("readout", &e);
    } else if (strcmp(md, "decode") == 0) {
        if (cmanp_predict(j->r, j->xt, (int)j->n, j->mean, j->sd, NULL, &e)) die("predict", &e);
    } else if (strcmp(md, "decode1") == 0) {
        for (long i = 0; i < j->n; i++)
            if (cmanp_predict(j->r, j->xt + i * j->m->cfg.dim_x, 1, j->mean, j->sd, NULL, &e))
                die("predict", &e);
    } else if (strcmp(md, "update") == 0) {
        const int W = j->m->cfg.dim_x + j->m->cfg.dim_y;
        for (long i = 0; i < j->n; i++) {
            if (cmanp_cond_add(j->c, j->s, j->xy + (i % 4096) * W, 1, &e) ||
                cmanp_cond_flush(j->c, j->s, &e) || cmanp_readout_compute(j->r, j->s, &e) ||
                cmanp_predict(j->r, j->xt + i * j->m->cfg.dim_x, 1, j->mean, j->sd, NULL, &e))
                die("update", &e);
        }
    } else {
        die("unknown mode (cond, readout, decode, decode1, update)", NULL);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_work cond N [B] | readout R | decode M | decode1 M | update R\n");
        return 2;
    }
    const char *path = getenv("BENCH_MODEL");
    const char *shared = getenv("CMANP_SHARED_DIR");
    char buf[4096];
    if (!path) {
        snprintf(buf, sizeof buf, "%s/golden/gp_cmanp.weights.safetensors",
                 shared && *shared ? shared : "../shared");
        path = buf;
    }
    job j = {0};
    j.mode = argv[1];
    j.n = atol(argv[2]);
    int B = argc > 3 ? atoi(argv[3]) : 0;
    cmanp_err e;
    if (cmanp_model_load_file(&j.m, path, &e)) die("model", &e);
    const cmanp_config *c = &j.m->cfg;
    const int W = c->dim_x + c->dim_y;
    long M = j.n > 4096 ? j.n : 4096;
    j.xy = malloc(sizeof(cmanp_real) * 4096 * W);
    j.xt = malloc(sizeof(cmanp_real) * M * c->dim_x);
    j.mean = malloc(sizeof(cmanp_real) * M * c->dim_y);
    j.sd = malloc(sizeof(cmanp_real) * M * c->dim_y);
    if (!j.xy || !j.xt || !j.mean || !j.sd) die("out of memory", NULL);
    for (int i = 0; i < 4096; i++) {
        double x = i / 1024.0 - 2.0;
        j.xy[i * W] = (cmanp_real)x;
        for (int k = 1; k < W; k++) j.xy[i * W + k] = (cmanp_real)(0.8 * __builtin_sin(3 * x + k));
    }
    for (long i = 0; i < M * c->dim_x; i++) j.xt[i] = (cmanp_real)(4.0 * (double)i / (double)(M * c->dim_x) - 2);
    if (cmanp_state_new(j.m, &j.s, &e) || cmanp_cond_new(j.m, strcmp(j.mode, "cond") ? 0 : B, &j.c, &e) ||
        cmanp_readout_new(j.m, &j.r, &e))
        die("setup", &e);
    if (strcmp(j.mode, "cond") != 0) {
        /* a state of 4096 rows, read out once */
        if (cmanp_cond_add(j.c, j.s, j.xy, 4096, &e) || cmanp_cond_flush(j.c, j.s, &e) ||
            cmanp_readout_compute(j.r, j.s, &e))
            die("state", &e);
    }
    double t = cpu_now();
    measured(&j);
    t = cpu_now() - t;
    printf("{\"mode\": \"%s\", \"n\": %ld, \"cpu_s\": %.4f, \"mean0\": %.9g}\n", j.mode, j.n, t,
           (double)j.mean[0]);
    cmanp_readout_free(j.r);
    cmanp_cond_free(j.c);
    cmanp_state_free(j.s);
    cmanp_model_free(j.m);
    free(j.xy);
    free(j.xt);
    free(j.mean);
    free(j.sd);
    return 0;
}
