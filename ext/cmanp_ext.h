/* cmanp_ext.h - internals shared by the files of the SQLite extension.
 *
 * The extension is split by idea:
 *   cmanp_ext.c     entry point, the one registration table, cmanp_version(),
 *                   cmanp_debug(), the per-connection context
 *   util.c          argument reading, error messages, JSON, inverse normal CDF
 *   registry.c      the cmanp_models table and the per-connection model cache
 *                   (every model family: CMANP here, CMHP from cmhp_sql.c)
 *   state_cache.c   the per-connection LRU of decoded + read-out states
 *   condition.c     cmanp_condition / cmanp_update / cmanp_merge aggregates
 *                   (also window functions), cmanp_state_info
 *   predict.c       cmanp_mean / cmanp_std / cmanp_quantile / cmanp_logprob
 *   predict_vtab.c  the cmanp_predict table-valued function
 *   tvf.c           planning and errors shared by the table-valued functions
 *   gp_tasks.c      the cmanp_gp_tasks table-valued function
 *   evaluate.c      cmanp_evaluate (the benchmark metric over an evalset table)
 *   train_sql.c     cmanp_train (training with checkpoints in the database)
 *
 * Memory: everything here and in the engine is allocated with sqlite3_malloc64
 * (the engine's allocator is routed there at init) so SQLite's accounting and
 * limits see it.
 */
#ifndef CMANP_EXT_H
#define CMANP_EXT_H

#include <sqlite3ext.h>
#ifndef CMANP_EXT_MAIN
SQLITE_EXTENSION_INIT3
#endif

#include <stdint.h>

#include "cmanp.h"

#ifndef SQLITE_RESULT_SUBTYPE
#define SQLITE_RESULT_SUBTYPE 0x001000000 /* SQLite >= 3.45; older versions ignore it */
#endif
#define CX_JSON_SUBTYPE 74 /* 'J', what SQLite's JSON functions use */

#define CX_STATE_CACHE 8       /* decoded + read-out states kept per connection */
#define CX_MODEL_CACHE 8       /* parsed models kept per connection */
#define CX_PREDICT_MAX_ARGS 30 /* cmanp_predict hidden argument columns a1..a30 */

/* ------------------------------------------------------------ counters */

typedef struct cx_counters {
    sqlite3_int64 models_parsed;     /* weights BLOBs turned into models */
    sqlite3_int64 model_cache_hits;  /* model lookups served without parsing */
    sqlite3_int64 registry_reads;    /* weights BLOBs read back to validate the cache */
    sqlite3_int64 registry_checks;   /* cheap fingerprint queries against cmanp_models */
    sqlite3_int64 states_decoded;    /* state BLOBs validated and decoded */
    sqlite3_int64 readouts_computed; /* cmanp_readout_compute calls */
    sqlite3_int64 state_cache_hits;  /* state lookups served by the LRU or aux data */
    sqlite3_int64 rows_added;        /* rows folded into states by the aggregates */
    sqlite3_int64 rows_removed;      /* rows taken out by window frames (xInverse) */
    sqlite3_int64 frame_rebuilds;    /* window states rebuilt from their rows (W2) */
    sqlite3_int64 targets_predicted; /* targets decoded */
    /* CMHP models (cmhp_debug(); the registry cache is shared). */
    sqlite3_int64 cmhp_models_parsed, cmhp_model_cache_hits;
} cx_counters;

/* ------------------------------------------------------------- models */

/* The registry table's schema (registry.c, train_sql.c write rows). */
#define CX_REGISTRY_SCHEMA                                                                  \
    "CREATE TABLE IF NOT EXISTS main.cmanp_models(name TEXT PRIMARY KEY, weights BLOB NOT " \
    "NULL, config TEXT, fingerprint TEXT, n_params INTEGER, created TEXT)"

typedef struct cx_model cx_model;

/* A family of models sharing the registry table and its per-connection
 * cache.  CMANP's (cx_family_cmanp) is built into registry.c; another
 * family registers itself on the connection with cx_family_add (CMHP:
 * ext/cmhp_sql.c).  A row belongs to the first added family whose claims()
 * accepts its __metadata__ config, else to CMANP.  The message hooks keep
 * each family's own wording (docs/errors.md). */
