/* ops.c: small float row operations of a forward pass (see ops.h), portable versions.
 *
 * Each one repeats the float operations of llama.cpp's x86 (AVX-512) build exactly, so a
 * forward pass agrees with llama.cpp bit for bit: sums of squares and softmax sums in
 * double, exp through ggml's polynomial (elmk_expf_ggml) in 16-lane chunks, attention
 * products with the 16-lane structure of its matrix products, RoPE with the fused
 * multiply-adds its compiler made. The AVX2 / AVX-512 versions (ops_avx2.c,
 * ops_avx512.c) give the same bits faster; the functions here call them when the active
 * ISA has them.
 * Must not: know about models; allocate; use intrinsics (ISA-specific code lives in the
 * *_avx2.c / *_avx512.c files).
 */
#include "ops.h"

#include <math.h>
#include <string.h>

#include "kernels.h"
#include "ref.h"

/* Products and sums round separately unless written as fmaf. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define LANES 16

#if defined(__x86_64__)
static elmk_isa x86_level(void) {
    const elmk_isa isa = elmk_active_isa();
    return isa == ELMK_ISA_AVX2 || isa == ELMK_ISA_AVX512 ? isa : ELMK_ISA_SCALAR;
}
#endif

void elmk_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    /* two roundings, as ggml does: first the normalisation, then the weight */
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) y[i + j] = (x[i + j] * scale) * w[i + j];
    for (; i < n; i++) y[i] = (x[i] * scale) * w[i];
}

void elmk_add(float *restrict y, const float *restrict x, int64_t n) {
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) y[i + j] += x[i + j];
    for (; i < n; i++) y[i] += x[i];
}

/* ggml_v_expf (its AVX-512 form), one lane: x = n ln2 + b with n = round(x / ln2) found by
 * the 1.5 * 2^23 trick, b in two pieces, e^b by a degree-5 polynomial in fma form, then
 * j * 2^n rounded once (vscalefps); |n| > 192 gives 0 or infinity. */
float elmk_expf_ggml(float x) {
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    if (fabsf(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;   /* NaN falls through to NaN */
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
                         fmaf(0x1.ffffecp-1f, b, 1.0f));
    return ldexpf(j, (int)n);
}

void elmk_silu_mul(float *g, const float *u, int64_t n) {
#if defined(__x86_64__)
    if (x86_level() == ELMK_ISA_AVX512) { elmk_silu_mul_avx512(g, u, n); return; }
    if (x86_level() == ELMK_ISA_AVX2) { elmk_silu_mul_avx2(g, u, n); return; }
#endif
    /* ggml_vec_silu_f32: 16 lanes through ggml_v_silu, the rest with libm's expf; then
     * ggml_mul by the up projection */
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            const float v = g[i + j];
            g[i + j] = v / (1.0f + elmk_expf_ggml(0.0f - v)) * u[i + j];
        }
    for (; i < n; i++) {
        const float v = g[i];
        g[i] = v / (1.0f + expf(-v)) * u[i];
    }
}

/* An IEEE half to float, exactly, without branches or calls so loops over it vectorise:
 * the half's exponent and mantissa, placed in a float's low bits, are the value times
 * 2^-112 (also for subnormal halves, which land on float subnormals); one exact
 * multiplication rebiases. Infinities and NaNs keep their payload. (Needs subnormals
 * not flushed to zero, the C default.) */
static inline float half_to_float(uint16_t h) {
    const uint32_t em = h & 0x7FFFu;
    uint32_t u = em << 13;
    float f;
    memcpy(&f, &u, sizeof f);
    f *= 0x1p112f;
    memcpy(&u, &f, sizeof u);
    const uint32_t special = 0u - (uint32_t)(em >= 0x7C00u);          /* all ones for inf/NaN */
    u = (u & ~special) | ((0x7F800000u | ((em & 0x3FFu) << 13)) & special);
    u |= (uint32_t)(h & 0x8000u) << 16;
    memcpy(&f, &u, sizeof f);
    return f;
}

void elmk_dot_rows(float *s, const void *q, const void *K, bool half, int64_t n, int64_t d, float scale) {
    /* ggml multiplies the cache's keys by the query with the F16 (or F32) weight kernel */
    const elmk_type_ops *ops = elmk_get_ops(half ? ELM_TYPE_F16 : ELM_TYPE_F32);
    const size_t row = (size_t)d * (half ? 2 : 4);
    int64_t j = 0;
    if (ops->gemm && ops->gemm_nr > 0) {
        const int nr = ops->gemm_nr;
        for (; j + nr <= n; j += nr) ops->gemm(d, s + j, 1, (const char *)K + (size_t)j * row, row, q, row, nr, 1);
    }
    for (; j < n; j++) ops->vec_dot(d, s + j, (const char *)K + (size_t)j * row, q);
    for (j = 0; j < n; j++) s[j] *= scale;
}

