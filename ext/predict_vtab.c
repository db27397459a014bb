/* predict_vtab.c - the table-valued function cmanp_predict.
 *
 *   SELECT dim, mean, std, lower, upper, level
 *     FROM cmanp_predict(state, x1..x_dx [, level]);
 *
 * Specification (tests: tests/sql/predict.sql V*, tests/sql/errors.sql):
 *
 * V1. An eponymous virtual table (in the style of SQLite's ext/misc/series.c)
 *     with columns dim, mean, std, lower, upper, level and the HIDDEN
 *     argument columns state, a1..a30.  Since dim_x depends on the state's
 *     model, the given arguments a1..an are interpreted once the model is
 *     known: the first dim_x are x1..x_dx and one more, if given, is the
 *     level.  At most 30 arguments after the state (SQLite refuses more), so
 *     a model with dim_x > 30 is an error naming the scalar alternatives.
 * V2. One row per output dimension: dim = 1..dim_y, the predictive mean and
 *     standard deviation, and the central interval mean -/+ z std with
 *     z = Phi^-1((1 + level) / 2) (Wichura AS241), level defaulting to 0.95
 *     and required to lie in the open interval (0, 1).
 * V3. xBestIndex requires the state argument and the arguments to be usable
 *     equality constraints (so the function works in a lateral join such as
 *     FROM states s JOIN queries q ..., cmanp_predict(s.state, q.x) p, where
 *     its arguments come from tables to its left); a plan with an unusable
 *     argument is refused with SQLITE_CONSTRAINT so the planner orders the
 *     join correctly.  A call without a state is an error at run time.
 * V4. A NULL state or NULL x/level argument gives no rows.
 * V5. Each cursor keeps the last state it used, so a join that passes the
 *     same state many times in a row compares it with memcmp only (nothing
 *     at all when it is the same bound parameter, whose buffer SQLite keeps
 *     unchanged while the statement runs), and the registry check runs once
 *     per statement; other states go through the connection's LRU
 *     (state_cache.c S4).
 * V6. Errors (in the vtab's message): missing state, wrong argument count for
 *     the model, non-numeric / non-finite x or level, level outside (0, 1),
 *     and every state error of S1-S3, all prefixed "cmanp_predict: ".
 * V7. Many targets in one call: an IN constraint on an argument column,
 *       SELECT a1 AS x, mean, std FROM cmanp_predict(:state)
 *        WHERE a1 IN (SELECT x FROM grid);
 *     returns what the IN means (the rows of cmanp_predict(:state, x) for
 *     every x of the list, with a1 = x), but SQLite hands the whole list to
 *     one xFilter call (sqlite3_vtab_in, SQLite >= 3.38) and the targets are
 *     decoded in batches (CMANP_PREDICT_CHUNK): one state lookup, and the
 *     decoder's weights read once per batch instead of once per target.
 *     The first IN constraint on a1..a30 is taken all at once; further ones
 *     are iterated by SQLite as usual.  The list comes as SQLite keeps it
 *     (sorted, without duplicates) and the argument's column is the item as
 *     a REAL; NULL items match nothing; a non-numeric item is an error
 *     naming the argument.  Batched values agree with single calls to
 *     float32 rounding (a batch's products round differently from one
 *     row's); the same list gives the same bits every time, on any number
 *     of threads.  Rows come per item
 *     and then per dim, so ORDER BY dim is not consumed then.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmanp_ext.h"

enum { COL_DIM, COL_MEAN, COL_STD, COL_LOWER, COL_UPPER, COL_LEVEL, COL_STATE, COL_A1 };
#define N_ARGS CX_PREDICT_MAX_ARGS
#define MAX_DY 1024

typedef struct pv_vtab {
    sqlite3_vtab base;
    cx_conn *c;
} pv_vtab;

typedef struct pv_cursor {
    sqlite3_vtab_cursor base;
    cx_state *last;          /* reference: the state of the previous xFilter */
    const void *last_ptr;    /* the BLOB pointer it came from ... */
    int last_bound;          /* ... and whether that was a bound parameter */
    int n_given;             /* arguments after the state */
    sqlite3_value *args[1 + N_ARGS]; /* copies of a1..a30, for the hidden columns */
    int dy;                  /* rows per item: dim 1..dy */
    sqlite3_int64 row, n_rows;  /* item row / dy, dim row % dy; row >= n_rows: EOF */
    int in_arg;              /* V7: the argument (1..30) whose IN list is batched, else 0 */
    double *items;           /* V7: (n_items) that argument's value per item */
    sqlite3_int64 n_items, cap_items, cap_rows;
    double *level;           /* (n_items) */
    double *mean, *std;      /* (n_items, dy) */
} pv_cursor;

