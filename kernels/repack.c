/* repack.c: building the packed weight layout (packed.h) once at load, the packed
 * activation rows the driver makes per product, and the table of packed kernels.
 *
 * Everything here is plain C: repacking runs once per weight, and the activation rows
 * are made from blocks the active ISA's own quantizer produced, so the codes are the
 * same as on the plain path.
 * Must not: be called on the per-token path except elmk_pact_quantize (no allocation
 * there).
 */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "packed.h"
#include "ref.h"

/* ==== the kernel table ==================================================================== */

/* Written only by the ISA fill functions, which dispatch.c runs once before any kernel is
 * looked up (every reader first goes through elmk_get_ops, which waits for that). */
static elmk_packed_fn packed_table[ELMK_ISA_COUNT][ELM_TYPE_COUNT];

void elmk_packed_register(elmk_isa isa, uint32_t wtype, elmk_packed_fn fn) {
    if ((unsigned)isa < ELMK_ISA_COUNT && wtype < ELM_TYPE_COUNT) packed_table[isa][wtype] = fn;
}

elmk_packed_fn elmk_packed_kernel(elmk_isa isa, uint32_t wtype) {
    if ((unsigned)isa >= ELMK_ISA_COUNT || wtype >= ELM_TYPE_COUNT) return NULL;
    (void)elmk_get_ops(wtype);   /* the table is complete once dispatch is initialised */
    return packed_table[isa][wtype];
}

bool elmk_packed_matches(const void *p, uint32_t wtype, int64_t n_out, int64_t n_in) {
    const elmk_packed_header *h = p;
    return h && h->magic == ELMK_PACK_MAGIC && h->wtype == wtype && h->n_out == n_out && h->n_in == n_in;
}

/* ==== layouts ============================================================================= */

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Scale-area and per-block code bytes of the legacy layouts (0: not a legacy packed type). */
static size_t legacy_scale_bytes(uint32_t wtype) {
    switch (wtype) {
    case ELM_TYPE_Q4_0: case ELM_TYPE_Q5_0: case ELM_TYPE_Q8_0: return 32;
    case ELM_TYPE_Q4_1: case ELM_TYPE_Q5_1: return 64;
    default: return 0;
    }
}
static size_t legacy_code_bytes(uint32_t wtype) {
    switch (wtype) {
    case ELM_TYPE_Q4_0: case ELM_TYPE_Q4_1: return 256;
    case ELM_TYPE_Q5_0: case ELM_TYPE_Q5_1: return 320;
    case ELM_TYPE_Q8_0: return 512;
    default: return 0;
    }
}

size_t elmk_packed_scale_area(uint32_t wtype, int64_t nb) { return round64(legacy_scale_bytes(wtype) * (size_t)nb); }

/* Bytes of one group of 16 rows; 0 when the type has no packed layout. */
static size_t group_bytes(uint32_t wtype, int64_t n_in) {
    const size_t nb = (size_t)(n_in / elm_type_get_info(wtype)->block_size);
    switch (wtype) {
    case ELM_TYPE_Q4_0: case ELM_TYPE_Q4_1: case ELM_TYPE_Q5_0: case ELM_TYPE_Q5_1: case ELM_TYPE_Q8_0:
        return elmk_packed_scale_area(wtype, (int64_t)nb) + nb * legacy_code_bytes(wtype);
    case ELM_TYPE_Q4_K: return nb * ELMK_PK_Q4_K_UNIT;
    case ELM_TYPE_Q5_K: return nb * ELMK_PK_Q5_K_UNIT;
    case ELM_TYPE_Q6_K: return nb * ELMK_PK_Q6_K_UNIT;
    case ELM_TYPE_Q2_K: return nb * ELMK_PK_Q2_K_UNIT;
    case ELM_TYPE_Q3_K: return nb * ELMK_PK_Q3_K_UNIT;
    default: return 0;
    }
}

/* ---- writing row r's codes into chunks (see packed.h) ---- */

