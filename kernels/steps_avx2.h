/* steps_avx2.h: the AVX2 arithmetic of one weight block against one activation block, for
 * every integer type, as inline steps shared by the dot products (dot_avx2.c) and the
 * tile kernels, so that both compute bit-identical results.
 *
 * The float arithmetic is llama.cpp's (quants_legacy.c / quants_k.c are the
 * specification): 8 int32 lanes per block, lane l holding elements 4l..4l+3 of each
 * 32-element piece, turned into floats and fma'd into 8 float lanes. Weight codes are
 * unsigned (0..15, 0..31, 0..63) for maddubs; offsets such as Q4_0's -8 or Q6_K's -32
 * are subtracted per pair inside the same lanes (maddubs of the offset), so every lane's
 * integer sum equals llama.cpp's.
 * Included only from files compiled with -mavx2 -mfma -mf16c.
 * Must not: keep state, or change the order of float operations between users.
 */
#ifndef ELMK_STEPS_AVX2_H
#define ELMK_STEPS_AVX2_H

#include "simd_x86.h"

#include <math.h>

/* sum over groups of 4 bytes of (w - off) * q, w unsigned <= 63, off <= 32: 8 int32 lanes. */
static inline __m256i avx2_dot_off(__m256i w, __m256i q, __m256i off) {
    __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(w, q), _mm256_maddubs_epi16(off, q));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* ---- 32-element blocks: prepared weights, then one step per activation block ---- */

