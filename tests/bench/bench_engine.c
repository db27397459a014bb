#define _POSIX_C_SOURCE 200809L
/* bench_engine.c - engine throughput at the reference GP configuration.
 *
 * Reports, single-threaded unless OPENBLAS_NUM_THREADS says otherwise:
 *   - the machine's cblas_sgemm rate (square 512 products), the reference;
 *   - streaming conditioning: rows/s and GFLOP/s per block size, efficiency
 *     against sgemm;
 *   - readout (latents from a state) and decode (targets/s);
 *   - update: fold 1 row into a state, read out, decode 1 target.
 * Usage: bench_engine [model.safetensors] [rows]   (default: golden GP weights).
 * CMANP_THREADS=n: readout and decoding on n threads (cmanp_readout_set_threads). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cmanp.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double sgemm_gflops(void) {
    const int n = 512;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
          *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++) a[i] = b[i] = (float)((i % 17) - 8) * 0.01f;
    double best = 0;
    for (int rep = 0; rep < 7; rep++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t = now() - t;
        double g = 2.0 * n * n * n / t * 1e-9;
        if (g > best) best = g;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "../shared/golden/gp_cmanp.weights.safetensors";
    long rows = argc > 2 ? atol(argv[2]) : 200000;
    cmanp_model *m;
    cmanp_err e = {0};
    if (cmanp_model_load_file(&m, path, &e)) {
        fprintf(stderr, "bench_engine: %s\n", e.msg);
        return 1;
    }
    const cmanp_config *c = &m->cfg;
    int W = c->dim_x + c->dim_y;
    double peak = sgemm_gflops();
    printf("compute type %s; sgemm (512^3): %.1f GFLOP/s\n", CMANP_REAL_NAME, peak);
    printf("FLOPs: %.0f per row, %.0f per readout, %.0f per target\n\n", cmanp_flops_per_row(c),
           cmanp_flops_per_readout(c), cmanp_flops_per_target(c));

    const int chunk = 4096;
    cmanp_real *xy = malloc(sizeof(cmanp_real) * chunk * W);
    for (int i = 0; i < chunk; i++) {
        double x = 4.0 * i / chunk - 2.0;
        xy[i * W] = (cmanp_real)x;
        for (int k = 1; k < W; k++) xy[i * W + k] = (cmanp_real)(0.8 * __builtin_sin(3 * x + k));
    }
    printf("| block rows | rows/s | GFLOP/s | of sgemm |\n|---:|---:|---:|---:|\n");
    int blocks[] = {32, 64, 128, 256, 512, 1024};
    cmanp_state *s;
    cmanp_state_new(m, &s, &e);
    for (size_t bi = 0; bi < sizeof blocks / sizeof *blocks; bi++) {
        cmanp_cond *cd;
        cmanp_cond_new(m, blocks[bi], &cd, &e);
        cmanp_state_clear(s);
        double t = now();
        for (long done = 0; done < rows; done += chunk)
            cmanp_cond_add(cd, s, xy, (int)(rows - done < chunk ? rows - done : chunk), &e);
        cmanp_cond_flush(cd, s, &e);
        t = now() - t;
        double rps = rows / t, gf = rps * cmanp_flops_per_row(c) * 1e-9;
        printf("| %d | %.0f | %.2f | %.0f%% |\n", blocks[bi], rps, gf, 100 * gf / peak);
        cmanp_cond_free(cd);
    }

    cmanp_readout *r;
    cmanp_readout_new(m, &r, &e);
    const char *th = getenv("CMANP_THREADS");
    if (th && cmanp_readout_set_threads(r, atoi(th), &e)) {
        fprintf(stderr, "bench_engine: %s\n", e.msg);
        return 1;
    }
    printf("\nthreads: %d, readout parts: %d\n", cmanp_readout_threads(r), CMANP_READOUT_PARTS);
    int reps = 50;
    double t = now();
    for (int i = 0; i < reps; i++) cmanp_readout_compute(r, s, &e);
    t = (now() - t) / reps;
    printf("\nreadout: %.3f ms (%.2f GFLOP/s)\n", t * 1e3, cmanp_flops_per_readout(c) / t * 1e-9);

    const int M = 4096;
    cmanp_real *xt = malloc(sizeof(cmanp_real) * M * c->dim_x), *mean = malloc(sizeof(cmanp_real) * M * c->dim_y),
               *sd = malloc(sizeof(cmanp_real) * M * c->dim_y);
    for (int i = 0; i < M * c->dim_x; i++) xt[i] = (cmanp_real)(4.0 * i / (M * c->dim_x) - 2);
    t = now();
    for (int i = 0; i < 5; i++) cmanp_predict(r, xt, M, mean, sd, NULL, &e);
    t = (now() - t) / 5;
    printf("decode: %.0f targets/s (%.2f GFLOP/s)\n", M / t, M * cmanp_flops_per_target(c) / t * 1e-9);

    cmanp_cond *cd;
    cmanp_cond_new(m, 0, &cd, &e);
    t = now();
    for (int i = 0; i < reps; i++) {
        cmanp_cond_add(cd, s, xy + (size_t)i * W, 1, &e);
        cmanp_cond_flush(cd, s, &e);
        cmanp_readout_compute(r, s, &e);
        cmanp_predict(r, xt, 1, mean, sd, NULL, &e);
    }
    t = (now() - t) / reps;
    printf("update (1 row) + readout + 1 target: %.3f ms\n", t * 1e3);
    cmanp_cond_free(cd);
    cmanp_readout_free(r);
    cmanp_state_free(s);
    free(xy);
    free(xt);
    free(mean);
    free(sd);
    cmanp_model_free(m);
    return 0;
}