static void put_nib32(uint8_t *chunks, int r, const uint8_t *codes) {
    for (int c = 0; c < 4; c++)
        for (int e = 0; e < 4; e++)
            chunks[64 * c + 4 * r + e] = (uint8_t)((codes[4 * c + e] & 0xF) | (codes[16 + 4 * c + e] & 0xF) << 4);
}
static void put_bits32(uint8_t *chunk, int r, const uint8_t *codes) {
    for (int e = 0; e < 4; e++) {
        uint8_t v = 0;
        for (int k = 0; k < 8; k++) v |= (uint8_t)(((codes[4 * k + e] >> 4) & 1) << k);
        chunk[4 * r + e] = v;
    }
}
static void put_nib16(uint8_t *chunks, int r, const uint8_t *codes) {
    for (int c = 0; c < 2; c++)
        for (int e = 0; e < 4; e++)
            chunks[64 * c + 4 * r + e] = (uint8_t)((codes[4 * c + e] & 0xF) | (codes[8 + 4 * c + e] & 0xF) << 4);
}
static void put_crumb16(uint8_t *chunk, int r, const uint8_t *codes, int shift) {
    for (int e = 0; e < 4; e++) {
        uint8_t v = 0;
        for (int k = 0; k < 4; k++) v |= (uint8_t)(((codes[4 * k + e] >> shift) & 3) << (2 * k));
        chunk[4 * r + e] = v;
    }
}

/* ---- each type's codes, unsigned, in element order ---- */

static void codes_q4(const uint8_t *qs, uint8_t *c) {
    for (int j = 0; j < 16; j++) { c[j] = qs[j] & 0xF; c[j + 16] = qs[j] >> 4; }
}
static void codes_q5(const uint8_t *qs, const uint8_t *qh4, uint8_t *c) {
    uint32_t qh;
    memcpy(&qh, qh4, 4);
    codes_q4(qs, c);
    for (int j = 0; j < 32; j++) c[j] |= (uint8_t)(((qh >> j) & 1) << 4);
}
static void codes_q4_K(const block_q4_K *b, uint8_t *c) {
    for (int jj = 0; jj < 4; jj++)
        for (int l = 0; l < 32; l++) {
            c[64 * jj + l] = b->qs[32 * jj + l] & 0xF;
            c[64 * jj + 32 + l] = b->qs[32 * jj + l] >> 4;
        }
}
static void codes_q5_K(const block_q5_K *b, uint8_t *c) {
    for (int jj = 0; jj < 4; jj++)
        for (int l = 0; l < 32; l++) {
            c[64 * jj + l] = (uint8_t)((b->qs[32 * jj + l] & 0xF) | ((b->qh[l] >> (2 * jj)) & 1) << 4);
            c[64 * jj + 32 + l] = (uint8_t)((b->qs[32 * jj + l] >> 4) | ((b->qh[l] >> (2 * jj + 1)) & 1) << 4);
        }
}
static void codes_q6_K(const block_q6_K *b, uint8_t *c) {
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
        for (int l = 0; l < 32; l++) {
            c[128 * h + l] = (uint8_t)((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4);
            c[128 * h + 32 + l] = (uint8_t)((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4);
            c[128 * h + 64 + l] = (uint8_t)((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4);
            c[128 * h + 96 + l] = (uint8_t)((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4);
        }
    }
}
static void codes_q2_K(const uint8_t *qs, uint8_t *c) {
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) c[128 * h + 32 * j + l] = (qs[32 * h + l] >> (2 * j)) & 3;
}
static void codes_q3_K(const block_q3_K *b, uint8_t *c) {
    codes_q2_K(b->qs, c);
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++)
                c[128 * h + 32 * j + l] |= (uint8_t)(((b->hmask[l] >> (4 * h + j)) & 1) << 2);
}

/* ---- groups ---- */

static void pack_legacy(uint32_t wtype, uint8_t *g, const uint8_t *const rows[ELMK_PACK_ROWS], int64_t nb) {
    const size_t bb = elm_type_get_info(wtype)->block_bytes, cb = legacy_code_bytes(wtype);
    uint16_t *d = (uint16_t *)g, *m = d + nb * 16;
    uint8_t *q = g + elmk_packed_scale_area(wtype, nb);
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *cq = q + (size_t)b * cb;
        for (int r = 0; r < ELMK_PACK_ROWS; r++) {
            uint8_t codes[32];
            if (!rows[r]) {   /* padding row: zero scales; Q8_0's code 0 is 128 */
                if (wtype == ELM_TYPE_Q8_0)
                    for (int s = 0; s < 8; s++) memset(cq + 64 * s + 4 * r, 0x80, 4);
                continue;
            }
            const uint8_t *blk = rows[r] + (size_t)b * bb;
            memcpy(&d[b * 16 + r], blk, 2);
            switch (wtype) {
            case ELM_TYPE_Q4_0: codes_q4(((const block_q4_0 *)blk)->qs, codes); put_nib32(cq, r, codes); break;
            case ELM_TYPE_Q4_1:
                memcpy(&m[b * 16 + r], blk + 2, 2);
                codes_q4(((const block_q4_1 *)blk)->qs, codes);
                put_nib32(cq, r, codes);
                break;
            case ELM_TYPE_Q5_0:
                codes_q5(((const block_q5_0 *)blk)->qs, ((const block_q5_0 *)blk)->qh, codes);
                put_nib32(cq, r, codes);
                put_bits32(cq + 256, r, codes);
                break;
            case ELM_TYPE_Q5_1:
                memcpy(&m[b * 16 + r], blk + 2, 2);
                codes_q5(((const block_q5_1 *)blk)->qs, ((const block_q5_1 *)blk)->qh, codes);
                put_nib32(cq, r, codes);
                put_bits32(cq + 256, r, codes);
                break;
            case ELM_TYPE_Q8_0: {
                const block_q8_0 *b8 = (const block_q8_0 *)blk;
                for (int s = 0; s < 8; s++)
                    for (int e = 0; e < 4; e++) cq[64 * s + 4 * r + e] = (uint8_t)(b8->qs[4 * s + e] + 128);
                break;
            }
            default: break;
            }
        }
    }
}

