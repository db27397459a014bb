/* condition.c - conditioning aggregates: cmanp_condition, cmanp_update,
 * cmanp_merge (also usable as window functions), and cmanp_state_info.
 *
 * Specification (tests: tests/sql/condition.sql C*, tests/sql/window.sql W*,
 * tests/sql/errors.sql):
 *
 * C1. cmanp_condition(model, x1..x_dx, y1..y_dy) is an aggregate returning a
 *     state BLOB that summarises the group's rows (constant size whatever the
 *     number of rows).  The number of arguments must be 1 + dim_x + dim_y of
 *     the model.  The model argument must name the same model in every row.
 * C2. NULL handling like avg(): a row with a NULL in any argument is skipped;
 *     a group with no usable row gives NULL.  TEXT/BLOB data and non-finite
 *     numbers are errors even in a row that also holds a NULL.
 * C3. The state does not depend on the order of the rows or on how they are
 *     blocked, up to float32 rounding (README tolerance 1e-5 on predictions).
 * C4. cmanp_update(state, x1..x_dx, y1..y_dy): aggregate whose first argument
 *     is the same starting state in every row (a scalar subquery or a join
 *     column); returns the state after adding the group's rows, equal to
 *     conditioning on the union.  Rows whose state argument is NULL are
 *     skipped (so a group whose starting state is NULL gives NULL, like
 *     avg() of nothing; use cmanp_condition to start from no rows); a group
 *     with a starting state but no usable new rows returns the starting
 *     state unchanged.  A different state in a later row of the same group is
 *     an error (checked on the 64-byte header, which includes the BLOB's
 *     checksum).
 * C5. cmanp_merge(state): aggregate over states of disjoint row sets of one
 *     model; returns the state of the union (NULLs skipped; no state -> NULL).
 *     Pure state arithmetic: it validates every BLOB but needs no model.
 *     States of different models are an error.
 * W1. cmanp_condition and cmanp_update are window functions with any frame.
 *     Frames that start at UNBOUNDED PRECEDING stream (each row is folded
 *     in once); sliding frames (ROWS BETWEEN k PRECEDING AND CURRENT ROW,
 *     ...) take leaving rows out with the engine's inverse update
 *     (cmanp_cond_remove), which must agree with conditioning the frame's
 *     rows from scratch (tested over 2000 rows, window 50, within 1e-5
 *     relative on predictions).  An empty frame gives NULL.
 * W2. Accuracy for every frame: in window mode rows are folded in and out one
 *     at a time (so a row leaves exactly what it brought, up to float64
 *     rounding), the frame's initial fill is refolded that way at the first
 *     value, and the state is rebuilt from the frame's rows (kept by the
 *     aggregate) on catastrophic cancellation or after 16 n + 1024 removals;
 *     see "W2" below.  Frames that shrink to a few rows (CURRENT ROW AND
 *     UNBOUNDED FOLLOWING) then match recomputation like sliding ones.
 *     cmanp_debug() counts frame_rebuilds.
 * I1. cmanp_state_info(state) returns JSON: format_version, fingerprint,
 *     model (the registry name, or null when not registered), rows, bytes,
 *     layers, heads, latents_per_layer, head_dim.  The BLOB is fully
 *     validated (a corrupt BLOB is an error, S2).
 */
#include <math.h>
#include <string.h>

#include "cmanp_ext.h"

#define HDR 64
#define MAX_ROW 1024

enum { K_CONDITION = 0, K_UPDATE = 1, K_MERGE = 2 };

typedef struct agg {
    int kind;
    cx_model *model;     /* reference (condition, update) */
    cmanp_cond *cond;
    cmanp_state *s;
    char *name;          /* condition: the group's model name */
    unsigned char start[HDR]; /* update: header of the starting state */
    sqlite3_int64 start_len;
    cmanp_state *base;   /* update: the starting state (for rebuilds) */
    int dx, dy;
    /* W2: the rows currently summarised, oldest first (a ring of cap rows),
     * kept so that a window frame can be rebuilt from scratch. */
    cmanp_real *keep;
    sqlite3_int64 keep_head, keep_n, keep_cap;
    int keep_off;        /* retention abandoned */
    int window;          /* xValue was called: a window function */
    sqlite3_int64 removed_since; /* rows taken out since the last (re)build */
    double *logc_max;    /* per (layer, head, latent): max log-mass since then */
} agg;

