/* bench_cmhp.c - CMHP's constant-cost conditioning against a THP-style
 * one-shot causal-attention history encoder (docs/cmhp.md, issue #8 item 5).
 *
 *   bench_cmhp [--model M] [--ext E] [--set S] [--only update|attention|sql]
 *              [--n N] [--max-n N] [--reps R] [--attn-max-bytes B]
 *              [--attn-max-seconds T] [--sql-seqs Q] [--smoke]
 *
 * Parts (all by default):
 *   update     for n = 10^2 .. 10^6 events (a hawkes_meta process drawn with
 *              a fixed seed, simulated by engine/hawkes.c; K = 3 marks as the
 *              default model): build the state from n events (blocks of
 *              CMHP_DEFAULT_BLOCK), then time R single-event folds
 *              (cmhp_add, block 1, as the SQL aggregates) and R readouts +
 *              log-likelihood of the next event (cmhp_readout_compute +
 *              cmhp_dist_loglik); medians in microseconds.  Also the state's
 *              BLOB size and heap bytes, and the engine allocator's counters
 *              around the timed loop (allocations and live-byte change must
 *              be 0: that and the flat state size are checked, not the times).
 *   attention  the history encoder THP (Zuo et al. 2020) conditions with: the
 *              same event embeddings (cmhp_embed: mark embedding + temporal
 *              encoding) through L transformer encoder layers (the model's
 *              d_model, nhead, dim_feedforward, num_layers) with full causal
 *              self-attention over all n events, the n x n scores
 *              materialised one head at a time (THP holds all heads at once,
 *              so its memory is larger still) and computed by cblas_sgemm;
 *              weights drawn with a fixed seed (costs do not depend on
 *              values).  Time, exact peak bytes of its buffers and the
 *              process's peak RSS.  An n whose buffers exceed
 *              --attn-max-bytes (default 8 GiB) or whose extrapolated time
 *              (quadratic from the previous n) exceeds --attn-max-seconds
 *              (default 300) is skipped with a note.
 *   sql        every event of the set (default $CMANP_SHARED_DIR/tpp/
 *              hawkes_meta.sqlite, or ../shared/tpp/...) scored through the
 *              window query of sql/cmhp_eval.sql:
 *                cmhp_logprob(cmhp_condition('m', t, mark) OVER (PARTITION BY seq
 *                  ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
 *                  t, mark)
 *              wall time, events/s, and the NLL per event (i >= 1) as a check.
 *
 * Output: one JSON object per line on stdout (keys "part", "n", ...; the last
 * line has "part": "summary" with "ok"), a human-readable table on stderr.
 * Exit status 0 when the invariants hold (state size and allocator counters
 * flat in n, finite scores), 1 otherwise, 2 on usage errors.
 *
 * --smoke: n = 10^2 and 10^3, 20 repetitions, 5 SQL sequences (ctest
 * bench.cmhp_smoke; a second or two).  Run with OPENBLAS_NUM_THREADS=1.
 * Defaults assume the repository root as working directory and the
 * extension next to this binary (build/bench_cmhp -> build/cmanp).
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cmhp.h"
#include "hawkes.h"
#include "bench_util.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void) { /* this process's CPU time (all threads) */
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long peak_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void die(const char *what, const char *msg) {
    fprintf(stderr, "bench_cmhp: %s: %s\n", what, msg ? msg : "?");
    exit(1);
}

/* The attention encoder's buffers: exact live / peak byte counts. */
static size_t g_live, g_peak;
typedef struct {
    size_t n;
} tracked_hdr;

static void *tmalloc(size_t bytes) {
    tracked_hdr *h = malloc(sizeof(tracked_hdr) + bytes);
    if (!h) return NULL;
    h->n = bytes;
    g_live += bytes;
    if (g_live > g_peak) g_peak = g_live;
    return h + 1;
}

