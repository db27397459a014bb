/* fuzz_sql.c - libFuzzer target: SQL text run with the extension loaded.
 *
 * The extension (every ext/ source) is compiled into this program and registered on
 * every connection with sqlite3_auto_extension(sqlite3_cmanp_init).  Each
 * input runs on a fresh in-memory database deserialized from a template made
 * once per process:
 *
 *   cmanp_models   'm' (dim_x = dim_y = 1), 'm2' (dim_x = dim_y = 2),
 *                  'h' (a CMHP model), 'junk' (weights that are not a
 *                  model), 'txt' (weights TEXT)
 *   t(g, x, y)     36 rows in 3 groups;  t2(g, x1, x2, y1, y2) likewise
 *   s(g, st)       cmanp_condition('m', x, y) per group of t
 *   s2(g, st)      cmanp_condition('m2', ...) per group of t2
 *   ev(seq, t, mark), hs(seq, st)   events and CMHP states
 *   pts(task, role, x, y)           cmanp_gp_tasks('rbf', 3, 1, 12)
 *
 * The input is SQL text (libFuzzer dictionary tests/fuzz/sql.dict; seeds
 * tests/fuzz/seeds/sql/).  Bounds so that no input hangs or exhausts
 * memory: sqlite3_limit (string/BLOB length 1 MB, SQL length 64 KB, no
 * ATTACH, small expression depth / compound / trigger limits), a progress
 * handler that interrupts after 400k VM instructions or 2 s (cmanp_train
 * checks for interruption once per training step), a process-wide
 * sqlite3_hard_heap_limit64 of 256 MB (the engine allocates through
 * sqlite3_malloc64 here too), at most 64 statements and 20000 result rows
 * per input.  Inputs containing VACUUM are skipped (VACUUM INTO writes a
 * file anywhere).
 *
 * File system sandbox: cmanp_model_load / cmanp_model_save take paths from
 * the input.  While an input runs, the file functions the engine and the
 * extension call (fopen, open, stat, rename, remove: linked with
 * -Wl,--wrap=...) refuse any path containing '/' and map every other name
 * into a private temporary directory, which is reset after each input (the
 * fixture files m.safetensors, m2.safetensors, h.safetensors are restored);
 * TMPDIR and SQLITE_TMPDIR point into that directory, and paths inside it
 * are allowed (cmanp_train's temporary checkpoint files).
 * libFuzzer's own artifacts pass through unchanged: exactly crash-, leak-,
 * timeout- or oom- followed by 40 hex digits, no directory, opened for
 * writing (checked once at start-up by sandbox_selftest).
 *
 * Oracles, besides ASan/UBSan/LeakSanitizer: after each input the
 * connection closes cleanly, SQLite's memory use and the engine's live
 * bytes are back where they were (no leak even of still-reachable memory),
 * and no error message is a placeholder ("...: ?", "(null)" from a NULL
 * message, "not an error").
 */
#define _GNU_SOURCE /* mkdtemp, strcasestr */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_common.h"

int sqlite3_cmanp_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

#define MAX_STATEMENTS 64
#define MAX_ROWS 20000
#define PROGRESS_EVERY 4
#define MAX_PROGRESS 100000 /* x PROGRESS_EVERY VM instructions */
#define MAX_SECONDS 2.0
#define HEAP_LIMIT (256LL << 20)

/* ------------------------------------------------------------ sandbox */

static char g_box[256];   /* the private directory */
static int g_in_sql;      /* an input is running: sandbox the file functions */

static const char *const k_fixture_files[] = {"m.safetensors", "m2.safetensors", "h.safetensors"};
typedef struct {
    unsigned char *bytes;
    size_t len;
} blob;
static blob g_fixture[3];

/* libFuzzer artifact names, exactly: crash-<40 hex digits> etc., written
 * (fopen "wb") from its death callback while an input runs.  Checked without
 * comparing against the prefixes as strings, so that libFuzzer's comparison
 * feedback does not teach the fuzzer to write such names. */
