/* gemm_avx512.c: AVX-512 VNNI kernels over the packed layout (packed.h), used for every
 * product (one token or many) of a weight that was repacked at load.
 *
 * One zmm lane per weight row: for each 4-code step, vpdpbusd multiplies the 16 rows'
 * codes by the same 4 activation bytes (a broadcast load) and accumulates 16 rows' sums
 * at once. Weights are unpacked into registers once per block and reused for a tile of
 * up to 8 tokens, each token with its own int32 and float accumulators. Each lane's
 * arithmetic does not depend on the tile or the thread split, so results are the same
 * for any n_tok and thread count.
 * Must not: read past the packed buffer or the n_tok activation rows; write rows of y
 * past n_out.
 */
#include "kernels.h"
#include "fill_x86.h"
#include "packed.h"
#include "simd_x86.h"

#define TILE_TOK 8

static inline __m512i bcast32(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

static inline __mmask16 row_mask(const elmk_packed_header *h, int64_t g) {
    int64_t left = h->n_out - g * ELMK_PACK_ROWS;
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

/* ---- unpacking chunks into 8-bit codes (see packed.h) ---- */

/* 4 nibble chunks -> the 8 k-steps of 32 codes */
static X86_INLINE void unpack_nib32(const uint8_t *q, __m512i w[8]) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    X86_UNROLL for (int c = 0; c < 4; c++) {
        __m512i v = _mm512_load_si512((const void *)(q + 64 * c));
        w[c] = _mm512_and_si512(v, m4);
        w[c + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    }
}

/* a bit chunk: add 16 where code 4k+e has its 5th bit */
static X86_INLINE void add_bit4(const uint8_t *h, __m512i w[8]) {
    const __m512i hb = _mm512_load_si512((const void *)h), b4 = _mm512_set1_epi8(0x10);
    X86_UNROLL for (int k = 0; k < 8; k++)
        w[k] = _mm512_mask_add_epi8(w[k], _mm512_test_epi8_mask(hb, _mm512_set1_epi8((char)(1 << k))), w[k], b4);
}

/* the 4 k-steps of 16 codes from a crumb chunk */
static X86_INLINE void unpack_crumb16(const uint8_t *q, __m512i w[4]) {
    const __m512i v = _mm512_load_si512((const void *)q), m3 = _mm512_set1_epi8(3);
    w[0] = _mm512_and_si512(v, m3);
    w[1] = _mm512_and_si512(_mm512_srli_epi16(v, 2), m3);
    w[2] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m3);
    w[3] = _mm512_and_si512(_mm512_srli_epi16(v, 6), m3);
}

/* Tiles of 8, 4, 2 or 1 tokens (a remainder of 7 is done as 4 + 2 + 1): four copies of
 * each kernel instead of eight, at the cost of unpacking a group's weights a few more
 * times at the end of a batch. */
#define TILE_SWITCH(FN, nt, ...)                                                            \
    switch (nt) {                                                                           \
    case 1: FN(__VA_ARGS__, 1, y_t, ys, rows); break;                                       \
    case 2: FN(__VA_ARGS__, 2, y_t, ys, rows); break;                                       \
    case 4: FN(__VA_ARGS__, 4, y_t, ys, rows); break;                                       \
    default: FN(__VA_ARGS__, 8, y_t, ys, rows); break;                                      \
    }

/* Runs TILE over every group of [g0, g1) and every tile of up to 8 tokens. */
#define PACKED_DRIVER(name, TILE, ...)                                                       \
    static void name(const elmk_packed_header *h, const void *act, size_t act_row, int64_t n_tok, float *y, \
                     size_t ys, int64_t g0, int64_t g1) {                                    \
        for (int64_t g = g0; g < g1; g++) {                                                  \
            const uint8_t *G = elmk_packed_group(h, g);                                      \
            const __mmask16 rows = row_mask(h, g);                                           \
            for (int64_t t0 = 0, nt; t0 < n_tok; t0 += nt) {                                 \
                const int64_t left = n_tok - t0;                                             \
                nt = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;                      \
                const uint8_t *a = (const uint8_t *)act + (size_t)t0 * act_row;              \
                float *y_t = y + (size_t)t0 * ys + g * ELMK_PACK_ROWS;                       \
                TILE_SWITCH(TILE, nt, h, G, a, act_row, __VA_ARGS__)                         \
            }                                                                                \
        }                                                                                    \
    }

static X86_INLINE void store_tile(const __m512 *acc, const int nt, float *y, size_t ys, __mmask16 rows) {
    X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
        if (t >= nt) break;
        _mm512_mask_storeu_ps(y + (size_t)t * ys, rows, acc[t]);
    }
}

