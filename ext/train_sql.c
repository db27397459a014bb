/* train_sql.c - cmanp_train: meta-training from SQL, with durable
 * checkpoints in the database.
 *
 *   SELECT cmanp_train('mine', '{"steps": 2000, "batch": 16, "lr": 5e-4}');
 *   SELECT cmanp_train('mine', '{"config": {...}, "steps": 500}',
 *                      'SELECT sensor, x, y FROM readings');
 *
 * Specification (tests: tests/sql/train.sql T*, tests/sql/train_errors.sql,
 * tests/sql/test_train_kill.c K*):
 *
 * T1. cmanp_train(model, options [, tasks_sql]) trains the model named
 *     `model` with the engine's trainer (engine/trainer.h) and returns a JSON
 *     summary.  Without tasks_sql the tasks come from the GP prior (option
 *     "kernel"); with it, from the query (T6).  DIRECTONLY: it writes tables
 *     and runs SQL text.
 * T2. options is a JSON object; its keys mirror cmanp-train's flags: config
 *     (a model configuration object, every key), steps, batch, lr,
 *     weight_decay, seed, checkpoint_every, kernel, max_points, min_ctx,
 *     warmup, clip, threads, chunk, and per call: until, progress,
 *     report_every, init.  Defaults are the CLI's (the paper's GP setup,
 *     threads 2).  Every key is checked (type and range) and an error names
 *     the key, what was expected and what was found; unknown keys and keys
 *     given twice are errors.
 * T3. Checkpoints live in main.cmanp_checkpoints(name TEXT PRIMARY KEY, step
 *     INTEGER, steps INTEGER, checkpoint BLOB, options TEXT, loss REAL,
 *     updated TEXT), created on first use.  `checkpoint` holds the bytes of
 *     an engine checkpoint file (weights, Adam moments, step, generator
 *     state; cmanp_trainer_save_checkpoint), so writefile() of it gives a
 *     file that cmanp-train --checkpoint continues (GP sources).  A
 *     checkpoint is written, in its own committed transaction, every
 *     checkpoint_every steps, and when the call stops (end, `until`, or a
 *     failed step after progress).  Killing the process loses at most
 *     checkpoint_every steps.
 * T4. Because every checkpoint must commit on its own, cmanp_train refuses
 *     to run inside an open transaction (BEGIN ... COMMIT, SAVEPOINT) or
 *     from a statement that writes (INSERT ... SELECT cmanp_train(...)).
 * T5. A call with a checkpoint row for `model` continues that run
 *     (start_step > 0): its options come from the checkpoint; options given
 *     again must agree (an error names the first key that differs), except
 *     threads, which may change (the summary then has a note: the bits then
 *     differ from an uninterrupted run), and the per-call keys.  Continuing
 *     gives bit-identical weights to an uninterrupted run.  At the end (all
 *     steps, or `until`) the weights go into main.cmanp_models under `model`
 *     (the model cache sees the new row), in the same transaction as the
 *     last checkpoint.  A finished run's checkpoint stays: calling again
 *     runs no step and writes the same model again.
 * T6. tasks_sql is one read-only query returning (task, x1..x_dx,
 *     y1..y_dy): task an INTEGER or TEXT id, the values finite numbers within
 *     float32's range; rows with a NULL value are skipped and counted.  The
 *     rows are read once into memory (4 (dim_x + dim_y) bytes per row, about
 *     40 more per row while loading; at most 2^24 rows) and each task is the
 *     set of its rows: rows are sorted, so the order the query returns them
 *     in does not matter.  Tasks with fewer than min_ctx + 1 rows are skipped
 *     (counted).  Each step draws `batch` tasks uniformly with replacement;
 *     a task keeps min(n, max_points) of its n rows drawn at random, in
 *     random order; the first nc, nc uniform on {min_ctx .. m - 1}, are the
 *     context, the others the targets.  All randomness comes from the
 *     trainer's generator, so runs continue bit-identically.  The data's hash
 *     is the run's source name ("sql:<16 hex digits>"): continuing with a
 *     query that returns other data is an error.
 * T7. A new run must give "steps" (so that a call meant to continue a run,
 *     e.g. under a misspelt name, cannot start the default 100000 steps).
 *     A new run whose name is already in cmanp_models (without a
 *     checkpoint) is refused unless "init" names a registry model to start
 *     from (its configuration is used when "config" is absent, and must
 *     match otherwise).
 * T8. Progress (step, loss, lr, steps/s, ETA) goes to stderr when stderr is
 *     a terminal or with "progress": true ("progress": false silences it).
 *     sqlite3_interrupt (Ctrl-C in the shell) stops at the next step
 *     boundary with SQLITE_INTERRUPT; the last checkpoint is kept (the
 *     interrupted statement cannot write another).  The check is a tiny
 *     statement (SELECT 1) run before each step, so a progress handler
 *     that returns non-zero stops the run too (it is consulted as that
 *     statement's VM instructions add up: about every N / 4 steps for a
 *     handler every N instructions).
 * T9. The summary: {"model", "source", "step", "steps", "start_step",
 *     "steps_run", "complete", "loss", "loss_avg", "seconds", "steps_per_s",
 *     "checkpoints", "checkpoint_step", "fingerprint", "n_params", "options"}
 *     plus "tasks", "tasks_skipped", "rows", "null_rows" for SQL tasks and
 *     "note" when threads changed.  "loss" is the last step's loss,
 *     "loss_avg" the mean over the steps of this call (null when none ran).
 *
 * Checkpoint bytes go through a private temporary directory (SQLITE_TMPDIR,
 * TMPDIR or /tmp): the engine writes and reads checkpoints as files.  It is
 * removed when the call returns.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, fileno */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmanp_ext.h"
#include "trainer.h"

#define FN "cmanp_train"
#define CKPT_TABLE "main.cmanp_checkpoints"
#define REGISTRY "main.cmanp_models"
#define MAX_SQL_ROWS (1 << 24)
#define I40 ((int64_t)1 << 40)

/* ---------------------------------------------------------------- options */

enum { K_OBJ, K_INT, K_NUM, K_SEED, K_TEXT, K_BOOL };

enum {
    O_CONFIG, O_STEPS, O_BATCH, O_LR, O_WD, O_SEED, O_CKEVERY, O_KERNEL, O_MAXP, O_MINC, O_WARMUP,
    O_CLIP, O_THREADS, O_CHUNK, O_UNTIL, O_PROGRESS, O_REPORT, O_INIT, O_N
};

static const struct okey {
    const char *name;
    int type;
    int64_t lo, hi;
    int per_call; /* not part of the run: need not agree with a checkpoint */
} k_keys[O_N] = {
    [O_CONFIG] = {"config", K_OBJ, 0, 0, 0},
    [O_STEPS] = {"steps", K_INT, 1, I40, 0},
    [O_BATCH] = {"batch", K_INT, 1, 1 << 20, 0},
    [O_LR] = {"lr", K_NUM, 0, 0, 0},
    [O_WD] = {"weight_decay", K_NUM, 0, 0, 0},
    [O_SEED] = {"seed", K_SEED, 0, 0, 0},
    [O_CKEVERY] = {"checkpoint_every", K_INT, 0, I40, 0},
    [O_KERNEL] = {"kernel", K_TEXT, 0, 0, 0},
    [O_MAXP] = {"max_points", K_INT, 2, 1 << 20, 0},
    [O_MINC] = {"min_ctx", K_INT, 1, 1 << 20, 0},
    [O_WARMUP] = {"warmup", K_INT, 0, I40, 0},
    [O_CLIP] = {"clip", K_NUM, 0, 0, 0},
    [O_THREADS] = {"threads", K_INT, 1, CMANP_TRAIN_MAX_THREADS, 1},
    [O_CHUNK] = {"chunk", K_INT, 1, 1 << 20, 0},
    [O_UNTIL] = {"until", K_INT, 1, I40, 1},
    [O_PROGRESS] = {"progress", K_BOOL, 0, 0, 1},
    [O_REPORT] = {"report_every", K_INT, 1, I40, 1},
    [O_INIT] = {"init", K_TEXT, 0, 0, 1},
};

