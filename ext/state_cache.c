/* state_cache.c - state BLOBs in and out, and the per-connection LRU of
 * decoded and read-out states.
 *
 * Specification (tests: tests/sql/predict.sql S*, tests/sql/errors.sql):
 *
 * S1. A state argument must be a BLOB; NULL makes the function return NULL
 *     (scalars) or no rows (cmanp_predict); TEXT, INTEGER or REAL is an
 *     error ("expected a state BLOB (from cmanp_condition), found ...").
 * S2. Untrusted BLOBs are validated by the engine (cmanp_state_decode:
 *     header, sizes, checksum, values) before use; its message follows
 *     "fn: argument i (state): ".
 * S3. The state's model is found through its fingerprint (registry.c R6).
 * S4. A state is decoded and read out (cmanp_readout_compute: the latents of
 *     every layer) once per distinct state, not once per row: the
 *     connection keeps the last 8 read-out states, keyed by the BLOB's own
 *     checksum field (a 64-bit hash of the whole BLOB written by the
 *     encoder) and verified byte for byte with memcmp.  A scalar whose state
 *     argument is constant in the statement skips even that (aux data).
 *     cmanp_debug() counts states_decoded, readouts_computed,
 *     state_cache_hits.  Readouts and decoding run on the connection's
 *     cmanp_threads() threads.
 * S5. States are returned as BLOBs of cmanp_state_encoded_size bytes
 *     (format version CMANP_STATE_FORMAT_VERSION, docs/state-format.md).
 */
#include <string.h>

#include "cmanp_ext.h"

#define HDR 64

void cx_state_ref(cx_state *s) { s->ref++; }

void cx_state_unref(cx_state *s) {
    if (!s || --s->ref > 0) return;
    cmanp_readout_free(s->r);
    cx_model_unref(s->model);
    sqlite3_free(s->blob);
    sqlite3_free(s);
}

void cx_states_clear(cx_conn *c) {
    for (int i = 0; i < CX_STATE_CACHE; i++) {
        cx_state_unref(c->states[i]);
        c->states[i] = NULL;
    }
}

int cx_states_count(const cx_conn *c) {
    int n = 0;
    for (int i = 0; i < CX_STATE_CACHE; i++) n += c->states[i] != NULL;
    return n;
}

static uint64_t key_of(const unsigned char *blob) {
    uint64_t k;
    memcpy(&k, blob + 56, 8);
    return k;
}

static char *engine_msg(const cmanp_err *e, int rc) {
    return rc == CMANP_ENOMEM ? sqlite3_mprintf("out of memory") : sqlite3_mprintf("%s", e->msg);
}

/* The connection's thread count (cmanp_threads) on a cached readout, for
 * the decoding that follows; only allocation can fail. */
static int set_threads(cx_conn *c, cmanp_readout *r, char **err) {
    cmanp_err ee = {0};
    int rc = cmanp_readout_threads(r) == c->threads ? CMANP_OK : cmanp_readout_set_threads(r, c->threads, &ee);
    if (!rc) return SQLITE_OK;
    *err = engine_msg(&ee, rc);
    return rc == CMANP_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
}

int cx_state_get(cx_conn *c, const void *blob, sqlite3_int64 len, cx_state **out, char **err) {
    *out = NULL;
    *err = NULL;
    cmanp_state_header h;
    cmanp_err ee = {0};
    int rc = cmanp_state_peek(blob, (size_t)len, &h, &ee);
    if (rc) {
        *err = engine_msg(&ee, rc);
        return SQLITE_ERROR;
    }
    uint64_t key = key_of(blob);
    for (int i = 0; i < CX_STATE_CACHE; i++) {
        cx_state *e = c->states[i];
        if (e && e->len == len && e->key == key && memcmp(e->blob, blob, (size_t)len) == 0) {
            if ((rc = cx_model_still_registered(c, e->model, err))) return rc;
            if ((rc = set_threads(c, e->r, err))) return rc;
            c->n.state_cache_hits++;
            e->last_use = ++c->tick;
            cx_state_ref(e);
            *out = e;
            return SQLITE_OK;
        }
    }
    /* Miss: model, decode (full validation), read out. */
    cx_model *m;
    if ((rc = cx_model_by_fingerprint(c, h.fingerprint, &m, err))) return rc;
    cmanp_state *s;
    if ((rc = cmanp_state_decode(m->m, blob, (size_t)len, &s, &ee))) {
        cx_model_unref(m);
        *err = engine_msg(&ee, rc);
        return rc == CMANP_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
    }
    c->n.states_decoded++;
    /* Slot: an empty one, else the least recently used.  An evicted entry
     * nobody else holds donates its readout and buffer. */
    int slot = -1;
    for (int i = 0; i < CX_STATE_CACHE && slot < 0; i++)
        if (!c->states[i]) slot = i;
    cmanp_readout *r = NULL;
    unsigned char *copy = NULL;
    if (slot < 0) {
        slot = 0;
        for (int i = 1; i < CX_STATE_CACHE; i++)
            if (c->states[i]->last_use < c->states[slot]->last_use) slot = i;
        cx_state *v = c->states[slot];
        c->states[slot] = NULL;
        if (v->ref == 1 && v->model == m) {
            r = v->r;
            v->r = NULL;
            if (v->len == len) {
                copy = v->blob;
                v->blob = NULL;
            }
        }
        cx_state_unref(v);
    }
    cx_state *e = sqlite3_malloc64(sizeof *e);
    if (!copy) copy = sqlite3_malloc64((sqlite3_uint64)len);
    if (e && copy && !r) rc = cmanp_readout_new(m->m, &r, &ee);
    if (!e || !copy || !r || rc) {
        sqlite3_free(e);
        sqlite3_free(copy);
        cmanp_readout_free(r);
        cmanp_state_free(s);
        cx_model_unref(m);
        *err = sqlite3_mprintf("out of memory");
        return SQLITE_NOMEM;
    }
    rc = cmanp_readout_set_threads(r, c->threads, &ee);
    if (!rc) rc = cmanp_readout_compute(r, s, &ee);
    cmanp_state_free(s);
    if (rc) {
        sqlite3_free(e);
        sqlite3_free(copy);
        cmanp_readout_free(r);
        cx_model_unref(m);
        *err = engine_msg(&ee, rc);
        return rc == CMANP_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
    }
    c->n.readouts_computed++;
    memcpy(copy, blob, (size_t)len);
    e->ref = 1;
    e->model = m; /* our reference */
    e->blob = copy;
    e->len = len;
    e->key = key;
    e->n_rows = h.n_rows;
    e->r = r;
    e->last_use = ++c->tick;
    c->states[slot] = e;
    cx_state_ref(e);
    *out = e;
    return SQLITE_OK;
}

