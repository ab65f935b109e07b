/* packed_exact_avx512.c: AVX-512 VNNI kernels over the packed layout (packed.h) with
 * llama.cpp's exact float arithmetic, for every packed type whose arithmetic keeps 8
 * float lanes per row: Q8_0, Q5_0, Q4_1, Q5_1 and the K-quants (quants_legacy.c and
 * quants_k.c are the specification; Q4_0's one-float arithmetic is gemm_avx512.c's).
 *
 * One zmm lane per weight row, as in gemm_avx512.c; what changes is that each row keeps
 * llama.cpp's 8 lanes: lane k holds the 4-code step k of every 32-code piece, which is
 * exactly one vpdpbusd of the packed layout. So every row has 8 float accumulators (8
 * zmm per token), and the lanes are added at the end in hsum_float_8's tree, which is
 * 4 vertical adds. Offsets of unsigned codes are taken out per lane (lcorr, c4).
 *   Q8_0, Q5_0, Q4_1, Q5_1: per block, s_k = vpdpbusd(lcorr_k, w_k, a_k) and
 *     acc_k = fma(d_w*d_a, s_k, acc_k), tiles of 2 tokens (16 accumulators in registers).
 *   K-quants: per super-block and lane k, the integer lane sum over the sub-blocks is
 *     vpdpbusd per piece, then vpdpwssd by the sub-block scale (the piece's sum fits in
 *     16 bits, the scale's high half is zero), then one fma into acc_k; the lanes are
 *     the outer loop so that a tile of 8 tokens needs only 8 integer accumulators; the
 *     float accumulators live in an L1 array (one fma per lane per super-block).
 * Each lane's arithmetic does not depend on the tile or the thread split, so results are
 * the same for any n_tok and thread count.
 * Must not: read past the packed buffer or the n_tok activation rows; write rows of y
 * past n_out.
 */
#include "kernels.h"
#include "fill_x86.h"
#include "packed.h"
#include "simd_x86.h"

/* Loops over registers, unrolled by gcc; clang unrolls them on its own (its "full unroll"
 * pragma refuses these nested loops with early exits). */
#if defined(__GNUC__) && !defined(__clang__)
#define PX_UNROLL _Pragma("GCC unroll 16")
#else
#define PX_UNROLL
#endif

#define LTILE 2   /* tokens per legacy tile */
#define KTILE 3   /* tokens per K-quant tile: 24 integer lane accumulators in registers */

static inline __m512i bcast32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

