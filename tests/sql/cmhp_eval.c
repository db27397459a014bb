/* cmhp_eval.c - evaluation through SQL matches the engine (ext/cmhp_sql.c Q2, Q5).
 *
 *   E1. For the first sequences of hawkes1 (and hawkes_meta, 3 marks) the
 *       per-event log-likelihoods computed in SQL,
 *         cmhp_logprob(cmhp_condition(m, t, mark) OVER (PARTITION BY seq ORDER BY i
 *                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), t, mark),
 *       equal the streaming engine's (cmhp_sequence_loglik) to 1e-12 (same
 *       operations: fold one event, encode, decode, read out) and the batched
 *       prefix scan's (cmhp_train_forward) to 1e-4 (float32 rounding);
 *   E2. the README metric (mean NLL over events with i >= 1) agrees, and the
 *       first event of each sequence gets a NULL state and a NULL logprob.
 *   E3. sql/cmhp_eval.sql (the documented evaluation script; its statements
 *       are run here with :model, :set and :nseq bound, its sqlite3-shell dot
 *       commands skipped) reports, for the same sequences, the same number of
 *       scored events, a model NLL per event equal to the engine's batched
 *       prefix scan (what `cmhp eval` computes) within 1e-5 (float32 rounding;
 *       observed ~1e-7) and to the per-event SQL values above within 1e-12, the
 *       oracle NLL per event of the set's oracle_ll column within 1e-12, and
 *       excess = model - oracle.
 * Uses the shipped models (models/cmhp_<set>[_paper].safetensors).
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmhp.h"
#include "cmhp_train.h"
#include "testutil.h"

static sqlite3 *db;

/* E3: the statements of sql/cmhp_eval.sql on a fresh connection with the
 * extension; fills the exact model / oracle NLL and the scored events of the
 * result row (columns model_nll_exact, oracle_nll_exact, events, excess). */
typedef struct script_result {
    int rows;
    long events;
    double model, oracle, excess;
} script_result;

static sqlite3 *open_ext_db(void) {
    const char *build = getenv("CMANP_BUILD_DIR");
    char ext[4096];
    snprintf(ext, sizeof ext, "%s/cmanp", build && *build ? build : ".");
    sqlite3 *d;
    if (sqlite3_open(":memory:", &d) != SQLITE_OK) {
        fprintf(stderr, "FATAL: sqlite3_open\n");
        exit(1);
    }
    sqlite3_enable_load_extension(d, 1);
    char *err = NULL;
    if (sqlite3_load_extension(d, ext, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "FATAL: cannot load %s: %s\n", ext, err ? err : "?");
        exit(1);
    }
    return d;
}

static int run_script(const char *model_path, const char *set_path, int nseq, script_result *r) {
    memset(r, 0, sizeof *r);
    FILE *f = fopen(tu_source("sql/cmhp_eval.sql"), "rb");
    TU_CHECK(f != NULL, "E3 cannot open sql/cmhp_eval.sql");
    if (!f) return -1;
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap), line[4096];
    if (!text) {
        fclose(f);
        TU_CHECK(0, "E3 out of memory");
        return -1;
    }
    /* Shell dot commands are whole lines starting with '.'; drop them. */
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        if (line[0] == '.' || len + l + 1 > cap) continue;
        memcpy(text + len, line, l);
        len += l;
    }
    text[len] = 0;
    fclose(f);
    sqlite3 *d = open_ext_db();
    const char *sql = text;
    int ok = 1, n_stmt = 0;
    while (ok && *sql) {
        sqlite3_stmt *st = NULL;
        const char *tail;
        if (sqlite3_prepare_v2(d, sql, -1, &st, &tail) != SQLITE_OK) {
            TU_CHECK(0, "E3 prepare: %s", sqlite3_errmsg(d));
            ok = 0;
            break;
        }
        sql = tail;
        if (!st) continue; /* comment or whitespace */
        n_stmt++;
        int ip;
        if ((ip = sqlite3_bind_parameter_index(st, ":model")))
            sqlite3_bind_text(st, ip, model_path, -1, SQLITE_TRANSIENT);
        if ((ip = sqlite3_bind_parameter_index(st, ":set")))
            sqlite3_bind_text(st, ip, set_path, -1, SQLITE_TRANSIENT);
        if ((ip = sqlite3_bind_parameter_index(st, ":nseq"))) sqlite3_bind_int(st, ip, nseq);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int cm = -1, co = -1, ce = -1, cx = -1;
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const char *name = sqlite3_column_name(st, c);
                if (!strcmp(name, "model_nll_exact")) cm = c;
                if (!strcmp(name, "oracle_nll_exact")) co = c;
                if (!strcmp(name, "events")) ce = c;
                if (!strcmp(name, "excess")) cx = c;
            }
            if (cm < 0 || co < 0 || ce < 0 || cx < 0) continue;
            r->rows++;
            r->model = sqlite3_column_double(st, cm);
            r->oracle = sqlite3_column_double(st, co);
            r->events = (long)sqlite3_column_int64(st, ce);
            r->excess = sqlite3_column_double(st, cx); /* printf('%+.4f') text -> REAL */
        }
        if (rc != SQLITE_DONE) {
            TU_CHECK(0, "E3 statement %d: %s", n_stmt, sqlite3_errmsg(d));
            ok = 0;
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(d);
    free(text);
    return ok ? 0 : -1;
}

