/* registry.c - the model registry (table cmanp_models) and the per-connection
 * model cache.
 *
 * Specification (tests: tests/sql/registry.sql R*, tests/sql/errors.sql):
 *
 * R1. The registry is the table
 *       main.cmanp_models(name TEXT PRIMARY KEY, weights BLOB NOT NULL,
 *                         config TEXT, fingerprint TEXT, n_params INTEGER,
 *                         created TEXT)
 *     in the user's main database.  cmanp_model_load creates it if needed.
 * R2. cmanp_model_load(name, path) reads a safetensors file, validates it as
 *     a model of its family (R8; every check of that family's loader), and
 *     inserts or replaces
 *     the row `name` (weights = the file's bytes, config = canonical JSON,
 *     fingerprint = 16 hex digits, created = UTC ISO-8601).  Returns the
 *     fingerprint.  DIRECTONLY: it reads files.
 * R3. cmanp_model_save(name, path) writes the registry row's weights as a
 *     safetensors file (temp file, fsync, rename) and returns the file's
 *     size in bytes.  DIRECTONLY: it writes files.
 * R4. cmanp_model_info(name) returns JSON: name, fingerprint, n_params,
 *     bytes (of the weights BLOB), dim_x, dim_y, state_bytes, config.
 * R5. A model is parsed once per connection and cached (up to 8 models per
 *     family, least recently used evicted), never per row.  Within a statement a
 *     constant model name is resolved once (aux data).  Across statements
 *     a cached model is reused as long as the validation tokens
 *     (sqlite3_total_changes64, SQLITE_FCNTL_DATA_VERSION of main) are
 *     unchanged; when they changed, the row's weights are read back and
 *     hashed, and the model is parsed again only if the hash differs.
 *     cmanp_debug() counts models_parsed, model_cache_hits, registry_reads.
 * R6. States carry their model's fingerprint.  A function given a state
 *     finds its model through the registry's fingerprint column; the parsed
 *     weights must have that fingerprint (else an error naming the row).
 *     The check that the fingerprint is still registered is a cheap query,
 *     run only when the validation tokens changed (registry_checks).
 * R7. Errors: a name that is not TEXT; no registry table; no such name; a
 *     file that cannot be read or is not a valid model (the engine's
 *     message); a registry row whose weights are not a BLOB or not a valid
 *     model; a state whose fingerprint is not registered.
 * R8. Families: CMANP and CMHP models (ext/cmhp_sql.c) share the table, the
 *     cache and this code; a row's __metadata__ config says which it is.  A
 *     function of one family given a row of the other says so ("... is a
 *     CMHP model, not a CMANP model; use it with the cmhp_* functions").
 *
 * Known limit: a registry change made by this connection inside an open
 * transaction that changes no rows (e.g. DROP TABLE cmanp_models) is noticed
 * at commit, not before.
 */
#define _POSIX_C_SOURCE 200809L /* fileno, fstat */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmanp_ext.h"

#define REGISTRY "main.cmanp_models"

/* ------------------------------------------------------------ entries */

void cx_model_ref(cx_model *m) { m->ref++; }

void cx_model_unref(cx_model *m) {
    if (!m || --m->ref > 0) return;
    if (m->family) m->family->unload(m);
    sqlite3_free(m->name);
    sqlite3_free(m);
}

static void unlink_model(cx_conn *c, cx_model *m) {
    for (cx_model **pp = &c->models; *pp; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            m->next = NULL;
            m->cached = 0;
            cx_model_unref(m);
            return;
        }
}

void cx_models_clear(cx_conn *c) {
    while (c->models) unlink_model(c, c->models);
}

int cx_registry_count(const cx_conn *c, const cx_family *f) {
    int n = 0;
    for (const cx_model *m = c->models; m; m = m->next) n += m->family == f;
    return n;
}

int cx_models_count(const cx_conn *c) { return cx_registry_count(c, &cx_family_cmanp); }

static void touch(cx_conn *c, cx_model *m) { m->last_use = ++c->tick; }

static cx_model *find_name(cx_conn *c, const char *name) {
    for (cx_model *m = c->models; m; m = m->next)
        if (strcmp(m->name, name) == 0) return m;
    return NULL;
}