static const char *fn_name(int kind) {
    return kind == K_CONDITION ? "cmanp_condition" : kind == K_UPDATE ? "cmanp_update" : "cmanp_merge";
}

/* Check argc against the model: 0 when fine, else the error is reported. */
static int check_argc(sqlite3_context *ctx, const char *fn, const char *lead, const cx_model *m,
                      int argc) {
    int dx = m->m->cfg.dim_x, dy = m->m->cfg.dim_y;
    if (argc == 1 + dx + dy && dx + dy <= MAX_ROW) return 0;
    char *list = cx_arg_list(lead, dx, dy);
    cx_error(ctx, "%s: expected %d arguments (%s) for model '%s' (dim_x = %d, dim_y = %d), found %d",
             fn, 1 + dx + dy, list ? list : "?", m->name, dx, dy, argc);
    sqlite3_free(list);
    return 1;
}

static void engine_error(sqlite3_context *ctx, const char *fn, int rc, const cmanp_err *e) {
    if (rc == CMANP_ENOMEM)
        sqlite3_result_error_nomem(ctx);
    else
        cx_error(ctx, "%s: %s", fn, e->msg);
}

/* Allocate the conditioner and (for condition) an empty state. */
static int agg_start(sqlite3_context *ctx, agg *a, cx_model *m, cmanp_state *start) {
    cmanp_err e = {0};
    int rc = cx_cond_borrow(m, &a->cond, &e);
    if (!rc && !start) rc = cmanp_state_new(m->m, &start, &e);
    if (rc) {
        cmanp_cond_free(a->cond);
        a->cond = NULL;
        cmanp_state_free(start);
        cx_model_unref(m);
        engine_error(ctx, fn_name(a->kind), rc, &e);
        return 1;
    }
    a->model = m;
    a->s = start;
    a->dx = m->m->cfg.dim_x;
    a->dy = m->m->cfg.dim_y;
    return 0;
}

/* ---- W2: exact removals in window frames ----
 * The inverse update is exact in exact arithmetic.  In floating point, a
 * row leaves exactly what it brought only if its contribution (embedding,
 * keys, values, scores: float32) is computed bit for bit as when it entered,
 * and the engine's results depend on the block a row is folded in (BLAS
 * kernels differ with the block size).  So in window mode every row is
 * folded in and out on its own (blocks of one row), and the rows folded
 * before the first xValue (the frame's initial fill, in blocks of up to
 * 256) are folded again one by one from the rows the aggregate keeps.  What
 * remains is float64 rounding, amplified by the ratio of removed to
 * remaining attention mass; the state is rebuilt from the kept rows when
 * some latent's log-mass fell more than ln 2^20 below its maximum since the
 * last rebuild (catastrophic cancellation, e.g. a frame shrinking to a few
 * rows whose attention mass is far smaller) or after 16 n + 1024 removals
 * (n = rows in the frame), which bounds drift over endless series at a cost
 * of O(1/16) fold per row.  A plain aggregate keeps rows only up to
 * KEEP_CAP and then drops them (constant memory); a window frame whose
 * initial fill exceeds KEEP_CAP rows falls back to the inverse update alone
 * (accuracy then degrades as the frame shrinks: documented). */
#define KEEP_CAP 65536
#define REBUILD_LOG_RATIO 13.862943611198906 /* ln 2^20 */

static void keep_drop(agg *a) {
    sqlite3_free(a->keep);
    a->keep = NULL;
    a->keep_n = a->keep_head = a->keep_cap = 0;
    a->keep_off = 1;
}

static int keep_push(agg *a, const cmanp_real *row) {
    if (a->keep_off) return SQLITE_OK;
    int W = a->dx + a->dy;
    if (!a->window && a->keep_n >= KEEP_CAP) {
        keep_drop(a);
        return SQLITE_OK;
    }
    if (a->keep_n == a->keep_cap) {
        sqlite3_int64 cap = a->keep_cap ? 2 * a->keep_cap : 64;
        cmanp_real *k = sqlite3_malloc64((sqlite3_uint64)cap * (sqlite3_uint64)W * sizeof *k);
        if (!k) return SQLITE_NOMEM;
        for (sqlite3_int64 i = 0; i < a->keep_n; i++)
            memcpy(k + i * W, a->keep + ((a->keep_head + i) % a->keep_cap) * W, sizeof *k * (size_t)W);
        sqlite3_free(a->keep);
        a->keep = k;
        a->keep_head = 0;
        a->keep_cap = cap;
    }
    memcpy(a->keep + ((a->keep_head + a->keep_n) % a->keep_cap) * W, row, sizeof *row * (size_t)W);
    a->keep_n++;
    return SQLITE_OK;
}

