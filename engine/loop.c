/* loop.c - the training loop and its progress reports (see loop.h). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "loop.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

double cmanp_clock_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cmanp_duration_format(double s, char *buf, size_t cap) {
    if (!(s >= 0) || s > 1e8) {
        snprintf(buf, cap, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60)
        snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, cap, "%lds", t);
}

/* Rate and ETA since the loop started at t0 with `start` steps done. */
static void fill_rate(cmanp_progress *pr, const cmanp_loop *l, int64_t start, double t0) {
    const int64_t done = l->adam->t;
    const double dt = cmanp_clock_now() - t0;
    pr->step = done;
    pr->steps = l->steps;
    pr->steps_per_s = dt > 0 ? (double)(done - start) / dt : 0.0;
    pr->eta_s = pr->steps_per_s > 0 ? (double)(l->steps - done) / pr->steps_per_s : 0.0;
}

int cmanp_loop_run(const cmanp_loop *l, const cmanp_run_opts *r, cmanp_err *e) {
    const int64_t total = l->steps;
    const int64_t until = r->until > 0 && r->until < total ? r->until : total;
    const int64_t report = r->report_every > 0 ? r->report_every : 1;
    const int64_t ck_every = l->checkpoint_every;
    const int64_t start = l->adam->t;
    const double t0 = cmanp_clock_now();
    double lsum = 0.0;
    int64_t lcount = 0;
    int rc = CMANP_OK;
    cmanp_progress pr;
    memset(&pr, 0, sizeof pr);
    while (l->adam->t < until) {
        if (r->stop && *r->stop) break;
        double loss;
        if ((rc = l->step(l->trainer, &loss, e))) break;
        lsum += loss;
        lcount++;
        int ck = 0;
        /* The checkpoint at `until` is the one written on return. */
        if (r->checkpoint_path && ck_every > 0 && l->adam->t % ck_every == 0 && l->adam->t < until) {
            if ((rc = l->save(l->trainer, r->checkpoint_path, e))) break;
            ck = 1;
        }
        if (r->progress && (l->adam->t % report == 0 || ck)) {
            fill_rate(&pr, l, start, t0);
            pr.loss = loss;
            pr.loss_avg = lsum / (double)lcount;
            pr.lr = cmanp_adam_lr(&l->adam->o, l->adam->t - 1);
            pr.checkpointed = ck;
            pr.final = 0;
            r->progress(r->progress_ctx, &pr);
            lsum = 0.0;
            lcount = 0;
        }
    }
    /* Keep what was done: a checkpoint when the run ends, stops or fails
     * after progress (a failed step leaves weights and step untouched).  The
     * first error is the one reported. */
    int saved = 0;
    if (r->checkpoint_path && l->adam->t > start) {
        cmanp_err e2 = {0};
        int rc2 = l->save(l->trainer, r->checkpoint_path, rc ? &e2 : e);
        if (!rc) rc = rc2;
        saved = rc2 == CMANP_OK;
    }
    if (r->progress) {
        const double last = *l->last_loss;
        fill_rate(&pr, l, start, t0);
        pr.loss = last;
        pr.loss_avg = lcount ? lsum / (double)lcount : last;
        pr.lr = l->adam->t > 0 ? cmanp_adam_lr(&l->adam->o, l->adam->t - 1) : l->adam->o.lr;
        pr.checkpointed = saved;
        pr.final = 1;
        r->progress(r->progress_ctx, &pr);
    }
    return rc;
}
