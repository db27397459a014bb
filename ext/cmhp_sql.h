/* cmhp_sql.h - internals of the CMHP SQL surface (ext/cmhp_sql.c, ext/cmhp_vtab.c).
 *
 * CMHP models live in the same registry table as CMANP models
 * (main.cmanp_models) and in the same per-connection cache: they are a
 * registry family (hp_family, ext/registry.c R8), so cmanp_model_load,
 * lookups by name and by fingerprint and their validation are the
 * registry's.
 */
#ifndef CMHP_SQL_H
#define CMHP_SQL_H

#include "cmanp_ext.h"
#include "cmhp.h"

/* The CMHP part of a registry entry (cx_model.other, made by hp_family's
 * load): the model and its reusable workspaces.  References are counted on
 * the entry (hp_model_ref / hp_model_unref). */
typedef struct hp_model {
    cx_model *entry;             /* name, fp_hex, blob_len, reference count */
    cmhp_model *m;
    cmhp_cond *cond;             /* one reusable conditioner */
    cmhp_readout *ro;            /* one reusable readout */
} hp_model;

typedef struct hp_counters {
    sqlite3_int64 states_decoded, readouts_computed, events_added, events_removed, samples_drawn;
} hp_counters;

typedef struct hp_conn {
    cx_conn *cx;                 /* reference: the CMANP connection (db, tokens, model cache) */
    int ref;
    hp_counters n;
} hp_conn;

/* CMHP models in the registry (ext/registry.c): rows whose config says
 * "model": "cmhp". */
extern const cx_family hp_family;

void hp_conn_unref(void *p);
void hp_model_ref(hp_model *m);
void hp_model_unref(hp_model *m);
/* New reference, or an error code with a message (sqlite3_malloc'd) in *err. */
int hp_model_by_name(hp_conn *h, const char *name, hp_model **out, char **err);
int hp_model_by_fp(hp_conn *h, uint64_t fp, hp_model **out, char **err);
/* A state argument: NULL -> SQLITE_OK with *s = NULL; otherwise a decoded
 * state and its model (new reference), or an error message (without the
 * "fn: argument" prefix). */
int hp_state_arg(hp_conn *h, sqlite3_value *v, cmhp_state **s, hp_model **m, char **err);
/* Read out s with m's spare readout (constant cost). */
int hp_readout(hp_conn *h, hp_model *m, const cmhp_state *s, const cmhp_dist **d, char **err);

extern sqlite3_module hp_next_time_module, hp_next_mark_module, hp_sample_module;

/* Registers every cmhp_* function and module on db (called once from
 * sqlite3_cmanp_init, the hook in ext/cmanp_ext.c). */
int cmhp_sql_register(sqlite3 *db, cx_conn *c, char **pzErrMsg);

#endif
