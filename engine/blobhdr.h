/* blobhdr.h - the header that CMANP and CMHP state BLOBs share
 * (docs/state-format.md; docs/cmhp.md "State format").
 *
 * Both states are the running state of the same CMAB block, so both BLOBs
 * start with the same 64 bytes, little-endian:
 *
 *   0  char[8]  magic "CMNPSTAT"
 *   8  u32      format version
 *  12  u32      kind (1 = CMANP, 2 = CMHP)
 *  16  u64      model fingerprint
 *  24  i64      rows / events summarised
 *  32  u32 x 4  L, H, Lp, dh
 *  48  u64      payload bytes (after the kind's header)
 *  56  u64      checksum (each kind hashes its own byte ranges)
 *
 * Each kind checks its header in its own order (state_io.c, cmhp_io.c); the
 * codec and the checks they share are here, worded per kind by a
 * cmanp_blob_kind so that every message stays what it was.
 */
#ifndef CMANP_BLOBHDR_H
#define CMANP_BLOBHDR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "cmanp's state formats are little-endian; big-endian hosts are not supported"
#endif

#define CMANP_BLOBHDR_BYTES 64

typedef struct cmanp_blobhdr {
    uint32_t version, kind;
    uint64_t fingerprint;
    int64_t count;          /* rows (CMANP) or events (CMHP) summarised */
    uint32_t L, H, Lp, dh;  /* layers, heads, latents per layer, head width */
    uint64_t payload;       /* bytes after the kind's header */
    uint64_t checksum;
} cmanp_blobhdr;

/* How a kind's messages name things. */
typedef struct cmanp_blob_kind {
    const char *family;     /* "not a <family> state": "cmanp", "cmhp" */
    const char *what;       /* subject of the messages: "state", "cmhp state" */
    const char *noun;       /* what the count counts: "rows", "events" */
    int64_t max_count;      /* largest count accepted */
    size_t header;          /* the kind's header bytes (>= CMANP_BLOBHDR_BYTES) */
} cmanp_blob_kind;

/* Unaligned little-endian fields (memcpy: no alignment or aliasing traps). */
static inline void cmanp_le_put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void cmanp_le_put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint32_t cmanp_le_get32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t cmanp_le_get64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Writes bytes 0..55 of h; the checksum (56..63) is written by the kind once
 * the payload is in place, since it covers it. */
void cmanp_blobhdr_encode(const cmanp_blobhdr *h, unsigned char *out);
/* Reads the 64 bytes at buf (the caller has checked the length). */
void cmanp_blobhdr_decode(const unsigned char *buf, cmanp_blobhdr *h);

/* "not a <family> state (bad magic ...)" unless buf starts with the magic
 * (buf holds at least 8 bytes). */
int cmanp_blobhdr_check_magic(const cmanp_blob_kind *k, const unsigned char *buf, cmanp_err *e);
/* The declared payload equals need (what the dimensions need), the BLOB's
 * length len equals header + need, and 0 <= count <= max_count. */
int cmanp_blobhdr_check_size(const cmanp_blob_kind *k, const cmanp_blobhdr *h, size_t len,
                             uint64_t need, cmanp_err *e);
/* Decoding: the stored checksum equals sum; with a model (model_fp not
 * NULL), the state was made by it (fingerprint, then dims_match). */
int cmanp_blobhdr_verify(const cmanp_blob_kind *k, const cmanp_blobhdr *h, uint64_t sum,
                         const uint64_t *model_fp, int dims_match, cmanp_err *e);

#endif