static inline __mmask16 row_mask(const elmk_packed_header *h, int64_t g) {
    int64_t left = h->n_out - g * ELMK_PACK_ROWS;
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

/* hsum_float_8 of 8 lanes, for 16 rows at once */
static X86_INLINE __m512 lanes_sum(const __m512 a[8]) {
    const __m512 s0 = _mm512_add_ps(a[0], a[4]), s1 = _mm512_add_ps(a[1], a[5]);
    const __m512 s2 = _mm512_add_ps(a[2], a[6]), s3 = _mm512_add_ps(a[3], a[7]);
    return _mm512_add_ps(_mm512_add_ps(s0, s2), _mm512_add_ps(s1, s3));
}

/* Generation streams the weights once: fetch ahead of the block being read. */
#define PF_AHEAD 4096
static X86_INLINE void prefetch_ahead(const uint8_t *p, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch((const char *)(p + PF_AHEAD + o), _MM_HINT_T0);
}

/* ---- blocks of 32 codes: Q8_0, Q5_0, Q4_1, Q5_1 ---- */

static X86_INLINE void legacy_tile(const elmk_packed_header *h, const uint8_t *G, const uint8_t *act,
                                   size_t act_row, const uint32_t T, const int nt, float *y, size_t ys,
                                   __mmask16 rows) {
    const int64_t nb = h->n_in / 32;
    const bool has_min = T == ELM_TYPE_Q4_1 || T == ELM_TYPE_Q5_1;
    const bool has_bit = T == ELM_TYPE_Q5_0 || T == ELM_TYPE_Q5_1;
    const size_t cb = T == ELM_TYPE_Q8_0 ? 512 : has_bit ? 320 : 256;
    const uint16_t *D = (const uint16_t *)G, *M = D + nb * 16;
    const uint8_t *Q = G + elmk_packed_scale_area(T, nb);
    const __m512i m4 = _mm512_set1_epi8(0x0F), b4 = _mm512_set1_epi8(0x10);
    __m512 acc[LTILE][8], summs[LTILE];
    PX_UNROLL for (int t = 0; t < LTILE; t++) {
        summs[t] = _mm512_setzero_ps();
        PX_UNROLL for (int k = 0; k < 8; k++) acc[t][k] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const __m512 dx = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(D + 16 * b)));
        const uint8_t *q = Q + cb * (size_t)b;
        prefetch_ahead(q, cb);
        __m512i w[8];
        if (T == ELM_TYPE_Q8_0) {
            PX_UNROLL for (int k = 0; k < 8; k++) w[k] = _mm512_load_si512((const void *)(q + 64 * k));
        } else {
            PX_UNROLL for (int c = 0; c < 4; c++) {
                const __m512i v = _mm512_load_si512((const void *)(q + 64 * c));
                w[c] = _mm512_and_si512(v, m4);
                w[c + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            }
            if (has_bit) {
                const __m512i hb = _mm512_load_si512((const void *)(q + 256));
                PX_UNROLL for (int k = 0; k < 8; k++)
                    w[k] = _mm512_mask_add_epi8(w[k], _mm512_test_epi8_mask(hb, _mm512_set1_epi8((char)(1 << k))), w[k], b4);
            }
        }
        if (has_min) {
            const __m512 mx = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(M + 16 * b)));
            PX_UNROLL for (int t = 0; t < LTILE; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_1 *a = (const elmk_pact_q8_1 *)(act + (size_t)t * act_row) + b;
                summs[t] = _mm512_fmadd_ps(mx, _mm512_set1_ps(a->s), summs[t]);
                const __m512 d = _mm512_mul_ps(dx, _mm512_set1_ps(a->d));
                PX_UNROLL for (int k = 0; k < 8; k++) {
                    const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[k], bcast32(a->qs + 4 * k));
                    acc[t][k] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(s), acc[t][k]);
                }
            }
        } else {
            PX_UNROLL for (int t = 0; t < LTILE; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_0 *a = (const elmk_pact_q8_0 *)(act + (size_t)t * act_row) + b;
                const __m512 d = _mm512_mul_ps(dx, _mm512_set1_ps(a->d));
                PX_UNROLL for (int k = 0; k < 8; k++) {
                    const __m512i s = _mm512_dpbusd_epi32(_mm512_set1_epi32(a->lcorr[k]), w[k], bcast32(a->qs + 4 * k));
                    acc[t][k] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(s), acc[t][k]);
                }
            }
        }
    }
    PX_UNROLL for (int t = 0; t < LTILE; t++) {
        if (t >= nt) break;
        __m512 r = lanes_sum(acc[t]);
        if (has_min) r = _mm512_add_ps(r, summs[t]);
        _mm512_mask_storeu_ps(y + (size_t)t * ys, rows, r);
    }
}

#define LEGACY_DRIVER(name, T)                                                               \
    static void name(const elmk_packed_header *h, const void *act, size_t act_row, int64_t n_tok, float *y, \
                     size_t ys, int64_t g0, int64_t g1) {                                    \
        for (int64_t g = g0; g < g1; g++) {                                                  \
            const uint8_t *G = elmk_packed_group(h, g);                                      \
            const __mmask16 rows = row_mask(h, g);                                           \
            for (int64_t t0 = 0; t0 < n_tok; t0 += LTILE) {                                  \
                const uint8_t *a = (const uint8_t *)act + (size_t)t0 * act_row;              \
                float *y_t = y + (size_t)t0 * ys + g * ELMK_PACK_ROWS;                       \
                if (n_tok - t0 >= 2) legacy_tile(h, G, a, act_row, T, 2, y_t, ys, rows);     \
                else legacy_tile(h, G, a, act_row, T, 1, y_t, ys, rows);                     \
            }                                                                                \
        }                                                                                    \
    }

