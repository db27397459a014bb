/* loop.h - the training loop shared by the CMANP and CMHP trainers: steps
 * until a target, periodic checkpoints, progress reports with rate and ETA,
 * a stop flag, and a last checkpoint however the loop ends, so no progress
 * is lost.
 *
 * The engine never prints: progress goes to a callback.  The small clock and
 * duration helpers at the end serve the front ends that print it
 * (ext/cli/cmanp_train_main.c, ext/train_sql.c).
 */
#ifndef CMANP_LOOP_H
#define CMANP_LOOP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "adam.h"
#include "err.h"

typedef struct cmanp_progress {
    int64_t step;          /* steps done */
    int64_t steps;         /* total */
    double loss;           /* last step's loss */
    double loss_avg;       /* mean loss over the steps since the previous report */
    double lr;             /* learning rate of the last step */
    double steps_per_s;    /* since the loop started */
    double eta_s;          /* remaining steps at that rate */
    int checkpointed;      /* a checkpoint was written at this step */
    int final;             /* last report of this run() call */
} cmanp_progress;

typedef void (*cmanp_progress_fn)(void *ctx, const cmanp_progress *p);

typedef struct cmanp_run_opts {
    const char *checkpoint_path;   /* NULL: no checkpoints */
    int64_t until;                 /* stop when this many steps are done (<= 0: all) */
    int64_t report_every;          /* progress period in steps (<= 0: 1) */
    cmanp_progress_fn progress;    /* may be NULL */
    void *progress_ctx;
    volatile sig_atomic_t *stop;   /* polled between steps; when non-zero, checkpoint and return */
} cmanp_run_opts;

/* A trainer as the loop sees it. */
typedef struct cmanp_loop {
    void *trainer;
    /* One optimisation step (loss before the update); a failed step leaves
     * the weights and the step count untouched. */
    int (*step)(void *trainer, double *loss, cmanp_err *e);
    int (*save)(void *trainer, const char *path, cmanp_err *e);
    const cmanp_adam *adam;        /* t = steps done; o = the learning-rate schedule */
    const double *last_loss;       /* the trainer's last loss (NaN before any step) */
    int64_t steps;                 /* total steps of the run */
    int64_t checkpoint_every;      /* 0: only when the loop returns */
} cmanp_loop;

/* Steps until r->until (or the end, or *r->stop), writing a checkpoint every
 * checkpoint_every steps and when it returns (also on stop and on errors
 * after at least one step). */
int cmanp_loop_run(const cmanp_loop *l, const cmanp_run_opts *r, cmanp_err *e);

/* Monotonic seconds (rates and throttling of progress lines). */
double cmanp_clock_now(void);
/* "1h02m", "3m05s", "42s"; "?" for a negative, NaN or absurd (> 1e8 s) value. */
void cmanp_duration_format(double s, char *buf, size_t cap);

#endif
