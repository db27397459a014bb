/* fuzz_common.h - tiny models shared by the fuzz targets and the seed maker:
 * small enough that every input runs in microseconds, with every block kind
 * (a CMANP model and a CMHP model). */
#ifndef CMANP_FUZZ_COMMON_H
#define CMANP_FUZZ_COMMON_H

#include "cmanp.h"
#include "cmhp.h"

static const char *const FUZZ_CFG =
    "{\"dim_x\": 1, \"dim_y\": 1, \"d_model\": 8, \"emb_depth\": 2, \"dim_feedforward\": 8, "
    "\"nhead\": 2, \"num_layers\": 2, \"num_latents\": 3, \"num_latents_per_layer\": 2, "
    "\"bound_std\": false}";

/* The same architecture with two inputs and two outputs (fuzz_sql: the JSON
 * results of dim_y > 1 and the x1, x2 argument lists). */
static const char *const FUZZ_CFG_2X2 =
    "{\"dim_x\": 2, \"dim_y\": 2, \"d_model\": 8, \"emb_depth\": 2, \"dim_feedforward\": 8, "
    "\"nhead\": 2, \"num_layers\": 2, \"num_latents\": 3, \"num_latents_per_layer\": 2, "
    "\"bound_std\": true}";

/* A model of configuration cfg with deterministic non-trivial weights. */
static inline cmanp_model *fuzz_model_cfg(const char *cfg) {
    cmanp_config c;
    cmanp_model *m = NULL;
    if (cmanp_config_parse(&c, cfg, NULL) || cmanp_model_new(&m, &c, NULL)) return NULL;
    uint32_t s = 12345;
    for (size_t i = 0; i < m->layout.n_params; i++) {
        s = s * 1664525u + 1013904223u;
        m->params[i] = (cmanp_real)((double)(s >> 8) / 16777216.0 - 0.5);
    }
    cmanp_model_refresh(m);
    return m;
}

static inline cmanp_model *fuzz_model(void) { return fuzz_model_cfg(FUZZ_CFG); }

/* A tiny CMHP model (recency variant: every part of the state is present). */
static const char *const FUZZ_CMHP_CFG =
    "{\"model\": \"cmhp\", \"num_marks\": 3, \"d_model\": 8, \"nhead\": 2, \"num_layers\": 2, "
    "\"num_latents\": 3, \"num_latents_per_layer\": 2, \"dim_feedforward\": 8, \"num_mix\": 2, "
    "\"time_scale\": 1.0, \"temporal_base\": 10000.0, \"recency_rates\": [1.0, 0.1]}";

static inline cmhp_model *fuzz_cmhp_model(void) {
    cmhp_config c;
    cmhp_model *m = NULL;
    if (cmhp_config_parse(&c, FUZZ_CMHP_CFG, NULL) || cmhp_model_new(&m, &c, NULL)) return NULL;
    cmhp_model_init(m, 7);
    return m;
}

#endif
