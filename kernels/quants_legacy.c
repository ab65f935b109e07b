/* quants_legacy.c: scalar reference for the 32-element block types Q4_0, Q4_1, Q5_0, Q5_1,
 * Q8_0 and the activation type Q8_1.
 *
 * Layout of a block (blocks.h): a half-precision scale d (and for *_1 types a half minimum
 * m), then the quants. 4-bit quants are packed two per byte: byte j holds element j in its
 * low nibble and element j+16 in its high nibble. The 5-bit types keep the fifth bits in a
 * 32-bit little-endian mask qh: bit j belongs to element j.
 *   Q4_0: x = d*(q - 8)     Q4_1: x = d*q + m     Q5_0: x = d*(q - 16)     Q5_1: x = d*q + m
 *   Q8_0: x = d*q           Q8_1: x = d*q, and s = d*sum(q) for the dot products' min term
 *
 * Quantizers follow ggml's quantize_row_*_ref step for step (same float operations in the
 * same order, same truncations), so a file we write matches llama.cpp's byte for byte.
 * Activation quantizers (elmk_q8_0_quantize_ref, elmk_q8_1_quantize_ref) are not ggml's
 * reference formulas but what llama.cpp's x86 build runs on activations: id = 127/amax and
 * round half to even (its quantize_row_q8_0/q8_1 AVX path).
 * Dot products follow llama.cpp's x86 kernels float op for float op (the integer sums are
 * exact in any order; only where the floats round matters):
 *   Q8_0, Q5_0 (its tinyBLAS / vec_dot AVX2) and Q4_1, Q5_1 (vec_dot AVX2): 8 float lanes,
 *     lane l = fma(d_w*d_a, isum of elements 4l..4l+3, lane l) block after block, then
 *     elmk_hsum8; the *_1 types add sum of fma(m_w, s_a) over blocks at the end;
 *   Q4_0 (its repacked Q4_0x8 GEMM, used on every Q4_0 matrix with rows % 8 == 0):
 *     one float, acc = fma(isum, d_w*d_a, acc) block after block.
 * Must not: contain SIMD code or allocate.
 */
#include "ref.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Products and sums round separately unless written as fmaf (the compiler must not fuse
 * on its own: every fusion llama.cpp's build makes is spelled out). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define HALF(h) elmk_fp16_to_fp32(h)

/* float -> integer by truncation toward zero, as C's cast does for the in-range values the
 * quantizers produce; out-of-range values saturate and NaN gives 0 instead of being
 * undefined behaviour (only possible for non-finite input). */
static inline int trunc_to_int(float v) {
    if (v > -129.0f && v < 128.0f) return (int)v;
    return v > 0 ? 127 : (v < 0 ? -128 : 0);
}

static inline int min_int(int a, int b) { return a < b ? a : b; }

/* The 8 lanes of a 32-element block's integer dot product: lane l holds elements 4l..4l+3
 * (the int32 lanes of ggml's maddubs+madd or vpdpbusd on one block). */
static inline void lane_isums(const int w[32], const int8_t a[32], int lanes[8]) {
    for (int l = 0; l < 8; l++)
        lanes[l] = w[4 * l] * a[4 * l] + w[4 * l + 1] * a[4 * l + 1] + w[4 * l + 2] * a[4 * l + 2] +
                   w[4 * l + 3] * a[4 * l + 3];
}

/* acc[l] = fma(d, lanes[l], acc[l]) */
static inline void lanes_fma(float acc[8], float d, const int lanes[8]) {
    for (int l = 0; l < 8; l++) acc[l] = fmaf(d, (float)lanes[l], acc[l]);
}

static inline uint32_t load_qh(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static inline void store_qh(uint8_t qh[4], uint32_t v) {
    for (int i = 0; i < 4; i++) qh[i] = (uint8_t)(v >> (8 * i));
}

/* The value with the largest magnitude in x[0..n) (the first one on ties), with its sign. */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, int n, float *min, float *max) {
    *min = FLT_MAX;
    *max = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < *min) *min = x[j];
        if (x[j] > *max) *max = x[j];
    }
}

