/* cmhp_trainer.c - CMHP training loop, Hawkes sequence source, checkpoints
 * (see cmhp_trainer.h).
 *
 * Spec (tests/unit/test_cmhp_trainer.c, items R*):
 *   R1. options JSON round trip; invalid options rejected;
 *   R2. N steps straight == k steps + checkpoint + resume + N - k steps, bit
 *       for bit (weights, Adam moments, generator);
 *   R3. checkpoints are written atomically and damaged ones are rejected;
 *   R4. training lowers the held-out NLL on hawkes1;
 *   R5. the saved model loads with cmhp_model_load_file and gives the same
 *       predictions.
 */
#include "cmhp_trainer.h"

#include <json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "hawkes.h"

struct cmhp_trainer {
    cmhp_trainer_opts o;
    cmhp_model *m;
    cmhp_train *ws;
    cmanp_adam adam;            /* adam.t = steps done */
    cmanp_rng rng;              /* the sequence stream */
    cmanp_real *grad;
    cmhp_seq_buf buf;
    cmhp_seq_source src;
    cmhp_hawkes_source hs;      /* the built-in source's settings */
    double last_loss;
};

/* ---------------------------------------------------------------- options */

void cmhp_trainer_defaults(cmhp_trainer_opts *o, const cmhp_config *cfg) {
    memset(o, 0, sizeof *o);
    if (cfg) o->model = *cfg;
    o->steps = 2000;
    o->batch = 8;
    o->lr = 1e-3;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->warmup = 100;
    o->clip_norm = 5.0;
    o->seed = 1;
    o->checkpoint_every = 100;
    snprintf(o->source, sizeof o->source, "hawkes1");
    o->t_end = 100.0;
    o->max_events = 4096;
    o->first_target = 0;
    o->chunk = CMHP_TRAIN_DEFAULT_CHUNK;
}

static int json_plain(const char *s) {
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) return 0;
    return 1;
}

