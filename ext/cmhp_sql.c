/* cmhp_sql.c - the SQL surface of CMHP (Constant Memory Hawkes Process;
 * docs/cmhp.md "SQL").  Event logs are rows (seq, t, mark).
 *
 * Specification (tests: tests/sql/cmhp_basics.sql, cmhp_window.sql,
 * cmhp_errors.sql, tests/sql/cmhp_eval.c):
 *
 * Q1. cmanp_model_load(name, path) loads CMHP models too: CMHP models are a
 *     family of the registry (hp_family; ext/registry.c R8), so a file whose
 *     __metadata__ config says "model": "cmhp" is validated with the CMHP
 *     loader and stored in the same table main.cmanp_models (same columns);
 *     every other file goes to the CMANP loader unchanged.
 * Q2. cmhp_condition(model, t, mark): aggregate -> state BLOB of the group's
 *     events (constant size); rows with a NULL t or mark are skipped; no
 *     usable row -> NULL.  Also a window function with any frame (leaving
 *     events are taken out with the engine's inverse update); an empty frame
 *     gives NULL, so
 *       cmhp_condition(m, t, mark) OVER (PARTITION BY seq ORDER BY t
 *                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
 *     gives each event the state of its history (NULL for the first).
 * Q3. cmhp_update(state, t, mark): aggregate (and window) adding the group's
 *     events to a starting state (the same in every row; NULL rows skipped).
 * Q4. cmhp_merge(state): aggregate over states of disjoint event sets -> the
 *     state of the union (NULLs skipped).
 * Q5. cmhp_logprob(state, t, mark): log density of "the next event is at
 *     time t with this mark" (original time units).  NULL in any argument ->
 *     NULL; t before the state's last event -> error; t equal to it -> -Inf.
 * Q6. cmhp_next_time(state [, level]), cmhp_next_mark(state),
 *     cmhp_sample(state, n [, seed]): table-valued (ext/cmhp_vtab.c).
 * Q7. cmhp_state_info(state), cmhp_model_info(name), cmhp_debug(): JSON.
 * Q8. Errors name the function, the argument and what was expected vs found;
 *     states of another model, CMANP states / models given to cmhp functions
 *     and damaged BLOBs are errors.
 * Q9. Models are parsed once per connection (the registry's cache: up to 8
 *     CMHP models, validated by its change tokens); cmhp_debug() counts
 *     parses and cache hits.
 */
#include <math.h>
#include <string.h>

#include "cmhp_sql.h"

#define REGISTRY "main.cmanp_models"
#define HP_HDR 80

/* ------------------------------------------------------------- connection */

void hp_model_ref(hp_model *m) { cx_model_ref(m->entry); }

void hp_model_unref(hp_model *m) {
    if (m) cx_model_unref(m->entry);
}

void hp_conn_unref(void *p) {
    hp_conn *h = p;
    if (!h || --h->ref > 0) return;
    cx_conn_unref(h->cx);
    sqlite3_free(h);
}

/* ------------------------------------------- the registry family (Q1, Q9) */

static int hp_claims(const char *config) { return cmhp_config_is_cmhp(config); }

static void hp_unload(cx_model *x) {
    hp_model *m = x->other;
    if (!m) return;
    cmhp_cond_free(m->cond);
    cmhp_readout_free(m->ro);
    cmhp_model_free(m->m);
    sqlite3_free(m);
    x->other = NULL;
}

/* The model and the workspaces every CMHP function reuses (one conditioner,
 * one readout per cached model). */
static int hp_load(cx_model *x, const cmanp_st *st, cmanp_err *e) {
    hp_model *m = sqlite3_malloc(sizeof *m);
    if (!m) return cmanp_err_nomem(e);
    memset(m, 0, sizeof *m);
    m->entry = x;
    x->other = m;
    int rc = cmhp_model_from_st(&m->m, st, e);
    if (!rc) rc = cmhp_cond_new(m->m, 1, &m->cond, e);
    if (!rc) rc = cmhp_readout_new(m->m, &m->ro, e);
    if (rc) {
        hp_unload(x);
        return rc;
    }
    x->fingerprint = m->m->fingerprint;
    return CMANP_OK;
}

static void hp_describe(const cx_model *x, char *cfg, size_t cap, sqlite3_int64 *n_params) {
    const hp_model *m = x->other;
    cmhp_config_to_json(&m->m->cfg, cfg, cap);
    *n_params = (sqlite3_int64)m->m->layout.n_params;
}