/* ---- blocks of 32 codes: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 ---- */

static X86_INLINE void legacy_tile(const elmk_packed_header *h, const uint8_t *G, const uint8_t *act,
                                      size_t act_row, const uint32_t T, const int nt, float *y, size_t ys,
                                      __mmask16 rows) {
    const int64_t nb = h->n_in / 32;
    const bool has_min = T == ELM_TYPE_Q4_1 || T == ELM_TYPE_Q5_1;
    const bool has_bit = T == ELM_TYPE_Q5_0 || T == ELM_TYPE_Q5_1;
    const size_t cb = T == ELM_TYPE_Q8_0 ? 512 : has_bit ? 320 : 256;
    const uint16_t *D = (const uint16_t *)G, *M = D + nb * 16;
    const uint8_t *Q = G + elmk_packed_scale_area(T, nb);
    __m512 acc[TILE_TOK];
    X86_UNROLL for (int t = 0; t < TILE_TOK; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const __m512 dx = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(D + 16 * b)));
        const uint8_t *q = Q + cb * (size_t)b;
        __m512i w[8];
        if (T == ELM_TYPE_Q8_0) {
            X86_UNROLL for (int k = 0; k < 8; k++) w[k] = _mm512_load_si512((const void *)(q + 64 * k));
        } else {
            unpack_nib32(q, w);
            if (has_bit) add_bit4(q + 256, w);
        }
        if (has_min) {
            const __m512 mx = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(M + 16 * b)));
            X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_1 *a = (const elmk_pact_q8_1 *)(act + (size_t)t * act_row) + b;
                __m512i s = _mm512_setzero_si512();
                X86_UNROLL for (int k = 0; k < 8; k++) s = _mm512_dpbusd_epi32(s, w[k], bcast32(a->qs + 4 * k));
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dx, _mm512_set1_ps(a->d)), acc[t]);
                acc[t] = _mm512_fmadd_ps(mx, _mm512_set1_ps(a->s), acc[t]);
            }
        } else {
            X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_0 *a = (const elmk_pact_q8_0 *)(act + (size_t)t * act_row) + b;
                __m512i s = _mm512_set1_epi32(a->corr);
                X86_UNROLL for (int k = 0; k < 8; k++) s = _mm512_dpbusd_epi32(s, w[k], bcast32(a->qs + 4 * k));
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dx, _mm512_set1_ps(a->d)), acc[t]);
            }
        }
    }
    store_tile(acc, nt, y, ys, rows);
}

PACKED_DRIVER(packed_q4_0, legacy_tile, ELM_TYPE_Q4_0)
PACKED_DRIVER(packed_q4_1, legacy_tile, ELM_TYPE_Q4_1)
PACKED_DRIVER(packed_q5_0, legacy_tile, ELM_TYPE_Q5_0)
PACKED_DRIVER(packed_q5_1, legacy_tile, ELM_TYPE_Q5_1)
PACKED_DRIVER(packed_q8_0, legacy_tile, ELM_TYPE_Q8_0)

/* ---- Q4_K and Q5_K: 8 sub-blocks of 32 codes, 6-bit scales and mins ---- */