/* The leaving row must be the oldest kept one; anything else (not expected
 * from SQLite) abandons retention. */
static void keep_pop(agg *a, const cmanp_real *row) {
    if (a->keep_off) return;
    int W = a->dx + a->dy;
    if (a->keep_n == 0 || memcmp(a->keep + a->keep_head * W, row, sizeof *row * (size_t)W) != 0) {
        keep_drop(a);
        return;
    }
    a->keep_head = (a->keep_head + 1) % a->keep_cap;
    a->keep_n--;
}

static void mass_reset(agg *a) {
    size_t n = (size_t)a->s->L * a->s->H * a->s->Lp;
    memcpy(a->logc_max, a->s->logc, n * sizeof(double));
    a->removed_since = 0;
}

/* Fold the kept rows into a fresh (base or empty) state one row at a time. */
static int rebuild(agg *a, cx_conn *c, cmanp_err *e) {
    int W = a->dx + a->dy, rc = CMANP_OK;
    if (a->base)
        rc = cmanp_state_copy(a->s, a->base, e);
    else
        cmanp_state_clear(a->s);
    for (sqlite3_int64 i = 0; !rc && i < a->keep_n; i++) {
        rc = cmanp_cond_add(a->cond, a->s, a->keep + ((a->keep_head + i) % a->keep_cap) * W, 1, e);
        if (!rc) rc = cmanp_cond_flush(a->cond, a->s, e);
    }
    if (rc) return rc;
    c->n.rows_added += a->keep_n;
    c->n.frame_rebuilds++;
    size_t n = (size_t)a->s->L * a->s->H * a->s->Lp;
    if (!a->logc_max && !(a->logc_max = sqlite3_malloc64(n * sizeof(double)))) return cmanp_err_nomem(e);
    mass_reset(a);
    return CMANP_OK;
}

/* xValue (after the flush): enter window mode on the first call, then
 * rebuild from the kept rows when needed. */
static int window_value(agg *a, cx_conn *c, cmanp_err *e) {
    if (!a->window) {
        a->window = 1;
        if (a->keep_off) return CMANP_OK;
        if (a->keep_n > 1) return rebuild(a, c, e); /* initial fill, folded in blocks */
        size_t n = (size_t)a->s->L * a->s->H * a->s->Lp;
        if (!(a->logc_max = sqlite3_malloc64(n * sizeof(double)))) return cmanp_err_nomem(e);
        mass_reset(a);
        return CMANP_OK;
    }
    if (a->keep_off) return CMANP_OK;
    size_t n = (size_t)a->s->L * a->s->H * a->s->Lp;
    if (a->s->n_rows == 0) { /* the engine cleared it exactly */
        mass_reset(a);
        return CMANP_OK;
    }
    double worst = 0;
    for (size_t k = 0; k < n; k++) {
        double l = a->s->logc[k];
        if (l > a->logc_max[k]) a->logc_max[k] = l;
        if (a->logc_max[k] - l > worst) worst = a->logc_max[k] - l;
    }
    if (worst > REBUILD_LOG_RATIO || a->removed_since > 16 * a->keep_n + 1024) return rebuild(a, c, e);
    return CMANP_OK;
}

static void fold_row(sqlite3_context *ctx, agg *a, sqlite3_value **argv, int sign) {
    cmanp_real row[MAX_ROW];
    const char *fn = fn_name(a->kind);
    int rc = cx_read_values(ctx, fn, 2, 0, a->dx, a->dx + a->dy, argv + 1, row);
    if (rc <= 0) return;
    cmanp_err e = {0};
    cx_conn *c = sqlite3_user_data(ctx);
    if (sign > 0) {
        if (keep_push(a, row)) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
        rc = cmanp_cond_add(a->cond, a->s, row, 1, &e);
        c->n.rows_added++;
    } else {
        keep_pop(a, row);
        rc = cmanp_cond_remove(a->cond, a->s, row, 1, &e);
        c->n.rows_removed++;
        a->removed_since++;
    }
    if (!rc && a->window) rc = cmanp_cond_flush(a->cond, a->s, &e); /* one row per block */
    if (rc) engine_error(ctx, fn, rc, &e);
}

/* The aggregate context for a row of cmanp_condition / cmanp_update (kind),
 * or NULL when the row adds nothing: no arguments (reported), no memory
 * (reported) or a NULL first argument (skipped). */
