/* quant_avx512.c: AVX-512 quantizers of rows into the activation types (Q8_0, Q8_1, Q8_K,
 * F16, BF16), bit-identical to the scalar reference (quants_legacy.c, quants_k.c, f16.c).
 * They run once per activation row in every product, which for a single token is a
 * visible share of the time.
 *
 * Same arithmetic as the reference, lane by lane:
 *   quantize (what products use, llama.cpp's x86 formulas): Q8_0/Q8_1 d = amax/127,
 *     codes round(x * (127/amax)) half to even, clamped to [-127, 127]; Q8_K as from_float;
 *     F16/BF16 round to nearest even (NaN -> the reference's quiet NaN);
 *   from_float (ggml's reference quantizers): Q8_0/Q8_1 id = 1/d and roundf (halves away
 *     from zero); Q8_K iscale = -127/max, max being the first element of largest
 *     magnitude, halves to even (cvtps under the default rounding mode).
 * Only NaN inputs may give other (equally meaningless) codes than the reference.
 * Must not: read or write past n elements.
 */
#include "kernels.h"
#include "fill_x86.h"
#include "simd_x86.h"

/* roundf on each lane (|v| < 2^23): truncate, then step away from zero at a half. */
static inline __m512 roundf16(__m512 v) {
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
    const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
    return _mm512_mask_add_ps(t, up, t, one);
}

/* One block of 32: the codes into q, returns d (unrounded) and the code sum. */
static inline float q8_block32(const float *x, int8_t *q, int *sum) {
    const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i i0 = _mm512_cvtps_epi32(roundf16(_mm512_mul_ps(x0, vid)));
    const __m512i i1 = _mm512_cvtps_epi32(roundf16(_mm512_mul_ps(x1, vid)));
    const __m128i b0 = _mm512_cvtsepi32_epi8(i0), b1 = _mm512_cvtsepi32_epi8(i1);
    _mm_storeu_si128((__m128i *)q, b0);
    _mm_storeu_si128((__m128i *)(q + 16), b1);
    if (sum) *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_cvtepi8_epi32(b0), _mm512_cvtepi8_epi32(b1)));
    return d;
}

/* llama.cpp's activation formula for one block of 32: returns d, the code sum in *sum. */
static inline float q8_block32_act(const float *x, int8_t *q, int *sum) {
    const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    const __m512 vid = _mm512_set1_ps(id), lo = _mm512_set1_ps(-127.0f);
    __m512i c[2];
    for (int h = 0; h < 2; h++) {
        const __m512 v = _mm512_mul_ps(h ? x1 : x0, vid);
        const __mmask16 ok = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);   /* NaN -> 0 */
        const __m512 vc = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ), v, lo);
        c[h] = _mm512_maskz_mov_epi32(ok, _mm512_min_epi32(_mm512_cvtps_epi32(vc), _mm512_set1_epi32(127)));
    }
    const __m128i b0 = _mm512_cvtsepi32_epi8(c[0]), b1 = _mm512_cvtsepi32_epi8(c[1]);
    _mm_storeu_si128((__m128i *)q, b0);
    _mm_storeu_si128((__m128i *)(q + 16), b1);
    if (sum) *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(c[0], c[1]));
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

/* F16: vcvtps2ph rounds to nearest even like the reference; NaN becomes sign | 0x7E00. */
static void quantize_f16(const float *src, void *dst, int64_t n) {
    uint16_t *y = dst;
    int64_t i = 0;
    for (; i < n; i += 16) {
        const __mmask16 k = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        const __m512 x = _mm512_maskz_loadu_ps(k, src + i);
        __m256i h = _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
        if (nan) {
            const __m256i sign = _mm512_cvtepi32_epi16(_mm512_and_si512(_mm512_srli_epi32(_mm512_castps_si512(x), 16),
                                                                        _mm512_set1_epi32(0x8000)));
            h = _mm256_mask_blend_epi16(nan, h, _mm256_or_si256(sign, _mm256_set1_epi16(0x7E00)));
        }
        _mm256_mask_storeu_epi16(y + i, k, h);
    }
}

/* BF16: round to nearest even on the dropped 16 bits; NaN: truncated, made quiet. */
static void quantize_bf16(const float *src, void *dst, int64_t n) {
    uint16_t *y = dst;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        const __m512i u = _mm512_maskz_loadu_epi32(k, src + i);
        const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
        __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF))), 16);
        const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)),
                                                      _mm512_set1_epi32(0x7F800000));
        r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40)));
        _mm256_mask_storeu_epi16(y + i, k, _mm512_cvtepi32_epi16(r));
    }
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
        __m512 am = _mm512_setzero_ps();
        for (int k = 0; k < 16; k++) am = _mm512_max_ps(am, _mm512_abs_ps(_mm512_loadu_ps(src + 16 * k)));
        const float amax = _mm512_reduce_max_ps(am);
        if (!(amax > 0.0f)) {   /* all zero (the reference also ends here on NaN-only data) */
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        /* the first element of largest magnitude gives the sign of the scale */
        float max = 0.0f;
        for (int k = 0; k < 16; k++) {
            const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(src + 16 * k)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (hit) {
                max = src[16 * k + __builtin_ctz(hit)];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m512 vs = _mm512_set1_ps(iscale);
        for (int k = 0; k < 16; k++) {
            __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(src + 16 * k), vs));
            v = _mm512_min_epi32(v, _mm512_set1_epi32(127));
            const __m128i b = _mm512_cvtsepi32_epi8(v);
            _mm_storeu_si128((__m128i *)(y[i].qs + 16 * k), b);
            y[i].bsums[k] = (int16_t)_mm512_reduce_add_epi32(_mm512_cvtepi8_epi32(b));
        }
        y[i].d = 1 / iscale;
    }
}

void elmk_fill_quant_avx512(elmk_type_ops table[ELM_TYPE_COUNT]) {
    table[ELM_TYPE_Q8_0].from_float = from_float_q8_0;
    table[ELM_TYPE_Q8_1].from_float = from_float_q8_1;
    table[ELM_TYPE_Q8_K].from_float = from_float_q8_K;
    table[ELM_TYPE_Q8_0].quantize = quantize_q8_0;
    table[ELM_TYPE_Q8_1].quantize = quantize_q8_1;
    table[ELM_TYPE_Q8_K].quantize = from_float_q8_K;
    table[ELM_TYPE_F16].quantize = table[ELM_TYPE_F16].from_float = quantize_f16;
    table[ELM_TYPE_BF16].quantize = table[ELM_TYPE_BF16].from_float = quantize_bf16;
}
