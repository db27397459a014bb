/* gp_tasks.c - the table-valued function cmanp_gp_tasks: GP regression tasks
 * from the engine's sampler (engine/gp.h), shaped for the evaluation-set
 * schema of ../shared/evalsets/README.md.
 *
 *   SELECT task, role, x, y, length, scale, period
 *     FROM cmanp_gp_tasks(kernel, n_tasks, seed [, max_points]);
 *
 * Specification (tests: tests/sql/gp_tasks.sql G*):
 *
 * G1. kernel is 'rbf', 'matern' or 'periodic'; n_tasks an INTEGER in
 *     0..10000000; seed an INTEGER (the generator is seeded with it as an
 *     unsigned 64-bit value); max_points an INTEGER in 7..1000, default 50.
 * G2. Tasks 0..n_tasks-1 are drawn in order from one generator, each exactly
 *     like one cmanp_gp_sample_batch call with batch = 1, min_ctx = 3:
 *     Nc uniform on {3..P-4}, Nt uniform on {3..P-1-Nc}, hyperparameters,
 *     x ~ U[-2, 2), y ~ N(0, K + 0.02^2 I) jointly.  For P = 50 these are
 *     the evaluation sets' rules.  The output is a pure function of the
 *     arguments, so two calls with the same arguments give the same rows
 *     (e.g. one INSERT for tasks, one for points).
 * G3. Rows: each task's Nc context rows (role 'context') then its Nt target
 *     rows (role 'target'); length, scale on every row, period only for the
 *     periodic kernel (NULL otherwise), as in the evalsets' tasks table.
 * G4. Errors name the argument: unknown kernel, n_tasks / seed / max_points
 *     not an INTEGER or out of range, missing arguments.
 */
#include <string.h>

#include "cmanp_ext.h"
#include "gp.h"
#include "rng.h"

enum { COL_TASK, COL_ROLE, COL_X, COL_Y, COL_LENGTH, COL_SCALE, COL_PERIOD, COL_KERNEL, COL_NTASKS,
       COL_SEED, COL_MAXP };
#define MAX_P 1000
#define MAX_TASKS 10000000

typedef struct gt_cursor {
    sqlite3_vtab_cursor base;
    cmanp_rng rng;
    int kernel, P;
    sqlite3_int64 n_tasks, task, rowid;
    int nc, nt, i;           /* current task's counts and point index */
    cmanp_gp_hyper h;
    double *x, *y, *work;    /* P, P, P*P + P */
    sqlite3_value *args[4];
} gt_cursor;

static int gt_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **err) {
    (void)aux;
    (void)argc;
    (void)argv;
    int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(task INTEGER, role TEXT, x REAL, y REAL, "
                                      "length REAL, scale REAL, period REAL, kernel HIDDEN, "
                                      "n_tasks HIDDEN, seed HIDDEN, max_points HIDDEN)");
    if (rc != SQLITE_OK) {
        *err = sqlite3_mprintf("cmanp_gp_tasks: %s", sqlite3_errmsg(db));
        return rc;
    }
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
    sqlite3_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v) return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    *out = v;
    return SQLITE_OK;
}

static int gt_disconnect(sqlite3_vtab *vt) {
    sqlite3_free(vt);
    return SQLITE_OK;
}

static int gt_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
    (void)vt;
    gt_cursor *cur = sqlite3_malloc(sizeof *cur);
    if (!cur) return SQLITE_NOMEM;
    memset(cur, 0, sizeof *cur);
    *out = &cur->base;
    return SQLITE_OK;
}

static void free_bufs(gt_cursor *cur) {
    sqlite3_free(cur->x);
    sqlite3_free(cur->y);
    sqlite3_free(cur->work);
    cur->x = cur->y = cur->work = NULL;
    for (int i = 0; i < 4; i++) {
        sqlite3_value_free(cur->args[i]);
        cur->args[i] = NULL;
    }
}

static int gt_close(sqlite3_vtab_cursor *cc) {
    free_bufs((gt_cursor *)cc);
    sqlite3_free(cc);
    return SQLITE_OK;
}

static int gt_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
    (void)vt;
    int mask;
    if (cx_tvf_plan(info, COL_KERNEL, 4, &mask)) return SQLITE_CONSTRAINT;
    info->estimatedCost = (mask & 7) == 7 ? 1000.0 : 1e300;
    info->estimatedRows = 1000;
    return SQLITE_OK;
}

static int int_arg(gt_cursor *cur, sqlite3_value *v, int i, const char *name, sqlite3_int64 lo,
                   sqlite3_int64 hi, sqlite3_int64 *out) {
    if (sqlite3_value_type(v) != SQLITE_INTEGER) {
        char *what = cx_describe_value(v);
        int rc = cx_tvf_error(&cur->base, cx_arg_errmsg("cmanp_gp_tasks", i, name, "expected an INTEGER, found %s",
                                             what ? what : "?"));
        sqlite3_free(what);
        return rc;
    }
    sqlite3_int64 x = sqlite3_value_int64(v);
    if (x < lo || x > hi)
        return cx_tvf_error(&cur->base, cx_arg_errmsg("cmanp_gp_tasks", i, name,
                                           "expected an INTEGER in %lld..%lld, found %lld", lo, hi, x));
    *out = x;
    return SQLITE_OK;
}

