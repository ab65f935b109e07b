/* gemm_avx2.c: AVX2 kernels over the packed layout (packed.h), for CPUs without AVX-512.
 *
 * A group of 16 rows is read as two halves of 8 rows (one ymm lane per row). Without
 * VNNI, the 4-code step products go through maddubs (u8 x s8 -> pairs of int16) and
 * madd (-> int32); the int16 results of several steps are added first whenever the codes
 * are small enough that no int16 sum can overflow (4-bit codes: 8 steps, 5-bit: 4,
 * 6-bit: 2), which saves most of the madds. Q8_0 codes use the sign trick instead of the
 * +128 offset (maddubs would saturate). Up to 4 tokens per tile (16 ymm registers).
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

static X86_INLINE void add_bit4(const uint8_t *h, __m256i w[8]) {
    const __m256i hb = _mm256_load_si256((const __m256i *)h), b4 = _mm256_set1_epi8(0x10);
    X86_UNROLL for (int k = 0; k < 8; k++) {
        const __m256i bit = _mm256_set1_epi8((char)(1 << k));
        w[k] = _mm256_or_si256(w[k], _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hb, bit), bit), b4));
    }
}

static X86_INLINE void unpack_crumb16(const uint8_t *q, __m256i w[4]) {
    const __m256i v = _mm256_load_si256((const __m256i *)q), m3 = _mm256_set1_epi8(3);
    w[0] = _mm256_and_si256(v, m3);
    w[1] = _mm256_and_si256(_mm256_srli_epi16(v, 2), m3);
    w[2] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m3);
    w[3] = _mm256_and_si256(_mm256_srli_epi16(v, 6), m3);
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
#define PACKED_DRIVER(name, TILE, ...)                                                       \
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
                    TILE_SWITCH(TILE, nt, h, G, half, a, act_row, __VA_ARGS__)               \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
    }

/* ---- blocks of 32 codes ---- */

static X86_INLINE void legacy_tile(const elmk_packed_header *h, const uint8_t *G, int half, const uint8_t *act,
                                      size_t act_row, const uint32_t T, const int nt, float *y, size_t ys, int nrows) {
    const int64_t nb = h->n_in / 32;
    const bool has_min = T == ELM_TYPE_Q4_1 || T == ELM_TYPE_Q5_1;
    const bool has_bit = T == ELM_TYPE_Q5_0 || T == ELM_TYPE_Q5_1;
    const int per = has_bit ? 4 : 8;
    const size_t cb = T == ELM_TYPE_Q8_0 ? 512 : has_bit ? 320 : 256;
    const uint16_t *D = (const uint16_t *)G + 8 * half, *M = D + nb * 16;
    const uint8_t *Q = G + elmk_packed_scale_area(T, nb) + 32 * half;
    __m256 acc[TILE_TOK];
    X86_UNROLL for (int t = 0; t < TILE_TOK; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const __m256 dx = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(D + 16 * b)));
        const uint8_t *q = Q + cb * (size_t)b;
        if (T == ELM_TYPE_Q8_0) {
            /* signed codes: |q| against y with q's sign; the pact's +128 correction is not used */
            __m256i ws[8], wa[8];
            X86_UNROLL for (int k = 0; k < 8; k++) {
                ws[k] = _mm256_xor_si256(_mm256_load_si256((const __m256i *)(q + 64 * k)), _mm256_set1_epi8((char)0x80));
                wa[k] = _mm256_sign_epi8(ws[k], ws[k]);
            }
            X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_0 *a = (const elmk_pact_q8_0 *)(act + (size_t)t * act_row) + b;
                __m256i s = _mm256_setzero_si256();
                X86_UNROLL for (int k = 0; k < 8; k++) {
                    __m256i p = _mm256_maddubs_epi16(wa[k], _mm256_sign_epi8(bcast32(a->qs + 4 * k), ws[k]));
                    s = _mm256_add_epi32(s, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
                }
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dx, _mm256_set1_ps(a->d)), acc[t]);
            }
            continue;
        }
        __m256i w[8];
        unpack_nib32(q, w);
        if (has_bit) add_bit4(q + 256, w);
        if (has_min) {
            const __m256 mx = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(M + 16 * b)));
            X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_1 *a = (const elmk_pact_q8_1 *)(act + (size_t)t * act_row) + b;
                __m256i s = dot_steps(_mm256_setzero_si256(), w, a->qs, 8, per);
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dx, _mm256_set1_ps(a->d)), acc[t]);
                acc[t] = _mm256_fmadd_ps(mx, _mm256_set1_ps(a->s), acc[t]);
            }
        } else {
            X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_0 *a = (const elmk_pact_q8_0 *)(act + (size_t)t * act_row) + b;
                __m256i s = dot_steps(_mm256_set1_epi32(a->corr), w, a->qs, 8, per);
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dx, _mm256_set1_ps(a->d)), acc[t]);
            }
        }
    }
    store_tile(acc, nt, y, ys, nrows);
}

