/* ops_avx2.c: the attention and activation operations of ops.h with AVX2, FMA and F16C,
 * giving the same bits as the portable versions in ops.c (which describe the arithmetic;
 * llama.cpp's own build used 16-lane AVX-512 registers, kept here as pairs of ymm).
 * vscalefps has no AVX2 form: j * 2^n is done as (j * 2^n1) * 2^n2 with n1 + n2 = n,
 * where the first product is exact, so the result is rounded once, as vscalefps does.
 * Must not: be called unless the CPU has AVX2 + FMA + F16C (ops.c checks the active ISA).
 */
#include "ops.h"
#include "kernels.h"
#include "simd_x86.h"

#include <math.h>

/* 2^k for integer k in [-126, 127], as a float */
static inline __m256 pow2i(__m256i k) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
}

/* elmk_expf_ggml on 8 lanes */
static inline __m256 exp8(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256 absn = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
    const __m256 big = _mm256_cmp_ps(absn, _mm256_set1_ps(192), _CMP_GT_OQ);
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
    /* j * 2^n with one rounding; |n| <= 192 here (the others are replaced below) */
    const __m256 nc = _mm256_min_ps(_mm256_max_ps(n, _mm256_set1_ps(-192)), _mm256_set1_ps(192));
    const __m256i ni = _mm256_cvtps_epi32(nc);
    const __m256i n1 = _mm256_srai_epi32(ni, 1);
    const __m256i n2 = _mm256_sub_epi32(ni, n1);
    const __m256 res = _mm256_mul_ps(_mm256_mul_ps(j, pow2i(n1)), pow2i(n2));
    if (_mm256_testz_ps(big, big)) return res;
    const __m256 alt = _mm256_and_ps(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_GT_OQ), _mm256_set1_ps(INFINITY));
    return _mm256_blendv_ps(res, alt, big);
}

void elmk_silu_mul_avx2(float *g, const float *u, int64_t n) {
    const int64_t n16 = n / 16 * 16;   /* llama.cpp's vector exp covers whole 16-lane chunks */
    int64_t i = 0;
    for (; i < n16; i += 8) {
        const __m256 v = _mm256_loadu_ps(g + i);
        const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), v));
        const __m256 s = _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) {   /* ggml's scalar tail uses libm's expf */
        const float v = g[i];
        g[i] = v / (1.0f + expf(-v)) * u[i];
    }
}

void elmk_softmax_avx2(float *x, int64_t n) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
    const __m256 vmax = _mm256_set1_ps(max);
    double sum = 0.0;
    for (int64_t i = 0; i < n; i += 16) {
        __m256 e[2];
        for (int h = 0; h < 2; h++) {
            const int64_t o = i + 8 * h;
            if (o + 8 <= n) {
                e[h] = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + o), vmax));
                _mm256_storeu_ps(x + o, e[h]);
            } else {   /* lanes past n are masked positions: exp(-inf) = 0 */
                float t[8] = {0};
                for (int l = 0; o + l < n && l < 8; l++) t[l] = x[o + l];
                __m256 v = exp8(_mm256_sub_ps(_mm256_loadu_ps(t), vmax));
                _mm256_storeu_ps(t, v);
                for (int l = 0; l < 8; l++) {
                    if (o + l < n) x[o + l] = t[l];
                    else t[l] = 0.0f;
                }
                e[h] = _mm256_loadu_ps(t);
            }
        }
        sum += (double)x86_hsum_ps256(_mm256_add_ps(e[1], e[0]));
    }
    const __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++) x[i] *= (float)(1.0 / sum);
}

/* 8 columns of row j (or fewer at the end: the rest read as zero) */
static inline __m256 load_v(const void *V, bool half, int64_t off, int64_t nc) {
    if (nc >= 8) {
        if (half) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)V + off)));
        return _mm256_loadu_ps((const float *)V + off);
    }
    float t[8] = {0};
    for (int64_t c = 0; c < nc; c++)
        t[c] = half ? x86_h2f(((const uint16_t *)V)[off + c]) : ((const float *)V)[off + c];
    return _mm256_loadu_ps(t);
}

void elmk_mix_rows_avx2(float *restrict out, const float *p, const void *V, bool half, int64_t n, int64_t d) {
    for (int64_t c0 = 0; c0 < d; c0 += 8) {
        const int64_t nc = d - c0;
        __m256 acc[16];   /* lane l: the positions j with j % 16 == l */
        for (int l = 0; l < 16; l++) acc[l] = _mm256_setzero_ps();
        int64_t j = 0;
        for (; j + 16 <= n; j += 16)
            for (int l = 0; l < 16; l++)
                acc[l] = _mm256_fmadd_ps(load_v(V, half, (j + l) * d + c0, nc), _mm256_set1_ps(p[j + l]), acc[l]);
        for (int l = 0; j + l < n; l++)
            acc[l] = _mm256_fmadd_ps(load_v(V, half, (j + l) * d + c0, nc), _mm256_set1_ps(p[j + l]), acc[l]);
        __m256 h[8];
        for (int l = 0; l < 8; l++) h[l] = _mm256_add_ps(acc[l + 8], acc[l]);
        const __m256 s0 = _mm256_add_ps(h[0], h[4]), s1 = _mm256_add_ps(h[1], h[5]);
        const __m256 s2 = _mm256_add_ps(h[2], h[6]), s3 = _mm256_add_ps(h[3], h[7]);
        const __m256 r = _mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3));
        if (nc >= 8) {
            _mm256_storeu_ps(out + c0, r);
        } else {
            float t[8];
            _mm256_storeu_ps(t, r);
            for (int64_t c = 0; c < nc; c++) out[c0 + c] = t[c];
        }
    }
}
