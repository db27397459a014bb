/* params_io.h - a parameter layout from and to safetensors tensors, shared by
 * the CMANP (model_io.c) and CMHP (cmhp_io.c) model files.
 *
 * Both models keep every parameter in one buffer described by a
 * cmanp_layout (params.h), so reading and writing their files differs only
 * in the configuration and in the word that starts the messages ("model",
 * "cmhp model").
 */
#ifndef CMANP_PARAMS_IO_H
#define CMANP_PARAMS_IO_H

#include <stddef.h>

#include "params.h"
#include "safetensors.h"

/* Checks, for every parameter of lay in order, that st holds it as F32 (F64
 * too in the float64 build) with exactly its shape.  With dst (n_params
 * values) it also copies each one and checks it is finite, then that st holds
 * no other tensor.  Without dst it allocates nothing: run it before
 * allocating a model, so a small file whose config claims a huge model is
 * refused by its first missing tensor.  Messages start with "<what>: ". */
int cmanp_params_read(const cmanp_st *st, const cmanp_layout *lay, cmanp_real *dst,
                      const char *what, cmanp_err *e);

/* Writes params (lay->n_params values, in cmanp_real's dtype) with
 * __metadata__ meta (n_meta key/value pairs) to path (atomically), or, with
 * path NULL, into a new buffer *out of *len bytes (freed with cmanp_free). */
int cmanp_params_write(const cmanp_layout *lay, const cmanp_real *params,
                       const char *const *meta, int n_meta, const char *path,
                       unsigned char **out, size_t *len, cmanp_err *e);

#endif