static cx_model *find_fp(cx_conn *c, const cx_family *f, uint64_t fp) {
    for (cx_model *m = c->models; m; m = m->next)
        if (m->family == f && m->fingerprint == fp) return m;
    return NULL;
}

/* Insert (the list takes the caller's reference).  Each family keeps up to
 * CX_MODEL_CACHE models, its least recently used evicted. */
static void insert_model(cx_conn *c, cx_model *m) {
    cx_model *old = find_name(c, m->name);
    if (old) unlink_model(c, old);
    m->next = c->models;
    c->models = m;
    m->cached = 1;
    touch(c, m);
    if (cx_registry_count(c, m->family) > CX_MODEL_CACHE) {
        cx_model *lru = NULL;
        for (cx_model *p = c->models; p; p = p->next)
            if (p->family == m->family && (!lru || p->last_use < lru->last_use)) lru = p;
        unlink_model(c, lru);
    }
}

/* A new entry (one reference) for weights of family f parsed from st; an
 * SQLite code and *why (the engine's message) on failure. */
static int new_entry(const cx_family *f, const char *name, const cmanp_st *st, const void *blob,
                     sqlite3_int64 len, cx_model **out, cmanp_err *why) {
    *out = NULL;
    cx_model *m = sqlite3_malloc64(sizeof *m);
    if (!m) return SQLITE_NOMEM;
    memset(m, 0, sizeof *m);
    m->ref = 1;
    m->name = sqlite3_mprintf("%s", name);
    if (!m->name) {
        sqlite3_free(m);
        return SQLITE_NOMEM;
    }
    int rc = f->load(m, st, why);
    if (rc) {
        cx_model_unref(m); /* family still NULL: nothing of the model to unload */
        return rc == CMANP_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
    }
    m->family = f;
    m->blob_hash = cmanp_hash64(blob, (size_t)len, 0);
    m->blob_len = len;
    sqlite3_snprintf(sizeof m->fp_hex, m->fp_hex, "%016llx", (unsigned long long)m->fingerprint);
    *out = m;
    return SQLITE_OK;
}

/* ------------------------------------------------------------ families */

int cx_family_add(cx_conn *c, const cx_family *f) {
    if (c->n_families >= (int)(sizeof c->families / sizeof c->families[0])) return SQLITE_ERROR;
    c->families[c->n_families++] = f;
    return SQLITE_OK;
}

/* The family of weights whose __metadata__ config is cfg (NULL: none, the
 * asked-for family's loader says what is missing). */
static const cx_family *family_of(const cx_conn *c, const char *cfg, const cx_family *asked) {
    if (!cfg) return asked;
    for (int i = 0; i < c->n_families; i++)
        if (c->families[i]->claims(cfg)) return c->families[i];
    return &cx_family_cmanp;
}

static int cmanp_claims(const char *cfg) {
    (void)cfg;
    return 1; /* the default: every row no other family claims */
}

static int cmanp_load(cx_model *m, const cmanp_st *st, cmanp_err *e) {
    int rc = cmanp_model_from_st(&m->m, st, e);
    if (!rc) m->fingerprint = m->m->fingerprint;
    return rc;
}

static void cmanp_unload(cx_model *m) {
    cmanp_cond_free(m->spare_cond);
    cmanp_model_free(m->m);
}

static void cmanp_describe(const cx_model *m, char *cfg, size_t cap, sqlite3_int64 *n_params) {
    cmanp_config_to_json(&m->m->cfg, cfg, cap);
    *n_params = (sqlite3_int64)m->m->layout.n_params;
}

static void cmanp_tally(cx_counters *n, int parsed) {
    if (parsed)
        n->models_parsed++;
    else
        n->model_cache_hits++;
}

static char *cmanp_row_invalid(const char *name, const char *why) {
    return sqlite3_mprintf(REGISTRY " row '%s' is not a valid model: %s", name, why);
}

static char *cmanp_file_invalid(const char *path, const char *why) {
    return sqlite3_mprintf("'%s' is not a valid cmanp model: %s", path, why);
}

static char *cmanp_wrong_family(const char *name, const cx_family *actual) {
    return sqlite3_mprintf(REGISTRY " row '%s' is a %s model, not a CMANP model; use it with the "
                           "%s functions",
                           name, actual->name, actual->functions);
}