typedef struct topts {
    cmanp_trainer_opts o;   /* defaults, then the given keys */
    unsigned given;         /* 1 << O_* */
    char kernel[16];
    char *init;             /* sqlite3_malloc'd */
    int64_t until;
    int progress;           /* -1: when stderr is a terminal */
    int64_t report_every;   /* 0: 1 on a terminal, else 100 */
} topts;

static char *opt_err(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static char *opt_err(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *body = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    if (!body) return NULL;
    char *m = cx_arg_errmsg(FN, 2, "options", "%s", body);
    sqlite3_free(body);
    return m;
}

/* A JSON value (json_each's type and value columns) for messages. */
static char *describe_json(const char *type, sqlite3_value *v) {
    if (!strcmp(type, "integer")) return sqlite3_mprintf("%lld", sqlite3_value_int64(v));
    if (!strcmp(type, "real")) return sqlite3_mprintf("%!.15g", sqlite3_value_double(v));
    if (!strcmp(type, "text")) {
        const char *t = (const char *)sqlite3_value_text(v);
        if (!t) return NULL;
        if (strlen(t) > 24) return sqlite3_mprintf("the string '%!.21q...'", t);
        return sqlite3_mprintf("the string '%q'", t);
    }
    if (!strcmp(type, "object")) return sqlite3_mprintf("an object");
    if (!strcmp(type, "array")) return sqlite3_mprintf("an array");
    return sqlite3_mprintf("%s", type); /* true, false, null */
}

/* One key's value into *t.  NULL or an error message (*oom on OOM). */
static char *set_key(topts *t, int k, const char *type, sqlite3_value *v, int *oom) {
    const struct okey *K = &k_keys[k];
    const char *expect = NULL;
    char range[96];
    int is_int = !strcmp(type, "integer"), is_num = is_int || !strcmp(type, "real");
    cmanp_trainer_opts *o = &t->o;
    switch (K->type) {
    case K_OBJ: {
        if (strcmp(type, "object") != 0) {
            expect = "a model configuration object";
            break;
        }
        cmanp_err e = {0};
        if (cmanp_config_parse(&o->model, (const char *)sqlite3_value_text(v), &e)) {
            if (e.code == CMANP_ENOMEM) {
                *oom = 1;
                return NULL;
            }
            return opt_err("'config': %s", e.msg);
        }
        return NULL;
    }
    case K_INT: {
        sqlite3_int64 x = is_int ? sqlite3_value_int64(v) : 0;
        if (!is_int || x < K->lo || x > K->hi) {
            sqlite3_snprintf(sizeof range, range, "an integer in %lld..%lld", (long long)K->lo,
                             (long long)K->hi);
            expect = range;
            break;
        }
        switch (k) {
        case O_STEPS: o->steps = x; break;
        case O_BATCH: o->batch = (int)x; break;
        case O_CKEVERY: o->checkpoint_every = x; break;
        case O_MAXP: o->max_points = (int)x; break;
        case O_MINC: o->min_ctx = (int)x; break;
        case O_WARMUP: o->warmup = x; break;
        case O_THREADS: o->threads = (int)x; break;
        case O_CHUNK: o->chunk = (int)x; break;
        case O_UNTIL: t->until = x; break;
        case O_REPORT: t->report_every = x; break;
        }
        return NULL;
    }
    case K_NUM: {
        double d = is_num ? sqlite3_value_double(v) : -1.0;
        if (!is_num || !(d >= 0) || !isfinite(d)) {
            expect = "a finite number >= 0";
            break;
        }
        if (k == O_LR) o->lr = d;
        else if (k == O_WD) o->weight_decay = d;
        else o->clip_norm = d;
        return NULL;
    }
    case K_SEED: {
        if (is_int && sqlite3_value_int64(v) >= 0) {
            o->seed = (uint64_t)sqlite3_value_int64(v);
            return NULL;
        }
        const char *s = !strcmp(type, "text") ? (const char *)sqlite3_value_text(v) : NULL;
        if (s && *s && strlen(s) <= 20 && strspn(s, "0123456789") == strlen(s)) {
            char *end;
            errno = 0;
            unsigned long long u = strtoull(s, &end, 10);
            if (!errno && !*end) {
                o->seed = (uint64_t)u;
                return NULL;
            }
        }
        expect = "an integer >= 0 or a string of decimal digits (up to 2^64 - 1)";
        break;
    }
    case K_TEXT: {
        const char *s = !strcmp(type, "text") ? (const char *)sqlite3_value_text(v) : NULL;
        if (k == O_KERNEL) {
            if (!s || (strcmp(s, "rbf") && strcmp(s, "matern") && strcmp(s, "periodic"))) {
                expect = "'rbf', 'matern' or 'periodic'";
                break;
            }
            sqlite3_snprintf(sizeof t->kernel, t->kernel, "%s", s);
        } else {
            if (!s || !*s) {
                expect = "a model name (non-empty string)";
                break;
            }
            sqlite3_free(t->init);
            if (!(t->init = sqlite3_mprintf("%s", s))) *oom = 1;
        }
        return NULL;
    }
    case K_BOOL:
        if (strcmp(type, "true") && strcmp(type, "false")) {
            expect = "true or false";
            break;
        }
        t->progress = !strcmp(type, "true");
        return NULL;
    }
    char *what = describe_json(type, v);
    char *m = opt_err("'%s': expected %s, found %s", K->name, expect, what ? what : "?");
    sqlite3_free(what);
    return m;
}

/* Parse argument 2.  SQLITE_OK, or an error code with *err set (NULL: OOM). */
static int parse_options(sqlite3 *db, sqlite3_value *arg, topts *t, char **err) {
    *err = NULL;
    memset(t, 0, sizeof *t);
    cmanp_trainer_defaults(&t->o, NULL);
    t->o.threads = 2; /* as cmanp-train */
    snprintf(t->kernel, sizeof t->kernel, "rbf");
    t->progress = -1;
    if (sqlite3_value_type(arg) != SQLITE_TEXT) {
        char *what = cx_describe_value(arg);
        *err = opt_err("expected a JSON object (TEXT), found %s", what ? what : "?");
        sqlite3_free(what);
        return SQLITE_ERROR;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT json_valid(?1), "
                                "CASE WHEN json_valid(?1) THEN json_type(?1) IS 'object' END",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_value(st, 1, arg);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_ROW) {
        *err = rc == SQLITE_NOMEM ? NULL : opt_err("%s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
    }
    int valid = sqlite3_column_int(st, 0), object = sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    if (!valid || !object) {
        char *what = cx_describe_value(arg);
        *err = opt_err("expected a JSON object, found %s%s", valid ? "" : "malformed JSON ",
                       what ? what : "?");
        sqlite3_free(what);
        return SQLITE_ERROR;
    }
    rc = sqlite3_prepare_v2(db, "SELECT key, type, value FROM json_each(?1)", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        *err = rc == SQLITE_NOMEM ? NULL : opt_err("%s", sqlite3_errmsg(db));
        return rc;
    }
    sqlite3_bind_value(st, 1, arg);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        const char *type = (const char *)sqlite3_column_text(st, 1);
        if (!key || !type) {
            rc = SQLITE_NOMEM;
            break;
        }
        int k;
        for (k = 0; k < O_N; k++)
            if (!strcmp(key, k_keys[k].name)) break;
        if (k == O_N) {
            sqlite3_str *s = sqlite3_str_new(NULL);
            for (int j = 0; j < O_N; j++) sqlite3_str_appendf(s, "%s%s", j ? ", " : "", k_keys[j].name);
            char *list = sqlite3_str_finish(s);
            *err = list ? opt_err("unknown key '%s' (expected one of: %s)", key, list) : NULL;
            sqlite3_free(list);
            rc = *err ? SQLITE_ERROR : SQLITE_NOMEM;
            break;
        }
        if (t->given & (1u << k)) {
            *err = opt_err("key '%s' is given twice", key);
            rc = SQLITE_ERROR;
            break;
        }
        t->given |= 1u << k;
        int oom = 0;
        *err = set_key(t, k, type, sqlite3_column_value(st, 2), &oom);
        if (oom) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (*err) {
            rc = SQLITE_ERROR;
            break;
        }
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    else if (rc != SQLITE_ERROR && rc != SQLITE_NOMEM && !*err)
        *err = opt_err("%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (rc == SQLITE_NOMEM) {
        sqlite3_free(*err);
        *err = NULL;
    }
    if (rc == SQLITE_OK) snprintf(t->o.source, sizeof t->o.source, "gp:%s", t->kernel);
    return rc;
}

/* ------------------------------------------------------- SQL task source */

typedef struct sql_src {
    int dx, dy, W;
    int min_ctx, max_points;
    int64_t n_tasks;          /* usable tasks */
    int64_t *off;             /* (n_tasks + 1) row offsets into v */
    float *v;                 /* rows of the usable tasks, W floats each, task by task */
    int64_t rows, null_rows, tasks_total, tasks_skipped;
    uint64_t hash;
    /* sampling scratch: a virtual Fisher-Yates shuffle (only the swapped
     * positions are stored, so a draw costs O(max_points), not O(n)) */
    int64_t *pick;            /* (max_points) */
    int64_t *hk, *hv;         /* open addressing, hcap slots, key -1 = empty */
    int64_t *used;            /* slots touched by the current draw */
    int hcap, n_used;
} sql_src;

static void sql_src_free(sql_src *s) {
    if (!s) return;
    sqlite3_free(s->off);
    sqlite3_free(s->v);
    sqlite3_free(s->pick);
    sqlite3_free(s->hk);
    sqlite3_free(s->hv);
    sqlite3_free(s->used);
    memset(s, 0, sizeof *s);
}

static int64_t *slot(sql_src *s, int64_t key) {
    uint64_t h = ((uint64_t)key * 0x9E3779B97F4A7C15ull) >> 17;
    for (int i = (int)(h & (uint64_t)(s->hcap - 1));; i = (i + 1) & (s->hcap - 1))
        if (s->hk[i] == key || s->hk[i] < 0) return &s->hk[i];
}

static int64_t vget(sql_src *s, int64_t k) {
    int64_t *p = slot(s, k);
    return *p < 0 ? k : s->hv[p - s->hk];
}

static void vset(sql_src *s, int64_t k, int64_t val) {
    int64_t *p = slot(s, k);
    if (*p < 0) {
        *p = k;
        s->used[s->n_used++] = p - s->hk;
    }
    s->hv[p - s->hk] = val;
}

static int sql_next(void *ctx, cmanp_rng *rng, int batch, cmanp_task_buf *buf, cmanp_err *e) {
    sql_src *s = ctx;
    if (batch > buf->cap_tasks)
        return cmanp_err_set(e, CMANP_EINVAL, "SQL source: batch %d exceeds the buffer (%d)", batch,
                             buf->cap_tasks);
    const int cap = s->max_points < buf->cap_rows ? s->max_points : buf->cap_rows;
    const int dx = s->dx, dy = s->dy, W = s->W;
    size_t oc = 0, ot = 0;
    for (int b = 0; b < batch; b++) {
        int64_t k = cmanp_rng_int(rng, 0, s->n_tasks - 1);
        int64_t first = s->off[k], n = s->off[k + 1] - first;
        int m = n < cap ? (int)n : cap;
        int nc = (int)cmanp_rng_int(rng, s->min_ctx, m - 1);
        for (int i = 0; i < m; i++) {
            int64_t j = cmanp_rng_int(rng, i, n - 1);
            int64_t vi = vget(s, i), vj = vget(s, j);
            vset(s, j, vi);
            s->pick[i] = vj;
        }
        for (int i = 0; i < s->n_used; i++) s->hk[s->used[i]] = -1;
        s->n_used = 0;
        for (int i = 0; i < m; i++) {
            const float *row = s->v + (size_t)(first + s->pick[i]) * (size_t)W;
            if (i < nc) {
                memcpy(buf->xc + oc * dx, row, sizeof(float) * (size_t)dx);
                memcpy(buf->yc + oc * dy, row + dx, sizeof(float) * (size_t)dy);
                oc++;
            } else {
                memcpy(buf->xt + ot * dx, row, sizeof(float) * (size_t)dx);
                memcpy(buf->yt + ot * dy, row + dx, sizeof(float) * (size_t)dy);
                ot++;
            }
        }
        buf->nc[b] = nc;
        buf->nt[b] = m - nc;
    }
    buf->n_tasks = batch;
    return CMANP_OK;
}

/* Loading: rows with their task keys, sorted into tasks. */
typedef struct lrow {
    int64_t key;      /* INTEGER task id, or offset of a TEXT id in the arena */
    int64_t row;      /* index into the values */
    int kind;         /* 0 INTEGER, 1 TEXT */
    int len;          /* TEXT length */
} lrow;

typedef struct load_ctx {
    const char *arena;
    const float *v;
    int W;
} load_ctx;

static int cmp_float_rows(const float *a, const float *b, int W) {
    for (int k = 0; k < W; k++) {
        if (a[k] < b[k]) return -1;
        if (a[k] > b[k]) return 1;
        uint32_t ua, ub;
        memcpy(&ua, &a[k], 4);
        memcpy(&ub, &b[k], 4);
        if (ua != ub) return ua < ub ? -1 : 1; /* -0 vs 0 */
    }
    return 0;
}

/* Total order: task (INTEGER ids before TEXT ids), then the row's values. */
static int cmp_lrow(const load_ctx *L, const lrow *a, const lrow *b) {
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    if (a->kind == 0) {
        if (a->key != b->key) return a->key < b->key ? -1 : 1;
    } else {
        int n = a->len < b->len ? a->len : b->len;
        int c = memcmp(L->arena + a->key, L->arena + b->key, (size_t)n);
        if (c) return c;
        if (a->len != b->len) return a->len < b->len ? -1 : 1;
    }
    int c = cmp_float_rows(L->v + (size_t)a->row * L->W, L->v + (size_t)b->row * L->W, L->W);
    if (c) return c;
    return a->row < b->row ? -1 : a->row > b->row;
}

/* Bottom-up merge sort of r (n) with scratch tmp (n); the result is in r. */
static void sort_rows(const load_ctx *L, lrow *r, lrow *tmp, int64_t n) {
    lrow *src = r, *dst = tmp;
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) dst[k++] = cmp_lrow(L, &src[j], &src[i]) < 0 ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        lrow *t = src;
        src = dst;
        dst = t;
    }
    if (src != r) memcpy(r, src, sizeof *r * (size_t)n);
}

