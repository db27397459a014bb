/* bench_sql.c - what the SQL layer costs on top of the engine.
 *
 *   bench_sql [rows [targets]]      (env: CMANP_BUILD_DIR, CMANP_SHARED_DIR)
 *
 * With the golden GP model (docs/sql.md "Performance"):
 *   A. conditioning: SELECT cmanp_condition('gp', x, y) FROM t  (N rows)
 *      versus the same rows fed to cmanp_cond_add one at a time from C
 *      (plus flush and encode, which the aggregate also does);
 *   B. decoding: SELECT ... FROM q, cmanp_predict(?1, q.x)  (M targets, one
 *      state bound as a parameter) versus cmanp_predict(r, x, 1) per target
 *      from C after one cmanp_readout_compute; also the scalar cmanp_mean
 *      and a lateral join where the state comes from a table row;
 *   C. for reference, the engine decoding the targets in batches of
 *      CMANP_PREDICT_CHUNK (48).
 * SQL and C runs alternate; each keeps its best CPU time (thread CPU
 * clock) of REPS runs after a warm-up.  Run with OPENBLAS_NUM_THREADS=1.
 * BENCH_UNALIGNED=1 leaves the C baseline on plain malloc. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmanp.h"

#define REPS 15

static sqlite3 *db;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: less sensitive to other processes */
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "bench_sql: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    exit(1);
}

static void exec(const char *sql) {
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "bench_sql: %s\n  in: %s\n", err, sql);
        exit(1);
    }
}

/* Run sql (optionally binding a BLOB to ?1) to completion; returns seconds. */
static double run(const char *sql, const void *blob, int len) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) die(sql);
    if (blob) sqlite3_bind_blob(st, 1, blob, len, SQLITE_STATIC);
    double t0 = now();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    double t = now() - t0;
    if (rc != SQLITE_DONE) die(sql);
    sqlite3_finalize(st);
    return t;
}

/* The C baseline gets the same 64-byte alignment of engine buffers as the
 * extension gives them (ext/cmanp_ext.c), so that the comparison measures
 * the SQL layer and not the allocator (unaligned buffers cost the engine
 * about 10% on single-target decoding). */
static void *a_malloc(size_t n) {
    unsigned char *raw = malloc(n + 96);
    if (!raw) return NULL;
    uintptr_t data = ((uintptr_t)raw + 32 + 63) & ~(uintptr_t)63;
    unsigned char *p = (unsigned char *)data - 16;
    memcpy(p - 16, &raw, sizeof raw);
    memcpy(p - 8, &n, sizeof n);
    return p;
}
static void a_free(void *p) {
    if (!p) return;
    unsigned char *raw;
    memcpy(&raw, (unsigned char *)p - 16, sizeof raw);
    free(raw);
}
static void *a_realloc(void *p, size_t n) {
    if (!p) return a_malloc(n);
    size_t old;
    memcpy(&old, (unsigned char *)p - 8, sizeof old);
    void *q = a_malloc(n);
    if (q) {
        memcpy(q, p, old < n ? old : n);
        a_free(p);
    }
    return q;
}

static uint64_t lcg = 0x2545F4914F6CDD1DULL;
static double urand(void) {
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg >> 11) / 9007199254740992.0;
}