static void tfree(void *p) {
    if (!p) return;
    tracked_hdr *h = (tracked_hdr *)p - 1;
    g_live -= h->n;
    free(h);
}

/* ----------------------------------------------------------------- events */

/* n events of one hawkes_meta process (seed 2024), or of hawkes1 when the
 * model has one mark; marks folded into the model's range. */
static void simulate(const cmhp_model *m, int n, double *t, int *k) {
    cmanp_rng g;
    cmanp_rng_seed(&g, 2024);
    cmhp_hawkes p;
    cmanp_err e = {0};
    const char *name = m->cfg.num_marks >= 3 ? "hawkes_meta" : "hawkes1";
    if (cmhp_hawkes_preset(name, &g, &p, &e)) die("hawkes preset", e.msg);
    int got = 0, trunc = 0;
    double t0 = 0;
    /* Simulate in windows until n events (the simulator stops at its cap). */
    while (got < n) {
        int cnt = 0;
        if (cmhp_hawkes_simulate(&p, t0, t0 + 1e6, &g, n - got, t + got, k + got, &cnt, &trunc, &e))
            die("simulate", e.msg);
        got += cnt;
        t0 += 1e6;
    }
    for (int i = 0; i < n; i++) k[i] %= m->cfg.num_marks;
}

/* ----------------------------------------------------------------- update */

typedef struct update_row {
    long long n;
    double build_s, fold_us, fold_us_mean, readout_us, readout_us_mean;
    size_t state_bytes;
    long long state_heap_bytes, allocs_during, live_delta, engine_live;
    double loglik;
} update_row;

static update_row bench_update(const cmhp_model *m, const double *t, const int *k, int n, int reps) {
    update_row r;
    memset(&r, 0, sizeof r);
    r.n = n;
    cmanp_err e = {0};
    cmhp_state *s;
    cmhp_cond *bulk, *one;
    cmhp_readout *ro;
    cmanp_alloc_stats a0, a1;
    cmanp_alloc_stats_get(&a0);
    if (cmhp_state_new(m, &s, &e)) die("state", e.msg);
    cmanp_alloc_stats_get(&a1);
    r.state_heap_bytes = a1.live_bytes - a0.live_bytes;
    if (cmhp_cond_new(m, CMHP_DEFAULT_BLOCK, &bulk, &e) || cmhp_cond_new(m, 1, &one, &e) ||
        cmhp_readout_new(m, &ro, &e))
        die("cond/readout", e.msg);
    double t0 = now();
    for (int i = 0; i < n; i += CMHP_DEFAULT_BLOCK) {
        int b = n - i < CMHP_DEFAULT_BLOCK ? n - i : CMHP_DEFAULT_BLOCK;
        if (cmhp_add(bulk, s, t + i, k + i, b, &e)) die("add", e.msg);
    }
    r.build_s = now() - t0;
    double *fold = malloc((size_t)reps * sizeof *fold), *rd = malloc((size_t)reps * sizeof *rd);
    if (!fold || !rd) die("malloc", "out of memory");
    cmanp_alloc_stats_get(&a0);
    double sum_f = 0, sum_r = 0;
    for (int i = 0; i < reps; i++) { /* fold events n .. n+reps-1, one at a time */
        double c0 = now();
        if (cmhp_add(one, s, t + n + i, k + n + i, 1, &e)) die("add", e.msg);
        fold[i] = (now() - c0) * 1e6;
        sum_f += fold[i];
    }
    const double tn = t[n + reps];
    const int kn = k[n + reps];
    for (int i = 0; i < reps; i++) { /* readout + log p of the next event */
        double c0 = now();
        if (cmhp_readout_compute(ro, s, &e)) die("readout", e.msg);
        r.loglik = cmhp_dist_loglik(cmhp_readout_dist(ro), tn, kn);
        rd[i] = (now() - c0) * 1e6;
        sum_r += rd[i];
    }
    cmanp_alloc_stats_get(&a1);
    r.allocs_during = a1.n_allocs - a0.n_allocs;
    r.live_delta = a1.live_bytes - a0.live_bytes;
    r.engine_live = a1.live_bytes; /* model + state + conditioners + readout */
    r.state_bytes = cmhp_state_encoded_size(s);
    r.fold_us_mean = sum_f / reps;
    r.readout_us_mean = sum_r / reps;
    r.fold_us = bench_median(fold, reps);
    r.readout_us = bench_median(rd, reps);
    free(fold);
    free(rd);
    cmhp_readout_free(ro);
    cmhp_cond_free(one);
    cmhp_cond_free(bulk);
    cmhp_state_free(s);
    return r;
}