static void run_set(const char *model_rel, const char *set_rel, int nseq) {
    char mpath[2048], sql[8192];
    snprintf(mpath, sizeof mpath, "%s", tu_source(model_rel));
    cmanp_err e = {0};
    cmhp_model *m;
    if (cmhp_model_load_file(&m, mpath, &e)) {
        TU_CHECK(0, "E1 cannot load %s: %s", mpath, e.msg);
        return;
    }
    char *err = NULL;
    sqlite3_exec(db, "DETACH DATABASE h", NULL, NULL, NULL);
    snprintf(sql, sizeof sql, "SELECT cmanp_model_load('m', '%s'); ATTACH '%s' AS h;", mpath,
             tu_shared(set_rel));
    TU_CHECK(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK, "E1 setup: %s", err ? err : "");
    sqlite3_free(err);
    snprintf(sql, sizeof sql,
             "SELECT seq, i, t, mark, s IS NULL, cmhp_logprob(s, t, mark), oracle_ll FROM ("
             "  SELECT seq, i, t, mark, oracle_ll, cmhp_condition('m', t, mark) OVER (PARTITION BY seq "
             "         ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS s"
             "    FROM h.events WHERE seq < %d) ORDER BY seq, i",
             nseq);
    sqlite3_stmt *st;
    TU_CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "E1 prepare: %s",
             sqlite3_errmsg(db));
    size_t cap = 1 << 16, n = 0;
    double *t = malloc(cap * sizeof *t), *lsql = malloc(cap * sizeof *lsql);
    double *lor = malloc(cap * sizeof *lor);
    int *k = malloc(cap * sizeof *k), *idx = malloc(cap * sizeof *idx), ns[4096], nseq_got = 0;
    if (!t || !lsql || !lor || !k || !idx) {
        fprintf(stderr, "FATAL: out of memory\n");
        exit(1);
    }
    long long cur = -1;
    int null_ok = 1, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < cap) {
        long long seq = sqlite3_column_int64(st, 0);
        if (seq != cur) {
            ns[nseq_got++] = 0;
            cur = seq;
        }
        ns[nseq_got - 1]++;
        idx[n] = sqlite3_column_int(st, 1);
        t[n] = sqlite3_column_double(st, 2);
        k[n] = sqlite3_column_int(st, 3);
        int is_null = sqlite3_column_int(st, 4);
        null_ok &= (idx[n] == 0) == is_null && (sqlite3_column_type(st, 5) == SQLITE_NULL) == is_null;
        lsql[n] = sqlite3_column_double(st, 5);
        lor[n] = sqlite3_column_double(st, 6);
        n++;
    }
    TU_CHECK(rc == SQLITE_DONE, "E1 query: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    TU_CHECK(null_ok, "E2 the first event of each sequence has a NULL state and logprob");
    double *lstream = malloc(n * sizeof *lstream), *lscan = malloc(n * sizeof *lscan);
    if (!lstream || !lscan) {
        fprintf(stderr, "FATAL: out of memory\n");
        exit(1);
    }
    size_t off = 0;
    for (int s = 0; s < nseq_got; s++) {
        TU_CHECK(cmhp_sequence_loglik(m, t + off, k + off, ns[s], lstream + off, &e) == 0,
                 "E1 stream: %s", e.msg);
        off += (size_t)ns[s];
    }
    cmhp_train *tr;
    cmhp_train_new(m, 64, &tr, &e);
    cmhp_batch b = {nseq_got, ns, t, k, 1};
    double loss;
    TU_CHECK(cmhp_train_forward(tr, &b, &loss, lscan, &e) == 0, "E1 scan: %s", e.msg);
    cmhp_train_free(tr);
    double d_stream = 0, d_scan = 0, nll_sql = 0, nll_oracle = 0;
    long cnt = 0;
    for (size_t i = 0; i < n; i++) {
        if (idx[i] == 0) continue;
        d_stream = fmax(d_stream, fabs(lsql[i] - lstream[i]));
        d_scan = fmax(d_scan, fabs(lsql[i] - lscan[i]));
        nll_sql -= lsql[i];
        nll_oracle -= lor[i];
        cnt++;
    }
    nll_sql /= cnt;
    nll_oracle /= cnt;
    TU_CHECK(d_stream < 1e-12, "E1 %s: SQL vs streaming engine differ by %g", set_rel, d_stream);
    TU_CHECK(d_scan < 1e-4, "E1 %s: SQL vs prefix scan differ by %g", set_rel, d_scan);
    TU_CHECK(fabs(nll_sql - loss) < 1e-5, "E2 %s: NLL per event SQL %.6f vs engine %.6f", set_rel,
             nll_sql, loss);
    printf("E1 %s, %d sequences, %ld scored events: NLL/event SQL %.6f, engine (scan) %.6f; max "
           "|diff| vs streaming %.2g, vs scan %.2g\n",
           set_rel, nseq_got, cnt, nll_sql, loss, d_stream, d_scan);
    /* E3: the documented script on the same sequences. */
    script_result r;
    char spath[2048];
    snprintf(spath, sizeof spath, "%s", tu_shared(set_rel));
    if (run_script(mpath, spath, nseq, &r) == 0) {
        TU_CHECK(r.rows == 1, "E3 %s: sql/cmhp_eval.sql gave %d result rows, expected 1", set_rel,
                 r.rows);
        TU_CHECK(r.events == cnt, "E3 %s: script scored %ld events, expected %ld", set_rel,
                 r.events, cnt);
        TU_CHECK(fabs(r.model - loss) < 1e-5,
                 "E3 %s: script model NLL/event %.8f vs engine prefix scan (cmhp eval) %.8f", set_rel,
                 r.model, loss);
        TU_CHECK(fabs(r.model - nll_sql) < 1e-12,
                 "E3 %s: script model NLL/event %.15f vs per-event SQL %.15f", set_rel, r.model,
                 nll_sql);
        TU_CHECK(fabs(r.oracle - nll_oracle) < 1e-12,
                 "E3 %s: script oracle NLL/event %.15f vs oracle_ll %.15f", set_rel, r.oracle,
                 nll_oracle);
        TU_CHECK(fabs(r.excess - (nll_sql - nll_oracle)) < 0.6e-4,
                 "E3 %s: script excess %.4f vs %.6f", set_rel, r.excess, nll_sql - nll_oracle);
        printf("E3 sql/cmhp_eval.sql on %s, %d sequences: model %.6f (|diff| vs engine %.2g), oracle "
               "%.6f, excess %+.4f\n",
               set_rel, nseq, r.model, fabs(r.model - loss), r.oracle, r.excess);
    }
    free(lor);
    free(t);
    free(lsql);
    free(k);
    free(idx);
    free(lstream);
    free(lscan);
    cmhp_model_free(m);
}

int main(void) {
    db = open_ext_db();
    run_set("models/cmhp_hawkes1.safetensors", "tpp/hawkes1.sqlite", 20);
    run_set("models/cmhp_hawkes_meta_paper.safetensors", "tpp/hawkes_meta.sqlite", 8);
    run_set("models/cmhp_hawkes_meta.safetensors", "tpp/hawkes_meta.sqlite", 8);
    sqlite3_close(db);
    return tu_finish();
}