static void pack_kquant(uint32_t wtype, uint8_t *g, const uint8_t *const rows[ELMK_PACK_ROWS], int64_t nb) {
    const size_t bb = elm_type_get_info(wtype)->block_bytes;
    const size_t unit = group_bytes(wtype, QK_K);
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *u = g + (size_t)b * unit;
        uint16_t *d = (uint16_t *)u, *dmin = d + 16;
        for (int r = 0; r < ELMK_PACK_ROWS; r++) {
            if (!rows[r]) continue;   /* padding row: zero scales and codes */
            const uint8_t *blk = rows[r] + (size_t)b * bb;
            uint8_t codes[QK_K];
            switch (wtype) {
            case ELM_TYPE_Q4_K: case ELM_TYPE_Q5_K: {
                const block_q4_K *b4 = (const block_q4_K *)blk;   /* d, dmin, scales lead both */
                d[r] = b4->d;
                dmin[r] = b4->dmin;
                for (int j = 0; j < 8; j++) {
                    uint8_t sc, mn;
                    elmk_k4_scale_min(j, b4->scales, &sc, &mn);
                    u[64 + 16 * j + r] = sc;
                    u[192 + 32 * (j / 2) + 2 * r + (j & 1)] = mn;
                }
                const size_t sub = wtype == ELM_TYPE_Q4_K ? 256 : 320;
                if (wtype == ELM_TYPE_Q4_K) codes_q4_K(b4, codes);
                else codes_q5_K((const block_q5_K *)blk, codes);
                for (int j = 0; j < 8; j++) {
                    put_nib32(u + 320 + sub * (size_t)j, r, codes + 32 * j);
                    if (wtype == ELM_TYPE_Q5_K) put_bits32(u + 320 + sub * (size_t)j + 256, r, codes + 32 * j);
                }
                break;
            }
            case ELM_TYPE_Q6_K: {
                const block_q6_K *b6 = (const block_q6_K *)blk;
                d[r] = b6->d;
                for (int j = 0; j < 16; j++) u[64 + 16 * j + r] = (uint8_t)b6->scales[j];
                codes_q6_K(b6, codes);
                for (int j = 0; j < 16; j++) {
                    put_nib16(u + 320 + 192 * (size_t)j, r, codes + 16 * j);
                    put_crumb16(u + 320 + 192 * (size_t)j + 128, r, codes + 16 * j, 4);
                }
                break;
            }
            case ELM_TYPE_Q2_K: {
                const block_q2_K *b2 = (const block_q2_K *)blk;
                d[r] = b2->d;
                dmin[r] = b2->dmin;
                for (int j = 0; j < 16; j++) u[64 + 32 * (j / 2) + 2 * r + (j & 1)] = b2->scales[j];
                codes_q2_K(b2->qs, codes);
                for (int j = 0; j < 16; j++) put_crumb16(u + 320 + 64 * (size_t)j, r, codes + 16 * j, 0);
                break;
            }
            case ELM_TYPE_Q3_K: {
                const block_q3_K *b3 = (const block_q3_K *)blk;
                d[r] = b3->d;
                for (int j = 0; j < 16; j++) u[64 + 16 * j + r] = (uint8_t)(int8_t)elmk_q3k_scale(j, b3->scales);
                codes_q3_K(b3, codes);
                for (int j = 0; j < 16; j++) put_crumb16(u + 320 + 64 * (size_t)j, r, codes + 16 * j, 0);
                for (int p = 0; p < 8; p++) {
                    uint8_t *ch = u + 320 + 1024 + 64 * (size_t)p;
                    for (int e = 0; e < 4; e++) {
                        uint8_t v = 0;
                        for (int k = 0; k < 4; k++) {
                            v |= (uint8_t)(((codes[32 * p + 4 * k + e] >> 2) & 1) << k);
                            v |= (uint8_t)(((codes[32 * p + 16 + 4 * k + e] >> 2) & 1) << (4 + k));
                        }
                        ch[4 * r + e] = v;
                    }
                }
                break;
            }
            default: break;
            }
        }
    }
}