static X86_INLINE void k4_tile(const elmk_packed_header *h, const uint8_t *G, const uint8_t *act, size_t act_row,
                                  const bool five, const int nt, float *y, size_t ys, __mmask16 rows) {
    const int64_t nsb = h->n_in / QK_K;
    const size_t unit = five ? ELMK_PK_Q5_K_UNIT : ELMK_PK_Q4_K_UNIT, sub = five ? 320 : 256;
    __m512 acc[TILE_TOK];
    X86_UNROLL for (int t = 0; t < TILE_TOK; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < nsb; sb++) {
        const uint8_t *u = G + unit * (size_t)sb;
        __m512i isum[TILE_TOK];
        X86_UNROLL for (int t = 0; t < TILE_TOK; t++) isum[t] = _mm512_setzero_si512();
        for (int j = 0; j < 8; j++) {
            __m512i w[8];
            unpack_nib32(u + 320 + sub * (size_t)j, w);
            if (five) add_bit4(u + 320 + sub * (size_t)j + 256, w);
            const __m512i sc = _mm512_cvtepu8_epi32(_mm_load_si128((const __m128i *)(u + 64 + 16 * j)));
            X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
                __m512i s = _mm512_setzero_si512();
                X86_UNROLL for (int k = 0; k < 8; k++) s = _mm512_dpbusd_epi32(s, w[k], bcast32(a->qs + 32 * j + 4 * k));
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s, sc));
            }
        }
        const __m512 dv = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)u));
        const __m512 dmv = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(u + 32)));
        __m512i mn[4];
        X86_UNROLL for (int p = 0; p < 4; p++) mn[p] = _mm512_cvtepu8_epi16(_mm256_load_si256((const __m256i *)(u + 192 + 32 * p)));
        X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
            if (t >= nt) break;
            const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
            __m512i m = _mm512_setzero_si512();
            X86_UNROLL for (int p = 0; p < 4; p++) m = _mm512_dpwssd_epi32(m, mn[p], bcast32((const int8_t *)(a->bs32 + 2 * p)));
            const __m512 yd = _mm512_set1_ps(a->d);
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dv, yd), acc[t]);
            acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(m), _mm512_mul_ps(dmv, yd), acc[t]);
        }
    }
    store_tile(acc, nt, y, ys, rows);
}

PACKED_DRIVER(packed_q4_K, k4_tile, false)
PACKED_DRIVER(packed_q5_K, k4_tile, true)

/* ---- Q6_K, Q3_K (16 groups of 16 codes, signed scales, offset taken out by corr) and
 *      Q2_K (unsigned 4-bit scales and mins) ---- */

enum { K16_Q6, K16_Q3, K16_Q2 };

