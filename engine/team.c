/* team.c - fork-join with a spinning barrier (team.h).
 *
 * The barriers of a readout come every ~100 us of work, so a futex sleep and
 * wake-up per barrier (pthread_barrier_wait: tens of microseconds when a
 * thread has to be woken) would eat much of what a second thread gains.
 * Waiters spin on an atomic phase counter, and yield after a while so that an
 * oversubscribed machine still makes progress.
 */
#include "team.h"

#include "ops.h"

#include <pthread.h>
#include <sched.h>
#include <stddef.h>

#define SPINS_BEFORE_YIELD 20000

void cmanp_team_barrier(cmanp_team *t) {
    if (t->n <= 1) return;
    int ph = atomic_load_explicit(&t->phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&t->arrived, 1, memory_order_acq_rel) == t->n - 1) {
        /* Last to arrive: nobody can arrive at the next barrier before the
         * phase moves on, so resetting the count first is safe. */
        atomic_store_explicit(&t->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->phase, 1, memory_order_release);
        return;
    }
    for (long spins = 0; atomic_load_explicit(&t->phase, memory_order_acquire) == ph; spins++)
        if (spins > SPINS_BEFORE_YIELD) sched_yield();
}

typedef struct worker {
    cmanp_team *t;
    cmanp_team_fn fn;
    void *arg;
    int tid;
    atomic_int *go;   /* 1: t->n is final, start; -1: do not run */
    cmanp_work work;  /* the worker's counters, handed to the caller */
} worker;

static void *worker_main(void *p) {
    worker *w = p;
    int go;
    while ((go = atomic_load_explicit(w->go, memory_order_acquire)) == 0) sched_yield();
    if (go > 0) {
        cmanp_work_reset();
        w->fn(w->arg, w->tid, w->t);
        cmanp_work_get(&w->work);
    }
    return NULL;
}

int cmanp_team_run(int n, cmanp_team_fn fn, void *arg) {
    if (n > CMANP_TEAM_MAX) n = CMANP_TEAM_MAX;
    cmanp_team t = {.n = 1};
    atomic_init(&t.arrived, 0);
    atomic_init(&t.phase, 0);
    if (n <= 1) {
        fn(arg, 0, &t);
        return 1;
    }
    atomic_int go;
    atomic_init(&go, 0);
    worker w[CMANP_TEAM_MAX];
    pthread_t th[CMANP_TEAM_MAX];
    int started = 1;
    /* A thread that cannot be created leaves a smaller team; the workers
     * wait for the final count before they start. */
    for (int k = 1; k < n; k++) {
        w[started] = (worker){.t = &t, .fn = fn, .arg = arg, .tid = started, .go = &go};
        if (pthread_create(&th[started], NULL, worker_main, &w[started]) != 0) break;
        started++;
    }
    t.n = started;
    atomic_store_explicit(&go, 1, memory_order_release);
    fn(arg, 0, &t);
    for (int k = 1; k < started; k++) {
        pthread_join(th[k], NULL);
        cmanp_work_add(&w[k].work);
    }
    return started;
}
