/* evaluate.c - cmanp_evaluate: the benchmark metric of
 * ../shared/evalsets/README.md computed inside the engine.
 *
 *   SELECT cmanp_evaluate('gp', 'points');            -- a table
 *   SELECT cmanp_evaluate('gp', 'rbf.points');        -- an attached database
 *   SELECT cmanp_evaluate('gp', 'SELECT task, role, x, y FROM points
 *                                  WHERE task < 100 ORDER BY task');
 *
 * Specification (tests: tests/sql/evaluate.sql E*):
 *
 * E1. The second argument is a table name, optionally schema-qualified
 *     ("schema.table"), or an SQL query (any text containing a space).  A
 *     table must have columns task, role and x, y (dim_x = dim_y = 1) or
 *     x1..x_dx, y1..y_dy; it is read ORDER BY task.  A query must return
 *     task, role, then the dim_x + dim_y values, in that column order, with
 *     the rows of a task adjacent and tasks in ascending order.
 * E2. role is 'context' or 'target'.  For each task: condition on its
 *     context rows, then tar_ll = mean over its targets of log N(y; mean,
 *     std^2) (summed over dim_y), and ctx_ll the same at the context points.
 *     The result is JSON {"tasks", "targets", "tar_ll", "ctx_ll", "skipped"}:
 *     means over tasks of the per-task means; tasks with no context or no
 *     target rows are skipped and counted.
 * E3. Equal to the pure-SQL form (docs/sql.md) with cmanp_condition and
 *     cmanp_logprob, up to float32 rounding.
 * E4. DIRECTONLY (it runs SQL text given as an argument).  Errors: a source
 *     that cannot be prepared, a role other than 'context'/'target', a task
 *     that is not an INTEGER or tasks out of order, non-numeric values.
 */
#include <ctype.h>
#include <string.h>

#include "cmanp_ext.h"

typedef struct rows {
    cmanp_real *v;
    sqlite3_int64 n, cap; /* rows */
} rows;

static int rows_push(rows *r, const cmanp_real *row, int W) {
    if (r->n == r->cap) {
        sqlite3_int64 cap = r->cap ? 2 * r->cap : 64;
        cmanp_real *v = sqlite3_realloc64(r->v, (sqlite3_uint64)cap * (sqlite3_uint64)W * sizeof *v);
        if (!v) return SQLITE_NOMEM;
        r->v = v;
        r->cap = cap;
    }
    memcpy(r->v + r->n * W, row, sizeof *row * (size_t)W);
    r->n++;
    return SQLITE_OK;
}

typedef struct evalctx {
    cx_conn *c;
    cx_model *m;
    cmanp_cond *cond;
    cmanp_state *s;
    cmanp_readout *r;
    cmanp_real *x, *mean, *std; /* scratch for predictions */
    sqlite3_int64 cap;
    double sum_tar, sum_ctx;
    sqlite3_int64 tasks, targets, skipped;
} evalctx;

/* Mean log-likelihood of rows (x | y) under the readout. */
static int mean_ll(evalctx *E, const rows *R, double *out, cmanp_err *e) {
    int dx = E->m->m->cfg.dim_x, dy = E->m->m->cfg.dim_y, W = dx + dy;
    if (R->n > E->cap) {
        sqlite3_uint64 n = (sqlite3_uint64)R->n;
        cmanp_real *x = sqlite3_realloc64(E->x, n * (sqlite3_uint64)dx * sizeof *x);
        if (x) E->x = x;
        cmanp_real *mu = sqlite3_realloc64(E->mean, n * (sqlite3_uint64)dy * sizeof *mu);
        if (mu) E->mean = mu;
        cmanp_real *sd = sqlite3_realloc64(E->std, n * (sqlite3_uint64)dy * sizeof *sd);
        if (sd) E->std = sd;
        if (!x || !mu || !sd) return cmanp_err_nomem(e);
        E->cap = R->n;
    }
    for (sqlite3_int64 i = 0; i < R->n; i++) memcpy(E->x + i * dx, R->v + i * W, sizeof(cmanp_real) * dx);
    int rc = cmanp_predict(E->r, E->x, (int)R->n, E->mean, E->std, NULL, e);
    if (rc) return rc;
    E->c->n.targets_predicted += R->n;
    double s = 0;
    for (sqlite3_int64 i = 0; i < R->n; i++)
        s += cmanp_gauss_logp(R->v + i * W + dx, E->mean + i * dy, E->std + i * dy, dy);
    *out = s / (double)R->n;
    return CMANP_OK;
}

