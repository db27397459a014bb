/* cmanp_ext.c - SQLite loadable extension: entry point and registration.
 *
 *   sqlite3 shell:  .load ./build/cmanp
 *   Python:         con.enable_load_extension(True); con.load_extension("./build/cmanp")
 *
 * Specification (tests: tests/sql/basics.sql L*, tests/sql/test_python_load.py,
 * tests/sql/test_sql_oom.c):
 *
 * L1. The entry point is sqlite3_cmanp_init (SQLite derives it from the file
 *     name cmanp.so).  Loading registers every function of the table below
 *     and the modules cmanp_predict and cmanp_gp_tasks on that connection.
 * L2. The engine's allocator is routed to sqlite3_malloc64 / sqlite3_free
 *     (once per process, at the first load; blocks 64-byte aligned), so
 *     SQLite's memory accounting and limits see the engine's memory.
 * L3. cmanp_version() returns the version string ("0.1.0").
 * L4. cmanp_debug() returns JSON describing the build (version, build type,
 *     compute type, state format version, SQLite and OpenBLAS configuration
 *     and thread count), the engine's live bytes, the calling thread's
 *     engine work (cmanp_work: gemm_calls, gemm_flops, rows_folded), the sizes of this
 *     connection's caches, and this connection's counters (cx_counters:
 *     models_parsed, model_cache_hits, registry_reads, registry_checks,
 *     states_decoded, readouts_computed, state_cache_hits, rows_added,
 *     rows_removed, frame_rebuilds, targets_predicted).  Tests use the counters to prove
 *     caching (R5, S4).
 * L5. Each connection has its own caches and counters (cx_conn); they are
 *     freed when the connection closes (reference counted by the
 *     registrations).
 * L6. Flags: SQLITE_DETERMINISTIC where the result depends only on the
 *     arguments (a state determines its model through the fingerprint),
 *     SQLITE_INNOCUOUS where the function has no side effects,
 *     SQLITE_DIRECTONLY for the functions that touch files or run SQL text
 *     (cmanp_model_load, cmanp_model_save, cmanp_evaluate).
 * L7. A failed load (e.g. out of memory) unregisters what it registered,
 *     and the library pins itself in memory (RTLD_NODELETE) so that nothing
 *     SQLite still holds can point into unmapped code.
 * L8. Loads on several threads at once are safe (the process-wide setup of
 *     L2, L7, L9 runs once, pthread_once); a load from a second SQLite
 *     library in the same process is refused ("cmanp: already loaded by
 *     another SQLite library in this process ...").
 * L9. Unless OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS or OMP_NUM_THREADS is
 *     set, the first load sets OpenBLAS to one thread (docs/hosting.md);
 *     cmanp_debug() reports the current count.
 * L10. cmanp_threads() returns this connection's thread count for CMANP
 *     readouts and decoding (default 1); cmanp_threads(n), n an integer in
 *     1..8, sets it and returns n (direct-only: it changes the connection,
 *     like PRAGMA threads).  Extra threads live for one readout or one
 *     decoding call; results are bit-identical for every n (engine/team.h).
 *     cmanp_debug() reports it as '$.threads'.
 */
#define CMANP_EXT_MAIN
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmanp_ext.h"

#ifndef CMANP_VERSION_STRING
#define CMANP_VERSION_STRING CMANP_VERSION
#endif
#ifndef CMANP_BUILD_TYPE
#define CMANP_BUILD_TYPE "unknown"
#endif

/* ------------------------------------------------------------- allocator */

static void *(*g_malloc64)(sqlite3_uint64);
static void (*g_free)(void *);

/* The engine puts a 16-byte header before each block it hands out; SQLite's
 * allocator only guarantees 8-byte alignment.  Blocks are offset so that the
 * engine's data (16 bytes in) starts on a 64-byte boundary, as with a
 * cache-line-aligned malloc: BLAS kernels and the engine's vector loops run
 * on aligned rows.  Our own 16 bytes before the block keep the raw pointer
 * and the size. */
