/* ops.h: the small float operations a forward pass needs besides matrix products (internal).
 *
 * Named by their math, not by where a model uses them. Each repeats the float operations
 * of llama.cpp's x86 build (ggml's CPU backend, AVX-512, gcc), so that a forward pass
 * agrees with llama.cpp bit for bit: see ops.c for each one's order of operations.
 *
 * Must not: know about models, layers or files; allocate; use threads.
 */
#ifndef ELMK_OPS_H
#define ELMK_OPS_H

#include <stdbool.h>
#include <stdint.h>

/* y[i] = x[i] * (1 / sqrt(mean(x^2) + eps)) * w[i]   (x and y may be the same row) */
void elmk_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps);

/* y[i] += x[i]   (y and x do not overlap) */
void elmk_add(float *restrict y, const float *restrict x, int64_t n);

/* g[i] = silu(g[i]) * u[i], silu(v) = v / (1 + exp(-v))   (the SwiGLU gate) */
void elmk_silu_mul(float *g, const float *u, int64_t n);

/* exp(x) exactly as ggml's vectorised ggml_v_expf computes it (not libm's expf) */
float elmk_expf_ggml(float x);

/* Attention over the cache, F32 or IEEE half (half = true, raw bits):
 *   elmk_dot_rows:  s[j] = scale * dot(q, K[j])   for j < n; q is in the cache's format
 *                   (F16 bits when half), K holds n rows of d elements
 *   elmk_mix_rows:  out[i] = sum_j p[j] * V[j][i]  for i < d; V holds n rows of d
 * with the arithmetic of llama.cpp's matrix products of the cache (see ops.c). */
void elmk_dot_rows(float *s, const void *q, const void *K, bool half, int64_t n, int64_t d, float scale);
void elmk_mix_rows(float *restrict out, const float *p, const void *V, bool half, int64_t n, int64_t d);

/* In place: x[i] = exp(x[i] - max) / sum_j exp(x[j] - max); the sum is kept in double. */
void elmk_softmax(float *x, int64_t n);

/* Round every element of x to the nearest half-precision value, ties to even (tmp: n
 * halves of work space). */
void elmk_round_to_fp16(float *x, uint16_t *tmp, int64_t n);

/* The AVX2 (+FMA, F16C) and AVX-512 versions (ops_avx2.c, ops_avx512.c; x86-64 builds
 * only); the functions above call them when the active ISA has them. Same bits. */
void elmk_silu_mul_avx2(float *g, const float *u, int64_t n);
void elmk_mix_rows_avx2(float *restrict out, const float *p, const void *V, bool half, int64_t n, int64_t d);
void elmk_softmax_avx2(float *x, int64_t n);
void elmk_silu_mul_avx512(float *g, const float *u, int64_t n);
void elmk_mix_rows_avx512(float *restrict out, const float *p, const void *V, bool half, int64_t n, int64_t d);
void elmk_softmax_avx512(float *x, int64_t n);

/* Rotary position embedding.
 * elmk_rope_angles fills cs[2*i] = cos(theta_i), cs[2*i+1] = sin(theta_i) for the
 * n_rot/2 rotated pairs of one position, with
 *   theta_i = freq_scale * (pos * base^(-2i/n_rot)) / ff[i]
 * where base^(-2i/n_rot) is built by repeated multiplication in float as ggml does
 * (ff may be NULL: all 1). n_rot is even. */
void elmk_rope_angles(float *cs, int64_t n_rot, float pos, float base, float freq_scale, const float *ff);
/* Rotate one head vector x (in place) by the angles cs; dimensions from n_rot on are
 * left as they are.
 *   adjacent: pairs (x[2i], x[2i+1])            (GPT-J / llama "normal" layout)
 *   halves:   pairs (x[i], x[i + n_rot/2])       (GPT-NeoX layout)                     */
void elmk_rope_adjacent(float *x, const float *cs, int64_t n_rot);
void elmk_rope_halves(float *x, const float *cs, int64_t n_rot);

#endif
