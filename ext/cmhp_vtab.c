/* cmhp_vtab.c - the CMHP table-valued functions (docs/cmhp.md "SQL").
 *
 *   SELECT mean, median, lower, upper, level FROM cmhp_next_time(state [, level]);
 *   SELECT mark, prob FROM cmhp_next_mark(state);
 *   SELECT k, t, mark FROM cmhp_sample(state, n [, seed]);
 *
 * Specification (tests: tests/sql/cmhp_basics.sql, cmhp_errors.sql):
 *
 * N1. Eponymous virtual tables (as ext/misc/series.c); the arguments are
 *     HIDDEN columns, so the functions work in lateral joins
 *     (FROM states s, cmhp_next_time(s.state) p).  xBestIndex refuses plans
 *     where a given argument is not yet available (SQLITE_CONSTRAINT), so the
 *     planner orders the join correctly.
 * N2. cmhp_next_time: one row; times are absolute (the state's last event
 *     time plus the waiting time): mean (closed form of the log-normal
 *     mixture), median, and the central interval [lower, upper] holding
 *     probability level (default 0.9, in (0, 1)), by bisection on the
 *     mixture CDF.
 * N3. cmhp_next_mark: one row per mark 0..K-1 with its probability.
 * N4. cmhp_sample: n rows k = 1..n of a simulated continuation: each drawn
 *     event (t, mark) is folded into a private copy of the state before the
 *     next one is drawn (constant cost and memory per event).  seed (default
 *     0) makes the draw reproducible; 0 <= n <= 10^7.
 * N5. A NULL state, level, n or seed gives no rows.  Errors (in the vtab's
 *     message, "fn: argument i (name): ..."): missing state / n, wrong
 *     types, level outside (0, 1), n out of range, every state error of
 *     cmhp_sql.c.
 */
#include <math.h>
#include <string.h>

#include "cmhp_sql.h"

enum { VT_TIME, VT_MARK, VT_SAMPLE };

static const struct vt_kind {
    const char *name, *usage, *schema;
    int first_hidden, n_hidden, required; /* required: mask of hidden columns */
    const char *argnames[3];
} k_kinds[3] = {
    {"cmhp_next_time", "cmhp_next_time(state [, level])",
     "CREATE TABLE x(mean REAL, median REAL, lower REAL, upper REAL, level REAL, state HIDDEN, "
     "level_arg HIDDEN)",
     5, 2, 1, {"state", "level", NULL}},
    {"cmhp_next_mark", "cmhp_next_mark(state)", "CREATE TABLE x(mark INTEGER, prob REAL, state HIDDEN)",
     2, 1, 1, {"state", NULL, NULL}},
    {"cmhp_sample", "cmhp_sample(state, n [, seed])",
     "CREATE TABLE x(k INTEGER, t REAL, mark INTEGER, state HIDDEN, n HIDDEN, seed HIDDEN)", 3, 3, 3,
     {"state", "n", "seed"}},
};

typedef struct hv_vtab {
    sqlite3_vtab base;
    hp_conn *h;
    int kind;
} hv_vtab;

typedef struct hv_cursor {
    sqlite3_vtab_cursor base;
    int kind;
    sqlite3_value *args[3];     /* copies of the hidden argument values */
    sqlite3_int64 row, nrows;
    double mean, median, lower, upper, level;
    double *prob;               /* (K) next_mark */
    hp_model *m;                /* sample: model and private state */
    cmhp_state *s;
    cmanp_rng rng;
    double t;
    int mark;
} hv_cursor;

static int hv_connect_kind(sqlite3 *db, void *aux, sqlite3_vtab **out, char **err, int kind) {
    int rc = sqlite3_declare_vtab(db, k_kinds[kind].schema);
    if (rc != SQLITE_OK) {
        *err = sqlite3_mprintf("%s: %s", k_kinds[kind].name, sqlite3_errmsg(db));
        return rc;
    }
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
    hv_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v) return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->h = aux;
    v->kind = kind;
    *out = &v->base;
    return SQLITE_OK;
}

#define CONNECT(fn, kind)                                                                       \
    static int fn(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, \
                  char **err) {                                                                 \
        (void)argc;                                                                             \
        (void)argv;                                                                             \
        return hv_connect_kind(db, aux, out, err, kind);                                        \
    }
CONNECT(hv_connect_time, VT_TIME)
CONNECT(hv_connect_mark, VT_MARK)
CONNECT(hv_connect_sample, VT_SAMPLE)

static int hv_disconnect(sqlite3_vtab *vt) {
    sqlite3_free(vt);
    return SQLITE_OK;
}

static int hv_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
    hv_cursor *cur = sqlite3_malloc(sizeof *cur);
    if (!cur) return SQLITE_NOMEM;
    memset(cur, 0, sizeof *cur);
    cur->kind = ((hv_vtab *)vt)->kind;
    *out = &cur->base;
    return SQLITE_OK;
}

