/* team.h - fork-join for one operation: run a function on n threads (the
 * caller is thread 0) that meet at barriers, then join.
 *
 * Inference parallelism is opt-in (cmanp_readout_set_threads; SQL
 * cmanp_threads()), in the spirit of SQLite's PRAGMA threads: one thread by
 * default, extra threads created for one call and joined before it returns,
 * so a host never finds threads it did not ask for.  Work is split into
 * parts fixed by the data's shape, never by the thread count, and part p
 * runs on thread p % n: results are bit-identical for every n.
 *
 * Each worker's engine work counters (cmanp_work) are added to the caller's
 * at the join, so counted FLOPs do not depend on n either.
 */
#ifndef CMANP_TEAM_H
#define CMANP_TEAM_H

#include <stdatomic.h>

#define CMANP_TEAM_MAX 8

typedef struct cmanp_team {
    int n;                /* threads that run (the caller included) */
    atomic_int arrived;   /* threads at the current barrier */
    atomic_int phase;     /* barriers completed */
} cmanp_team;

/* fn(arg, tid, t) with tid in 0..t->n-1; t->n may be less than asked for if
 * a thread could not be created (never less than 1): split work by t->n. */
typedef void (*cmanp_team_fn)(void *arg, int tid, cmanp_team *t);

/* Runs fn on min(n, CMANP_TEAM_MAX) threads and returns how many ran. */
int cmanp_team_run(int n, cmanp_team_fn fn, void *arg);

/* Every thread of t waits here until all have arrived; what each wrote
 * before it is visible to all after it.  Spins briefly, then yields. */
void cmanp_team_barrier(cmanp_team *t);

#endif
