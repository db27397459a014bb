/* cmhp_main.c - command-line trainer / evaluator for CMHP (docs/cmhp.md).
 *
 *   cmhp train --variant paper|recency --source hawkes1|hawkes2|hawkes_meta
 *              --checkpoint ckpt.safetensors --steps N [--out model.safetensors] [options]
 *   cmhp eval model.safetensors set.sqlite [--limit N] [--stream]
 *   cmhp info model.safetensors
 *
 * Spec (exercised by tests/sql/cmhp_*.sql fixtures and docs/cmhp.md runs):
 *   M1. train resumes from --checkpoint when the file exists (the options come
 *       from the checkpoint; --steps may extend nothing: it must match), and
 *       otherwise starts a new run; SIGINT / SIGTERM write a checkpoint and
 *       exit; --out writes the model when the run is complete.
 *   M2. --time-scale auto (default) is the mean inter-event time of 256
 *       sequences drawn from the source with a seed independent of the run.
 *   M3. eval prints, for events with i >= 1 (the README metric), the model's
 *       NLL per event, the oracle's, the Poisson floor's and the excesses;
 *       --stream uses the streaming engine (fold + readout per event) instead
 *       of the batched prefix scan (same numbers up to float32 rounding).
 *   M4. errors go to stderr with the engine's message; exit status 1 (usage 2).
 *   M5. --source sql --db FILE --query 'SELECT seq, t, mark ...' trains on the
 *       query's sequences (grouped by seq, sorted by t; sequences of fewer than
 *       2 events dropped; event 0 of each is history only; time scale = mean
 *       gap); the source is named by a hash of the data, so a resumed run must
 *       see the same sequences.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "cmanp.h" /* cmanp_hash64 */
#include "cmhp.h"
#include "cmhp_train.h"
#include "cmhp_trainer.h"
#include "hawkes.h"

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static int usage(void) {
    fprintf(stderr,
            "usage:\n"
            "  cmhp train --variant paper|recency --source hawkes1|hawkes2|hawkes_meta\n"
            "             --checkpoint PATH --steps N [--out MODEL] [--batch 8] [--lr 1e-3]\n"
            "             [--seed 1] [--time-scale auto|X] [--d-model 32] [--heads 4]\n"
            "             [--layers 2] [--latents 16] [--latents-per-layer 16] [--ff 64]\n"
            "             [--mix 8] [--rates r1,r2,..] [--warmup 100] [--clip 5]\n"
            "             [--checkpoint-every 100] [--report-every 10] [--until N] [--chunk 64]\n"
            "  cmhp train ... --source sql --db FILE --query 'SELECT seq, t, mark FROM ...'\n"
            "  cmhp eval MODEL SET.sqlite [--limit N] [--stream]\n"
            "  cmhp info MODEL\n");
    return 2;
}

/* The CLI's buffers also go through the engine's allocator (accounting);
 * running out of memory ends the command with a message. */
