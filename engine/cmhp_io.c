/* cmhp_io.c - CMHP models from / to safetensors, and the serialised state.
 *
 * Model loading treats the file as untrusted, in the same order as CMANP's
 * (engine/model_io.c):
 *   1. __metadata__ "config" must parse with cmhp_config_parse ("model": "cmhp",
 *      every key, ranges);
 *   2. every tensor of the layout must be present;
 *   3. F32 (F64 too in the float64 test build) with exactly the layout's shape;
 *   4. no other tensor;
 *   5. every value finite
 * (steps 2-5 and the writer: params_io.c, shared with CMANP).
 *
 * State BLOB (little-endian; docs/cmhp.md "State format"):
 *
 *   0  char[8]  magic "CMNPSTAT" (shared with CMANP states; the kind tells them apart)
 *   8  u32      format version (CMHP_STATE_FORMAT_VERSION)
 *  12  u32      kind (2 = CMHP)
 *  16  u64      model fingerprint
 *  24  i64      events summarised
 *  32  u32 x 4  L, H, Lp, dh
 *  48  u64      payload bytes = 8 (L H Lp (1 + dh) + K R)
 *  56  u64      checksum: cmanp_hash64 over bytes 0..55, 64..79 and the payload
 *  64  f64      t_last (-inf: no event yet)
 *  72  u32 x 2  K, R
 *  80  f64      logc (L, H Lp), acc (L, H Lp, dh), rec (K, R)
 *
 * Bytes 0..63 are the header CMANP states have too (codec and shared checks:
 * blobhdr.c).  Decoding validates, in order: length >= 16; magic; kind;
 * version; length >= 80; dims in range; payload size (no overflow) equal to
 * the header's; total length; events >= 0; t_last finite, or -inf with no
 * events; checksum; with a model, fingerprint and dims; values (logc finite,
 * or all -inf with no events; acc finite; rec finite and >= 0).  Nothing is
 * read past the length given.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "blobhdr.h"
#include "cmanp.h" /* cmanp_hash64 */
#include "cmhp.h"
#include "params_io.h"

/* ----------------------------------------------------------------- model */

int cmhp_model_from_st(cmhp_model **out, const cmanp_st *st, cmanp_err *e) {
    *out = NULL;
    const char *cj = cmanp_st_meta(st, "config");
    if (!cj)
        return cmanp_err_set(e, CMANP_EFORMAT,
                             "cmhp model: __metadata__ has no 'config' (expected a JSON object "
                             "with \"model\": \"cmhp\")");
    cmhp_config cfg;
    int rc = cmhp_config_parse(&cfg, cj, e);
    if (rc) return cmanp_err_prefix(e, "cmhp model");
    /* Sizes before allocation (as engine/model_io.c): every tensor of the
     * layout must be in the file with its shape before the model is
     * allocated. */
    cmanp_layout lay;
    if ((rc = cmhp_layout_build(&cfg, &lay, e))) return rc;
    rc = cmanp_params_read(st, &lay, NULL, "cmhp model", e);
    cmanp_layout_free(&lay);
    if (rc) return rc;
    cmhp_model *m;
    if ((rc = cmhp_model_new(&m, &cfg, e))) return rc;
    if ((rc = cmanp_params_read(st, &m->layout, m->params, "cmhp model", e))) {
        cmhp_model_free(m);
        return rc;
    }
    cmhp_model_refresh(m);
    *out = m;
    return CMANP_OK;
}

int cmhp_model_load_bytes(cmhp_model **out, const void *bytes, size_t len, cmanp_err *e) {
    cmanp_st st;
    *out = NULL;
    int rc = cmanp_st_parse(&st, bytes, len, 0, e);
    if (rc) return rc;
    rc = cmhp_model_from_st(out, &st, e);
    cmanp_st_free(&st);
    return rc;
}

int cmhp_model_load_file(cmhp_model **out, const char *path, cmanp_err *e) {
    cmanp_st st;
    *out = NULL;
    int rc = cmanp_st_read_file(&st, path, e);
    if (rc) return rc;
    rc = cmhp_model_from_st(out, &st, e);
    cmanp_st_free(&st);
    if (rc) cmanp_err_prefix(e, "%s", path);
    return rc;
}

