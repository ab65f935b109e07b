/* steps_avx512.h: the AVX-512 (BW/VL + VNNI) arithmetic of one weight block against one
 * activation block, for every integer type, as inline steps shared by the dot products
 * (dot_avx512.c) and the tile kernels (gemm_avx512.c) so both give bit-identical results.
 *
 * 32-element blocks use 256-bit vpdpbusd (on Zen 4 a zmm op costs two ymm ops, and one
 * block fills a ymm exactly); K-quant super-blocks go 64 elements per zmm with
 * maddubs + vpdpwssd, which applies the 16-bit sub-block scales in the same instruction
 * that accumulates. The float arithmetic is llama.cpp's (quants_legacy.c / quants_k.c are
 * the specification): 8 int32 lanes per block (elements 4l..4l+3 of each 32-element
 * piece; a zmm of 64 elements is folded onto them) fma'd into 8 float lanes. Weight codes
 * are unsigned; offsets are subtracted inside the same lanes, so every lane's integer
 * sum equals llama.cpp's.
 * Included only from files compiled with the AVX-512 flags.
 * Must not: keep state, or change the order of float operations between users.
 */
#ifndef ELMK_STEPS_AVX512_H
#define ELMK_STEPS_AVX512_H

#include "simd_x86.h"

#include <math.h>

/* ---- 32-element blocks (ymm + VNNI) ---- */

static inline __m256i avx512_dpbusd(__m256i u, __m256i s) { return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s); }

static inline __m256i avx512_q4_w(const uint8_t *qs) { return x86_nibbles32(qs); }
/* the 5th bit comes from qh (bit j for element j); adding 16 to a nibble sets it */
static inline __m256i avx512_q5_w(const uint8_t *qs, const uint8_t *qh) {
    const __m256i w = x86_nibbles32(qs);
    return _mm256_mask_add_epi8(w, (__mmask32)x86_load_u32(qh), w, _mm256_set1_epi8(0x10));
}

/* codes w with offset off (Q4_0: 8, Q5_0: 16, Q8_0 as w+128: 128) against a Q8_0 block */
static inline void avx512_off_q8_0_step(x86_acc *acc, __m256i w, __m256i off, float dx, const block_q8_0 *y) {
    __m256i q = _mm256_loadu_si256((const __m256i *)y->qs);
    x86_fma_block(acc, dx * x86_h2f(y->d), _mm256_sub_epi32(avx512_dpbusd(w, q), avx512_dpbusd(off, q)));
}

/* unsigned codes against a Q8_1 block: d*sum + m*s */
static inline void avx512_min_q8_1_step(x86_acc *acc, __m256i w, float dx, float mx, const block_q8_1 *y) {
    __m256i q = _mm256_loadu_si256((const __m256i *)y->qs);
    acc->c = fmaf(mx, x86_h2f(y->s), acc->c);
    x86_fma_block(acc, dx * x86_h2f(y->d), avx512_dpbusd(w, q));
}

/* Q4_0 (llama.cpp's repacked GEMM): the whole block's integer sum into one float */
static inline void avx512_q4_0_step(x86_acc *acc, __m256i w, float dx, const block_q8_0 *y) {
    __m256i q = _mm256_loadu_si256((const __m256i *)y->qs);
    const int isum = x86_hsum_epi32_256(_mm256_sub_epi32(avx512_dpbusd(w, q), avx512_dpbusd(_mm256_set1_epi8(8), q)));
    acc->c = fmaf((float)isum, dx * x86_h2f(y->d), acc->c);
}

static inline __m256i avx512_q8_0_w(const block_q8_0 *x) {
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)x->qs), _mm256_set1_epi8((char)0x80));
}

static inline void avx512_q4_0_full(x86_acc *acc, const block_q4_0 *x, const block_q8_0 *y) {
    avx512_q4_0_step(acc, avx512_q4_w(x->qs), x86_h2f(x->d), y);
}
static inline void avx512_q5_0_full(x86_acc *acc, const block_q5_0 *x, const block_q8_0 *y) {
    avx512_off_q8_0_step(acc, avx512_q5_w(x->qs, x->qh), _mm256_set1_epi8(16), x86_h2f(x->d), y);
}
static inline void avx512_q8_0_full(x86_acc *acc, const block_q8_0 *x, const block_q8_0 *y) {
    avx512_off_q8_0_step(acc, avx512_q8_0_w(x), _mm256_set1_epi8((char)0x80), x86_h2f(x->d), y);
}
static inline void avx512_q4_1_full(x86_acc *acc, const block_q4_1 *x, const block_q8_1 *y) {
    avx512_min_q8_1_step(acc, avx512_q4_w(x->qs), x86_h2f(x->d), x86_h2f(x->m), y);
}
static inline void avx512_q5_1_full(x86_acc *acc, const block_q5_1 *x, const block_q8_1 *y) {
    avx512_min_q8_1_step(acc, avx512_q5_w(x->qs, x->qh), x86_h2f(x->d), x86_h2f(x->m), y);
}

