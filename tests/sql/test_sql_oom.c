/* test_sql_oom.c - out-of-memory at every allocation never crashes or leaks
 * (ctest sql.oom).  A C host that installs a failing allocator in SQLite
 * (SQLITE_CONFIG_MALLOC; the extension routes the engine's memory through
 * sqlite3_malloc64, so engine allocations fail too) and runs two workloads
 * that together touch every function of the extension with the k-th
 * allocation and all later ones failing, for k = 1, 2, ... up to the
 * workload's allocation count (every k up to 1500, then a stride), then with
 * only the k-th failing (a coarser stride).  Each run must end without a crash and with
 * sqlite3_memory_used() back at its value before the connection was opened
 * (no leak); the statements that fail must fail with an error, and the run
 * with no failure must produce the expected results.
 *
 *   workload A  CMANP: model load, condition, mean / std / quantile / logprob,
 *               predict, merge, update, window frames, state and model info,
 *               debug, gp_tasks, evaluate, model save
 *   workload B  CMHP (a tiny model written by this test): load, condition,
 *               logprob, merge, update, window frames, next_time, next_mark,
 *               sample, info; cmanp_train (2 steps on the GP prior, then 2
 *               more from SQL tasks, one thread) with its checkpoint table
 *               and temporary checkpoint files
 *
 *   O1  every allocation failure is an error, never a crash
 *   O2  no memory is leaked on any failure path (memory_used returns to 0)
 *   O3  the workload with no injected failure gives the reference output
 *   O4  no temporary file or directory of cmanp_train is left behind
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, setenv */
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmhp.h"

#if defined(__SANITIZE_ADDRESS__)
#define STRIDE 4 /* the sanitizer build is ~10x slower: sample the sweep */
#else
#define STRIDE 1
#endif

static sqlite3_mem_methods g_def;
static long g_count, g_fail_at; /* fail the g_fail_at-th allocation ... */
static int g_persistent;          /* ... and, if set, all later ones */

static int fail_now(void) {
    if (!g_fail_at) return 0;
    ++g_count;
    return g_persistent ? g_count >= g_fail_at : g_count == g_fail_at;
}
static void *m_malloc(int n) { return fail_now() ? NULL : g_def.xMalloc(n); }
static void *m_realloc(void *p, int n) { return fail_now() ? NULL : g_def.xRealloc(p, n); }
static void m_free(void *p) { g_def.xFree(p); }
static int m_size(void *p) { return g_def.xSize(p); }
static int m_roundup(int n) { return g_def.xRoundup(n); }
static int m_init(void *a) { return g_def.xInit(a); }
static void m_shutdown(void *a) { g_def.xShutdown(a); }

static const char *k_script[] = {
    "SELECT cmanp_model_load('s', '%q')", /* the only statements formatted */
    "CREATE TABLE t AS WITH RECURSIVE n(v) AS (SELECT 0 UNION ALL SELECT v + 1 FROM n WHERE v < 59) "
    "SELECT v / 15.0 - 2 AS x, sin(v) AS y, v % 3 AS g FROM n",
    "CREATE TABLE st AS SELECT g, cmanp_condition('s', x, -x, y) AS s FROM t GROUP BY g",
    "SELECT g, printf('%.5f %.5f %.5f %.5f', cmanp_mean(s, 0.1, 0.2), cmanp_std(s, 0.1, 0.2), "
    "cmanp_quantile(s, 0.9, 0.1, 0.2), cmanp_logprob(s, 0.1, 0.2, 0.3)) FROM st ORDER BY g",
    "SELECT st.g, p.dim, printf('%.5f %.5f', p.lower, p.upper) FROM st, cmanp_predict(st.s, 0.1, 0.2, 0.8) p "
    "ORDER BY st.g",
    "SELECT cmanp_threads(2)",
    "SELECT st.g, count(*), printf('%.5f', sum(p.mean)) FROM st, cmanp_predict(st.s, 0.1) p "
    "WHERE p.a2 IN (SELECT x FROM t) GROUP BY st.g ORDER BY st.g",
    "SELECT printf('%.5f', cmanp_mean(cmanp_merge(s), 0.3, 0.3)) FROM st",
    "SELECT st.g, printf('%.5f', cmanp_mean(cmanp_update(st.s, t.x, t.x, t.y), 0.0, 0.0)) FROM st JOIN t USING (g) "
    "GROUP BY st.g ORDER BY st.g",
    "SELECT count(*), printf('%.5f', sum(cmanp_mean(w, 0.5, 0.5))) FROM (SELECT cmanp_condition('s', x, -x, y) "
    "OVER (ORDER BY x ROWS 7 PRECEDING) AS w FROM t)",
    "SELECT cmanp_state_info(s) ->> '$.rows', cmanp_model_info('s') ->> '$.dim_x', "
    "cmanp_debug() ->> '$.compute_type' FROM st ORDER BY g LIMIT 1",
    "SELECT count(*), count(DISTINCT task) FROM cmanp_gp_tasks('matern', 3, 1)",
    "CREATE TABLE pts AS SELECT task, role, x AS x1, x * x AS x2, y FROM cmanp_gp_tasks('rbf', 4, 2)",
    "SELECT cmanp_evaluate('s', 'SELECT task, role, x1, x2, y FROM pts ORDER BY task') ->> '$.tasks'",
    "SELECT cmanp_mean(x'00', 1, 2)",
    "SELECT cmanp_model_save('s', '%q')",
};
#define N_SCRIPT_A (sizeof k_script / sizeof *k_script)