static int model_save(const cmhp_model *m, const char *note, const char *path, unsigned char **buf,
                      size_t *len, cmanp_err *e) {
    char cfg[1024];
    if (cmhp_config_to_json(&m->cfg, cfg, sizeof cfg) < 0)
        return cmanp_err_set(e, CMANP_ERANGE, "cmhp model: config does not fit its buffer");
    const char *meta[6] = {"config", cfg, "format", "cmhp", "note", note ? note : ""};
    return cmanp_params_write(&m->layout, m->params, meta, 3, path, buf, len, e);
}

int cmhp_model_save_bytes(const cmhp_model *m, const char *note, unsigned char **out, size_t *len,
                          cmanp_err *e) {
    return model_save(m, note, NULL, out, len, e);
}

int cmhp_model_save_file(const cmhp_model *m, const char *note, const char *path, cmanp_err *e) {
    return model_save(m, note, path, NULL, NULL, e);
}

/* ----------------------------------------------------------------- state */

#define HDR 80

static const cmanp_blob_kind k_blob = {"cmhp", "cmhp state", "events", CMHP_MAX_EVENTS, HDR};

static size_t payload_bytes(const cmhp_state *s) {
    size_t nlog = (size_t)s->L * s->H * s->Lp;
    return 8 * (nlog * (1 + (size_t)s->dh) + (size_t)s->K * s->R);
}

size_t cmhp_state_encoded_size(const cmhp_state *s) { return HDR + payload_bytes(s); }

static uint64_t checksum(const unsigned char *buf, size_t payload) {
    uint64_t h = cmanp_hash64(buf, 56, 0x434d485053ULL /* "CMHPS" */);
    h = cmanp_hash64(buf + 64, HDR - 64, h);
    return cmanp_hash64(buf + HDR, payload, h);
}

void cmhp_state_encode(const cmhp_state *s, unsigned char *out) {
    const size_t pb = payload_bytes(s);
    const cmanp_blobhdr h = {CMHP_STATE_FORMAT_VERSION, CMHP_STATE_KIND, s->fingerprint,
                             s->n_events, (uint32_t)s->L, (uint32_t)s->H, (uint32_t)s->Lp,
                             (uint32_t)s->dh, pb, 0};
    cmanp_blobhdr_encode(&h, out);
    memcpy(out + 64, &s->t_last, 8);
    cmanp_le_put32(out + 72, (uint32_t)s->K);
    cmanp_le_put32(out + 76, (uint32_t)s->R);
    memcpy(out + HDR, s->logc, pb); /* logc, acc, rec are contiguous */
    cmanp_le_put64(out + 56, checksum(out, pb));
}