const cx_family cx_family_cmanp = {
    "CMANP", "cmanp_*", cmanp_claims, cmanp_load, cmanp_unload, cmanp_describe, cmanp_tally,
    cmanp_row_invalid, cmanp_file_invalid, cmanp_wrong_family,
};

/* ----------------------------------------------------------- registry I/O */

static char *no_table_msg(void) {
    return sqlite3_mprintf("no model registry (table " REGISTRY
                           " does not exist; load a model with cmanp_model_load(name, path))");
}

/* Prepare sql against the registry; maps "no such table" to a clear message. */
static int prepare(cx_conn *c, const char *sql, sqlite3_stmt **st, char **err) {
    int rc = sqlite3_prepare_v2(c->db, sql, -1, st, NULL);
    if (rc == SQLITE_OK) return SQLITE_OK;
    const char *m = sqlite3_errmsg(c->db);
    if (strstr(m, "no such table") || strstr(m, "no such column"))
        *err = strstr(m, "no such table") ? no_table_msg()
                                          : sqlite3_mprintf("table " REGISTRY " is not a cmanp registry: %s", m);
    else
        *err = sqlite3_mprintf("reading " REGISTRY ": %s", m);
    return rc == SQLITE_OK ? SQLITE_ERROR : rc;
}

/* The weights of row `name`: on SQLITE_ROW, blob and len are valid until st is
 * finalized; SQLITE_DONE when there is no such row. */