void elmk_mix_rows(float *restrict out, const float *p, const void *V, bool half, int64_t n, int64_t d) {
#if defined(__x86_64__)
    if (x86_level() == ELMK_ISA_AVX512) { elmk_mix_rows_avx512(out, p, V, half, n, d); return; }
    if (x86_level() == ELMK_ISA_AVX2) { elmk_mix_rows_avx2(out, p, V, half, n, d); return; }
#endif
    /* llama.cpp's tinyBLAS over positions: lane l of output i takes the positions j with
     * j % 16 == l, fma in order; then elmk_hsum16 (padding positions add exact zeros) */
    for (int64_t c0 = 0; c0 < d; c0 += LANES) {
        const int64_t nc = d - c0 < LANES ? d - c0 : LANES;
        float acc[LANES][LANES] = {{0}};   /* [lane][column] */
        for (int64_t j = 0; j < n; j++) {
            float *a = acc[j % LANES];
            if (half) {
                const uint16_t *v = (const uint16_t *)V + (size_t)j * d + c0;
                for (int64_t c = 0; c < nc; c++) a[c] = fmaf(half_to_float(v[c]), p[j], a[c]);
            } else {
                const float *v = (const float *)V + (size_t)j * d + c0;
                for (int64_t c = 0; c < nc; c++) a[c] = fmaf(v[c], p[j], a[c]);
            }
        }
        for (int64_t c = 0; c < nc; c++) {
            float lanes[LANES];
            for (int l = 0; l < LANES; l++) lanes[l] = acc[l][c];
            out[c0 + c] = elmk_hsum16(lanes);
        }
    }
}

void elmk_softmax(float *x, int64_t n) {
#if defined(__x86_64__)
    if (x86_level() == ELMK_ISA_AVX512) { elmk_softmax_avx512(x, n); return; }
    if (x86_level() == ELMK_ISA_AVX2) { elmk_softmax_avx2(x, n); return; }
#endif
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
    /* ggml_vec_soft_max_f32 over the cache's padded row: chunks of 16, each summed in
     * _mm512_reduce_add_ps's order and added into a double; positions past n are -inf
     * (masked) and give exact zeros */
    double sum = 0.0;
    for (int64_t i = 0; i < n; i += LANES) {
        float e[LANES];
        for (int j = 0; j < LANES; j++) e[j] = i + j < n ? elmk_expf_ggml(x[i + j] - max) : 0.0f;
        for (int j = 0; j < LANES && i + j < n; j++) x[i + j] = e[j];
        sum += (double)elmk_hsum16(e);
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

void elmk_round_to_fp16(float *x, uint16_t *tmp, int64_t n) {
    elmk_fp32_to_fp16_row(x, tmp, n);
    elmk_fp16_to_fp32_row(tmp, x, n);
}

void elmk_rope_angles(float *cs, int64_t n_rot, float pos, float base, float freq_scale, const float *ff) {
    /* ggml's order of operations: the per-pair factor is a running product in float,
     * the frequency factor divides before the linear scale multiplies. */
    const float step = powf(base, -2.0f / (float)n_rot);
    float theta = pos;
    for (int64_t i = 0; i < n_rot / 2; i++) {
        const float t = freq_scale * (ff ? theta / ff[i] : theta);
        cs[2 * i] = cosf(t);
        cs[2 * i + 1] = sinf(t);
        theta *= step;
    }
}

/* The rotations as llama.cpp's build computes them: its compiler (gcc 12, -O3
 * -march=native) fused one product of each pair into an fma: x0*c - (x1*s) and
 * x0*s + (x1*c). With adjacent pairs it vectorised the loop, 8 pairs per zmm step and
 * one ymm step of 4, and left the last 0-3 pairs unfused (vaddsubps); with halves it
 * kept the scalar loop, fused throughout. */
void elmk_rope_adjacent(float *x, const float *cs, int64_t n_rot) {
    const int64_t np = n_rot / 2;
    const int64_t fused = np / 8 * 8 + (np % 8 >= 4 ? 4 : 0);
    for (int64_t i = 0; i < np; i++) {
        const float c = cs[2 * i], s = cs[2 * i + 1];
        const float x0 = x[2 * i], x1 = x[2 * i + 1];
        if (i < fused) {
            x[2 * i] = fmaf(x0, c, -(x1 * s));
            x[2 * i + 1] = fmaf(x0, s, x1 * c);
        } else {
            x[2 * i] = x0 * c - x1 * s;
            x[2 * i + 1] = x0 * s + x1 * c;
        }
    }
}

void elmk_rope_halves(float *x, const float *cs, int64_t n_rot) {
    const int64_t h = n_rot / 2;
    for (int64_t i = 0; i < h; i++) {
        const float c = cs[2 * i], s = cs[2 * i + 1];
        const float x0 = x[i], x1 = x[i + h];
        x[i] = fmaf(x0, c, -(x1 * s));
        x[i + h] = fmaf(x0, s, x1 * c);
    }
}