PACKED_DRIVER(packed_q4_0, legacy_tile, ELM_TYPE_Q4_0)
PACKED_DRIVER(packed_q4_1, legacy_tile, ELM_TYPE_Q4_1)
PACKED_DRIVER(packed_q5_0, legacy_tile, ELM_TYPE_Q5_0)
PACKED_DRIVER(packed_q5_1, legacy_tile, ELM_TYPE_Q5_1)
PACKED_DRIVER(packed_q8_0, legacy_tile, ELM_TYPE_Q8_0)

/* ---- Q4_K and Q5_K ---- */

static X86_INLINE void k4_tile(const elmk_packed_header *h, const uint8_t *G, int half, const uint8_t *act,
                                  size_t act_row, const bool five, const int nt, float *y, size_t ys, int nrows) {
    const int64_t nsb = h->n_in / QK_K;
    const size_t unit = five ? ELMK_PK_Q5_K_UNIT : ELMK_PK_Q4_K_UNIT, sub = five ? 320 : 256;
    __m256 acc[TILE_TOK];
    X86_UNROLL for (int t = 0; t < TILE_TOK; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < nsb; sb++) {
        const uint8_t *u = G + unit * (size_t)sb;
        __m256i isum[TILE_TOK];
        X86_UNROLL for (int t = 0; t < TILE_TOK; t++) isum[t] = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
            __m256i w[8];
            unpack_nib32(u + 320 + sub * (size_t)j + 32 * half, w);
            if (five) add_bit4(u + 320 + sub * (size_t)j + 256 + 32 * half, w);
            const __m256i sc = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(u + 64 + 16 * j + 8 * half)));
            X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
                __m256i s = dot_steps(_mm256_setzero_si256(), w, a->qs + 32 * j, 8, five ? 4 : 8);
                isum[t] = _mm256_add_epi32(isum[t], _mm256_mullo_epi32(s, sc));
            }
        }
        const __m256 dv = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(u + 16 * half)));
        const __m256 dmv = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(u + 32 + 16 * half)));
        X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
            if (t >= nt) break;
            const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
            __m256i m = _mm256_setzero_si256();
            X86_UNROLL for (int p = 0; p < 4; p++) {
                const __m256i mn = _mm256_cvtepu8_epi16(_mm_load_si128((const __m128i *)(u + 192 + 32 * p + 16 * half)));
                m = _mm256_add_epi32(m, _mm256_madd_epi16(mn, bcast32((const int8_t *)(a->bs32 + 2 * p))));
            }
            const __m256 yd = _mm256_set1_ps(a->d);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(dv, yd), acc[t]);
            acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(m), _mm256_mul_ps(dmv, yd), acc[t]);
        }
    }
    store_tile(acc, nt, y, ys, nrows);
}

PACKED_DRIVER(packed_q4_K, k4_tile, false)
PACKED_DRIVER(packed_q5_K, k4_tile, true)

/* ---- Q6_K, Q3_K, Q2_K: 16 groups of 16 codes ---- */

enum { K16_Q6, K16_Q3, K16_Q2 };