static int read_weights(cx_conn *c, const char *name, sqlite3_stmt **st, const void **blob,
                        sqlite3_int64 *len, char **err) {
    int rc = prepare(c, "SELECT weights FROM " REGISTRY " WHERE name = ?1", st, err);
    if (rc) return rc;
    sqlite3_bind_text(*st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(*st);
    if (rc == SQLITE_DONE) {
        *err = sqlite3_mprintf("no model named '%s' in " REGISTRY, name);
        return rc;
    }
    if (rc != SQLITE_ROW) {
        *err = sqlite3_mprintf("reading " REGISTRY ": %s", sqlite3_errmsg(c->db));
        return rc;
    }
    c->n.registry_reads++;
    if (sqlite3_column_type(*st, 0) != SQLITE_BLOB) {
        char *what = cx_describe_value(sqlite3_column_value(*st, 0));
        *err = sqlite3_mprintf(REGISTRY " row '%s': weights is %s, expected a safetensors BLOB", name,
                               what ? what : "?");
        sqlite3_free(what);
        return SQLITE_ERROR;
    }
    *blob = sqlite3_column_blob(*st, 0);
    *len = sqlite3_column_bytes(*st, 0);
    if (!*blob && *len > 0) { /* an empty BLOB is NULL too, and not a model */
        *err = sqlite3_mprintf("out of memory");
        return SQLITE_NOMEM;
    }
    return SQLITE_ROW;
}

/* A cached entry found valid for a lookup of family f: a new reference, or
 * the message that the row belongs to another family. */
static int hit(cx_conn *c, const cx_family *f, cx_model *e, cx_model **out, char **err) {
    if (e->family != f) {
        *err = f->wrong_family(e->name, e->family);
        return *err ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    f->tally(&c->n, 0);
    touch(c, e);
    cx_model_ref(e);
    *out = e;
    return SQLITE_OK;
}

int cx_registry_get(cx_conn *c, const cx_family *f, const char *name, cx_model **out, char **err) {
    *out = NULL;
    *err = NULL;
    sqlite3_int64 ch;
    unsigned dv;
    cx_tokens(c, &ch, &dv);
    cx_model *e = find_name(c, name);
    if (e && e->name_ok && e->name_changes == ch && e->name_dv == dv) return hit(c, f, e, out, err);
    sqlite3_stmt *st = NULL;
    const void *blob;
    sqlite3_int64 len;
    int rc = read_weights(c, name, &st, &blob, &len, err);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
    }
    uint64_t h = cmanp_hash64(blob, (size_t)len, 0);
    if (e && e->blob_hash == h && e->blob_len == len) {
        sqlite3_finalize(st);
        e->name_ok = 1;
        e->name_changes = ch;
        e->name_dv = dv;
        return hit(c, f, e, out, err);
    }
    cmanp_st sf;
    cmanp_err ee = {0};
    cx_model *m = NULL;
    rc = cmanp_st_parse(&sf, blob, (size_t)len, 0, &ee);
    if (rc == CMANP_OK) {
        const cx_family *actual = family_of(c, cmanp_st_meta(&sf, "config"), f);
        if (actual != f) {
            cmanp_st_free(&sf);
            sqlite3_finalize(st);
            *err = f->wrong_family(name, actual);
            return *err ? SQLITE_ERROR : SQLITE_NOMEM;
        }
        rc = new_entry(f, name, &sf, blob, len, &m, &ee);
        cmanp_st_free(&sf);
    } else {
        rc = rc == CMANP_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    if (rc) {
        *err = rc == SQLITE_NOMEM ? sqlite3_mprintf("out of memory") : f->row_invalid(name, ee.msg);
        return rc;
    }
    f->tally(&c->n, 1);
    m->name_ok = 1;
    m->name_changes = ch;
    m->name_dv = dv;
    insert_model(c, m);
    cx_model_ref(m);
    *out = m;
    return SQLITE_OK;
}

int cx_model_by_name(cx_conn *c, const char *name, cx_model **out, char **err) {
    return cx_registry_get(c, &cx_family_cmanp, name, out, err);
}

/* SQLITE_ROW with *name set (sqlite3_malloc'd) when a row has fingerprint fp. */
static int name_of_fp(cx_conn *c, const char *fp_hex, char **name, char **err) {
    sqlite3_stmt *st;
    *name = NULL;
    c->n.registry_checks++;
    int rc = prepare(c, "SELECT name FROM " REGISTRY " WHERE fingerprint = ?1 ORDER BY name LIMIT 1",
                     &st, err);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, fp_hex, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(st, 0);
        *name = sqlite3_mprintf("%s", n ? n : "");
        if (!*name) rc = SQLITE_NOMEM;
    } else if (rc != SQLITE_DONE) {
        *err = sqlite3_mprintf("reading " REGISTRY ": %s", sqlite3_errmsg(c->db));
    }
    sqlite3_finalize(st);
    return rc;
}

char *cx_registry_name_of(cx_conn *c, uint64_t fp) {
    char hex[17], *name = NULL, *err = NULL;
    sqlite3_snprintf(sizeof hex, hex, "%016llx", (unsigned long long)fp);
    if (name_of_fp(c, hex, &name, &err) != SQLITE_ROW) {
        sqlite3_free(name);
        name = NULL;
    }
    sqlite3_free(err);
    return name;
}

static char *unregistered_msg(const char *fp_hex, char *cause) {
    char *m;
    if (cause)
        m = sqlite3_mprintf("the state's model (fingerprint %s) is not registered: %s", fp_hex, cause);
    else
        m = sqlite3_mprintf("the state's model (fingerprint %s) is not in " REGISTRY
                            " (states can only be used with the model that made them)",
                            fp_hex);
    sqlite3_free(cause);
    return m;
}

/* The name of the row with fingerprint fp_hex (SQLITE_ROW), or an SQLite
 * code with the message that the state's model is not registered. */
static int registered_name(cx_conn *c, const char *fp_hex, char **name, char **err) {
    char *cause = NULL;
    int rc = name_of_fp(c, fp_hex, name, &cause);
    if (rc == SQLITE_ROW) return rc;
    sqlite3_free(*name);
    *name = NULL;
    if (rc == SQLITE_NOMEM) {
        sqlite3_free(cause);
        return SQLITE_NOMEM;
    }
    *err = unregistered_msg(fp_hex, cause);
    return SQLITE_ERROR;
}

int cx_model_still_registered(cx_conn *c, cx_model *m, char **err) {
    *err = NULL;
    sqlite3_int64 ch;
    unsigned dv;
    cx_tokens(c, &ch, &dv);
    if (m->fp_ok && m->fp_changes == ch && m->fp_dv == dv) return SQLITE_OK;
    char *name = NULL;
    int rc = registered_name(c, m->fp_hex, &name, err);
    sqlite3_free(name);
    if (rc != SQLITE_ROW) {
        m->fp_ok = 0;
        return rc;
    }
    m->fp_ok = 1;
    m->fp_changes = ch;
    m->fp_dv = dv;
    return SQLITE_OK;
}

int cx_registry_get_fp(cx_conn *c, const cx_family *f, uint64_t fp, cx_model **out, char **err) {
    *out = NULL;
    *err = NULL;
    cx_model *e = find_fp(c, f, fp);
    if (e) {
        int rc = cx_model_still_registered(c, e, err);
        if (rc) return rc;
        return hit(c, f, e, out, err);
    }
    char hex[17], *name = NULL;
    sqlite3_snprintf(sizeof hex, hex, "%016llx", (unsigned long long)fp);
    int rc = registered_name(c, hex, &name, err);
    if (rc != SQLITE_ROW) return rc;
    cx_model *m;
    rc = cx_registry_get(c, f, name, &m, err);
    if (rc) {
        sqlite3_free(name);
        return rc;
    }
    if (m->fingerprint != fp) {
        *err = sqlite3_mprintf(REGISTRY " row '%s' claims fingerprint %s but its weights have "
                               "fingerprint %s",
                               name, hex, m->fp_hex);
        sqlite3_free(name);
        cx_model_unref(m);
        return SQLITE_ERROR;
    }
    sqlite3_free(name);
    sqlite3_int64 ch;
    unsigned dv;
    cx_tokens(c, &ch, &dv);
    m->fp_ok = 1;
    m->fp_changes = ch;
    m->fp_dv = dv;
    *out = m;
    return SQLITE_OK;
}

int cx_model_by_fingerprint(cx_conn *c, uint64_t fp, cx_model **out, char **err) {
    return cx_registry_get_fp(c, &cx_family_cmanp, fp, out, err);
}

cx_model *cx_registry_arg(sqlite3_context *ctx, cx_conn *c, const cx_family *f, const char *fn,
                          int argi, sqlite3_value *v) {
    if (sqlite3_value_type(v) != SQLITE_TEXT) {
        char *what = cx_describe_value(v);
        cx_arg_error(ctx, fn, argi, "model", "expected a model name (TEXT), found %s", what ? what : "?");
        sqlite3_free(what);
        return NULL;
    }
    const char *name = (const char *)sqlite3_value_text(v);
    if (!name) {
        sqlite3_result_error_nomem(ctx);
        return NULL;
    }
    cx_model *aux = sqlite3_get_auxdata(ctx, argi - 1);
    if (aux && aux->family == f && strcmp(aux->name, name) == 0) {
        f->tally(&c->n, 0);
        cx_model_ref(aux);
        return aux;
    }
    cx_model *m;
    char *err;
    int rc = cx_registry_get(c, f, name, &m, &err);
    if (rc) {
        cx_arg_fail(ctx, fn, argi, "model", rc, err);
        return NULL;
    }
    cx_model_ref(m);
    sqlite3_set_auxdata(ctx, argi - 1, m, (void (*)(void *))cx_model_unref);
    return m;
}

cx_model *cx_model_arg(sqlite3_context *ctx, cx_conn *c, const char *fn, int argi,
                       sqlite3_value *v) {
    return cx_registry_arg(ctx, c, &cx_family_cmanp, fn, argi, v);
}

int cx_cond_borrow(cx_model *m, cmanp_cond **out, cmanp_err *e) {
    if (m->spare_cond) {
        *out = m->spare_cond;
        m->spare_cond = NULL;
        return CMANP_OK;
    }
    return cmanp_cond_new(m->m, 0, out, e);
}

void cx_cond_return(cx_model *m, cmanp_cond *cond) {
    /* Callers return only conditioners they flushed (no queued rows). */
    if (!cond) return;
    if (!m->spare_cond)
        m->spare_cond = cond;
    else
        cmanp_cond_free(cond);
}

/* ------------------------------------------------------- SQL functions */

static cx_conn *conn_of(sqlite3_context *ctx) { return sqlite3_user_data(ctx); }

static int read_file(const char *path, unsigned char **buf, sqlite3_int64 *len, sqlite3_int64 limit,
                     char **err) {
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = sqlite3_mprintf("cannot open '%s': %s", path, strerror(errno));
        return SQLITE_ERROR;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        *err = sqlite3_mprintf("'%s' is not a regular file", path);
        fclose(f);
        return SQLITE_ERROR;
    }
    if ((sqlite3_int64)sb.st_size > limit) {
        *err = sqlite3_mprintf("'%s' is %lld bytes, more than SQLITE_LIMIT_LENGTH (%lld)", path,
                               (long long)sb.st_size, (long long)limit);
        fclose(f);
        return SQLITE_TOOBIG;
    }
    *len = (sqlite3_int64)sb.st_size;
    *buf = sqlite3_malloc64(*len ? (sqlite3_uint64)*len : 1);
    if (!*buf) {
        fclose(f);
        *err = sqlite3_mprintf("out of memory");
        return SQLITE_NOMEM;
    }
    if (*len && fread(*buf, 1, (size_t)*len, f) != (size_t)*len) {
        *err = sqlite3_mprintf("reading '%s' failed: %s", path, strerror(errno));
        sqlite3_free(*buf);
        *buf = NULL;
        fclose(f);
        return SQLITE_IOERR;
    }
    fclose(f);
    return SQLITE_OK;
}