static int pv_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **err) {
    (void)argc;
    (void)argv;
    sqlite3_str *s = sqlite3_str_new(db);
    sqlite3_str_appendall(s, "CREATE TABLE x(dim INTEGER, mean REAL, std REAL, lower REAL, upper REAL, "
                             "level REAL, state HIDDEN");
    for (int i = 1; i <= N_ARGS; i++) sqlite3_str_appendf(s, ", a%d HIDDEN", i);
    sqlite3_str_appendall(s, ")");
    char *sql = sqlite3_str_finish(s);
    if (!sql) return SQLITE_NOMEM;
    int rc = sqlite3_declare_vtab(db, sql);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        *err = sqlite3_mprintf("cmanp_predict: %s", sqlite3_errmsg(db));
        return rc;
    }
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
    pv_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v) return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->c = aux;
    *out = &v->base;
    return SQLITE_OK;
}

static int pv_disconnect(sqlite3_vtab *vt) {
    sqlite3_free(vt);
    return SQLITE_OK;
}

static int pv_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
    (void)vt;
    pv_cursor *cur = sqlite3_malloc(sizeof *cur);
    if (!cur) return SQLITE_NOMEM;
    memset(cur, 0, sizeof *cur);
    *out = &cur->base;
    return SQLITE_OK;
}

static void free_args(pv_cursor *cur) {
    for (int i = 0; i <= N_ARGS; i++) {
        sqlite3_value_free(cur->args[i]);
        cur->args[i] = NULL;
    }
    cur->n_items = 0;
}

static int pv_close(sqlite3_vtab_cursor *cc) {
    pv_cursor *cur = (pv_cursor *)cc;
    free_args(cur);
    cx_state_unref(cur->last);
    sqlite3_free(cur->items);
    sqlite3_free(cur->level);
    sqlite3_free(cur->mean);
    sqlite3_free(cur->std);
    sqlite3_free(cur);
    return SQLITE_OK;
}

/* idxStr of a plan that takes the IN list of a_k all at once (V7); also
 * what EXPLAIN QUERY PLAN shows. */
static const char *const k_in_names[N_ARGS] = {
    "in a1", "in a2", "in a3", "in a4", "in a5", "in a6", "in a7", "in a8", "in a9", "in a10",
    "in a11", "in a12", "in a13", "in a14", "in a15", "in a16", "in a17", "in a18", "in a19", "in a20",
    "in a21", "in a22", "in a23", "in a24", "in a25", "in a26", "in a27", "in a28", "in a29", "in a30"};

/* idxNum: bit 0 = state given, bit i = a_i given (i = 1..30); argv follows
 * the order of the bits. */
static int pv_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
    (void)vt;
    int mask;
    if (cx_tvf_plan(info, COL_STATE, 1 + N_ARGS, &mask)) return SQLITE_CONSTRAINT;
    /* Without a state: an error at run time. */
    info->estimatedCost = mask & 1 ? 10.0 : 1e300;
    info->estimatedRows = 1;
    /* V7: the first IN on an argument column, all at once. */
    int in_arg = 0, any_in = 0;
    if (sqlite3_libversion_number() >= 3038000)
        for (int i = 0; i < info->nConstraint; i++) {
            int col = info->aConstraint[i].iColumn;
            if (col <= COL_STATE || info->aConstraintUsage[i].argvIndex <= 0 ||
                !sqlite3_vtab_in(info, i, -1))
                continue;
            any_in = 1;
            if (!in_arg) {
                sqlite3_vtab_in(info, i, 1);
                in_arg = col - COL_STATE;
            }
        }
    if (in_arg) {
        info->idxStr = (char *)k_in_names[in_arg - 1]; /* static: needToFreeIdxStr stays 0 */
        info->estimatedRows = 100;
    }
    if (!any_in && info->nOrderBy == 1 && info->aOrderBy[0].iColumn == COL_DIM && !info->aOrderBy[0].desc)
        info->orderByConsumed = 1;
    return SQLITE_OK;
}

static int bad_level(pv_cursor *cur, const char *fn, int dx, double level) {
    return cx_tvf_error(&cur->base, cx_arg_errmsg(fn, dx + 2, "level",
                                                  "expected a probability in the open interval (0, 1), "
                                                  "found %.15g",
                                                  level));
}

