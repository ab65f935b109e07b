/* ref.h: the scalar reference kernels of every type (internal to kernels/).
 *
 * These are the truth every SIMD kernel is tested against:
 *   *_to_float    dequantizes exactly as ggml's dequantize_row_* (bit for bit)
 *   *_from_float  quantizes like ggml's quantize_row_*_ref (no importance matrix)
 *   *_quantize    (activation types) quantizes activations as llama.cpp's x86 build does
 *   *_vec_dot     the dot product with the type's activation type, repeating the float
 *                 operations of the kernel llama.cpp's x86 (AVX2/AVX-512) build runs for
 *                 that type (lanes, fma, summation tree), so its results are llama.cpp's
 *                 bit for bit; x86 SIMD kernels must equal these exactly.
 * dispatch.c puts them into the scalar row of the ops table; SIMD files may call them for
 * entries or tails they do not specialise. All lengths n are in elements and must be a
 * multiple of the type's block size.
 * Must not: contain SIMD code or allocate.
 */
#ifndef ELMK_REF_H
#define ELMK_REF_H

#include "kernels.h"

/* Round to the nearest integer, ties to even, for |x| < 2^22: ggml's nearest_int. */
static inline int elmk_nearest_int(float x) {
    union { float f; int32_t i; } u;
    u.f = x + 12582912.f;                 /* 1.5 * 2^23: the integer lands in the mantissa */
    return (u.i & 0x007FFFFF) - 0x00400000;
}

/* ---- llama.cpp's float summation shapes (the x86 build our golden outputs come from) ----
 * Its SIMD dot products keep 8 (AVX2) or 16 (AVX-512) float lanes and add them up at the
 * end in a fixed tree; the reference kernels keep the same lanes in arrays, so that every
 * rounding happens where llama.cpp's happens. */

/* hsum_float_8: ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)) */
static inline float elmk_hsum8(const float a[8]) {
    const float s0 = a[0] + a[4], s1 = a[1] + a[5], s2 = a[2] + a[6], s3 = a[3] + a[7];
    return (s0 + s2) + (s1 + s3);
}

/* _mm512_reduce_add_ps: the upper 8 lanes onto the lower 8, then hsum_float_8 */
static inline float elmk_hsum16(const float a[16]) {
    float h[8];
    for (int i = 0; i < 8; i++) h[i] = a[i + 8] + a[i];
    return elmk_hsum8(h);
}

/* ---- plain floats (quants_float.c); activations are F32 -------------------------------- */
void elmk_f32_to_float_ref(const void *src, float *dst, int64_t n);
void elmk_f32_from_float_ref(const float *src, void *dst, int64_t n);
void elmk_f32_vec_dot_ref(int64_t n, float *s, const void *w, const void *a);
void elmk_f16_to_float_ref(const void *src, float *dst, int64_t n);
void elmk_f16_from_float_ref(const float *src, void *dst, int64_t n);
void elmk_f16_vec_dot_ref(int64_t n, float *s, const void *w, const void *a);
void elmk_bf16_to_float_ref(const void *src, float *dst, int64_t n);
void elmk_bf16_from_float_ref(const float *src, void *dst, int64_t n);
void elmk_bf16_vec_dot_ref(int64_t n, float *s, const void *w, const void *a);

/* ---- 32-element blocks (quants_legacy.c) ------------------------------------------------ */
void elmk_q4_0_to_float_ref(const void *src, float *dst, int64_t n);
void elmk_q4_0_from_float_ref(const float *src, void *dst, int64_t n);
void elmk_q4_0_vec_dot_ref(int64_t n, float *s, const void *w, const void *a);   /* a: Q8_0 */
void elmk_q4_1_to_float_ref(const void *src, float *dst, int64_t n);
void elmk_q4_1_from_float_ref(const float *src, void *dst, int64_t n);
void elmk_q4_1_vec_dot_ref(int64_t n, float *s, const void *w, const void *a);   /* a: Q8_1 */
void elmk_q5_0_to_float_ref(const void *src, float *dst, int64_t n);
void elmk_q5_0_from_float_ref(const float *src, void *dst, int64_t n);
void elmk_q5_0_vec_dot_ref(int64_t n, float *s, const void *w, const void *a);   /* a: Q8_0 */
void elmk_q5_1_to_float_ref(const void *src, float *dst, int64_t n);
void elmk_q5_1_from_float_ref(const float *src, void *dst, int64_t n);
void elmk_q5_1_vec_dot_ref(int64_t n, float *s, const void *w, const void *a);   /* a: Q8_1 */
void elmk_q8_0_to_float_ref(const void *src, float *dst, int64_t n);
void elmk_q8_0_from_float_ref(const float *src, void *dst, int64_t n);
void elmk_q8_0_vec_dot_ref(int64_t n, float *s, const void *w, const void *a);   /* a: Q8_0 */
void elmk_q8_1_to_float_ref(const void *src, float *dst, int64_t n);
void elmk_q8_1_from_float_ref(const float *src, void *dst, int64_t n);
/* activation quantizers: llama.cpp's x86 formulas (id = 127/amax, halves to even) */
void elmk_q8_0_quantize_ref(const float *src, void *dst, int64_t n);
void elmk_q8_1_quantize_ref(const float *src, void *dst, int64_t n);

/* ---- 256-element super-blocks (quants_k.c); activations are Q8_K ------------------------ */
void elmk_q2_K_to_float_ref(const void *src, float *dst, int64_t n);
void elmk_q2_K_from_float_ref(const float *src, void *dst, int64_t n);
void elmk_q2_K_vec_dot_ref(int64_t n, float *s, const void *w, const void *a);
void elmk_q3_K_to_float_ref(const void *src, float *dst, int64_t n);
void elmk_q3_K_from_float_ref(const float *src, void *dst, int64_t n);
void elmk_q3_K_vec_dot_ref(int64_t n, float *s, const void *w, const void *a);
void elmk_q4_K_to_float_ref(const void *src, float *dst, int64_t n);
void elmk_q4_K_from_float_ref(const float *src, void *dst, int64_t n);
void elmk_q4_K_vec_dot_ref(int64_t n, float *s, const void *w, const void *a);
void elmk_q5_K_to_float_ref(const void *src, float *dst, int64_t n);
void elmk_q5_K_from_float_ref(const float *src, void *dst, int64_t n);
void elmk_q5_K_vec_dot_ref(int64_t n, float *s, const void *w, const void *a);
void elmk_q6_K_to_float_ref(const void *src, float *dst, int64_t n);
void elmk_q6_K_from_float_ref(const float *src, void *dst, int64_t n);
void elmk_q6_K_vec_dot_ref(int64_t n, float *s, const void *w, const void *a);
void elmk_q8_K_to_float_ref(const void *src, float *dst, int64_t n);
void elmk_q8_K_from_float_ref(const float *src, void *dst, int64_t n);

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K super-block. */
static inline void elmk_k4_scale_min(int j, const uint8_t *scales, uint8_t *sc, uint8_t *mn) {
    if (j < 4) {
        *sc = scales[j] & 63;
        *mn = scales[j + 4] & 63;
    } else {
        *sc = (uint8_t)((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4));
        *mn = (uint8_t)((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
}

/* The signed 6-bit scale (-32..31) of sub-block j (0..15) of a Q3_K super-block. */
static inline int elmk_q3k_scale(int j, const uint8_t *scales) {
    int lo = j < 8 ? (scales[j] & 0xF) : (scales[j - 8] >> 4);
    int hi = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

#endif