/* ==== Q4_0 =============================================================================== */

void elmk_q4_0_to_float_ref(const void *src, float *dst, int64_t n) {
    const block_q4_0 *b = src;
    for (int64_t i = 0; i < n / QK4_0; i++, dst += QK4_0) {
        const float d = HALF(b[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            dst[j] = ((b[i].qs[j] & 0x0F) - 8) * d;
            dst[j + QK4_0 / 2] = ((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

/* d = -max/8 so that the largest-magnitude value maps exactly to q = 0 (-8 * d = max). */
void elmk_q4_0_from_float_ref(const float *src, void *dst, int64_t n) {
    block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / QK4_0; i++, src += QK4_0) {
        const float d = signed_absmax(src, QK4_0) / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = elmk_fp32_to_fp16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int q0 = min_int(15, trunc_to_int(src[j] * id + 8.5f));
            const int q1 = min_int(15, trunc_to_int(src[j + QK4_0 / 2] * id + 8.5f));
            b[i].qs[j] = (uint8_t)((q0 & 0xF) | (q1 & 0xF) << 4);
        }
    }
}

void elmk_q4_0_vec_dot_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        int isum = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            isum += ((x[i].qs[j] & 0x0F) - 8) * y[i].qs[j];
            isum += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + QK4_0 / 2];
        }
        sum = fmaf((float)isum, HALF(x[i].d) * HALF(y[i].d), sum);
    }
    *s = sum;
}

/* ==== Q4_1 =============================================================================== */

void elmk_q4_1_to_float_ref(const void *src, float *dst, int64_t n) {
    const block_q4_1 *b = src;
    for (int64_t i = 0; i < n / QK4_1; i++, dst += QK4_1) {
        const float d = HALF(b[i].d), m = HALF(b[i].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            dst[j] = (b[i].qs[j] & 0x0F) * d + m;
            dst[j + QK4_1 / 2] = (b[i].qs[j] >> 4) * d + m;
        }
    }
}

/* The block's range [min, max] is cut into 15 steps; m stores min itself. */
void elmk_q4_1_from_float_ref(const float *src, void *dst, int64_t n) {
    block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / QK4_1; i++, src += QK4_1) {
        float min, max;
        min_max(src, QK4_1, &min, &max);
        const float d = (max - min) / 15;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = elmk_fp32_to_fp16(d);
        b[i].m = elmk_fp32_to_fp16(min);
        for (int j = 0; j < QK4_1 / 2; j++) {
            const int q0 = min_int(15, trunc_to_int((src[j] - min) * id + 0.5f));
            const int q1 = min_int(15, trunc_to_int((src[j + QK4_1 / 2] - min) * id + 0.5f));
            b[i].qs[j] = (uint8_t)((q0 & 0xF) | (q1 & 0xF) << 4);
        }
    }
}

void elmk_q4_1_vec_dot_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    /* sum_j (d_w q_j + m_w) * d_a a_j = d_w d_a isum + m_w * (d_a sum_j a_j) */
    float acc[8] = {0}, summs = 0.0f;
    for (int64_t i = 0; i < n / QK4_1; i++) {
        int q[32], lanes[8];
        for (int j = 0; j < QK4_1 / 2; j++) {
            q[j] = x[i].qs[j] & 0x0F;
            q[j + QK4_1 / 2] = x[i].qs[j] >> 4;
        }
        lane_isums(q, y[i].qs, lanes);
        summs = fmaf(HALF(x[i].m), HALF(y[i].s), summs);
        lanes_fma(acc, HALF(x[i].d) * HALF(y[i].d), lanes);
    }
    *s = elmk_hsum8(acc) + summs;
}

/* ==== Q5_0 =============================================================================== */

