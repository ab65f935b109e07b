/* ops.c: small float row operations of a forward pass (see ops.h).
 *
 * Plain C that the compiler vectorises at -O2: loops run in blocks of LANES elements with
 * a fixed-length inner loop (which gcc's cheap vectoriser and clang both turn into vector
 * code) and a scalar tail; reductions keep LANES independent float sums so they vectorise
 * without -ffast-math. Where ggml keeps a sum in double (RMSNorm, softmax), so do we, so
 * that our numbers stay close to llama.cpp's.
 * Must not: know about models; allocate; use intrinsics (ISA-specific code lives in the
 * *_avx2.c / *_neon.c files).
 */
#include "ops.h"

#include <math.h>
#include <string.h>

#include "kernels.h"

#define LANES 16

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

void elmk_silu_mul(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float v = g[i];
        g[i] = v / (1.0f + expf(-v)) * u[i];
    }
}

float elmk_dot(const float *a, const float *b, int64_t n) {
    float acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += a[i + j] * b[i + j];
    float s = 0.0f;
    for (int j = 0; j < LANES; j++) s += acc[j];
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

void elmk_axpy(float *restrict y, float a, const float *restrict x, int64_t n) {
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) y[i + j] += a * x[i + j];
    for (; i < n; i++) y[i] += a * x[i];
}

#if defined(__x86_64__)
/* The active ISA has the AVX2 + F16C versions (x86-64 builds only). */
static bool use_avx2(void) {
    const elmk_isa isa = elmk_active_isa();
    return isa == ELMK_ISA_AVX2 || isa == ELMK_ISA_AVX512;
}
#endif

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

void elmk_dot_rows(float *s, const float *q, const void *K, bool half, int64_t n, int64_t d, float scale) {
#if defined(__x86_64__)
    if (use_avx2()) { elmk_dot_rows_avx2(s, q, K, half, n, d, scale); return; }
#endif
    if (!half) {
        for (int64_t j = 0; j < n; j++) s[j] = scale * elmk_dot(q, (const float *)K + j * d, d);
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        const uint16_t *k = (const uint16_t *)K + j * d;
        float acc[LANES] = {0};
        int64_t i = 0;
        for (; i + LANES <= d; i += LANES)
            for (int l = 0; l < LANES; l++) acc[l] += q[i + l] * half_to_float(k[i + l]);
        float sum = 0.0f;
        for (int l = 0; l < LANES; l++) sum += acc[l];
        for (; i < d; i++) sum += q[i] * half_to_float(k[i]);
        s[j] = scale * sum;
    }
}

void elmk_mix_rows(float *restrict out, const float *p, const void *V, bool half, int64_t n, int64_t d) {
#if defined(__x86_64__)
    if (use_avx2()) { elmk_mix_rows_avx2(out, p, V, half, n, d); return; }
#endif
    for (int64_t i = 0; i < d; i++) out[i] = 0.0f;
    if (!half) {
        for (int64_t j = 0; j < n; j++) elmk_axpy(out, p[j], (const float *)V + j * d, d);
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        const uint16_t *v = (const uint16_t *)V + j * d;
        const float w = p[j];
        int64_t i = 0;
        for (; i + LANES <= d; i += LANES)
            for (int l = 0; l < LANES; l++) out[i + l] += w * half_to_float(v[i + l]);
        for (; i < d; i++) out[i] += w * half_to_float(v[i]);
    }
}

void elmk_softmax(float *x, int64_t n) {
#if defined(__x86_64__)
    if (use_avx2()) { elmk_softmax_avx2(x, n); return; }
#endif
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float e = expf(x[i] - max);
        x[i] = e;
        sum += (double)e;
    }
    const float inv = (float)(1.0 / sum);
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) x[i + j] *= inv;
    for (; i < n; i++) x[i] *= inv;
}

void elmk_round_to_fp16(float *x, uint16_t *tmp, int64_t n) {
#if defined(__x86_64__)
    if (use_avx2()) { elmk_round_to_fp16_avx2(x, n); return; }
#endif
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

void elmk_rope_adjacent(float *x, const float *cs, int64_t n_rot) {
    for (int64_t i = 0; i < n_rot / 2; i++) {
        const float c = cs[2 * i], s = cs[2 * i + 1];
        const float x0 = x[2 * i], x1 = x[2 * i + 1];
        x[2 * i] = x0 * c - x1 * s;
        x[2 * i + 1] = x0 * s + x1 * c;
    }
}

void elmk_rope_halves(float *x, const float *cs, int64_t n_rot) {
    const int64_t h = n_rot / 2;
    for (int64_t i = 0; i < h; i++) {
        const float c = cs[2 * i], s = cs[2 * i + 1];
        const float x0 = x[i], x1 = x[i + h];
        x[i] = x0 * c - x1 * s;
        x[i + h] = x0 * s + x1 * c;
    }
}
