/* test_cmhp_memory.c - CMHP conditions in constant memory, counted (not timed),
 * with the shipped hawkes_meta model (3 marks, recency variant).
 *
 *   G1. Engine: events of a simulated hawkes_meta process folded into one
 *       state (blocks of CMHP_DEFAULT_BLOCK, then single events), with a
 *       readout and the next event's log-likelihood at n = 10^2, 10^3, 10^4,
 *       10^5: the engine allocator's live bytes and allocation count
 *       (engine/alloc.h) stay exactly those at n = 10^2, its peak since
 *       n = 10^2 never exceeds them, the state BLOB size stays the same and the
 *       predictions stay finite.
 *   G2. SQL: SELECT length(cmhp_condition('m', t, mark)) over 10^2 .. 10^5
 *       generated events (aggregate, one event at a time): the same BLOB size
 *       for every n, and SQLite's memory high-water mark (the extension's
 *       engine allocates through sqlite3_malloc64) grows by less than 64 KiB
 *       from n = 10^2 to 10^5 -- a history kept per event would need more
 *       than 10^5 x 32 floats (12.8 MB).
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmhp.h"
#include "hawkes.h"
#include "testutil.h"

#define NMAX 100000
#define NCHK 4
static const int checkpoints[NCHK] = {100, 1000, 10000, NMAX};

static void g1_engine(void) {
    const char *path = tu_source("models/cmhp_hawkes_meta.safetensors");
    cmanp_err e = {0};
    cmhp_model *m;
    if (cmhp_model_load_file(&m, path, &e)) {
        TU_CHECK(0, "G1 cannot load %s: %s", path, e.msg);
        return;
    }
    double *t = malloc((NMAX + 1) * sizeof *t);
    int *k = malloc((NMAX + 1) * sizeof *k);
    if (!t || !k) {
        fprintf(stderr, "FATAL: out of memory\n");
        exit(1);
    }
    cmanp_rng g;
    cmanp_rng_seed(&g, 31);
    cmhp_hawkes p;
    int got = 0, cnt = 0, trunc = 0;
    TU_CHECK(cmhp_hawkes_preset("hawkes_meta", &g, &p, &e) == 0, "G1 preset: %s", e.msg);
    for (double t0 = 0; got < NMAX + 1; t0 += 1e6) { /* windows until NMAX + 1 events */
        if (cmhp_hawkes_simulate(&p, t0, t0 + 1e6, &g, NMAX + 1 - got, t + got, k + got, &cnt,
                                 &trunc, &e)) {
            TU_CHECK(0, "G1 simulate: %s", e.msg);
            break;
        }
        got += cnt;
    }
    cmhp_state *s = NULL;
    cmhp_cond *blk = NULL, *one = NULL;
    cmhp_readout *r = NULL;
    int ok = got == NMAX + 1 && cmhp_state_new(m, &s, &e) == 0 &&
             cmhp_cond_new(m, CMHP_DEFAULT_BLOCK, &blk, &e) == 0 && cmhp_cond_new(m, 1, &one, &e) == 0 &&
             cmhp_readout_new(m, &r, &e) == 0;
    TU_CHECK(ok, "G1 setup: %s", e.msg);
    if (!ok) goto done;
    cmanp_alloc_stats a[NCHK], pk;
    size_t bytes[NCHK];
    double ll[NCHK];
    int done_n = 0;
    for (int c = 0; c < NCHK && ok; c++) {
        /* Blocks up to the last 10 events before the checkpoint, then one by one. */
        int target = checkpoints[c], bulk_end = target - 10;
        while (ok && done_n < bulk_end) {
            int b = bulk_end - done_n < CMHP_DEFAULT_BLOCK ? bulk_end - done_n : CMHP_DEFAULT_BLOCK;
            ok &= cmhp_add(blk, s, t + done_n, k + done_n, b, &e) == 0;
            done_n += b;
        }
        for (; ok && done_n < target; done_n++) ok &= cmhp_add(one, s, t + done_n, k + done_n, 1, &e) == 0;
        ok &= cmhp_readout_compute(r, s, &e) == 0;
        ll[c] = cmhp_dist_loglik(cmhp_readout_dist(r), t[target], k[target]);
        bytes[c] = cmhp_state_encoded_size(s);
        if (c == 0) cmanp_alloc_stats_reset_peak(); /* peak := live, allocation count := 0 */
        cmanp_alloc_stats_get(&a[c]);
    }
    cmanp_alloc_stats_get(&pk);
    TU_CHECK(ok, "G1 folding / readout: %s", e.msg);
    TU_CHECK(s->n_events == NMAX, "G1 state holds %lld events, expected %d", (long long)s->n_events,
             NMAX);
    for (int c = 1; ok && c < NCHK; c++) {
        TU_CHECK(a[c].live_bytes == a[0].live_bytes,
                 "G1 live bytes at n = %d: %lld, at n = %d: %lld", checkpoints[c],
                 (long long)a[c].live_bytes, checkpoints[0], (long long)a[0].live_bytes);
        TU_CHECK(a[c].n_allocs == a[0].n_allocs, "G1 %lld allocations between n = %d and n = %d",
                 (long long)(a[c].n_allocs - a[0].n_allocs), checkpoints[0], checkpoints[c]);
        TU_CHECK(bytes[c] == bytes[0], "G1 state BLOB %zu bytes at n = %d, %zu at n = %d", bytes[c],
                 checkpoints[c], bytes[0], checkpoints[0]);
    }
    TU_CHECK(pk.peak_bytes <= a[0].live_bytes,
             "G1 peak %lld bytes between n = 10^2 and 10^5 above the %lld live at n = 10^2",
             (long long)pk.peak_bytes, (long long)a[0].live_bytes);
    for (int c = 0; c < NCHK; c++)
        TU_CHECK(isfinite(ll[c]), "G1 log-likelihood of event %d not finite: %g", checkpoints[c], ll[c]);
    printf("G1 engine: state %zu bytes, engine live %lld bytes at n = 10^2 .. 10^5 (peak %lld); "
           "log p(next) %.3f %.3f %.3f %.3f\n",
           bytes[0], (long long)a[0].live_bytes, (long long)pk.peak_bytes, ll[0], ll[1], ll[2], ll[3]);