static void reset(hv_cursor *cur) {
    for (int i = 0; i < 3; i++) {
        sqlite3_value_free(cur->args[i]);
        cur->args[i] = NULL;
    }
    sqlite3_free(cur->prob);
    cur->prob = NULL;
    cmhp_state_free(cur->s);
    cur->s = NULL;
    hp_model_unref(cur->m);
    cur->m = NULL;
    cur->row = cur->nrows = 0;
}

static int hv_close(sqlite3_vtab_cursor *cc) {
    hv_cursor *cur = (hv_cursor *)cc;
    reset(cur);
    sqlite3_free(cur);
    return SQLITE_OK;
}

/* idxNum bit j: hidden argument j is given; argv follows the bits' order. */
static int hv_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
    const struct vt_kind *k = &k_kinds[((hv_vtab *)vt)->kind];
    int mask;
    if (cx_tvf_plan(info, k->first_hidden, k->n_hidden, &mask)) return SQLITE_CONSTRAINT;
    info->estimatedCost = (mask & k->required) == k->required ? 10.0 : 1e300;
    info->estimatedRows = 10;
    return SQLITE_OK;
}

/* Draw the event of the current row from the private state. */
static int draw(hv_cursor *cur, hp_conn *h) {
    const cmhp_dist *d;
    char *err = NULL;
    int rc = hp_readout(h, cur->m, cur->s, &d, &err);
    if (rc) return cx_tvf_error(&cur->base, sqlite3_mprintf("cmhp_sample: %s", err ? err : "?"));
    cmhp_dist_sample(d, &cur->rng, &cur->t, &cur->mark);
    h->n.samples_drawn++;
    return SQLITE_OK;
}

static int hv_filter(sqlite3_vtab_cursor *cc, int idxNum, const char *idxStr, int argc,
                     sqlite3_value **argv) {
    (void)idxStr;
    hv_cursor *cur = (hv_cursor *)cc;
    hp_conn *h = ((hv_vtab *)cc->pVtab)->h;
    const struct vt_kind *k = &k_kinds[cur->kind];
    const char *fn = k->name;
    reset(cur);
    sqlite3_value *a[3] = {NULL, NULL, NULL};
    int n = 0;
    for (int j = 0; j < k->n_hidden; j++)
        if (idxNum & (1 << j)) {
            if (n >= argc) break;
            a[j] = argv[n++];
            cur->args[j] = sqlite3_value_dup(a[j]);
            if (!cur->args[j]) return SQLITE_NOMEM;
        }
    for (int j = 0; j < k->n_hidden; j++)
        if ((k->required & (1 << j)) && !a[j])
            return cx_tvf_error(&cur->base, sqlite3_mprintf("%s: argument %d (%s): missing; usage: %s", fn, j + 1,
                                                 k->argnames[j], k->usage));
    /* Optional arguments first: a NULL anywhere gives no rows. */
    double level = 0.9;
    sqlite3_int64 nsamp = 0, seed = 0;
    for (int j = 1; j < k->n_hidden; j++) {
        if (!a[j]) continue;
        int ty = sqlite3_value_type(a[j]);
        if (ty == SQLITE_NULL) return SQLITE_OK;
        if (cur->kind == VT_TIME) {
            char *err = NULL;
            if (cx_value_number(a[j], 0, &level, &err) < 0) {
                int rc = cx_tvf_error(&cur->base, cx_arg_errmsg(fn, j + 1, k->argnames[j], "%s", err ? err : "?"));
                sqlite3_free(err);
                return rc;
            }
            if (!(level > 0 && level < 1))
                return cx_tvf_error(&cur->base, cx_arg_errmsg(fn, j + 1, "level",
                                                   "expected a probability in the open interval (0, "
                                                   "1), found %.15g",
                                                   level));
        } else {
            if (ty != SQLITE_INTEGER) {
                char *what = cx_describe_value(a[j]);
                int rc = cx_tvf_error(&cur->base, cx_arg_errmsg(fn, j + 1, k->argnames[j], "expected an INTEGER, found %s",
                                                     what ? what : "?"));
                sqlite3_free(what);
                return rc;
            }
            sqlite3_int64 v = sqlite3_value_int64(a[j]);
            if (j == 1) {
                if (v < 0 || v > 10000000)
                    return cx_tvf_error(&cur->base, cx_arg_errmsg(fn, 2, "n",
                                                       "expected a number of events 0..10000000, "
                                                       "found %lld",
                                                       (long long)v));
                nsamp = v;
            } else {
                seed = v;
            }
        }
    }
    cmhp_state *s;
    hp_model *m;
    char *err = NULL;
    int rc = hp_state_arg(h, a[0], &s, &m, &err);
    if (rc) {
        if (rc == SQLITE_NOMEM) {
            sqlite3_free(err);
            return SQLITE_NOMEM;
        }
        rc = cx_tvf_error(&cur->base, cx_arg_errmsg(fn, 1, "state", "%s", err ? err : "?"));
        sqlite3_free(err);
        return rc;
    }
    if (!s) return SQLITE_OK;
    cur->m = m;
    cur->s = s;
    if (cur->kind == VT_SAMPLE) {
        cmanp_rng_seed(&cur->rng, (uint64_t)seed);
        cur->nrows = nsamp;
        return nsamp > 0 ? draw(cur, h) : SQLITE_OK;
    }
    const cmhp_dist *d;
    rc = hp_readout(h, m, s, &d, &err);
    if (rc) {
        rc = cx_tvf_error(&cur->base, sqlite3_mprintf("%s: %s", fn, err ? err : "?"));
        sqlite3_free(err);
        return rc;
    }
    if (cur->kind == VT_TIME) {
        cur->mean = cmhp_dist_mean(d);
        cur->median = cmhp_dist_quantile(d, 0.5);
        cur->lower = cmhp_dist_quantile(d, 0.5 - 0.5 * level);
        cur->upper = cmhp_dist_quantile(d, 0.5 + 0.5 * level);
        cur->level = level;
        cur->nrows = 1;
    } else {
        cur->prob = sqlite3_malloc64(sizeof(double) * (sqlite3_uint64)d->K);
        if (!cur->prob) return SQLITE_NOMEM;
        for (int q = 0; q < d->K; q++) cur->prob[q] = exp(cmhp_dist_mark_logp(d, q));
        cur->nrows = d->K;
    }
    return SQLITE_OK;
}