static int eval_task(evalctx *E, rows *ctx, rows *tar, cmanp_err *e) {
    if (ctx->n == 0 || tar->n == 0) {
        E->skipped++;
        return CMANP_OK;
    }
    if (ctx->n > INT32_MAX || tar->n > INT32_MAX)
        return cmanp_err_set(e, CMANP_ERANGE, "a task has more than 2^31 rows");
    cmanp_state_clear(E->s);
    int rc = cmanp_cond_add(E->cond, E->s, ctx->v, (int)ctx->n, e);
    if (!rc) rc = cmanp_cond_flush(E->cond, E->s, e);
    if (!rc) rc = cmanp_readout_compute(E->r, E->s, e);
    if (rc) return rc;
    E->c->n.rows_added += ctx->n;
    E->c->n.readouts_computed++;
    double t, k;
    if ((rc = mean_ll(E, tar, &t, e)) || (rc = mean_ll(E, ctx, &k, e))) return rc;
    E->sum_tar += t;
    E->sum_ctx += k;
    E->tasks++;
    E->targets += tar->n;
    return CMANP_OK;
}

static int is_query(const char *s) {
    for (; *s; s++)
        if (isspace((unsigned char)*s)) return 1;
    return 0;
}

/* SELECT task, role, x | x1.., y | y1.. FROM "schema"."table" ORDER BY task */
static char *source_sql(const char *src, int dx, int dy) {
    sqlite3_str *q = sqlite3_str_new(NULL);
    sqlite3_str_appendall(q, "SELECT task, role");
    if (dx == 1)
        sqlite3_str_appendall(q, ", x");
    else
        for (int k = 1; k <= dx; k++) sqlite3_str_appendf(q, ", x%d", k);
    if (dy == 1)
        sqlite3_str_appendall(q, ", y");
    else
        for (int k = 1; k <= dy; k++) sqlite3_str_appendf(q, ", y%d", k);
    const char *dot = strchr(src, '.');
    if (dot) {
        char *schema = sqlite3_mprintf("%.*s", (int)(dot - src), src);
        sqlite3_str_appendf(q, " FROM \"%w\".\"%w\" ORDER BY task", schema ? schema : "", dot + 1);
        sqlite3_free(schema);
    } else
        sqlite3_str_appendf(q, " FROM \"%w\" ORDER BY task", src);
    return sqlite3_str_finish(q);
}

