/* blobhdr.c - the shared header of state BLOBs (see blobhdr.h). */
#include "blobhdr.h"

static const char k_magic[8] = {'C', 'M', 'N', 'P', 'S', 'T', 'A', 'T'};

void cmanp_blobhdr_encode(const cmanp_blobhdr *h, unsigned char *out) {
    memcpy(out, k_magic, 8);
    cmanp_le_put32(out + 8, h->version);
    cmanp_le_put32(out + 12, h->kind);
    cmanp_le_put64(out + 16, h->fingerprint);
    cmanp_le_put64(out + 24, (uint64_t)h->count);
    cmanp_le_put32(out + 32, h->L);
    cmanp_le_put32(out + 36, h->H);
    cmanp_le_put32(out + 40, h->Lp);
    cmanp_le_put32(out + 44, h->dh);
    cmanp_le_put64(out + 48, h->payload);
}

void cmanp_blobhdr_decode(const unsigned char *buf, cmanp_blobhdr *h) {
    h->version = cmanp_le_get32(buf + 8);
    h->kind = cmanp_le_get32(buf + 12);
    h->fingerprint = cmanp_le_get64(buf + 16);
    h->count = (int64_t)cmanp_le_get64(buf + 24);
    h->L = cmanp_le_get32(buf + 32);
    h->H = cmanp_le_get32(buf + 36);
    h->Lp = cmanp_le_get32(buf + 40);
    h->dh = cmanp_le_get32(buf + 44);
    h->payload = cmanp_le_get64(buf + 48);
    h->checksum = cmanp_le_get64(buf + 56);
}

int cmanp_blobhdr_check_magic(const cmanp_blob_kind *k, const unsigned char *buf, cmanp_err *e) {
    if (memcmp(buf, k_magic, 8) != 0)
        return cmanp_err_set(e, CMANP_EFORMAT, "not a %s state (bad magic; expected \"CMNPSTAT\")",
                             k->family);
    return CMANP_OK;
}

int cmanp_blobhdr_check_size(const cmanp_blob_kind *k, const cmanp_blobhdr *h, size_t len,
                             uint64_t need, cmanp_err *e) {
    if (h->payload != need)
        return cmanp_err_set(e, CMANP_EFORMAT,
                             "%s header declares %llu payload bytes, its dimensions need %llu",
                             k->what, (unsigned long long)h->payload, (unsigned long long)need);
    if ((uint64_t)len - k->header != need)
        return cmanp_err_set(e, CMANP_EFORMAT,
                             "%s BLOB is %zu bytes, expected %llu (truncated or padded)", k->what,
                             len, (unsigned long long)(need + k->header));
    if (h->count < 0 || h->count > k->max_count)
        return cmanp_err_set(e, CMANP_EFORMAT, "%s claims %lld %s (expected 0..2^53)", k->what,
                             (long long)h->count, k->noun);
    return CMANP_OK;
}

int cmanp_blobhdr_verify(const cmanp_blob_kind *k, const cmanp_blobhdr *h, uint64_t sum,
                         const uint64_t *model_fp, int dims_match, cmanp_err *e) {
    if (h->checksum != sum)
        return cmanp_err_set(e, CMANP_EFORMAT, "%s BLOB is corrupt (checksum mismatch)", k->what);
    if (!model_fp) return CMANP_OK;
    if (h->fingerprint != *model_fp)
        return cmanp_err_set(e, CMANP_EMISMATCH,
                             "%s was made by another model (fingerprint %016llx, expected %016llx)",
                             k->what, (unsigned long long)h->fingerprint,
                             (unsigned long long)*model_fp);
    if (!dims_match)
        return cmanp_err_set(e, CMANP_EMISMATCH, "%s dimensions do not match the model", k->what);
    return CMANP_OK;
}