typedef struct cx_family {
    const char *name;                    /* "CMANP", "CMHP" */
    const char *functions;               /* its SQL functions: "cmanp_*", "cmhp_*" */
    int (*claims)(const char *config);   /* the config JSON is one of this family's */
    /* Parse the weights into m (m->m or m->other, and m->fingerprint). */
    int (*load)(cx_model *m, const cmanp_st *st, cmanp_err *e);
    void (*unload)(cx_model *m);
    /* Canonical config JSON and parameter count, for the registry row. */
    void (*describe)(const cx_model *m, char *cfg, size_t cap, sqlite3_int64 *n_params);
    /* Count a parse (parsed = 1) or a cache hit (0) in the connection's counters. */
    void (*tally)(struct cx_counters *n, int parsed);
    /* Messages (sqlite3_malloc'd): registry row `name` or file `path` whose
     * weights failed to load (why: the engine's message); a row of family
     * `actual` asked for as this family. */
    char *(*row_invalid)(const char *name, const char *why);
    char *(*file_invalid)(const char *path, const char *why);
    char *(*wrong_family)(const char *name, const struct cx_family *actual);
} cx_family;

/* A parsed registry row, reference counted: held by the connection's cache,
 * by aggregate contexts, by aux data and by state-cache entries. */
struct cx_model {
    int ref;
    int cached;                  /* still in the connection's list */
    char *name;                  /* registry name it was read under */
    const cx_family *family;
    cmanp_model *m;              /* the CMANP model (NULL in another family's entry) */
    void *other;                 /* another family's model (its unload frees it) */
    uint64_t fingerprint;        /* of the model, whatever its family */
    uint64_t blob_hash;          /* cmanp_hash64 of the weights BLOB */
    sqlite3_int64 blob_len;
    char fp_hex[17];             /* fingerprint as 16 lower-case hex digits */
    /* Validation tokens (total_changes64, data_version) at the last check. */
    sqlite3_int64 name_changes, fp_changes;
    unsigned name_dv, fp_dv;
    int name_ok, fp_ok;
    cmanp_cond *spare_cond;      /* CMANP: one reusable conditioner */
    sqlite3_uint64 last_use;
    struct cx_model *next;
};

/* A state BLOB that has been decoded and read out (latents computed). */
typedef struct cx_state {
    int ref;
    cx_model *model;             /* reference */
    unsigned char *blob;         /* copy, to verify a hit with memcmp */
    sqlite3_int64 len;
    uint64_t key;                /* the BLOB's own checksum field (a hash of all of it) */
    int64_t n_rows;
    cmanp_readout *r;
    sqlite3_uint64 last_use;
} cx_state;

/* -------------------------------------------------- per-connection context */

typedef struct cx_conn {
    sqlite3 *db;
    int ref;                     /* one per registered function / module */
    cx_counters n;
    cx_model *models;            /* list, most recently used first, every family */
    const cx_family *families[4];/* added families (CMANP is implicit) */
    int n_families;
    cx_state *states[CX_STATE_CACHE];
    sqlite3_uint64 tick;
    int threads;                 /* cmanp_threads(): CMANP readouts and decoding */
} cx_conn;

void cx_conn_unref(void *p);

/* ------------------------------------------------------------ util.c */

