/* gemm_avx512.c: the AVX-512 VNNI kernel for packed Q4_0 (packed.h), used for every
 * product (one token or many) of a Q4_0 weight that was repacked at load. (The other
 * types keep llama.cpp's 8 float lanes per row: packed_exact_avx512.c.)
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

/* Software prefetch for small tiles (token generation): the weights stream from memory
 * once, with little arithmetic per byte, and the hardware prefetchers alone leave one
 * core short of the bandwidth. PF_AHEAD bytes ahead of the block being read. */
#ifndef PF_AHEAD
#define PF_AHEAD 4096
#endif
#define PF_MAX_TOK 2
static X86_INLINE void prefetch_ahead(const uint8_t *p, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch((const char *)(p + PF_AHEAD + o), _MM_HINT_T0);
}

static inline void prefetch_range(const uint8_t *p, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch((const char *)(p + o), _MM_HINT_T0);
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
#define PACKED_DRIVER(name, TILE)                                                       \
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
                TILE_SWITCH(TILE, nt, h, G, a, act_row)                                      \
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

/* Q4_0: one float per row and token, acc = fma(isum, d_w * d_a, acc) block after block,
 * which is llama.cpp's repacked Q4_0 GEMM (and the reference) exactly: the 8 steps of a
 * block go into one integer sum, starting from the activation's -8 * sum(codes). */
static X86_INLINE void q4_0_tile(const elmk_packed_header *h, const uint8_t *G, const uint8_t *act, size_t act_row,
                                 const int nt, float *y, size_t ys, __mmask16 rows) {
    const int64_t nb = h->n_in / 32;
    const uint16_t *D = (const uint16_t *)G;
    const uint8_t *Q = G + elmk_packed_scale_area(ELM_TYPE_Q4_0, nb);
    /* the next group's scale area is a separate stream: fetch it while this group runs */
    if (nt <= PF_MAX_TOK) prefetch_range(G + h->group_bytes, elmk_packed_scale_area(ELM_TYPE_Q4_0, nb));
    __m512 acc[TILE_TOK];
    X86_UNROLL for (int t = 0; t < TILE_TOK; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const __m512 dx = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(D + 16 * b)));
        const uint8_t *q = Q + 256 * (size_t)b;
        if (nt <= PF_MAX_TOK) prefetch_ahead(q, 256);
        __m512i w[8];
        unpack_nib32(q, w);
        X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
            if (t >= nt) break;
            const elmk_pact_q8_0 *a = (const elmk_pact_q8_0 *)(act + (size_t)t * act_row) + b;
            __m512i s;
            if (nt <= 2) {
                /* few tokens: two shorter dependency chains (integer sums: the same result) */
                __m512i s0 = _mm512_set1_epi32(a->corr), s1 = _mm512_setzero_si512();
                X86_UNROLL for (int k = 0; k < 8; k += 2) {
                    s0 = _mm512_dpbusd_epi32(s0, w[k], bcast32(a->qs + 4 * k));
                    s1 = _mm512_dpbusd_epi32(s1, w[k + 1], bcast32(a->qs + 4 * k + 4));
                }
                s = _mm512_add_epi32(s0, s1);
            } else {
                s = _mm512_set1_epi32(a->corr);
                X86_UNROLL for (int k = 0; k < 8; k++) s = _mm512_dpbusd_epi32(s, w[k], bcast32(a->qs + 4 * k));
            }
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dx, _mm512_set1_ps(a->d)), acc[t]);
        }
    }
    store_tile(acc, nt, y, ys, rows);
}

PACKED_DRIVER(packed_q4_0, q4_0_tile)

/* Called from elmk_fill_ops_avx512 when the CPU has VNNI. */
void elmk_fill_packed_avx512(void) {
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q4_0, packed_q4_0);
}