static void hp_tally(cx_counters *n, int parsed) {
    if (parsed)
        n->cmhp_models_parsed++;
    else
        n->cmhp_model_cache_hits++;
}

static char *invalid_msg(const char *what, const char *why) {
    return what ? sqlite3_mprintf("%s is not a valid CMHP model: %s", what, why) : NULL;
}

static char *hp_row_invalid(const char *name, const char *why) {
    char *what = sqlite3_mprintf(REGISTRY " row '%s'", name), *msg = invalid_msg(what, why);
    sqlite3_free(what);
    return msg;
}

static char *hp_file_invalid(const char *path, const char *why) {
    char *what = sqlite3_mprintf("'%s'", path), *msg = invalid_msg(what, why);
    sqlite3_free(what);
    return msg;
}

static char *hp_wrong_family(const char *name, const cx_family *actual) {
    (void)actual; /* CMANP, the only other family */
    char *what = sqlite3_mprintf(REGISTRY " row '%s'", name);
    char *msg = what ? sqlite3_mprintf("%s is not a CMHP model (its config does not say \"model\": "
                                       "\"cmhp\"; a CMANP model?)",
                                       what)
                     : NULL;
    sqlite3_free(what);
    return msg;
}

const cx_family hp_family = {
    "CMHP", "cmhp_*", hp_claims, hp_load, hp_unload, hp_describe, hp_tally,
    hp_row_invalid, hp_file_invalid, hp_wrong_family,
};

int hp_model_by_name(hp_conn *h, const char *name, hp_model **out, char **err) {
    cx_model *x;
    int rc = cx_registry_get(h->cx, &hp_family, name, &x, err);
    *out = rc ? NULL : x->other;
    return rc;
}

int hp_model_by_fp(hp_conn *h, uint64_t fp, hp_model **out, char **err) {
    cx_model *x;
    int rc = cx_registry_get_fp(h->cx, &hp_family, fp, &x, err);
    *out = rc ? NULL : x->other;
    return rc;
}

/* Model argument argi of fn (aux data keeps a constant name's lookup for the
 * statement); NULL after reporting the error. */
static hp_model *model_arg(sqlite3_context *ctx, hp_conn *h, const char *fn, int argi,
                           sqlite3_value *v) {
    cx_model *x = cx_registry_arg(ctx, h->cx, &hp_family, fn, argi, v);
    return x ? x->other : NULL;
}

int hp_state_arg(hp_conn *h, sqlite3_value *v, cmhp_state **s, hp_model **m, char **err) {
    *s = NULL;
    *m = NULL;
    *err = NULL;
    int type = sqlite3_value_type(v);
    if (type == SQLITE_NULL) return SQLITE_OK;
    if (type != SQLITE_BLOB) {
        char *what = cx_describe_value(v);
        *err = sqlite3_mprintf("expected a CMHP state BLOB (from cmhp_condition), found %s",
                               what ? what : "?");
        sqlite3_free(what);
        return SQLITE_ERROR;
    }
    const void *blob = sqlite3_value_blob(v);
    size_t len = (size_t)sqlite3_value_bytes(v);
    cmhp_state_header hd;
    cmanp_err e = {0};
    if (cmhp_state_peek(blob, len, &hd, &e)) {
        *err = sqlite3_mprintf("%s", e.msg);
        return SQLITE_ERROR;
    }
    int rc = hp_model_by_fp(h, hd.fingerprint, m, err);
    if (rc) return rc;
    rc = cmhp_state_decode((*m)->m, blob, len, s, &e);
    if (rc) {
        hp_model_unref(*m);
        *m = NULL;
        *err = rc == CMANP_ENOMEM ? sqlite3_mprintf("out of memory") : sqlite3_mprintf("%s", e.msg);
        return rc == CMANP_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
    }
    h->n.states_decoded++;
    return SQLITE_OK;
}

int hp_readout(hp_conn *h, hp_model *m, const cmhp_state *s, const cmhp_dist **d, char **err) {
    cmanp_err e = {0};
    int rc = cmhp_readout_compute(m->ro, s, &e);
    if (rc) {
        *err = sqlite3_mprintf("%s", e.msg);
        return SQLITE_ERROR;
    }
    h->n.readouts_computed++;
    *d = cmhp_readout_dist(m->ro);
    return SQLITE_OK;
}

/* ------------------------------------------------------------ small helpers */