LEGACY_DRIVER(packed_q8_0, ELM_TYPE_Q8_0)
LEGACY_DRIVER(packed_q5_0, ELM_TYPE_Q5_0)
LEGACY_DRIVER(packed_q4_1, ELM_TYPE_Q4_1)
LEGACY_DRIVER(packed_q5_1, ELM_TYPE_Q5_1)

/* ---- K-quants ---- */

enum { K_Q4, K_Q5, K_Q6, K_Q3, K_Q2 };

/* The codes of lane k (4-code step k of a 32-code piece) of sub-block / piece j for 16
 * rows, as unsigned bytes; see packed.h for where each type keeps them. */
static X86_INLINE __m512i lane_codes(const uint8_t *u, const int kind, int j, int k) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3);
    if (kind == K_Q4 || kind == K_Q5) {
        const size_t sub = kind == K_Q4 ? 256 : 320;
        const uint8_t *c = u + 320 + sub * (size_t)j;
        __m512i w = _mm512_load_si512((const void *)(c + 64 * (k % 4)));
        w = _mm512_and_si512(k < 4 ? w : _mm512_srli_epi16(w, 4), m4);
        if (kind == K_Q5) {
            const __m512i hb = _mm512_load_si512((const void *)(c + 256));
            w = _mm512_mask_add_epi8(w, _mm512_test_epi8_mask(hb, _mm512_set1_epi8((char)(1 << k))), w,
                                     _mm512_set1_epi8(0x10));
        }
        return w;
    }
    /* 16-code groups: piece j's lane k is group 2j + k/4, step k % 4 */
    const int g = 2 * j + k / 4, kk = k % 4;
    if (kind == K_Q6) {
        const uint8_t *c = u + 320 + 192 * (size_t)g;
        const __m512i n = _mm512_load_si512((const void *)(c + 64 * (kk % 2)));
        const __m512i hb = _mm512_load_si512((const void *)(c + 128));
        const __m512i lo = _mm512_and_si512(kk < 2 ? n : _mm512_srli_epi16(n, 4), m4);
        const __m512i hi = _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 2 * kk), m3), 4);
        return _mm512_or_si512(lo, hi);
    }
    const __m512i v = _mm512_load_si512((const void *)(u + 320 + 64 * (size_t)g));
    __m512i w = _mm512_and_si512(_mm512_srli_epi16(v, 2 * kk), m3);
    if (kind == K_Q3) {
        const __m512i hb = _mm512_load_si512((const void *)(u + 1344 + 64 * (size_t)(g / 2)));
        const int bit = 4 * (g & 1) + kk;
        w = _mm512_mask_add_epi8(w, _mm512_test_epi8_mask(hb, _mm512_set1_epi8((char)(1 << bit))), w,
                                 _mm512_set1_epi8(4));
    }
    return w;
}

/* The scale of piece j, lane k, per row as int32 with a zero high half (for vpdpwssd) */
static X86_INLINE __m512i lane_scale(const uint8_t *u, const int kind, int j, int k) {
    const __m512i lo16 = _mm512_set1_epi32(0xFFFF);
    if (kind == K_Q4 || kind == K_Q5)
        return _mm512_cvtepu8_epi32(_mm_load_si128((const __m128i *)(u + 64 + 16 * j)));
    const int g = 2 * j + k / 4;
    if (kind == K_Q2) {
        const __m512i pr = _mm512_cvtepu8_epi16(_mm256_load_si256((const __m256i *)(u + 64 + 32 * (g / 2))));
        const __m512i sc = (g & 1) ? _mm512_srli_epi32(pr, 16) : _mm512_and_si512(pr, lo16);
        return _mm512_and_si512(sc, _mm512_set1_epi32(0x0F));
    }
    /* Q6_K, Q3_K: signed 8-bit scales */
    return _mm512_and_si512(_mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(u + 64 + 16 * g))), lo16);
}