static int is_artifact(const char *p) {
    size_t n = strlen(p), k = 0;
    while (k < n && p[k] != '-') k++;
    if (k + 1 + 40 != n) return 0;
    static const unsigned long long want[] = {0x6372617368ULL /* crash */, 0x6c65616bULL /* leak */,
                                              0x74696d656f7574ULL /* timeout */, 0x6f6f6dULL /* oom */};
    unsigned long long h = 0;
    for (size_t i = 0; i < k && i < 8; i++) h = h << 8 | (unsigned char)p[i];
    int ok = 0;
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) ok |= h == want[i] && k <= 8;
    if (!ok) return 0;
    for (size_t i = k + 1; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return 0;
    return 1;
}

/* Inside the sandbox already (a path the extension made from TMPDIR, which
 * points there): g_box/... without a ".." component. */
static int in_box(const char *p) {
    size_t n = strlen(g_box);
    if (strncmp(p, g_box, n) != 0 || p[n] != '/') return 0;
    for (const char *q = p + n; (q = strstr(q, "/..")) != NULL; q += 3)
        if (q[3] == 0 || q[3] == '/') return 0;
    return 1;
}

/* Path to use for p, in buf; NULL (errno EACCES) when refused.  Artifact
 * names pass through only for fopen for writing (libFuzzer's writer), never
 * for reading (cmanp_model_load), as a rename target or for remove (what
 * cmanp_model_save uses). */
static const char *box_path_(const char *p, char *buf, size_t cap, int artifacts) {
    if (!g_in_sql || !p) return p;
    const char *base = strrchr(p, '/');
    if (artifacts && !base && is_artifact(p)) return p;
    if (base && in_box(p)) return p;
    if (!*p || base) {
        errno = EACCES;
        return NULL;
    }
    if ((size_t)snprintf(buf, cap, "%s/%s", g_box, p) >= cap) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    return buf;
}
static const char *box_path(const char *p, char *buf, size_t cap) { return box_path_(p, buf, cap, 0); }

FILE *__real_fopen(const char *p, const char *mode);
FILE *__wrap_fopen(const char *p, const char *mode);
FILE *__wrap_fopen(const char *p, const char *mode) {
    char b[4096];
    const char *q = box_path_(p, b, sizeof b, mode && mode[0] == 'w');
    return q ? __real_fopen(q, mode) : NULL;
}
int __real_open(const char *p, int flags, ...);
int __wrap_open(const char *p, int flags, ...);
int __wrap_open(const char *p, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    char b[4096];
    const char *q = box_path(p, b, sizeof b);
    return q ? __real_open(q, flags, mode) : -1;
}
int __real_stat(const char *p, struct stat *sb);
int __wrap_stat(const char *p, struct stat *sb);
int __wrap_stat(const char *p, struct stat *sb) {
    char b[4096];
    const char *q = box_path(p, b, sizeof b);
    return q ? __real_stat(q, sb) : -1;
}
int __real_rename(const char *a, const char *b);
int __wrap_rename(const char *a, const char *b);
int __wrap_rename(const char *a, const char *b) {
    char ba[4096], bb[4096];
    const char *qa = box_path(a, ba, sizeof ba), *qb = box_path(b, bb, sizeof bb);
    return qa && qb ? __real_rename(qa, qb) : -1;
}
int __real_remove(const char *p);
int __wrap_remove(const char *p);
int __wrap_remove(const char *p) {
    char b[4096];
    const char *q = box_path(p, b, sizeof b);
    return q ? __real_remove(q) : -1;
}

static void put_file(const char *name, const blob *b) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_box, name);
    FILE *f = __real_fopen(path, "wb");
    if (!f || fwrite(b->bytes, 1, b->len, f) != b->len) abort();
    fclose(f);
}

/* Empty the sandbox, then restore the fixture files an input changed. */
static void box_reset(void) {
    DIR *d = opendir(g_box);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        int keep = 0;
        for (int i = 0; i < 3; i++) keep |= !strcmp(de->d_name, k_fixture_files[i]);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", g_box, de->d_name);
        struct stat sb;
        if (keep && __real_stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) continue;
        if (unlink(path) != 0) { /* a directory (cmanp_train's temporary one) */
            DIR *sub = opendir(path);
            struct dirent *se;
            while (sub && (se = readdir(sub))) {
                char p2[1024];
                snprintf(p2, sizeof p2, "%s/%s", path, se->d_name);
                unlink(p2);
            }
            if (sub) closedir(sub);
            rmdir(path);
        }
    }
    if (d) closedir(d);
    for (int i = 0; i < 3; i++) {
        if (!g_fixture[i].bytes) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", g_box, k_fixture_files[i]);
        struct stat sb;
        /* Rewritten by cmanp_model_save (a new inode via rename) or missing. */
        static ino_t ino[3];
        if (__real_stat(path, &sb) != 0 || (size_t)sb.st_size != g_fixture[i].len || sb.st_ino != ino[i]) {
            put_file(k_fixture_files[i], &g_fixture[i]);
            if (__real_stat(path, &sb) == 0) ino[i] = sb.st_ino;
        }
    }
}