static int same_task(const lrow *a, const lrow *b, const char *arena) {
    if (a->kind != b->kind) return 0;
    if (a->kind == 0) return a->key == b->key;
    return a->len == b->len && memcmp(arena + a->key, arena + b->key, (size_t)a->len) == 0;
}

static char *src_err(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static char *src_err(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *body = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    if (!body) return NULL;
    char *m = cx_arg_errmsg(FN, 3, "tasks_sql", "%s", body);
    sqlite3_free(body);
    return m;
}

static int grow(void **p, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return 0;
    int64_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    void *q = sqlite3_realloc64(*p, (sqlite3_uint64)c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int load_source(sqlite3 *db, const char *sql, const cmanp_trainer_opts *o, sql_src *s,
                       char **err) {
    memset(s, 0, sizeof *s);
    *err = NULL;
    const int dx = o->model.dim_x, dy = o->model.dim_y, W = dx + dy;
    s->dx = dx;
    s->dy = dy;
    s->W = W;
    s->min_ctx = o->min_ctx;
    s->max_points = o->max_points;
    if (o->max_points < o->min_ctx + 1) {
        *err = opt_err("'max_points' (%d) must be at least min_ctx + 1 (%d) for SQL tasks",
                       o->max_points, o->min_ctx + 1);
        return SQLITE_ERROR;
    }
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    lrow *rows = NULL;
    float *vals = NULL;
    char *arena = NULL;
    int64_t cap_rows = 0, cap_vals = 0, cap_arena = 0, n = 0, n_arena = 0;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, &tail);
    if (rc != SQLITE_OK) {
        *err = rc == SQLITE_NOMEM ? NULL : src_err("%s", sqlite3_errmsg(db));
        goto done;
    }
    if (!st) {
        *err = src_err("expected a query, found no SQL statement");
        rc = SQLITE_ERROR;
        goto done;
    }
    while (tail && (*tail == ' ' || *tail == '\t' || *tail == '\n' || *tail == '\r' || *tail == ';'))
        tail++;
    if (tail && *tail) {
        *err = src_err("expected one query, found more SQL after it: '%.24s'", tail);
        rc = SQLITE_ERROR;
        goto done;
    }
    if (!sqlite3_stmt_readonly(st)) {
        *err = src_err("expected a query that only reads (SELECT, WITH, VALUES), found a statement "
                       "that writes");
        rc = SQLITE_ERROR;
        goto done;
    }
    if (sqlite3_column_count(st) != 1 + W) {
        char *args = cx_arg_list("task", dx, dy);
        *err = args ? src_err("expected %d columns (%s) for dim_x = %d, dim_y = %d, found %d", 1 + W,
                              args, dx, dy, sqlite3_column_count(st))
                    : NULL;
        sqlite3_free(args);
        rc = SQLITE_ERROR;
        goto done;
    }
    float row[128]; /* dim_x, dim_y <= 64 (cmanp_config_validate) */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t rix = s->rows + s->null_rows + 1; /* 1-based, for messages */
        int kt = sqlite3_column_type(st, 0);
        if (kt != SQLITE_INTEGER && kt != SQLITE_TEXT) {
            char *what = cx_describe_value(sqlite3_column_value(st, 0));
            *err = src_err("row %lld, column task: expected an INTEGER or TEXT task id, found %s",
                           (long long)rix, what ? what : "?");
            sqlite3_free(what);
            rc = SQLITE_ERROR;
            goto done;
        }
        int skip = 0;
        for (int k = 0; k < W; k++) {
            double d = 0;
            char *verr = NULL;
            int r2 = cx_value_number(sqlite3_column_value(st, 1 + k), 1, &d, &verr);
            if (r2 < 0) {
                char nm[16];
                cx_xy_name(nm, sizeof nm, k, dx);
                *err = verr ? src_err("row %lld, column %s: %s", (long long)rix, nm, verr) : NULL;
                sqlite3_free(verr);
                rc = SQLITE_ERROR;
                goto done;
            }
            if (r2 == CX_VAL_NULL) skip = 1;
            row[k] = (float)d;
        }
        if (skip) {
            s->null_rows++;
            continue;
        }
        if (n >= MAX_SQL_ROWS) {
            *err = src_err("more than %d rows (the limit of rows held in memory)", MAX_SQL_ROWS);
            rc = SQLITE_ERROR;
            goto done;
        }
        if (grow((void **)&rows, &cap_rows, n + 1, sizeof *rows) ||
            grow((void **)&vals, &cap_vals, (n + 1) * W, sizeof *vals)) {
            rc = SQLITE_NOMEM;
            goto done;
        }
        lrow *r = &rows[n];
        r->row = n;
        r->kind = kt == SQLITE_TEXT;
        r->len = 0;
        if (kt == SQLITE_INTEGER) {
            r->key = sqlite3_column_int64(st, 0);
        } else {
            const unsigned char *txt = sqlite3_column_text(st, 0);
            int len = sqlite3_column_bytes(st, 0);
            if (!txt || grow((void **)&arena, &cap_arena, n_arena + len + 1, 1)) {
                rc = SQLITE_NOMEM;
                goto done;
            }
            memcpy(arena + n_arena, txt, (size_t)len);
            r->key = n_arena;
            r->len = len;
            n_arena += len;
        }
        memcpy(vals + n * W, row, sizeof(float) * (size_t)W);
        n++;
        s->rows = n;
    }
    if (rc != SQLITE_DONE) {
        if (rc != SQLITE_NOMEM) *err = src_err("%s", sqlite3_errmsg(db));
        goto done;
    }
    sqlite3_finalize(st);
    st = NULL;
    /* Sort (task, values): a task is the set of its rows. */
    if (n > 1) {
        lrow *tmp = sqlite3_malloc64(sizeof *tmp * (sqlite3_uint64)n);
        if (!tmp) {
            rc = SQLITE_NOMEM;
            goto done;
        }
        load_ctx lc = {arena, vals, W};
        sort_rows(&lc, rows, tmp, n);
        sqlite3_free(tmp);
    }
    /* Count tasks and the usable rows. */
    int64_t usable_rows = 0;
    for (int64_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && same_task(&rows[i], &rows[j], arena); j++) {}
        s->tasks_total++;
        if (j - i >= o->min_ctx + 1) {
            s->n_tasks++;
            usable_rows += j - i;
        } else {
            s->tasks_skipped++;
        }
    }
    if (s->n_tasks == 0) {
        *err = src_err("no task has at least min_ctx + 1 = %d rows (%lld tasks, %lld rows%s)",
                       o->min_ctx + 1, (long long)s->tasks_total, (long long)n,
                       s->null_rows ? ", and rows with NULL values skipped" : "");
        rc = SQLITE_ERROR;
        goto done;
    }
    s->off = sqlite3_malloc64(sizeof *s->off * (sqlite3_uint64)(s->n_tasks + 1));
    s->v = sqlite3_malloc64(sizeof *s->v * (sqlite3_uint64)(usable_rows * W));
    if (!s->off || !s->v) {
        rc = SQLITE_NOMEM;
        goto done;
    }
    uint64_t h = cmanp_hash64("cmanp_train sql tasks", 21, (uint64_t)dx * 1000003u + (uint64_t)dy);
    int64_t t = 0, o_rows = 0;
    for (int64_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && same_task(&rows[i], &rows[j], arena); j++) {}
        if (j - i < o->min_ctx + 1) continue;
        s->off[t++] = o_rows;
        for (int64_t r = i; r < j; r++, o_rows++)
            memcpy(s->v + o_rows * W, vals + rows[r].row * W, sizeof(float) * (size_t)W);
        int64_t cnt = j - i;
        h = cmanp_hash64(&cnt, sizeof cnt, h);
        h = cmanp_hash64(s->v + (o_rows - cnt) * W, sizeof(float) * (size_t)(cnt * W), h);
    }
    s->off[t] = o_rows;
    s->hash = h;
    /* Sampling scratch. */
    s->hcap = 16;
    while (s->hcap < 2 * o->max_points) s->hcap *= 2;
    s->pick = sqlite3_malloc64(sizeof *s->pick * (sqlite3_uint64)o->max_points);
    s->used = sqlite3_malloc64(sizeof *s->used * (sqlite3_uint64)o->max_points);
    s->hk = sqlite3_malloc64(sizeof *s->hk * (sqlite3_uint64)s->hcap);
    s->hv = sqlite3_malloc64(sizeof *s->hv * (sqlite3_uint64)s->hcap);
    if (!s->pick || !s->used || !s->hk || !s->hv) {
        rc = SQLITE_NOMEM;
        goto done;
    }
    for (int i = 0; i < s->hcap; i++) s->hk[i] = -1;
    rc = SQLITE_OK;