static X86_INLINE void k16_tile(const elmk_packed_header *h, const uint8_t *G, int half, const uint8_t *act,
                                   size_t act_row, const int kind, const int nt, float *y, size_t ys, int nrows) {
    const int64_t nsb = h->n_in / QK_K;
    const size_t unit = kind == K16_Q6 ? ELMK_PK_Q6_K_UNIT : kind == K16_Q3 ? ELMK_PK_Q3_K_UNIT : ELMK_PK_Q2_K_UNIT;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    const int hb32 = 32 * half;
    __m256 acc[TILE_TOK];
    X86_UNROLL for (int t = 0; t < TILE_TOK; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t sb = 0; sb < nsb; sb++) {
        const uint8_t *u = G + unit * (size_t)sb;
        __m256i isum[TILE_TOK];
        X86_UNROLL for (int t = 0; t < TILE_TOK; t++) isum[t] = _mm256_setzero_si256();
        for (int j = 0; j < 16; j++) {
            __m256i w[4], sc;
            if (kind == K16_Q6) {
                const uint8_t *c = u + 320 + 192 * (size_t)j + hb32;
                const __m256i n0 = _mm256_load_si256((const __m256i *)c), n1 = _mm256_load_si256((const __m256i *)(c + 64));
                const __m256i hb = _mm256_load_si256((const __m256i *)(c + 128));
                w[0] = _mm256_or_si256(_mm256_and_si256(n0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30));
                w[1] = _mm256_or_si256(_mm256_and_si256(n1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30));
                w[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(n0, 4), m4), _mm256_and_si256(hb, m30));
                w[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(n1, 4), m4),
                                       _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30));
                sc = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(u + 64 + 16 * j + 8 * half)));
            } else if (kind == K16_Q3) {
                unpack_crumb16(u + 320 + 64 * (size_t)j + hb32, w);
                const __m256i hb = _mm256_load_si256((const __m256i *)(u + 1344 + 64 * (size_t)(j / 2) + hb32));
                const int sh = 4 * (j & 1);
                X86_UNROLL for (int k = 0; k < 4; k++) {
                    const __m256i bit = _mm256_set1_epi8((char)(1 << (sh + k)));
                    w[k] = _mm256_or_si256(w[k], _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hb, bit), bit),
                                                                  _mm256_set1_epi8(4)));
                }
                sc = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(u + 64 + 16 * j + 8 * half)));
            } else {
                unpack_crumb16(u + 320 + 64 * (size_t)j + hb32, w);
                const __m256i pr = _mm256_cvtepu8_epi16(_mm_load_si128((const __m128i *)(u + 64 + 32 * (j / 2) + 16 * half)));
                sc = (j & 1) ? _mm256_srli_epi32(pr, 16) : _mm256_and_si256(pr, _mm256_set1_epi32(0xFFFF));
                sc = _mm256_and_si256(sc, _mm256_set1_epi32(0x0F));
            }
            X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
                __m256i s = kind == K16_Q2 ? _mm256_setzero_si256() : _mm256_set1_epi32(a->corr[j]);
                s = dot_steps(s, w, a->qs + 16 * j, 4, kind == K16_Q6 ? 2 : 4);
                isum[t] = _mm256_add_epi32(isum[t], _mm256_mullo_epi32(s, sc));
            }
        }
        const __m256 dv = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(u + 16 * half)));
        if (kind == K16_Q2) {
            const __m256 dmv = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(u + 32 + 16 * half)));
            X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
                __m256i m = _mm256_setzero_si256();
                X86_UNROLL for (int p = 0; p < 8; p++) {
                    const __m256i mn = _mm256_srli_epi16(
                        _mm256_cvtepu8_epi16(_mm_load_si128((const __m128i *)(u + 64 + 32 * p + 16 * half))), 4);
                    m = _mm256_add_epi32(m, _mm256_madd_epi16(mn, bcast32((const int8_t *)(a->bsums + 2 * p))));
                }
                const __m256 yd = _mm256_set1_ps(a->d);
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(dv, yd), acc[t]);
                acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(m), _mm256_mul_ps(dmv, yd), acc[t]);
            }
        } else {
            X86_UNROLL for (int t = 0; t < TILE_TOK; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(dv, _mm256_set1_ps(a->d)), acc[t]);
            }
        }
    }
    store_tile(acc, nt, y, ys, nrows);
}

PACKED_DRIVER(packed_q6_K, k16_tile, K16_Q6)
PACKED_DRIVER(packed_q3_K, k16_tile, K16_Q3)
PACKED_DRIVER(packed_q2_K, k16_tile, K16_Q2)

void elmk_fill_packed_avx2(void) {
    elmk_packed_register(ELMK_ISA_AVX2, ELM_TYPE_Q4_0, packed_q4_0);
    elmk_packed_register(ELMK_ISA_AVX2, ELM_TYPE_Q4_1, packed_q4_1);
    elmk_packed_register(ELMK_ISA_AVX2, ELM_TYPE_Q5_0, packed_q5_0);
    elmk_packed_register(ELMK_ISA_AVX2, ELM_TYPE_Q5_1, packed_q5_1);
    elmk_packed_register(ELMK_ISA_AVX2, ELM_TYPE_Q8_0, packed_q8_0);
    elmk_packed_register(ELMK_ISA_AVX2, ELM_TYPE_Q4_K, packed_q4_K);
    elmk_packed_register(ELMK_ISA_AVX2, ELM_TYPE_Q5_K, packed_q5_K);
    elmk_packed_register(ELMK_ISA_AVX2, ELM_TYPE_Q6_K, packed_q6_K);
    elmk_packed_register(ELMK_ISA_AVX2, ELM_TYPE_Q3_K, packed_q3_K);
    elmk_packed_register(ELMK_ISA_AVX2, ELM_TYPE_Q2_K, packed_q2_K);
}
