/* ops_avx512.c: the attention and activation operations of ops.h with AVX-512, giving the
 * same bits as the portable versions in ops.c (which describe the arithmetic): ggml's
 * vectorised exp (vscalefps does the final j * 2^n), softmax sums per 16 lanes, and the
 * 16-lane position structure of the attention-weighted sum of values.
 * Must not: be called unless the CPU has AVX-512 F/BW/VL/DQ (ops.c checks the active ISA).
 */
#include "ops.h"
#include "kernels.h"
#include "simd_x86.h"

#include <math.h>

/* elmk_expf_ggml on 16 lanes */
static inline __m512 exp16(__m512 x) {
    const __m512 r = _mm512_set1_ps(0x1.8p23f);
    const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r);
    const __m512 n = _mm512_sub_ps(z, r);
    const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                      _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
    const __mmask16 big = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192), _CMP_GT_OQ);
    const __m512 u = _mm512_mul_ps(b, b);
    const __m512 j = _mm512_fmadd_ps(
        _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                        _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
        u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
    const __m512 res = _mm512_scalef_ps(j, n);
    if (!big) return res;
    const __m512 alt = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ),
                                            _mm512_set1_ps(INFINITY), _mm512_setzero_ps());
    return _mm512_mask_blend_ps(big, res, alt);
}

void elmk_silu_mul_avx512(float *g, const float *u, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(g + i);
        const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), v));
        const __m512 s = _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
        _mm512_storeu_ps(g + i, _mm512_mul_ps(s, _mm512_loadu_ps(u + i)));
    }
    for (; i < n; i++) {   /* ggml's scalar tail uses libm's expf */
        const float v = g[i];
        g[i] = v / (1.0f + expf(-v)) * u[i];
    }
}

void elmk_softmax_avx512(float *x, int64_t n) {
    __m512 vm = _mm512_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(x + i));
    float max = _mm512_reduce_max_ps(vm);
    for (; i < n; i++) max = x[i] > max ? x[i] : max;
    const __m512 vmax = _mm512_set1_ps(max);
    double sum = 0.0;
    for (i = 0; i < n; i += 16) {
        const __mmask16 k = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        /* lanes past n are masked positions: exp(-inf) = 0 */
        const __m512 e = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vmax)));
        _mm512_mask_storeu_ps(x + i, k, e);
        sum += (double)x86_hsum_ps512(e);
    }
    const __m512 inv = _mm512_set1_ps((float)(1.0 / sum));
    for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
    for (; i < n; i++) x[i] *= (float)(1.0 / sum);
}

static inline __m512 load_v(const void *V, bool half, int64_t off, __mmask16 k) {
    if (half) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, (const uint16_t *)V + off));
    return _mm512_maskz_loadu_ps(k, (const float *)V + off);
}

void elmk_mix_rows_avx512(float *restrict out, const float *p, const void *V, bool half, int64_t n, int64_t d) {
    for (int64_t c0 = 0; c0 < d; c0 += 16) {
        const __mmask16 k = d - c0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (d - c0)) - 1);
        __m512 acc[16];   /* lane l: the positions j with j % 16 == l */
        for (int l = 0; l < 16; l++) acc[l] = _mm512_setzero_ps();
        int64_t j = 0;
        for (; j + 16 <= n; j += 16)
            for (int l = 0; l < 16; l++)
                acc[l] = _mm512_fmadd_ps(load_v(V, half, (j + l) * d + c0, k), _mm512_set1_ps(p[j + l]), acc[l]);
        for (int l = 0; j + l < n; l++)
            acc[l] = _mm512_fmadd_ps(load_v(V, half, (j + l) * d + c0, k), _mm512_set1_ps(p[j + l]), acc[l]);
        /* _mm512_reduce_add_ps's tree, for 16 columns at once */
        __m512 h[8];
        for (int l = 0; l < 8; l++) h[l] = _mm512_add_ps(acc[l + 8], acc[l]);
        const __m512 s0 = _mm512_add_ps(h[0], h[4]), s1 = _mm512_add_ps(h[1], h[5]);
        const __m512 s2 = _mm512_add_ps(h[2], h[6]), s3 = _mm512_add_ps(h[3], h[7]);
        _mm512_mask_storeu_ps(out + c0, k, _mm512_add_ps(_mm512_add_ps(s0, s2), _mm512_add_ps(s1, s3)));
    }
}
