/* predict.c - scalar predictions from a state: cmanp_mean, cmanp_std,
 * cmanp_quantile, cmanp_logprob.
 *
 * Specification (tests: tests/sql/predict.sql P*, tests/sql/errors.sql):
 *
 * P1. cmanp_mean(state, x1..x_dx) and cmanp_std(state, x1..x_dx): the
 *     predictive mean / standard deviation at x.  dim_y = 1: a REAL;
 *     dim_y > 1: a JSON array of dim_y numbers with the JSON subtype.
 * P2. cmanp_quantile(state, p, x1..x_dx): mean + std * Phi^-1(p) per output
 *     dimension (same shape as P1); p must be in the open interval (0, 1).
 * P3. cmanp_logprob(state, x1..x_dx, y1..y_dy): log N(y; mean, std^2)
 *     summed over the dim_y outputs (a REAL), as the benchmark's per-target
 *     log-likelihood.
 * P4. The argument count must match the state's model (1 + dim_x [+ 1 for
 *     p] [+ dim_y for y]); a NULL in any argument gives NULL (after the
 *     other arguments were validated as numbers).
 * P5. The state is read out once per distinct state (state_cache.c S4), so
 *     a query predicting many targets from a few states costs one readout
 *     per state plus one decoder pass per target.
 */
#include <math.h>

#include "cmanp_ext.h"

enum { P_MEAN, P_STD, P_QUANTILE, P_LOGPROB };
static const char *const k_fn[] = {"cmanp_mean", "cmanp_std", "cmanp_quantile", "cmanp_logprob"};

#define MAX_DIM 1024

int cx_predict_many(cx_conn *c, cx_state *st, const cmanp_real *x, int M, cmanp_real *mean,
                    cmanp_real *std, char **err) {
    cmanp_err e = {0};
    int rc = cmanp_predict(st->r, x, M, mean, std, NULL, &e);
    if (rc) {
        *err = rc == CMANP_ENOMEM ? NULL : sqlite3_mprintf("%s", e.msg);
        return rc == CMANP_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
    }
    c->n.targets_predicted += M;
    return SQLITE_OK;
}

int cx_predict_one(cx_conn *c, cx_state *st, const cmanp_real *x, cmanp_real *mean,
                   cmanp_real *std, char **err) {
    return cx_predict_many(c, st, x, 1, mean, std, err);
}

static void result_vec(sqlite3_context *ctx, cx_conn *c, const double *v, int n) {
    if (n == 1) {
        sqlite3_result_double(ctx, v[0]);
        return;
    }
    sqlite3_str *s = sqlite3_str_new(c->db);
    sqlite3_str_appendchar(s, 1, '[');
    for (int k = 0; k < n; k++) {
        if (k) sqlite3_str_appendchar(s, 1, ',');
        sqlite3_str_appendf(s, "%!.9g", v[k]);
    }
    sqlite3_str_appendchar(s, 1, ']');
    cx_result_json(ctx, s);
}

static void scalar(sqlite3_context *ctx, int argc, sqlite3_value **argv, int kind) {
    const char *fn = k_fn[kind];
    cx_conn *c = sqlite3_user_data(ctx);
    if (argc < 1) {
        cx_error(ctx, "%s: expected a state and %s, found no arguments", fn,
                 kind == P_LOGPROB ? "x1..x_dx, y1..y_dy" : kind == P_QUANTILE ? "p, x1..x_dx" : "x1..x_dx");
        return;
    }
    int is_null;
    cx_state *st = cx_state_arg(ctx, c, fn, 1, argv[0], &is_null);
    if (!st) return;
    const cmanp_config *cfg = &st->model->m->cfg;
    int dx = cfg->dim_x, dy = cfg->dim_y;
    int lead = kind == P_QUANTILE ? 2 : 1;
    int want = lead + dx + (kind == P_LOGPROB ? dy : 0);
    if (argc != want || dx > MAX_DIM || dy > MAX_DIM) {
        char *list = cx_arg_list(kind == P_QUANTILE ? "state, p" : "state", dx, kind == P_LOGPROB ? dy : 0);
        cx_error(ctx, "%s: expected %d arguments (%s) for model '%s' (dim_x = %d, dim_y = %d), found %d",
                 fn, want, list ? list : "?", st->model->name, dx, dy, argc);
        sqlite3_free(list);
        cx_state_unref(st);
        return;
    }
    int present = 1;
    double p = 0.5;
    if (kind == P_QUANTILE) {
        int rc = cx_arg_number(ctx, fn, 2, "p", argv[1], &p);
        if (rc < 0) goto done;
        if (rc == CX_VAL_NULL) present = 0;
        else if (!(p > 0.0 && p < 1.0)) {
            cx_arg_error(ctx, fn, 2, "p", "expected a probability in the open interval (0, 1), found %.15g", p);
            goto done;
        }
    }
    cmanp_real xy[2 * MAX_DIM];
    int rc = cx_read_values(ctx, fn, lead + 1, 0, dx, dx + (kind == P_LOGPROB ? dy : 0), argv + lead, xy);
    if (rc < 0) goto done;
    if (rc == 0 || !present) goto done; /* NULL */
    cmanp_real mean[MAX_DIM], sd[MAX_DIM];
    char *err = NULL;
    if ((rc = cx_predict_one(c, st, xy, mean, sd, &err))) {
        if (rc == SQLITE_NOMEM)
            sqlite3_result_error_nomem(ctx);
        else
            cx_error(ctx, "%s: %s", fn, err ? err : "?");
        sqlite3_free(err);
        goto done;
    }
    double out[MAX_DIM];
    switch (kind) {
    case P_MEAN:
        for (int k = 0; k < dy; k++) out[k] = mean[k];
        result_vec(ctx, c, out, dy);
        break;
    case P_STD:
        for (int k = 0; k < dy; k++) out[k] = sd[k];
        result_vec(ctx, c, out, dy);
        break;
    case P_QUANTILE: {
        double z = cx_norm_ppf(p);
        for (int k = 0; k < dy; k++) out[k] = (double)mean[k] + (double)sd[k] * z;
        result_vec(ctx, c, out, dy);
        break;
    }
    default:
        sqlite3_result_double(ctx, cmanp_gauss_logp(xy + dx, mean, sd, dy));
        break;
    }
done:
    cx_state_unref(st);
}

void cx_fn_mean(sqlite3_context *ctx, int argc, sqlite3_value **argv) { scalar(ctx, argc, argv, P_MEAN); }
void cx_fn_std(sqlite3_context *ctx, int argc, sqlite3_value **argv) { scalar(ctx, argc, argv, P_STD); }
void cx_fn_quantile(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    scalar(ctx, argc, argv, P_QUANTILE);
}
void cx_fn_logprob(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    scalar(ctx, argc, argv, P_LOGPROB);
}