#define XALIGN 64
static void *x_malloc(size_t n) {
    if (n > SIZE_MAX - XALIGN - 32) return NULL;
    unsigned char *raw = g_malloc64((sqlite3_uint64)(n + XALIGN + 32));
    if (!raw) return NULL;
    uintptr_t data = ((uintptr_t)raw + 32 + XALIGN - 1) & ~(uintptr_t)(XALIGN - 1);
    unsigned char *p = (unsigned char *)data - 16;
    memcpy(p - 16, &raw, sizeof raw);
    memcpy(p - 8, &n, sizeof n);
    return p;
}
static void x_free(void *p) {
    if (!p) return;
    unsigned char *raw;
    memcpy(&raw, (unsigned char *)p - 16, sizeof raw);
    g_free(raw);
}
static void *x_realloc(void *p, size_t n) {
    if (!p) return x_malloc(n);
    size_t old;
    memcpy(&old, (unsigned char *)p - 8, sizeof old);
    void *q = x_malloc(n);
    if (!q) return NULL;
    memcpy(q, p, old < n ? old : n);
    x_free(p);
    return q;
}

/* L2: the first load fixes the allocator for the life of the library. */
static void route_allocator(void) {
    g_malloc64 = sqlite3_api->malloc64;
    g_free = sqlite3_api->free;
    cmanp_allocator a = {x_malloc, x_realloc, x_free};
    cmanp_set_allocator(&a);
}

/* L7: once loaded, the library stays mapped for the life of the process
 * (RTLD_NODELETE).  SQLite unloads an extension whose init failed and when
 * the connection that loaded it closes; a registration made by a hook that
 * failed halfway, or a destructor SQLite runs late, then still points into
 * mapped code. */
static void pin_library(void) {
#if defined(__linux__) || defined(__APPLE__)
    Dl_info info;
    if (dladdr((void *)&pin_library, &info) && info.dli_fname)
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
#endif
}

/* L8: process-wide setup, once, whichever thread loads first (loads on
 * several threads at once are safe: pthread_once).  Every later load must
 * come from the same SQLite library: the extension reaches SQLite through
 * one API table per process (sqlite3_api), so a load from a second copy of
 * SQLite in the process is refused instead of mixing the two.
 * L9: OpenBLAS threads.  cmanp's matrix sizes are small; a multithreaded
 * BLAS only adds hand-off overhead and busy-waiting threads in the host
 * process.  Unless the environment says otherwise (OPENBLAS_NUM_THREADS,
 * GOTO_NUM_THREADS or OMP_NUM_THREADS is set), the first load sets OpenBLAS
 * to one thread (openblas_set_num_threads(1), process-wide; the host may
 * change it afterwards).  cmanp_debug() reports the current value
 * ($.blas.threads); docs/hosting.md. */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static _Atomic(const sqlite3_api_routines *) g_api; /* the API table of the first load */

static void process_init(void) {
    sqlite3_api = atomic_load(&g_api);
    route_allocator();
    if (!getenv("OPENBLAS_NUM_THREADS") && !getenv("GOTO_NUM_THREADS") && !getenv("OMP_NUM_THREADS"))
        openblas_set_num_threads(1);
    pin_library();
}

/* ----------------------------------------------------------- connection */

void cx_conn_unref(void *p) {
    cx_conn *c = p;
    if (!c || --c->ref > 0) return;
    cx_states_clear(c);
    cx_models_clear(c);
    sqlite3_free(c);
}

/* ------------------------------------------------------- small functions */

static void fn_version(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    (void)argv;
    sqlite3_result_text(ctx, CMANP_VERSION_STRING, -1, SQLITE_STATIC);
}

static void fn_debug(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    (void)argv;
    cx_conn *c = sqlite3_user_data(ctx);
    cmanp_alloc_stats as;
    cmanp_alloc_stats_get(&as);
    sqlite3_str *s = sqlite3_str_new(c->db);
    sqlite3_str_appendall(s, "{\"version\":");
    cx_json_str(s, CMANP_VERSION_STRING);
    sqlite3_str_appendall(s, ",\"build_type\":");
    cx_json_str(s, CMANP_BUILD_TYPE);
    sqlite3_str_appendall(s, ",\"compute_type\":");
    cx_json_str(s, CMANP_REAL_NAME);
    sqlite3_str_appendf(s, ",\"state_format_version\":%d,\"sqlite\":", CMANP_STATE_FORMAT_VERSION);
    cx_json_str(s, sqlite3_libversion());
    sqlite3_str_appendall(s, ",\"blas\":{\"config\":");
    cx_json_str(s, openblas_get_config());
    sqlite3_str_appendf(s, ",\"threads\":%d}", openblas_get_num_threads());
    sqlite3_str_appendf(s, ",\"threads\":%d", c->threads);
    sqlite3_str_appendf(s, ",\"engine_live_bytes\":%lld", (long long)as.live_bytes);
    cmanp_work w; /* the calling thread's engine work (ops.h) */
    cmanp_work_get(&w);
    sqlite3_str_appendf(s, ",\"work\":{\"gemm_calls\":%lld,\"gemm_flops\":%lld,\"rows_folded\":%lld}",
                        (long long)w.gemm_calls, (long long)w.gemm_flops, (long long)w.rows_folded);
    sqlite3_str_appendf(s, ",\"cache\":{\"models\":%d,\"states\":%d,\"state_capacity\":%d}",
                        cx_models_count(c), cx_states_count(c), CX_STATE_CACHE);
    const cx_counters *n = &c->n;
    sqlite3_str_appendf(s,
                        ",\"counters\":{\"models_parsed\":%lld,\"model_cache_hits\":%lld,"
                        "\"registry_reads\":%lld,\"registry_checks\":%lld,\"states_decoded\":%lld,"
                        "\"readouts_computed\":%lld,\"state_cache_hits\":%lld,\"rows_added\":%lld,"
                        "\"rows_removed\":%lld,\"frame_rebuilds\":%lld,\"targets_predicted\":%lld}}",
                        n->models_parsed, n->model_cache_hits, n->registry_reads, n->registry_checks,
                        n->states_decoded, n->readouts_computed, n->state_cache_hits, n->rows_added,
                        n->rows_removed, n->frame_rebuilds, n->targets_predicted);
    cx_result_json(ctx, s);
}