static void box_remove(void) {
    g_in_sql = 0;
    DIR *d = opendir(g_box);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", g_box, de->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    rmdir(g_box);
}

/* ------------------------------------------------------------ allocator */

/* The extension routes the engine's allocator to sqlite3_malloc64 with
 * 64-byte alignment padding; here the engine allocates exactly what it asks
 * for (still through sqlite3_malloc64, so the heap limit applies), so that
 * AddressSanitizer sees every overflow of an engine block. */
static void *x_malloc(size_t n) { return sqlite3_malloc64((sqlite3_uint64)n); }
static void *x_realloc(void *p, size_t n) { return sqlite3_realloc64(p, (sqlite3_uint64)n); }
static void x_free(void *p) { sqlite3_free(p); }

/* ------------------------------------------------------------ template */

static unsigned char *g_tmpl;
static sqlite3_int64 g_tmpl_len;

static blob save_model(cmanp_model *m) {
    blob b = {NULL, 0};
    unsigned char *buf;
    size_t len;
    cmanp_err e;
    if (!m || cmanp_model_save_bytes(m, "fuzz", &buf, &len, &e)) abort();
    b.bytes = malloc(len);
    if (!b.bytes) abort();
    memcpy(b.bytes, buf, len);
    b.len = len;
    cmanp_free(buf);
    cmanp_model_free(m);
    return b;
}

static blob save_cmhp(void) {
    blob b = {NULL, 0};
    cmhp_model *m = fuzz_cmhp_model();
    cmanp_err e;
    unsigned char *buf;
    size_t len;
    if (!m || cmhp_model_save_bytes(m, "fuzz", &buf, &len, &e)) abort();
    b.bytes = malloc(len);
    if (!b.bytes) abort();
    memcpy(b.bytes, buf, len);
    b.len = len;
    cmanp_free(buf);
    cmhp_model_free(m);
    return b;
}

static void exec_or_die(sqlite3 *db, const char *sql) {
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "fuzz_sql: fixture: %s\n  in: %s\n", err ? err : "?", sql);
        abort();
    }
}

/* The sandbox's decisions on a few paths, checked once per process (also in
 * the ctest replay), so that a change to is_artifact / box_path_ that lets
 * paths escape fails at once. */
static void sandbox_selftest(void) {
    static const char *const pass[] = {"crash-0123456789abcdef0123456789abcdef01234567",
                                       "leak-da39a3ee5e6b4b0d3255bfef95601890afd80709",
                                       "timeout-da39a3ee5e6b4b0d3255bfef95601890afd80709",
                                       "oom-da39a3ee5e6b4b0d3255bfef95601890afd80709"};
    static const char *const refuse[] = {"/tmp/crash-0123456789abcdef0123456789abcdef01234567",
                                         "../crash-0123456789abcdef0123456789abcdef01234567",
                                         "crash-0123456789abcdef0123456789abcdef0123456",
                                         "crash-0123456789abcdef0123456789abcdef012345678",
                                         "crash-0123456789ABCDEF0123456789abcdef01234567",
                                         "crashx0123456789abcdef0123456789abcdef01234567",
                                         "crash-0123456789abcdef0123456789abcdef01234567.tmp-1",
                                         "slow-unit-da39a3ee5e6b4b0d3255bfef95601890afd80709",
                                         "/etc/passwd", "a/b", ""};
    char b[4096];
    int saved = g_in_sql;
    g_in_sql = 1;
    for (size_t i = 0; i < sizeof pass / sizeof *pass; i++) {
        if (box_path_(pass[i], b, sizeof b, 1) != pass[i]) abort();           /* fopen "wb" */
        const char *q = box_path_(pass[i], b, sizeof b, 0);                     /* read, rename, remove */
        if (!q || q == pass[i] || strncmp(q, g_box, strlen(g_box)) != 0) abort();
    }
    for (size_t i = 0; i < sizeof refuse / sizeof *refuse; i++) {
        const char *q = box_path_(refuse[i], b, sizeof b, 1);
        if (q && (q == refuse[i] || strncmp(q, g_box, strlen(g_box)) != 0 || strchr(refuse[i], '/'))) abort();
    }
    g_in_sql = saved;
}