static inline __m256i avx2_q4_0_w(const block_q4_0 *x) { return x86_nibbles32(x->qs); }
static inline __m256i avx2_q4_1_w(const block_q4_1 *x) { return x86_nibbles32(x->qs); }
static inline __m256i avx2_q5_0_w(const block_q5_0 *x) {
    __m256i hb = _mm256_and_si256(x86_bits_to_bytes32(x86_load_u32(x->qh)), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(x86_nibbles32(x->qs), hb);
}
static inline __m256i avx2_q5_1_w(const block_q5_1 *x) {
    __m256i hb = _mm256_and_si256(x86_bits_to_bytes32(x86_load_u32(x->qh)), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(x86_nibbles32(x->qs), hb);
}

/* Q5_0 codes w (unsigned, offset off) against a Q8_0 block; dx the weight scale. */
static inline void avx2_off_q8_0_step(x86_acc *acc, __m256i w, int off, float dx, const block_q8_0 *y) {
    __m256i q = _mm256_loadu_si256((const __m256i *)y->qs);
    x86_fma_block(acc, dx * x86_h2f(y->d), avx2_dot_off(w, q, _mm256_set1_epi8((char)off)));
}

/* Q4_0 (llama.cpp's repacked GEMM): the whole block's integer sum, one float:
 * c = fma(isum, d_w*d_a, c). */
static inline void avx2_q4_0_step(x86_acc *acc, __m256i w, float dx, const block_q8_0 *y) {
    __m256i q = _mm256_loadu_si256((const __m256i *)y->qs);
    const int isum = x86_hsum_epi32_256(avx2_dot_off(w, q, _mm256_set1_epi8(8)));
    acc->c = fmaf((float)isum, dx * x86_h2f(y->d), acc->c);
}

/* Q4_1 / Q5_1 codes (unsigned, no offset) against a Q8_1 block: d*sum + m*s. */
static inline void avx2_min_q8_1_step(x86_acc *acc, __m256i w, float dx, float mx, const block_q8_1 *y) {
    __m256i q = _mm256_loadu_si256((const __m256i *)y->qs);
    acc->c = fmaf(mx, x86_h2f(y->s), acc->c);
    x86_fma_block(acc, dx * x86_h2f(y->d), x86_dot_u8s8_256(w, q));
}

/* Q8_0 x Q8_0: the sign trick (|w| against q with w's sign) keeps maddubs unsigned. */
static inline void avx2_q8_0_step(x86_acc *acc, __m256i w, float dx, const block_q8_0 *y) {
    __m256i q = _mm256_loadu_si256((const __m256i *)y->qs);
    __m256i sumi = x86_dot_u8s8_256(_mm256_sign_epi8(w, w), _mm256_sign_epi8(q, w));
    x86_fma_block(acc, dx * x86_h2f(y->d), sumi);
}

static inline void avx2_q4_0_full(x86_acc *acc, const block_q4_0 *x, const block_q8_0 *y) {
    avx2_q4_0_step(acc, avx2_q4_0_w(x), x86_h2f(x->d), y);
}
static inline void avx2_q5_0_full(x86_acc *acc, const block_q5_0 *x, const block_q8_0 *y) {
    avx2_off_q8_0_step(acc, avx2_q5_0_w(x), 16, x86_h2f(x->d), y);
}
static inline void avx2_q4_1_full(x86_acc *acc, const block_q4_1 *x, const block_q8_1 *y) {
    avx2_min_q8_1_step(acc, avx2_q4_1_w(x), x86_h2f(x->d), x86_h2f(x->m), y);
}
static inline void avx2_q5_1_full(x86_acc *acc, const block_q5_1 *x, const block_q8_1 *y) {
    avx2_min_q8_1_step(acc, avx2_q5_1_w(x), x86_h2f(x->d), x86_h2f(x->m), y);
}
static inline void avx2_q8_0_full(x86_acc *acc, const block_q8_0 *x, const block_q8_0 *y) {
    avx2_q8_0_step(acc, _mm256_loadu_si256((const __m256i *)x->qs), x86_h2f(x->d), y);
}

/* ---- K-quants: one 256-element super-block against one Q8_K block ---- */

/* 16 scales as int16, two per 32-element piece: piece k uses scales 2k (first 16 elements)
 * and 2k+1; sc8 holds the 16 signed 8-bit scales. */
static inline __m256i avx2_scale_pair(__m128i sc8, int k) {
    const __m128i idx = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    __m128i s = _mm_shuffle_epi8(sc8, _mm_add_epi8(idx, _mm_set1_epi8((char)(2 * k))));
    return _mm256_cvtepi8_epi16(s);
}

/* One 32-element piece: lanes of scale * (w - off) * q (w unsigned <= 63, off per byte) */
static inline __m256i avx2_piece(__m256i w, __m256i off, __m256i q, __m256i scales) {
    __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(w, q), _mm256_maddubs_epi16(off, q));
    return _mm256_madd_epi16(p, scales);
}

/* Q4_K / Q5_K mins (mn16: the 8 mins as int16): 4 lanes
 * m[k] = mn[2k]*s32[2k] + mn[2k+1]*s32[2k+1], s32[j] the sum of sub-block j's activations */
static inline __m128i avx2_k4_min_lanes(const block_q8_K *y, __m128i mn16) {
    const __m256i bs = _mm256_loadu_si256((const __m256i *)y->bsums);
    const __m128i s32 = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    return _mm_madd_epi16(mn16, s32);
}

static inline void avx2_q2_K_step(x86_acc *acc, const block_q2_K *x, const block_q8_K *y) {
    const __m128i raw = _mm_loadu_si128((const __m128i *)x->scales);
    const __m128i sc8 = _mm_and_si128(raw, _mm_set1_epi8(0x0F));
    const __m128i mn8 = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0F));
    const __m256i three = _mm256_set1_epi8(3), zero = _mm256_setzero_si256();
    /* llama.cpp adds the min term first: lanes mn[2l]*bsums[2l] + mn[2l+1]*bsums[2l+1] */
    const __m256i msum = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y->bsums), _mm256_cvtepu8_epi16(mn8));
    x86_fma_block(acc, -y->d * x86_h2f(x->dmin), msum);
    __m256i isum = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        const __m256i q2 = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * h));
        for (int j = 0; j < 4; j++) {
            const int k = 4 * h + j;
            __m256i w = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * j), three);
            __m256i q = _mm256_loadu_si256((const __m256i *)(y->qs + 32 * k));
            isum = _mm256_add_epi32(isum, avx2_piece(w, zero, q, avx2_scale_pair(sc8, k)));
        }
    }
    x86_fma_block(acc, y->d * x86_h2f(x->d), isum);
}

