/* test_bounded.c - guard rails for the scaling targets (issue #6, item 3),
 * at the reference GP configuration (golden weights), without timing:
 *
 *   1. memory: streaming 10^3, 10^4 and 10^5 rows into a state allocates
 *      nothing once the conditioner exists: engine live bytes, peak bytes
 *      and the allocation count are the same at every checkpoint, and the
 *      process's resident set grows by less than 2 MiB from 10^3 to 10^5;
 *   2. work per update: from states of 10^3 and of 10^5 rows, "add k rows,
 *      flush, read out, predict one target" (k = 1, 10, 100) and "remove one
 *      row" do exactly the same work, counted by the engine (cmanp_work:
 *      matrix products, their FLOPs, rows folded), and that work equals the
 *      documented formula k * flops_per_row + flops_per_readout +
 *      flops_per_target (docs/performance.md); no allocation either;
 *   3. decoding M targets costs M times one target (batches change the
 *      shapes, not the count).
 * The SQL layer's variant (cmanp_debug() counters while streaming through
 * the aggregate) is tests/sql/bounded.sql. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmanp.h"
#include "testutil.h"

static cmanp_model *m;
static int W;

/* current resident set in bytes (Linux), -1 when unknown */
static long long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long long pages_total, pages_res;
    int ok = fscanf(f, "%lld %lld", &pages_total, &pages_res) == 2;
    fclose(f);
    return ok ? pages_res * (long long)sysconf(_SC_PAGESIZE) : -1;
}

static void fill_rows(cmanp_real *xy, int n, int seed) {
    for (int i = 0; i < n; i++) {
        double x = ((i * 37 + seed * 11) % 4096) / 1024.0 - 2.0;
        xy[(size_t)i * W] = (cmanp_real)x;
        for (int k = 1; k < W; k++) xy[(size_t)i * W + k] = (cmanp_real)(0.8 * sin(3 * x + k + seed));
    }
}

typedef struct op_cost {
    cmanp_work w;
    int64_t allocs;
    int rc;
} op_cost;

/* add k rows to a copy of s (or remove them when k < 0), flush, read out,
 * predict one target; returns the engine's count of that work. */
static op_cost update_cost(const cmanp_state *s, int k, cmanp_cond *c, cmanp_readout *r,
                           cmanp_state *tmp, const cmanp_real *rows) {
    op_cost out = {{0, 0, 0}, 0, 0};
    cmanp_err e = {0};
    cmanp_state_copy(tmp, s, &e);
    cmanp_real x = R(0.25), mean, sd;
    cmanp_alloc_stats a0, a1;
    cmanp_alloc_stats_get(&a0);
    cmanp_work_reset();
    if (k >= 0)
        out.rc |= cmanp_cond_add(c, tmp, rows, k, &e);
    else
        out.rc |= cmanp_cond_remove(c, tmp, rows, -k, &e);
    out.rc |= cmanp_cond_flush(c, tmp, &e);
    out.rc |= cmanp_readout_compute(r, tmp, &e);
    out.rc |= cmanp_predict(r, &x, 1, &mean, &sd, NULL, &e);
    cmanp_work_get(&out.w);
    cmanp_alloc_stats_get(&a1);
    out.allocs = a1.n_allocs - a0.n_allocs;
    if (out.rc) fprintf(stderr, "update_cost: %s\n", e.msg);
    return out;
}