/* Workload B; its first statement is formatted with the CMHP model's path.
 * The training model is tiny and trains 2 + 2 steps on one thread (the
 * allocation order must not depend on thread timing). */
static const char *k_script_b[] = {
    "SELECT cmanp_model_load('h', '%q')",
    "CREATE TABLE ev AS WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 36) "
    "SELECT v % 3 AS seq, 0.37 * v AS t, (v * 7) % 3 AS mark FROM n",
    "CREATE TABLE hs AS SELECT seq, cmhp_condition('h', t, mark) AS s FROM ev GROUP BY seq",
    "SELECT seq, printf('%.5f', cmhp_logprob(s, 20, 1)), cmhp_state_info(s) ->> '$.events' FROM hs ORDER BY seq",
    "SELECT printf('%.5f', cmhp_logprob(cmhp_merge(s), 20, 0)) FROM hs",
    "SELECT hs.seq, printf('%.5f', cmhp_logprob(cmhp_update(hs.s, 30.0, 2), 31, 0)) FROM hs "
    "GROUP BY hs.seq ORDER BY hs.seq",
    "SELECT count(*), printf('%.5f', sum(cmhp_logprob(w, 20, 0))) FROM (SELECT cmhp_condition('h', t, mark) "
    "OVER (ORDER BY t ROWS 5 PRECEDING) AS w FROM ev)",
    "SELECT seq, printf('%.4f %.4f', mean, upper - lower) FROM hs, cmhp_next_time(hs.s) ORDER BY seq",
    "SELECT mark, printf('%.5f', prob) FROM cmhp_next_mark((SELECT s FROM hs WHERE seq = 1))",
    "SELECT k, printf('%.4f', t), mark FROM cmhp_sample((SELECT s FROM hs WHERE seq = 0), 4, 7)",
    "SELECT cmhp_model_info('h') ->> '$.marks', cmhp_debug() ->> '$.cache.models'",
    "SELECT cmanp_train('tr', '{\"config\": {\"dim_x\": 1, \"dim_y\": 1, \"d_model\": 8, "
    "\"emb_depth\": 2, \"dim_feedforward\": 8, \"nhead\": 2, \"num_layers\": 1, \"num_latents\": 4, "
    "\"num_latents_per_layer\": 4, \"bound_std\": false}, \"steps\": 4, \"until\": 2, \"batch\": 2, "
    "\"max_points\": 8, \"checkpoint_every\": 1, \"threads\": 1, \"seed\": 3}') ->> '$.step'",
    "SELECT name, step FROM cmanp_checkpoints",
    "CREATE TABLE pts AS SELECT task, x, y FROM cmanp_gp_tasks('rbf', 6, 1, 8)",
    "SELECT cmanp_train('tr2', '{\"config\": {\"dim_x\": 1, \"dim_y\": 1, \"d_model\": 8, "
    "\"emb_depth\": 2, \"dim_feedforward\": 8, \"nhead\": 2, \"num_layers\": 1, \"num_latents\": 4, "
    "\"num_latents_per_layer\": 4, \"bound_std\": false}, \"steps\": 2, \"batch\": 2, "
    "\"checkpoint_every\": 1, \"threads\": 1, \"seed\": 3}', 'SELECT task, x, y FROM pts') ->> '$.step'",
    "SELECT cmanp_train('tr', '{}') ->> '$.step'",
    "SELECT cmanp_state_info(cmanp_condition('tr', x, y)) ->> '$.rows' FROM pts",
};
#define N_SCRIPT_B (sizeof k_script_b / sizeof *k_script_b)