/* printf into a new sqlite3_malloc'd string (NULL on OOM). */
char *cx_mprintf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* "fn: argument i (name): <message>" as the function's error. i is 1-based. */
void cx_arg_error(sqlite3_context *ctx, const char *fn, int i, const char *argname,
                  const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
char *cx_arg_errmsg(const char *fn, int i, const char *argname, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
void cx_error(sqlite3_context *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Report an error message that was built already (takes ownership; NULL = OOM). */
void cx_error_take(sqlite3_context *ctx, char *msg);
/* Report a lookup's failure (an SQLite code and its message, e.g. from
 * cx_registry_get or cx_state_decode_arg) as argument i's error: out of
 * memory for SQLITE_NOMEM, else "fn: argument i (name): err".  Frees err. */
static inline void cx_arg_fail(sqlite3_context *ctx, const char *fn, int i, const char *argname,
                               int rc, char *err) {
    if (rc == SQLITE_NOMEM)
        sqlite3_result_error_nomem(ctx);
    else
        cx_arg_error(ctx, fn, i, argname, "%s", err ? err : "?");
    sqlite3_free(err);
}

/* Name of argument k (0-based, after the leading non-data arguments) of a row
 * (x1..x_dx, y1..y_dy): writes "x3" or "y1" into buf. */
void cx_xy_name(char *buf, size_t cap, int k, int dx);

enum { CX_VAL_OK = 0, CX_VAL_NULL = 1 };
/* Read a number: CX_VAL_OK with *out set, CX_VAL_NULL for NULL, or an error
 * message (sqlite3_malloc'd, "expected a finite number, found TEXT 'abc'") in
 * *err and -1.  limit_f32 rejects values outside float32's range. */
int cx_value_number(sqlite3_value *v, int limit_f32, double *out, char **err);
/* Same, reporting "fn: argument i (name): ..." on ctx. */
int cx_arg_number(sqlite3_context *ctx, const char *fn, int i, const char *argname,
                  sqlite3_value *v, double *out);
/* "INTEGER", "REAL", "TEXT 'abc'", "a BLOB of 12 bytes", "NULL" (static or sqlite3 string). */
char *cx_describe_value(sqlite3_value *v);

/* Inverse of the standard normal CDF (Wichura AS241, ~1e-16 relative).
 * p outside (0, 1) returns NaN. */
double cx_norm_ppf(double p);

/* JSON string literal of s (escaped), appended to str. */
void cx_json_str(sqlite3_str *str, const char *s);
/* Return the builder's text as the function's JSON result (subtype 'J'). */
void cx_result_json(sqlite3_context *ctx, sqlite3_str *str);
/* A number as JSON (null for non-finite). */
void cx_json_num(sqlite3_str *str, double v);

/* Validation tokens of the main database. */
void cx_tokens(cx_conn *c, sqlite3_int64 *changes, unsigned *dv);

/* --------------------------------------------------------- registry.c */

extern const cx_family cx_family_cmanp;
/* Another family for this connection's registry (at registration). */
int cx_family_add(cx_conn *c, const cx_family *f);
/* Model of family f by registry name; returns a new reference in *out, or
 * an error code with a message (sqlite3_malloc'd) in *err. */
int cx_registry_get(cx_conn *c, const cx_family *f, const char *name, cx_model **out, char **err);
/* Model of family f by fingerprint (of a state): the registry row whose
 * fingerprint column matches, verified against the parsed weights. */
int cx_registry_get_fp(cx_conn *c, const cx_family *f, uint64_t fp, cx_model **out, char **err);
/* Model of family f named by argument `argi` (1-based) of function fn; uses
 * aux data on that argument so that a constant name is looked up and
 * validated once per statement.  A new reference, or NULL after reporting
 * the error on ctx. */
cx_model *cx_registry_arg(sqlite3_context *ctx, cx_conn *c, const cx_family *f, const char *fn,
                          int argi, sqlite3_value *v);
/* Cached entries of family f. */
int cx_registry_count(const cx_conn *c, const cx_family *f);
/* The CMANP forms of the above. */
int cx_model_by_name(cx_conn *c, const char *name, cx_model **out, char **err);
int cx_model_by_fingerprint(cx_conn *c, uint64_t fp, cx_model **out, char **err);
cx_model *cx_model_arg(sqlite3_context *ctx, cx_conn *c, const char *fn, int argi,
                       sqlite3_value *v);
/* Cheap check that m's fingerprint is still registered (once per change of
 * the validation tokens). */
int cx_model_still_registered(cx_conn *c, cx_model *m, char **err);
/* Registry name of a fingerprint, or NULL (sqlite3_malloc'd). */
char *cx_registry_name_of(cx_conn *c, uint64_t fp);
void cx_model_ref(cx_model *m);
void cx_model_unref(cx_model *m);
void cx_models_clear(cx_conn *c);
/* Cached CMANP models (cmanp_debug()). */
int cx_models_count(const cx_conn *c);
/* Borrow / return a conditioner of m (one spare is kept per model).  Return
 * only a flushed conditioner (no queued rows); free any other. */
int cx_cond_borrow(cx_model *m, cmanp_cond **out, cmanp_err *e);
void cx_cond_return(cx_model *m, cmanp_cond *cond);

/* Registry functions (registered from cmanp_ext.c). */
void cx_fn_model_load(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void cx_fn_model_save(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void cx_fn_model_info(sqlite3_context *ctx, int argc, sqlite3_value **argv);

/* ------------------------------------------------------ state_cache.c */

/* Decoded + read-out state for a BLOB (LRU hit verified with memcmp).
 * Returns a new reference, or an error code with a message (without the
 * "fn: argument" prefix) in *err. */
int cx_state_get(cx_conn *c, const void *blob, sqlite3_int64 len, cx_state **out, char **err);
void cx_state_ref(cx_state *s);
void cx_state_unref(cx_state *s);
void cx_states_clear(cx_conn *c);
int cx_states_count(const cx_conn *c);
/* State argument `argi` of a scalar function, through aux data (once per
 * statement for a constant state) and the LRU.  NULL with *is_null set for a
 * NULL argument; NULL after reporting an error otherwise. */
cx_state *cx_state_arg(sqlite3_context *ctx, cx_conn *c, const char *fn, int argi,
                       sqlite3_value *v, int *is_null);
/* Decode a state BLOB for modification (update/merge): with_model finds and
 * checks its model.  *model gets a reference when with_model. */
int cx_state_decode_arg(cx_conn *c, sqlite3_value *v, int with_model, cmanp_state **out,
                        cx_model **model, char **err);
/* Encode s as the function result (a BLOB). */
void cx_result_state(sqlite3_context *ctx, const cmanp_state *s);

/* -------------------------------------------------------- condition.c */

void cx_condition_step(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void cx_condition_inverse(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void cx_update_step(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void cx_update_inverse(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void cx_cond_value(sqlite3_context *ctx);
void cx_cond_final(sqlite3_context *ctx);
void cx_merge_step(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void cx_merge_final(sqlite3_context *ctx);
void cx_fn_state_info(sqlite3_context *ctx, int argc, sqlite3_value **argv);

/* ---------------------------------------------------------- predict.c */

void cx_fn_mean(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void cx_fn_std(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void cx_fn_quantile(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void cx_fn_logprob(sqlite3_context *ctx, int argc, sqlite3_value **argv);
/* Predict one target x (dim_x values) from a read-out state: mean, std
 * (dim_y values each). */
/* Decode M targets x (M, dx) of a read-out state; counts targets_predicted. */
int cx_predict_many(cx_conn *c, cx_state *st, const cmanp_real *x, int M, cmanp_real *mean,
                    cmanp_real *std, char **err);
int cx_predict_one(cx_conn *c, cx_state *st, const cmanp_real *x, cmanp_real *mean,
                   cmanp_real *std, char **err);
/* Read data arguments argv[0..n) (names x1.., y1.. from index k0) into out:
 * 1 = all present, 0 = some NULL, -1 = error reported on ctx. */
int cx_read_values(sqlite3_context *ctx, const char *fn, int first_argi, int k0, int dx, int n,
                   sqlite3_value **argv, cmanp_real *out);
/* "state, x1, y1"-style argument lists for messages (sqlite3_malloc'd). */
char *cx_arg_list(const char *lead, int dx, int dy);

/* ----------------------------------------------------- virtual tables */

/* tvf.c: the planning of a table-valued function whose n arguments are the
 * HIDDEN columns first..first+n-1 (n <= 31): EQ constraints on them become
 * xFilter's argv in column order, idxNum (= *mask) has bit j set for each
 * given argument j.  SQLITE_CONSTRAINT when a given argument is not usable
 * yet; the caller sets the costs. */
int cx_tvf_plan(sqlite3_index_info *info, int first, int n, int *mask);
/* msg (sqlite3_malloc'd, NULL = out of memory) as the vtab's error; returns
 * the code for xFilter / xNext. */
int cx_tvf_error(sqlite3_vtab_cursor *cur, char *msg);

extern sqlite3_module cx_predict_module;
extern sqlite3_module cx_gp_tasks_module;

/* --------------------------------------------------------- evaluate.c */

void cx_fn_evaluate(sqlite3_context *ctx, int argc, sqlite3_value **argv);

/* --------------------------------------------------------- train_sql.c */

void cx_fn_train(sqlite3_context *ctx, int argc, sqlite3_value **argv);

#endif