void cx_fn_evaluate(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "cmanp_evaluate";
    cx_conn *c = sqlite3_user_data(ctx);
    (void)argc;
    cx_model *m = cx_model_arg(ctx, c, fn, 1, argv[0]);
    if (!m) return;
    evalctx E;
    memset(&E, 0, sizeof E);
    E.c = c;
    E.m = m;
    rows R[2];
    memset(R, 0, sizeof R);
    sqlite3_stmt *st = NULL;
    char *sql = NULL;
    cmanp_err e = {0};
    int dx = m->m->cfg.dim_x, dy = m->m->cfg.dim_y, W = dx + dy;
    cmanp_real row[1024];
    if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
        char *what = cx_describe_value(argv[1]);
        cx_arg_error(ctx, fn, 2, "source", "expected a table name or an SQL query (TEXT), found %s",
                     what ? what : "?");
        sqlite3_free(what);
        goto done;
    }
    if (W > 1024) {
        cx_error(ctx, "%s: dim_x + dim_y = %d is too large", fn, W);
        goto done;
    }
    const char *src = (const char *)sqlite3_value_text(argv[1]);
    sql = is_query(src) ? sqlite3_mprintf("%s", src) : source_sql(src, dx, dy);
    if (!sql) {
        sqlite3_result_error_nomem(ctx);
        goto done;
    }
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        cx_arg_error(ctx, fn, 2, "source", "%s", sqlite3_errmsg(c->db));
        goto done;
    }
    if (sqlite3_column_count(st) != 2 + W) {
        cx_arg_error(ctx, fn, 2, "source", "expected %d columns (task, role, %d x and %d y values), found %d",
                     2 + W, dx, dy, sqlite3_column_count(st));
        goto done;
    }
    int rc = cmanp_state_new(m->m, &E.s, &e);
    if (!rc) rc = cx_cond_borrow(m, &E.cond, &e);
    if (!rc) rc = cmanp_readout_new(m->m, &E.r, &e);
    if (!rc) rc = cmanp_readout_set_threads(E.r, c->threads, &e);
    if (rc) {
        sqlite3_result_error_nomem(ctx);
        goto done;
    }
    sqlite3_int64 task = 0;
    int have_task = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_INTEGER) {
            char *what = cx_describe_value(sqlite3_column_value(st, 0));
            cx_arg_error(ctx, fn, 2, "source", "column task: expected an INTEGER, found %s", what ? what : "?");
            sqlite3_free(what);
            goto done;
        }
        sqlite3_int64 t = sqlite3_column_int64(st, 0);
        if (have_task && t != task) {
            if (t < task) {
                cx_arg_error(ctx, fn, 2, "source", "tasks must come in ascending order (task %lld after %lld)",
                             t, task);
                goto done;
            }
            if ((rc = eval_task(&E, &R[0], &R[1], &e))) {
                cx_error(ctx, "%s: task %lld: %s", fn, task, e.msg);
                goto done;
            }
            R[0].n = R[1].n = 0;
        }
        task = t;
        have_task = 1;
        const char *role = (const char *)sqlite3_column_text(st, 1);
        int which = role && strcmp(role, "context") == 0 ? 0 : role && strcmp(role, "target") == 0 ? 1 : -1;
        if (which < 0) {
            char *what = cx_describe_value(sqlite3_column_value(st, 1));
            cx_arg_error(ctx, fn, 2, "source", "column role: expected 'context' or 'target', found %s",
                         what ? what : "?");
            sqlite3_free(what);
            goto done;
        }
        int skip = 0;
        for (int k = 0; k < W; k++) {
            double v;
            char *err;
            int r2 = cx_value_number(sqlite3_column_value(st, 2 + k), 1, &v, &err);
            if (r2 < 0) {
                char nm[16];
                cx_xy_name(nm, sizeof nm, k, dx);
                cx_arg_error(ctx, fn, 2, "source", "task %lld, column %s: %s", t, nm, err ? err : "?");
                sqlite3_free(err);
                goto done;
            }
            if (r2 == CX_VAL_NULL) skip = 1;
            row[k] = (cmanp_real)v;
        }
        if (!skip && rows_push(&R[which], row, W)) {
            sqlite3_result_error_nomem(ctx);
            goto done;
        }
    }
    if (rc != SQLITE_DONE) {
        cx_arg_error(ctx, fn, 2, "source", "%s", sqlite3_errmsg(c->db));
        goto done;
    }
    if (have_task && (rc = eval_task(&E, &R[0], &R[1], &e))) {
        cx_error(ctx, "%s: task %lld: %s", fn, task, e.msg);
        goto done;
    }
    sqlite3_str *j = sqlite3_str_new(c->db);
    sqlite3_str_appendf(j, "{\"tasks\":%lld,\"targets\":%lld,\"tar_ll\":", E.tasks, E.targets);
    cx_json_num(j, E.tasks ? E.sum_tar / (double)E.tasks : (double)NAN);
    sqlite3_str_appendall(j, ",\"ctx_ll\":");
    cx_json_num(j, E.tasks ? E.sum_ctx / (double)E.tasks : (double)NAN);
    sqlite3_str_appendf(j, ",\"skipped\":%lld}", E.skipped);
    cx_result_json(ctx, j);
done:
    sqlite3_finalize(st);
    sqlite3_free(sql);
    sqlite3_free(R[0].v);
    sqlite3_free(R[1].v);
    sqlite3_free(E.x);
    sqlite3_free(E.mean);
    sqlite3_free(E.std);
    cmanp_readout_free(E.r);
    if (E.cond) {
        if (E.s && cmanp_cond_flush(E.cond, E.s, &e) == CMANP_OK)
            cx_cond_return(m, E.cond);
        else
            cmanp_cond_free(E.cond);
    }
    cmanp_state_free(E.s);
    cx_model_unref(m);
}