static char g_out[1 << 16];
static size_t g_out_n;

static int collect(void *u, int n, char **v, char **names) {
    (void)u;
    (void)names;
    for (int i = 0; i < n; i++)
        g_out_n += (size_t)snprintf(g_out + g_out_n, sizeof g_out - g_out_n, "%s%s", i ? "|" : "",
                                    v[i] ? v[i] : "NULL");
    g_out_n += (size_t)snprintf(g_out + g_out_n, sizeof g_out - g_out_n, "\n");
    return 0;
}

/* One run of workload A (b = 0) or B; returns the number of statements that failed. */
static int workload(int b, const char *ext, const char *weights, const char *saved) {
    sqlite3 *db = NULL;
    g_out_n = 0;
    g_out[0] = 0;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
        sqlite3_close(db);
        return 100;
    }
    sqlite3_enable_load_extension(db, 1);
    char *err = NULL;
    if (sqlite3_load_extension(db, ext, NULL, &err) != SQLITE_OK) {
        if (!g_fail_at) fprintf(stderr, "load: %s\n", err ? err : "?");
        sqlite3_free(err);
        sqlite3_close(db);
        return 100;
    }
    int failed = 0;
    const char *const *script = b ? k_script_b : k_script;
    size_t n = b ? N_SCRIPT_B : N_SCRIPT_A;
    for (size_t i = 0; i < n; i++) {
        size_t last = n - 1;
        char *sql = i == 0 ? sqlite3_mprintf(script[i], weights)
                    : !b && i == last ? sqlite3_mprintf(script[i], saved)
                                      : sqlite3_mprintf("%s", script[i]);
        if (!sql) {
            failed++;
            continue;
        }
        err = NULL;
        if (sqlite3_exec(db, sql, collect, NULL, &err) != SQLITE_OK) {
            failed++;
            g_out_n += (size_t)snprintf(g_out + g_out_n, sizeof g_out - g_out_n, "error: %s\n",
                                        err ? err : "(no message)");
        }
        sqlite3_free(err);
        sqlite3_free(sql);
    }
    if (sqlite3_close(db) != SQLITE_OK) {
        fprintf(stderr, "FAIL: sqlite3_close: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    return failed;
}

static char g_tmp[4096]; /* TMPDIR of the runs (cmanp_train's temporary checkpoints) */

/* O4: the temporary directory is empty. */
static int tmp_empty(void) {
    DIR *d = opendir(g_tmp);
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            fprintf(stderr, "left behind in TMPDIR: %s\n", de->d_name);
            n++;
        }
    if (d) closedir(d);
    return d && n == 0;
}

/* The sweep of one workload; returns 0 when O1-O4 hold. */
static int sweep(int b, const char *ext, const char *weights, const char *saved, sqlite3_int64 base,
                 const char *expect_error) {
    const char *label = b ? "B" : "A";
    /* O3: reference run */
    g_fail_at = 0;
    g_persistent = 1;
    int failed = workload(b, ext, weights, saved);
    static char ref[sizeof g_out];
    memcpy(ref, g_out, sizeof ref);
    if (failed != (expect_error ? 1 : 0) || (expect_error && !strstr(ref, expect_error))) {
        fprintf(stderr, "FAIL: workload %s reference run: %d statements failed (expected %d):\n%s", label,
                failed, expect_error ? 1 : 0, ref);
        return 1;
    }
    /* count allocations of a full run */
    g_fail_at = 1L << 60;
    g_count = 0;
    workload(b, ext, weights, saved);
    long total = g_count;
    if (sqlite3_memory_used() != base) {
        fprintf(stderr, "FAIL: workload %s reference run leaked %lld bytes\n", label,
                sqlite3_memory_used() - base);
        return 1;
    }
    /* O1, O2, O4: fail the k-th allocation and all later ones (persistent),
     * or only the k-th (the workload then continues past the failure, so
     * each such run costs a whole workload: workload B, with training, takes
     * every 5th k there, then every 11th, instead of every 2nd and 7th) */
    long runs = 0, with_errors = 0;
    for (g_persistent = 1; g_persistent >= 0; g_persistent--)
        for (long k = 1; k <= total + 1; k += (k < 1500 ? (g_persistent ? 1 : 2 + 3 * b) : 7 + 4 * b) * STRIDE) {
            g_fail_at = k;
            g_count = 0;
            failed = workload(b, ext, weights, saved);
            g_fail_at = 0;
            runs++;
            with_errors += failed > (expect_error ? 1 : 0);
            sqlite3_int64 now = sqlite3_memory_used();
            if (now != base) {
                fprintf(stderr, "FAIL: workload %s, failing allocation %ld of %ld (%s) leaked %lld bytes; output:\n%s",
                        label, k, total, g_persistent ? "and all later" : "only that one", now - base, g_out);
                return 1;
            }
            if (!tmp_empty()) {
                fprintf(stderr, "FAIL: workload %s, failing allocation %ld of %ld (%s) left files in %s; output:\n%s",
                        label, k, total, g_persistent ? "and all later" : "only that one", g_tmp, g_out);
                return 1;
            }
        }
    g_persistent = 1;
    /* and a final clean run still matches */
    workload(b, ext, weights, saved);
    if (strcmp(ref, g_out) != 0) {
        fprintf(stderr, "FAIL: workload %s: clean run after the sweep differs:\n%s\nvs\n%s", label, ref, g_out);
        return 1;
    }
    printf("workload %s: %ld allocations; %ld runs with allocation k (or k..end) failing, "
           "%ld of them with failed statements: no crash, no leak, no file left\n",
           label, total, runs, with_errors);
    printf("reference output:\n%s", ref);
    return 0;
}

