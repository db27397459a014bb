/* trainer.c - the CMANP trainer: options, GP task source, the step; its
 * checkpoints and loop are the shared ckpt.c and loop.c (see trainer.h). */
#include "trainer.h"

#include <json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "gp.h"
#include "json_parse.h"

struct cmanp_trainer {
    cmanp_trainer_opts o;
    cmanp_model *m;
    cmanp_train *ws;
    cmanp_adam adam;           /* adam.t is the number of steps done */
    cmanp_rng rng;             /* the task stream */
    cmanp_real *grad;          /* (n_params) */
    cmanp_task_buf buf;
    cmanp_task_source src;
    cmanp_gp_batch_spec gp;    /* the built-in source's settings */
    double last_loss;
};

/* --------------------------------------------------------------- options */

void cmanp_trainer_defaults(cmanp_trainer_opts *o, const cmanp_config *cfg) {
    memset(o, 0, sizeof *o);
    if (cfg) {
        o->model = *cfg;
    } else {
        o->model = (cmanp_config){1, 1, 64, 4, 128, 4, 6, 128, 128, 0};
    }
    o->steps = 100000;
    o->batch = 16;
    o->lr = 5e-4;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->seed = 1;
    o->checkpoint_every = 1000;
    o->max_points = 50;
    o->min_ctx = 3;
    snprintf(o->source, sizeof o->source, "gp:rbf");
    o->threads = 1;
    o->chunk = CMANP_TRAIN_DEFAULT_CHUNK;
}

static int json_escape_ok(const char *s) {
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) return 0;
    return 1;
}

/* Shortest of %.15g .. %.17g that reads back to the same double (exact
 * round trip, readable for the usual values: 0.0005, not 0.00050000000000000001). */