/* The 5-bit quant of element j (0..31) of a Q5_0/Q5_1 block. */
static inline int q5_value(const uint8_t *qs, uint32_t qh, int j) {
    const int lo = j < 16 ? (qs[j] & 0x0F) : (qs[j - 16] >> 4);
    return lo | (int)((qh >> j) & 1u) << 4;
}

void elmk_q5_0_to_float_ref(const void *src, float *dst, int64_t n) {
    const block_q5_0 *b = src;
    for (int64_t i = 0; i < n / QK5_0; i++, dst += QK5_0) {
        const float d = HALF(b[i].d);
        const uint32_t qh = load_qh(b[i].qh);
        for (int j = 0; j < QK5_0; j++) dst[j] = (q5_value(b[i].qs, qh, j) - 16) * d;
    }
}

void elmk_q5_0_from_float_ref(const float *src, void *dst, int64_t n) {
    block_q5_0 *b = dst;
    for (int64_t i = 0; i < n / QK5_0; i++, src += QK5_0) {
        const float d = signed_absmax(src, QK5_0) / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = elmk_fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            const int q0 = min_int(31, trunc_to_int(src[j] * id + 16.5f));
            const int q1 = min_int(31, trunc_to_int(src[j + QK5_0 / 2] * id + 16.5f));
            b[i].qs[j] = (uint8_t)((q0 & 0xF) | (q1 & 0xF) << 4);
            qh |= (uint32_t)((q0 >> 4) & 1) << j;
            qh |= (uint32_t)((q1 >> 4) & 1) << (j + QK5_0 / 2);
        }
        store_qh(b[i].qh, qh);
    }
}

void elmk_q5_0_vec_dot_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / QK5_0; i++) {
        const uint32_t qh = load_qh(x[i].qh);
        int q[32], lanes[8];
        for (int j = 0; j < QK5_0; j++) q[j] = q5_value(x[i].qs, qh, j) - 16;
        lane_isums(q, y[i].qs, lanes);
        lanes_fma(acc, HALF(x[i].d) * HALF(y[i].d), lanes);
    }
    *s = elmk_hsum8(acc);
}

/* ==== Q5_1 =============================================================================== */

void elmk_q5_1_to_float_ref(const void *src, float *dst, int64_t n) {
    const block_q5_1 *b = src;
    for (int64_t i = 0; i < n / QK5_1; i++, dst += QK5_1) {
        const float d = HALF(b[i].d), m = HALF(b[i].m);
        const uint32_t qh = load_qh(b[i].qh);
        for (int j = 0; j < QK5_1; j++) dst[j] = q5_value(b[i].qs, qh, j) * d + m;
    }
}

/* Like Q4_1 with 31 steps; ggml does not clamp these quants to 31 (they cannot exceed it
 * by more than rounding, and the cast truncates). */
void elmk_q5_1_from_float_ref(const float *src, void *dst, int64_t n) {
    block_q5_1 *b = dst;
    for (int64_t i = 0; i < n / QK5_1; i++, src += QK5_1) {
        float min, max;
        min_max(src, QK5_1, &min, &max);
        const float d = (max - min) / 31;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = elmk_fp32_to_fp16(d);
        b[i].m = elmk_fp32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            const int q0 = trunc_to_int((src[j] - min) * id + 0.5f) & 0xFF;
            const int q1 = trunc_to_int((src[j + QK5_1 / 2] - min) * id + 0.5f) & 0xFF;
            b[i].qs[j] = (uint8_t)((q0 & 0xF) | (q1 & 0xF) << 4);
            qh |= (uint32_t)((q0 >> 4) & 1) << j;
            qh |= (uint32_t)((q1 >> 4) & 1) << (j + QK5_1 / 2);
        }
        store_qh(b[i].qh, qh);
    }
}

void elmk_q5_1_vec_dot_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_1 *x = w;
    const block_q8_1 *y = a;
    float acc[8] = {0}, summs = 0.0f;
    for (int64_t i = 0; i < n / QK5_1; i++) {
        const uint32_t qh = load_qh(x[i].qh);
        int q[32], lanes[8];
        for (int j = 0; j < QK5_1; j++) q[j] = q5_value(x[i].qs, qh, j);
        lane_isums(q, y[i].qs, lanes);
        summs = fmaf(HALF(x[i].m), HALF(y[i].s), summs);
        lanes_fma(acc, HALF(x[i].d) * HALF(y[i].d), lanes);
    }
    *s = elmk_hsum8(acc) + summs;
}