static X86_INLINE void kq_tile(const elmk_packed_header *h, const uint8_t *G, const uint8_t *act, size_t act_row,
                               const int kind, const int nt, float *y, size_t ys, __mmask16 rows) {
    const int64_t nsb = h->n_in / QK_K;
    const size_t unit = kind == K_Q4 ? ELMK_PK_Q4_K_UNIT : kind == K_Q5 ? ELMK_PK_Q5_K_UNIT
                      : kind == K_Q6 ? ELMK_PK_Q6_K_UNIT : kind == K_Q3 ? ELMK_PK_Q3_K_UNIT : ELMK_PK_Q2_K_UNIT;
    const bool offset = kind == K_Q6 || kind == K_Q3;
    __m512 acc[KTILE][8], accm[KTILE][4], summs[KTILE];
    for (int t = 0; t < nt; t++) {
        summs[t] = _mm512_setzero_ps();
        for (int k = 0; k < 8; k++) acc[t][k] = _mm512_setzero_ps();
        for (int p = 0; p < 4; p++) accm[t][p] = _mm512_setzero_ps();
    }
    for (int64_t sb = 0; sb < nsb; sb++) {
        const uint8_t *u = G + unit * (size_t)sb;
        if (nt <= 2) prefetch_ahead(u, unit);
        const __m512 dv = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)u));
        /* the min terms, before the main sum as llama.cpp orders them */
        if (kind == K_Q2 || kind == K_Q4 || kind == K_Q5) {
            const __m512 dmv = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(u + 32)));
            for (int t = 0; t < nt; t++) {
                const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
                const __m512 dmin = _mm512_mul_ps(_mm512_set1_ps(-a->d), dmv);
                if (kind == K_Q2) {
                    /* lane l: mn[2l]*bsums[2l] + mn[2l+1]*bsums[2l+1] */
                    for (int l = 0; l < 8; l++) {
                        const __m512i mn = _mm512_srli_epi16(
                            _mm512_cvtepu8_epi16(_mm256_load_si256((const __m256i *)(u + 64 + 32 * l))), 4);
                        const __m512i m = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mn, bcast32(a->bsums + 2 * l));
                        acc[t][l] = _mm512_fmadd_ps(dmin, _mm512_cvtepi32_ps(m), acc[t][l]);
                    }
                } else {
                    __m512i mt = _mm512_setzero_si512();
                    for (int p = 0; p < 4; p++) {
                        const __m512i mn = _mm512_cvtepu8_epi16(_mm256_load_si256((const __m256i *)(u + 192 + 32 * p)));
                        const __m512i m = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mn, bcast32(a->bs32 + 2 * p));
                        if (kind == K_Q4) accm[t][p] = _mm512_fmadd_ps(dmin, _mm512_cvtepi32_ps(m), accm[t][p]);
                        else mt = _mm512_add_epi32(mt, m);
                    }
                    if (kind == K_Q5) summs[t] = _mm512_fmadd_ps(dmin, _mm512_cvtepi32_ps(mt), summs[t]);
                }
            }
        }
        for (int k = 0; k < 8; k++) {
            __m512i isum[KTILE];
            for (int t = 0; t < nt; t++) isum[t] = _mm512_setzero_si512();
            for (int j = 0; j < 8; j++) {
                const __m512i w = lane_codes(u, kind, j, k);
                const __m512i sc = lane_scale(u, kind, j, k);
                const int byte = 32 * j + 4 * k;   /* the activation codes of this step */
                for (int t = 0; t < nt; t++) {
                    const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
                    const __m512i init = offset ? _mm512_set1_epi32(a->c4[byte / 4]) : _mm512_setzero_si512();
                    const __m512i s = _mm512_dpbusd_epi32(init, w, bcast32(a->qs + byte));
                    isum[t] = _mm512_dpwssd_epi32(isum[t], s, sc);
                }
            }
            for (int t = 0; t < nt; t++) {
                const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
                acc[t][k] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(a->d), dv), _mm512_cvtepi32_ps(isum[t]), acc[t][k]);
            }
        }
    }
    for (int t = 0; t < nt; t++) {
        __m512 r = lanes_sum(acc[t]);
        if (kind == K_Q4) {
            const __m512 m = _mm512_add_ps(_mm512_add_ps(accm[t][0], accm[t][2]), _mm512_add_ps(accm[t][1], accm[t][3]));
            r = _mm512_add_ps(r, m);
        }
        if (kind == K_Q5) r = _mm512_add_ps(r, summs[t]);
        _mm512_mask_storeu_ps(y + (size_t)t * ys, rows, r);
    }
}