static void fn_threads(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    cx_conn *c = sqlite3_user_data(ctx);
    if (argc == 1) {
        sqlite3_value *v = argv[0];
        sqlite3_int64 n = sqlite3_value_int64(v);
        if (sqlite3_value_numeric_type(v) != SQLITE_INTEGER || n < 1 || n > CMANP_TEAM_MAX) {
            char *what = cx_describe_value(v);
            cx_arg_error(ctx, "cmanp_threads", 1, "n", "expected an integer in 1..%d, found %s",
                         CMANP_TEAM_MAX, what ? what : "?");
            sqlite3_free(what);
            return;
        }
        c->threads = (int)n;
    }
    sqlite3_result_int(ctx, c->threads);
}

/* ------------------------------------------------------ registration table */

#define DET SQLITE_DETERMINISTIC
#define INN SQLITE_INNOCUOUS
#define DIRECT SQLITE_DIRECTONLY
#define JSONOUT SQLITE_RESULT_SUBTYPE

typedef void (*xfunc_t)(sqlite3_context *, int, sqlite3_value **);
typedef void (*xfinal_t)(sqlite3_context *);

static const struct cx_func {
    const char *name;
    int n_arg;          /* -1: variable (checked against the model) */
    int flags;
    xfunc_t xFunc;      /* scalar */
    xfunc_t xStep;      /* aggregate */
    xfinal_t xFinal;
    xfinal_t xValue;    /* window (with xInverse) */
    xfunc_t xInverse;
} k_funcs[] = {
    /* name                n   flags                 xFunc               xStep              xFinal          xValue         xInverse */
    {"cmanp_version",      0,  DET | INN,            fn_version,         NULL,              NULL,           NULL,          NULL},
    {"cmanp_debug",        0,  INN | JSONOUT,        fn_debug,           NULL,              NULL,           NULL,          NULL},
    {"cmanp_threads",      0,  INN,                  fn_threads,         NULL,              NULL,           NULL,          NULL},
    {"cmanp_threads",      1,  DIRECT,               fn_threads,         NULL,              NULL,           NULL,          NULL},
    {"cmanp_model_load",   2,  DIRECT,               cx_fn_model_load,   NULL,              NULL,           NULL,          NULL},
    {"cmanp_model_save",   2,  DIRECT,               cx_fn_model_save,   NULL,              NULL,           NULL,          NULL},
    {"cmanp_model_info",   1,  INN | JSONOUT,        cx_fn_model_info,   NULL,              NULL,           NULL,          NULL},
    {"cmanp_condition",   -1,  INN,                  NULL,               cx_condition_step, cx_cond_final,  cx_cond_value, cx_condition_inverse},
    {"cmanp_update",      -1,  DET | INN,            NULL,               cx_update_step,    cx_cond_final,  cx_cond_value, cx_update_inverse},
    {"cmanp_merge",        1,  DET | INN,            NULL,               cx_merge_step,     cx_merge_final, NULL,          NULL},
    {"cmanp_state_info",   1,  DET | INN | JSONOUT,  cx_fn_state_info,   NULL,              NULL,           NULL,          NULL},
    {"cmanp_mean",        -1,  DET | INN | JSONOUT,  cx_fn_mean,         NULL,              NULL,           NULL,          NULL},
    {"cmanp_std",         -1,  DET | INN | JSONOUT,  cx_fn_std,          NULL,              NULL,           NULL,          NULL},
    {"cmanp_quantile",    -1,  DET | INN | JSONOUT,  cx_fn_quantile,     NULL,              NULL,           NULL,          NULL},
    {"cmanp_logprob",     -1,  DET | INN,            cx_fn_logprob,      NULL,              NULL,           NULL,          NULL},
    {"cmanp_evaluate",     2,  DIRECT | JSONOUT,     cx_fn_evaluate,     NULL,              NULL,           NULL,          NULL},
    {"cmanp_train",       -1,  DIRECT | JSONOUT,     cx_fn_train,        NULL,              NULL,           NULL,          NULL},
};