/* -------------------------------------------------------------- attention */

typedef struct attn_row {
    long long n;
    double seconds, cpu_seconds;
    size_t peak_bytes, scores_bytes, need_bytes;
    long maxrss_kb;
    double checksum;
} attn_row;

static void fill_normal(cmanp_rng *g, float *w, size_t n, double sd) {
    for (size_t i = 0; i < n; i++) w[i] = (float)(sd * cmanp_rng_normal(g));
}

static void layer_norm_rows(float *x, size_t n, int d) {
    for (size_t i = 0; i < n; i++) {
        float *r = x + i * (size_t)d;
        double mu = 0, var = 0;
        for (int j = 0; j < d; j++) mu += r[j];
        mu /= d;
        for (int j = 0; j < d; j++) var += (r[j] - mu) * (r[j] - mu);
        const double inv = 1.0 / sqrt(var / d + 1e-5);
        for (int j = 0; j < d; j++) r[j] = (float)((r[j] - mu) * inv);
    }
}

/* Bytes of the encoder's buffers for n events: X, Q, K, V, O, A (n d), the
 * feed-forward hidden (n F) and one head's scores (n n), all float. */
static size_t attn_bytes(size_t n, int d, int F) {
    return sizeof(float) * (n * (size_t)d * 6 + n * (size_t)F + n * n);
}