int cmhp_trainer_opts_to_json(const cmhp_trainer_opts *o, char *buf, size_t cap) {
    char cfg[1024];
    if (cmhp_config_to_json(&o->model, cfg, sizeof cfg) < 0 || !json_plain(o->source)) return -1;
    int n = snprintf(buf, cap,
                     "{\"model\": %s, \"steps\": %lld, \"batch\": %d, \"lr\": %.17g, "
                     "\"weight_decay\": %.17g, \"beta1\": %.17g, \"beta2\": %.17g, \"eps\": %.17g, "
                     "\"warmup\": %lld, \"clip_norm\": %.17g, \"seed\": \"%llu\", "
                     "\"checkpoint_every\": %lld, \"source\": \"%s\", \"t_end\": %.17g, "
                     "\"max_events\": %d, \"first_target\": %d, \"chunk\": %d}",
                     cfg, (long long)o->steps, o->batch, o->lr, o->weight_decay, o->beta1, o->beta2,
                     o->eps, (long long)o->warmup, o->clip_norm, (unsigned long long)o->seed,
                     (long long)o->checkpoint_every, o->source, o->t_end, o->max_events,
                     o->first_target, o->chunk);
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

static int opts_validate(const cmhp_trainer_opts *o, cmanp_err *e) {
    int rc = cmhp_config_validate(&o->model, e);
    if (rc) return cmanp_err_prefix(e, "cmhp training options");
    if (o->steps < 1 || o->batch < 1 || o->batch > 65536 || o->warmup < 0 ||
        o->checkpoint_every < 0 || o->max_events < 1 || o->max_events > (1 << 20) ||
        o->first_target < 0 || o->chunk < 1 || o->chunk > 65536)
        return cmanp_err_set(e, CMANP_EINVAL,
                             "cmhp training options: need steps >= 1, 1 <= batch <= 65536, warmup "
                             ">= 0, checkpoint_every >= 0, 1 <= max_events <= 2^20, first_target "
                             ">= 0, 1 <= chunk <= 65536");
    if ((int64_t)o->batch * o->max_events > (1 << 26))
        return cmanp_err_set(e, CMANP_ERANGE, "cmhp training options: batch x max_events exceeds 2^26");
    if (!(o->lr >= 0) || !isfinite(o->lr) || !(o->weight_decay >= 0) || !isfinite(o->weight_decay) ||
        !(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) || !(o->eps >= 0) ||
        !isfinite(o->clip_norm) || !(o->t_end > 0) || !isfinite(o->t_end))
        return cmanp_err_set(e, CMANP_EINVAL,
                             "cmhp training options: lr, weight_decay, eps finite >= 0, betas in [0, "
                             "1), t_end finite > 0");
    if (!o->source[0] || !json_plain(o->source))
        return cmanp_err_set(e, CMANP_EINVAL,
                             "cmhp training options: source must be non-empty text without quotes "
                             "or backslashes");
    return CMANP_OK;
}

int cmhp_trainer_opts_parse(cmhp_trainer_opts *o, const char *json, cmanp_err *e) {
    memset(o, 0, sizeof *o);
    struct json_object *root = json ? json_tokener_parse(json) : NULL;
    int rc = CMANP_OK;
    static const char *const keys[] = {"model", "steps", "batch", "lr", "weight_decay", "beta1",
                                       "beta2", "eps", "warmup", "clip_norm", "seed",
                                       "checkpoint_every", "source", "t_end", "max_events",
                                       "first_target", "chunk"};
    const int nk = (int)(sizeof keys / sizeof keys[0]);
    if (!root || !json_object_is_type(root, json_type_object)) {
        rc = cmanp_err_set(e, CMANP_EFORMAT, "cmhp training options: not a JSON object");
        goto done;
    }
    json_object_object_foreach(root, key, val) {
        int i;
        for (i = 0; i < nk; i++)
            if (!strcmp(key, keys[i])) break;
        if (i == nk) {
            rc = cmanp_err_set(e, CMANP_EFORMAT, "cmhp training options: unexpected key '%s'", key);
            goto done;
        }
        (void)val;
    }
    for (int i = 0; i < nk; i++) {
        struct json_object *v;
        const char *k = keys[i];
        if (!json_object_object_get_ex(root, k, &v)) {
            rc = cmanp_err_set(e, CMANP_EFORMAT, "cmhp training options: missing key '%s'", k);
            goto done;
        }
        const int is_num = json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
        if (!strcmp(k, "model")) {
            if (!json_object_is_type(v, json_type_object)) goto bad;
            if ((rc = cmhp_config_parse(&o->model, json_object_to_json_string(v), e))) {
                cmanp_err_prefix(e, "cmhp training options");
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
                   !strcmp(k, "beta2") || !strcmp(k, "eps") || !strcmp(k, "clip_norm") ||
                   !strcmp(k, "t_end")) {
            if (!is_num) goto bad;
            double x = json_object_get_double(v);
            if (!strcmp(k, "lr")) o->lr = x;
            else if (!strcmp(k, "weight_decay")) o->weight_decay = x;
            else if (!strcmp(k, "beta1")) o->beta1 = x;
            else if (!strcmp(k, "beta2")) o->beta2 = x;
            else if (!strcmp(k, "eps")) o->eps = x;
            else if (!strcmp(k, "clip_norm")) o->clip_norm = x;
            else o->t_end = x;
        } else {
            if (!json_object_is_type(v, json_type_int)) goto bad;
            int64_t x = json_object_get_int64(v);
            if (!strcmp(k, "steps")) o->steps = x;
            else if (!strcmp(k, "warmup")) o->warmup = x;
            else if (!strcmp(k, "checkpoint_every")) o->checkpoint_every = x;
            else {
                if (x < INT32_MIN || x > INT32_MAX) goto bad;
                if (!strcmp(k, "batch")) o->batch = (int)x;
                else if (!strcmp(k, "max_events")) o->max_events = (int)x;
                else if (!strcmp(k, "first_target")) o->first_target = (int)x;
                else o->chunk = (int)x;
            }
        }
        continue;
    bad:
        rc = cmanp_err_set(e, CMANP_EFORMAT, "cmhp training options: '%s' has the wrong type or value",
                           k);
        goto done;
    }
    rc = opts_validate(o, e);
done:
    if (root) json_object_put(root);
    return rc;
}

/* ------------------------------------------------------------- the source */

int cmhp_hawkes_source_next(void *ctx, cmanp_rng *rng, int batch, cmhp_seq_buf *buf, cmanp_err *e) {
    const cmhp_hawkes_source *hs = ctx;
    if (batch > buf->cap_seq)
        return cmanp_err_set(e, CMANP_EINVAL, "hawkes source: batch %d exceeds the buffer (%d)",
                             batch, buf->cap_seq);
    const int cap = hs->max_events < buf->cap_events ? hs->max_events : buf->cap_events;
    for (int b = 0; b < batch; b++) {
        double *t = buf->t + (size_t)b * buf->cap_events;
        int *k = buf->k + (size_t)b * buf->cap_events;
        int n = 0, tries = 0, trunc;
        /* An empty window has no next-event term: draw again (for
         * hawkes_meta a new process too, so the stream stays a function of
         * the generator). */
        while (n == 0) {
            if (++tries > 1000)
                return cmanp_err_set(e, CMANP_EINVAL,
                                     "hawkes source: 1000 empty sequences in a row (t_end %g too "
                                     "short?)",
                                     hs->t_end);
            cmhp_hawkes p;
            int rc = cmhp_hawkes_preset(hs->name, rng, &p, e);
            if (!rc) rc = cmhp_hawkes_simulate(&p, 0.0, hs->t_end, rng, cap, t, k, &n, &trunc, e);
            if (rc) return rc;
        }
        /* Sequences are packed: sequence b starts right after b - 1. */
        buf->n[b] = n;
    }
    /* Pack in place: the source writes each sequence at its slot, the batch
     * wants them contiguous. */
    size_t off = 0;
    for (int b = 0; b < batch; b++) {
        if (off != (size_t)b * buf->cap_events) {
            memmove(buf->t + off, buf->t + (size_t)b * buf->cap_events, (size_t)buf->n[b] * sizeof(double));
            memmove(buf->k + off, buf->k + (size_t)b * buf->cap_events, (size_t)buf->n[b] * sizeof(int));
        }
        off += (size_t)buf->n[b];
    }
    buf->n_seq = batch;
    return CMANP_OK;
}

int cmhp_source_time_scale(const cmhp_seq_source *src, int n_seq, int cap_events, uint64_t seed,
                           double *out, cmanp_err *e) {
    cmhp_seq_buf b = {n_seq, cap_events, 0, NULL, NULL, NULL};
    b.n = cmanp_malloc((size_t)n_seq * sizeof(int));
    b.t = cmanp_malloc((size_t)n_seq * cap_events * sizeof(double));
    b.k = cmanp_malloc((size_t)n_seq * cap_events * sizeof(int));
    int rc = CMANP_OK;
    if (!b.n || !b.t || !b.k) {
        rc = cmanp_err_nomem(e);
        goto done;
    }
    cmanp_rng r;
    cmanp_rng_seed(&r, seed);
    if ((rc = src->next(src->ctx, &r, n_seq, &b, e))) goto done;
    double span = 0, cnt = 0;
    size_t off = 0;
    for (int s = 0; s < b.n_seq; s++) {
        /* Gaps from the origin: t_{-1} = 0 as the evaluation sets. */
        span += b.t[off + (size_t)b.n[s] - 1] - fmin(0.0, b.t[off]);
        cnt += b.n[s];
        off += (size_t)b.n[s];
    }
    *out = cnt > 0 && span > 0 ? span / cnt : 1.0;
done:
    cmanp_free(b.n);
    cmanp_free(b.t);
    cmanp_free(b.k);
    return rc;
}

/* --------------------------------------------------------------- lifecycle */

static int setup(cmhp_trainer **out, const cmhp_trainer_opts *o, const cmhp_seq_source *src,
                 cmanp_err *e) {
    *out = NULL;
    int rc = opts_validate(o, e);
    if (rc) return rc;
    if (!src && !cmhp_hawkes_is_preset(o->source))
        return cmanp_err_set(e, CMANP_EINVAL,
                             "cmhp training source '%s': expected hawkes1, hawkes2 or hawkes_meta "
                             "(or pass a custom source)",
                             o->source);
    if (!src) {
        const int K = !strcmp(o->source, "hawkes_meta") ? 3 : 1;
        if (o->model.num_marks < K)
            return cmanp_err_set(e, CMANP_EINVAL,
                                 "cmhp training: source %s has %d marks, the model only %d",
                                 o->source, K, o->model.num_marks);
    }
    cmhp_trainer *t = cmanp_calloc(1, sizeof *t);
    if (!t) return cmanp_err_nomem(e);
    t->o = *o;
    t->last_loss = NAN;
    if (src) {
        t->src = *src;
    } else {
        snprintf(t->hs.name, sizeof t->hs.name, "%s", o->source);
        t->hs.t_end = o->t_end;
        t->hs.max_events = o->max_events;
        t->src.next = cmhp_hawkes_source_next;
        t->src.ctx = &t->hs;
    }
    if ((rc = cmhp_model_new(&t->m, &o->model, e))) goto fail;
    const size_t np = t->m->layout.n_params;
    cmanp_adam_opts ao = {o->lr, o->beta1, o->beta2, o->eps, o->weight_decay, o->steps, o->warmup,
                          o->clip_norm};
    if ((rc = cmanp_adam_init(&t->adam, &ao, np, e))) goto fail;
    t->grad = cmanp_malloc(np * sizeof(cmanp_real));
    t->buf.cap_seq = o->batch;
    t->buf.cap_events = o->max_events;
    t->buf.n = cmanp_malloc((size_t)o->batch * sizeof(int));
    t->buf.t = cmanp_malloc((size_t)o->batch * o->max_events * sizeof(double));
    t->buf.k = cmanp_malloc((size_t)o->batch * o->max_events * sizeof(int));
    if (!t->grad || !t->buf.n || !t->buf.t || !t->buf.k) {
        rc = cmanp_err_nomem(e);
        goto fail;
    }
    if ((rc = cmhp_train_new(t->m, o->chunk, &t->ws, e))) goto fail;
    cmanp_rng_seed(&t->rng, o->seed);
    *out = t;
    return CMANP_OK;
fail:
    cmhp_trainer_free(t);
    return rc;
}

int cmhp_trainer_new(const cmhp_trainer_opts *o, const cmhp_model *init,
                     const cmhp_seq_source *src, cmhp_trainer **out, cmanp_err *e) {
    cmhp_trainer *t;
    int rc = setup(&t, o, src, e);
    if (rc) return rc;
    if (init) {
        if (memcmp(&init->cfg, &o->model, sizeof init->cfg) != 0) {
            cmhp_trainer_free(t);
            return cmanp_err_set(e, CMANP_EMISMATCH,
                                 "initial model's configuration differs from the training options");
        }
        memcpy(t->m->params, init->params, t->m->layout.n_params * sizeof(cmanp_real));
        cmhp_model_refresh(t->m);
    } else {
        cmhp_model_init(t->m, o->seed);
    }
    *out = t;
    return CMANP_OK;
}

void cmhp_trainer_free(cmhp_trainer *t) {
    if (!t) return;
    cmhp_train_free(t->ws);
    cmanp_adam_free(&t->adam);
    cmhp_model_free(t->m);
    cmanp_free(t->grad);
    cmanp_free(t->buf.n);
    cmanp_free(t->buf.t);
    cmanp_free(t->buf.k);
    cmanp_free(t);
}

int64_t cmhp_trainer_steps_done(const cmhp_trainer *t) { return t->adam.t; }
const cmhp_trainer_opts *cmhp_trainer_options(const cmhp_trainer *t) { return &t->o; }
const cmhp_model *cmhp_trainer_model(cmhp_trainer *t) {
    cmhp_model_refresh(t->m);
    return t->m;
}

int cmhp_trainer_step(cmhp_trainer *t, double *loss, cmanp_err *e) {
    if (t->adam.t >= t->o.steps)
        return cmanp_err_set(e, CMANP_EINVAL, "cmhp training is complete (%lld of %lld steps)",
                             (long long)t->adam.t, (long long)t->o.steps);
    cmhp_seq_buf *b = &t->buf;
    b->n_seq = 0;
    int rc = t->src.next(t->src.ctx, &t->rng, t->o.batch, b, e);
    if (rc) return cmanp_err_prefix(e, "sequence source");
    if (b->n_seq != t->o.batch)
        return cmanp_err_set(e, CMANP_EINVAL, "sequence source gave %d sequences, expected %d",
                             b->n_seq, t->o.batch);
    for (int i = 0; i < b->n_seq; i++)
        if (b->n[i] < 1 || b->n[i] > b->cap_events)
            return cmanp_err_set(e, CMANP_EINVAL,
                                 "sequence source: sequence %d has %d events (expected 1..%d)", i,
                                 b->n[i], b->cap_events);
    cmhp_batch batch = {b->n_seq, b->n, b->t, b->k, t->o.first_target};
    double l;
    rc = cmhp_train_grad(t->ws, &batch, &l, t->grad, e);
    if (rc) return cmanp_err_prefix(e, "step %lld", (long long)t->adam.t);
    cmanp_adam_step(&t->adam, t->m->params, t->grad, NULL);
    /* The scan reads the data-independent queries from the model's constants. */
    cmhp_model_refresh(t->m);
    t->last_loss = l;
    if (loss) *loss = l;
    return CMANP_OK;
}

/* ------------------------------------------------------------- checkpoints */

/* CMHP checkpoints: their own format tag and messages; tensors exactly in
 * cmanp_real's dtype. */
static const cmanp_ckpt_kind k_ckpt = {
    "cmhp-checkpoint", "cmhp", "cmhp checkpoint", "'state' missing or of another version",
    "'state' missing or of another version", 0,
};

static cmanp_ckpt_vars ckpt_vars(cmhp_trainer *t) {
    return (cmanp_ckpt_vars){&t->m->layout, t->m->params, &t->adam, &t->rng, &t->last_loss,
                             t->o.steps};
}

int cmhp_trainer_save_checkpoint(cmhp_trainer *t, const char *path, cmanp_err *e) {
    /* The options carry a model config of up to 1 KiB: on the heap. */
    char cfg[1024], *opts = cmanp_malloc(4096);
    if (!opts) return cmanp_err_nomem(e);
    const cmanp_ckpt_vars v = ckpt_vars(t);
    const int fits = cmhp_config_to_json(&t->m->cfg, cfg, sizeof cfg) >= 0 &&
                     cmhp_trainer_opts_to_json(&t->o, opts, 4096) >= 0;
    int rc = cmanp_ckpt_write(&k_ckpt, &v, fits ? cfg : NULL, fits ? opts : NULL, path, e);
    cmanp_free(opts);
    return rc;
}

int cmhp_trainer_save_model(cmhp_trainer *t, const char *path, const char *note, cmanp_err *e) {
    cmhp_model_refresh(t->m);
    return cmhp_model_save_file(t->m, note, path, e);
}

typedef struct resume_ctx {
    const cmhp_seq_source *src;
    cmhp_trainer *t;
} resume_ctx;

static int resume_build(void *ctx, const char *options, cmanp_ckpt_vars *v, cmanp_err *e) {
    resume_ctx *r = ctx;
    cmhp_trainer_opts o;
    int rc = cmhp_trainer_opts_parse(&o, options, e);
    if (!rc) rc = setup(&r->t, &o, r->src, e);
    if (!rc) *v = ckpt_vars(r->t);
    return rc;
}

int cmhp_trainer_resume(const char *path, const cmhp_seq_source *src, cmhp_trainer **out,
                        cmanp_err *e) {
    resume_ctx r = {src, NULL};
    *out = NULL;
    int rc = cmanp_ckpt_read(&k_ckpt, path, resume_build, &r, e);
    if (rc) {
        cmhp_trainer_free(r.t);
        return rc;
    }
    cmhp_model_refresh(r.t->m);
    *out = r.t;
    return CMANP_OK;
}

/* -------------------------------------------------------------------- loop */

static int loop_step(void *t, double *loss, cmanp_err *e) { return cmhp_trainer_step(t, loss, e); }

static int loop_save(void *t, const char *path, cmanp_err *e) {
    return cmhp_trainer_save_checkpoint(t, path, e);
}

int cmhp_trainer_run(cmhp_trainer *t, const cmhp_run_opts *r, cmanp_err *e) {
    const cmanp_loop l = {t, loop_step, loop_save, &t->adam, &t->last_loss, t->o.steps,
                          t->o.checkpoint_every};
    return cmanp_loop_run(&l, r, e);
}
