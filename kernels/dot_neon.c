/* dot_neon.c: ARMv8.0 NEON kernels (compiled with -march=armv8-a, aarch64 builds only).
 * The integer dot products come from dot_neon_body.h with a 16-lane int8 dot built from
 * widening multiplies (vmull_s8) and pairwise accumulation (vpadalq_s16): every product
 * fits int16 (|q| <= 128), every pair sum is taken in int32, so the block sums are exact.
 * The float types are here too (F32 x F32, F16 x F16, BF16 x BF16: activations come in
 * the weight's type, ggml's vec_dot_type); the dotprod build keeps them, since sdot does
 * not help them. Their sums are in 16 lanes of 4 registers, not in llama.cpp's x86 order:
 * close to the scalar reference, not bit-identical.
 * Must not: change entries of types it does not accelerate; use ARMv8.1+ instructions. */
#include <arm_neon.h>

#include "kernels.h"

static inline int32x4_t neon_dot16(int32x4_t acc, int8x16_t a, int8x16_t b) {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
}
#define NEON_DOT16(acc, a, b) neon_dot16((acc), (a), (b))
#include "dot_neon_body.h"

/* ==== Float weights, activations of the same type ======================================== */

/* Four independent accumulators of 4 lanes hide the FMA latency; the tail (n % 16) is
 * summed on its own and added last. */
static inline float nf_finish(float32x4_t s0, float32x4_t s1, float32x4_t s2, float32x4_t s3) {
    return vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
}

static void nf_vec_dot_f32(int64_t n, float *s, const void *w, const void *a) {
    const float *x = w, *y = a;
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(x + i), vld1q_f32(y + i));
        s1 = vfmaq_f32(s1, vld1q_f32(x + i + 4), vld1q_f32(y + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(x + i + 8), vld1q_f32(y + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(x + i + 12), vld1q_f32(y + i + 12));
    }
    float sum = nf_finish(s0, s1, s2, s3);
    for (; i < n; i++) sum += x[i] * y[i];
    *s = sum;
}

static void nf_vec_dot_f16(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w, *y = a;
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const float16x8_t h0 = vreinterpretq_f16_u16(vld1q_u16(x + i));
        const float16x8_t h1 = vreinterpretq_f16_u16(vld1q_u16(x + i + 8));
        const float16x8_t g0 = vreinterpretq_f16_u16(vld1q_u16(y + i));
        const float16x8_t g1 = vreinterpretq_f16_u16(vld1q_u16(y + i + 8));
        s0 = vfmaq_f32(s0, vcvt_f32_f16(vget_low_f16(h0)), vcvt_f32_f16(vget_low_f16(g0)));
        s1 = vfmaq_f32(s1, vcvt_high_f32_f16(h0), vcvt_high_f32_f16(g0));
        s2 = vfmaq_f32(s2, vcvt_f32_f16(vget_low_f16(h1)), vcvt_f32_f16(vget_low_f16(g1)));
        s3 = vfmaq_f32(s3, vcvt_high_f32_f16(h1), vcvt_high_f32_f16(g1));
    }
    float sum = nf_finish(s0, s1, s2, s3);
    for (; i < n; i++) sum += elmk_fp16_to_fp32(x[i]) * elmk_fp16_to_fp32(y[i]);
    *s = sum;
}

/* A bfloat16 is the top half of a float32: widening by a 16-bit left shift is exact. */
#define NF_BF16(v) vreinterpretq_f32_u32(vshll_n_u16((v), 16))
#define NF_BF16_HI(v) vreinterpretq_f32_u32(vshll_high_n_u16((v), 16))
static void nf_vec_dot_bf16(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w, *y = a;
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const uint16x8_t b0 = vld1q_u16(x + i), b1 = vld1q_u16(x + i + 8);
        const uint16x8_t c0 = vld1q_u16(y + i), c1 = vld1q_u16(y + i + 8);
        s0 = vfmaq_f32(s0, NF_BF16(vget_low_u16(b0)), NF_BF16(vget_low_u16(c0)));
        s1 = vfmaq_f32(s1, NF_BF16_HI(b0), NF_BF16_HI(c0));
        s2 = vfmaq_f32(s2, NF_BF16(vget_low_u16(b1)), NF_BF16(vget_low_u16(c1)));
        s3 = vfmaq_f32(s3, NF_BF16_HI(b1), NF_BF16_HI(c1));
    }
    float sum = nf_finish(s0, s1, s2, s3);
    for (; i < n; i++) sum += elmk_bf16_to_fp32(x[i]) * elmk_bf16_to_fp32(y[i]);
    *s = sum;
}

void elmk_fill_ops_neon(elmk_type_ops table[ELM_TYPE_COUNT]) {
    table[ELM_TYPE_F32].vec_dot = nf_vec_dot_f32;
    table[ELM_TYPE_F16].vec_dot = nf_vec_dot_f16;
    table[ELM_TYPE_BF16].vec_dot = nf_vec_dot_bf16;
    nb_fill_integer_ops(table);
}