done:
    sqlite3_finalize(st);
    sqlite3_free(rows);
    sqlite3_free(vals);
    sqlite3_free(arena);
    if (rc != SQLITE_OK) {
        sql_src_free(s);
        if (rc == SQLITE_NOMEM) {
            sqlite3_free(*err);
            *err = NULL;
        } else if (!*err) {
            rc = SQLITE_NOMEM;
        }
    }
    return rc;
}

/* ------------------------------------------------ checkpoints as BLOBs */

/* The engine reads and writes checkpoints as files: a private temporary
 * directory holds the one file in transit. */
typedef struct tmpio {
    char dir[1024];
    char path[1100];
    int have;
} tmpio;

static int tmpio_open(tmpio *io, char **err) {
    const char *base = getenv("SQLITE_TMPDIR");
    if (!base || !*base) base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    if (snprintf(io->dir, sizeof io->dir, "%s/cmanp-train-XXXXXX", base) >= (int)sizeof io->dir) {
        *err = sqlite3_mprintf(FN ": the temporary directory path '%s' is too long", base);
        return SQLITE_ERROR;
    }
    if (!mkdtemp(io->dir)) {
        *err = sqlite3_mprintf(FN ": cannot create a temporary directory in '%s' (set TMPDIR): %s",
                               base, strerror(errno));
        return SQLITE_CANTOPEN;
    }
    snprintf(io->path, sizeof io->path, "%s/checkpoint.safetensors", io->dir);
    io->have = 1;
    return SQLITE_OK;
}

