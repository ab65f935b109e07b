/* ops_avx2.c: the attention row operations of ops.h with AVX2, FMA and F16C: half keys and
 * values are widened in registers (vcvtph2ps) instead of in a converted copy, and
 * rounding to half uses vcvtps2ph, which rounds to nearest even exactly like ggml's F16C
 * path (and like the portable elmk_fp32_to_fp16).
 * Must not: be called unless the CPU has AVX2 + FMA + F16C (ops.c checks the active ISA).
 */
#include "ops.h"
#include "kernels.h"
#include "simd_x86.h"

#include <math.h>

/* 8 elements of row r from column i, as floats */
static inline __m256 load8(const void *rows, bool half, int64_t r) {
    if (half) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)rows + r)));
    return _mm256_loadu_ps((const float *)rows + r);
}

static inline float load1(const void *rows, bool half, int64_t r) {
    return half ? x86_h2f(((const uint16_t *)rows)[r]) : ((const float *)rows)[r];
}

void elmk_dot_rows_avx2(float *s, const float *q, const void *K, bool half, int64_t n, int64_t d, float scale) {
    const int64_t d8 = d / 8 * 8;
    int64_t j = 0;
    /* four rows at a time: q is loaded once for all four, one horizontal sum for four */
    for (; j + 4 <= n; j += 4) {
        const int64_t r0 = j * d, r1 = r0 + d, r2 = r1 + d, r3 = r2 + d;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (int64_t i = 0; i < d8; i += 8) {
            const __m256 qv = _mm256_loadu_ps(q + i);
            a0 = _mm256_fmadd_ps(qv, load8(K, half, r0 + i), a0);
            a1 = _mm256_fmadd_ps(qv, load8(K, half, r1 + i), a1);
            a2 = _mm256_fmadd_ps(qv, load8(K, half, r2 + i), a2);
            a3 = _mm256_fmadd_ps(qv, load8(K, half, r3 + i), a3);
        }
        const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
        float sum[4];
        _mm_storeu_ps(sum, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
        for (int64_t i = d8; i < d; i++) {
            sum[0] += q[i] * load1(K, half, r0 + i);
            sum[1] += q[i] * load1(K, half, r1 + i);
            sum[2] += q[i] * load1(K, half, r2 + i);
            sum[3] += q[i] * load1(K, half, r3 + i);
        }
        for (int k = 0; k < 4; k++) s[j + k] = scale * sum[k];
    }
    for (; j < n; j++) {
        const int64_t r = j * d;
        __m256 a = _mm256_setzero_ps();
        for (int64_t i = 0; i < d8; i += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8(K, half, r + i), a);
        float sum = x86_hsum_ps256(a);
        for (int64_t i = d8; i < d; i++) sum += q[i] * load1(K, half, r + i);
        s[j] = scale * sum;
    }
}

void elmk_mix_rows_avx2(float *restrict out, const float *p, const void *V, bool half, int64_t n, int64_t d) {
    int64_t i = 0;
    /* 32 columns at a time in four accumulators, every row's weight broadcast once */
    for (; i + 32 <= d; i += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (int64_t j = 0; j < n; j++) {
            const __m256 w = _mm256_broadcast_ss(p + j);
            const int64_t r = j * d + i;
            a0 = _mm256_fmadd_ps(w, load8(V, half, r), a0);
            a1 = _mm256_fmadd_ps(w, load8(V, half, r + 8), a1);
            a2 = _mm256_fmadd_ps(w, load8(V, half, r + 16), a2);
            a3 = _mm256_fmadd_ps(w, load8(V, half, r + 24), a3);
        }
        _mm256_storeu_ps(out + i, a0);
        _mm256_storeu_ps(out + i + 8, a1);
        _mm256_storeu_ps(out + i + 16, a2);
        _mm256_storeu_ps(out + i + 24, a3);
    }
    for (; i + 8 <= d; i += 8) {
        __m256 a = _mm256_setzero_ps();
        for (int64_t j = 0; j < n; j++) a = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), load8(V, half, j * d + i), a);
        _mm256_storeu_ps(out + i, a);
    }
    for (; i < d; i++) {
        float a = 0.0f;
        for (int64_t j = 0; j < n; j++) a += p[j] * load1(V, half, j * d + i);
        out[i] = a;
    }
}

void elmk_round_to_fp16_avx2(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++) x[i] = elmk_fp16_to_fp32(elmk_fp32_to_fp16(x[i]));
}

/* exp(x) for x <= 0 to about 1 ulp: x = n ln2 + r with |r| <= ln2/2, e^r by a degree-6
 * polynomial (the Cephes expf coefficients), then 2^n added to the exponent. Below
 * -87.3 (where float exp becomes subnormal) the result is 0: a softmax weight that small
 * vanishes anyway. */
static inline __m256 exp_nonpositive(__m256 x) {
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
    const __m256 y = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
    return _mm256_and_ps(y, _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_GE_OQ));
}

void elmk_softmax_avx2(float *x, int64_t n) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
    const __m256 vmax = _mm256_set1_ps(max);
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
        _mm256_storeu_ps(x + i, e);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double part[4];
    _mm256_storeu_pd(part, _mm256_add_pd(s0, s1));
    double sum = (part[0] + part[1]) + (part[2] + part[3]);
    for (; i < n; i++) {
        const float e = expf(x[i] - max);
        x[i] = e;
        sum += (double)e;
    }
    const __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++) x[i] *= (float)(1.0 / sum);
}