static void report(sqlite3_context *ctx, const char *fn, int rc, char *err) {
    if (rc == SQLITE_NOMEM)
        sqlite3_result_error_nomem(ctx);
    else
        cx_error(ctx, "%s: %s", fn, err ? err : "?");
    sqlite3_free(err);
}

/* State argument 1 of fn: 1 with *s and its model *m (a new reference), 0
 * for a NULL state (no result), -1 after reporting an error. */
static int state_arg(sqlite3_context *ctx, hp_conn *h, const char *fn, sqlite3_value *v,
                     cmhp_state **s, hp_model **m) {
    char *err;
    int rc = hp_state_arg(h, v, s, m, &err);
    if (rc) {
        cx_arg_fail(ctx, fn, 1, "state", rc, err);
        return -1;
    }
    return *s ? 1 : 0;
}

static void result_state(sqlite3_context *ctx, const cmhp_state *s) {
    size_t n = cmhp_state_encoded_size(s);
    unsigned char *b = sqlite3_malloc64(n);
    if (!b) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    cmhp_state_encode(s, b);
    sqlite3_result_blob64(ctx, b, n, sqlite3_free);
}

/* t and mark of an event row: 1 = read, 0 = a NULL (skip the row), -1 =
 * error reported. */
static int read_event(sqlite3_context *ctx, const char *fn, int argi, sqlite3_value *vt,
                      sqlite3_value *vk, const hp_model *m, double *t, int *k) {
    char *err = NULL;
    int rc = cx_value_number(vt, 0, t, &err);
    if (rc < 0) {
        cx_arg_error(ctx, fn, argi, "t", "%s", err ? err : "?");
        sqlite3_free(err);
        return -1;
    }
    int tnull = rc == CX_VAL_NULL;
    const int K = m->m->cfg.num_marks;
    int kt = sqlite3_value_type(vk);
    if (kt == SQLITE_NULL) return 0;
    double kd = sqlite3_value_double(vk);
    if ((kt != SQLITE_INTEGER && !(kt == SQLITE_FLOAT && kd == floor(kd))) || kd < 0 || kd >= K) {
        char *what = cx_describe_value(vk);
        cx_arg_error(ctx, fn, argi + 1, "mark",
                     "expected an integer mark 0..%d (model '%s' has %d mark%s), found %s", K - 1,
                     m->entry->name, K, K == 1 ? "" : "s", what ? what : "?");
        sqlite3_free(what);
        return -1;
    }
    *k = (int)kd;
    return tnull ? 0 : 1;
}

/* -------------------------------------------------------------- aggregates */

enum { K_CONDITION, K_UPDATE, K_MERGE };

typedef struct hp_agg {
    int kind;
    hp_model *model;
    cmhp_cond *cond;
    cmhp_state *s;
    char *name;                      /* condition: the group's model name */
    unsigned char start[HP_HDR];     /* update: header of the starting state */
} hp_agg;

static const char *agg_fn(int kind) {
    return kind == K_CONDITION ? "cmhp_condition" : kind == K_UPDATE ? "cmhp_update" : "cmhp_merge";
}

static hp_agg *agg_get(sqlite3_context *ctx, int create, int kind) {
    hp_agg **pp = sqlite3_aggregate_context(ctx, create ? (int)sizeof *pp : 0);
    if (!pp) return NULL;
    if (!*pp && create) {
        *pp = sqlite3_malloc(sizeof **pp);
        if (!*pp) return NULL;
        memset(*pp, 0, sizeof **pp);
        (*pp)->kind = kind;
    }
    return *pp;
}

static void agg_free(sqlite3_context *ctx) {
    hp_agg **pp = sqlite3_aggregate_context(ctx, 0);
    if (!pp || !*pp) return;
    hp_agg *a = *pp;
    cmhp_cond_free(a->cond);
    cmhp_state_free(a->s);
    hp_model_unref(a->model);
    sqlite3_free(a->name);
    sqlite3_free(a);
    *pp = NULL;
}

static int agg_bind(sqlite3_context *ctx, hp_agg *a, hp_model *m, cmhp_state *s) {
    cmanp_err e = {0};
    int rc = cmhp_cond_new(m->m, 1, &a->cond, &e);
    if (!rc && !s) rc = cmhp_state_new(m->m, &s, &e);
    if (rc) {
        hp_model_unref(m);
        cmhp_state_free(s);
        sqlite3_result_error_nomem(ctx);
        return -1;
    }
    a->model = m;
    a->s = s;
    return 0;
}