/* Draw the next task (cur->task); SQLITE_OK or an error. */
static int draw_task(gt_cursor *cur) {
    int P = cur->P;
    cur->nc = (int)cmanp_rng_int(&cur->rng, 3, P - 4);
    cur->nt = (int)cmanp_rng_int(&cur->rng, 3, P - 1 - cur->nc);
    cmanp_gp_draw_hyper(&cur->rng, cur->kernel, &cur->h);
    cmanp_err e = {0};
    int rc = cmanp_gp_draw(&cur->rng, &cur->h, CMANP_GP_NOISE_STD, cur->nc + cur->nt, cur->x, cur->y,
                           cur->work, &e);
    if (rc) return cx_tvf_error(&cur->base, sqlite3_mprintf("cmanp_gp_tasks: task %lld: %s", cur->task, e.msg));
    cur->i = 0;
    return SQLITE_OK;
}

static int gt_filter(sqlite3_vtab_cursor *cc, int idxNum, const char *idxStr, int argc,
                     sqlite3_value **argv) {
    static const char fn[] = "cmanp_gp_tasks";
    static const char *const names[4] = {"kernel", "n_tasks", "seed", "max_points"};
    (void)idxStr;
    gt_cursor *cur = (gt_cursor *)cc;
    free_bufs(cur);
    cur->n_tasks = cur->task = 0; /* EOF */
    cur->rowid = 0;
    sqlite3_value *a[4] = {NULL, NULL, NULL, NULL};
    int k = 0;
    for (int j = 0; j < 4; j++)
        if (idxNum & (1 << j) && k < argc) a[j] = argv[k++];
    for (int j = 0; j < 3; j++)
        if (!a[j])
            return cx_tvf_error(&cur->base, cx_arg_errmsg(fn, j + 1, names[j],
                                               "missing; usage: cmanp_gp_tasks(kernel, n_tasks, seed "
                                               "[, max_points])"));
    for (int j = 0; j < 4; j++)
        if (a[j] && !(cur->args[j] = sqlite3_value_dup(a[j]))) return SQLITE_NOMEM;
    const char *kn = (const char *)sqlite3_value_text(a[0]);
    int kernel = sqlite3_value_type(a[0]) == SQLITE_TEXT && kn ? cmanp_gp_kernel_from_name(kn) : -1;
    if (kernel < 0) {
        char *what = cx_describe_value(a[0]);
        int rc = cx_tvf_error(&cur->base, cx_arg_errmsg(fn, 1, "kernel", "expected 'rbf', 'matern' or 'periodic', found %s",
                                             what ? what : "?"));
        sqlite3_free(what);
        return rc;
    }
    sqlite3_int64 n, seed, P = 50;
    int rc;
    if ((rc = int_arg(cur, a[1], 2, "n_tasks", 0, MAX_TASKS, &n))) return rc;
    if ((rc = int_arg(cur, a[2], 3, "seed", INT64_MIN, INT64_MAX, &seed))) return rc;
    if (a[3] && (rc = int_arg(cur, a[3], 4, "max_points", 7, MAX_P, &P))) return rc;
    cur->kernel = kernel;
    cur->P = (int)P;
    cur->x = sqlite3_malloc64(sizeof(double) * (sqlite3_uint64)P);
    cur->y = sqlite3_malloc64(sizeof(double) * (sqlite3_uint64)P);
    cur->work = sqlite3_malloc64(sizeof(double) * (sqlite3_uint64)(P * P + P));
    if (!cur->x || !cur->y || !cur->work) return SQLITE_NOMEM;
    cmanp_rng_seed(&cur->rng, (uint64_t)seed);
    cur->n_tasks = n;
    cur->task = 0;
    if (n > 0) return draw_task(cur);
    return SQLITE_OK;
}

static int gt_next(sqlite3_vtab_cursor *cc) {
    gt_cursor *cur = (gt_cursor *)cc;
    cur->rowid++;
    if (++cur->i < cur->nc + cur->nt) return SQLITE_OK;
    if (++cur->task < cur->n_tasks) return draw_task(cur);
    return SQLITE_OK;
}

static int gt_eof(sqlite3_vtab_cursor *cc) {
    gt_cursor *cur = (gt_cursor *)cc;
    return cur->task >= cur->n_tasks;
}

static int gt_column(sqlite3_vtab_cursor *cc, sqlite3_context *ctx, int col) {
    gt_cursor *cur = (gt_cursor *)cc;
    switch (col) {
    case COL_TASK: sqlite3_result_int64(ctx, cur->task); break;
    case COL_ROLE:
        sqlite3_result_text(ctx, cur->i < cur->nc ? "context" : "target", -1, SQLITE_STATIC);
        break;
    case COL_X: sqlite3_result_double(ctx, cur->x[cur->i]); break;
    case COL_Y: sqlite3_result_double(ctx, cur->y[cur->i]); break;
    case COL_LENGTH: sqlite3_result_double(ctx, cur->h.length); break;
    case COL_SCALE: sqlite3_result_double(ctx, cur->h.scale); break;
    case COL_PERIOD:
        if (cur->kernel == CMANP_GP_PERIODIC) sqlite3_result_double(ctx, cur->h.period);
        break;
    default:
        if (cur->args[col - COL_KERNEL]) sqlite3_result_value(ctx, cur->args[col - COL_KERNEL]);
        break;
    }
    return SQLITE_OK;
}

static int gt_rowid(sqlite3_vtab_cursor *cc, sqlite3_int64 *rowid) {
    *rowid = ((gt_cursor *)cc)->rowid + 1;
    return SQLITE_OK;
}

sqlite3_module cx_gp_tasks_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous-only */
    .xConnect = gt_connect,
    .xBestIndex = gt_best_index,
    .xDisconnect = gt_disconnect,
    .xOpen = gt_open,
    .xClose = gt_close,
    .xFilter = gt_filter,
    .xNext = gt_next,
    .xEof = gt_eof,
    .xColumn = gt_column,
    .xRowid = gt_rowid,
};
