/* cmhp_trainer.h - the CMHP training loop: sequence source -> loss and
 * gradient (cmhp_train.h) -> Adam (adam.h, shared with CMANP), with
 * checkpoints that resume bit-identically.
 *
 * Reproducibility contract (as CMANP's trainer.h): a run is a pure function
 * of its options (seed, batch, chunk, ...) and of the source's fixed data.  A
 * checkpoint stores everything that changes during a run (weights, Adam
 * moments and step, the generator state), so "N steps straight" and "k steps,
 * checkpoint, free everything, resume, N - k steps" give the same bits.
 * The engine never prints: progress goes to a callback.
 */
#ifndef CMHP_TRAINER_H
#define CMHP_TRAINER_H

#include <stdint.h>

#include "adam.h"
#include "cmhp_train.h"
#include "loop.h"
#include "rng.h"

/* Where a source writes one batch of sequences (sequence b follows b - 1). */
typedef struct cmhp_seq_buf {
    int cap_seq;          /* sequences the arrays have room for */
    int cap_events;       /* events per sequence at most */
    int n_seq;            /* set by the source */
    int *n;               /* (cap_seq) */
    double *t;            /* (cap_seq * cap_events) */
    int *k;
} cmhp_seq_buf;

/* A source of training sequences (the Hawkes simulator below; the SQL layer
 * plugs in "sequences from a query").  next() fills buf with exactly batch
 * sequences of 1..cap_events events, depending only on its fixed data and on
 * the numbers it draws from rng (saved by checkpoints). */
typedef struct cmhp_seq_source {
    int (*next)(void *ctx, cmanp_rng *rng, int batch, cmhp_seq_buf *buf, cmanp_err *e);
    void *ctx;
} cmhp_seq_source;

typedef struct cmhp_trainer_opts {
    cmhp_config model;
    int64_t steps;             /* optimisation steps = the cosine schedule's period */
    int batch;                 /* sequences per step */
    double lr, weight_decay, beta1, beta2, eps;
    int64_t warmup;
    double clip_norm;
    uint64_t seed;             /* initialisation and the sequence stream */
    int64_t checkpoint_every;  /* 0: only when cmhp_trainer_run returns */
    char source[64];           /* "hawkes1" | "hawkes2" | "hawkes_meta" | a custom source's name */
    double t_end;              /* simulated window (0, t_end] */
    int max_events;            /* events per sequence at most (simulations are truncated) */
    int first_target;          /* events p < first_target of a sequence are history only */
    int chunk;                 /* targets read out together (memory, not results) */
} cmhp_trainer_opts;

/* model = cfg; 2000 steps, batch 8, lr 1e-3, Adam (0.9, 0.999, 1e-8), warm-up
 * 100, clip 5, seed 1, checkpoint every 100, "hawkes1", t_end 100,
 * max_events 4096, first_target 0, chunk 64. */
void cmhp_trainer_defaults(cmhp_trainer_opts *o, const cmhp_config *cfg);
int cmhp_trainer_opts_to_json(const cmhp_trainer_opts *o, char *buf, size_t cap);
int cmhp_trainer_opts_parse(cmhp_trainer_opts *o, const char *json, cmanp_err *e);

/* The built-in source: sequences of the named process (hawkes_meta draws a
 * new process per sequence) on (0, t_end], truncated at max_events; empty
 * sequences are redrawn. */
typedef struct cmhp_hawkes_source {
    char name[64];
    double t_end;
    int max_events;
} cmhp_hawkes_source;
int cmhp_hawkes_source_next(void *ctx, cmanp_rng *rng, int batch, cmhp_seq_buf *buf, cmanp_err *e);

/* Mean inter-event time of n_seq sequences of a source drawn from seed (the
 * suggested time_scale): sum of last event times / number of events. */
int cmhp_source_time_scale(const cmhp_seq_source *src, int n_seq, int cap_events, uint64_t seed,
                           double *out, cmanp_err *e);

typedef struct cmhp_trainer cmhp_trainer;

/* init: starting weights (copied) or NULL for cmhp_model_init(seed).
 * src: NULL for the built-in Hawkes source named by o->source. */
int cmhp_trainer_new(const cmhp_trainer_opts *o, const cmhp_model *init,
                     const cmhp_seq_source *src, cmhp_trainer **out, cmanp_err *e);
int cmhp_trainer_resume(const char *path, const cmhp_seq_source *src, cmhp_trainer **out,
                        cmanp_err *e);
void cmhp_trainer_free(cmhp_trainer *t);
int cmhp_trainer_step(cmhp_trainer *t, double *loss, cmanp_err *e);
int64_t cmhp_trainer_steps_done(const cmhp_trainer *t);
const cmhp_trainer_opts *cmhp_trainer_options(const cmhp_trainer *t);
const cmhp_model *cmhp_trainer_model(cmhp_trainer *t);
/* Atomic (temp file, fsync, rename via cmanp_st_write_file). */
int cmhp_trainer_save_checkpoint(cmhp_trainer *t, const char *path, cmanp_err *e);
int cmhp_trainer_save_model(cmhp_trainer *t, const char *path, const char *note, cmanp_err *e);

/* The loop is CMANP's (loop.h); these names keep the CMHP spelling. */
typedef cmanp_progress cmhp_progress;
typedef cmanp_progress_fn cmhp_progress_fn;
typedef cmanp_run_opts cmhp_run_opts;

int cmhp_trainer_run(cmhp_trainer *t, const cmhp_run_opts *r, cmanp_err *e);

#endif