static void event_step(sqlite3_context *ctx, hp_agg *a, int argi, sqlite3_value **argv, int sign) {
    const char *fn = agg_fn(a->kind);
    double t;
    int k;
    int r = read_event(ctx, fn, argi, argv[0], argv[1], a->model, &t, &k);
    if (r <= 0) return;
    cmanp_err e = {0};
    hp_conn *h = sqlite3_user_data(ctx);
    int rc = sign > 0 ? cmhp_add(a->cond, a->s, &t, &k, 1, &e) : cmhp_remove(a->cond, a->s, &t, &k, 1, &e);
    if (rc) {
        cx_error(ctx, "%s: %s", fn, e.msg);
        return;
    }
    if (sign > 0)
        h->n.events_added++;
    else
        h->n.events_removed++;
}

static void condition_step_(sqlite3_context *ctx, sqlite3_value **argv, int sign) {
    static const char fn[] = "cmhp_condition";
    hp_conn *h = sqlite3_user_data(ctx);
    hp_agg *a = agg_get(ctx, 1, K_CONDITION);
    if (!a) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
        char *what = cx_describe_value(argv[0]);
        cx_arg_error(ctx, fn, 1, "model", "expected a model name (TEXT), found %s", what ? what : "?");
        sqlite3_free(what);
        return;
    }
    const char *name = (const char *)sqlite3_value_text(argv[0]);
    if (!a->model) {
        hp_model *m;
        char *err;
        int rc = hp_model_by_name(h, name, &m, &err);
        if (rc) {
            cx_arg_fail(ctx, fn, 1, "model", rc, err);
            return;
        }
        if (agg_bind(ctx, a, m, NULL)) return;
        a->name = sqlite3_mprintf("%s", name);
        if (!a->name) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
    } else if (strcmp(a->name, name) != 0) {
        cx_arg_error(ctx, fn, 1, "model",
                     "every row of a group must name the same model (found '%s' after '%s')", name,
                     a->name);
        return;
    }
    event_step(ctx, a, 2, argv + 1, sign);
}

static void condition_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    condition_step_(ctx, argv, +1);
}

static void condition_inverse(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    condition_step_(ctx, argv, -1);
}

static void update_step_(sqlite3_context *ctx, sqlite3_value **argv, int sign) {
    static const char fn[] = "cmhp_update";
    hp_conn *h = sqlite3_user_data(ctx);
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
    hp_agg *a = agg_get(ctx, 1, K_UPDATE);
    if (!a) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (!a->model) {
        cmhp_state *s;
        hp_model *m;
        if (state_arg(ctx, h, fn, argv[0], &s, &m) <= 0) return;
        memcpy(a->start, sqlite3_value_blob(argv[0]), HP_HDR);
        if (agg_bind(ctx, a, m, s)) return;
    } else if (sqlite3_value_type(argv[0]) != SQLITE_BLOB || sqlite3_value_bytes(argv[0]) < HP_HDR ||
               memcmp(a->start, sqlite3_value_blob(argv[0]), HP_HDR) != 0) {
        cx_arg_error(ctx, fn, 1, "state",
                     "every row of a group must carry the same starting state (use cmhp_merge to "
                     "combine states)");
        return;
    }
    event_step(ctx, a, 2, argv + 1, sign);
}

static void update_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    update_step_(ctx, argv, +1);
}

static void update_inverse(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    update_step_(ctx, argv, -1);
}

static void cond_value(sqlite3_context *ctx) {
    hp_agg *a = agg_get(ctx, 0, 0);
    /* An empty frame (or a condition group without usable rows) has no
     * history to summarise: NULL, like avg() of nothing.  An update group
     * returns its starting state even without new events. */
    if (!a || !a->s || (a->kind == K_CONDITION && a->s->n_events == 0)) return;
    result_state(ctx, a->s);
}

static void cond_final(sqlite3_context *ctx) {
    cond_value(ctx);
    agg_free(ctx);
}

static void merge_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "cmhp_merge";
    (void)argc;
    hp_conn *h = sqlite3_user_data(ctx);
    cmhp_state *s;
    hp_model *m;
    if (state_arg(ctx, h, fn, argv[0], &s, &m) <= 0) return;
    hp_agg *a = agg_get(ctx, 1, K_MERGE);
    if (!a) {
        cmhp_state_free(s);
        hp_model_unref(m);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (!a->s) {
        a->s = s;
        a->model = m;
        return;
    }
    cmanp_err e = {0};
    int rc = cmhp_state_merge(a->model->m, a->s, s, &e);
    cmhp_state_free(s);
    hp_model_unref(m);
    if (rc) cx_arg_error(ctx, fn, 1, "state", "%s", e.msg);
}