static void fmt_double(char *buf, size_t cap, double v) {
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

int cmanp_trainer_opts_to_json(const cmanp_trainer_opts *o, char *buf, size_t cap) {
    char cfg[512];
    if (cmanp_config_to_json(&o->model, cfg, sizeof cfg) < 0 || !json_escape_ok(o->source))
        return -1;
    if (!isfinite(o->lr) || !isfinite(o->weight_decay) || !isfinite(o->beta1) ||
        !isfinite(o->beta2) || !isfinite(o->eps) || !isfinite(o->clip_norm))
        return -1; /* JSON has no NaN / Inf */
    char lr[32], wd[32], b1[32], b2[32], eps[32], clip[32];
    fmt_double(lr, sizeof lr, o->lr);
    fmt_double(wd, sizeof wd, o->weight_decay);
    fmt_double(b1, sizeof b1, o->beta1);
    fmt_double(b2, sizeof b2, o->beta2);
    fmt_double(eps, sizeof eps, o->eps);
    fmt_double(clip, sizeof clip, o->clip_norm);
    /* The seed is a string: JSON integers stop at 2^53 in many readers. */
    int n = snprintf(buf, cap,
                     "{\"model\": %s, \"steps\": %lld, \"batch\": %d, \"lr\": %s, "
                     "\"weight_decay\": %s, \"beta1\": %s, \"beta2\": %s, \"eps\": %s, "
                     "\"warmup\": %lld, \"clip_norm\": %s, \"seed\": \"%llu\", "
                     "\"checkpoint_every\": %lld, \"max_points\": %d, \"min_ctx\": %d, "
                     "\"source\": \"%s\", \"threads\": %d, \"chunk\": %d}",
                     cfg, (long long)o->steps, o->batch, lr, wd, b1, b2, eps, (long long)o->warmup,
                     clip, (unsigned long long)o->seed, (long long)o->checkpoint_every,
                     o->max_points, o->min_ctx, o->source, o->threads, o->chunk);
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

static int opts_validate(const cmanp_trainer_opts *o, cmanp_err *e) {
    int rc = cmanp_config_validate(&o->model, e);
    if (rc) return cmanp_err_prefix(e, "training options");
    if (o->steps < 1 || o->batch < 1 || o->max_points < 2 || o->min_ctx < 1 || o->warmup < 0 ||
        o->checkpoint_every < 0 || o->threads < 1 || o->threads > CMANP_TRAIN_MAX_THREADS ||
        o->chunk < 1)
        return cmanp_err_set(e, CMANP_EINVAL,
                             "training options: need steps >= 1, batch >= 1, max_points >= 2, "
                             "min_ctx >= 1, warmup >= 0, checkpoint_every >= 0, 1 <= threads <= "
                             "%d, chunk >= 1",
                             CMANP_TRAIN_MAX_THREADS);
    if (!(o->lr >= 0) || !isfinite(o->lr) || !(o->weight_decay >= 0) ||
        !isfinite(o->weight_decay) || !(o->beta1 >= 0 && o->beta1 < 1) ||
        !(o->beta2 >= 0 && o->beta2 < 1) || !(o->eps >= 0) || !isfinite(o->clip_norm))
        return cmanp_err_set(e, CMANP_EINVAL,
                             "training options: lr, weight_decay, eps must be finite and >= 0, "
                             "betas in [0, 1)");
    if ((int64_t)o->batch * o->max_points > (1 << 24))
        return cmanp_err_set(e, CMANP_ERANGE, "training options: batch x max_points exceeds 2^24");
    if (!json_escape_ok(o->source) || !o->source[0])
        return cmanp_err_set(e, CMANP_EINVAL,
                             "training options: source name must be non-empty printable text "
                             "without quotes or backslashes");
    return CMANP_OK;
}

int cmanp_trainer_opts_parse(cmanp_trainer_opts *o, const char *json, cmanp_err *e) {
    memset(o, 0, sizeof *o);
    struct json_object *root;
    enum json_tokener_error jerr;
    if (cmanp_json_parse(json, INT_MAX, &root, &jerr)) return cmanp_err_nomem(e);
    int rc = CMANP_OK;
    if (!root || jerr != json_tokener_success || !json_object_is_type(root, json_type_object)) {
        rc = cmanp_err_set(e, CMANP_EFORMAT, "training options: not a JSON object (%s)",
                           json_tokener_error_desc(jerr));
        goto done;
    }
    static const char *const keys[] = {"model", "steps", "batch", "lr", "weight_decay", "beta1",
                                       "beta2", "eps", "warmup", "clip_norm", "seed",
                                       "checkpoint_every", "max_points", "min_ctx", "source",
                                       "threads", "chunk"};
    const int nk = (int)(sizeof keys / sizeof keys[0]);
    json_object_object_foreach(root, key, val) {
        int i;
        for (i = 0; i < nk; i++)
            if (!strcmp(key, keys[i])) break;
        if (i == nk) {
            rc = cmanp_err_set(e, CMANP_EFORMAT, "training options: unexpected key '%s'", key);
            goto done;
        }
        (void)val;
    }
    for (int i = 0; i < nk; i++) {
        struct json_object *v;
        if (!json_object_object_get_ex(root, keys[i], &v)) {
            rc = cmanp_err_set(e, CMANP_EFORMAT, "training options: missing key '%s'", keys[i]);
            goto done;
        }
        const char *k = keys[i];
        int is_num = json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
        if (!strcmp(k, "model")) {
            if (!json_object_is_type(v, json_type_object)) goto bad;
            rc = cmanp_config_parse(&o->model, json_object_to_json_string(v), e);
            if (rc) {
                cmanp_err_prefix(e, "training options");
                goto done;
            }
        } else if (!strcmp(k, "seed")) {
            if (!json_object_is_type(v, json_type_string)) goto bad;
            const char *s = json_object_get_string(v);
            char *end;
            o->seed = strtoull(s, &end, 10);
            if (!*s || *end) goto bad;
        } else if (!strcmp(k, "source")) {
            if (!json_object_is_type(v, json_type_string)) goto bad;
            const char *s = json_object_get_string(v);
            if (strlen(s) >= sizeof o->source) goto bad;
            snprintf(o->source, sizeof o->source, "%s", s);
        } else if (!strcmp(k, "lr") || !strcmp(k, "weight_decay") || !strcmp(k, "beta1") ||
                   !strcmp(k, "beta2") || !strcmp(k, "eps") || !strcmp(k, "clip_norm")) {
            if (!is_num) goto bad;
            double d = json_object_get_double(v);
            if (!strcmp(k, "lr")) o->lr = d;
            else if (!strcmp(k, "weight_decay")) o->weight_decay = d;
            else if (!strcmp(k, "beta1")) o->beta1 = d;
            else if (!strcmp(k, "beta2")) o->beta2 = d;
            else if (!strcmp(k, "eps")) o->eps = d;
            else o->clip_norm = d;
        } else {
            if (!json_object_is_type(v, json_type_int)) goto bad;
            int64_t x = json_object_get_int64(v);
            if (!strcmp(k, "steps")) o->steps = x;
            else if (!strcmp(k, "warmup")) o->warmup = x;
            else if (!strcmp(k, "checkpoint_every")) o->checkpoint_every = x;
            else {
                if (x < INT32_MIN || x > INT32_MAX) goto bad;
                if (!strcmp(k, "batch")) o->batch = (int)x;
                else if (!strcmp(k, "max_points")) o->max_points = (int)x;
                else if (!strcmp(k, "min_ctx")) o->min_ctx = (int)x;
                else if (!strcmp(k, "threads")) o->threads = (int)x;
                else o->chunk = (int)x;
            }
        }
        continue;
    bad:
        rc = cmanp_err_set(e, CMANP_EFORMAT, "training options: '%s' has the wrong type or value",
                           k);
        goto done;
    }
    rc = opts_validate(o, e);
done:
    if (root) json_object_put(root);
    return rc;
}

/* ------------------------------------------------------------ initialisation */

void cmanp_init_weights(cmanp_model *m, uint64_t seed) {
    cmanp_params_init(&m->layout, m->params, seed, NULL);
    cmanp_model_refresh(m);
}

/* ---------------------------------------------------------- GP task source */

static int gp_next(void *ctx, cmanp_rng *rng, int batch, cmanp_task_buf *buf, cmanp_err *e) {
    cmanp_gp_batch_spec spec = *(const cmanp_gp_batch_spec *)ctx;
    spec.batch = batch;
    if (batch > buf->cap_tasks || spec.max_points - 1 > buf->cap_rows)
        return cmanp_err_set(e, CMANP_EINVAL, "GP source: batch does not fit the task buffer");
    int nc, nt;
    int rc = cmanp_gp_sample_batch(rng, &spec, &nc, &nt, buf->xc, buf->yc, buf->xt, buf->yt, e);
    if (rc) return rc;
    for (int b = 0; b < batch; b++) {
        buf->nc[b] = nc;
        buf->nt[b] = nt;
    }
    buf->n_tasks = batch;
    return CMANP_OK;
}

/* --------------------------------------------------------------- lifecycle */

static int setup(cmanp_trainer **out, const cmanp_trainer_opts *o, const cmanp_task_source *src,
                 cmanp_err *e) {
    *out = NULL;
    int rc = opts_validate(o, e);
    if (rc) return rc;
    cmanp_gp_batch_spec gp = {0};
    if (!src) {
        if (strncmp(o->source, "gp:", 3) != 0 || cmanp_gp_kernel_from_name(o->source + 3) < 0)
            return cmanp_err_set(e, CMANP_EINVAL,
                                 "training source '%s': expected gp:rbf, gp:matern or gp:periodic "
                                 "(or pass a custom task source)",
                                 o->source);
        if (o->model.dim_x != 1 || o->model.dim_y != 1)
            return cmanp_err_set(e, CMANP_EINVAL,
                                 "the GP prior gives 1-D tasks: dim_x and dim_y must be 1 (got %d, "
                                 "%d)",
                                 o->model.dim_x, o->model.dim_y);
        if (o->max_points < o->min_ctx + 4)
            return cmanp_err_set(e, CMANP_EINVAL,
                                 "GP source: max_points (%d) must be >= min_ctx + 4 (%d)",
                                 o->max_points, o->min_ctx + 4);
        gp = (cmanp_gp_batch_spec){cmanp_gp_kernel_from_name(o->source + 3), o->batch,
                                   o->max_points, o->min_ctx};
    }
    cmanp_trainer *t = cmanp_calloc(1, sizeof *t);
    if (!t) return cmanp_err_nomem(e);
    t->o = *o;
    t->gp = gp;
    if (src) {
        t->src = *src;
    } else {
        t->src.next = gp_next;
        t->src.ctx = &t->gp;
    }
    t->last_loss = NAN;
    if ((rc = cmanp_model_new(&t->m, &o->model, e))) goto fail;
    const size_t np = t->m->layout.n_params;
    cmanp_adam_opts ao = {o->lr, o->beta1, o->beta2, o->eps, o->weight_decay, o->steps,
                          o->warmup, o->clip_norm};
    if ((rc = cmanp_adam_init(&t->adam, &ao, np, e))) goto fail;
    t->grad = cmanp_malloc(np * sizeof(cmanp_real));
    const size_t rows = (size_t)o->batch * o->max_points;
    t->buf.cap_tasks = o->batch;
    t->buf.cap_rows = o->max_points;
    t->buf.nc = cmanp_malloc((size_t)o->batch * sizeof(int));
    t->buf.nt = cmanp_malloc((size_t)o->batch * sizeof(int));
    t->buf.xc = cmanp_malloc(rows * o->model.dim_x * sizeof(float));
    t->buf.yc = cmanp_malloc(rows * o->model.dim_y * sizeof(float));
    t->buf.xt = cmanp_malloc(rows * o->model.dim_x * sizeof(float));
    t->buf.yt = cmanp_malloc(rows * o->model.dim_y * sizeof(float));
    if (!t->grad || !t->buf.nc || !t->buf.nt || !t->buf.xc || !t->buf.yc || !t->buf.xt ||
        !t->buf.yt) {
        rc = cmanp_err_nomem(e);
        goto fail;
    }
    cmanp_train_opts to = {o->threads, o->chunk};
    if ((rc = cmanp_train_new(t->m, &to, &t->ws, e))) goto fail;
    /* All activation memory now, so that steps never allocate. */
    if ((rc = cmanp_train_reserve(t->ws, o->batch, o->max_points, o->max_points, 1, e))) goto fail;
    cmanp_rng_seed(&t->rng, o->seed);
    *out = t;
    return CMANP_OK;
fail:
    cmanp_trainer_free(t);
    return rc;
}

int cmanp_trainer_new(const cmanp_trainer_opts *o, const cmanp_model *init,
                      const cmanp_task_source *src, cmanp_trainer **out, cmanp_err *e) {
    cmanp_trainer *t;
    int rc = setup(&t, o, src, e);
    if (rc) return rc;
    if (init) {
        if (memcmp(&init->cfg, &o->model, sizeof init->cfg) != 0) {
            cmanp_trainer_free(t);
            return cmanp_err_set(e, CMANP_EMISMATCH,
                                 "initial model's configuration differs from the training options");
        }
        memcpy(t->m->params, init->params, t->m->layout.n_params * sizeof(cmanp_real));
        cmanp_model_refresh(t->m);
    } else {
        cmanp_init_weights(t->m, o->seed);
    }
    *out = t;
    return CMANP_OK;
}

void cmanp_trainer_free(cmanp_trainer *t) {
    if (!t) return;
    cmanp_train_free(t->ws);
    cmanp_adam_free(&t->adam);
    cmanp_model_free(t->m);
    cmanp_free(t->grad);
    cmanp_free(t->buf.nc);
    cmanp_free(t->buf.nt);
    cmanp_free(t->buf.xc);
    cmanp_free(t->buf.yc);
    cmanp_free(t->buf.xt);
    cmanp_free(t->buf.yt);
    cmanp_free(t);
}

int cmanp_trainer_set_threads(cmanp_trainer *t, int threads, cmanp_err *e) {
    if (threads < 1 || threads > CMANP_TRAIN_MAX_THREADS)
        return cmanp_err_set(e, CMANP_EINVAL, "threads = %d out of range (1..%d)", threads,
                             CMANP_TRAIN_MAX_THREADS);
    if (threads == t->o.threads) return CMANP_OK;
    cmanp_train *ws;
    cmanp_train_opts to = {threads, t->o.chunk};
    int rc = cmanp_train_new(t->m, &to, &ws, e);
    if (!rc) rc = cmanp_train_reserve(ws, t->o.batch, t->o.max_points, t->o.max_points, 1, e);
    if (rc) {
        cmanp_train_free(ws);
        return rc;
    }
    cmanp_train_free(t->ws);
    t->ws = ws;
    t->o.threads = threads;
    return CMANP_OK;
}

int64_t cmanp_trainer_steps_done(const cmanp_trainer *t) { return t->adam.t; }
const cmanp_trainer_opts *cmanp_trainer_options(const cmanp_trainer *t) { return &t->o; }
const cmanp_rng *cmanp_trainer_rng(const cmanp_trainer *t) { return &t->rng; }

const cmanp_model *cmanp_trainer_model(cmanp_trainer *t) {
    cmanp_model_refresh(t->m);
    return t->m;
}

/* ------------------------------------------------------------------- step */

typedef struct adam_ctx {
    cmanp_trainer *t;
    cmanp_adam_coef c;
} adam_ctx;

static void adam_range(void *p, size_t lo, size_t hi) {
    adam_ctx *a = p;
    cmanp_adam_apply(&a->t->adam, &a->c, a->t->m->params, a->t->grad, lo, hi);
}

int cmanp_trainer_step(cmanp_trainer *t, double *loss, cmanp_err *e) {
    if (t->adam.t >= t->o.steps)
        return cmanp_err_set(e, CMANP_EINVAL, "training is complete (%lld of %lld steps)",
                             (long long)t->adam.t, (long long)t->o.steps);
    cmanp_task_buf *b = &t->buf;
    b->n_tasks = 0;
    int rc = t->src.next(t->src.ctx, &t->rng, t->o.batch, b, e);
    if (rc) return cmanp_err_prefix(e, "task source");
    if (b->n_tasks != t->o.batch)
        return cmanp_err_set(e, CMANP_EINVAL, "task source gave %d tasks, expected %d",
                             b->n_tasks, t->o.batch);
    for (int i = 0; i < b->n_tasks; i++)
        if (b->nc[i] < 1 || b->nt[i] < 1 || b->nc[i] + b->nt[i] > b->cap_rows)
            return cmanp_err_set(e, CMANP_EINVAL,
                                 "task source: task %d has %d context and %d target rows (need "
                                 ">= 1 each, at most %d in total)",
                                 i, b->nc[i], b->nt[i], b->cap_rows);
    cmanp_batch batch = {b->n_tasks, b->nc, b->nt, b->xc, b->yc, b->xt, b->yt};
    double l;
    rc = cmanp_train_grad(t->ws, &batch, &l, t->grad, e);
    if (rc) return cmanp_err_prefix(e, "step %lld", (long long)t->adam.t);
    /* Adam is elementwise and memory-bound: split it over the lanes' threads
     * (the result does not depend on the split). */
    adam_ctx ac;
    ac.t = t;
    cmanp_adam_begin(&t->adam, t->grad, &ac.c);
    cmanp_parallel_for(t->o.threads, t->adam.n, adam_range, &ac);
    cmanp_adam_end(&t->adam);
    t->last_loss = l;
    if (loss) *loss = l;
    return CMANP_OK;
}

/* ------------------------------------------------------------- checkpoints */

/* The format tag and messages of CMANP checkpoints (docs/errors.md lists
 * them); F64 tensors are read in the float64 test build. */
static const cmanp_ckpt_kind k_ckpt = {
    "cmanp-checkpoint", "cmanp", "checkpoint", "'state' is not a JSON object",
    "unsupported state version", 1,
};

static cmanp_ckpt_vars ckpt_vars(cmanp_trainer *t) {
    return (cmanp_ckpt_vars){&t->m->layout, t->m->params, &t->adam, &t->rng, &t->last_loss,
                             t->o.steps};
}

int cmanp_trainer_save_checkpoint(cmanp_trainer *t, const char *path, cmanp_err *e) {
    char cfg[512], opts[2048];
    const cmanp_ckpt_vars v = ckpt_vars(t);
    const int fits = cmanp_config_to_json(&t->m->cfg, cfg, sizeof cfg) >= 0 &&
                     cmanp_trainer_opts_to_json(&t->o, opts, sizeof opts) >= 0;
    return cmanp_ckpt_write(&k_ckpt, &v, fits ? cfg : NULL, fits ? opts : NULL, path, e);
}

int cmanp_trainer_save_model(cmanp_trainer *t, const char *path, const char *note,
                             cmanp_err *e) {
    cmanp_model_refresh(t->m);
    return cmanp_model_save_file(t->m, note, path, e);
}

typedef struct resume_ctx {
    const cmanp_task_source *src;
    cmanp_trainer *t;
} resume_ctx;

static int resume_build(void *ctx, const char *options, cmanp_ckpt_vars *v, cmanp_err *e) {
    resume_ctx *r = ctx;
    cmanp_trainer_opts o;
    int rc = cmanp_trainer_opts_parse(&o, options, e);
    if (!rc) rc = setup(&r->t, &o, r->src, e);
    if (!rc) *v = ckpt_vars(r->t);
    return rc;
}

int cmanp_trainer_resume(const char *path, const cmanp_task_source *src, cmanp_trainer **out,
                         cmanp_err *e) {
    resume_ctx r = {src, NULL};
    *out = NULL;
    int rc = cmanp_ckpt_read(&k_ckpt, path, resume_build, &r, e);
    if (rc) {
        cmanp_trainer_free(r.t);
        return rc;
    }
    cmanp_model_refresh(r.t->m);
    *out = r.t;
    return CMANP_OK;
}

/* ------------------------------------------------------------------- loop */

static int loop_step(void *t, double *loss, cmanp_err *e) { return cmanp_trainer_step(t, loss, e); }

static int loop_save(void *t, const char *path, cmanp_err *e) {
    return cmanp_trainer_save_checkpoint(t, path, e);
}

int cmanp_trainer_run(cmanp_trainer *t, const cmanp_run_opts *r, cmanp_err *e) {
    const cmanp_loop l = {t, loop_step, loop_save, &t->adam, &t->last_loss, t->o.steps,
                          t->o.checkpoint_every};
    return cmanp_loop_run(&l, r, e);
}