static attn_row bench_attention(const cmhp_model *m, const double *t, const int *k, int n) {
    attn_row r;
    memset(&r, 0, sizeof r);
    r.n = n;
    const int d = m->cfg.d_model, H = m->cfg.nhead, dh = d / H, F = m->cfg.dim_feedforward,
              L = m->cfg.num_layers;
    const size_t N = (size_t)n;
    r.scores_bytes = sizeof(float) * N * N;
    r.need_bytes = attn_bytes(N, d, F);
    /* Weights: Wq, Wk, Wv, Wo (d d), W1 (d F), W2 (F d) per layer, biases b1, b2. */
    cmanp_rng g;
    cmanp_rng_seed(&g, 7);
    const size_t per_layer = (size_t)4 * d * d + 2 * (size_t)d * F + F + d;
    float *wts = malloc(sizeof(float) * per_layer * L);
    cmanp_real *emb = malloc(sizeof(cmanp_real) * N * d);
    if (!wts || !emb) die("malloc", "out of memory (attention weights / embeddings)");
    fill_normal(&g, wts, per_layer * L, 1.0 / sqrt(d));
    cmhp_embed(m, t, k, n, emb);
    g_live = g_peak = 0;
    const double t0 = now(), c0 = cpu_now();
    float *X = tmalloc(sizeof(float) * N * d), *Q = tmalloc(sizeof(float) * N * d),
          *K = tmalloc(sizeof(float) * N * d), *V = tmalloc(sizeof(float) * N * d),
          *O = tmalloc(sizeof(float) * N * d), *A = tmalloc(sizeof(float) * N * d),
          *Hf = tmalloc(sizeof(float) * N * F), *S = tmalloc(sizeof(float) * N * N);
    if (!X || !Q || !K || !V || !O || !A || !Hf || !S) die("malloc", "out of memory (attention)");
    for (size_t i = 0; i < N * d; i++) X[i] = (float)emb[i];
    const float scale = (float)(1.0 / sqrt(dh));
    for (int l = 0; l < L; l++) {
        const float *Wq = wts + per_layer * l, *Wk = Wq + d * d, *Wv = Wk + d * d, *Wo = Wv + d * d,
                    *W1 = Wo + d * d, *W2 = W1 + (size_t)d * F, *b1 = W2 + (size_t)F * d, *b2 = b1 + F;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, d, 1, X, d, Wq, d, 0, Q, d);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, d, 1, X, d, Wk, d, 0, K, d);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, d, 1, X, d, Wv, d, 0, V, d);
        for (int h = 0; h < H; h++) {
            /* S = Q_h K_h^T / sqrt(dh) over all n x n pairs (as THP), then the
             * causal mask and a row softmax over j <= i. */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, dh, scale, Q + h * dh, d,
                        K + h * dh, d, 0, S, n);
            for (size_t i = 0; i < N; i++) {
                float *row = S + i * N;
                float mx = row[0];
                for (size_t j = 1; j <= i; j++) mx = row[j] > mx ? row[j] : mx;
                double sum = 0;
                for (size_t j = 0; j <= i; j++) {
                    row[j] = expf(row[j] - mx);
                    sum += row[j];
                }
                const float inv = (float)(1.0 / sum);
                for (size_t j = 0; j <= i; j++) row[j] *= inv;
                for (size_t j = i + 1; j < N; j++) row[j] = 0;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dh, n, 1, S, n, V + h * dh, d,
                        0, O + h * dh, d);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, d, 1, O, d, Wo, d, 0, A, d);
        for (size_t i = 0; i < N * d; i++) X[i] += A[i];
        layer_norm_rows(X, N, d);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, F, d, 1, X, d, W1, F, 0, Hf, F);
        for (size_t i = 0; i < N; i++)
            for (int j = 0; j < F; j++) {
                float v = Hf[i * F + j] + b1[j];
                Hf[i * F + j] = v > 0 ? v : 0;
            }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, F, 1, Hf, F, W2, d, 0, A, d);
        for (size_t i = 0; i < N; i++)
            for (int j = 0; j < d; j++) X[i * d + j] += A[i * d + j] + b2[j];
        layer_norm_rows(X, N, d);
    }
    /* The history encoding THP conditions on: the last event's row. */
    double cs = 0;
    for (int j = 0; j < d; j++) cs += X[(N - 1) * d + j];
    r.seconds = now() - t0;
    r.cpu_seconds = cpu_now() - c0;
    r.checksum = cs;
    r.peak_bytes = g_peak;
    r.maxrss_kb = peak_rss_kb();
    tfree(X);
    tfree(Q);
    tfree(K);
    tfree(V);
    tfree(O);
    tfree(A);
    tfree(Hf);
    tfree(S);
    free(wts);
    free(emb);
    return r;
}

/* -------------------------------------------------------------------- sql */

typedef struct sql_row {
    int seqs;
    long long rows, scored;
    double seconds, cpu_seconds, nll, oracle;
} sql_row;