/* ---- K-quants: 64 elements per zmm ---- */

/* int16 scale vector for zmm number z of a super-block whose 16 sub-block scales (one
 * per 16 elements) are in sc16: lanes 8g..8g+7 get scale 4z+g. */
static inline __m512i avx512_scales_by16(__m256i sc16, int z) {
    const __m512i idx = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2,
                                         1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m512i ix = _mm512_add_epi16(idx, _mm512_set1_epi16((short)(4 * z)));
    return _mm512_permutexvar_epi16(ix, _mm512_castsi256_si512(sc16));
}

/* int16 scale vector for chunk j (64 elements) of Q4_K / Q5_K: scale 2j on the first 32
 * elements (int16 lanes 0..15), 2j+1 on the next 32; sc8 holds 8 scales as int16. */
static inline __m512i avx512_scales_by32(__m128i sc8, int j) {
    const __m512i idx = _mm512_set_epi16(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_permutexvar_epi16(_mm512_add_epi16(idx, _mm512_set1_epi16((short)(2 * j))), _mm512_castsi128_si512(sc8));
}

static inline __m512i avx512_load_y64(const int8_t *q) { return _mm512_loadu_si512((const void *)q); }

/* 16 int32 lanes -> 8 */
static inline __m256i avx512_fold(__m512i v) {
    return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

static inline __m256i avx512_bsums_dot(const block_q8_K *y, __m256i sc16) {
    return _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y->bsums), sc16);
}

/* Q4_K / Q5_K mins (mn16: the 8 mins as int16): 4 lanes
 * m[k] = mn[2k]*s32[2k] + mn[2k+1]*s32[2k+1], s32[j] the sum of sub-block j's activations */
static inline __m128i avx512_k4_min_lanes(const block_q8_K *y, __m128i mn16) {
    const __m256i bs = _mm256_loadu_si256((const __m256i *)y->bsums);
    const __m128i s32 = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    return _mm_madd_epi16(mn16, s32);
}

/* maddubs of codes w minus maddubs of the offset: int16 pairs of (w - off) * y */
static inline __m512i avx512_pairs_off(__m512i w, __m512i off, __m512i y) {
    return _mm512_sub_epi16(_mm512_maddubs_epi16(w, y), _mm512_maddubs_epi16(off, y));
}

static inline void avx512_q4_K_step(x86_acc *acc, const block_q4_K *x, const block_q8_K *y) {
    uint32_t u[4];
    x86_unpack_k4_scales(x->scales, u);
    const __m128i sm = _mm_loadu_si128((const __m128i *)u);          /* 8 scales, 8 mins */
    const __m128i sc8 = _mm_cvtepu8_epi16(sm);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512i isum = _mm512_setzero_si512();
    for (int j = 0; j < 4; j++) {
        const __m256i b = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * j));
        __m512i w = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(b), _mm256_srli_epi16(b, 4), 1), m4);
        __m512i p = _mm512_maddubs_epi16(w, avx512_load_y64(y->qs + 64 * j));
        isum = _mm512_dpwssd_epi32(isum, p, avx512_scales_by32(sc8, j));
    }
    const __m128i mp = avx512_k4_min_lanes(y, _mm_cvtepu8_epi16(_mm_unpackhi_epi64(sm, sm)));
    acc->m = _mm_fmadd_ps(_mm_set1_ps(-y->d * x86_h2f(x->dmin)), _mm_cvtepi32_ps(mp), acc->m);
    x86_fma_block(acc, y->d * x86_h2f(x->d), avx512_fold(isum));
}