static void tmpio_close(tmpio *io) {
    if (!io->have) return;
    unlink(io->path);
    rmdir(io->dir);
    io->have = 0;
}

/* The trainer's checkpoint as bytes (sqlite3_malloc'd). */
static int ckpt_bytes(cmanp_trainer *t, tmpio *io, unsigned char **buf, sqlite3_int64 *len,
                      char **err) {
    *buf = NULL;
    cmanp_err e = {0};
    if (cmanp_trainer_save_checkpoint(t, io->path, &e)) {
        if (e.code == CMANP_ENOMEM) return SQLITE_NOMEM;
        *err = sqlite3_mprintf(FN ": cannot serialise the checkpoint: %s", e.msg);
        return SQLITE_IOERR;
    }
    FILE *f = fopen(io->path, "rb");
    struct stat sb;
    int rc = SQLITE_OK;
    if (!f || fstat(fileno(f), &sb) != 0) {
        *err = sqlite3_mprintf(FN ": cannot read back the checkpoint '%s': %s", io->path,
                               strerror(errno));
        rc = SQLITE_IOERR;
    } else if (!(*buf = sqlite3_malloc64((sqlite3_uint64)sb.st_size + 1))) {
        rc = SQLITE_NOMEM;
    } else if (fread(*buf, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size) {
        *err = sqlite3_mprintf(FN ": cannot read back the checkpoint '%s'", io->path);
        rc = SQLITE_IOERR;
    } else {
        *len = (sqlite3_int64)sb.st_size;
    }
    if (f) fclose(f);
    unlink(io->path);
    if (rc) {
        sqlite3_free(*buf);
        *buf = NULL;
    }
    return rc;
}

/* A trainer from checkpoint bytes; the engine's message without the path. */
static int ckpt_resume(const void *blob, sqlite3_int64 len, const cmanp_task_source *src, tmpio *io,
                       cmanp_trainer **out, cmanp_err *e) {
    FILE *f = fopen(io->path, "wb");
    int ok = f && fwrite(blob, 1, (size_t)len, f) == (size_t)len;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) {
        unlink(io->path);
        return cmanp_err_set(e, CMANP_EIO, "cannot write the temporary file '%s': %s", io->path,
                             strerror(errno));
    }
    int rc = cmanp_trainer_resume(io->path, src, out, e);
    unlink(io->path);
    size_t n = strlen(io->path);
    if (rc && !strncmp(e->msg, io->path, n) && e->msg[n] == ':' && e->msg[n + 1] == ' ')
        memmove(e->msg, e->msg + n + 2, strlen(e->msg + n + 2) + 1);
    return rc;
}

/* The options stored in checkpoint bytes (without building a trainer). */
static int ckpt_options(const void *blob, sqlite3_int64 len, cmanp_trainer_opts *o, cmanp_err *e) {
    cmanp_st st;
    int rc = cmanp_st_parse(&st, blob, (size_t)len, 0, e);
    if (rc) return rc;
    const char *oj = cmanp_st_meta(&st, "options");
    if (!oj)
        rc = cmanp_err_set(e, CMANP_EFORMAT,
                           "no 'options' in its __metadata__ (not a cmanp training checkpoint)");
    else
        rc = cmanp_trainer_opts_parse(o, oj, e);
    cmanp_st_free(&st);
    return rc;
}

/* ------------------------------------------------------------- database */

static int exec_sql(sqlite3 *db, const char *sql, const char *what, char **err) {
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_NOMEM)
        *err = sqlite3_mprintf(FN ": %s: %s", what, sqlite3_errmsg(db));
    return rc;
}

static int write_checkpoint(sqlite3 *db, const char *name, cmanp_trainer *t, tmpio *io,
                            double loss, char **err) {
    unsigned char *buf;
    sqlite3_int64 len = 0;
    int rc = ckpt_bytes(t, io, &buf, &len, err);
    if (rc) return rc;
    char oj[2048];
    const cmanp_trainer_opts *o = cmanp_trainer_options(t);
    cmanp_trainer_opts_to_json(o, oj, sizeof oj);
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(db,
                            "INSERT INTO " CKPT_TABLE
                            "(name, step, steps, checkpoint, options, loss, updated) VALUES "
                            "(?1, ?2, ?3, ?4, ?5, ?6, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) "
                            "ON CONFLICT(name) DO UPDATE SET step = excluded.step, steps = "
                            "excluded.steps, checkpoint = excluded.checkpoint, options = "
                            "excluded.options, loss = excluded.loss, updated = excluded.updated",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, cmanp_trainer_steps_done(t));
        sqlite3_bind_int64(st, 3, o->steps);
        sqlite3_bind_blob64(st, 4, buf, (sqlite3_uint64)len, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, oj, -1, SQLITE_STATIC);
        if (isfinite(loss)) sqlite3_bind_double(st, 6, loss);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK && rc != SQLITE_NOMEM)
        *err = sqlite3_mprintf(FN ": cannot write the checkpoint of '%s' at step %lld to " CKPT_TABLE
                               ": %s",
                               name, (long long)cmanp_trainer_steps_done(t), sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_free(buf);
    return rc;
}

static int write_model(sqlite3 *db, const char *name, cmanp_trainer *t, char *fp_hex, char **err) {
    const cmanp_model *m = cmanp_trainer_model(t);
    char oj[2048], note[2200], cfg[512];
    cmanp_trainer_opts_to_json(cmanp_trainer_options(t), oj, sizeof oj);
    snprintf(note, sizeof note, FN ": %lld steps, options %s",
             (long long)cmanp_trainer_steps_done(t), oj);
    cmanp_config_to_json(&m->cfg, cfg, sizeof cfg);
    sqlite3_snprintf(17, fp_hex, "%016llx", (unsigned long long)m->fingerprint);
    unsigned char *buf = NULL;
    size_t len = 0;
    cmanp_err e = {0};
    if (cmanp_model_save_bytes(m, note, &buf, &len, &e)) {
        if (e.code == CMANP_ENOMEM) return SQLITE_NOMEM;
        *err = sqlite3_mprintf(FN ": cannot serialise the model: %s", e.msg);
        return SQLITE_ERROR;
    }
    int rc = exec_sql(db, CX_REGISTRY_SCHEMA, "cannot create " REGISTRY, err);
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO " REGISTRY
                                "(name, weights, config, fingerprint, n_params, created) VALUES "
                                "(?1, ?2, ?3, ?4, ?5, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) "
                                "ON CONFLICT(name) DO UPDATE SET weights = excluded.weights, "
                                "config = excluded.config, fingerprint = excluded.fingerprint, "
                                "n_params = excluded.n_params, created = excluded.created",
                                -1, &st, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_blob64(st, 2, buf, (sqlite3_uint64)len, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, cfg, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, fp_hex, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 5, (sqlite3_int64)m->layout.n_params);
            rc = sqlite3_step(st);
            if (rc == SQLITE_DONE) rc = SQLITE_OK;
        }
        if (rc != SQLITE_OK && rc != SQLITE_NOMEM)
            *err = sqlite3_mprintf(FN ": cannot write the model '%s' to " REGISTRY ": %s", name,
                                   sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    cmanp_free(buf);
    return rc;
}