static sql_row bench_sql(const char *ext, const char *model, const char *set, int nseq) {
    sql_row r;
    memset(&r, 0, sizeof r);
    sqlite3 *db;
    char *err = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) die("sqlite3_open", sqlite3_errmsg(db));
    sqlite3_enable_load_extension(db, 1);
    if (sqlite3_load_extension(db, ext, NULL, &err) != SQLITE_OK) die("load_extension", err);
    sqlite3_stmt *st;
    const char *setup = "SELECT cmanp_model_load('m', ?1)";
    if (sqlite3_prepare_v2(db, setup, -1, &st, NULL) != SQLITE_OK) die("prepare", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) die("cmanp_model_load", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "ATTACH ?1 AS ev", -1, &st, NULL) != SQLITE_OK)
        die("prepare", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, set, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) die("attach", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    const char *q =
        "SELECT count(DISTINCT seq), count(*), count(ll), avg(CASE WHEN i >= 1 THEN -ll END), "
        "       avg(CASE WHEN i >= 1 THEN -oracle_ll END)"
        "  FROM (SELECT seq, i, oracle_ll,"
        "               cmhp_logprob(cmhp_condition('m', t, mark)"
        "                              OVER (PARTITION BY seq ORDER BY t"
        "                                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),"
        "                            t, mark) AS ll"
        "          FROM ev.events"
        "         WHERE seq IN (SELECT seq FROM ev.sequences ORDER BY seq LIMIT ?1))";
    if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) die("prepare", sqlite3_errmsg(db));
    sqlite3_bind_int(st, 1, nseq);
    const double t0 = now(), c0 = cpu_now();
    if (sqlite3_step(st) != SQLITE_ROW) die("window query", sqlite3_errmsg(db));
    r.seconds = now() - t0;
    r.cpu_seconds = cpu_now() - c0;
    r.seqs = sqlite3_column_int(st, 0);
    r.rows = sqlite3_column_int64(st, 1);
    r.scored = sqlite3_column_int64(st, 2);
    r.nll = sqlite3_column_double(st, 3);
    r.oracle = sqlite3_column_double(st, 4);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return r;
}

/* ------------------------------------------------------------------- main */