static X86_INLINE void k16_tile(const elmk_packed_header *h, const uint8_t *G, const uint8_t *act, size_t act_row,
                                   const int kind, const int nt, float *y, size_t ys, __mmask16 rows) {
    const int64_t nsb = h->n_in / QK_K;
    const size_t unit = kind == K16_Q6 ? ELMK_PK_Q6_K_UNIT : kind == K16_Q3 ? ELMK_PK_Q3_K_UNIT : ELMK_PK_Q2_K_UNIT;
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    __m512 acc[TILE_TOK];
    X86_UNROLL for (int t = 0; t < TILE_TOK; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < nsb; sb++) {
        const uint8_t *u = G + unit * (size_t)sb;
        __m512i isum[TILE_TOK];
        X86_UNROLL for (int t = 0; t < TILE_TOK; t++) isum[t] = _mm512_setzero_si512();
        for (int j = 0; j < 16; j++) {
            __m512i w[4], sc;
            if (kind == K16_Q6) {
                const uint8_t *c = u + 320 + 192 * (size_t)j;
                const __m512i n0 = _mm512_load_si512((const void *)c), n1 = _mm512_load_si512((const void *)(c + 64));
                const __m512i hb = _mm512_load_si512((const void *)(c + 128));
                w[0] = _mm512_or_si512(_mm512_and_si512(n0, m4), _mm512_and_si512(_mm512_slli_epi16(hb, 4), m30));
                w[1] = _mm512_or_si512(_mm512_and_si512(n1, m4), _mm512_and_si512(_mm512_slli_epi16(hb, 2), m30));
                w[2] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(n0, 4), m4), _mm512_and_si512(hb, m30));
                w[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(n1, 4), m4),
                                       _mm512_and_si512(_mm512_srli_epi16(hb, 2), m30));
                sc = _mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(u + 64 + 16 * j)));
            } else if (kind == K16_Q3) {
                unpack_crumb16(u + 320 + 64 * (size_t)j, w);
                const __m512i hb = _mm512_load_si512((const void *)(u + 1344 + 64 * (size_t)(j / 2)));
                const int sh = 4 * (j & 1);
                X86_UNROLL for (int k = 0; k < 4; k++)
                    w[k] = _mm512_mask_add_epi8(w[k], _mm512_test_epi8_mask(hb, _mm512_set1_epi8((char)(1 << (sh + k)))),
                                                w[k], _mm512_set1_epi8(4));
                sc = _mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(u + 64 + 16 * j)));
            } else {
                unpack_crumb16(u + 320 + 64 * (size_t)j, w);
                /* scm pair bytes (group 2p, 2p+1) per row as int16 pairs; pick ours, low nibble */
                const __m512i pr = _mm512_cvtepu8_epi16(_mm256_load_si256((const __m256i *)(u + 64 + 32 * (j / 2))));
                sc = (j & 1) ? _mm512_srli_epi32(pr, 16) : _mm512_and_si512(pr, _mm512_set1_epi32(0xFFFF));
                sc = _mm512_and_si512(sc, _mm512_set1_epi32(0x0F));
            }
            X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
                __m512i s = kind == K16_Q2 ? _mm512_setzero_si512() : _mm512_set1_epi32(a->corr[j]);
                X86_UNROLL for (int k = 0; k < 4; k++) s = _mm512_dpbusd_epi32(s, w[k], bcast32(a->qs + 16 * j + 4 * k));
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s, sc));
            }
        }
        const __m512 dv = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)u));
        if (kind == K16_Q2) {
            const __m512 dmv = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(u + 32)));
            __m512i mn[8];
            X86_UNROLL for (int p = 0; p < 8; p++)
                mn[p] = _mm512_srli_epi16(_mm512_cvtepu8_epi16(_mm256_load_si256((const __m256i *)(u + 64 + 32 * p))), 4);
            X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
                __m512i m = _mm512_setzero_si512();
                X86_UNROLL for (int p = 0; p < 8; p++) m = _mm512_dpwssd_epi32(m, mn[p], bcast32((const int8_t *)(a->bsums + 2 * p)));
                const __m512 yd = _mm512_set1_ps(a->d);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dv, yd), acc[t]);
                acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(m), _mm512_mul_ps(dmv, yd), acc[t]);
            }
        } else {
            X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dv, _mm512_set1_ps(a->d)), acc[t]);
            }
        }
    }
    store_tile(acc, nt, y, ys, rows);
}

PACKED_DRIVER(packed_q6_K, k16_tile, K16_Q6)
PACKED_DRIVER(packed_q3_K, k16_tile, K16_Q3)
PACKED_DRIVER(packed_q2_K, k16_tile, K16_Q2)

/* Called from elmk_fill_ops_avx512 when the CPU has VNNI. */
void elmk_fill_packed_avx512(void) {
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q4_0, packed_q4_0);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q4_1, packed_q4_1);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q5_0, packed_q5_0);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q5_1, packed_q5_1);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q8_0, packed_q8_0);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q4_K, packed_q4_K);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q5_K, packed_q5_K);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q6_K, packed_q6_K);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q3_K, packed_q3_K);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q2_K, packed_q2_K);
}