/* A write of ours committed (nothing else holds the transaction open). */
static int committed(sqlite3 *db) {
    return sqlite3_get_autocommit(db) && sqlite3_txn_state(db, NULL) != SQLITE_TXN_WRITE;
}

/* ------------------------------------------------------------- progress */

typedef struct prog {
    int on, tty;
    double last_print;
    int64_t last_step, report;
    const char *name;
} prog;

/* As cmanp-train: on a terminal one line rewritten at most 4 times a
 * second (checkpoints and the last line always), else a line every
 * `report` steps and at checkpoints. */
static int prog_show(prog *p, int64_t step, int64_t steps, double loss, double avg, double lr,
                     double sps, int ck, int final) {
    if (!p->on) return 0;
    double now = cmanp_clock_now();
    if (!final && !ck) {
        if (p->tty ? now - p->last_print < 0.25 : step % p->report != 0) return 0;
    }
    if (final && step == p->last_step) {
        if (p->tty) fputc('\n', stderr);
        fflush(stderr);
        return 0;
    }
    p->last_print = now;
    p->last_step = step;
    char eta[32];
    cmanp_duration_format(sps > 0 ? (double)(steps - step) / sps : -1, eta, sizeof eta);
    fprintf(stderr,
            "%s" FN " '%s': step %lld/%lld  loss %.4f (avg %.4f)  lr %.3g  %.2f steps/s  ETA %s%s%s",
            p->tty ? "\r\033[K" : "", p->name, (long long)step, (long long)steps, loss, avg, lr, sps,
            eta, ck ? "  [checkpoint]" : "", p->tty && !final ? "" : "\n");
    fflush(stderr);
    return 1;
}

/* --------------------------------------------------------- the function */