/* One or two tokens (generation): pieces of 32 codes in order, each piece's 8 lanes
 * unpacked once and its scales loaded once, the integer lanes of the super-block kept in
 * registers (8 per token). Same arithmetic as kq_tile (integer sums are exact in any
 * order; the float operations are the same). */
static X86_INLINE void kq_tile_small(const elmk_packed_header *h, const uint8_t *G, const uint8_t *act,
                                     size_t act_row, const int kind, const int nt, float *y, size_t ys,
                                     __mmask16 rows) {
    const int64_t nsb = h->n_in / QK_K;
    const size_t unit = kind == K_Q4 ? ELMK_PK_Q4_K_UNIT : kind == K_Q5 ? ELMK_PK_Q5_K_UNIT
                      : kind == K_Q6 ? ELMK_PK_Q6_K_UNIT : kind == K_Q3 ? ELMK_PK_Q3_K_UNIT : ELMK_PK_Q2_K_UNIT;
    const bool offset = kind == K_Q6 || kind == K_Q3;
    __m512 acc[KTILE][8], accm[KTILE][4], summs[KTILE];
    PX_UNROLL for (int t = 0; t < KTILE; t++) {
        summs[t] = _mm512_setzero_ps();
        PX_UNROLL for (int k = 0; k < 8; k++) acc[t][k] = _mm512_setzero_ps();
        PX_UNROLL for (int p = 0; p < 4; p++) accm[t][p] = _mm512_setzero_ps();
    }
    for (int64_t sb = 0; sb < nsb; sb++) {
        const uint8_t *u = G + unit * (size_t)sb;
        prefetch_ahead(u, unit);
        const __m512 dv = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)u));
        if (kind == K_Q2 || kind == K_Q4 || kind == K_Q5) {
            const __m512 dmv = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(u + 32)));
            PX_UNROLL for (int t = 0; t < KTILE; t++) {
                if (t >= nt) break;
                const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
                const __m512 dmin = _mm512_mul_ps(_mm512_set1_ps(-a->d), dmv);
                if (kind == K_Q2) {
                    PX_UNROLL for (int l = 0; l < 8; l++) {
                        const __m512i mn = _mm512_srli_epi16(
                            _mm512_cvtepu8_epi16(_mm256_load_si256((const __m256i *)(u + 64 + 32 * l))), 4);
                        const __m512i m = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mn, bcast32(a->bsums + 2 * l));
                        acc[t][l] = _mm512_fmadd_ps(dmin, _mm512_cvtepi32_ps(m), acc[t][l]);
                    }
                } else {
                    __m512i mt = _mm512_setzero_si512();
                    PX_UNROLL for (int p = 0; p < 4; p++) {
                        const __m512i mn = _mm512_cvtepu8_epi16(_mm256_load_si256((const __m256i *)(u + 192 + 32 * p)));
                        const __m512i m = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mn, bcast32(a->bs32 + 2 * p));
                        if (kind == K_Q4) accm[t][p] = _mm512_fmadd_ps(dmin, _mm512_cvtepi32_ps(m), accm[t][p]);
                        else mt = _mm512_add_epi32(mt, m);
                    }
                    if (kind == K_Q5) summs[t] = _mm512_fmadd_ps(dmin, _mm512_cvtepi32_ps(mt), summs[t]);
                }
            }
        }
        __m512i isum[KTILE][8];
        PX_UNROLL for (int t = 0; t < KTILE; t++)
            PX_UNROLL for (int k = 0; k < 8; k++) isum[t][k] = _mm512_setzero_si512();
        for (int j = 0; j < 8; j++) {
            const __m512i sc_lo = lane_scale(u, kind, j, 0), sc_hi = lane_scale(u, kind, j, 4);
            PX_UNROLL for (int k = 0; k < 8; k++) {
                const __m512i w = lane_codes(u, kind, j, k);
                const int byte = 32 * j + 4 * k;
                PX_UNROLL for (int t = 0; t < KTILE; t++) {
                    if (t >= nt) break;
                    const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
                    const __m512i init = offset ? _mm512_set1_epi32(a->c4[byte / 4]) : _mm512_setzero_si512();
                    const __m512i s = _mm512_dpbusd_epi32(init, w, bcast32(a->qs + byte));
                    isum[t][k] = _mm512_dpwssd_epi32(isum[t][k], s, k < 4 ? sc_lo : sc_hi);
                }
            }
        }
        PX_UNROLL for (int t = 0; t < KTILE; t++) {
            if (t >= nt) break;
            const elmk_pact_q8_K *a = (const elmk_pact_q8_K *)(act + (size_t)t * act_row) + sb;
            const __m512 d = _mm512_mul_ps(_mm512_set1_ps(a->d), dv);
            PX_UNROLL for (int k = 0; k < 8; k++) acc[t][k] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(isum[t][k]), acc[t][k]);
        }
    }
    PX_UNROLL for (int t = 0; t < KTILE; t++) {
        if (t >= nt) break;
        __m512 r = lanes_sum(acc[t]);
        if (kind == K_Q4) {
            const __m512 m = _mm512_add_ps(_mm512_add_ps(accm[t][0], accm[t][2]), _mm512_add_ps(accm[t][1], accm[t][3]));
            r = _mm512_add_ps(r, m);
        }
        if (kind == K_Q5) r = _mm512_add_ps(r, summs[t]);
        _mm512_mask_storeu_ps(y + (size_t)t * ys, rows, r);
    }
}