static const char *text_arg(sqlite3_context *ctx, const char *fn, int i, const char *argname,
                            const char *what, sqlite3_value *v) {
    if (sqlite3_value_type(v) != SQLITE_TEXT || sqlite3_value_bytes(v) == 0) {
        char *d = cx_describe_value(v);
        cx_arg_error(ctx, fn, i, argname, "expected %s (non-empty TEXT), found %s", what, d ? d : "?");
        sqlite3_free(d);
        return NULL;
    }
    const char *s = (const char *)sqlite3_value_text(v);
    if (!s) sqlite3_result_error_nomem(ctx);
    return s;
}

/* The (name, path) arguments of cmanp_model_load / _save: 0 when both are
 * non-empty TEXT, else the error is reported. */
static int name_path_args(sqlite3_context *ctx, const char *fn, sqlite3_value **argv,
                          const char **name, const char **path) {
    *name = text_arg(ctx, fn, 1, "name", "a model name", argv[0]);
    *path = *name ? text_arg(ctx, fn, 2, "path", "a file path", argv[1]) : NULL;
    return *path ? 0 : -1;
}

/* R2 */
void cx_fn_model_load(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "cmanp_model_load";
    cx_conn *c = conn_of(ctx);
    (void)argc;
    const char *name, *path;
    if (name_path_args(ctx, fn, argv, &name, &path)) return;
    unsigned char *buf;
    sqlite3_int64 len;
    char *err = NULL;
    int rc = read_file(path, &buf, &len, sqlite3_limit(c->db, SQLITE_LIMIT_LENGTH, -1), &err);
    if (rc) {
        cx_arg_error(ctx, fn, 2, "path", "%s", err ? err : "?");
        sqlite3_free(err);
        return;
    }
    /* The file's config picks the family (R2, ext/cmhp_sql.c Q1); a file
     * that does not even parse gets the CMANP loader's message. */
    cmanp_st sf;
    cmanp_err ee = {0};
    const cx_family *f = &cx_family_cmanp;
    cx_model *m = NULL;
    rc = cmanp_st_parse(&sf, buf, (size_t)len, 0, &ee);
    if (rc == CMANP_OK) {
        f = family_of(c, cmanp_st_meta(&sf, "config"), f);
        rc = new_entry(f, name, &sf, buf, len, &m, &ee);
        cmanp_st_free(&sf);
    } else {
        rc = rc == CMANP_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
    }
    if (rc) {
        sqlite3_free(buf);
        if (rc == SQLITE_NOMEM) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
        char *msg = f->file_invalid(path, ee.msg);
        if (msg)
            cx_arg_error(ctx, fn, 2, "path", "%s", msg);
        else
            sqlite3_result_error_nomem(ctx);
        sqlite3_free(msg);
        return;
    }
    f->tally(&c->n, 1);
    char cfg[1024];
    sqlite3_int64 n_params;
    f->describe(m, cfg, sizeof cfg, &n_params);
    rc = sqlite3_exec(c->db, CX_REGISTRY_SCHEMA, NULL, NULL, NULL);
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(c->db,
                                "INSERT OR REPLACE INTO " REGISTRY
                                "(name, weights, config, fingerprint, n_params, created) VALUES "
                                "(?1, ?2, ?3, ?4, ?5, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 2, buf, (sqlite3_uint64)len, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, cfg, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, m->fp_hex, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, n_params);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        cx_error(ctx, "%s: cannot write " REGISTRY ": %s", fn, sqlite3_errmsg(c->db));
        sqlite3_finalize(st);
        sqlite3_free(buf);
        cx_model_unref(m);
        return;
    }
    sqlite3_finalize(st);
    sqlite3_free(buf);
    /* The freshly parsed model is the cache entry: no re-parse on first use. */
    cx_tokens(c, &m->name_changes, &m->name_dv);
    m->name_ok = 1;
    insert_model(c, m);
    sqlite3_result_text(ctx, m->fp_hex, -1, SQLITE_TRANSIENT);
}

