/* quant_avx2.c: AVX2 quantizers of rows into the activation types (Q8_0, Q8_1, Q8_K, F16,
 * BF16), bit-identical to the scalar reference; see quant_avx512.c for the arithmetic
 * (the same, 8 lanes wide).
 * Must not: read or write past n elements.
 */
#include "kernels.h"
#include "fill_x86.h"
#include "simd_x86.h"

static inline __m256 abs8(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* roundf on each lane (|v| < 2^23): truncate, then step away from zero at a half. */
static inline __m256 roundf8(__m256 v) {
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 up = _mm256_cmp_ps(abs8(_mm256_sub_ps(v, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, _mm256_set1_ps(-0.0f)));
    return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

/* 32 int32 (4 vectors, in order) -> 32 saturated int8 */
static inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i v = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static inline int sum_i8_32(__m256i q) {
    return x86_hsum_epi32_256(_mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1)));
}

static inline float q8_block32(const float *x, int8_t *q, int *sum) {
    __m256 v[4], am = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        am = _mm256_max_ps(am, abs8(v[k]));
    }
    const float amax = hmax8(am);
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    __m256i i[4];
    for (int k = 0; k < 4; k++) i[k] = _mm256_cvtps_epi32(roundf8(_mm256_mul_ps(v[k], _mm256_set1_ps(id))));
    const __m256i b = pack32(i[0], i[1], i[2], i[3]);
    _mm256_storeu_si256((__m256i *)q, b);
    if (sum) *sum = sum_i8_32(b);
    return d;
}

/* llama.cpp's activation formula for one block of 32: returns d, the code sum in *sum. */
static inline float q8_block32_act(const float *x, int8_t *q, int *sum) {
    __m256 v[4], am = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        am = _mm256_max_ps(am, abs8(v[k]));
    }
    const float amax = hmax8(am);
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    __m256i c[4];
    for (int k = 0; k < 4; k++) {
        const __m256 p = _mm256_mul_ps(v[k], _mm256_set1_ps(id));
        const __m256 ok = _mm256_cmp_ps(p, p, _CMP_ORD_Q);   /* NaN -> 0 */
        const __m256 pc = _mm256_blendv_ps(p, _mm256_set1_ps(-127.0f), _mm256_cmp_ps(p, _mm256_set1_ps(-127.0f), _CMP_LT_OQ));
        c[k] = _mm256_and_si256(_mm256_min_epi32(_mm256_cvtps_epi32(pc), _mm256_set1_epi32(127)), _mm256_castps_si256(ok));
    }
    const __m256i b = pack32(c[0], c[1], c[2], c[3]);
    _mm256_storeu_si256((__m256i *)q, b);
    if (sum) *sum = sum_i8_32(b);
    return d;
}

static void quantize_q8_0(const float *src, void *dst, int64_t n) {
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / QK8_0; i++) y[i].d = elmk_fp32_to_fp16(q8_block32_act(src + i * QK8_0, y[i].qs, NULL));
}

static void quantize_q8_1(const float *src, void *dst, int64_t n) {
    block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        int sum;
        const float d = q8_block32_act(src + i * QK8_1, y[i].qs, &sum);
        y[i].d = elmk_fp32_to_fp16(d);
        y[i].s = elmk_fp32_to_fp16(d * (float)sum);
    }
}

/* F16 with F16C (round to nearest even, NaN -> sign | 0x7E00), the last n % 8 by the reference. */
static void quantize_f16(const float *src, void *dst, int64_t n) {
    uint16_t *y = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(src + i);
        __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        if (_mm256_movemask_ps(_mm256_cmp_ps(x, x, _CMP_UNORD_Q))) {
            for (int j = 0; j < 8; j++) y[i + j] = elmk_fp32_to_fp16(src[i + j]);
            continue;
        }
        _mm_storeu_si128((__m128i *)(y + i), h);
    }
    for (; i < n; i++) y[i] = elmk_fp32_to_fp16(src[i]);
}

static void quantize_bf16(const float *src, void *dst, int64_t n) {
    uint16_t *y = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i u = _mm256_loadu_si256((const __m256i *)(src + i));
        const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
        __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7FFF))), 16);
        const __m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7FFFFFFF));
        const __m256i nan = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7F800000));   /* a >= 0: signed compare is fine */
        r = _mm256_blendv_epi8(r, _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40)), nan);
        /* 8 x 32-bit -> 8 x 16-bit (values < 2^16) */
        const __m128i p = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storeu_si128((__m128i *)(y + i), p);
    }
    for (; i < n; i++) y[i] = elmk_fp32_to_bf16(src[i]);
}

static void from_float_q8_0(const float *src, void *dst, int64_t n) {
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / QK8_0; i++) y[i].d = elmk_fp32_to_fp16(q8_block32(src + i * QK8_0, y[i].qs, NULL));
}

static void from_float_q8_1(const float *src, void *dst, int64_t n) {
    block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        int sum;
        const float d = q8_block32(src + i * QK8_1, y[i].qs, &sum);
        y[i].d = elmk_fp32_to_fp16(d);
        y[i].s = elmk_fp32_to_fp16((float)sum * d);
    }
}

static void from_float_q8_K(const float *src, void *dst, int64_t n) {
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        __m256 am = _mm256_setzero_ps();
        for (int k = 0; k < 32; k++) am = _mm256_max_ps(am, abs8(_mm256_loadu_ps(src + 8 * k)));
        const float amax = hmax8(am);
        if (!(amax > 0.0f)) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float max = 0.0f;
        for (int k = 0; k < 32; k++) {
            const int hit = _mm256_movemask_ps(_mm256_cmp_ps(abs8(_mm256_loadu_ps(src + 8 * k)), _mm256_set1_ps(amax), _CMP_EQ_OQ));
            if (hit) {
                max = src[8 * k + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m256 vs = _mm256_set1_ps(iscale);
        for (int k = 0; k < 8; k++) {
            __m256i v[4];
            for (int j = 0; j < 4; j++) {
                v[j] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(src + 32 * k + 8 * j), vs));
                v[j] = _mm256_min_epi32(v[j], _mm256_set1_epi32(127));
            }
            const __m256i b = pack32(v[0], v[1], v[2], v[3]);
            _mm256_storeu_si256((__m256i *)(y[i].qs + 32 * k), b);
            /* two sums of 16 */
            const __m256i s16 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), b), _mm256_set1_epi16(1));
            y[i].bsums[2 * k] = (int16_t)x86_hsum_epi32_128(_mm256_castsi256_si128(s16));
            y[i].bsums[2 * k + 1] = (int16_t)x86_hsum_epi32_128(_mm256_extracti128_si256(s16, 1));
        }
        y[i].d = 1 / iscale;
    }
}

void elmk_fill_quant_avx2(elmk_type_ops table[ELM_TYPE_COUNT]) {
    table[ELM_TYPE_Q8_0].from_float = from_float_q8_0;
    table[ELM_TYPE_Q8_1].from_float = from_float_q8_1;
    table[ELM_TYPE_Q8_K].from_float = from_float_q8_K;
    table[ELM_TYPE_Q8_0].quantize = quantize_q8_0;
    table[ELM_TYPE_Q8_1].quantize = quantize_q8_1;
    table[ELM_TYPE_Q8_K].quantize = from_float_q8_K;
    table[ELM_TYPE_F16].quantize = table[ELM_TYPE_F16].from_float = quantize_f16;
    table[ELM_TYPE_BF16].quantize = table[ELM_TYPE_BF16].from_float = quantize_bf16;
}