static agg *row_agg(sqlite3_context *ctx, int kind, int argc, sqlite3_value **argv) {
    const char *fn = fn_name(kind);
    if (argc < 1) {
        if (kind == K_CONDITION)
            cx_error(ctx, "%s: expected (model, x1..x_dx, y1..y_dy), found no arguments", fn);
        else
            cx_error(ctx, "%s: expected (state, x1..x_dx, y1..y_dy), found no arguments", fn);
        return NULL;
    }
    agg *a = sqlite3_aggregate_context(ctx, sizeof *a);
    if (!a) {
        sqlite3_result_error_nomem(ctx);
        return NULL;
    }
    a->kind = kind;
    return sqlite3_value_type(argv[0]) == SQLITE_NULL ? NULL : a;
}

/* C1, C2 */
static void condition_row(sqlite3_context *ctx, int argc, sqlite3_value **argv, int sign) {
    static const char fn[] = "cmanp_condition";
    cx_conn *c = sqlite3_user_data(ctx);
    agg *a = row_agg(ctx, K_CONDITION, argc, argv);
    if (!a) return;
    const int t = sqlite3_value_type(argv[0]);
    if (!a->model) {
        if (sign < 0) return; /* nothing was added (cannot happen for SQLite frames) */
        cx_model *m = cx_model_arg(ctx, c, fn, 1, argv[0]);
        if (!m) return;
        if (check_argc(ctx, fn, "model", m, argc)) {
            cx_model_unref(m);
            return;
        }
        a->name = sqlite3_mprintf("%s", m->name);
        if (!a->name) {
            cx_model_unref(m);
            sqlite3_result_error_nomem(ctx);
            return;
        }
        if (agg_start(ctx, a, m, NULL)) return;
    } else {
        const char *name = (const char *)sqlite3_value_text(argv[0]);
        if (t != SQLITE_TEXT || !name || strcmp(name, a->name) != 0) {
            char *what = cx_describe_value(argv[0]);
            cx_arg_error(ctx, fn, 1, "model",
                         "every row of a group must name the same model (expected '%s', found %s)",
                         a->name, what ? what : "?");
            sqlite3_free(what);
            return;
        }
        if (argc != 1 + a->dx + a->dy) { /* cannot change within a group, but be safe */
            check_argc(ctx, fn, "model", a->model, argc);
            return;
        }
    }
    fold_row(ctx, a, argv, sign);
}

void cx_condition_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    condition_row(ctx, argc, argv, +1);
}

void cx_condition_inverse(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    condition_row(ctx, argc, argv, -1);
}

/* C4 */
static void update_row(sqlite3_context *ctx, int argc, sqlite3_value **argv, int sign) {
    static const char fn[] = "cmanp_update";
    cx_conn *c = sqlite3_user_data(ctx);
    agg *a = row_agg(ctx, K_UPDATE, argc, argv);
    if (!a) return;
    const int t = sqlite3_value_type(argv[0]);
    if (!a->model) {
        if (sign < 0) return;
        cmanp_state *s;
        cx_model *m;
        char *err;
        int rc = cx_state_decode_arg(c, argv[0], 1, &s, &m, &err);
        if (rc) {
            cx_arg_fail(ctx, fn, 1, "state", rc, err);
            return;
        }
        if (check_argc(ctx, fn, "state", m, argc)) {
            cmanp_state_free(s);
            cx_model_unref(m);
            return;
        }
        memcpy(a->start, sqlite3_value_blob(argv[0]), HDR);
        a->start_len = sqlite3_value_bytes(argv[0]);
        cmanp_err e = {0};
        if ((rc = cmanp_state_new(m->m, &a->base, &e)) || (rc = cmanp_state_copy(a->base, s, &e))) {
            cmanp_state_free(s);
            cx_model_unref(m);
            engine_error(ctx, fn, rc, &e);
            return;
        }
        if (agg_start(ctx, a, m, s)) return;
    } else {
        const unsigned char *b = sqlite3_value_blob(argv[0]);
        if (t != SQLITE_BLOB || sqlite3_value_bytes(argv[0]) != a->start_len || !b ||
            memcmp(b, a->start, HDR) != 0) {
            cx_arg_error(ctx, fn, 1, "state",
                         "every row of a group must carry the same starting state (use "
                         "cmanp_merge to combine different states)");
            return;
        }
    }
    fold_row(ctx, a, argv, sign);
}

void cx_update_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    update_row(ctx, argc, argv, +1);
}