int main(int argc, char **argv) {
    int N = argc > 1 ? atoi(argv[1]) : 20000;
    int M = argc > 2 ? atoi(argv[2]) : 2000;
    const char *build = getenv("CMANP_BUILD_DIR"), *shared = getenv("CMANP_SHARED_DIR");
    char ext[4096], weights[4096];
    snprintf(ext, sizeof ext, "%s/cmanp", build && *build ? build : ".");
    snprintf(weights, sizeof weights, "%s/golden/gp_cmanp.weights.safetensors",
             shared && *shared ? shared : "../shared");
    if (!getenv("BENCH_UNALIGNED")) {
        cmanp_allocator al = {a_malloc, a_realloc, a_free};
        cmanp_set_allocator(&al);
    }
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) die("open");
    sqlite3_enable_load_extension(db, 1);
    char *err = NULL;
    if (sqlite3_load_extension(db, ext, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "bench_sql: cannot load %s: %s\n", ext, err ? err : "?");
        return 1;
    }
    char sql[8192];
    snprintf(sql, sizeof sql, "SELECT cmanp_model_load('gp', '%s')", weights);
    exec(sql);

    /* Data: N context rows, M targets (float32-representable values). */
    float *xy = malloc(sizeof *xy * 2 * (size_t)N);
    float *xt = malloc(sizeof *xt * (size_t)M);
    exec("CREATE TABLE t(x REAL, y REAL); CREATE TABLE q(id INTEGER PRIMARY KEY, x REAL);"
         "CREATE TABLE states(id INTEGER PRIMARY KEY, state BLOB)");
    sqlite3_stmt *ins;
    exec("BEGIN");
    sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?1, ?2)", -1, &ins, NULL);
    for (int i = 0; i < N; i++) {
        xy[2 * i] = (float)(4 * urand() - 2);
        xy[2 * i + 1] = (float)(sin(3 * xy[2 * i]) + 0.1 * (urand() - 0.5));
        sqlite3_bind_double(ins, 1, xy[2 * i]);
        sqlite3_bind_double(ins, 2, xy[2 * i + 1]);
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_prepare_v2(db, "INSERT INTO q(x) VALUES (?1)", -1, &ins, NULL);
    for (int i = 0; i < M; i++) {
        xt[i] = (float)(4 * urand() - 2);
        sqlite3_bind_double(ins, 1, xt[i]);
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    exec("COMMIT");

    /* ---- A: conditioning ---- */
    cmanp_model *m;
    cmanp_err e = {0};
    if (cmanp_model_load_file(&m, weights, &e)) {
        fprintf(stderr, "bench_sql: %s\n", e.msg);
        return 1;
    }
    size_t enc_n = 0;
    unsigned char *enc = NULL;
    /* SQL and C runs alternate and each keeps its best time, so that load
     * from other processes affects both alike. */
    double t_sql = 1e300, t_c = 1e300, t_bulk = 1e300;
    for (int rep = 0; rep <= REPS; rep++) {
        double t = run("SELECT length(cmanp_condition('gp', x, y)) FROM t", NULL, 0);
        if (rep && t < t_sql) t_sql = t;
        for (int bulk = 0; bulk < 2; bulk++) {
            cmanp_cond *c;
            cmanp_state *s;
            double t0 = now();
            cmanp_cond_new(m, 0, &c, &e);
            cmanp_state_new(m, &s, &e);
            if (bulk)
                cmanp_cond_add(c, s, xy, N, &e);
            else
                for (int i = 0; i < N; i++) cmanp_cond_add(c, s, xy + 2 * i, 1, &e);
            cmanp_cond_flush(c, s, &e);
            enc_n = cmanp_state_encoded_size(s);
            if (!enc) enc = malloc(enc_n);
            cmanp_state_encode(s, enc);
            t = now() - t0;
            if (rep > 0) {
                if (bulk && t < t_bulk) t_bulk = t;
                if (!bulk && t < t_c) t_c = t;
            }
            cmanp_state_free(s);
            cmanp_cond_free(c);
        }
    }
    printf("A. conditioning %d rows (golden GP model, OPENBLAS_NUM_THREADS=%s, best of %d)\n", N,
           getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : "unset", REPS);
    printf("   %-54s %8.2f us/row\n", "SQL  cmanp_condition aggregate", 1e6 * t_sql / N);
    printf("   %-54s %8.2f us/row\n", "C    cmanp_cond_add one row at a time + encode", 1e6 * t_c / N);
    printf("   %-54s %8.2f us/row\n", "C    cmanp_cond_add all rows at once + encode", 1e6 * t_bulk / N);
    printf("   SQL overhead vs C row by row: %+.1f%%\n", 100 * (t_sql / t_c - 1));

    /* ---- B: decoding ---- */
    {
        sqlite3_stmt *st;
        sqlite3_prepare_v2(db, "INSERT INTO states(id, state) VALUES (1, ?1)", -1, &st, NULL);
        sqlite3_bind_blob(st, 1, enc, (int)enc_n, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_finalize(st);
    }
    static const char *const qs[4] = {
        "SELECT sum(p.mean + p.std) FROM q, cmanp_predict(?1, q.x) p",
        "SELECT sum(cmanp_mean(?1, x)) FROM q",
        "SELECT sum(p.mean + p.std) FROM states s, q, cmanp_predict(s.state, q.x) p",
        "SELECT sum(cmanp_mean(s.state, q.x)) FROM q JOIN states s ON s.id = 1 + (q.id % 1)"};
    double t_q[4] = {1e300, 1e300, 1e300, 1e300};
    cmanp_state *s;
    cmanp_readout *r;
    cmanp_state_decode(m, enc, enc_n, &s, &e);
    cmanp_readout_new(m, &r, &e);
    double t_one = 1e300, t_batch = 1e300, t_readout = 1e300;
    cmanp_real *mean = malloc(sizeof *mean * (size_t)M), *sd = malloc(sizeof *sd * (size_t)M);
    for (int rep = 0; rep <= REPS; rep++) {
        for (int k = 0; k < 4; k++) {
            double t = run(qs[k], k < 2 ? enc : NULL, k < 2 ? (int)enc_n : 0);
            if (rep && t < t_q[k]) t_q[k] = t;
        }
        double t0 = now();
        cmanp_readout_compute(r, s, &e);
        double t1 = now();
        for (int i = 0; i < M; i++) cmanp_predict(r, xt + i, 1, mean + i, sd + i, NULL, &e);
        double t2 = now();
        cmanp_predict(r, xt, M, mean, sd, NULL, &e);
        double t3 = now();
        if (rep > 0) {
            if (t1 - t0 < t_readout) t_readout = t1 - t0;
            if (t2 - t1 < t_one) t_one = t2 - t1;
            if (t3 - t2 < t_batch) t_batch = t3 - t2;
        }
    }
    printf("B. decoding %d targets from one state (%zu-byte BLOB, best of %d)\n", M, enc_n, REPS);
    printf("   %-54s %8.2f us/target\n", "SQL  cmanp_predict(?1, q.x), state bound once", 1e6 * t_q[0] / M);
    printf("   %-54s %8.2f us/target\n", "SQL  cmanp_mean(?1, x), state bound once", 1e6 * t_q[1] / M);
    printf("   %-54s %8.2f us/target\n", "SQL  cmanp_predict(s.state, q.x), state from a table", 1e6 * t_q[2] / M);
    printf("   %-54s %8.2f us/target\n", "SQL  cmanp_mean(s.state, q.x), state from a table", 1e6 * t_q[3] / M);
    printf("   %-54s %8.2f us/target\n", "C    cmanp_predict one target at a time", 1e6 * t_one / M);
    printf("   %-54s %8.2f us/target\n", "C    cmanp_predict all targets (batches of 48)", 1e6 * t_batch / M);
    printf("   %-54s %8.2f ms\n", "C    cmanp_readout_compute (once per state)", 1e3 * t_readout);
    printf("   SQL overhead vs C one at a time: TVF %+.1f%%, scalar %+.1f%%, TVF join %+.1f%%, "
           "scalar join %+.1f%%\n",
           100 * (t_q[0] / t_one - 1), 100 * (t_q[1] / t_one - 1), 100 * (t_q[2] / t_one - 1),
           100 * (t_q[3] / t_one - 1));
    free(mean);
    free(sd);
    free(enc);
    free(xy);
    free(xt);
    cmanp_readout_free(r);
    cmanp_state_free(s);
    cmanp_model_free(m);
    sqlite3_close(db);
    return 0;
}
