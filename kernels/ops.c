/* ops.c: small float row operations of a forward pass (see ops.h).
 *
 * Plain C that the compiler vectorises: reductions use 16 independent float lanes so they
 * vectorise without -ffast-math. Where ggml keeps a sum in double (RMSNorm, softmax), so
 * do we, so that our numbers stay close to llama.cpp's.
 * Must not: know about models; allocate; use intrinsics (ISA-specific code lives in the
 * *_avx2.c / *_neon.c files).
 */
#include "ops.h"

#include <math.h>

#include "kernels.h"

#define LANES 16

void elmk_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    /* two roundings, as ggml does: first the normalisation, then the weight */
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i] * scale;
        y[i] = v * w[i];
    }
}

void elmk_add(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
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

void elmk_axpy(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

void elmk_softmax(float *x, int64_t n) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float e = expf(x[i] - max);
        x[i] = e;
        sum += (double)e;
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