void *elmk_repack(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t n_out, int64_t n_in, size_t *bytes) {
    if (bytes) *bytes = 0;
    if (!w || n_out <= 0 || n_in <= 0 || wtype >= ELM_TYPE_COUNT) return NULL;
    if (!elmk_packed_kernel(elmk_active_isa(), wtype)) return NULL;   /* nothing would read it */
    const elm_type_info *ti = elm_type_get_info(wtype);
    if (!ti || n_in % ti->block_size || w_row_bytes < elm_type_row_bytes(wtype, n_in)) return NULL;
    const size_t gb = group_bytes(wtype, n_in);
    if (!gb) return NULL;
    const int64_t ngroups = (n_out + ELMK_PACK_ROWS - 1) / ELMK_PACK_ROWS;
    if ((size_t)ngroups > (SIZE_MAX - sizeof(elmk_packed_header)) / gb) return NULL;
    const size_t total = sizeof(elmk_packed_header) + (size_t)ngroups * gb;
    elmk_packed_header *h = aligned_alloc(64, total);
    if (!h) return NULL;
    memset(h, 0, total);
    h->magic = ELMK_PACK_MAGIC;
    h->wtype = wtype;
    h->n_out = n_out;
    h->n_in = n_in;
    h->group_bytes = gb;
    h->total_bytes = total;
    const int64_t nb = n_in / ti->block_size;
    for (int64_t g = 0; g < ngroups; g++) {
        const uint8_t *rows[ELMK_PACK_ROWS];
        for (int r = 0; r < ELMK_PACK_ROWS; r++) {
            int64_t row = g * ELMK_PACK_ROWS + r;
            rows[r] = row < n_out ? (const uint8_t *)w + (size_t)row * w_row_bytes : NULL;
        }
        uint8_t *dst = (uint8_t *)h + sizeof *h + (size_t)g * gb;
        if (legacy_code_bytes(wtype)) pack_legacy(wtype, dst, rows, nb);
        else pack_kquant(wtype, dst, rows, nb);
    }
    if (bytes) *bytes = total;
    return h;
}

/* ==== packed activations ================================================================== */