/* One driver per type; the two tile shapes stay separate functions (inlining both into
 * one loop makes the compiler keep the large one's arrays badly). */
#define KQ_DRIVER(name, KIND)                                                                \
    static __attribute__((noinline)) void name##_big(const elmk_packed_header *h, const uint8_t *G, \
                                                     const uint8_t *a, size_t act_row, int nt, float *y, \
                                                     size_t ys, __mmask16 rows) {            \
        kq_tile(h, G, a, act_row, KIND, nt, y, ys, rows);                                    \
    }                                                                                        \
    static __attribute__((noinline)) void name##_small(const elmk_packed_header *h, const uint8_t *G, \
                                                       const uint8_t *a, size_t act_row, int nt, float *y, \
                                                       size_t ys, __mmask16 rows) {          \
        kq_tile_small(h, G, a, act_row, KIND, nt, y, ys, rows);                              \
    }                                                                                        \
    static void name(const elmk_packed_header *h, const void *act, size_t act_row, int64_t n_tok, float *y, \
                     size_t ys, int64_t g0, int64_t g1) {                                    \
        for (int64_t g = g0; g < g1; g++) {                                                  \
            const uint8_t *G = elmk_packed_group(h, g);                                      \
            const __mmask16 rows = row_mask(h, g);                                           \
            for (int64_t t0 = 0, nt; t0 < n_tok; t0 += nt) {                                 \
                nt = n_tok - t0 >= KTILE ? KTILE : n_tok - t0;                               \
                const uint8_t *a = (const uint8_t *)act + (size_t)t0 * act_row;              \
                float *y_t = y + (size_t)t0 * ys + g * ELMK_PACK_ROWS;                       \
                if (nt <= KTILE) name##_small(h, G, a, act_row, (int)nt, y_t, ys, rows);         \
                else name##_big(h, G, a, act_row, (int)nt, y_t, ys, rows);                   \
            }                                                                                \
        }                                                                                    \
    }

KQ_DRIVER(packed_q4_K, K_Q4)
KQ_DRIVER(packed_q5_K, K_Q5)
KQ_DRIVER(packed_q6_K, K_Q6)
KQ_DRIVER(packed_q3_K, K_Q3)
KQ_DRIVER(packed_q2_K, K_Q2)

/* Called after elmk_fill_packed_avx512 when the CPU has VNNI: these replace its kernels. */
void elmk_fill_packed_exact_avx512(void) {
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q8_0, packed_q8_0);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q5_0, packed_q5_0);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q4_1, packed_q4_1);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q5_1, packed_q5_1);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q4_K, packed_q4_K);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q5_K, packed_q5_K);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q6_K, packed_q6_K);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q3_K, packed_q3_K);
    elmk_packed_register(ELMK_ISA_AVX512, ELM_TYPE_Q2_K, packed_q2_K);
}