static int usage(void) {
    fprintf(stderr,
            "usage: bench_cmhp [--model M] [--ext E] [--set S] [--only update|attention|sql]\n"
            "                  [--n N] [--max-n N] [--reps R] [--attn-max-bytes B]\n"
            "                  [--attn-max-seconds T] [--sql-seqs Q] [--smoke]\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *model = "models/cmhp_hawkes_meta.safetensors", *only = NULL, *set = NULL, *ext = NULL;
    long long max_n = 1000000, one_n = 0;
    int reps = 1000, smoke = 0, sql_seqs = -1;
    double attn_max_bytes = 8.0 * (1 << 30), attn_max_s = 300;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--smoke")) {
            smoke = 1;
            continue;
        }
        if (!v) return usage();
        i++;
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--ext")) ext = v;
        else if (!strcmp(a, "--set")) set = v;
        else if (!strcmp(a, "--only")) only = v;
        else if (!strcmp(a, "--n")) one_n = atoll(v);
        else if (!strcmp(a, "--max-n")) max_n = atoll(v);
        else if (!strcmp(a, "--reps")) reps = atoi(v);
        else if (!strcmp(a, "--attn-max-bytes")) attn_max_bytes = atof(v);
        else if (!strcmp(a, "--attn-max-seconds")) attn_max_s = atof(v);
        else if (!strcmp(a, "--sql-seqs")) sql_seqs = atoi(v);
        else return usage();
    }
    if (only && strcmp(only, "update") && strcmp(only, "attention") && strcmp(only, "sql"))
        return usage();
    if (smoke) {
        max_n = 1000;
        reps = 20;
        if (sql_seqs < 0) sql_seqs = 5;
    }
    if (reps < 1 || max_n < 1 || max_n > 100000000 || one_n < 0 || one_n > 100000000) return usage();
    char ext_buf[4096], set_buf[4096];
    if (!ext) { /* the extension next to this binary */
        const char *slash = strrchr(argv[0], '/');
        int dir = slash ? (int)(slash - argv[0]) : 1;
        snprintf(ext_buf, sizeof ext_buf, "%.*s/cmanp", dir, slash ? argv[0] : ".");
        ext = ext_buf;
    }
    if (!set) {
        const char *sh = getenv("CMANP_SHARED_DIR");
        snprintf(set_buf, sizeof set_buf, "%s/tpp/hawkes_meta.sqlite", sh && *sh ? sh : "../shared");
        set = set_buf;
    }
    const int do_update = !only || !strcmp(only, "update"),
              do_attn = !only || !strcmp(only, "attention"), do_sql = !only || !strcmp(only, "sql");
    long long ns[8];
    int nn = 0;
    if (one_n) ns[nn++] = one_n;
    else
        for (long long n = 100; n <= max_n && nn < 8; n *= 10) ns[nn++] = n;

    cmhp_model *m;
    cmanp_err e = {0};
    if (cmhp_model_load_file(&m, model, &e)) die("model", e.msg);
    int ok = 1;
    printf("{\"part\": \"config\", \"model\": \"%s\", \"variant\": \"%s\", \"marks\": %d, "
           "\"d_model\": %d, \"nhead\": %d, \"num_layers\": %d, \"dim_feedforward\": %d, "
           "\"reps\": %d, \"openblas_threads\": \"%s\"}\n",
           model, cmhp_variant_name(&m->cfg), m->cfg.num_marks, m->cfg.d_model, m->cfg.nhead,
           m->cfg.num_layers, m->cfg.dim_feedforward, reps,
           getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : "default");
    fflush(stdout);

    double *t = NULL;
    int *k = NULL;
    const long long nmax = ns[nn - 1];
    if (do_update || do_attn) {
        const size_t cnt = (size_t)nmax + (size_t)reps + 1;
        t = malloc(cnt * sizeof *t);
        k = malloc(cnt * sizeof *k);
        if (!t || !k) die("malloc", "out of memory (events)");
        simulate(m, (int)cnt, t, k);
    }

    if (do_update) {
        update_row rows[8];
        fprintf(stderr, "\n(a) CMHP: fold one event + readout/logprob on a state of n events "
                        "(medians over %d repetitions)\n", reps);
        fprintf(stderr, "%10s %10s %12s %14s %10s %12s %14s %8s %8s\n", "n", "build s", "fold us",
                "readout+lp us", "state B", "state heap B", "engine live B", "allocs", "live dB");
        for (int i = 0; i < nn; i++) {
            update_row r = bench_update(m, t, k, (int)ns[i], reps);
            rows[i] = r;
            printf("{\"part\": \"update\", \"n\": %lld, \"build_s\": %.4f, \"fold_us_median\": %.3f, "
                   "\"fold_us_mean\": %.3f, \"readout_logprob_us_median\": %.3f, "
                   "\"readout_logprob_us_mean\": %.3f, \"state_bytes\": %zu, "
                   "\"state_heap_bytes\": %lld, \"engine_live_bytes\": %lld, \"allocs_during\": %lld, "
                   "\"live_bytes_delta\": %lld, \"loglik_next\": %.6f}\n",
                   r.n, r.build_s, r.fold_us, r.fold_us_mean, r.readout_us, r.readout_us_mean,
                   r.state_bytes, r.state_heap_bytes, r.engine_live, r.allocs_during, r.live_delta,
                   r.loglik);
            fflush(stdout);
            fprintf(stderr, "%10lld %10.3f %12.2f %14.2f %10zu %12lld %14lld %8lld %8lld\n", r.n,
                    r.build_s, r.fold_us, r.readout_us, r.state_bytes, r.state_heap_bytes,
                    r.engine_live, r.allocs_during, r.live_delta);
            ok &= r.allocs_during == 0 && r.live_delta == 0 && isfinite(r.loglik) &&
                  r.state_bytes == rows[0].state_bytes && r.state_heap_bytes == rows[0].state_heap_bytes &&
                  r.engine_live == rows[0].engine_live;
        }
    }

    if (do_attn) {
        fprintf(stderr, "\n(b) one-shot causal self-attention encoder (THP-style, %d layers, d %d, "
                        "%d heads, F %d) over all n events\n",
                m->cfg.num_layers, m->cfg.d_model, m->cfg.nhead, m->cfg.dim_feedforward);
        fprintf(stderr, "%10s %10s %10s %14s %14s %12s\n", "n", "seconds", "cpu s", "peak bytes",
                "scores bytes", "maxrss kB");
        double prev_s = 0;
        long long prev_n = 0;
        for (int i = 0; i < nn; i++) {
            const long long n = ns[i];
            const size_t need = attn_bytes((size_t)n, m->cfg.d_model, m->cfg.dim_feedforward);
            const double est = prev_n ? prev_s * ((double)n / prev_n) * ((double)n / prev_n) : 0;
            if ((double)need > attn_max_bytes || est > attn_max_s) {
                char note[200];
                if ((double)need > attn_max_bytes)
                    snprintf(note, sizeof note,
                             "skipped: needs %.3g bytes (one head's n x n float scores %.3g) > "
                             "--attn-max-bytes %.3g",
                             (double)need, 4.0 * n * n, attn_max_bytes);
                else
                    snprintf(note, sizeof note,
                             "skipped: extrapolated %.0f s (quadratic from n = %lld) > "
                             "--attn-max-seconds %.0f",
                             est, prev_n, attn_max_s);
                printf("{\"part\": \"attention\", \"n\": %lld, \"skipped\": true, \"need_bytes\": %zu, "
                       "\"est_seconds\": %.1f, \"note\": \"%s\"}\n",
                       n, need, est, note);
                fprintf(stderr, "%10lld   %s\n", n, note);
                continue;
            }
            attn_row r = bench_attention(m, t, k, (int)n);
            printf("{\"part\": \"attention\", \"n\": %lld, \"skipped\": false, \"seconds\": %.4f, "
                   "\"cpu_seconds\": %.4f, \"peak_bytes\": %zu, \"scores_bytes\": %zu, "
                   "\"maxrss_kb\": %ld}\n",
                   r.n, r.seconds, r.cpu_seconds, r.peak_bytes, r.scores_bytes, r.maxrss_kb);
            fflush(stdout);
            fprintf(stderr, "%10lld %10.3f %10.3f %14zu %14zu %12ld\n", r.n, r.seconds, r.cpu_seconds,
                    r.peak_bytes, r.scores_bytes, r.maxrss_kb);
            ok &= isfinite(r.checksum) && r.peak_bytes == need;
            prev_s = r.seconds;
            prev_n = n;
        }
    }
    free(t);
    free(k);

    if (do_sql) {
        sql_row r = bench_sql(ext, model, set, sql_seqs);
        printf("{\"part\": \"sql\", \"set\": \"%s\", \"sequences\": %d, \"events\": %lld, "
               "\"scored\": %lld, \"seconds\": %.3f, \"cpu_seconds\": %.3f, \"events_per_s\": %.0f, "
               "\"events_per_cpu_s\": %.0f, \"nll\": %.6f, \"oracle_nll\": %.6f, \"maxrss_kb\": %ld}\n",
               set, r.seqs, r.rows, r.scored, r.seconds, r.cpu_seconds, r.rows / r.seconds,
               r.rows / r.cpu_seconds, r.nll, r.oracle, peak_rss_kb());
        fprintf(stderr, "\n(c) SQL window query over %s: %d sequences, %lld events (%lld scored), "
                        "%.2f s wall (%.0f events/s), %.2f s CPU (%.0f events/s); NLL/event (i >= 1) "
                        "%.4f, oracle %.4f\n",
                set, r.seqs, r.rows, r.scored, r.seconds, r.rows / r.seconds, r.cpu_seconds,
                r.rows / r.cpu_seconds, r.nll, r.oracle);
        ok &= r.rows > 0 && r.scored == r.rows - r.seqs && isfinite(r.nll);
    }
    printf("{\"part\": \"summary\", \"ok\": %s}\n", ok ? "true" : "false");
    cmhp_model_free(m);
    return ok ? 0 : 1;
}