size_t elmk_pact_row_bytes(uint32_t wtype, int64_t n_in) {
    switch (wtype) {
    case ELM_TYPE_Q4_0: case ELM_TYPE_Q5_0: case ELM_TYPE_Q8_0: return (size_t)(n_in / 32) * sizeof(elmk_pact_q8_0);
    case ELM_TYPE_Q4_1: case ELM_TYPE_Q5_1: return (size_t)(n_in / 32) * sizeof(elmk_pact_q8_1);
    case ELM_TYPE_Q2_K: case ELM_TYPE_Q3_K: case ELM_TYPE_Q4_K: case ELM_TYPE_Q5_K: case ELM_TYPE_Q6_K:
        return (size_t)(n_in / QK_K) * sizeof(elmk_pact_q8_K);
    default: return 0;
    }
}

/* The weight codes' offset that the activation sums take back out. */
static int32_t code_offset(uint32_t wtype) {
    switch (wtype) {
    case ELM_TYPE_Q4_0: return 8;
    case ELM_TYPE_Q5_0: return 16;
    case ELM_TYPE_Q8_0: return 128;
    case ELM_TYPE_Q6_K: return 32;
    case ELM_TYPE_Q3_K: return 4;
    default: return 0;
    }
}

void elmk_pact_quantize(uint32_t wtype, const float *x, void *dst, int64_t b0, int64_t b1) {
    const int32_t off = code_offset(wtype);
    switch (wtype) {
    case ELM_TYPE_Q4_0: case ELM_TYPE_Q5_0: case ELM_TYPE_Q8_0: {
        const elmk_from_float_fn quant = elmk_get_ops(ELM_TYPE_Q8_0)->quantize;
        elmk_pact_q8_0 *a = dst;
        for (int64_t b = b0; b < b1; b++) {
            block_q8_0 blk;
            quant(x + b * 32, &blk, 32);
            int32_t sum = 0;
            for (int j = 0; j < 32; j++) sum += blk.qs[j];
            memcpy(a[b].qs, blk.qs, 32);
            a[b].d = elmk_fp16_to_fp32(blk.d);
            a[b].corr = -off * sum;
            for (int k = 0; k < 8; k++)
                a[b].lcorr[k] = -off * (blk.qs[4 * k] + blk.qs[4 * k + 1] + blk.qs[4 * k + 2] + blk.qs[4 * k + 3]);
        }
        break;
    }
    case ELM_TYPE_Q4_1: case ELM_TYPE_Q5_1: {
        const elmk_from_float_fn quant = elmk_get_ops(ELM_TYPE_Q8_1)->quantize;
        elmk_pact_q8_1 *a = dst;
        for (int64_t b = b0; b < b1; b++) {
            block_q8_1 blk;
            quant(x + b * 32, &blk, 32);
            memcpy(a[b].qs, blk.qs, 32);
            a[b].d = elmk_fp16_to_fp32(blk.d);
            a[b].s = elmk_fp16_to_fp32(blk.s);
        }
        break;
    }
    case ELM_TYPE_Q2_K: case ELM_TYPE_Q3_K: case ELM_TYPE_Q4_K: case ELM_TYPE_Q5_K: case ELM_TYPE_Q6_K: {
        const elmk_from_float_fn quant = elmk_get_ops(ELM_TYPE_Q8_K)->quantize;
        elmk_pact_q8_K *a = dst;
        for (int64_t b = b0; b < b1; b++) {
            block_q8_K blk;
            quant(x + b * QK_K, &blk, QK_K);
            memcpy(a[b].qs, blk.qs, QK_K);
            a[b].d = blk.d;
            for (int g = 0; g < 16; g++) {
                a[b].bsums[g] = blk.bsums[g];
                a[b].corr[g] = -off * blk.bsums[g];
            }
            for (int j = 0; j < 8; j++) a[b].bs32[j] = (int16_t)(blk.bsums[2 * j] + blk.bsums[2 * j + 1]);
            for (int g = 0; g < 64; g++)
                a[b].c4[g] = -off * (blk.qs[4 * g] + blk.qs[4 * g + 1] + blk.qs[4 * g + 2] + blk.qs[4 * g + 3]);
        }
        break;
    }
    default: break;
    }
}
