/* quants_float.c: scalar reference for the plain float weight types F32, F16 and BF16.
 *
 * Activations are F32 for F32 weights, and are rounded to the weight's own type for F16
 * and BF16 (ggml's vec_dot_type), as llama.cpp does before its products. The dot products
 * repeat llama.cpp's x86 (AVX-512) float operations exactly, chosen by the row length n as
 * its matrix product chooses them:
 *   F32, F16 with n % 16 == 0 (its tinyBLAS, 16 lanes): lane j = fma over the elements
 *     i = j mod 16 in order, then elmk_hsum16;
 *   BF16 with n % 32 == 0 (tinyBLAS with vdpbf16ps): 16 lanes, lane j takes the pairs
 *     (32k+2j, 32k+2j+1), odd element first, each addition rounded; then elmk_hsum16;
 *   otherwise ggml_vec_dot_f32/f16/bf16: 64 elements per step in 4 x 16 lanes (BF16: 2 x
 *     32 with vdpbf16ps), reduced, then the leftover elements one by one (F16 and BF16 in
 *     double; F32 in float, the products of whole 16s and 8s rounded, the last 0-7 fused,
 *     as gcc vectorised ggml's loop).
 * Must not: contain SIMD code or allocate.
 */
#include "ref.h"

#include <math.h>
#include <string.h>

/* Products and sums round separately unless written as fmaf (clang may otherwise fuse). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

enum { K_F32, K_F16, K_BF16 };

static inline float ld(const void *p, int64_t i, int kind) {
    if (kind == K_F32) return ((const float *)p)[i];
    if (kind == K_F16) return elmk_fp16_to_fp32(((const uint16_t *)p)[i]);
    return elmk_bf16_to_fp32(((const uint16_t *)p)[i]);
}

/* vdpbf16ps on one lane: c += x1*y1 (the odd element), then c += x0*y0; the products of
 * two bfloat16 are exact in float, each addition rounds. */
static inline float bf16_pair(float c, float x0, float y0, float x1, float y1) {
    c = c + x1 * y1;
    return c + x0 * y0;
}

/* 16 lanes over [i0, i1), 16 elements per step (tinyBLAS's 16-lane registers) */
static void lanes16(float acc[16], const void *w, const void *a, int64_t i0, int64_t i1, int kind) {
    for (int64_t i = i0; i < i1; i += 16)
        for (int j = 0; j < 16; j++) acc[j] = fmaf(ld(w, i + j, kind), ld(a, i + j, kind), acc[j]);
}

/* BF16: 16 lanes over [i0, i1), 32 elements per step */
static void lanes16_bf16(float acc[16], const uint16_t *w, const uint16_t *a, int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i += 32)
        for (int j = 0; j < 16; j++)
            acc[j] = bf16_pair(acc[j], elmk_bf16_to_fp32(w[i + 2 * j]), elmk_bf16_to_fp32(a[i + 2 * j]),
                               elmk_bf16_to_fp32(w[i + 2 * j + 1]), elmk_bf16_to_fp32(a[i + 2 * j + 1]));
}

/* ggml_vec_dot_f32 / f16: 4 x 16 lanes over the first n & ~63 elements, reduced as
 * (l0 + l2) + (l1 + l3) lane by lane, then elmk_hsum16. */
static float steps64(int64_t np, const void *w, const void *a, int kind) {
    float acc[4][16] = {{0}};
    for (int64_t i = 0; i < np; i += 64)
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 16; j++)
                acc[r][j] = fmaf(ld(w, i + 16 * r + j, kind), ld(a, i + 16 * r + j, kind), acc[r][j]);
    float red[16];
    for (int j = 0; j < 16; j++) red[j] = (acc[0][j] + acc[2][j]) + (acc[1][j] + acc[3][j]);
    return elmk_hsum16(red);
}

static float float_dot(int64_t n, const void *w, const void *a, int kind) {
    if (kind == K_BF16) {
        if (n % 32 == 0) {
            float acc[16] = {0};
            lanes16_bf16(acc, w, a, 0, n);
            return elmk_hsum16(acc);
        }
        /* ggml_vec_dot_bf16: two 16-lane registers over 64-element steps, each reduced into
         * a double, then the leftovers in double */
        const int64_t np = n / 64 * 64;
        float c1[16] = {0}, c2[16] = {0};
        for (int64_t i = 0; i < np; i += 64) {
            lanes16_bf16(c1, w, a, i, i + 32);
            lanes16_bf16(c2, w, a, i + 32, i + 64);
        }
        double sum = 0.0;
        sum += (double)elmk_hsum16(c1);
        sum += (double)elmk_hsum16(c2);
        for (int64_t i = np; i < n; i++) sum += (double)(ld(w, i, kind) * ld(a, i, kind));
        return (float)sum;
    }
    if (n % 16 == 0) {
        float acc[16] = {0};
        lanes16(acc, w, a, 0, n, kind);
        return elmk_hsum16(acc);
    }
    const int64_t np = n / 64 * 64;
    if (kind == K_F32) {
        /* ggml's leftover loop as gcc vectorised it: whole 16s, then one 8, multiplied
         * in vectors and added in order; the last 0-7 elements with scalar fma */
        const int64_t left = n - np;
        const int64_t vec = left / 16 * 16 + (left % 16 >= 8 ? 8 : 0);
        float sum = steps64(np, w, a, kind);
        for (int64_t i = np; i < np + vec; i++) sum += ld(w, i, kind) * ld(a, i, kind);
        for (int64_t i = np + vec; i < n; i++) sum = fmaf(ld(w, i, kind), ld(a, i, kind), sum);
        return sum;
    }
    double sum = (double)steps64(np, w, a, kind);
    for (int64_t i = np; i < n; i++) sum += (double)(ld(w, i, kind) * ld(a, i, kind));
    return (float)sum;
}

/* ==== F32 ================================================================================ */

void elmk_f32_to_float_ref(const void *src, float *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void elmk_f32_from_float_ref(const float *src, void *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void elmk_f32_vec_dot_ref(int64_t n, float *s, const void *w, const void *a) {
    *s = float_dot(n, w, a, K_F32);
}

/* ==== F16 ================================================================================ */

void elmk_f16_to_float_ref(const void *src, float *dst, int64_t n) {
    elmk_fp16_to_fp32_row(src, dst, n);
}

void elmk_f16_from_float_ref(const float *src, void *dst, int64_t n) {
    elmk_fp32_to_fp16_row(src, dst, n);
}

void elmk_f16_vec_dot_ref(int64_t n, float *s, const void *w, const void *a) {
    *s = float_dot(n, w, a, K_F16);
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
    *s = float_dot(n, w, a, K_BF16);
}