static void merge_final(sqlite3_context *ctx) {
    hp_agg *a = agg_get(ctx, 0, 0);
    if (a && a->s) result_state(ctx, a->s);
    agg_free(ctx);
}

/* ------------------------------------------------------------------ scalars */

/* Q5 */
static void fn_logprob(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "cmhp_logprob";
    (void)argc;
    hp_conn *h = sqlite3_user_data(ctx);
    cmhp_state *s;
    hp_model *m;
    if (state_arg(ctx, h, fn, argv[0], &s, &m) <= 0) return;
    double t;
    int k;
    int r = read_event(ctx, fn, 2, argv[1], argv[2], m, &t, &k);
    if (r > 0) {
        const double ref = cmhp_state_time(s);
        if (t < ref) {
            cx_arg_error(ctx, fn, 2, "t",
                         "%.17g is before the state's last event at %.17g (the next event cannot "
                         "precede it)",
                         t, ref);
        } else {
            const cmhp_dist *d;
            char *err;
            int rc = hp_readout(h, m, s, &d, &err);
            if (rc) report(ctx, fn, rc, err);
            else sqlite3_result_double(ctx, cmhp_dist_loglik(d, t, k));
        }
    }
    cmhp_state_free(s);
    hp_model_unref(m);
}

/* Q7 */
static void fn_state_info(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "cmhp_state_info";
    (void)argc;
    hp_conn *h = sqlite3_user_data(ctx);
    cmhp_state *s;
    hp_model *m;
    if (state_arg(ctx, h, fn, argv[0], &s, &m) <= 0) return;
    sqlite3_str *js = sqlite3_str_new(h->cx->db);
    sqlite3_str_appendf(js, "{\"format_version\":%d,\"fingerprint\":\"%s\",\"model\":",
                        CMHP_STATE_FORMAT_VERSION, m->entry->fp_hex);
    cx_json_str(js, m->entry->name);
    sqlite3_str_appendf(js, ",\"variant\":\"%s\",\"events\":%lld,\"t_last\":",
                        cmhp_variant_name(&m->m->cfg), (long long)s->n_events);
    cx_json_num(js, s->t_last);
    sqlite3_str_appendf(js, ",\"bytes\":%lld,\"marks\":%d,\"rates\":%d}",
                        (long long)cmhp_state_encoded_size(s), s->K, s->R);
    cmhp_state_free(s);
    hp_model_unref(m);
    cx_result_json(ctx, js);
}

static void fn_model_info(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "cmhp_model_info";
    (void)argc;
    hp_conn *h = sqlite3_user_data(ctx);
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
    hp_model *m = model_arg(ctx, h, fn, 1, argv[0]);
    if (!m) return;
    char cfg[1024];
    cmhp_config_to_json(&m->m->cfg, cfg, sizeof cfg);
    cmhp_state *s;
    cmanp_err e = {0};
    long long sb = 0;
    if (!cmhp_state_new(m->m, &s, &e)) {
        sb = (long long)cmhp_state_encoded_size(s);
        cmhp_state_free(s);
    }
    sqlite3_str *js = sqlite3_str_new(h->cx->db);
    sqlite3_str_appendall(js, "{\"name\":");
    cx_json_str(js, m->entry->name);
    sqlite3_str_appendf(js,
                        ",\"model\":\"cmhp\",\"variant\":\"%s\",\"fingerprint\":\"%s\",\"n_params\":%lld,"
                        "\"bytes\":%lld,\"marks\":%d,\"state_bytes\":%lld,\"config\":%s}",
                        cmhp_variant_name(&m->m->cfg), m->entry->fp_hex,
                        (long long)m->m->layout.n_params, (long long)m->entry->blob_len,
                        m->m->cfg.num_marks, sb, cfg);
    hp_model_unref(m);
    cx_result_json(ctx, js);
}

