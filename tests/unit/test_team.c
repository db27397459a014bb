/* test_team.c - readouts and decoding on several threads (engine/team.h).
 *
 * T1. cmanp_team_run runs fn on the asked number of threads (capped at
 *     CMANP_TEAM_MAX), tids 0..n-1 once each; the barrier makes every write
 *     before it visible to every thread after it (500 rounds of write own
 *     slot, barrier, read all slots, barrier).
 * T2. A readout and the decoding of 200 targets on 1, 2, 3 and 8 threads give
 *     bit-identical latents, means and standard deviations.
 * T3. The counted work (matrix products, FLOPs) of readout + decoding is the
 *     same for every thread count: workers' counters are added to the
 *     caller's at the join.
 * T4. The readout in CMANP_READOUT_PARTS row parts agrees with the whole-block
 *     readout (cmab_readout, one part) to float32 rounding: parts change the
 *     row count of the products, nothing else.
 * T5. cmanp_readout_set_threads rejects 0 and CMANP_TEAM_MAX + 1 with
 *     CMANP_EINVAL and a message naming the range; the count stays as it was.
 * T6. More threads cost memory only for their scratch, allocated once:
 *     repeated readouts on 2 threads allocate nothing.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmanp.h"
#include "testutil.h"

#define N_ROWS 700
#define M 200
#define ROUNDS 500

/* T1 */
typedef struct barrier_job {
    int n_asked;
    atomic_int seen[CMANP_TEAM_MAX];
    int slot[CMANP_TEAM_MAX];
    atomic_int bad;
    int team_n;
} barrier_job;

static void barrier_fn(void *arg, int tid, cmanp_team *t) {
    barrier_job *j = arg;
    atomic_fetch_add(&j->seen[tid], 1);
    if (tid == 0) j->team_n = t->n;
    for (int r = 1; r <= ROUNDS; r++) {
        j->slot[tid] = r;
        cmanp_team_barrier(t);
        for (int k = 0; k < t->n; k++)
            if (j->slot[k] != r) atomic_fetch_add(&j->bad, 1);
        cmanp_team_barrier(t);
    }
}

static void test_barrier(void) {
    int asks[] = {1, 2, 3, 8, 20};
    for (size_t a = 0; a < sizeof asks / sizeof *asks; a++) {
        barrier_job j;
        memset(&j, 0, sizeof j);
        for (int k = 0; k < CMANP_TEAM_MAX; k++) atomic_init(&j.seen[k], 0);
        atomic_init(&j.bad, 0);
        int want = asks[a] < CMANP_TEAM_MAX ? asks[a] : CMANP_TEAM_MAX;
        int ran = cmanp_team_run(asks[a], barrier_fn, &j);
        TU_CHECK(ran == want && j.team_n == want, "T1: asked %d threads, ran %d (want %d)", asks[a], ran,
                 want);
        for (int k = 0; k < CMANP_TEAM_MAX; k++)
            TU_CHECK(atomic_load(&j.seen[k]) == (k < want), "T1: tid %d ran %d times", k,
                     atomic_load(&j.seen[k]));
        TU_CHECK(atomic_load(&j.bad) == 0, "T1: %d stale reads after barriers on %d threads",
                 atomic_load(&j.bad), want);
    }
}

typedef struct result {
    cmanp_real *Z, mean[M], sd[M];
    cmanp_work w;
} result;

static int run(cmanp_readout *r, const cmanp_state *s, const cmanp_real *xt, int threads, size_t zn,
               result *out) {
    cmanp_err e = {0};
    if (cmanp_readout_set_threads(r, threads, &e)) return 1;
    cmanp_work_reset();
    if (cmanp_readout_compute(r, s, &e) || cmanp_predict(r, xt, M, out->mean, out->sd, NULL, &e)) {
        fprintf(stderr, "run: %s\n", e.msg);
        return 1;
    }
    cmanp_work_get(&out->w);
    out->Z = malloc(zn * sizeof(cmanp_real));
    if (!out->Z) return 1;
    memcpy(out->Z, cmanp_readout_latents(r), zn * sizeof(cmanp_real));
    return 0;
}