static int reserve_items(pv_cursor *cur, sqlite3_int64 n) {
    if (n <= cur->cap_items) return SQLITE_OK;
    sqlite3_int64 cap = cur->cap_items ? 2 * cur->cap_items : 64;
    if (cap < n) cap = n;
    double *it = sqlite3_realloc64(cur->items, (sqlite3_uint64)cap * sizeof *it);
    if (!it) return SQLITE_NOMEM;
    cur->items = it;
    double *lv = sqlite3_realloc64(cur->level, (sqlite3_uint64)cap * sizeof *lv);
    if (!lv) return SQLITE_NOMEM;
    cur->level = lv;
    cur->cap_items = cap;
    return SQLITE_OK;
}

static int reserve_results(pv_cursor *cur, sqlite3_int64 n) {
    if (n <= cur->cap_rows) return SQLITE_OK;
    double *m = sqlite3_realloc64(cur->mean, (sqlite3_uint64)n * sizeof *m);
    if (!m) return SQLITE_NOMEM;
    cur->mean = m;
    double *sd = sqlite3_realloc64(cur->std, (sqlite3_uint64)n * sizeof *sd);
    if (!sd) return SQLITE_NOMEM;
    cur->std = sd;
    cur->cap_rows = n;
    return SQLITE_OK;
}

static int one_item(pv_cursor *cur) {
    int rc = reserve_items(cur, 1);
    if (rc) return rc;
    cur->n_items = 1;
    cur->items[0] = 0.0;
    return SQLITE_OK;
}

/* V7: every item of the batched IN list, validated like a single argument. */
static int collect_items(pv_cursor *cur, const char *fn, sqlite3_value *list, int dx) {
    const int j = cur->in_arg, is_level = j == dx + 1;
    char nm[16];
    if (is_level)
        sqlite3_snprintf(sizeof nm, nm, "level");
    else
        sqlite3_snprintf(sizeof nm, nm, "x%d", j);
    sqlite3_value *v;
    int rc;
    for (rc = sqlite3_vtab_in_first(list, &v); rc == SQLITE_OK && v; rc = sqlite3_vtab_in_next(list, &v)) {
        char *err = NULL;
        double num;
        int k = cx_value_number(v, !is_level, &num, &err);
        if (k < 0) {
            k = cx_tvf_error(&cur->base, cx_arg_errmsg(fn, j + 1, nm, "%s", err ? err : "?"));
            sqlite3_free(err);
            return k;
        }
        if (k == CX_VAL_NULL) continue; /* NULL IN (...) matches nothing */
        if (is_level && !(num > 0.0 && num < 1.0)) return bad_level(cur, fn, dx, num);
        if ((k = reserve_items(cur, cur->n_items + 1))) return k;
        cur->items[cur->n_items] = num;
        cur->level[cur->n_items] = num; /* overwritten unless the list is the level's */
        cur->n_items++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_OK) return rc;
    return SQLITE_OK;
}

