/* gemm_avx2.c: the AVX2 kernel for packed Q4_0 (packed.h), for CPUs without AVX-512. (The
 * other types keep llama.cpp's 8 float lanes per row, which the AVX2 dot products do; a
 * packed AVX2 version of those is not written yet.)
 *
 * A group of 16 rows is read as two halves of 8 rows (one ymm lane per row). Without
 * VNNI, the 4-code step products go through maddubs (u8 x s8 -> pairs of int16) and
 * madd (-> int32); the int16 results of the 8 steps of a block are added first (4-bit
 * codes cannot overflow int16 there), which saves most of the madds. Up to 4 tokens per
 * tile (16 ymm registers).
 * Each lane's arithmetic does not depend on the tile or the thread split.
 * Must not: read past the packed buffer or the n_tok activation rows; write rows of y
 * past n_out.
 */
#include "kernels.h"
#include "fill_x86.h"
#include "packed.h"
#include "simd_x86.h"

#define TILE_TOK 4

static inline __m256i bcast32(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* How many rows of this half-group (8 rows) are real. */
static inline int half_rows(const elmk_packed_header *h, int64_t g, int half) {
    int64_t left = h->n_out - g * ELMK_PACK_ROWS - 8 * half;
    return left >= 8 ? 8 : left > 0 ? (int)left : 0;
}

/* Software prefetch for small tiles (token generation), as in gemm_avx512.c. Each half
 * group reads only half of every chunk, so both halves prefetch the whole of it. */
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

/* acc + sum over k-steps [0, nk) of w[k] . y[4k..4k+3], adding `per` steps in int16 first. */
static X86_INLINE __m256i dot_steps(__m256i acc, const __m256i *w, const int8_t *y, const int nk, const int per) {
    const __m256i ones = _mm256_set1_epi16(1);
    X86_UNROLL for (int k0 = 0; k0 < nk; k0 += per) {
        __m256i p = _mm256_maddubs_epi16(w[k0], bcast32(y + 4 * k0));
        X86_UNROLL for (int k = k0 + 1; k < k0 + per; k++) p = _mm256_add_epi16(p, _mm256_maddubs_epi16(w[k], bcast32(y + 4 * k)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
    }
    return acc;
}

/* ---- unpacking half chunks (32 bytes: rows 8h..8h+7) ---- */

static X86_INLINE void unpack_nib32(const uint8_t *q, __m256i w[8]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    X86_UNROLL for (int c = 0; c < 4; c++) {
        __m256i v = _mm256_load_si256((const __m256i *)(q + 64 * c));
        w[c] = _mm256_and_si256(v, m4);
        w[c + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    }
}

static X86_INLINE void store_tile(const __m256 *acc, const int nt, float *y, size_t ys, int nrows) {
    X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
        if (t >= nt) break;
        if (nrows == 8) {
            _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
        } else {
            float tmp[8];
            _mm256_storeu_ps(tmp, acc[t]);
            memcpy(y + (size_t)t * ys, tmp, (size_t)nrows * sizeof(float));
        }
    }
}

/* Tiles of 4, 2 or 1 tokens (a remainder of 3 is done as 2 + 1). */
#define TILE_SWITCH(FN, nt, ...)                                                            \
    switch (nt) {                                                                           \
    case 1: FN(__VA_ARGS__, 1, y_t, ys, nrows); break;                                      \
    case 2: FN(__VA_ARGS__, 2, y_t, ys, nrows); break;                                      \
    default: FN(__VA_ARGS__, 4, y_t, ys, nrows); break;                                     \
    }

/* Runs TILE over both halves of every group of [g0, g1) and every tile of tokens. */
#define PACKED_DRIVER(name, TILE)                                                       \
    static void name(const elmk_packed_header *h, const void *act, size_t act_row, int64_t n_tok, float *y, \
                     size_t ys, int64_t g0, int64_t g1) {                                    \
        for (int64_t g = g0; g < g1; g++) {                                                  \
            const uint8_t *G = elmk_packed_group(h, g);                                      \
            for (int half = 0; half < 2; half++) {                                           \
                const int nrows = half_rows(h, g, half);                                     \
                if (!nrows) break;                                                           \
                for (int64_t t0 = 0, nt; t0 < n_tok; t0 += nt) {                             \
                    const int64_t left = n_tok - t0;                                         \
                    nt = left >= 4 ? 4 : left >= 2 ? 2 : 1;                                  \
                    const uint8_t *a = (const uint8_t *)act + (size_t)t0 * act_row;          \
                    float *y_t = y + (size_t)t0 * ys + g * ELMK_PACK_ROWS + 8 * half;        \
                    TILE_SWITCH(TILE, nt, h, G, half, a, act_row)                            \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
    }

/* ---- Q4_0: one float per row and token (llama.cpp's repacked GEMM, the reference) ---- */

static X86_INLINE void q4_0_tile(const elmk_packed_header *h, const uint8_t *G, int half, const uint8_t *act,
                                 size_t act_row, const int nt, float *y, size_t ys, int nrows) {
    const int64_t nb = h->n_in / 32;
    const uint16_t *D = (const uint16_t *)G + 8 * half;
    const uint8_t *Q = G + elmk_packed_scale_area(ELM_TYPE_Q4_0, nb) + 32 * half;
    /* the next group's scale area is a separate stream: fetch it while this group runs */
    if (nt <= PF_MAX_TOK && half == 0) prefetch_range(G + h->group_bytes, elmk_packed_scale_area(ELM_TYPE_Q4_0, nb));
    __m256 acc[TILE_TOK];
    X86_UNROLL for (int t = 0; t < TILE_TOK; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const __m256 dx = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(D + 16 * b)));
        const uint8_t *q = Q + 256 * (size_t)b;
        if (nt <= PF_MAX_TOK) prefetch_ahead(q - 32 * half, 256);
        __m256i w[8];
        unpack_nib32(q, w);
        X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
            if (t >= nt) break;
            const elmk_pact_q8_0 *a = (const elmk_pact_q8_0 *)(act + (size_t)t * act_row) + b;
            /* 4-bit codes: all 8 steps add up in int16 without overflow */
            const __m256i s = dot_steps(_mm256_set1_epi32(a->corr), w, a->qs, 8, 8);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dx, _mm256_set1_ps(a->d)), acc[t]);
        }
    }
    store_tile(acc, nt, y, ys, nrows);
}

PACKED_DRIVER(packed_q4_0, q4_0_tile)

void elmk_fill_packed_avx2(void) {
    elmk_packed_register(ELMK_ISA_AVX2, ELM_TYPE_Q4_0, packed_q4_0);
}
