/* quants_float.c: scalar reference for the plain float weight types F32, F16 and BF16.
 *
 * Their activations stay F32 (no activation quantization): the dot product converts each
 * weight to float (exact) and accumulates w[i]*a[i] into ONE float, in index order from 0
 * to n-1, each product rounded to float before it is added (no fused multiply-add). SIMD
 * versions sum in other orders; they are tested against this within a relative bound.
 * Must not: contain SIMD code or allocate.
 */
#include "ref.h"

#include <string.h>

/* Products and sums must round separately, as written (clang may otherwise fuse a*b+c). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* ==== F32 ================================================================================ */

void elmk_f32_to_float_ref(const void *src, float *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void elmk_f32_from_float_ref(const float *src, void *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void elmk_f32_vec_dot_ref(int64_t n, float *s, const void *w, const void *a) {
    const float *x = w, *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += x[i] * y[i];
    *s = sum;
}

/* ==== F16 ================================================================================ */

void elmk_f16_to_float_ref(const void *src, float *dst, int64_t n) {
    elmk_fp16_to_fp32_row(src, dst, n);
}

void elmk_f16_from_float_ref(const float *src, void *dst, int64_t n) {
    elmk_fp32_to_fp16_row(src, dst, n);
}

void elmk_f16_vec_dot_ref(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w;
    const float *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += elmk_fp16_to_fp32(x[i]) * y[i];
    *s = sum;
}

/* ==== BF16 =============================================================================== */

void elmk_bf16_to_float_ref(const void *src, float *dst, int64_t n) {
    const uint16_t *x = src;
    for (int64_t i = 0; i < n; i++) dst[i] = elmk_bf16_to_fp32(x[i]);
}

void elmk_bf16_from_float_ref(const float *src, void *dst, int64_t n) {
    uint16_t *y = dst;
    for (int64_t i = 0; i < n; i++) y[i] = elmk_fp32_to_bf16(src[i]);
}

void elmk_bf16_vec_dot_ref(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w;
    const float *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += elmk_bf16_to_fp32(x[i]) * y[i];
    *s = sum;
}