/* Shortest of %.15g .. %.17g that reads back to v (0.0005, not 0.00050000000000000001). */
static void fmt_num(char *buf, size_t cap, double v) {
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* The first option given that differs from the run's (NULL: none). */
static char *option_conflict(const topts *T, const cmanp_trainer_opts *r, const char *name,
                             int64_t step) {
    char a[600], b[600];
    const cmanp_trainer_opts *o = &T->o;
    for (int k = 0; k < O_N; k++) {
        if (!(T->given & (1u << k)) || k_keys[k].per_call) continue;
        int d = 0;
        switch (k) {
        case O_CONFIG:
            cmanp_config_to_json(&o->model, a, sizeof a);
            cmanp_config_to_json(&r->model, b, sizeof b);
            d = strcmp(a, b) != 0;
            break;
#define INT_CASE(K, F)                                                                  \
    case K:                                                                             \
        d = o->F != r->F;                                                               \
        sqlite3_snprintf(sizeof a, a, "%lld", (long long)o->F);                         \
        sqlite3_snprintf(sizeof b, b, "%lld", (long long)r->F);                         \
        break;
            INT_CASE(O_STEPS, steps)
            INT_CASE(O_BATCH, batch)
            INT_CASE(O_CKEVERY, checkpoint_every)
            INT_CASE(O_MAXP, max_points)
            INT_CASE(O_MINC, min_ctx)
            INT_CASE(O_WARMUP, warmup)
            INT_CASE(O_CHUNK, chunk)
#undef INT_CASE
#define NUM_CASE(K, F)                                                                  \
    case K:                                                                             \
        d = o->F != r->F;                                                               \
        fmt_num(a, sizeof a, o->F);                                                     \
        fmt_num(b, sizeof b, r->F);                                                     \
        break;
            NUM_CASE(O_LR, lr)
            NUM_CASE(O_WD, weight_decay)
            NUM_CASE(O_CLIP, clip_norm)
#undef NUM_CASE
        case O_SEED:
            d = o->seed != r->seed;
            sqlite3_snprintf(sizeof a, a, "%llu", (unsigned long long)o->seed);
            sqlite3_snprintf(sizeof b, b, "%llu", (unsigned long long)r->seed);
            break;
        case O_KERNEL:
            d = strcmp(o->source, r->source) != 0;
            sqlite3_snprintf(sizeof a, a, "'%s'", T->kernel);
            sqlite3_snprintf(sizeof b, b, "'%s'",
                             strncmp(r->source, "gp:", 3) ? r->source : r->source + 3);
            break;
        }
        if (d)
            return opt_err("'%s' is %s, but the run '%s' (checkpoint at step %lld of %lld) has %s; "
                           "drop the key to continue the run, or delete its row from " CKPT_TABLE
                           " to start a new one",
                           k_keys[k].name, a, name, (long long)step, (long long)r->steps, b);
    }
    return NULL;
}

void cx_fn_train(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    cx_conn *c = sqlite3_user_data(ctx);
    sqlite3 *db = c->db;
    topts T;
    memset(&T, 0, sizeof T);
    sql_src S;
    memset(&S, 0, sizeof S);
    cmanp_task_source src = {sql_next, &S};
    tmpio io;
    memset(&io, 0, sizeof io);
    cmanp_trainer *t = NULL;
    cx_model *init = NULL;
    sqlite3_stmt *st = NULL, *probe = NULL;
    unsigned char *ck_blob = NULL;
    sqlite3_int64 ck_len = 0, ck_step = 0;
    double ck_loss = NAN;
    char *err = NULL, note[200] = "";
    int rc = SQLITE_OK, interrupted = 0;
    const char *name = NULL, *sql = NULL;
    cmanp_err e = {0};

    if (argc != 2 && argc != 3) {
        cx_error(ctx, FN ": expected 2 or 3 arguments (model, options [, tasks_sql]), found %d", argc);
        return;
    }
    if (sqlite3_value_type(argv[0]) != SQLITE_TEXT || sqlite3_value_bytes(argv[0]) == 0) {
        char *what = cx_describe_value(argv[0]);
        cx_arg_error(ctx, FN, 1, "model", "expected a model name (non-empty TEXT), found %s",
                     what ? what : "?");
        sqlite3_free(what);
        return;
    }
    if (!(name = (const char *)sqlite3_value_text(argv[0]))) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if ((rc = parse_options(db, argv[1], &T, &err))) goto out;
    if (argc == 3) {
        if (sqlite3_value_type(argv[2]) != SQLITE_TEXT || sqlite3_value_bytes(argv[2]) == 0) {
            char *what = cx_describe_value(argv[2]);
            err = cx_arg_errmsg(FN, 3, "tasks_sql", "expected an SQL query (non-empty TEXT), found %s",
                                what ? what : "?");
            sqlite3_free(what);
            rc = SQLITE_ERROR;
            goto out;
        }
        if (!(sql = (const char *)sqlite3_value_text(argv[2]))) {
            rc = SQLITE_NOMEM;
            goto out;
        }
        if (T.given & (1u << O_KERNEL)) {
            err = opt_err("'kernel' chooses the GP prior's tasks, but argument 3 (tasks_sql) gives "
                          "the tasks; drop 'kernel'");
            rc = SQLITE_ERROR;
            goto out;
        }
    }
    /* T4 */
    if (!committed(db)) {
        err = sqlite3_mprintf(FN ": cannot run inside a transaction: every checkpoint commits on its "
                              "own, so call it outside BEGIN ... COMMIT (and SAVEPOINT) and from a "
                              "statement that does not write (SELECT " FN "(...), not INSERT ... "
                              "SELECT " FN "(...))");
        rc = SQLITE_ERROR;
        goto out;
    }
    if ((rc = exec_sql(db,
                       "CREATE TABLE IF NOT EXISTS " CKPT_TABLE "(name TEXT PRIMARY KEY, step INTEGER "
                       "NOT NULL, steps INTEGER NOT NULL, checkpoint BLOB NOT NULL, options TEXT NOT "
                       "NULL, loss REAL, updated TEXT NOT NULL)",
                       "cannot create " CKPT_TABLE, &err)))
        goto out;
    /* The run to continue, if any. */
    rc = sqlite3_prepare_v2(db, "SELECT checkpoint, step, loss FROM " CKPT_TABLE " WHERE name = ?1", -1,
                            &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_BLOB) {
            char *what = cx_describe_value(sqlite3_column_value(st, 0));
            err = cx_arg_errmsg(FN, 1, "model", CKPT_TABLE " row '%s': checkpoint is %s, expected a BLOB",
                                name, what ? what : "?");
            sqlite3_free(what);
            rc = SQLITE_ERROR;
            goto out;
        }
        ck_len = sqlite3_column_bytes(st, 0);
        const void *b = sqlite3_column_blob(st, 0);
        if (!b || !(ck_blob = sqlite3_malloc64((sqlite3_uint64)ck_len))) {
            rc = SQLITE_NOMEM;
            goto out;
        }
        memcpy(ck_blob, b, (size_t)ck_len);
        ck_step = sqlite3_column_int64(st, 1);
        if (sqlite3_column_type(st, 2) != SQLITE_NULL) ck_loss = sqlite3_column_double(st, 2);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    } else {
        if (rc != SQLITE_NOMEM)
            err = sqlite3_mprintf(FN ": reading " CKPT_TABLE ": %s", sqlite3_errmsg(db));
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = tmpio_open(&io, &err))) goto out;

    if (ck_blob) {
        /* T5: continue the run. */
        cmanp_trainer_opts ro;
        if (ckpt_options(ck_blob, ck_len, &ro, &e) == CMANP_OK)
            err = option_conflict(&T, &ro, name, ck_step);
        if (e.code) {
            if (e.code == CMANP_ENOMEM) {
                rc = SQLITE_NOMEM;
                goto out;
            }
            err = cx_arg_errmsg(FN, 1, "model", CKPT_TABLE " row '%s' is not a valid checkpoint: %s",
                                name, e.msg);
        }
        if (!err && T.init)
            err = opt_err("'init' only applies to a new run, but the run '%s' continues from its "
                          "checkpoint at step %lld",
                          name, (long long)ck_step);
        if (err) {
            rc = SQLITE_ERROR;
            goto out;
        }
        int is_sql = strncmp(ro.source, "sql:", 4) == 0;
        if (is_sql && !sql) {
            err = sqlite3_mprintf(FN ": the run '%s' trains on tasks from SQL (source %s): pass the "
                                  "same query as argument 3 (tasks_sql)",
                                  name, ro.source);
            rc = SQLITE_ERROR;
            goto out;
        }
        if (!is_sql && sql) {
            err = cx_arg_errmsg(FN, 3, "tasks_sql", "the run '%s' trains on the GP prior (source %s), "
                                "not on tasks from SQL; drop argument 3",
                                name, ro.source);
            rc = SQLITE_ERROR;
            goto out;
        }
        if (is_sql) {
            if ((rc = load_source(db, sql, &ro, &S, &err))) goto out;
            char now[32];
            snprintf(now, sizeof now, "sql:%016llx", (unsigned long long)S.hash);
            if (strcmp(now, ro.source) != 0) {
                err = cx_arg_errmsg(FN, 3, "tasks_sql",
                                    "the query returns other rows than the run '%s' started with "
                                    "(source %s, now %s); continuing needs the same rows",
                                    name, ro.source, now);
                rc = SQLITE_ERROR;
                goto out;
            }
        }
        if (ckpt_resume(ck_blob, ck_len, is_sql ? &src : NULL, &io, &t, &e)) {
            if (e.code == CMANP_ENOMEM) {
                rc = SQLITE_NOMEM;
            } else {
                err = cx_arg_errmsg(FN, 1, "model", CKPT_TABLE " row '%s' is not a valid checkpoint: %s",
                                    name, e.msg);
                rc = SQLITE_ERROR;
            }
            goto out;
        }
        if ((T.given & (1u << O_THREADS)) && T.o.threads != cmanp_trainer_options(t)->threads) {
            snprintf(note, sizeof note,
                     "threads %d (the run had %d): deterministic, but the bits now differ from an "
                     "uninterrupted run",
                     T.o.threads, cmanp_trainer_options(t)->threads);
            if (cmanp_trainer_set_threads(t, T.o.threads, &e)) {
                rc = e.code == CMANP_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
                if (rc != SQLITE_NOMEM) err = sqlite3_mprintf(FN ": %s", e.msg);
                goto out;
            }
        }
    } else {
        /* T7: a new run; it must say how long it trains (so that a call meant
         * to continue, e.g. with a misspelt name, does not start the paper's
         * 100000 steps). */
        if (!(T.given & (1u << O_STEPS))) {
            err = opt_err("no run '%s' to continue (no row in " CKPT_TABLE "), and a new run needs "
                          "'steps'",
                          name);
            rc = SQLITE_ERROR;
            goto out;
        }
        rc = sqlite3_prepare_v2(db, "SELECT 1 FROM " REGISTRY " WHERE name = ?1", -1, &st, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW && !T.init) {
                err = cx_arg_errmsg(FN, 1, "model",
                                    REGISTRY " already has a model '%s' and " CKPT_TABLE
                                    " has no run of that name to continue; choose another name, "
                                    "delete the model, or start from its weights with "
                                    "{\"init\": \"%s\"}",
                                    name, name);
                rc = SQLITE_ERROR;
                goto out;
            }
        }
        sqlite3_finalize(st); /* no registry table yet: nothing to protect */
        st = NULL;
        rc = SQLITE_OK;
        if (T.init) {
            char *merr = NULL;
            if ((rc = cx_model_by_name(c, T.init, &init, &merr))) {
                if (rc != SQLITE_NOMEM) err = opt_err("'init': %s", merr ? merr : "?");
                sqlite3_free(merr);
                goto out;
            }
            if (!(T.given & (1u << O_CONFIG))) {
                T.o.model = init->m->cfg;
            } else if (memcmp(&T.o.model, &init->m->cfg, sizeof T.o.model) != 0) {
                char a[512], b[512];
                cmanp_config_to_json(&T.o.model, a, sizeof a);
                cmanp_config_to_json(&init->m->cfg, b, sizeof b);
                err = opt_err("'config' %s differs from the configuration of the 'init' model '%s' "
                              "%s; drop 'config'",
                              a, T.init, b);
                rc = SQLITE_ERROR;
                goto out;
            }
        }
        /* Sizes before allocation: the run's checkpoint (float32 weights and
         * two Adam moments) must fit in one BLOB of this connection, or no
         * checkpoint could ever be stored; refused before the trainer
         * allocates (about 4x that) for it. */
        {
            cmanp_layout lay;
            cmanp_err le = {0};
            if (cmanp_layout_build(&T.o.model, &lay, &le)) {
                rc = le.code == CMANP_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
                if (rc != SQLITE_NOMEM) err = opt_err("'config': %s", le.msg);
                goto out;
            }
            const sqlite3_int64 need = 12 * (sqlite3_int64)lay.n_params,
                                lim = sqlite3_limit(db, SQLITE_LIMIT_LENGTH, -1);
            const size_t np = lay.n_params;
            cmanp_layout_free(&lay);
            if (need > lim) {
                err = opt_err("'config': the model has %lld parameters; its checkpoint (weights and two "
                              "Adam moments, %lld bytes) would exceed SQLITE_LIMIT_LENGTH (%lld)",
                              (long long)np, need, lim);
                rc = SQLITE_ERROR;
                goto out;
            }
        }
        if (sql) {
            if ((rc = load_source(db, sql, &T.o, &S, &err))) goto out;
            snprintf(T.o.source, sizeof T.o.source, "sql:%016llx", (unsigned long long)S.hash);
        }
        if (cmanp_trainer_new(&T.o, init ? init->m : NULL, sql ? &src : NULL, &t, &e)) {
            rc = e.code == CMANP_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
            if (rc != SQLITE_NOMEM) err = opt_err("%s", e.msg);
            goto out;
        }
    }

    /* T8: the steps. */
    const cmanp_trainer_opts *o = cmanp_trainer_options(t);
    const int64_t start = cmanp_trainer_steps_done(t), total = o->steps;
    const int64_t until = T.until > 0 && T.until < total ? T.until : total;
    const int64_t ck_every = o->checkpoint_every;
    cmanp_adam_opts ao = {o->lr, o->beta1, o->beta2, o->eps, o->weight_decay, o->steps, o->warmup,
                          o->clip_norm};
    prog P;
    memset(&P, 0, sizeof P);
    P.tty = isatty(2);
    P.on = T.progress < 0 ? P.tty : T.progress;
    P.report = T.report_every > 0 ? T.report_every : (P.tty ? 1 : 100);
    P.last_step = -1;
    P.name = name;
    if (P.on) {
        if (start > 0)
            fprintf(stderr, FN " '%s': continuing at step %lld of %lld\n", name, (long long)start,
                    (long long)total);
        else
            fprintf(stderr, FN " '%s': new run, %zu parameters, source %s\n", name,
                    cmanp_trainer_model(t)->layout.n_params, o->source);
    }
    if ((rc = sqlite3_prepare_v2(db, "SELECT 1", -1, &probe, NULL))) goto out;
    const double t0 = cmanp_clock_now();
    double lsum = 0, wsum = 0, last = NAN;
    int64_t n_run = 0, wn = 0, n_ck = 0, ck_at = ck_blob ? ck_step : -1;
    int step_rc = CMANP_OK;
    while (cmanp_trainer_steps_done(t) < until) {
        sqlite3_reset(probe);
        if (sqlite3_step(probe) == SQLITE_INTERRUPT) {
            interrupted = 1;
            break;
        }
        double loss;
        if ((step_rc = cmanp_trainer_step(t, &loss, &e))) break;
        n_run++;
        lsum += loss;
        wsum += loss;
        wn++;
        last = loss;
        int64_t s = cmanp_trainer_steps_done(t);
        int ck = 0;
        if (ck_every > 0 && s % ck_every == 0 && s < until) {
            if ((rc = write_checkpoint(db, name, t, &io, loss, &err))) goto out;
            if (!committed(db)) {
                err = sqlite3_mprintf(FN ": the checkpoint at step %lld did not commit (a transaction "
                                      "is open); stopping",
                                      (long long)s);
                rc = SQLITE_ERROR;
                goto out;
            }
            n_ck++;
            ck_at = s;
            ck = 1;
        }
        double dt = cmanp_clock_now() - t0;
        /* "avg": the mean loss since the previous line */
        if (prog_show(&P, s, total, loss, wsum / (double)wn, cmanp_adam_lr(&ao, s - 1),
                      dt > 0 ? (double)n_run / dt : 0, ck, 0)) {
            wsum = 0;
            wn = 0;
        }
    }
    const double secs = cmanp_clock_now() - t0;
    const int64_t done = cmanp_trainer_steps_done(t);
    sqlite3_finalize(probe);
    probe = NULL;
    if (interrupted) {
        prog_show(&P, done, total, last, wn ? wsum / (double)wn : last, 0, secs > 0 ? n_run / secs : 0,
                  0, 1);
        err = sqlite3_mprintf(FN ": interrupted at step %lld of %lld; %s: call " FN
                              " again to continue",
                              (long long)done, (long long)total,
                              ck_at >= 0 ? "the last checkpoint is kept"
                                         : "no checkpoint was written yet");
        rc = SQLITE_INTERRUPT;
        goto out;
    }
    if (step_rc) {
        /* Keep the progress made (a failed step leaves the weights untouched). */
        char *werr = NULL;
        int wrc = n_run > 0 ? write_checkpoint(db, name, t, &io, last, &werr) : SQLITE_OK;
        if (wrc == SQLITE_OK && n_run > 0) ck_at = done;
        if (step_rc == CMANP_ENOMEM) {
            sqlite3_free(werr);
            rc = SQLITE_NOMEM;
            goto out;
        }
        char kept[64] = "no checkpoint";
        if (ck_at >= 0)
            sqlite3_snprintf(sizeof kept, kept, "checkpoint at step %lld kept", (long long)ck_at);
        err = sqlite3_mprintf(FN ": %s (stopped at step %lld of %lld; %s)", e.msg, (long long)done,
                              (long long)total, kept);
        sqlite3_free(werr);
        rc = SQLITE_ERROR;
        goto out;
    }
    /* T5: the last checkpoint and the model, in one transaction. */
    char fp[17];
    if ((rc = exec_sql(db, "BEGIN IMMEDIATE", "cannot start the final transaction", &err))) goto out;
    if (n_run > 0) rc = write_checkpoint(db, name, t, &io, last, &err);
    if (rc == SQLITE_OK) rc = write_model(db, name, t, fp, &err);
    if (rc == SQLITE_OK)
        rc = exec_sql(db, "COMMIT", "cannot commit the final checkpoint and model", &err);
    if (rc != SQLITE_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        goto out;
    }
    if (n_run > 0) {
        n_ck++;
        ck_at = done;
    }
    prog_show(&P, done, total, n_run ? last : ck_loss, wn ? wsum / (double)wn : (n_run ? last : ck_loss),
              done > 0 ? cmanp_adam_lr(&ao, done - 1) : o->lr, secs > 0 ? n_run / secs : 0, 0, 1);
    if (P.on)
        fprintf(stderr, FN " '%s': %s at step %lld of %lld (%lld steps in %.1f s)\n", name,
                done >= total ? "done" : "stopped (until)", (long long)done, (long long)total,
                (long long)n_run, secs);

    /* T9 */
    sqlite3_str *j = sqlite3_str_new(db);
    char oj[2048];
    cmanp_trainer_opts_to_json(o, oj, sizeof oj);
    sqlite3_str_appendall(j, "{\"model\":");
    cx_json_str(j, name);
    sqlite3_str_appendall(j, ",\"source\":");
    cx_json_str(j, sql ? "sql" : o->source);
    sqlite3_str_appendf(j, ",\"step\":%lld,\"steps\":%lld,\"start_step\":%lld,\"steps_run\":%lld,"
                        "\"complete\":%s,\"loss\":",
                        (long long)done, (long long)total, (long long)start, (long long)n_run,
                        done >= total ? "true" : "false");
    cx_json_num(j, n_run ? last : ck_loss);
    sqlite3_str_appendall(j, ",\"loss_avg\":");
    cx_json_num(j, n_run ? lsum / (double)n_run : (double)NAN);
    sqlite3_str_appendall(j, ",\"seconds\":");
    cx_json_num(j, secs);
    sqlite3_str_appendall(j, ",\"steps_per_s\":");
    cx_json_num(j, secs > 0 ? (double)n_run / secs : (double)NAN);
    sqlite3_str_appendf(j, ",\"checkpoints\":%lld,\"checkpoint_step\":%lld,\"fingerprint\":\"%s\","
                        "\"n_params\":%lld",
                        (long long)n_ck, (long long)ck_at, fp,
                        (long long)cmanp_trainer_model(t)->layout.n_params);
    if (sql)
        sqlite3_str_appendf(j, ",\"tasks\":%lld,\"tasks_skipped\":%lld,\"rows\":%lld,\"null_rows\":%lld",
                            (long long)S.n_tasks, (long long)S.tasks_skipped, (long long)S.rows,
                            (long long)S.null_rows);
    if (note[0]) {
        sqlite3_str_appendall(j, ",\"note\":");
        cx_json_str(j, note);
    }
    sqlite3_str_appendf(j, ",\"options\":%s}", oj);
    cx_result_json(ctx, j);
    rc = SQLITE_OK;
out:
    if (rc != SQLITE_OK) {
        if (rc == SQLITE_NOMEM && !err) {
            sqlite3_result_error_nomem(ctx);
        } else {
            cx_error_take(ctx, err ? err : sqlite3_mprintf(FN ": %s", sqlite3_errstr(rc)));
            err = NULL;
            sqlite3_result_error_code(ctx, rc == SQLITE_NOMEM ? SQLITE_ERROR : rc);
        }
    }
    sqlite3_free(err);
    sqlite3_finalize(st);
    sqlite3_finalize(probe);
    sqlite3_free(ck_blob);
    cmanp_trainer_free(t);
    cx_model_unref(init);
    sql_src_free(&S);
    sqlite3_free(T.init);
    tmpio_close(&io);
}