static const struct cx_vtab {
    const char *name;
    sqlite3_module *module;
} k_modules[] = {
    {"cmanp_predict", &cx_predict_module},
    {"cmanp_gp_tasks", &cx_gp_tasks_module},
};

/* Other model families add their SQL surface to the same connection (and
 * the same registry table) through a registration hook; ext/cmhp_sql.c
 * provides cmhp_sql_register.  Weak, so the extension builds and loads
 * without it. */
#if defined(__GNUC__)
extern int cmhp_sql_register(sqlite3 *db, cx_conn *c, char **pzErrMsg) __attribute__((weak));
#endif

#ifdef _WIN32
__declspec(dllexport)
#elif defined(__GNUC__)
__attribute__((visibility("default")))
#endif
int sqlite3_cmanp_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
    const sqlite3_api_routines *expect = NULL;
    if (!pApi) return SQLITE_MISUSE;
    if (!atomic_compare_exchange_strong(&g_api, &expect, pApi) && expect != pApi) {
        if (pzErrMsg)
            *pzErrMsg = pApi->mprintf("cmanp: already loaded by another SQLite library in this process "
                                      "(one SQLite per process; see docs/hosting.md)");
        return SQLITE_ERROR;
    }
    pthread_once(&g_once, process_init);
    cx_conn *c = sqlite3_malloc(sizeof *c);
    if (!c) return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    c->threads = 1;
    c->db = db;
    c->ref = 1; /* ours until the registrations below hold theirs */
    int rc = SQLITE_OK;
    size_t n_funcs = 0, n_mods = 0;
    for (; rc == SQLITE_OK && n_funcs < sizeof k_funcs / sizeof *k_funcs; n_funcs++) {
        const struct cx_func *f = &k_funcs[n_funcs];
        int flags = SQLITE_UTF8 | f->flags;
        c->ref++; /* released by the destructor, also when registration fails */
        if (f->xValue)
            rc = sqlite3_create_window_function(db, f->name, f->n_arg, flags, c, f->xStep, f->xFinal,
                                                f->xValue, f->xInverse, cx_conn_unref);
        else
            rc = sqlite3_create_function_v2(db, f->name, f->n_arg, flags, c, f->xFunc, f->xStep,
                                            f->xFinal, cx_conn_unref);
        if (rc != SQLITE_OK && pzErrMsg)
            *pzErrMsg = sqlite3_mprintf("cmanp: cannot register %s: %s", f->name, sqlite3_errmsg(db));
    }
    for (; rc == SQLITE_OK && n_mods < sizeof k_modules / sizeof *k_modules; n_mods++) {
        c->ref++;
        rc = sqlite3_create_module_v2(db, k_modules[n_mods].name, k_modules[n_mods].module, c,
                                      cx_conn_unref);
        if (rc != SQLITE_OK && pzErrMsg)
            *pzErrMsg = sqlite3_mprintf("cmanp: cannot register %s: %s", k_modules[n_mods].name,
                                        sqlite3_errmsg(db));
    }
#if defined(__GNUC__)
    if (rc == SQLITE_OK && cmhp_sql_register) rc = cmhp_sql_register(db, c, pzErrMsg);
#endif
    if (rc != SQLITE_OK) {
        /* L7: a failed load leaves nothing of ours registered (SQLite
         * unloads the library after a failed init). */
        for (size_t i = 0; i < n_funcs; i++)
            sqlite3_create_function_v2(db, k_funcs[i].name, k_funcs[i].n_arg, SQLITE_UTF8, NULL, NULL,
                                       NULL, NULL, NULL);
        for (size_t i = 0; i < n_mods; i++) sqlite3_create_module_v2(db, k_modules[i].name, NULL, NULL, NULL);
    }
    cx_conn_unref(c);
    return rc;
}
