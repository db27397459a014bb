/* ckpt.h - training checkpoints, shared by the CMANP trainer (trainer.c) and
 * the CMHP trainer (cmhp_trainer.c).
 *
 * A checkpoint is one safetensors file holding everything a run changes:
 *   tensors       the weights under their reference names, then Adam's
 *                 moments as "adam.m.<name>" and "adam.v.<name>";
 *   __metadata__  "format" (the kind's tag), "config" (model JSON), "options"
 *                 (the trainer's options JSON) and "state" (JSON: version,
 *                 step, the generator's 4 words and cached normal bit-exact,
 *                 last loss).
 * It is written atomically (temp file, fsync, rename: cmanp_st_write_file),
 * so a run killed at any moment resumes from the previous checkpoint, and a
 * resumed run continues bit for bit.
 *
 * The two trainers differ only in the format tag, the wording of their
 * messages and how strictly they take tensor dtypes; a cmanp_ckpt_kind
 * carries those, so the bytes and messages of each stay what they were.
 */
#ifndef CMANP_CKPT_H
#define CMANP_CKPT_H

#include <stdint.h>

#include "adam.h"
#include "params.h"
#include "rng.h"

typedef struct cmanp_ckpt_kind {
    const char *format;      /* __metadata__ "format", e.g. "cmanp-checkpoint" */
    const char *family;      /* "not a <family> training checkpoint" */
    const char *label;       /* message prefix, e.g. "checkpoint", "cmhp checkpoint" */
    const char *bad_state;   /* message for a 'state' that is not a JSON object */
    const char *bad_version; /* message for a 'state' of another version */
    int any_float;           /* 1: F32 or F64 tensors are read (F64 only in the float64
                              * build; else "is F64, expected F32"); 0: exactly
                              * cmanp_real's dtype */
} cmanp_ckpt_kind;

/* The variable part of a run, as pointers into its trainer. */
typedef struct cmanp_ckpt_vars {
    const cmanp_layout *layout;
    cmanp_real *params;      /* (layout->n_params) */
    cmanp_adam *adam;        /* moments; adam->t = steps done */
    cmanp_rng *rng;          /* the data stream's generator */
    double *last_loss;
    int64_t max_step;        /* reading: a stored step above this is refused */
} cmanp_ckpt_vars;

/* Writes a checkpoint of v to path.  config and options are the JSON texts
 * to store; NULL means the caller's buffer was too small to render them
 * ("<label> metadata does not fit its buffer"). */
int cmanp_ckpt_write(const cmanp_ckpt_kind *k, const cmanp_ckpt_vars *v, const char *config,
                     const char *options, const char *path, cmanp_err *e);

/* Makes a trainer from the options JSON stored in a checkpoint and points *v
 * into it (the trainer itself stays with the caller's ctx, also on failure). */
typedef int (*cmanp_ckpt_build_fn)(void *ctx, const char *options, cmanp_ckpt_vars *v,
                                   cmanp_err *e);

/* Reads the checkpoint at path: checks its format tag, calls build with the
 * stored options, then fills the trainer's weights, moments, step and
 * generator.  Errors after the file was read are prefixed with path; on
 * failure the caller frees what build made. */
int cmanp_ckpt_read(const cmanp_ckpt_kind *k, const char *path, cmanp_ckpt_build_fn build,
                    void *ctx, cmanp_err *e);

#endif