/* R3 */
void cx_fn_model_save(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "cmanp_model_save";
    cx_conn *c = conn_of(ctx);
    (void)argc;
    const char *name, *path;
    if (name_path_args(ctx, fn, argv, &name, &path)) return;
    sqlite3_stmt *st = NULL;
    const void *blob;
    sqlite3_int64 len;
    char *err = NULL;
    int rc = read_weights(c, name, &st, &blob, &len, &err);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        cx_arg_error(ctx, fn, 1, "name", "%s", err ? err : "?");
        sqlite3_free(err);
        return;
    }
    cmanp_st sf;
    cmanp_err ee = {0};
    cmanp_st_out *outs = NULL;
    const char **meta = NULL;
    rc = cmanp_st_parse(&sf, blob, (size_t)len, 1, &ee);
    sqlite3_finalize(st);
    if (rc) {
        cx_arg_error(ctx, fn, 1, "name", REGISTRY " row '%s' is not a valid safetensors BLOB: %s", name,
                     ee.msg);
        return;
    }
    outs = sqlite3_malloc64(sizeof *outs * (sqlite3_uint64)(sf.n_tensors + 1));
    meta = sqlite3_malloc64(sizeof *meta * (sqlite3_uint64)(2 * sf.n_meta + 1));
    if (!outs || !meta) {
        sqlite3_result_error_nomem(ctx);
        goto done;
    }
    for (int i = 0; i < sf.n_tensors; i++) {
        outs[i].name = sf.tensors[i].name;
        outs[i].dtype = sf.tensors[i].dtype;
        outs[i].ndim = sf.tensors[i].ndim;
        outs[i].shape = sf.tensors[i].shape;
        outs[i].data = sf.tensors[i].data;
    }
    for (int i = 0; i < sf.n_meta; i++) {
        meta[2 * i] = sf.meta_keys[i];
        meta[2 * i + 1] = sf.meta_vals[i];
    }
    if ((rc = cmanp_st_write_file(path, outs, sf.n_tensors, (const char *const *)meta, sf.n_meta, &ee))) {
        cx_arg_error(ctx, fn, 2, "path", "cannot write '%s': %s", path, ee.msg);
        goto done;
    }
    struct stat sb;
    if (stat(path, &sb) != 0) {
        cx_arg_error(ctx, fn, 2, "path", "cannot stat '%s' after writing: %s", path, strerror(errno));
        goto done;
    }
    sqlite3_result_int64(ctx, (sqlite3_int64)sb.st_size);