static void init_once(void) {
    /* The models are made (and their engine memory freed) before the first
     * connection routes the engine's allocator. */
    g_fixture[0] = save_model(fuzz_model());
    g_fixture[1] = save_model(fuzz_model_cfg(FUZZ_CFG_2X2));
    g_fixture[2] = save_cmhp();
    snprintf(g_box, sizeof g_box, "%s/cmanp-fuzz-sql-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_box)) {
        perror("fuzz_sql: mkdtemp");
        abort();
    }
    atexit(box_remove);
    sandbox_selftest();
    box_reset();
    /* Temporary files of the extension (cmanp_train's checkpoints) and of
     * SQLite go to the sandbox too. */
    setenv("TMPDIR", g_box, 1);
    setenv("SQLITE_TMPDIR", g_box, 1);

    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 1);
    sqlite3_initialize();
    sqlite3_auto_extension((void (*)(void))sqlite3_cmanp_init);
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) abort();
    /* sqlite3_cmanp_init has routed the engine's allocator; no engine memory
     * is live, so it can be replaced by the exact one. */
    cmanp_allocator a = {x_malloc, x_realloc, x_free};
    cmanp_set_allocator(&a);

    g_in_sql = 1;
    exec_or_die(db, "SELECT cmanp_model_load('m', 'm.safetensors'), cmanp_model_load('m2', 'm2.safetensors')");
    exec_or_die(db, "SELECT cmanp_model_load('h', 'h.safetensors')");
    g_in_sql = 0;
    exec_or_die(db,
                "INSERT INTO cmanp_models(name, weights) VALUES ('junk', x'0800000000000000'), "
                "('txt', 'not a blob');"
                "CREATE TABLE t(g INTEGER, x REAL, y REAL);"
                "INSERT INTO t WITH RECURSIVE n(value) AS (SELECT 0 UNION ALL SELECT value + 1 FROM n WHERE value < 35) "
                "SELECT value % 3, value / 6.0 - 3, sin(value) FROM n;"
                "CREATE TABLE t2(g INTEGER, x1 REAL, x2 REAL, y1 REAL, y2 REAL);"
                "INSERT INTO t2 WITH RECURSIVE n(value) AS (SELECT 0 UNION ALL SELECT value + 1 FROM n WHERE value < 35) "
                "SELECT value % 3, value / 6.0 - 3, cos(value), sin(value), value % 5 FROM n;"
                "CREATE TABLE s AS SELECT g, cmanp_condition('m', x, y) AS st FROM t GROUP BY g;"
                "CREATE TABLE s2 AS SELECT g, cmanp_condition('m2', x1, x2, y1, y2) AS st FROM t2 GROUP BY g;"
                "CREATE TABLE pts AS SELECT task, role, x, y FROM cmanp_gp_tasks('rbf', 3, 1, 12);"
                "CREATE TABLE ev(seq INTEGER, t REAL, mark INTEGER);"
                "INSERT INTO ev WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < 30) "
                "SELECT value % 2, 0.37 * value, value % 3 FROM n;");
    exec_or_die(db, "CREATE TABLE hs AS SELECT seq, cmhp_condition('h', t, mark) AS st FROM ev GROUP BY seq");
    sqlite3_int64 n = 0;
    unsigned char *img = sqlite3_serialize(db, "main", &n, 0);
    if (!img) abort();
    g_tmpl = malloc((size_t)n);
    if (!g_tmpl) abort();
    memcpy(g_tmpl, img, (size_t)n);
    g_tmpl_len = n;
    sqlite3_free(img);
    if (sqlite3_close(db) != SQLITE_OK) abort();
    box_reset();
    sqlite3_hard_heap_limit64(HEAP_LIMIT);
}

/* ------------------------------------------------------------ one input */

static int g_progress;
static struct timespec g_t0;
static int on_progress(void *u) {
    (void)u;
    if (++g_progress > MAX_PROGRESS) return 1;
    /* Functions that run long between VM instructions (cmanp_train polls
     * for interruption once per step): a wall-clock cap as well. */
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((double)(t.tv_sec - g_t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - g_t0.tv_nsec) > MAX_SECONDS) {
        g_progress = MAX_PROGRESS + 1;
        return 1;
    }
    return 0;
}