/* A tiny CMHP model (recency variant) for workload B, written by the engine
 * linked into this test (its own copy, with the C allocator). */
static int write_cmhp_model(const char *path) {
    static const char cfg[] =
        "{\"model\": \"cmhp\", \"num_marks\": 3, \"d_model\": 8, \"nhead\": 2, \"num_layers\": 2, "
        "\"num_latents\": 3, \"num_latents_per_layer\": 2, \"dim_feedforward\": 8, \"num_mix\": 2, "
        "\"time_scale\": 1.0, \"temporal_base\": 10000.0, \"recency_rates\": [1.0, 0.1]}";
    cmhp_config c;
    cmhp_model *m = NULL;
    cmanp_err e = {0};
    if (cmhp_config_parse(&c, cfg, &e) || cmhp_model_new(&m, &c, &e) ||
        (cmhp_model_init(m, 11), cmhp_model_save_file(m, "sql.oom", path, &e))) {
        fprintf(stderr, "FAIL: cannot write %s: %s\n", path, e.msg);
        cmhp_model_free(m);
        return 1;
    }
    cmhp_model_free(m);
    return 0;
}

int main(void) {
    const char *build = getenv("CMANP_BUILD_DIR"), *shared = getenv("CMANP_SHARED_DIR");
    if (!build || !*build) build = ".";
    char ext[4096], weights[4096], saved[4096], hp[4096];
    snprintf(ext, sizeof ext, "%s/cmanp", build);
    snprintf(saved, sizeof saved, "%s/sql_oom_saved.safetensors", build);
    snprintf(hp, sizeof hp, "%s/sql_oom_cmhp.safetensors", build);
    snprintf(weights, sizeof weights, "%s/golden/small_cmanp.weights.safetensors",
             shared && *shared ? shared : "../shared");
    snprintf(g_tmp, sizeof g_tmp, "%s/sql_oom_tmp.XXXXXX", build);
    if (!mkdtemp(g_tmp) || setenv("TMPDIR", g_tmp, 1) || setenv("SQLITE_TMPDIR", g_tmp, 1)) {
        fprintf(stderr, "FAIL: cannot make a temporary directory in %s\n", build);
        return 1;
    }
    if (write_cmhp_model(hp)) return 1;
    sqlite3_config(SQLITE_CONFIG_GETMALLOC, &g_def);
    sqlite3_mem_methods mm = {m_malloc, m_free, m_realloc, m_size, m_roundup, m_init, m_shutdown, NULL};
    sqlite3_config(SQLITE_CONFIG_MALLOC, &mm);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 1);
    sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0); /* every allocation goes to the allocator */
    sqlite3_initialize();
    sqlite3_int64 base = sqlite3_memory_used();
    int rc = sweep(0, ext, weights, saved, base, "error: cmanp_mean: argument 1 (state): state BLOB is 1 bytes");
    if (!rc) rc = sweep(1, ext, hp, NULL, base, NULL);
    rmdir(g_tmp);
    return rc;
}