int main(void) {
    test_barrier();

    cmanp_err e = {0};
    cmanp_model *m;
    if (cmanp_model_load_file(&m, tu_shared("golden/gp_cmanp.weights.safetensors"), &e)) {
        TU_CHECK(0, "load: %s", e.msg);
        return tu_finish();
    }
    const cmanp_config *c = &m->cfg;
    const int L = c->num_layers, Lq = c->num_latents, d = c->d_model, W = c->dim_x + c->dim_y;
    const size_t zn = (size_t)L * Lq * d;
    cmanp_cond *cd;
    cmanp_state *s;
    cmanp_readout *r;
    TU_CHECK(cmanp_cond_new(m, 0, &cd, &e) == 0 && cmanp_state_new(m, &s, &e) == 0 &&
                 cmanp_readout_new(m, &r, &e) == 0,
             "setup: %s", e.msg);
    cmanp_real *xy = malloc(sizeof(cmanp_real) * N_ROWS * W), xt[M];
    for (int i = 0; i < N_ROWS; i++) {
        double x = (i * 37 % 400) / 100.0 - 2.0;
        xy[(size_t)i * W] = (cmanp_real)x;
        for (int k = 1; k < W; k++) xy[(size_t)i * W + k] = (cmanp_real)(0.7 * sin(2 * x + k));
    }
    for (int i = 0; i < M; i++) xt[i] = (cmanp_real)(4.0 * i / M - 2.0);
    TU_CHECK(cmanp_cond_add(cd, s, xy, N_ROWS, &e) == 0 && cmanp_cond_flush(cd, s, &e) == 0, "rows: %s",
             e.msg);

    /* T2, T3 */
    int counts[] = {1, 2, 3, 8};
    result res[4];
    for (int k = 0; k < 4; k++) {
        TU_CHECK(run(r, s, xt, counts[k], zn, &res[k]) == 0, "T2: run on %d threads failed", counts[k]);
        TU_CHECK(cmanp_readout_threads(r) == counts[k], "T2: threads %d", cmanp_readout_threads(r));
    }
    for (int k = 1; k < 4; k++) {
        TU_CHECK(res[k].Z && memcmp(res[k].Z, res[0].Z, zn * sizeof(cmanp_real)) == 0,
                 "T2: latents on %d threads differ from 1 thread", counts[k]);
        TU_CHECK(memcmp(res[k].mean, res[0].mean, sizeof res[0].mean) == 0 &&
                     memcmp(res[k].sd, res[0].sd, sizeof res[0].sd) == 0,
                 "T2: predictions on %d threads differ from 1 thread", counts[k]);
        TU_CHECK(res[k].w.gemm_flops == res[0].w.gemm_flops && res[k].w.gemm_calls == res[0].w.gemm_calls,
                 "T3: %d threads counted %lld FLOPs in %lld products, 1 thread %lld in %lld", counts[k],
                 (long long)res[k].w.gemm_flops, (long long)res[k].w.gemm_calls,
                 (long long)res[0].w.gemm_flops, (long long)res[0].w.gemm_calls);
    }
    double want_flops = cmanp_flops_per_readout(c) + M * cmanp_flops_per_target(c);
    TU_CHECK((double)res[0].w.gemm_flops == want_flops, "T3: counted %lld FLOPs, formula %.0f",
             (long long)res[0].w.gemm_flops, want_flops);

    /* T4: whole-block readout layer by layer */
    cmanp_real *Zref = malloc(zn * sizeof(cmanp_real)),
               *scr = malloc(cmab_readout_scratch_floats(&m->dims) * sizeof(cmanp_real));
    if (Zref && scr) {
        for (int l = 0; l < L; l++) {
            cmab_state v = cmanp_state_layer(s, l);
            const cmanp_real *Zin = l == 0 ? m->w.latents : Zref + (size_t)(l - 1) * Lq * d;
            cmab_readout(&m->dims, &m->w.enc[l], &m->lc[l], &v, Zin, Zref + (size_t)l * Lq * d, scr);
        }
        double *a = malloc(zn * sizeof(double)), *b = malloc(zn * sizeof(double));
        if (a && b) {
            for (size_t i = 0; i < zn; i++) {
                a[i] = res[0].Z[i];
                b[i] = Zref[i];
            }
            TU_CLOSE("T4: latents in parts vs whole", a, b, zn, 1e-5, 1e-5);
        }
        free(a);
        free(b);
    }
    free(Zref);
    free(scr);

    /* T5 */
    int bad[] = {0, CMANP_TEAM_MAX + 1, -3};
    for (int k = 0; k < 3; k++) {
        cmanp_err e2 = {0};
        int rc = cmanp_readout_set_threads(r, bad[k], &e2);
        TU_CHECK(rc == CMANP_EINVAL && strstr(e2.msg, "expected 1..") != NULL,
                 "T5: set_threads(%d) gave %d '%s'", bad[k], rc, e2.msg);
    }
    TU_CHECK(cmanp_readout_threads(r) == 8, "T5: the count changed to %d", cmanp_readout_threads(r));

    /* T6 */
    TU_CHECK(cmanp_readout_set_threads(r, 2, &e) == 0, "T6: %s", e.msg);
    cmanp_alloc_stats a0, a1;
    cmanp_alloc_stats_get(&a0);
    for (int i = 0; i < 5; i++) {
        cmanp_readout_compute(r, s, &e);
        cmanp_predict(r, xt, M, res[0].mean, res[0].sd, NULL, &e);
    }
    cmanp_alloc_stats_get(&a1);
    TU_CHECK(a1.n_allocs == a0.n_allocs && a1.live_bytes == a0.live_bytes,
             "T6: 5 readouts on 2 threads allocated %lld times",
             (long long)(a1.n_allocs - a0.n_allocs));

    for (int k = 0; k < 4; k++) free(res[k].Z);
    free(xy);
    cmanp_readout_free(r);
    cmanp_state_free(s);
    cmanp_cond_free(cd);
    cmanp_model_free(m);
    return tu_finish();
}