void cx_update_inverse(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    update_row(ctx, argc, argv, -1);
}

/* Result of condition / update (xValue and xFinal). */
static void agg_result(sqlite3_context *ctx, agg *a, int is_value) {
    if (!a || !a->s) return; /* NULL */
    cmanp_err e = {0};
    int rc = cmanp_cond_flush(a->cond, a->s, &e);
    if (!rc && is_value) rc = window_value(a, sqlite3_user_data(ctx), &e);
    if (rc) {
        engine_error(ctx, fn_name(a->kind), rc, &e);
        return;
    }
    if (a->kind == K_CONDITION && a->s->n_rows == 0) return; /* empty frame: NULL */
    cx_result_state(ctx, a->s);
}

void cx_cond_value(sqlite3_context *ctx) { agg_result(ctx, sqlite3_aggregate_context(ctx, 0), 1); }

void cx_cond_final(sqlite3_context *ctx) {
    agg *a = sqlite3_aggregate_context(ctx, 0);
    if (!a) return;
    agg_result(ctx, a, 0);
    if (a->cond) {
        cmanp_err e = {0};
        /* Only a conditioner with nothing queued goes back to the pool. */
        if (a->s && cmanp_cond_flush(a->cond, a->s, &e) == CMANP_OK)
            cx_cond_return(a->model, a->cond);
        else
            cmanp_cond_free(a->cond);
    }
    cmanp_state_free(a->s);
    cmanp_state_free(a->base);
    cx_model_unref(a->model);
    sqlite3_free(a->name);
    sqlite3_free(a->keep);
    sqlite3_free(a->logc_max);
    memset(a, 0, sizeof *a);
}

/* C5 */
void cx_merge_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "cmanp_merge";
    cx_conn *c = sqlite3_user_data(ctx);
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
    agg *a = sqlite3_aggregate_context(ctx, sizeof *a);
    if (!a) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    a->kind = K_MERGE;
    cmanp_state *t;
    char *err;
    int rc = cx_state_decode_arg(c, argv[0], 0, &t, NULL, &err);
    if (rc) {
        cx_arg_fail(ctx, fn, 1, "state", rc, err);
        return;
    }
    if (!a->s) {
        a->s = t;
        return;
    }
    cmanp_err e = {0};
    if (a->s->fingerprint != t->fingerprint || a->s->L != t->L || a->s->H != t->H ||
        a->s->Lp != t->Lp || a->s->dh != t->dh) {
        cx_arg_error(ctx, fn, 1, "state",
                     "states of different models cannot be merged (fingerprints %016llx and %016llx)",
                     (unsigned long long)a->s->fingerprint, (unsigned long long)t->fingerprint);
    } else if ((rc = cmanp_state_merge(a->s, t, &e))) {
        engine_error(ctx, fn, rc, &e);
    }
    cmanp_state_free(t);
}

void cx_merge_final(sqlite3_context *ctx) {
    agg *a = sqlite3_aggregate_context(ctx, 0);
    if (!a || !a->s) return;
    cx_result_state(ctx, a->s);
    cmanp_state_free(a->s);
    a->s = NULL;
}

/* I1 */
void cx_fn_state_info(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "cmanp_state_info";
    cx_conn *c = sqlite3_user_data(ctx);
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
    cmanp_state *s;
    char *err;
    int rc = cx_state_decode_arg(c, argv[0], 0, &s, NULL, &err);
    if (rc) {
        cx_arg_fail(ctx, fn, 1, "state", rc, err);
        return;
    }
    char *name = cx_registry_name_of(c, s->fingerprint);
    sqlite3_str *j = sqlite3_str_new(c->db);
    sqlite3_str_appendf(j, "{\"format_version\":%d,\"fingerprint\":\"%016llx\",\"model\":",
                        CMANP_STATE_FORMAT_VERSION, (unsigned long long)s->fingerprint);
    if (name)
        cx_json_str(j, name);
    else
        sqlite3_str_appendall(j, "null");
    sqlite3_str_appendf(j,
                        ",\"rows\":%lld,\"bytes\":%lld,\"layers\":%d,\"heads\":%d,"
                        "\"latents_per_layer\":%d,\"head_dim\":%d}",
                        (long long)s->n_rows, (long long)cmanp_state_encoded_size(s), s->L, s->H,
                        s->Lp, s->dh);
    sqlite3_free(name);
    cmanp_state_free(s);
    cx_result_json(ctx, j);
}
