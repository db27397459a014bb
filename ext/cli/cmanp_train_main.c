/* cmanp_train_main.c - cmanp-train: meta-train a CMANP on the GP prior.
 *
 *   cmanp-train --out models/gp.safetensors [--checkpoint ckpt.safetensors]
 *               [--config '{"dim_x":1,...}' | --config @cfg.json] [--init model.safetensors]
 *               [--steps 100000] [--batch 16] [--lr 5e-4] [--wd 0] [--seed 1]
 *               [--checkpoint-every 1000] [--kernel rbf|matern|periodic]
 *               [--max-points 50] [--min-ctx 3] [--warmup 0] [--clip 0]
 *               [--threads 2] [--chunk 4] [--until N] [--resume] [--progress]
 *               [--report-every N]
 *
 * Resumes automatically when the checkpoint exists (the run then continues
 * with the checkpoint's options; options given on the command line must
 * agree with them, except --threads, which may change).  Progress (step,
 * loss, steps/s, ETA) goes to stderr when stderr is a terminal or with
 * --progress.  SIGINT / SIGTERM finish the current step, write the
 * checkpoint and exit with status 130; run the same command again to
 * continue.  The model is written to --out when all steps are done.
 *
 * Exit status: 0 done (or --until reached), 1 error, 2 usage, 130 interrupted.
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trainer.h"

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f) {
    fputs("usage: cmanp-train --out MODEL.safetensors [--checkpoint CKPT.safetensors]\n"
          "         [--config JSON|@FILE] [--init MODEL.safetensors] [--steps N] [--batch B]\n"
          "         [--lr X] [--wd X] [--seed S] [--checkpoint-every N]\n"
          "         [--kernel rbf|matern|periodic] [--max-points P] [--min-ctx C]\n"
          "         [--warmup N] [--clip X] [--threads T] [--chunk C] [--until N]\n"
          "         [--resume] [--progress] [--report-every N]\n"
          "Meta-trains a CMANP on Gaussian-process tasks (defaults: the paper's GP setup:\n"
          "100000 steps, batch 16, lr 5e-4 cosine, <= 50 points per task, RBF kernel).\n"
          "The checkpoint (default MODEL.ckpt.safetensors) is resumed automatically.\n",
          f);
}

/* Flags given on the command line (to compare with a checkpoint's options). */
enum {
    F_CONFIG = 1 << 0, F_STEPS = 1 << 1, F_BATCH = 1 << 2, F_LR = 1 << 3, F_WD = 1 << 4,
    F_SEED = 1 << 5, F_CKEVERY = 1 << 6, F_KERNEL = 1 << 7, F_MAXP = 1 << 8, F_MINC = 1 << 9,
    F_WARMUP = 1 << 10, F_CLIP = 1 << 11, F_THREADS = 1 << 12, F_CHUNK = 1 << 13
};

static int parse_i64(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !*s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_f64(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !*s || *end) return -1;
    *out = v;
    return 0;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (len + 1 >= cap) {
            cap = cap ? 2 * cap : 4096;
            if (cap > (1u << 20)) break;
            char *nb = realloc(buf, cap);
            if (!nb) break;
            buf = nb;
        }
        buf[len++] = (char)c;
    }
    fclose(f);
    if (buf) buf[len] = 0;
    return buf;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

typedef struct progress_ctx {
    int tty;            /* overwrite one line */
    double last_print;  /* monotonic seconds */
    int64_t last_step;  /* step of the last line printed */
} progress_ctx;

static void on_progress(void *ctx, const cmanp_progress *p) {
    progress_ctx *pc = ctx;
    double now = cmanp_clock_now();
    /* On a terminal, at most ~4 updates a second; checkpoints and the final
     * report always show. */
    if (pc->tty && !p->final && !p->checkpointed && now - pc->last_print < 0.25) return;
    if (p->final && p->step == pc->last_step) {
        if (pc->tty) fputc('\n', stderr);
        return; /* already shown */
    }
    pc->last_print = now;
    pc->last_step = p->step;
    char eta[32];
    cmanp_duration_format(p->eta_s, eta, sizeof eta);
    fprintf(stderr, "%sstep %lld/%lld  loss %.4f (avg %.4f)  lr %.3g  %.2f steps/s  ETA %s%s%s",
            pc->tty ? "\r\033[K" : "", (long long)p->step, (long long)p->steps, p->loss,
            p->loss_avg, p->lr, p->steps_per_s, eta, p->checkpointed ? "  [checkpoint]" : "",
            pc->tty && !p->final ? "" : "\n");
    fflush(stderr);
}

