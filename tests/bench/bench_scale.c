/* bench_scale.c - one measurement of the scaling benchmark, in its own process
 * so that its peak RSS is its own (tests/bench/run_benchmarks.py drives it).
 *
 *   bench_scale sql-stream  <ext> <model> N   SELECT cmanp_condition('m', x, y) FROM t:
 *                                             N rows of a table in a database file,
 *                                             read through SQLite's page cache
 *   bench_scale engine-stream <ext> <model> N the same rows fed to the engine from C
 *   bench_scale oneshot     <ext> <model> N   one block of N rows (full attention, as
 *                                             in training and in NPs without CMAB)
 *   bench_scale update      <ext> <model> N   state from N rows, then add 1/10/100 rows
 *                                             and predict one target (through SQL;
 *                                             medians of 21)
 *   bench_scale predict     <ext> <model> N   targets/s: 1 state x N targets through
 *                                             cmanp_predict and cmanp_mean, and N/4
 *                                             states x 4 targets
 *   bench_scale engine-predict <ext> <model> N  the engine without SQL: N targets in
 *                                             one cmanp_predict call (best of 3) and
 *                                             N/8 one at a time, a readout, and add
 *                                             1 row + readout + 1 target (medians)
 *   bench_scale sizes       <ext> <model> 0   bytes per stored state, per cached model
 *                                             and per read-out state
 *   bench_scale sgemm                         the machine's cblas_sgemm GFLOP/s
 * Prints one JSON object per line.  SQLite's page cache is fixed (cache_size
 * -2000, 2 MB) so only cmanp's memory varies with N.  Times: "seconds" is
 * wall-clock, "cpu_seconds" the process's CPU time (the same on a quiet
 * machine: everything runs on one thread with OPENBLAS_NUM_THREADS=1; on a
 * loaded one the CPU time is the steadier of the two). */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmanp.h"
#include "bench_util.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long peak_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void die(const char *what, const char *msg) {
    fprintf(stderr, "bench_scale: %s: %s\n", what, msg);
    exit(1);
}

/* CMANP_THREADS=n: readouts and decoding on n threads (SQL cmanp_threads,
 * engine cmanp_readout_set_threads); default 1. */
static int g_threads = 1;

static sqlite3 *open_db(const char *path, const char *ext, const char *model) {
    sqlite3 *db;
    char *err = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) die("open", sqlite3_errmsg(db));
    sqlite3_enable_load_extension(db, 1);
    if (sqlite3_load_extension(db, ext, NULL, &err) != SQLITE_OK) die("load_extension", err);
    char sql[4096];
    snprintf(sql, sizeof sql,
             "PRAGMA cache_size = -2000; SELECT cmanp_model_load('m', '%s'); SELECT cmanp_threads(%d);",
             model, g_threads);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) die("model_load", err);
    return db;
}

static void exec(sqlite3 *db, const char *sql) {
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) die(sql, err);
}

/* The rows: x evenly spread over [-2, 2), y a smooth function of x. */
#define ROWS_CTE                                                                    \
    "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < %lld - 1) "
#define ROW_X "(i %% 4096) / 1024.0 - 2.0"
#define ROW_Y "0.8 * sin(3.0 * ((i %% 4096) / 1024.0 - 2.0))"

static double exec_scalar(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) die("prepare", sqlite3_errmsg(db));
    double v = NAN;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_double(st, 0);
    else die("step", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return v;
}

static cmanp_model *engine_model(const char *path) {
    cmanp_model *m;
    cmanp_err e;
    if (cmanp_model_load_file(&m, path, &e)) die("model", e.msg);
    return m;
}