static int pv_filter(sqlite3_vtab_cursor *cc, int idxNum, const char *idxStr, int argc,
                     sqlite3_value **argv) {
    static const char fn[] = "cmanp_predict";
    pv_cursor *cur = (pv_cursor *)cc;
    cx_conn *c = ((pv_vtab *)cc->pVtab)->c;
    cur->row = cur->n_rows = 0; /* EOF unless rows are produced */
    free_args(cur);
    cur->in_arg = 0;
    if (idxStr && strncmp(idxStr, "in a", 4) == 0) cur->in_arg = atoi(idxStr + 4);
    if (!(idxNum & 1))
        return cx_tvf_error(&cur->base, sqlite3_mprintf("%s: argument 1 (state): missing; usage: "
                                             "cmanp_predict(state, x1..x_dx [, level])", fn));
    /* Map argv back to argument positions; they must be contiguous. */
    int n_given = 0, k = 0;
    for (int j = 0; j <= N_ARGS; j++)
        if (idxNum & (1 << j)) {
            if (k >= argc) break;
            k++;
            if (j > 0 && j != cur->in_arg) {
                /* The state column is answered from the cache (no copy),
                 * the batched IN argument from the items. */
                cur->args[j] = sqlite3_value_dup(argv[k - 1]);
                if (!cur->args[j]) return SQLITE_NOMEM;
            }
            if (j > 0) {
                if (j != n_given + 1)
                    return cx_tvf_error(&cur->base, sqlite3_mprintf("%s: argument %d (a%d) is given but argument %d "
                                                         "(a%d) is not",
                                                         fn, j + 1, j, n_given + 2, n_given + 1));
                n_given = j;
            }
        }
    cur->n_given = n_given;
    sqlite3_value *in_list = cur->in_arg ? argv[cur->in_arg] : NULL; /* contiguous: argv[j] is a_j */
    sqlite3_value *sv = argv[0];
    int t = sqlite3_value_type(sv);
    if (t == SQLITE_NULL) return SQLITE_OK;
    if (t != SQLITE_BLOB) {
        char *what = cx_describe_value(sv);
        int rc = cx_tvf_error(&cur->base, cx_arg_errmsg(fn, 1, "state",
                                             "expected a state BLOB (from cmanp_condition), found %s",
                                             what ? what : "?"));
        sqlite3_free(what);
        return rc;
    }
    const void *blob = sqlite3_value_blob(sv);
    sqlite3_int64 len = sqlite3_value_bytes(sv);
    cx_state *st = cur->last;
    int bound = sqlite3_value_frombind(sv);
    if (st && st->len == len && blob &&
        ((bound && cur->last_bound && blob == cur->last_ptr) || memcmp(st->blob, blob, (size_t)len) == 0)) {
        /* The same state as the previous call of this cursor: the same bound
         * parameter (its buffer cannot change while the statement runs), or
         * verified byte for byte. */
        c->n.state_cache_hits++;
    } else {
        char *err = NULL;
        cx_state *ns;
        int rc = cx_state_get(c, blob, len, &ns, &err);
        if (rc) {
            if (rc == SQLITE_NOMEM) {
                sqlite3_free(err);
                return SQLITE_NOMEM;
            }
            rc = cx_tvf_error(&cur->base, cx_arg_errmsg(fn, 1, "state", "%s", err ? err : "?"));
            sqlite3_free(err);
            return rc;
        }
        cx_state_unref(cur->last);
        cur->last = st = ns;
    }
    cur->last_ptr = blob;
    cur->last_bound = bound;
    const cmanp_config *cfg = &st->model->m->cfg;
    int dx = cfg->dim_x, dy = cfg->dim_y;
    if (dx > N_ARGS) /* SQLite passes at most N_ARGS arguments after the state */
        return cx_tvf_error(&cur->base, sqlite3_mprintf("%s: model '%s' has dim_x = %d; %s takes at most %d inputs "
                                             "(use cmanp_mean, cmanp_std and cmanp_quantile)",
                                             fn, st->model->name, dx, fn, N_ARGS));
    if ((n_given != dx && n_given != dx + 1) || dy > MAX_DY) {
        char *list = cx_arg_list("state", dx, 0);
        int rc = cx_tvf_error(&cur->base, sqlite3_mprintf("%s: expected %d or %d arguments (%s [, level]) for "
                                               "model '%s' (dim_x = %d), found %d",
                                               fn, 1 + dx, 2 + dx, list ? list : "?", st->model->name,
                                               dx, 1 + n_given));
        sqlite3_free(list);
        return rc;
    }
    double x[N_ARGS];
    int has_null = 0;
    for (int i = 0; i < dx; i++) {
        char nm[16], *err = NULL;
        double v = 0.0;
        if (1 + i == cur->in_arg) continue; /* V7: per item below */
        sqlite3_snprintf(sizeof nm, nm, "x%d", i + 1);
        int rc = cx_value_number(argv[1 + i], 1, &v, &err);
        if (rc < 0) {
            rc = cx_tvf_error(&cur->base, cx_arg_errmsg(fn, i + 2, nm, "%s", err ? err : "?"));
            sqlite3_free(err);
            return rc;
        }
        if (rc == CX_VAL_NULL) has_null = 1;
        x[i] = v;
    }
    double level = 0.95;
    if (n_given == dx + 1 && cur->in_arg != dx + 1) {
        char *err = NULL;
        int rc = cx_value_number(argv[1 + dx], 0, &level, &err);
        if (rc < 0) {
            rc = cx_tvf_error(&cur->base, cx_arg_errmsg(fn, dx + 2, "level", "%s", err ? err : "?"));
            sqlite3_free(err);
            return rc;
        }
        if (rc == CX_VAL_NULL) has_null = 1;
        else if (!(level > 0.0 && level < 1.0))
            return bad_level(cur, fn, dx, level);
    }
    if (has_null) return SQLITE_OK;
    int rc = cur->in_arg ? collect_items(cur, fn, in_list, dx) : one_item(cur);
    if (rc) return rc;
    sqlite3_int64 M = cur->n_items;
    if (M == 0) return SQLITE_OK;
    if (M > INT32_MAX / (dx + dy))
        return cx_tvf_error(&cur->base, sqlite3_mprintf("%s: too many targets in one call (%lld; at most %d)",
                                                        fn, (long long)M, INT32_MAX / (dx + dy)));
    if ((rc = reserve_results(cur, M * dy))) return rc;
    /* Items' inputs (M, dx), then one batched decode. */
    cmanp_real *X = sqlite3_malloc64((sqlite3_uint64)M * (dx ? dx : 1) * sizeof(cmanp_real)),
               *fm = sqlite3_malloc64((sqlite3_uint64)M * dy * sizeof(cmanp_real)),
               *fs = sqlite3_malloc64((sqlite3_uint64)M * dy * sizeof(cmanp_real));
    if (!X || !fm || !fs) {
        rc = SQLITE_NOMEM;
        goto out;
    }
    for (sqlite3_int64 it = 0; it < M; it++) {
        if (cur->in_arg != dx + 1) cur->level[it] = level;
        for (int i = 0; i < dx; i++)
            X[it * dx + i] = (cmanp_real)(1 + i == cur->in_arg ? cur->items[it] : x[i]);
    }
    char *err = NULL;
    rc = cx_predict_many(c, st, X, (int)M, fm, fs, &err);
    if (rc) {
        if (rc != SQLITE_NOMEM) rc = cx_tvf_error(&cur->base, sqlite3_mprintf("%s: %s", fn, err ? err : "?"));
        sqlite3_free(err);
        goto out;
    }
    for (sqlite3_int64 r = 0; r < M * dy; r++) {
        cur->mean[r] = fm[r];
        cur->std[r] = fs[r];
    }
    cur->dy = dy;
    cur->n_rows = M * dy;
    cur->row = 0;
out:
    sqlite3_free(X);
    sqlite3_free(fm);
    sqlite3_free(fs);
    return rc;
}