/* ==== Q8_0 and Q8_1 ====================================================================== */

/* d = absmax/127 and q = round(x/d), rounding halves away from zero (roundf). */
static float q8_block(const float *x, int8_t *q, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; j++) amax = amax > fabsf(x[j]) ? amax : fabsf(x[j]);
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < n; j++) q[j] = (int8_t)trunc_to_int(roundf(x[j] * id));
    return d;
}

void elmk_q8_0_to_float_ref(const void *src, float *dst, int64_t n) {
    const block_q8_0 *b = src;
    for (int64_t i = 0; i < n / QK8_0; i++, dst += QK8_0) {
        const float d = HALF(b[i].d);
        for (int j = 0; j < QK8_0; j++) dst[j] = b[i].qs[j] * d;
    }
}

void elmk_q8_0_from_float_ref(const float *src, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK8_0; i++, src += QK8_0)
        b[i].d = elmk_fp32_to_fp16(q8_block(src, b[i].qs, QK8_0));
}

void elmk_q8_0_vec_dot_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q8_0 *x = w, *y = a;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int q[32], lanes[8];
        for (int j = 0; j < QK8_0; j++) q[j] = x[i].qs[j];
        lane_isums(q, y[i].qs, lanes);
        lanes_fma(acc, HALF(x[i].d) * HALF(y[i].d), lanes);
    }
    *s = elmk_hsum8(acc);
}

/* ggml has no to_float for Q8_1; this one reads it like Q8_0 (s is redundant there). */
void elmk_q8_1_to_float_ref(const void *src, float *dst, int64_t n) {
    const block_q8_1 *b = src;
    for (int64_t i = 0; i < n / QK8_1; i++, dst += QK8_1) {
        const float d = HALF(b[i].d);
        for (int j = 0; j < QK8_1; j++) dst[j] = b[i].qs[j] * d;
    }
}

/* s is computed from the unrounded float d, as ggml does. */
void elmk_q8_1_from_float_ref(const float *src, void *dst, int64_t n) {
    block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / QK8_1; i++, src += QK8_1) {
        const float d = q8_block(src, b[i].qs, QK8_1);
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) sum += b[i].qs[j];
        b[i].d = elmk_fp32_to_fp16(d);
        b[i].s = elmk_fp32_to_fp16((float)sum * d);
    }
}

/* ==== Activation quantizers (llama.cpp's x86 quantize_row_q8_0 / q8_1) =================== */

/* d = amax/127 as ggml's reference, but the codes use id = 127/amax (not 1/d) and round
 * half to even; returns d. */
static float q8_block_act(const float *x, int8_t *q) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) amax = amax > fabsf(x[j]) ? amax : fabsf(x[j]);
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    for (int j = 0; j < 32; j++) {
        const float v = x[j] * id;
        /* |v| <= 127 (plus rounding): nearest_int is exact there; NaN gives 0 */
        q[j] = (int8_t)(v == v ? min_int(127, elmk_nearest_int(v < -127.0f ? -127.0f : v)) : 0);
    }
    return d;
}

void elmk_q8_0_quantize_ref(const float *src, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK8_0; i++, src += QK8_0) b[i].d = elmk_fp32_to_fp16(q8_block_act(src, b[i].qs));
}

void elmk_q8_1_quantize_ref(const float *src, void *dst, int64_t n) {
    block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / QK8_1; i++, src += QK8_1) {
        const float d = q8_block_act(src, b[i].qs);
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) sum += b[i].qs[j];
        b[i].d = elmk_fp32_to_fp16(d);
        b[i].s = elmk_fp32_to_fp16(d * (float)sum);
    }
}