static int hv_next(sqlite3_vtab_cursor *cc) {
    hv_cursor *cur = (hv_cursor *)cc;
    cur->row++;
    if (cur->kind == VT_SAMPLE && cur->row < cur->nrows) {
        /* The drawn event becomes history for the next draw. */
        cmanp_err e = {0};
        if (cmhp_add(cur->m->cond, cur->s, &cur->t, &cur->mark, 1, &e))
            return cx_tvf_error(&cur->base, sqlite3_mprintf("cmhp_sample: %s", e.msg));
        return draw(cur, ((hv_vtab *)cc->pVtab)->h);
    }
    return SQLITE_OK;
}

static int hv_eof(sqlite3_vtab_cursor *cc) {
    hv_cursor *cur = (hv_cursor *)cc;
    return cur->row >= cur->nrows;
}

static int hv_column(sqlite3_vtab_cursor *cc, sqlite3_context *ctx, int col) {
    hv_cursor *cur = (hv_cursor *)cc;
    const struct vt_kind *k = &k_kinds[cur->kind];
    if (col >= k->first_hidden) {
        sqlite3_value *v = cur->args[col - k->first_hidden];
        if (v) sqlite3_result_value(ctx, v);
        return SQLITE_OK;
    }
    switch (cur->kind) {
    case VT_TIME: {
        const double v[5] = {cur->mean, cur->median, cur->lower, cur->upper, cur->level};
        sqlite3_result_double(ctx, v[col]);
        break;
    }
    case VT_MARK:
        if (col == 0) sqlite3_result_int64(ctx, cur->row);
        else sqlite3_result_double(ctx, cur->prob[cur->row]);
        break;
    default:
        if (col == 0) sqlite3_result_int64(ctx, cur->row + 1);
        else if (col == 1) sqlite3_result_double(ctx, cur->t);
        else sqlite3_result_int(ctx, cur->mark);
        break;
    }
    return SQLITE_OK;
}

static int hv_rowid(sqlite3_vtab_cursor *cc, sqlite3_int64 *rowid) {
    *rowid = ((hv_cursor *)cc)->row + 1;
    return SQLITE_OK;
}

#define MODULE(var, connect)                                                               \
    sqlite3_module var = {                                                                 \
        .iVersion = 0,                                                                     \
        .xCreate = NULL,                                                                   \
        .xConnect = connect,                                                               \
        .xBestIndex = hv_best_index,                                                       \
        .xDisconnect = hv_disconnect,                                                      \
        .xDestroy = NULL,                                                                  \
        .xOpen = hv_open,                                                                  \
        .xClose = hv_close,                                                                \
        .xFilter = hv_filter,                                                              \
        .xNext = hv_next,                                                                  \
        .xEof = hv_eof,                                                                    \
        .xColumn = hv_column,                                                              \
        .xRowid = hv_rowid,                                                                \
    };
MODULE(hp_next_time_module, hv_connect_time)
MODULE(hp_next_mark_module, hv_connect_mark)
MODULE(hp_sample_module, hv_connect_sample)