static void *xmalloc(size_t n) {
    void *p = cmanp_malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "cmhp: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

static void *xrealloc(void *p, size_t n) {
    void *q = cmanp_realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "cmhp: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return q;
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

/* ------------------------------------------------------------------ train */

static void progress(void *ctx, const cmhp_progress *p) {
    (void)ctx;
    printf("step %6lld/%lld  loss %.4f (avg %.4f)  lr %.2e  %.2f steps/s  eta %.0fs%s%s\n",
           (long long)p->step, (long long)p->steps, p->loss, p->loss_avg, p->lr, p->steps_per_s,
           p->eta_s, p->checkpointed ? "  [checkpoint]" : "", p->final ? "  [end]" : "");
    fflush(stdout);
}

/* Default recency grid: 10 rates 2^-3 .. 2^6 per unit of scaled time (the
 * mean inter-event time), wide enough for the kernels of the evaluation sets
 * (scaled beta from ~0.25 to ~20). */
static int parse_rates(const char *s, cmhp_config *c) {
    c->num_rates = 0;
    if (!strcmp(s, "default")) {
        for (int i = 0; i < 10; i++) c->rates[c->num_rates++] = ldexp(1.0, i - 3);
        return 0;
    }
    if (!strcmp(s, "none")) return 0;
    const char *p = s;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || c->num_rates >= CMHP_MAX_RATES) return -1;
        c->rates[c->num_rates++] = v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return 0;
}

/* ------------------------------------------------------ SQL sequence source */

/* Every row (seq, t, mark) of a query, grouped by seq (any type, compared as
 * text) and sorted by t within a sequence; sequences with fewer than 2
 * events are dropped (with first_target = 1 they have nothing to predict). */
typedef struct sql_source {
    int n_seq, K, cap;
    int *n;
    size_t *off;
    double *t;
    int *k;
    uint64_t hash;
} sql_source;

typedef struct sql_row {
    char *seq;
    double t;
    int k;
} sql_row;

static int row_cmp(const void *a, const void *b) {
    const sql_row *x = a, *y = b;
    int c = strcmp(x->seq, y->seq);
    if (c) return c;
    return (x->t > y->t) - (x->t < y->t);
}

static int sql_source_load(const char *dbpath, const char *query, sql_source *s) {
    memset(s, 0, sizeof *s);
    sqlite3 *db;
    sqlite3_stmt *q;
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "cmhp train: cannot open %s: %s\n", dbpath, sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    if (sqlite3_prepare_v2(db, query, -1, &q, NULL) != SQLITE_OK || sqlite3_column_count(q) != 3) {
        fprintf(stderr, "cmhp train: --query must return 3 columns (seq, t, mark): %s\n",
                sqlite3_errmsg(db));
        sqlite3_finalize(q);
        sqlite3_close(db);
        return -1;
    }
    size_t cap = 4096, n = 0;
    sql_row *rows = xmalloc(cap * sizeof *rows);
    int rc, bad = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == cap) rows = xrealloc(rows, (cap *= 2) * sizeof *rows);
        const char *seq = (const char *)sqlite3_column_text(q, 0);
        int tt = sqlite3_column_type(q, 1), kt = sqlite3_column_type(q, 2);
        double t = sqlite3_column_double(q, 1);
        long long k = sqlite3_column_int64(q, 2);
        if (!seq || (tt != SQLITE_INTEGER && tt != SQLITE_FLOAT) || !isfinite(t) ||
            kt != SQLITE_INTEGER || k < 0 || k >= CMHP_MAX_MARKS) {
            fprintf(stderr, "cmhp train: query row %zu: expected (seq, finite t, integer mark "
                            "0..%d)\n", n + 1, CMHP_MAX_MARKS - 1);
            bad = 1;
            break;
        }
        rows[n].seq = xstrdup(seq);
        rows[n].t = t;
        rows[n].k = (int)k;
        n++;
    }
    if (!bad && rc != SQLITE_DONE) {
        fprintf(stderr, "cmhp train: query failed: %s\n", sqlite3_errmsg(db));
        bad = 1;
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    if (!bad) {
        qsort(rows, n, sizeof *rows, row_cmp);
        s->t = xmalloc((n ? n : 1) * sizeof *s->t);
        s->k = xmalloc((n ? n : 1) * sizeof *s->k);
        s->n = xmalloc((n ? n : 1) * sizeof *s->n);
        s->off = xmalloc((n ? n : 1) * sizeof *s->off);
        size_t w = 0;
        for (size_t i = 0; i < n;) {
            size_t j = i;
            while (j < n && !strcmp(rows[j].seq, rows[i].seq)) j++;
            if (j - i >= 2) {
                s->off[s->n_seq] = w;
                s->n[s->n_seq] = (int)(j - i);
                s->n_seq++;
                for (size_t r = i; r < j; r++) {
                    s->t[w] = rows[r].t;
                    s->k[w] = rows[r].k;
                    s->K = rows[r].k + 1 > s->K ? rows[r].k + 1 : s->K;
                    w++;
                }
            }
            i = j;
        }
        if (s->n_seq == 0) {
            fprintf(stderr, "cmhp train: the query gave no sequence with 2 or more events\n");
            bad = 1;
        }
        /* The data's identity: a resumed run must see the same sequences. */
        uint64_t h = cmanp_hash64(s->n, (size_t)s->n_seq * sizeof *s->n, 0x73716c);
        h = cmanp_hash64(s->t, w * sizeof *s->t, h);
        s->hash = cmanp_hash64(s->k, w * sizeof *s->k, h);
    }
    for (size_t i = 0; i < n; i++) cmanp_free(rows[i].seq);
    cmanp_free(rows);
    return bad ? -1 : 0;
}