done:
    sqlite3_free(outs);
    sqlite3_free(meta);
    cmanp_st_free(&sf);
}

/* R4 */
void cx_fn_model_info(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "cmanp_model_info";
    cx_conn *c = conn_of(ctx);
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
    cx_model *m = cx_model_arg(ctx, c, fn, 1, argv[0]);
    if (!m) return;
    const cmanp_config *k = &m->m->cfg;
    char cfg[512];
    cmanp_config_to_json(k, cfg, sizeof cfg);
    size_t nlog = (size_t)k->num_layers * k->nhead * k->num_latents_per_layer;
    size_t state_bytes = 64 + 8 * (nlog + nlog * (size_t)m->m->dims.dh);
    sqlite3_str *s = sqlite3_str_new(c->db);
    sqlite3_str_appendall(s, "{\"name\":");
    cx_json_str(s, m->name);
    sqlite3_str_appendf(s,
                        ",\"fingerprint\":\"%s\",\"n_params\":%lld,\"bytes\":%lld,\"dim_x\":%d,"
                        "\"dim_y\":%d,\"state_bytes\":%lld,\"config\":%s}",
                        m->fp_hex, (long long)m->m->layout.n_params, (long long)m->blob_len, k->dim_x,
                        k->dim_y, (long long)state_bytes, cfg);
    cx_model_unref(m);
    cx_result_json(ctx, s);
}
