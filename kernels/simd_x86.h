/* simd_x86.h: small inline helpers shared by the x86 kernel files (dot_avx2.c,
 * dot_avx512.c, gemm_*.c). Included only from files built with the matching -m flags;
 * the AVX-512 helpers appear only when __AVX512F__ is defined.
 * Must not: hold state or anything that is not a few instructions long.
 */
#ifndef ELMK_SIMD_X86_H
#define ELMK_SIMD_X86_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "blocks.h"

/* Fully unrolled loops over registers (tile kernels). Under AddressSanitizer the unrolled
 * tiles take clang minutes to compile and their speed does not matter, so they stay loops. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define X86_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define X86_SANITIZED 1
#endif
#if defined(X86_SANITIZED)
#define X86_UNROLL
#elif defined(__clang__)
#define X86_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define X86_UNROLL _Pragma("GCC unroll 16")
#else
#define X86_UNROLL
#endif

#define X86_INLINE inline __attribute__((always_inline))

/* An IEEE half (raw bits) to float, exactly (F16C). */
static inline float x86_h2f(uint16_t h) { return _cvtsh_ss(h); }

static inline float x86_hsum_ps256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int x86_hsum_epi32_128(__m128i v) {
    v = _mm_add_epi32(v, _mm_unpackhi_epi64(v, v));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(v);
}

static inline int x86_hsum_epi32_256(__m256i v) {
    return x86_hsum_epi32_128(_mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}

/* A running dot product in llama.cpp's shape (its AVX2 kernels): 8 float lanes v, the
 * 4 min lanes m of Q4_K, and one float c (the min terms of Q4_1/Q5_1/Q5_K). The result
 * is hsum8(v) + hsum4(m), plus c (adding a zero changes nothing). */
typedef struct { __m256 v; __m128 m; float c; } x86_acc;

static inline x86_acc x86_acc_zero(void) { x86_acc a = {_mm256_setzero_ps(), _mm_setzero_ps(), 0.0f}; return a; }
static inline float x86_hsum_ps128(__m128 s) {
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float x86_acc_sum(x86_acc a) { return (x86_hsum_ps256(a.v) + x86_hsum_ps128(a.m)) + a.c; }

/* acc += d * float(sumi), lane by lane */
static inline void x86_fma_block(x86_acc *acc, float d, __m256i sumi) {
    acc->v = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc->v);
}

static inline uint32_t x86_load_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* 16 bytes of packed nibbles -> 32 bytes: the low nibbles first, then the high ones, which
 * is element order for the 32-element blocks (Q4_0, Q4_1, Q5_0, Q5_1). */
static inline __m256i x86_nibbles32(const uint8_t *qs) {
    __m128i t = _mm_loadu_si128((const __m128i *)qs);
    __m256i b = _mm256_inserti128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0F));
}

/* The 32 bits of qh -> 32 bytes, 0xFF where the bit is set (bit j -> byte j). */
static inline __m256i x86_bits_to_bytes32(uint32_t qh) {
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), spread);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel);
}

/* Sum over each group of 4 bytes of u8 * s8 into 8 int32 lanes, through int16 pairs: exact
 * while u*s + u'*s' fits int16, i.e. u <= 128 against |s| <= 127 (callers make sure). */
static inline __m256i x86_dot_u8s8_256(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* Q4_K / Q5_K packed 6-bit scales and mins -> 8 scales in bytes 0..7, 8 mins in 8..15. */
static inline void x86_unpack_k4_scales(const uint8_t *scales, uint32_t out[4]) {
    const uint32_t km1 = 0x3f3f3f3f, km2 = 0x0f0f0f0f, km3 = 0x03030303;
    uint32_t u[3];
    memcpy(u, scales, 12);
    out[0] = u[0] & km1;
    out[1] = (u[2] & km2) | (((u[0] >> 6) & km3) << 4);
    out[2] = u[1] & km1;
    out[3] = ((u[2] >> 4) & km2) | (((u[1] >> 6) & km3) << 4);
}

/* Q3_K packed 6-bit scales -> 16 signed scales (value - 32). */
static inline void x86_unpack_q3k_scales(const uint8_t *scales, int8_t out[16]) {
    const uint32_t km1 = 0x03030303, km2 = 0x0f0f0f0f;
    uint32_t a[3], r[4];
    memcpy(a, scales, 12);
    r[0] = (a[0] & km2) | (((a[2] >> 0) & km1) << 4);
    r[1] = (a[1] & km2) | (((a[2] >> 2) & km1) << 4);
    r[2] = ((a[0] >> 4) & km2) | (((a[2] >> 4) & km1) << 4);
    r[3] = ((a[1] >> 4) & km2) | (((a[2] >> 6) & km1) << 4);
    uint8_t b[16];
    memcpy(b, r, 16);
    for (int i = 0; i < 16; i++) out[i] = (int8_t)(b[i] - 32);
}

#ifdef __AVX512F__
static inline float x86_hsum_ps512(__m512 v) {
    return x86_hsum_ps256(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}
#endif

#endif