static int sql_source_next(void *ctx, cmanp_rng *rng, int batch, cmhp_seq_buf *buf, cmanp_err *e) {
    const sql_source *s = ctx;
    size_t off = 0;
    (void)e;
    for (int b = 0; b < batch; b++) {
        int q = (int)cmanp_rng_int(rng, 0, s->n_seq - 1);
        /* Longer sequences are cut to their first cap_events events (a prefix
         * of a sequence is a valid training sequence). */
        int n = s->n[q] < buf->cap_events ? s->n[q] : buf->cap_events;
        memcpy(buf->t + off, s->t + s->off[q], (size_t)n * sizeof(double));
        memcpy(buf->k + off, s->k + s->off[q], (size_t)n * sizeof(int));
        buf->n[b] = n;
        off += (size_t)n;
    }
    buf->n_seq = batch;
    return CMANP_OK;
}

static int cmd_train_(int argc, char **argv, sql_source *sq) {
    const char *variant = NULL, *source = "hawkes1", *ckpt = NULL, *out = NULL, *rates = "default",
               *time_scale = "auto", *dbpath = NULL, *query = NULL;
    long long steps = 0, until = 0, report = 10, ck_every = 100, warmup = 100;
    int batch = 8, d = 32, heads = 4, layers = 2, lq = 16, lp = 16, ff = 64, mix = 8, chunk = 64;
    double lr = 1e-3, clip = 5.0;
    unsigned long long seed = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (!strcmp(a, name) && v && (i++, 1))
        if (OPT("--variant")) variant = v;
        else if (OPT("--source")) source = v;
        else if (OPT("--checkpoint")) ckpt = v;
        else if (OPT("--out")) out = v;
        else if (OPT("--steps")) steps = atoll(v);
        else if (OPT("--until")) until = atoll(v);
        else if (OPT("--batch")) batch = atoi(v);
        else if (OPT("--lr")) lr = atof(v);
        else if (OPT("--seed")) seed = strtoull(v, NULL, 10);
        else if (OPT("--time-scale")) time_scale = v;
        else if (OPT("--d-model")) d = atoi(v);
        else if (OPT("--heads")) heads = atoi(v);
        else if (OPT("--layers")) layers = atoi(v);
        else if (OPT("--latents")) lq = atoi(v);
        else if (OPT("--latents-per-layer")) lp = atoi(v);
        else if (OPT("--ff")) ff = atoi(v);
        else if (OPT("--mix")) mix = atoi(v);
        else if (OPT("--rates")) rates = v;
        else if (OPT("--warmup")) warmup = atoll(v);
        else if (OPT("--clip")) clip = atof(v);
        else if (OPT("--checkpoint-every")) ck_every = atoll(v);
        else if (OPT("--report-every")) report = atoll(v);
        else if (OPT("--chunk")) chunk = atoi(v);
        else if (OPT("--db")) dbpath = v;
        else if (OPT("--query")) query = v;
        else {
            fprintf(stderr, "cmhp train: unknown or incomplete option '%s'\n", a);
            return usage();
        }
#undef OPT
    }
    if (!ckpt) {
        fprintf(stderr, "cmhp train: --checkpoint is required (runs are resumable)\n");
        return usage();
    }
    cmanp_err err = {0};
    cmhp_trainer *t = NULL;
    /* M5: --source sql trains on the rows (seq, t, mark) of --query in --db. */
    cmhp_seq_source sql_src = {sql_source_next, sq}, *src = NULL;
    char sql_name[64] = "";
    if (!strcmp(source, "sql") || dbpath || query) {
        if (!dbpath || !query) {
            fprintf(stderr, "cmhp train: the SQL source needs --db FILE and --query 'SELECT seq, t, "
                            "mark ...'\n");
            return 2;
        }
        if (sql_source_load(dbpath, query, sq)) return 1;
        snprintf(sql_name, sizeof sql_name, "sql:%016llx", (unsigned long long)sq->hash);
        src = &sql_src;
        printf("SQL source: %d sequences (%d marks), %s\n", sq->n_seq, sq->K, sql_name);
    }
    if (access(ckpt, F_OK) == 0) {
        if (cmhp_trainer_resume(ckpt, src, &t, &err)) {
            fprintf(stderr, "cmhp train: cannot resume: %s%s\n", err.msg,
                    src ? "" : " (a run on a SQL source needs the same --db and --query)");
            return 1;
        }
        if (src && strcmp(cmhp_trainer_options(t)->source, sql_name) != 0) {
            fprintf(stderr, "cmhp train: the checkpoint was trained on source '%s', this query gives "
                            "'%s' (different data)\n",
                    cmhp_trainer_options(t)->source, sql_name);
            cmhp_trainer_free(t);
            return 1;
        }
        printf("resuming %s at step %lld of %lld\n", ckpt, (long long)cmhp_trainer_steps_done(t),
               (long long)cmhp_trainer_options(t)->steps);
    } else {
        if (!variant || (strcmp(variant, "paper") && strcmp(variant, "recency")) || steps < 1) {
            fprintf(stderr, "cmhp train: a new run needs --variant paper|recency and --steps N\n");
            return usage();
        }
        cmhp_config c;
        memset(&c, 0, sizeof c);
        c.num_marks = src ? sq->K : !strcmp(source, "hawkes_meta") ? 3 : 1;
        c.d_model = d;
        c.nhead = heads;
        c.num_layers = layers;
        c.num_latents = lq;
        c.num_latents_per_layer = lp;
        c.dim_feedforward = ff;
        c.num_mix = mix;
        c.temporal_base = 10000.0;
        c.time_scale = 1.0;
        if (!strcmp(variant, "recency") && parse_rates(rates, &c)) {
            fprintf(stderr, "cmhp train: --rates '%s': expected default, none or r1,r2,..\n", rates);
            return 2;
        }
        if (!strcmp(variant, "paper")) c.num_rates = 0;
        cmhp_trainer_opts o;
        cmhp_trainer_defaults(&o, &c);
        o.steps = steps;
        o.batch = batch;
        o.lr = lr;
        o.seed = seed;
        o.warmup = warmup;
        o.clip_norm = clip;
        o.checkpoint_every = ck_every;
        o.chunk = chunk;
        snprintf(o.source, sizeof o.source, "%s", src ? sql_name : source);
        if (src) {
            /* Real data rarely starts at a meaningful origin: event 0 of each
             * sequence is history only, and the scale is the mean gap. */
            o.first_target = 1;
            int mx = 0;
            for (int q = 0; q < sq->n_seq; q++) mx = sq->n[q] > mx ? sq->n[q] : mx;
            o.max_events = mx < o.max_events ? mx : o.max_events;
        } else if (!cmhp_hawkes_is_preset(source)) {
            fprintf(stderr, "cmhp train: --source '%s': expected hawkes1, hawkes2 or hawkes_meta\n",
                    source);
            return 2;
        }
        if (!strcmp(time_scale, "auto") && src) {
            double span = 0, gaps = 0;
            for (int q = 0; q < sq->n_seq; q++) {
                span += sq->t[sq->off[q] + (size_t)sq->n[q] - 1] - sq->t[sq->off[q]];
                gaps += sq->n[q] - 1;
            }
            o.model.time_scale = span > 0 ? span / gaps : 1.0;
        } else if (!strcmp(time_scale, "auto")) {
            cmhp_hawkes_source hs;
            snprintf(hs.name, sizeof hs.name, "%s", source);
            hs.t_end = o.t_end;
            hs.max_events = o.max_events;
            cmhp_seq_source hsrc = {cmhp_hawkes_source_next, &hs};
            /* A seed unrelated to the run's: the scale is a property of the
             * source, not of one run's draws. */
            if (cmhp_source_time_scale(&hsrc, 256, o.max_events, 0x5ca1e, &o.model.time_scale, &err)) {
                fprintf(stderr, "cmhp train: time scale: %s\n", err.msg);
                return 1;
            }
        } else {
            o.model.time_scale = atof(time_scale);
        }
        if (cmhp_trainer_new(&o, NULL, src, &t, &err)) {
            fprintf(stderr, "cmhp train: %s\n", err.msg);
            return 1;
        }
        char cfg[1024];
        cmhp_config_to_json(&o.model, cfg, sizeof cfg);
        printf("new run: %s, %zu parameters\nconfig %s\n", cmhp_variant_name(&o.model),
               cmhp_trainer_model(t)->layout.n_params, cfg);
    }
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    cmhp_run_opts r = {ckpt, until, report, progress, NULL, &g_stop};
    const double t0 = cmanp_clock_now();
    int rc = cmhp_trainer_run(t, &r, &err);
    printf("wall time this session: %.1f s\n", cmanp_clock_now() - t0);
    if (rc) {
        fprintf(stderr, "cmhp train: %s\n", err.msg);
        cmhp_trainer_free(t);
        return 1;
    }
    if (out && cmhp_trainer_steps_done(t) >= cmhp_trainer_options(t)->steps) {
        char note[512];
        const cmhp_trainer_opts *o = cmhp_trainer_options(t);
        snprintf(note, sizeof note, "cmhp %s trained on %s: %lld steps, batch %d, lr %g, seed %llu",
                 cmhp_variant_name(&o->model), o->source, (long long)o->steps, o->batch, o->lr,
                 (unsigned long long)o->seed);
        if (cmhp_trainer_save_model(t, out, note, &err)) {
            fprintf(stderr, "cmhp train: %s\n", err.msg);
            cmhp_trainer_free(t);
            return 1;
        }
        printf("model written to %s\n", out);
    }
    cmhp_trainer_free(t);
    return 0;
}