static void bad_state_type(sqlite3_context *ctx, const char *fn, int argi, sqlite3_value *v) {
    char *what = cx_describe_value(v);
    cx_arg_error(ctx, fn, argi, "state", "expected a state BLOB (from cmanp_condition), found %s",
                 what ? what : "?");
    sqlite3_free(what);
}

cx_state *cx_state_arg(sqlite3_context *ctx, cx_conn *c, const char *fn, int argi,
                       sqlite3_value *v, int *is_null) {
    *is_null = 0;
    int t = sqlite3_value_type(v);
    if (t == SQLITE_NULL) {
        *is_null = 1;
        return NULL;
    }
    if (t != SQLITE_BLOB) {
        bad_state_type(ctx, fn, argi, v);
        return NULL;
    }
    const unsigned char *blob = sqlite3_value_blob(v);
    sqlite3_int64 len = sqlite3_value_bytes(v);
    if (!blob && len > 0) {
        sqlite3_result_error_nomem(ctx);
        return NULL;
    }
    cx_state *aux = sqlite3_get_auxdata(ctx, argi - 1);
    /* Aux data survives only while the argument is a constant of the
     * statement; the header check is a cheap guard on top. */
    if (aux && aux->len == len && memcmp(aux->blob, blob, HDR) == 0) {
        c->n.state_cache_hits++;
        cx_state_ref(aux);
        return aux;
    }
    cx_state *s;
    char *err;
    int rc = cx_state_get(c, blob, len, &s, &err);
    if (rc) {
        if (rc == SQLITE_NOMEM)
            sqlite3_result_error_nomem(ctx);
        else
            cx_arg_error(ctx, fn, argi, "state", "%s", err ? err : "?");
        sqlite3_free(err);
        return NULL;
    }
    cx_state_ref(s);
    sqlite3_set_auxdata(ctx, argi - 1, s, (void (*)(void *))cx_state_unref);
    return s;
}

int cx_state_decode_arg(cx_conn *c, sqlite3_value *v, int with_model, cmanp_state **out,
                        cx_model **model, char **err) {
    *out = NULL;
    *err = NULL;
    if (model) *model = NULL;
    if (sqlite3_value_type(v) != SQLITE_BLOB) {
        char *what = cx_describe_value(v);
        *err = sqlite3_mprintf("expected a state BLOB (from cmanp_condition), found %s", what ? what : "?");
        sqlite3_free(what);
        return SQLITE_ERROR;
    }
    const void *blob = sqlite3_value_blob(v);
    sqlite3_int64 len = sqlite3_value_bytes(v);
    cmanp_state_header h;
    cmanp_err ee = {0};
    int rc = cmanp_state_peek(blob, (size_t)len, &h, &ee);
    if (rc) {
        *err = engine_msg(&ee, rc);
        return SQLITE_ERROR;
    }
    cx_model *m = NULL;
    if (with_model && (rc = cx_model_by_fingerprint(c, h.fingerprint, &m, err))) return rc;
    if ((rc = cmanp_state_decode(m ? m->m : NULL, blob, (size_t)len, out, &ee))) {
        cx_model_unref(m);
        *err = engine_msg(&ee, rc);
        return rc == CMANP_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
    }
    c->n.states_decoded++;
    if (model)
        *model = m;
    else
        cx_model_unref(m);
    return SQLITE_OK;
}

void cx_result_state(sqlite3_context *ctx, const cmanp_state *s) {
    size_t n = cmanp_state_encoded_size(s);
    unsigned char *buf = sqlite3_malloc64(n);
    if (!buf) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    cmanp_state_encode(s, buf);
    sqlite3_result_blob64(ctx, buf, n, sqlite3_free);
}