int cmhp_state_peek(const void *vbuf, size_t len, cmhp_state_header *h, cmanp_err *e) {
    const unsigned char *buf = vbuf;
    memset(h, 0, sizeof *h);
    if (!buf || len < 16)
        return cmanp_err_set(e, CMANP_EFORMAT,
                             "cmhp state BLOB is %zu bytes, too short for the %d-byte header", len,
                             HDR);
    int rc = cmanp_blobhdr_check_magic(&k_blob, buf, e);
    if (rc) return rc;
    /* Kind before version: a CMANP state gets "a CMANP state", not a
     * version message. */
    uint32_t kind = cmanp_le_get32(buf + 12);
    if (kind != CMHP_STATE_KIND)
        return cmanp_err_set(e, CMANP_EFORMAT, "state kind %u is %s, not a CMHP state (kind %u)",
                             kind, kind == 1 ? "a CMANP state" : "unknown", CMHP_STATE_KIND);
    h->version = cmanp_le_get32(buf + 8);
    if (h->version != CMHP_STATE_FORMAT_VERSION)
        return cmanp_err_set(e, CMANP_EFORMAT,
                             "cmhp state format version %u is not supported (expected %d)",
                             h->version, CMHP_STATE_FORMAT_VERSION);
    if (len < HDR)
        return cmanp_err_set(e, CMANP_EFORMAT,
                             "cmhp state BLOB is %zu bytes, too short for the %d-byte header", len,
                             HDR);
    cmanp_blobhdr b;
    cmanp_blobhdr_decode(buf, &b);
    h->fingerprint = b.fingerprint;
    h->n_events = b.count;
    uint32_t K = cmanp_le_get32(buf + 72), R = cmanp_le_get32(buf + 76);
    if (b.L < 1 || b.L > CMANP_MAX_LAYERS || b.H < 1 || b.H > 256 || b.Lp < 1 || b.Lp > 65536 ||
        b.dh < 1 || b.dh > 4096 || K < 1 || K > CMHP_MAX_MARKS || R > CMHP_MAX_RATES)
        return cmanp_err_set(e, CMANP_EFORMAT,
                             "cmhp state dimensions L=%u H=%u Lp=%u dh=%u K=%u R=%u out of range",
                             b.L, b.H, b.Lp, b.dh, K, R);
    h->L = (int)b.L;
    h->H = (int)b.H;
    h->Lp = (int)b.Lp;
    h->dh = (int)b.dh;
    h->K = (int)K;
    h->R = (int)R;
    /* L H Lp (1 + dh) < 2^6 2^8 2^16 2^13 = 2^43; K R < 2^17: no overflow. */
    uint64_t nlog = (uint64_t)b.L * b.H * b.Lp;
    if ((rc = cmanp_blobhdr_check_size(&k_blob, &b, len,
                                       8 * (nlog * (1 + (uint64_t)b.dh) + (uint64_t)K * R), e)))
        return rc;
    memcpy(&h->t_last, buf + 64, 8);
    if (!(isfinite(h->t_last) || (h->t_last == -INFINITY && h->n_events == 0)))
        return cmanp_err_set(e, CMANP_EFORMAT,
                             "cmhp state last event time is %g (expected finite, or -inf with no "
                             "events)",
                             h->t_last);
    h->bytes = len;
    return CMANP_OK;
}

int cmhp_state_decode(const cmhp_model *m, const void *vbuf, size_t len, cmhp_state **out,
                      cmanp_err *e) {
    const unsigned char *buf = vbuf;
    cmhp_state_header h;
    *out = NULL;
    int rc = cmhp_state_peek(buf, len, &h, e);
    if (rc) return rc;
    const size_t pb = len - HDR;
    cmanp_blobhdr b;
    cmanp_blobhdr_decode(buf, &b);
    const int dims_match = m && h.L == m->cfg.num_layers && h.H == m->cfg.nhead &&
                           h.Lp == m->cfg.num_latents_per_layer && h.dh == m->dims.dh &&
                           h.K == m->cfg.num_marks && h.R == m->cfg.num_rates;
    if ((rc = cmanp_blobhdr_verify(&k_blob, &b, checksum(buf, pb), m ? &m->fingerprint : NULL,
                                   dims_match, e)))
        return rc;
    const size_t nlog = (size_t)h.L * h.H * h.Lp, nacc = nlog * (size_t)h.dh,
                 nrec = (size_t)h.K * h.R;
    cmhp_state *s = cmanp_malloc(sizeof *s + (nlog + nacc + nrec + 1) * sizeof(double));
    if (!s) return cmanp_err_nomem(e);
    s->fingerprint = h.fingerprint;
    s->n_events = h.n_events;
    s->t_last = h.t_last;
    s->L = h.L;
    s->H = h.H;
    s->Lp = h.Lp;
    s->dh = h.dh;
    s->K = h.K;
    s->R = h.R;
    s->logc = (double *)(void *)(s + 1);
    s->acc = s->logc + nlog;
    s->rec = s->acc + nacc;
    memcpy(s->logc, buf + HDR, pb);
    const char *bad = NULL;
    size_t at = 0;
    for (size_t i = 0; !bad && i < nlog; i++)
        if (!(h.n_events > 0 ? isfinite(s->logc[i]) : s->logc[i] == -INFINITY)) bad = "log-constant", at = i;
    for (size_t i = 0; !bad && i < nacc; i++)
        if (!isfinite(s->acc[i])) bad = "accumulator", at = i;
    for (size_t i = 0; !bad && i < nrec; i++)
        if (!isfinite(s->rec[i]) || s->rec[i] < 0) bad = "recency count", at = i;
    if (bad) {
        cmhp_state_free(s);
        return cmanp_err_set(e, CMANP_EFORMAT, "cmhp state %s %zu is invalid", bad, at);
    }
    *out = s;
    return CMANP_OK;
}