static int pv_next(sqlite3_vtab_cursor *cc) {
    ((pv_cursor *)cc)->row++;
    return SQLITE_OK;
}

static int pv_eof(sqlite3_vtab_cursor *cc) {
    pv_cursor *cur = (pv_cursor *)cc;
    return cur->row >= cur->n_rows;
}

static int pv_column(sqlite3_vtab_cursor *cc, sqlite3_context *ctx, int col) {
    pv_cursor *cur = (pv_cursor *)cc;
    sqlite3_int64 t = cur->row / cur->dy, r = cur->row;
    switch (col) {
    case COL_DIM: sqlite3_result_int(ctx, (int)(r % cur->dy) + 1); break;
    case COL_MEAN: sqlite3_result_double(ctx, cur->mean[r]); break;
    case COL_STD: sqlite3_result_double(ctx, cur->std[r]); break;
    case COL_LOWER:
    case COL_UPPER: { /* Phi^-1 only for the interval columns */
        double z = cx_norm_ppf(0.5 + 0.5 * cur->level[t]);
        sqlite3_result_double(ctx, cur->mean[r] + (col == COL_UPPER ? z : -z) * cur->std[r]);
        break;
    }
    case COL_LEVEL: sqlite3_result_double(ctx, cur->level[t]); break;
    case COL_STATE:
        if (cur->last) sqlite3_result_blob64(ctx, cur->last->blob, (sqlite3_uint64)cur->last->len, SQLITE_TRANSIENT);
        break;
    default:
        if (col - COL_STATE == cur->in_arg)
            sqlite3_result_double(ctx, cur->items[t]);
        else if (cur->args[col - COL_STATE])
            sqlite3_result_value(ctx, cur->args[col - COL_STATE]);
        break;
    }
    return SQLITE_OK;
}

static int pv_rowid(sqlite3_vtab_cursor *cc, sqlite3_int64 *rowid) {
    *rowid = ((pv_cursor *)cc)->row + 1;
    return SQLITE_OK;
}

sqlite3_module cx_predict_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous-only */
    .xConnect = pv_connect,
    .xBestIndex = pv_best_index,
    .xDisconnect = pv_disconnect,
    .xOpen = pv_open,
    .xClose = pv_close,
    .xFilter = pv_filter,
    .xNext = pv_next,
    .xEof = pv_eof,
    .xColumn = pv_column,
    .xRowid = pv_rowid,
};
