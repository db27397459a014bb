/* trainer.h - the meta-training loop: task source -> loss and gradient
 * (train.h) -> Adam (adam.h), with checkpoints that resume bit-identically.
 *
 * Reproducibility contract: a run is a pure function of its options (which
 * include the seed, thread count and micro-batch size) and of the task
 * source's fixed data.  A checkpoint stores everything that changes during a
 * run (weights, Adam moments, step, the data generator's state), so
 * "N steps straight" and "k steps, checkpoint, free everything, resume,
 * N - k steps" produce the same bits.
 *
 * The engine never prints: progress goes to a callback.
 */
#ifndef CMANP_TRAINER_H
#define CMANP_TRAINER_H

#include <stdint.h>

#include "adam.h"
#include "cmanp.h"
#include "loop.h"
#include "rng.h"
#include "train.h"

/* ----------------------------------------------------------------- tasks */

/* Where a task source writes one batch.  Task b's rows follow task b-1's. */
typedef struct cmanp_task_buf {
    int cap_tasks;      /* tasks the arrays have room for */
    int cap_rows;       /* per task: nc + nt <= cap_rows */
    int n_tasks;        /* set by the source */
    int *nc, *nt;       /* (cap_tasks) */
    float *xc, *yc;     /* room for cap_tasks * cap_rows rows of dim_x / dim_y */
    float *xt, *yt;
} cmanp_task_buf;

/* A source of training tasks (the GP prior below; the SQLite layer plugs in
 * "tasks from a SQL query").  next() fills buf with exactly `batch` tasks.
 * For checkpoints to resume exactly, it must depend only on its fixed data
 * and on the numbers it draws from rng (the trainer's generator, which the
 * checkpoint saves). */
typedef struct cmanp_task_source {
    int (*next)(void *ctx, cmanp_rng *rng, int batch, cmanp_task_buf *buf, cmanp_err *e);
    void *ctx;
} cmanp_task_source;

/* --------------------------------------------------------------- options */

typedef struct cmanp_trainer_opts {
    cmanp_config model;
    int64_t steps;             /* total optimisation steps = the cosine schedule's T_max */
    int batch;                 /* tasks per step */
    double lr;                 /* peak learning rate */
    double weight_decay;       /* coupled L2, golden README section 6 (0: off) */
    double beta1, beta2, eps;  /* Adam */
    int64_t warmup;            /* linear warm-up steps (0: off) */
    double clip_norm;          /* global gradient-norm clipping (0: off) */
    uint64_t seed;             /* weight initialisation and task stream */
    int64_t checkpoint_every;  /* cmanp_trainer_run writes a checkpoint every this many steps (0: at the end only) */
    int max_points;            /* rows per task (context + target) at most; GP: nc + nt <= max_points - 1 */
    int min_ctx;               /* GP prior: fewest context points */
    char source[64];           /* "gp:rbf" | "gp:matern" | "gp:periodic", or a custom source's name */
    int threads;               /* parallel lanes (bits depend on it) */
    int chunk;                 /* tasks per micro-batch inside a lane (bits depend on it) */
} cmanp_trainer_opts;

/* The authors' GP setup: model from cfg (may be NULL: the paper's GP
 * configuration), 100000 steps, batch 16, lr 5e-4, Adam (0.9, 0.999, 1e-8),
 * no weight decay / warm-up / clipping, seed 1, checkpoint every 1000 steps,
 * max_points 50, min_ctx 3, "gp:rbf", 1 thread, CMANP_TRAIN_DEFAULT_CHUNK. */
void cmanp_trainer_defaults(cmanp_trainer_opts *o, const cmanp_config *cfg);
/* Options as canonical JSON (every field), and back (every field required,
 * unknown keys rejected). */
int cmanp_trainer_opts_to_json(const cmanp_trainer_opts *o, char *buf, size_t cap);
int cmanp_trainer_opts_parse(cmanp_trainer_opts *o, const char *json, cmanp_err *e);

/* --------------------------------------------------------------- trainer */

typedef struct cmanp_trainer cmanp_trainer;

/* A new run.  init: starting weights (copied; same config as o->model), or
 * NULL for the reference initialisation (PyTorch defaults: Linear weights and
 * biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)), LayerNorm gains 1 and biases 0,
 * latents N(0, 1)) drawn from o->seed.  src: NULL for the GP prior named by
 * o->source, otherwise a custom source (copied). */
int cmanp_trainer_new(const cmanp_trainer_opts *o, const cmanp_model *init,
                      const cmanp_task_source *src, cmanp_trainer **out, cmanp_err *e);
/* Continue a run from a checkpoint (options come from the checkpoint).  src
 * as above: a custom source must be the same one the run started with. */
int cmanp_trainer_resume(const char *path, const cmanp_task_source *src, cmanp_trainer **out,
                         cmanp_err *e);
void cmanp_trainer_free(cmanp_trainer *t);

/* One optimisation step.  loss (may be NULL) receives the batch's loss
 * before the update.  A non-finite loss leaves the weights and step
 * untouched and returns CMANP_ENUMERIC. */
int cmanp_trainer_step(cmanp_trainer *t, double *loss, cmanp_err *e);

/* Change the number of lanes (e.g. resuming on another machine).  The run
 * stays deterministic but its bits then differ from an uninterrupted run
 * with the old count; the new count is saved in later checkpoints. */
int cmanp_trainer_set_threads(cmanp_trainer *t, int threads, cmanp_err *e);

int64_t cmanp_trainer_steps_done(const cmanp_trainer *t);
const cmanp_trainer_opts *cmanp_trainer_options(const cmanp_trainer *t);
/* The model being trained, with constants and fingerprint refreshed (valid
 * until the next step). */
const cmanp_model *cmanp_trainer_model(cmanp_trainer *t);
/* The data generator (e.g. for tests). */
const cmanp_rng *cmanp_trainer_rng(const cmanp_trainer *t);

/* Checkpoint: one safetensors file with the weights (reference names), Adam's
 * moments ("adam.m.<name>", "adam.v.<name>") and __metadata__ "config",
 * "options" (JSON), "state" (JSON: step, generator state bit-exact);
 * written atomically (temp file, fsync, rename). */
int cmanp_trainer_save_checkpoint(cmanp_trainer *t, const char *path, cmanp_err *e);
/* The model alone, loadable with cmanp_model_load_file. */
int cmanp_trainer_save_model(cmanp_trainer *t, const char *path, const char *note,
                             cmanp_err *e);

/* ------------------------------------------------------------------- loop */

/* The shared loop (loop.h: cmanp_loop_run) on this trainer: steps until
 * r->until (or the end, or *r->stop), writing a checkpoint every
 * checkpoint_every steps and when it returns (also on stop and on errors
 * after at least one step, so no progress is lost). */
int cmanp_trainer_run(cmanp_trainer *t, const cmanp_run_opts *r, cmanp_err *e);

/* Reference initialisation of every parameter (see cmanp_trainer_new). */
void cmanp_init_weights(cmanp_model *m, uint64_t seed);

#endif