static int cmd_train(int argc, char **argv) {
    sql_source sq;
    memset(&sq, 0, sizeof sq);
    int rc = cmd_train_(argc, argv, &sq);
    cmanp_free(sq.n);
    cmanp_free(sq.off);
    cmanp_free(sq.t);
    cmanp_free(sq.k);
    return rc;
}

/* ------------------------------------------------------------------- eval */

typedef struct evset {
    int n_seq, K;
    int *n;
    double *t, *oracle;
    int *k;
    size_t total;
} evset;

static int load_set(const char *path, int limit, evset *s) {
    sqlite3 *db;
    memset(s, 0, sizeof *s);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "cmhp eval: cannot open %s: %s\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_stmt *q;
    const char *sql =
        "SELECT s.seq, s.num_marks, e.t, e.mark, e.oracle_ll FROM "
        "(SELECT seq, num_marks FROM sequences ORDER BY seq LIMIT ?) s "
        "JOIN events e ON e.seq = s.seq ORDER BY s.seq, e.i";
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        fprintf(stderr, "cmhp eval: %s: %s (expected tables sequences and events as "
                        "/work/shared/tpp/README.md)\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_bind_int(q, 1, limit > 0 ? limit : -1);
    size_t cap = 1 << 16;
    int scap = 1024;
    s->t = xmalloc(cap * sizeof *s->t);
    s->oracle = xmalloc(cap * sizeof *s->oracle);
    s->k = xmalloc(cap * sizeof *s->k);
    s->n = xmalloc((size_t)scap * sizeof *s->n);
    long long cur = -1;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        long long seq = sqlite3_column_int64(q, 0);
        if (seq != cur) {
            if (s->n_seq == scap) {
                scap *= 2;
                s->n = xrealloc(s->n, (size_t)scap * sizeof *s->n);
            }
            s->n[s->n_seq++] = 0;
            cur = seq;
            int K = sqlite3_column_int(q, 1);
            s->K = K > s->K ? K : s->K;
        }
        if (s->total == cap) {
            cap *= 2;
            s->t = xrealloc(s->t, cap * sizeof *s->t);
            s->oracle = xrealloc(s->oracle, cap * sizeof *s->oracle);
            s->k = xrealloc(s->k, cap * sizeof *s->k);
        }
        s->t[s->total] = sqlite3_column_double(q, 2);
        s->k[s->total] = sqlite3_column_int(q, 3);
        s->oracle[s->total] = sqlite3_column_double(q, 4);
        s->total++;
        s->n[s->n_seq - 1]++;
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "cmhp eval: reading %s failed\n", path);
        return -1;
    }
    return 0;
}