static void check_message(sqlite3 *db, int rc) {
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return;
    const char *m = sqlite3_errmsg(db);
    size_t n = strlen(m);
    if ((rc & 0xff) == SQLITE_ERROR &&
        (n == 0 || strcmp(m, "?") == 0 || (n >= 3 && strcmp(m + n - 3, ": ?") == 0) ||
         strcmp(m, "not an error") == 0 || strncmp(m, "(null)", 6) == 0)) {
        fprintf(stderr, "fuzz_sql: error %d with a placeholder message: '%s'\n", rc, m);
        abort();
    }
}

static void run_sql(sqlite3 *db, const char *sql) {
    const char *tail = sql;
    for (int k = 0; k < MAX_STATEMENTS && tail && *tail; k++) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail);
        if (rc != SQLITE_OK) {
            check_message(db, rc);
            if (rc == SQLITE_NOMEM || rc == SQLITE_INTERRUPT) return;
            /* Skip to after the next ';' and go on. */
            const char *semi = tail ? strchr(tail, ';') : NULL;
            if (!semi) return;
            tail = semi + 1;
            continue;
        }
        if (!st) continue; /* whitespace or a comment */
        int rows = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && ++rows < MAX_ROWS) {
            int nc = sqlite3_column_count(st);
            for (int i = 0; i < nc; i++) {
                /* Materialise each value (as the sqlite3 shell would). */
                if (sqlite3_column_type(st, i) == SQLITE_TEXT) sqlite3_column_text(st, i);
                else if (sqlite3_column_type(st, i) == SQLITE_BLOB) sqlite3_column_blob(st, i);
                sqlite3_column_bytes(st, i);
            }
        }
        check_message(db, rc);
        sqlite3_finalize(st);
        if (rc == SQLITE_INTERRUPT || g_progress > MAX_PROGRESS) return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        init_once();
        ready = 1;
    }
    if (size > 65536) return 0;
    char *sql = malloc(size + 1);
    if (!sql) return 0;
    memcpy(sql, data, size);
    sql[size] = 0;
    if (strcasestr(sql, "vacuum")) {
        free(sql);
        return 0;
    }
    sqlite3_int64 mem0 = sqlite3_memory_used();
    cmanp_alloc_stats a0, a1;
    cmanp_alloc_stats_get(&a0);

    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) abort();
    unsigned char *img = sqlite3_malloc64((sqlite3_uint64)g_tmpl_len);
    if (!img) abort();
    memcpy(img, g_tmpl, (size_t)g_tmpl_len);
    if (sqlite3_deserialize(db, "main", img, g_tmpl_len, g_tmpl_len,
                            SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) != SQLITE_OK)
        abort();
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1000000);
    sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 65536);
    sqlite3_limit(db, SQLITE_LIMIT_COLUMN, 200);
    sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 100);
    sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 10);
    sqlite3_limit(db, SQLITE_LIMIT_VDBE_OP, 50000);
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 100);
    sqlite3_limit(db, SQLITE_LIMIT_TRIGGER_DEPTH, 10);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
    g_progress = 0;
    clock_gettime(CLOCK_MONOTONIC, &g_t0);
    sqlite3_progress_handler(db, PROGRESS_EVERY, on_progress, NULL);

    g_in_sql = 1;
    run_sql(db, sql);
    g_in_sql = 0;
    free(sql);
    if (sqlite3_close(db) != SQLITE_OK) {
        fprintf(stderr, "fuzz_sql: sqlite3_close failed: %s\n", sqlite3_errmsg(db));
        abort();
    }
    box_reset();
    cmanp_alloc_stats_get(&a1);
    if (a1.live_bytes != a0.live_bytes) {
        fprintf(stderr, "fuzz_sql: engine memory leaked: %lld bytes live after the connection closed\n",
                (long long)(a1.live_bytes - a0.live_bytes));
        abort();
    }
    if (sqlite3_memory_used() != mem0) {
        fprintf(stderr, "fuzz_sql: SQLite memory leaked: %lld bytes after the connection closed\n",
                (long long)(sqlite3_memory_used() - mem0));
        abort();
    }
    return 0;
}