static inline void avx2_q3_K_step(x86_acc *acc, const block_q3_K *x, const block_q8_K *y) {
    int8_t scales[16];
    x86_unpack_q3k_scales(x->scales, scales);
    const __m128i sc8 = _mm_loadu_si128((const __m128i *)scales);
    const __m256i hm = _mm256_loadu_si256((const __m256i *)x->hmask);
    const __m256i three = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
    __m256i isum = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        const __m256i q2 = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * h));
        for (int j = 0; j < 4; j++) {
            const int k = 4 * h + j;
            const __m256i bit = _mm256_set1_epi8((char)(1 << k));
            /* value = low 2 bits, minus 4 where the high bit is clear */
            __m256i off = _mm256_andnot_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), bit), four);
            __m256i w = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * j), three);
            __m256i q = _mm256_loadu_si256((const __m256i *)(y->qs + 32 * k));
            isum = _mm256_add_epi32(isum, avx2_piece(w, off, q, avx2_scale_pair(sc8, k)));
        }
    }
    x86_fma_block(acc, y->d * x86_h2f(x->d), isum);
}

/* Q4_K and Q5_K: piece k of 32 elements uses scale k; the min terms go to acc->m (Q4_K,
 * 4 lanes) or acc->c (Q5_K, one float), as llama.cpp keeps them. */
static inline void avx2_q4_K_step(x86_acc *acc, const block_q4_K *x, const block_q8_K *y) {
    uint32_t u[4];
    x86_unpack_k4_scales(x->scales, u);
    const uint8_t *sc = (const uint8_t *)u;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const float dmin = -y->d * x86_h2f(x->dmin);
    const __m128i mp = avx2_k4_min_lanes(y, _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(sc + 8))));
    acc->m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(mp), acc->m);
    __m256i isum = _mm256_setzero_si256();
    for (int j = 0; j < 4; j++) {
        const __m256i b = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * j));
        __m256i lo = _mm256_and_si256(b, m4), hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), m4);
        __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(y->qs + 64 * j)));
        __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y->qs + 64 * j + 32)));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(plo, _mm256_set1_epi16(sc[2 * j])));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(phi, _mm256_set1_epi16(sc[2 * j + 1])));
    }
    x86_fma_block(acc, y->d * x86_h2f(x->d), isum);
}

static inline void avx2_q5_K_step(x86_acc *acc, const block_q5_K *x, const block_q8_K *y) {
    uint32_t u[4];
    x86_unpack_k4_scales(x->scales, u);
    const uint8_t *sc = (const uint8_t *)u;
    const __m256i m4 = _mm256_set1_epi8(0x0F), b4 = _mm256_set1_epi8(0x10);
    const __m256i qh = _mm256_loadu_si256((const __m256i *)x->qh);
    const float dmin = -y->d * x86_h2f(x->dmin);
    const __m128i mp = avx2_k4_min_lanes(y, _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(sc + 8))));
    acc->c = fmaf(dmin, (float)x86_hsum_epi32_128(mp), acc->c);
    __m256i isum = _mm256_setzero_si256();
    for (int j = 0; j < 4; j++) {
        const __m256i bl = _mm256_set1_epi8((char)(1 << (2 * j))), bh = _mm256_set1_epi8((char)(2 << (2 * j)));
        const __m256i b = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * j));
        __m256i lo = _mm256_or_si256(_mm256_and_si256(b, m4),
                                     _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bl), bl), b4));
        __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4),
                                     _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bh), bh), b4));
        __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(y->qs + 64 * j)));
        __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y->qs + 64 * j + 32)));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(plo, _mm256_set1_epi16(sc[2 * j])));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(phi, _mm256_set1_epi16(sc[2 * j + 1])));
    }
    x86_fma_block(acc, y->d * x86_h2f(x->d), isum);
}

/* Q6_K: per 128-element half, ql gives the low 4 bits and qh the top 2 of four 32-element
 * pieces; codes are q + 32. */
static inline void avx2_q6_K_step(x86_acc *acc, const block_q6_K *x, const block_q8_K *y) {
    const __m128i sc8 = _mm_loadu_si128((const __m128i *)x->scales);
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30), m32 = _mm256_set1_epi8(32);
    __m256i isum = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h));
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32));
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
        __m256i w[4];
        w[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
        w[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
        w[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30));
        w[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                               _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
        for (int j = 0; j < 4; j++) {
            const int k = 4 * h + j;
            __m256i q = _mm256_loadu_si256((const __m256i *)(y->qs + 32 * k));
            isum = _mm256_add_epi32(isum, avx2_piece(w[j], m32, q, avx2_scale_pair(sc8, k)));
        }
    }
    x86_fma_block(acc, y->d * x86_h2f(x->d), isum);
}

#endif