static void fn_debug(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    (void)argv;
    hp_conn *h = sqlite3_user_data(ctx);
    const hp_counters *n = &h->n;
    const cx_counters *r = &h->cx->n;
    sqlite3_str *js = sqlite3_str_new(h->cx->db);
    sqlite3_str_appendf(js,
                        "{\"state_format_version\":%d,\"cache\":{\"models\":%d},\"counters\":{"
                        "\"models_parsed\":%lld,\"model_cache_hits\":%lld,\"states_decoded\":%lld,"
                        "\"readouts_computed\":%lld,\"events_added\":%lld,\"events_removed\":%lld,"
                        "\"samples_drawn\":%lld}}",
                        CMHP_STATE_FORMAT_VERSION, cx_registry_count(h->cx, &hp_family),
                        r->cmhp_models_parsed, r->cmhp_model_cache_hits, n->states_decoded, n->readouts_computed,
                        n->events_added, n->events_removed, n->samples_drawn);
    cx_result_json(ctx, js);
}

/* ---------------------------------------------------------- registration */

#define DET SQLITE_DETERMINISTIC
#define INN SQLITE_INNOCUOUS

int cmhp_sql_register(sqlite3 *db, cx_conn *c, char **pzErrMsg) {
    hp_conn *h = sqlite3_malloc(sizeof *h);
    if (!h) return SQLITE_NOMEM;
    memset(h, 0, sizeof *h);
    h->cx = c;
    c->ref++; /* released by hp_conn_unref */
    h->ref = 1;
    static const struct {
        const char *name;
        int n_arg, flags;
        void (*xFunc)(sqlite3_context *, int, sqlite3_value **);
        void (*xStep)(sqlite3_context *, int, sqlite3_value **);
        void (*xFinal)(sqlite3_context *);
        void (*xValue)(sqlite3_context *);
        void (*xInverse)(sqlite3_context *, int, sqlite3_value **);
    } f[] = {
        {"cmhp_condition", 3, INN, NULL, condition_step, cond_final, cond_value, condition_inverse},
        {"cmhp_update", 3, DET | INN, NULL, update_step, cond_final, cond_value, update_inverse},
        {"cmhp_merge", 1, DET | INN, NULL, merge_step, merge_final, NULL, NULL},
        {"cmhp_logprob", 3, DET | INN, fn_logprob, NULL, NULL, NULL, NULL},
        {"cmhp_state_info", 1, DET | INN | SQLITE_RESULT_SUBTYPE, fn_state_info, NULL, NULL, NULL, NULL},
        {"cmhp_model_info", 1, INN | SQLITE_RESULT_SUBTYPE, fn_model_info, NULL, NULL, NULL, NULL},
        {"cmhp_debug", 0, INN | SQLITE_RESULT_SUBTYPE, fn_debug, NULL, NULL, NULL, NULL},
    };
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof f / sizeof *f; i++) {
        h->ref++;
        int flags = SQLITE_UTF8 | f[i].flags;
        if (f[i].xValue)
            rc = sqlite3_create_window_function(db, f[i].name, f[i].n_arg, flags, h, f[i].xStep,
                                                f[i].xFinal, f[i].xValue, f[i].xInverse, hp_conn_unref);
        else
            rc = sqlite3_create_function_v2(db, f[i].name, f[i].n_arg, flags, h, f[i].xFunc, f[i].xStep,
                                            f[i].xFinal, hp_conn_unref);
        if (rc != SQLITE_OK && pzErrMsg)
            *pzErrMsg = sqlite3_mprintf("cmanp: cannot register %s: %s", f[i].name, sqlite3_errmsg(db));
    }
    sqlite3_module *mods[3] = {&hp_next_time_module, &hp_next_mark_module, &hp_sample_module};
    const char *names[3] = {"cmhp_next_time", "cmhp_next_mark", "cmhp_sample"};
    for (int i = 0; rc == SQLITE_OK && i < 3; i++) {
        h->ref++;
        rc = sqlite3_create_module_v2(db, names[i], mods[i], h, hp_conn_unref);
        if (rc != SQLITE_OK && pzErrMsg)
            *pzErrMsg = sqlite3_mprintf("cmanp: cannot register %s: %s", names[i], sqlite3_errmsg(db));
    }
    /* Q1, Q9: CMHP models are a family of the registry (cmanp_model_load,
     * lookups, cache). */
    if (rc == SQLITE_OK && cx_family_add(c, &hp_family) != SQLITE_OK) {
        rc = SQLITE_ERROR;
        if (pzErrMsg) *pzErrMsg = sqlite3_mprintf("cmanp: cannot register the CMHP model family");
    }
    hp_conn_unref(h);
    return rc;
}