static inline void avx512_q5_K_step(x86_acc *acc, const block_q5_K *x, const block_q8_K *y) {
    uint32_t u[4];
    x86_unpack_k4_scales(x->scales, u);
    const __m128i sm = _mm_loadu_si128((const __m128i *)u);
    const __m128i sc8 = _mm_cvtepu8_epi16(sm);
    const __m512i m4 = _mm512_set1_epi8(0x0F), b4 = _mm512_set1_epi8(0x10);
    const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x->qh));
    __m512i sel = _mm512_inserti64x4(_mm512_set1_epi8(1), _mm256_set1_epi8(2), 1);
    __m512i isum = _mm512_setzero_si512();
    for (int j = 0; j < 4; j++) {
        const __m256i b = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * j));
        __m512i w = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(b), _mm256_srli_epi16(b, 4), 1), m4);
        w = _mm512_mask_add_epi8(w, _mm512_test_epi8_mask(qh, sel), w, b4);
        __m512i p = _mm512_maddubs_epi16(w, avx512_load_y64(y->qs + 64 * j));
        isum = _mm512_dpwssd_epi32(isum, p, avx512_scales_by32(sc8, j));
        sel = _mm512_slli_epi16(sel, 2);
    }
    const __m128i mp = avx512_k4_min_lanes(y, _mm_cvtepu8_epi16(_mm_unpackhi_epi64(sm, sm)));
    acc->c = fmaf(-y->d * x86_h2f(x->dmin), (float)x86_hsum_epi32_128(mp), acc->c);
    x86_fma_block(acc, y->d * x86_h2f(x->d), avx512_fold(isum));
}

static inline void avx512_q6_K_step(x86_acc *acc, const block_q6_K *x, const block_q8_K *y) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30), m32 = _mm512_set1_epi8(32);
    __m512i isum = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
        const __m512i ql = _mm512_loadu_si512((const void *)(x->ql + 64 * h));
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
        const __m512i qhz = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
        __m512i a = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_and_si512(_mm512_slli_epi16(qhz, 4), m30));
        __m512i b = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_and_si512(qhz, m30));
        isum = _mm512_dpwssd_epi32(isum, avx512_pairs_off(a, m32, avx512_load_y64(y->qs + 128 * h)),
                                   avx512_scales_by16(sc16, 2 * h));
        isum = _mm512_dpwssd_epi32(isum, avx512_pairs_off(b, m32, avx512_load_y64(y->qs + 128 * h + 64)),
                                   avx512_scales_by16(sc16, 2 * h + 1));
    }
    x86_fma_block(acc, y->d * x86_h2f(x->d), avx512_fold(isum));
}

static inline void avx512_q2_K_step(x86_acc *acc, const block_q2_K *x, const block_q8_K *y) {
    const __m128i raw = _mm_loadu_si128((const __m128i *)x->scales);
    const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0x0F)));
    const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0F)));
    const __m512i three = _mm512_set1_epi8(3);
    __m512i isum = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * h));
        const __m512i qz = _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 2), 1);
        for (int m = 0; m < 2; m++) {
            const int z = 2 * h + m;
            __m512i w = _mm512_and_si512(_mm512_srli_epi16(qz, 4 * m), three);
            isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(w, avx512_load_y64(y->qs + 64 * z)),
                                       avx512_scales_by16(sc16, z));
        }
    }
    /* llama.cpp adds the min term first */
    x86_fma_block(acc, -y->d * x86_h2f(x->dmin), avx512_bsums_dot(y, mn16));
    x86_fma_block(acc, y->d * x86_h2f(x->d), avx512_fold(isum));
}

static inline void avx512_q3_K_step(x86_acc *acc, const block_q3_K *x, const block_q8_K *y) {
    int8_t scales[16];
    x86_unpack_q3k_scales(x->scales, scales);
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)scales));
    const __m512i hm = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x->hmask));
    const __m512i three = _mm512_set1_epi8(3), four = _mm512_set1_epi8(4);
    __m512i sel = _mm512_inserti64x4(_mm512_set1_epi8(1), _mm256_set1_epi8(2), 1);
    __m512i isum = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * h));
        const __m512i qz = _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 2), 1);
        for (int m = 0; m < 2; m++) {
            const int z = 2 * h + m;
            __m512i w = _mm512_and_si512(_mm512_srli_epi16(qz, 4 * m), three);
            w = _mm512_mask_add_epi8(w, _mm512_test_epi8_mask(hm, sel), w, four);
            isum = _mm512_dpwssd_epi32(isum, avx512_pairs_off(w, four, avx512_load_y64(y->qs + 64 * z)),
                                       avx512_scales_by16(sc16, z));
            sel = _mm512_slli_epi16(sel, 2);
        }
    }
    x86_fma_block(acc, y->d * x86_h2f(x->d), avx512_fold(isum));
}

#endif