static double sgemm_gflops(void) {
    const int n = 512;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
          *c = malloc(sizeof(float) * n * n);
    if (!a || !b || !c) die("sgemm", "out of memory");
    for (int i = 0; i < n * n; i++) a[i] = b[i] = (float)((i % 17) - 8) * 0.01f;
    double best = 0;
    for (int rep = 0; rep < 9; rep++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t = now() - t;
        if (2.0 * n * n * n / t * 1e-9 > best) best = 2.0 * n * n * n / t * 1e-9;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

static cmanp_real *make_rows(int n, int W) {
    cmanp_real *xy = malloc(sizeof(cmanp_real) * (size_t)n * W);
    if (!xy) die("rows", "out of memory");
    for (int i = 0; i < n; i++) {
        double x = (i % 4096) / 1024.0 - 2.0;
        xy[(size_t)i * W] = (cmanp_real)x;
        for (int k = 1; k < W; k++) xy[(size_t)i * W + k] = (cmanp_real)(0.8 * sin(3 * x));
    }
    return xy;
}

static long long engine_live(void) {
    cmanp_alloc_stats s;
    cmanp_alloc_stats_get(&s);
    return (long long)s.live_bytes;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "sgemm") == 0) {
        printf("{\"mode\": \"sgemm\", \"gflops\": %.2f}\n", sgemm_gflops());
        return 0;
    }
    if (argc != 5) {
        fprintf(stderr, "usage: bench_scale MODE EXT MODEL N | bench_scale sgemm\n");
        return 2;
    }
    const char *mode = argv[1], *ext = argv[2], *model = argv[3];
    long long N = atoll(argv[4]);
    const char *th = getenv("CMANP_THREADS");
    if (th) g_threads = atoi(th);
    if (g_threads < 1 || g_threads > CMANP_TEAM_MAX) die("CMANP_THREADS", "expected 1..8");
    cmanp_model *em = engine_model(model);
    const cmanp_config *cfg = &em->cfg;
    double fpr = cmanp_flops_per_row(cfg);
    char sql[8192];

    if (strcmp(mode, "sql-stream") == 0) {
        cmanp_model_free(em);
        /* The rows live in a table of a database file, so that reading them
         * goes through the fixed page cache instead of resident memory. */
        char path[4096];
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/cmanp_bench_%ld.db", tmp && *tmp ? tmp : "/tmp", (long)getpid());
        remove(path);
        sqlite3 *db = open_db(path, ext, model);
        exec(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; CREATE TABLE t(x REAL, y REAL)");
        snprintf(sql, sizeof sql, "INSERT INTO t " ROWS_CTE "SELECT " ROW_X ", " ROW_Y " FROM s", N);
        exec(db, sql);
        long rss0 = peak_rss_kb();
        double t = now(), c = cpu_now();
        double len = exec_scalar(db, "SELECT length(cmanp_condition('m', x, y)) FROM t");
        t = now() - t;
        c = cpu_now() - c;
        struct stat sb;
        long long file_bytes = stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
        printf("{\"mode\": \"%s\", \"n\": %lld, \"seconds\": %.4f, \"cpu_seconds\": %.4f, "
               "\"rows_per_s\": %.0f, \"cpu_rows_per_s\": %.0f, \"gflops\": %.3f, "
               "\"state_bytes\": %.0f, \"table_file_bytes\": %lld, \"rss_before_kb\": %ld, "
               "\"peak_rss_kb\": %ld}\n",
               mode, N, t, c, N / t, N / c, N / t * fpr * 1e-9, len, file_bytes, rss0, peak_rss_kb());
        sqlite3_close(db);
        remove(path);
        return 0;
    }
    if (strcmp(mode, "engine-stream") == 0 || strcmp(mode, "oneshot") == 0) {
        int oneshot = mode[0] == 'o';
        cmanp_err e;
        cmanp_cond *c;
        cmanp_state *s;
        int W = cfg->dim_x + cfg->dim_y;
        const int chunk = 4096;
        cmanp_real *xy = make_rows(chunk, W);
        long rss0 = peak_rss_kb();
        double t = now(), ct = cpu_now();
        if (cmanp_cond_new(em, oneshot ? (int)N : 0, &c, &e)) die("cond", e.msg);
        if (cmanp_state_new(em, &s, &e)) die("state", e.msg);
        for (long long done = 0; done < N; done += chunk)
            if (cmanp_cond_add(c, s, xy, (int)(N - done < chunk ? N - done : chunk), &e))
                die("add", e.msg);
        if (cmanp_cond_flush(c, s, &e)) die("flush", e.msg);
        t = now() - t;
        ct = cpu_now() - ct;
        cmanp_alloc_stats as;
        cmanp_alloc_stats_get(&as);
        printf("{\"mode\": \"%s\", \"n\": %lld, \"seconds\": %.4f, \"cpu_seconds\": %.4f, "
               "\"rows_per_s\": %.0f, \"cpu_rows_per_s\": %.0f, \"gflops\": %.3f, "
               "\"engine_peak_bytes\": %lld, \"rss_before_kb\": %ld, \"peak_rss_kb\": %ld}\n",
               mode, N, t, ct, N / t, N / ct, N / t * fpr * 1e-9, (long long)as.peak_bytes, rss0,
               peak_rss_kb());
        free(xy);
        cmanp_cond_free(c);
        cmanp_state_free(s);
        cmanp_model_free(em);
        return 0;
    }
    if (strcmp(mode, "update") == 0) {
        cmanp_model_free(em);
        sqlite3 *db = open_db(":memory:", ext, model);
        snprintf(sql, sizeof sql,
                 "CREATE TABLE st AS " ROWS_CTE
                 "SELECT cmanp_condition('m', " ROW_X ", " ROW_Y ") AS state FROM s",
                 N);
        exec(db, sql);
        printf("{\"mode\": \"update\", \"n\": %lld, \"threads\": %d", N, g_threads);
        int adds[] = {1, 10, 100};
        for (int a = 0; a < 3; a++) {
            /* Each repetition updates with different rows, so nothing is served
             * from the state cache: a new state is decoded and read out. */
            enum { REPS = 21 };
            double tw[REPS], tc[REPS];
            for (int r = 0; r < REPS; r++) {
                snprintf(sql, sizeof sql,
                         "WITH RECURSIVE s(i) AS (SELECT %d UNION ALL SELECT i + 1 FROM s WHERE i < %d) "
                         "SELECT cmanp_mean((SELECT cmanp_update(st.state, " ROW_X ", " ROW_Y
                         ") FROM s), 0.25) FROM st",
                         r * 1000, r * 1000 + adds[a] - 1);
                double t = now(), c = cpu_now();
                exec_scalar(db, sql);
                tw[r] = now() - t;
                tc[r] = cpu_now() - c;
            }
            printf(", \"add%d_predict1_ms\": %.3f, \"add%d_predict1_cpu_ms\": %.3f", adds[a],
                   bench_median(tw, REPS) * 1e3, adds[a], bench_median(tc, REPS) * 1e3);
        }
        printf(", \"peak_rss_kb\": %ld}\n", peak_rss_kb());
        sqlite3_close(db);
        return 0;
    }
    if (strcmp(mode, "predict") == 0) {
        cmanp_model_free(em);
        sqlite3 *db = open_db(":memory:", ext, model);
        exec(db,
             "CREATE TABLE st AS WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 "
             "FROM s WHERE i < 999) SELECT cmanp_condition('m', (i % 4096) / 1024.0 - 2.0, "
             "0.8 * sin(3.0 * ((i % 4096) / 1024.0 - 2.0))) AS state FROM s");
        snprintf(sql, sizeof sql,
                 "WITH RECURSIVE q(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM q WHERE i < %lld - 1) "
                 "SELECT sum(p.mean) FROM st, q, cmanp_predict(st.state, q.i * 4.0 / %lld - 2.0) p",
                 N, N);
        double t = now(), c = cpu_now();
        exec_scalar(db, sql);
        double t_tvf = now() - t, c_tvf = cpu_now() - c;
        snprintf(sql, sizeof sql,
                 "WITH RECURSIVE q(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM q WHERE i < %lld - 1) "
                 "SELECT sum(cmanp_mean(st.state, q.i * 4.0 / %lld - 2.0)) FROM st, q",
                 N, N);
        t = now();
        c = cpu_now();
        exec_scalar(db, sql);
        double t_mean = now() - t, c_mean = cpu_now() - c;
        /* the batched form: all N targets in one IN list (predict_vtab.c V7) */
        snprintf(sql, sizeof sql,
                 "SELECT sum(p.mean) FROM st, cmanp_predict(st.state) p WHERE p.a1 IN ("
                 "WITH RECURSIVE q(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM q WHERE i < %lld - 1) "
                 "SELECT i * 4.0 / %lld - 2.0 FROM q)",
                 N, N);
        t = now();
        c = cpu_now();
        exec_scalar(db, sql);
        double t_in = now() - t, c_in = cpu_now() - c;
        /* many states x few targets: N/4 distinct states (8 rows each, every group's
         * rows differ) x 4 targets */
        long long G = N / 4 > 1 ? N / 4 : 1;
        snprintf(sql, sizeof sql,
                 "CREATE TABLE many AS WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s "
                 "WHERE i < %lld * 8 - 1) SELECT i / 8 AS g, cmanp_condition('m', (i %% 8) / 2.0 - 2.0, "
                 "0.001 * (i / 8) + 0.1 * (i %% 3)) AS state FROM s GROUP BY i / 8",
                 G);
        exec(db, sql);
        t = now();
        c = cpu_now();
        exec_scalar(db,
                    "SELECT sum(p.mean) FROM many CROSS JOIN (SELECT -1.5 AS x UNION ALL SELECT -0.5 UNION ALL "
                    "SELECT 0.5 UNION ALL SELECT 1.5) q, cmanp_predict(many.state, q.x) p");
        double t_many = now() - t, c_many = cpu_now() - c;
        t = now();
        c = cpu_now();
        exec_scalar(db, "SELECT sum(p.mean) FROM many, cmanp_predict(many.state) p "
                        "WHERE p.a1 IN (-1.5, -0.5, 0.5, 1.5)");
        double t_many_in = now() - t, c_many_in = cpu_now() - c;
        printf("{\"mode\": \"predict\", \"n\": %lld, \"threads\": %d, \"tvf_targets_per_s\": %.0f, "
               "\"tvf_cpu_targets_per_s\": %.0f, \"in_targets_per_s\": %.0f, \"in_cpu_targets_per_s\": %.0f, "
               "\"mean_targets_per_s\": %.0f, "
               "\"mean_cpu_targets_per_s\": %.0f, \"many_states\": %lld, \"many_targets_per_s\": %.0f, "
               "\"many_states_per_s\": %.0f, \"many_cpu_states_per_s\": %.0f, \"many_in_states_per_s\": %.0f, "
               "\"many_in_cpu_states_per_s\": %.0f, \"peak_rss_kb\": %ld}\n",
               N, g_threads, N / t_tvf, N / c_tvf, N / t_in, N / c_in, N / t_mean, N / c_mean, G,
               4 * G / t_many, G / t_many, G / c_many, G / t_many_in, G / c_many_in, peak_rss_kb());
        sqlite3_close(db);
        return 0;
    }
    if (strcmp(mode, "engine-predict") == 0) {
        /* The engine's own rates (no SQL): a state of 10^4 rows, read out once;
         * N targets in one call (batches of CMANP_PREDICT_CHUNK) and N / 8 one
         * call each; readouts; add 1 row + readout + 1 target. */
        cmanp_err e;
        int W = cfg->dim_x + cfg->dim_y;
        cmanp_real *xy = make_rows(4096, W);
        cmanp_cond *cd;
        cmanp_state *s;
        cmanp_readout *r;
        if (cmanp_cond_new(em, 0, &cd, &e) || cmanp_state_new(em, &s, &e) || cmanp_readout_new(em, &r, &e))
            die("setup", e.msg);
        for (int k = 0; k < 3; k++) cmanp_cond_add(cd, s, xy, 4096, &e);
        if (cmanp_readout_set_threads(r, g_threads, &e)) die("threads", e.msg);
        if (cmanp_cond_flush(cd, s, &e) || cmanp_readout_compute(r, s, &e)) die("state", e.msg);
        long long M = N > 64 ? N : 64;
        cmanp_real *xt = malloc(sizeof(cmanp_real) * (size_t)M * cfg->dim_x),
                   *mean = malloc(sizeof(cmanp_real) * (size_t)M * cfg->dim_y),
                   *sd = malloc(sizeof(cmanp_real) * (size_t)M * cfg->dim_y);
        if (!xt || !mean || !sd) die("targets", "out of memory");
        for (long long i = 0; i < M * cfg->dim_x; i++) xt[i] = (cmanp_real)(4.0 * (double)i / (double)(M * cfg->dim_x) - 2);
        double t, c, t_batch = 1e300, c_batch = 1e300;
        for (int rep = 0; rep < 3; rep++) { /* best of 3 */
            t = now();
            c = cpu_now();
            if (cmanp_predict(r, xt, (int)M, mean, sd, NULL, &e)) die("predict", e.msg);
            t = now() - t;
            c = cpu_now() - c;
            if (t < t_batch) t_batch = t;
            if (c < c_batch) c_batch = c;
        }
        long long M1 = M / 8 > 1 ? M / 8 : 1;
        t = now();
        c = cpu_now();
        for (long long i = 0; i < M1; i++)
            if (cmanp_predict(r, xt + i * cfg->dim_x, 1, mean, sd, NULL, &e)) die("predict", e.msg);
        double t_one = (now() - t) / M1, c_one = (cpu_now() - c) / M1;
        enum { R = 31 }; /* medians */
        double tw[R], tc[R];
        for (int i = 0; i < R; i++) {
            t = now();
            c = cpu_now();
            if (cmanp_readout_compute(r, s, &e)) die("readout", e.msg);
            tw[i] = now() - t;
            tc[i] = cpu_now() - c;
        }
        double t_ro = bench_median(tw, R), c_ro = bench_median(tc, R);
        for (int i = 0; i < R; i++) {
            t = now();
            c = cpu_now();
            if (cmanp_cond_add(cd, s, xy + (size_t)i * W, 1, &e) || cmanp_cond_flush(cd, s, &e) ||
                cmanp_readout_compute(r, s, &e) || cmanp_predict(r, xt, 1, mean, sd, NULL, &e))
                die("update", e.msg);
            tw[i] = now() - t;
            tc[i] = cpu_now() - c;
        }
        double t_up = bench_median(tw, R), c_up = bench_median(tc, R);
        printf("{\"mode\": \"engine-predict\", \"n\": %lld, \"threads\": %d, \"batch_targets_per_s\": %.0f, "
               "\"batch_cpu_targets_per_s\": %.0f, \"batch_gflops\": %.2f, \"one_targets_per_s\": %.0f, "
               "\"one_cpu_targets_per_s\": %.0f, \"readout_ms\": %.3f, \"readout_cpu_ms\": %.3f, "
               "\"readout_gflops\": %.2f, \"add1_predict1_ms\": %.3f, \"add1_predict1_cpu_ms\": %.3f, "
               "\"flops_per_target\": %.0f, \"flops_per_readout\": %.0f, \"flops_per_row\": %.0f}\n",
               M, g_threads, M / t_batch, M / c_batch, M * cmanp_flops_per_target(cfg) / t_batch * 1e-9, 1 / t_one,
               1 / c_one, t_ro * 1e3, c_ro * 1e3, cmanp_flops_per_readout(cfg) / t_ro * 1e-9, t_up * 1e3,
               c_up * 1e3, cmanp_flops_per_target(cfg), cmanp_flops_per_readout(cfg), fpr);
        free(xt);
        free(mean);
        free(sd);
        free(xy);
        cmanp_readout_free(r);
        cmanp_state_free(s);
        cmanp_cond_free(cd);
        cmanp_model_free(em);
        return 0;
    }
    if (strcmp(mode, "sizes") == 0) {
        /* Engine bytes (the allocator's exact live-byte count) of a parsed
         * model, of a decoded state and of a read-out state (what the SQL
         * state cache keeps per entry), and the stored forms' sizes. */
        cmanp_model_free(em);
        long long b0 = engine_live();
        cmanp_model *m = engine_model(model);
        long long model_bytes = engine_live() - b0;
        cmanp_err e;
        cmanp_state *s;
        cmanp_readout *r;
        b0 = engine_live();
        if (cmanp_state_new(m, &s, &e)) die("state", e.msg);
        long long state_mem = engine_live() - b0;
        b0 = engine_live();
        if (cmanp_readout_new(m, &r, &e)) die("readout", e.msg);
        long long readout_mem = engine_live() - b0;
        struct stat sb;
        long long file_bytes = stat(model, &sb) == 0 ? (long long)sb.st_size : -1;
        /* through SQL: the extension's own engine counts its live bytes */
        sqlite3 *db = open_db(":memory:", ext, model);
        double live0 = exec_scalar(db, "SELECT cmanp_debug() ->> '$.engine_live_bytes'");
        double blob = exec_scalar(db, "SELECT length(cmanp_condition('m', 0.5, 0.25))");
        double live1 = exec_scalar(db, "SELECT cmanp_debug() ->> '$.engine_live_bytes'");
        exec_scalar(db, "SELECT cmanp_mean(cmanp_condition('m', 0.5, 0.25), 0.1)");
        double live2 = exec_scalar(db, "SELECT cmanp_debug() ->> '$.engine_live_bytes'");
        printf("{\"mode\": \"sizes\", \"state_blob_bytes\": %.0f, \"state_encoded_bytes\": %zu, "
               "\"state_memory_bytes\": %lld, \"model_file_bytes\": %lld, \"model_memory_bytes\": %lld, "
               "\"n_params\": %zu, \"readout_memory_bytes\": %lld, \"sql_live_after_load\": %.0f, "
               "\"sql_live_after_condition\": %.0f, \"sql_live_after_predict\": %.0f}\n",
               blob, cmanp_state_encoded_size(s), state_mem, file_bytes, model_bytes,
               m->layout.n_params, readout_mem, live0, live1, live2);
        sqlite3_close(db);
        cmanp_readout_free(r);
        cmanp_state_free(s);
        cmanp_model_free(m);
        return 0;
    }
    die("mode", "unknown (sql-stream, engine-stream, oneshot, update, predict, engine-predict, sizes, sgemm)");
    return 1;
}