done:
    cmhp_readout_free(r);
    cmhp_cond_free(one);
    cmhp_cond_free(blk);
    cmhp_state_free(s);
    free(t);
    free(k);
    cmhp_model_free(m);
}

static void g2_sql(void) {
    const char *build = getenv("CMANP_BUILD_DIR");
    char ext[4096], sql[1024];
    snprintf(ext, sizeof ext, "%s/cmanp", build && *build ? build : ".");
    sqlite3 *db;
    char *err = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
        TU_CHECK(0, "G2 sqlite3_open");
        return;
    }
    sqlite3_enable_load_extension(db, 1);
    if (sqlite3_load_extension(db, ext, NULL, &err) != SQLITE_OK) {
        TU_CHECK(0, "G2 cannot load %s: %s", ext, err ? err : "?");
        sqlite3_free(err);
        sqlite3_close(db);
        return;
    }
    snprintf(sql, sizeof sql, "SELECT cmanp_model_load('m', '%s')",
             tu_source("models/cmhp_hawkes_meta.safetensors"));
    TU_CHECK(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK, "G2 model: %s", err ? err : "");
    sqlite3_free(err);
    /* Events: gaps 0.05 .. 1.95 in a fixed pattern, marks cycling through 0..2. */
    const char *q = "WITH RECURSIVE ev(i, t) AS (SELECT 0, 0.5 UNION ALL "
                    "  SELECT i + 1, t + 0.05 + ((i * 7919) % 20) / 10.0 FROM ev WHERE i + 1 < ?1) "
                    "SELECT length(cmhp_condition('m', t, i % 3)), count(*) FROM ev";
    sqlite3_stmt *st;
    TU_CHECK(sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK, "G2 prepare: %s",
             sqlite3_errmsg(db));
    /* Warm-up: the first use parses the model into the connection's cache. */
    sqlite3_bind_int(st, 1, 10);
    TU_CHECK(sqlite3_step(st) == SQLITE_ROW, "G2 warm-up: %s", sqlite3_errmsg(db));
    long long len[NCHK], hw[NCHK], rows[NCHK];
    for (int c = 0; c < NCHK; c++) {
        sqlite3_reset(st);
        sqlite3_memory_highwater(1); /* reset to the current use */
        const long long used0 = sqlite3_memory_used();
        sqlite3_bind_int(st, 1, checkpoints[c]);
        int rc = sqlite3_step(st);
        TU_CHECK(rc == SQLITE_ROW, "G2 n = %d: %s", checkpoints[c], sqlite3_errmsg(db));
        len[c] = sqlite3_column_int64(st, 0);
        rows[c] = sqlite3_column_int64(st, 1);
        hw[c] = sqlite3_memory_highwater(0) - used0;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    /* The query allocates (statement state, the CMHP state): memory status is on. */
    TU_CHECK(hw[0] > 0, "G2 SQLite memory accounting is off (high-water %lld)", hw[0]);
    for (int c = 0; c < NCHK; c++) {
        TU_CHECK(rows[c] == checkpoints[c], "G2 %lld rows, expected %d", rows[c], checkpoints[c]);
        TU_CHECK(len[c] == len[0] && len[0] > 0, "G2 state BLOB %lld bytes at n = %d, %lld at n = %d",
                 len[c], checkpoints[c], len[0], checkpoints[0]);
        TU_CHECK(hw[c] - hw[0] < 65536,
                 "G2 SQLite memory high-water of the query: %lld bytes at n = %d vs %lld at n = %d",
                 hw[c], checkpoints[c], hw[0], checkpoints[0]);
    }
    printf("G2 SQL aggregate: state %lld bytes; query memory high-water %lld, %lld, %lld, "
           "%lld bytes at n = 10^2 .. 10^5\n",
           len[0], hw[0], hw[1], hw[2], hw[3]);
    sqlite3_close(db);
}

int main(void) {
    g1_engine();
    g2_sql();
    return tu_finish();
}