static int cmd_eval(int argc, char **argv) {
    if (argc < 4) return usage();
    const char *mpath = argv[2], *spath = argv[3];
    int limit = 0, stream = 0;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--limit") && i + 1 < argc) limit = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--stream")) stream = 1;
        else return usage();
    }
    cmanp_err err = {0};
    cmhp_model *m;
    if (cmhp_model_load_file(&m, mpath, &err)) {
        fprintf(stderr, "cmhp eval: %s\n", err.msg);
        return 1;
    }
    evset s;
    if (load_set(spath, limit, &s)) return 1;
    if (s.K > m->cfg.num_marks) {
        fprintf(stderr, "cmhp eval: %s has %d marks, the model only %d\n", spath, s.K,
                m->cfg.num_marks);
        return 1;
    }
    double *lp = xmalloc((s.total ? s.total : 1) * sizeof *lp);
    const double t0 = cmanp_clock_now();
    if (stream) {
        size_t off = 0;
        for (int i = 0; i < s.n_seq; i++) {
            if (cmhp_sequence_loglik(m, s.t + off, s.k + off, s.n[i], lp + off, &err)) {
                fprintf(stderr, "cmhp eval: sequence %d: %s\n", i, err.msg);
                return 1;
            }
            off += (size_t)s.n[i];
        }
    } else {
        cmhp_train *tr;
        if (cmhp_train_new(m, 64, &tr, &err)) {
            fprintf(stderr, "cmhp eval: %s\n", err.msg);
            return 1;
        }
        size_t off = 0;
        for (int i = 0; i < s.n_seq; i += 16) {
            int ns = s.n_seq - i < 16 ? s.n_seq - i : 16;
            size_t cnt = 0;
            for (int j = 0; j < ns; j++) cnt += (size_t)s.n[i + j];
            cmhp_batch b = {ns, s.n + i, s.t + off, s.k + off, 1};
            if (cmhp_train_forward(tr, &b, NULL, lp + off, &err)) {
                fprintf(stderr, "cmhp eval: sequences %d..%d: %s\n", i, i + ns - 1, err.msg);
                return 1;
            }
            off += cnt;
        }
        cmhp_train_free(tr);
    }
    const double secs = cmanp_clock_now() - t0;
    /* README metric: events with i >= 1.  Poisson floor: rate of mark k =
     * (n_k + 0.5 / K) / (t_{i-1} + 1) from the sequence's own history. */
    double model = 0, oracle = 0, floor_ = 0;
    long cnt = 0;
    size_t off = 0;
    const int K = s.K;
    double *nk = xmalloc((size_t)K * sizeof *nk);
    for (int i = 0; i < s.n_seq; i++) {
        memset(nk, 0, (size_t)K * sizeof *nk);
        for (int j = 0; j < s.n[i]; j++) {
            size_t q = off + (size_t)j;
            if (j >= 1) {
                const double tp = s.t[q - 1], dt = s.t[q] - tp;
                double tot = 0;
                for (int a = 0; a < K; a++) tot += (nk[a] + 0.5 / K) / (tp + 1);
                floor_ -= log((nk[s.k[q]] + 0.5 / K) / (tp + 1)) - tot * dt;
                model -= lp[q];
                oracle -= s.oracle[q];
                cnt++;
            }
            nk[s.k[q]] += 1;
        }
        off += (size_t)s.n[i];
    }
    model /= cnt;
    oracle /= cnt;
    floor_ /= cnt;
    printf("set %s (%d sequences, %ld scored events, %s in %.1f s)\n", spath, s.n_seq, cnt,
           stream ? "streaming" : "prefix scan", secs);
    printf("model %s (%s)\n", mpath, cmhp_variant_name(&m->cfg));
    printf("%-14s %10s %10s\n", "", "NLL/event", "excess");
    printf("%-14s %10.4f %+10.4f\n", "model", model, model - oracle);
    printf("%-14s %10.4f %+10.4f\n", "oracle", oracle, 0.0);
    printf("%-14s %10.4f %+10.4f\n", "Poisson floor", floor_, floor_ - oracle);
    cmanp_free(nk);
    cmanp_free(lp);
    cmanp_free(s.t);
    cmanp_free(s.k);
    cmanp_free(s.n);
    cmanp_free(s.oracle);
    cmhp_model_free(m);
    return 0;
}

static int cmd_info(int argc, char **argv) {
    if (argc < 3) return usage();
    cmanp_err err = {0};
    cmhp_model *m;
    if (cmhp_model_load_file(&m, argv[2], &err)) {
        fprintf(stderr, "cmhp info: %s\n", err.msg);
        return 1;
    }
    char cfg[1024];
    cmhp_config_to_json(&m->cfg, cfg, sizeof cfg);
    printf("variant %s\nparameters %zu in %d tensors\nfingerprint %016llx\nconfig %s\n",
           cmhp_variant_name(&m->cfg), m->layout.n_params, m->layout.n,
           (unsigned long long)m->fingerprint, cfg);
    cmhp_model_free(m);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage();
    if (!strcmp(argv[1], "train")) return cmd_train(argc, argv);
    if (!strcmp(argv[1], "eval")) return cmd_eval(argc, argv);
    if (!strcmp(argv[1], "info")) return cmd_info(argc, argv);
    return usage();
}
