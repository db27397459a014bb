/* state_io.c - the serialised CMANP state (a BLOB in SQL).
 *
 * Little-endian, 64-byte header then float64 arrays (docs/state-format.md):
 *
 *   0  char[8]  magic "CMNPSTAT"
 *   8  u32      format version (CMANP_STATE_FORMAT_VERSION)
 *  12  u32      kind (1 = CMANP)
 *  16  u64      model fingerprint
 *  24  i64      rows summarised
 *  32  u32 x 4  L, H, Lp, dh
 *  48  u64      payload bytes = 8 * (L*H*Lp + L*H*Lp*dh)
 *  56  u64      checksum: cmanp_hash64 of bytes 0..55 and of the payload
 *  64  f64      logc (L, H*Lp), then acc (L, H*Lp, dh)
 *
 * Decoding validates, in order: length >= 64; magic; version; kind; each dim
 * in range; payload size computed without overflow and equal to the header's;
 * total length equal to 64 + payload; rows in 0..2^53; checksum; with a model, the
 * fingerprint and dims; then values (logc finite, or all -inf when rows = 0;
 * acc finite).  Nothing is read past the length given.  The 64-byte header
 * codec and the checks shared with CMHP states are blobhdr.c.
 */
#include <math.h>
#include <string.h>

#include "blobhdr.h"
#include "cmanp.h"

#define HDR CMANP_BLOBHDR_BYTES
#define KIND_CMANP 1u

static const cmanp_blob_kind k_blob = {"cmanp", "state", "rows", CMANP_STATE_MAX_ROWS, HDR};

static size_t payload_bytes(const cmanp_state *s) {
    size_t nlog = (size_t)s->L * s->H * s->Lp;
    return 8 * (nlog + nlog * (size_t)s->dh);
}

size_t cmanp_state_encoded_size(const cmanp_state *s) { return HDR + payload_bytes(s); }

static uint64_t checksum(const unsigned char *buf, size_t payload) {
    return cmanp_hash64(buf + HDR, payload, cmanp_hash64(buf, 56, 0x5354415445ULL));
}

void cmanp_state_encode(const cmanp_state *s, unsigned char *out) {
    size_t pb = payload_bytes(s);
    size_t nlog = (size_t)s->L * s->H * s->Lp;
    const cmanp_blobhdr h = {CMANP_STATE_FORMAT_VERSION, KIND_CMANP, s->fingerprint, s->n_rows,
                             (uint32_t)s->L, (uint32_t)s->H, (uint32_t)s->Lp, (uint32_t)s->dh,
                             pb, 0};
    cmanp_blobhdr_encode(&h, out);
    memcpy(out + HDR, s->logc, nlog * 8);
    memcpy(out + HDR + nlog * 8, s->acc, nlog * (size_t)s->dh * 8);
    cmanp_le_put64(out + 56, checksum(out, pb));
}

int cmanp_state_peek(const void *vbuf, size_t len, cmanp_state_header *h, cmanp_err *e) {
    const unsigned char *buf = vbuf;
    memset(h, 0, sizeof *h);
    if (!buf || len < HDR)
        return cmanp_err_set(e, CMANP_EFORMAT,
                             "state BLOB is %zu bytes, too short for the %d-byte header", len, HDR);
    int rc = cmanp_blobhdr_check_magic(&k_blob, buf, e);
    if (rc) return rc;
    cmanp_blobhdr b;
    cmanp_blobhdr_decode(buf, &b);
    h->version = b.version;
    if (h->version != CMANP_STATE_FORMAT_VERSION)
        return cmanp_err_set(e, CMANP_EFORMAT, "state format version %u is not supported (expected %d)",
                             h->version, CMANP_STATE_FORMAT_VERSION);
    if (b.kind != KIND_CMANP)
        return cmanp_err_set(e, CMANP_EFORMAT, "state kind %u is not a CMANP state (expected %u)",
                             b.kind, KIND_CMANP);
    h->fingerprint = b.fingerprint;
    h->n_rows = b.count;
    if (b.L < 1 || b.L > CMANP_MAX_LAYERS || b.H < 1 || b.H > 256 || b.Lp < 1 || b.Lp > 65536 ||
        b.dh < 1 || b.dh > 4096)
        return cmanp_err_set(e, CMANP_EFORMAT,
                             "state dimensions L=%u H=%u Lp=%u dh=%u out of range", b.L, b.H, b.Lp,
                             b.dh);
    h->L = (int)b.L;
    h->H = (int)b.H;
    h->Lp = (int)b.Lp;
    h->dh = (int)b.dh;
    /* L*H*Lp*dh < 2^6 * 2^8 * 2^16 * 2^12 = 2^42: no overflow in 64 bits. */
    uint64_t nlog = (uint64_t)b.L * b.H * b.Lp;
    if ((rc = cmanp_blobhdr_check_size(&k_blob, &b, len, 8 * (nlog + nlog * b.dh), e))) return rc;
    h->bytes = len;
    return CMANP_OK;
}

int cmanp_state_decode(const cmanp_model *m, const void *vbuf, size_t len, cmanp_state **out,
                       cmanp_err *e) {
    const unsigned char *buf = vbuf;
    cmanp_state_header h;
    *out = NULL;
    int rc = cmanp_state_peek(buf, len, &h, e);
    if (rc) return rc;
    size_t pb = len - HDR;
    cmanp_blobhdr b;
    cmanp_blobhdr_decode(buf, &b);
    const int dims_match = m && h.L == m->cfg.num_layers && h.H == m->cfg.nhead &&
                           h.Lp == m->cfg.num_latents_per_layer && h.dh == m->dims.dh;
    if ((rc = cmanp_blobhdr_verify(&k_blob, &b, checksum(buf, pb), m ? &m->fingerprint : NULL,
                                   dims_match, e)))
        return rc;
    size_t nlog = (size_t)h.L * h.H * h.Lp, nacc = nlog * (size_t)h.dh;
    cmanp_state *s = cmanp_malloc(sizeof *s + (nlog + nacc) * sizeof(double));
    if (!s) return cmanp_err_nomem(e);
    s->fingerprint = h.fingerprint;
    s->n_rows = h.n_rows;
    s->L = h.L;
    s->H = h.H;
    s->Lp = h.Lp;
    s->dh = h.dh;
    s->logc = (double *)(void *)(s + 1);
    s->acc = s->logc + nlog;
    memcpy(s->logc, buf + HDR, nlog * 8);
    memcpy(s->acc, buf + HDR + nlog * 8, nacc * 8);
    for (size_t i = 0; i < nlog; i++) {
        int ok = h.n_rows > 0 ? isfinite(s->logc[i]) : s->logc[i] == -INFINITY;
        if (!ok) {
            cmanp_state_free(s);
            return cmanp_err_set(e, CMANP_EFORMAT, "state log-constant %zu is invalid", i);
        }
    }
    for (size_t i = 0; i < nacc; i++)
        if (!isfinite(s->acc[i])) {
            cmanp_state_free(s);
            return cmanp_err_set(e, CMANP_EFORMAT, "state accumulator %zu is not finite", i);
        }
    *out = s;
    return CMANP_OK;
}