int main(void) {
    cmanp_err e = {0};
    if (cmanp_model_load_file(&m, tu_shared("golden/gp_cmanp.weights.safetensors"), &e)) {
        fprintf(stderr, "cannot load the golden GP model: %s\n", e.msg);
        return 1;
    }
    const cmanp_config *cfg = &m->cfg;
    W = cfg->dim_x + cfg->dim_y;
    printf("reference config: d %d, layers %d, heads %d, latents %d + %d per layer\n", cfg->d_model,
           cfg->num_layers, cfg->nhead, cfg->num_latents, cfg->num_latents_per_layer);

    /* ---- 1. memory while streaming ---- */
    const int chunk = 1000;
    cmanp_real *xy = malloc(sizeof *xy * (size_t)chunk * W);
    cmanp_real *extra = malloc(sizeof *extra * 100 * (size_t)W);
    TU_CHECK(xy && extra, "out of memory");
    if (!xy || !extra) return tu_finish();
    fill_rows(xy, chunk, 0);
    fill_rows(extra, 100, 7);
    cmanp_cond *c;
    cmanp_state *s, *s3, *s5, *tmp;
    cmanp_readout *r;
    int rc = cmanp_cond_new(m, 0, &c, &e) | cmanp_state_new(m, &s, &e) | cmanp_state_new(m, &s3, &e) |
             cmanp_state_new(m, &s5, &e) | cmanp_state_new(m, &tmp, &e) | cmanp_readout_new(m, &r, &e);
    TU_CHECK(rc == 0, "set-up: %s", e.msg);
    if (rc) return tu_finish();

    cmanp_alloc_stats_reset_peak();
    cmanp_alloc_stats st0, st[3];
    cmanp_alloc_stats_get(&st0);
    long long rss[3];
    const long long checkpoints[3] = {1000, 10000, 100000};
    long long done = 0;
    for (int i = 0; i < 3; i++) {
        for (; done < checkpoints[i]; done += chunk) rc |= cmanp_cond_add(c, s, xy, chunk, &e);
        rc |= cmanp_cond_flush(c, s, &e);
        cmanp_alloc_stats_get(&st[i]);
        rss[i] = rss_bytes();
        if (i == 0) cmanp_state_copy(s3, s, &e);
        printf("N = %6lld: engine live %lld bytes, peak %lld, allocations %lld, RSS %.2f MiB\n",
               checkpoints[i], (long long)st[i].live_bytes, (long long)st[i].peak_bytes,
               (long long)st[i].n_allocs, rss[i] / 1048576.0);
    }
    cmanp_state_copy(s5, s, &e);
    TU_CHECK(rc == 0, "streaming: %s", e.msg);
    TU_CHECK(s->n_rows == 100000, "rows %lld", (long long)s->n_rows);
    for (int i = 0; i < 3; i++) {
        TU_CHECK(st[i].live_bytes == st0.live_bytes && st[i].peak_bytes == st0.live_bytes,
                 "N = %lld: live bytes %lld (peak %lld), %lld before streaming", checkpoints[i],
                 (long long)st[i].live_bytes, (long long)st[i].peak_bytes, (long long)st0.live_bytes);
        TU_CHECK(st[i].n_allocs == st0.n_allocs, "N = %lld: %lld allocations while streaming",
                 checkpoints[i], (long long)(st[i].n_allocs - st0.n_allocs));
    }
    if (rss[0] > 0)
        TU_CHECK(rss[2] - rss[0] < 2 * 1048576LL, "RSS grew by %.2f MiB from 10^3 to 10^5 rows",
                 (rss[2] - rss[0]) / 1048576.0);

    /* The stream's own work: every row folded once per layer, and
     * flops_per_row per row (the embedding and every layer's fold). */
    {
        cmanp_state_clear(tmp);
        cmanp_work_reset();
        cmanp_cond_add(c, tmp, xy, chunk, &e);
        cmanp_cond_flush(c, tmp, &e);
        cmanp_work w;
        cmanp_work_get(&w);
        double want = chunk * cmanp_flops_per_row(cfg);
        TU_CHECK(w.rows_folded == (int64_t)chunk * cfg->num_layers, "rows folded %lld, want %lld",
                 (long long)w.rows_folded, (long long)chunk * cfg->num_layers);
        TU_CHECK((double)w.gemm_flops == want, "%d rows: %lld FLOPs counted, formula %.0f", chunk,
                 (long long)w.gemm_flops, want);
    }

    /* ---- 2. work per update is the same for 10^3 and 10^5 rows ---- */
    const double fr = cmanp_flops_per_row(cfg), fro = cmanp_flops_per_readout(cfg),
                 ft = cmanp_flops_per_target(cfg);
    const int ks[4] = {1, 10, 100, -1};
    for (int i = 0; i < 4; i++) {
        op_cost a = update_cost(s3, ks[i], c, r, tmp, extra);
        op_cost b = update_cost(s5, ks[i], c, r, tmp, extra);
        int k = ks[i] < 0 ? -ks[i] : ks[i];
        double want = k * fr + fro + ft;
        printf("%s %3d row(s) + readout + 1 target: N = 10^3: %lld FLOPs in %lld products, %lld "
               "row folds; N = 10^5: %lld FLOPs in %lld products, %lld row folds; formula %.0f\n",
               ks[i] < 0 ? "remove" : "add", k, (long long)a.w.gemm_flops, (long long)a.w.gemm_calls,
               (long long)a.w.rows_folded, (long long)b.w.gemm_flops, (long long)b.w.gemm_calls,
               (long long)b.w.rows_folded, want);
        TU_CHECK(a.rc == 0 && b.rc == 0, "update k = %d failed", ks[i]);
        TU_CHECK(memcmp(&a.w, &b.w, sizeof a.w) == 0,
                 "k = %d: work differs between N = 10^3 and 10^5 (%lld vs %lld FLOPs)", ks[i],
                 (long long)a.w.gemm_flops, (long long)b.w.gemm_flops);
        TU_CHECK((double)a.w.gemm_flops == want, "k = %d: %lld FLOPs counted, formula %.0f", ks[i],
                 (long long)a.w.gemm_flops, want);
        TU_CHECK(a.w.rows_folded == (int64_t)k * cfg->num_layers, "k = %d: %lld row folds", ks[i],
                 (long long)a.w.rows_folded);
        TU_CHECK(a.allocs == 0 && b.allocs == 0, "k = %d: %lld / %lld allocations", ks[i],
                 (long long)a.allocs, (long long)b.allocs);
    }

    /* ---- 3. decoding: M targets cost M times one ---- */
    {
        enum { M = 200 };
        cmanp_real xt[M], mean[M], sd[M];
        for (int i = 0; i < M; i++) xt[i] = (cmanp_real)(-2.0 + 4.0 * i / M);
        cmanp_readout_compute(r, s5, &e);
        cmanp_work_reset();
        rc = cmanp_predict(r, xt, M, mean, sd, NULL, &e);
        cmanp_work w;
        cmanp_work_get(&w);
        TU_CHECK(rc == 0, "predict: %s", e.msg);
        TU_CHECK((double)w.gemm_flops == M * ft, "%d targets: %lld FLOPs, formula %.0f", M,
                 (long long)w.gemm_flops, M * ft);
        TU_CHECK(w.rows_folded == 0, "decoding folded rows");
    }

    cmanp_readout_free(r);
    cmanp_state_free(tmp);
    cmanp_state_free(s5);
    cmanp_state_free(s3);
    cmanp_state_free(s);
    cmanp_cond_free(c);
    cmanp_model_free(m);
    free(xy);
    free(extra);
    cmanp_alloc_stats gone;
    cmanp_alloc_stats_get(&gone);
    TU_CHECK(gone.live_bytes == 0, "engine memory leaked: %lld bytes", (long long)gone.live_bytes);
    return tu_finish();
}