int main(int argc, char **argv) {
    const char *out = NULL, *ckpt = NULL, *config = NULL, *init_path = NULL;
    long long until = 0, report_every = 0;
    int resume_required = 0, progress_flag = 0;
    unsigned given = 0;
    cmanp_trainer_opts o;
    cmanp_trainer_defaults(&o, NULL);
    o.threads = 2;
    const char *kernel = "rbf";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long x;
        int bad = 0, takes = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--resume")) {
            resume_required = 1;
            takes = 0;
        } else if (!strcmp(a, "--progress")) {
            progress_flag = 1;
            takes = 0;
        } else if (!v) {
            fprintf(stderr, "cmanp-train: %s needs a value\n", a);
            return 2;
        } else if (!strcmp(a, "--out")) {
            out = v;
        } else if (!strcmp(a, "--checkpoint")) {
            ckpt = v;
        } else if (!strcmp(a, "--config")) {
            config = v;
            given |= F_CONFIG;
        } else if (!strcmp(a, "--init")) {
            init_path = v;
        } else if (!strcmp(a, "--steps")) {
            bad = parse_i64(v, 1, (long long)1 << 40, &x);
            o.steps = x;
            given |= F_STEPS;
        } else if (!strcmp(a, "--batch")) {
            bad = parse_i64(v, 1, 1 << 20, &x);
            o.batch = (int)x;
            given |= F_BATCH;
        } else if (!strcmp(a, "--lr")) {
            bad = parse_f64(v, &o.lr);
            given |= F_LR;
        } else if (!strcmp(a, "--wd")) {
            bad = parse_f64(v, &o.weight_decay);
            given |= F_WD;
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            o.seed = strtoull(v, &end, 10);
            bad = errno || !*v || *end || *v == '-';
            given |= F_SEED;
        } else if (!strcmp(a, "--checkpoint-every")) {
            bad = parse_i64(v, 0, (long long)1 << 40, &x);
            o.checkpoint_every = x;
            given |= F_CKEVERY;
        } else if (!strcmp(a, "--kernel")) {
            kernel = v;
            given |= F_KERNEL;
        } else if (!strcmp(a, "--max-points")) {
            bad = parse_i64(v, 2, 1 << 20, &x);
            o.max_points = (int)x;
            given |= F_MAXP;
        } else if (!strcmp(a, "--min-ctx")) {
            bad = parse_i64(v, 1, 1 << 20, &x);
            o.min_ctx = (int)x;
            given |= F_MINC;
        } else if (!strcmp(a, "--warmup")) {
            bad = parse_i64(v, 0, (long long)1 << 40, &x);
            o.warmup = x;
            given |= F_WARMUP;
        } else if (!strcmp(a, "--clip")) {
            bad = parse_f64(v, &o.clip_norm);
            given |= F_CLIP;
        } else if (!strcmp(a, "--threads")) {
            bad = parse_i64(v, 1, CMANP_TRAIN_MAX_THREADS, &x);
            o.threads = (int)x;
            given |= F_THREADS;
        } else if (!strcmp(a, "--chunk")) {
            bad = parse_i64(v, 1, 1 << 20, &x);
            o.chunk = (int)x;
            given |= F_CHUNK;
        } else if (!strcmp(a, "--until")) {
            bad = parse_i64(v, 1, (long long)1 << 40, &until);
        } else if (!strcmp(a, "--report-every")) {
            bad = parse_i64(v, 1, (long long)1 << 40, &report_every);
        } else {
            fprintf(stderr, "cmanp-train: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "cmanp-train: bad value for %s: '%s'\n", a, v);
            return 2;
        }
        i += takes;
    }
    if (!out) {
        fprintf(stderr, "cmanp-train: --out is required\n");
        usage(stderr);
        return 2;
    }
    char ckpt_buf[4096];
    if (!ckpt) {
        snprintf(ckpt_buf, sizeof ckpt_buf, "%s.ckpt.safetensors", out);
        ckpt = ckpt_buf;
    }
    if (snprintf(o.source, sizeof o.source, "gp:%s", kernel) >= (int)sizeof o.source) {
        fprintf(stderr, "cmanp-train: kernel name too long\n");
        return 2;
    }
    cmanp_err err = {0};
    cmanp_model *init = NULL;
    if (init_path) {
        if (cmanp_model_load_file(&init, init_path, &err)) {
            fprintf(stderr, "cmanp-train: --init: %s\n", err.msg);
            return 1;
        }
        if (!config) o.model = init->cfg;
    }
    if (config) {
        char *text = NULL;
        const char *json = config;
        if (config[0] == '@') {
            text = read_text(config + 1);
            if (!text) {
                fprintf(stderr, "cmanp-train: cannot read %s\n", config + 1);
                return 2;
            }
            json = text;
        }
        int rc = cmanp_config_parse(&o.model, json, &err);
        free(text);
        if (rc) {
            fprintf(stderr, "cmanp-train: --config: %s\n", err.msg);
            cmanp_model_free(init);
            return 2;
        }
    }

    /* The engine's lanes are the threads; OpenBLAS inside them runs serially. */
    openblas_set_num_threads(1);

    cmanp_trainer *t = NULL;
    int tty = isatty(2);
    if (file_exists(ckpt)) {
        if (init) {
            fprintf(stderr, "cmanp-train: %s exists; --init only applies to a new run: "
                            "drop --init to continue that run, or delete the checkpoint to start over\n",
                    ckpt);
            cmanp_model_free(init);
            return 2;
        }
        if (cmanp_trainer_resume(ckpt, NULL, &t, &err)) {
            fprintf(stderr, "cmanp-train: resume: %s\n", err.msg);
            return 1;
        }
        /* Options that shape the run must agree with the checkpoint. */
        const cmanp_trainer_opts *r = cmanp_trainer_options(t);
        char want[512], have[512];
        cmanp_config_to_json(&o.model, want, sizeof want);
        cmanp_config_to_json(&r->model, have, sizeof have);
        struct { unsigned flag; int differs; const char *name; } chk[] = {
            {F_CONFIG, strcmp(want, have) != 0, "--config"},
            {F_STEPS, o.steps != r->steps, "--steps"},
            {F_BATCH, o.batch != r->batch, "--batch"},
            {F_LR, o.lr != r->lr, "--lr"},
            {F_WD, o.weight_decay != r->weight_decay, "--wd"},
            {F_SEED, o.seed != r->seed, "--seed"},
            {F_CKEVERY, o.checkpoint_every != r->checkpoint_every, "--checkpoint-every"},
            {F_KERNEL, strcmp(o.source, r->source) != 0, "--kernel"},
            {F_MAXP, o.max_points != r->max_points, "--max-points"},
            {F_MINC, o.min_ctx != r->min_ctx, "--min-ctx"},
            {F_WARMUP, o.warmup != r->warmup, "--warmup"},
            {F_CLIP, o.clip_norm != r->clip_norm, "--clip"},
            {F_CHUNK, o.chunk != r->chunk, "--chunk"},
        };
        for (size_t k = 0; k < sizeof chk / sizeof chk[0]; k++)
            if ((given & chk[k].flag) && chk[k].differs) {
                char ro[2048];
                cmanp_trainer_opts_to_json(r, ro, sizeof ro);
                fprintf(stderr,
                        "cmanp-train: %s differs from the checkpoint %s, which continues the run "
                        "with:\n  %s\nDrop the option, or use another --checkpoint for a new run.\n",
                        chk[k].name, ckpt, ro);
                cmanp_trainer_free(t);
                return 2;
            }
        if ((given & F_THREADS) && o.threads != r->threads) {
            fprintf(stderr,
                    "cmanp-train: note: --threads %d (checkpoint: %d); the run stays "
                    "deterministic but its bits will differ from an uninterrupted run\n",
                    o.threads, r->threads);
            if (cmanp_trainer_set_threads(t, o.threads, &err)) {
                fprintf(stderr, "cmanp-train: %s\n", err.msg);
                cmanp_trainer_free(t);
                return 1;
            }
        }
        fprintf(stderr, "cmanp-train: resuming %s at step %lld of %lld\n", ckpt,
                (long long)cmanp_trainer_steps_done(t), (long long)r->steps);
    } else {
        if (resume_required) {
            fprintf(stderr, "cmanp-train: --resume: %s does not exist\n", ckpt);
            cmanp_model_free(init);
            return 2;
        }
        if (cmanp_trainer_new(&o, init, NULL, &t, &err)) {
            fprintf(stderr, "cmanp-train: %s\n", err.msg);
            cmanp_model_free(init);
            return 1;
        }
        cmanp_model_free(init);
        init = NULL;
        char oj[2048];
        cmanp_trainer_opts_to_json(&o, oj, sizeof oj);
        fprintf(stderr, "cmanp-train: new run (%zu parameters): %s\n",
                cmanp_trainer_model(t)->layout.n_params, oj);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    progress_ctx pc = {tty, 0.0, -1};
    cmanp_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.checkpoint_path = ckpt;
    ro.until = until;
    ro.report_every = report_every > 0 ? report_every : (tty ? 1 : 100);
    ro.progress = (tty || progress_flag) ? on_progress : NULL;
    ro.progress_ctx = &pc;
    ro.stop = &g_stop;
    int rc = cmanp_trainer_run(t, &ro, &err);
    const cmanp_trainer_opts *fo = cmanp_trainer_options(t);
    int64_t done = cmanp_trainer_steps_done(t);
    int status = 0;
    if (rc) {
        fprintf(stderr, "cmanp-train: %s (stopped at step %lld; checkpoint %s)\n", err.msg,
                (long long)done, ckpt);
        status = 1;
    } else if (g_stop) {
        fprintf(stderr,
                "cmanp-train: interrupted at step %lld of %lld; checkpoint written to %s; run the "
                "same command again to continue\n",
                (long long)done, (long long)fo->steps, ckpt);
        status = 130;
    } else if (done >= fo->steps) {
        char note[2400], oj[2048];
        cmanp_trainer_opts_to_json(fo, oj, sizeof oj);
        snprintf(note, sizeof note, "cmanp-train: %lld steps, options %s", (long long)done, oj);
        if (cmanp_trainer_save_model(t, out, note, &err)) {
            fprintf(stderr, "cmanp-train: writing %s: %s\n", out, err.msg);
            status = 1;
        } else {
            fprintf(stderr, "cmanp-train: done: %lld steps; model written to %s\n",
                    (long long)done, out);
        }
    } else {
        fprintf(stderr, "cmanp-train: stopped at step %lld of %lld (--until); checkpoint %s\n",
                (long long)done, (long long)fo->steps, ckpt);
    }
    cmanp_trainer_free(t);
    return status;
}
