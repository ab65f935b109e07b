/* f16.c: scalar conversions between float32 and the two 16-bit float formats in GGUF files,
 * IEEE half (F16) and bfloat16 (BF16), bit-exact with ggml.
 *   fp16 -> fp32 and bf16 -> fp32 are exact.
 *   fp32 -> fp16 rounds to nearest, ties to even (what F16C's vcvtps2ph and ggml's software
 *     path do); too large values become infinity; NaN becomes the quiet NaN 0x7E00 with
 *     the input's sign (ggml's software rule).
 *   fp32 -> bf16 rounds to nearest, ties to even; a NaN keeps its top bits and is forced
 *     quiet (ggml_compute_fp32_to_bf16's rule); subnormals are kept, not flushed.
 * Must not: depend on the rounding mode or on compiler flags (everything is integer bit
 * work, except one exactly-specified float addition for half subnormals).
 */
#include "kernels.h"

#include <string.h>

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ==== IEEE half ========================================================================== */

/* half: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits.
 * float: 1 sign bit, 8 exponent bits (bias 127), 23 mantissa bits. */
float elmk_fp16_to_fp32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1Fu;
    const uint32_t mant = h & 0x3FFu;

    if (exp == 0x1F)                         /* infinity or NaN: keep the payload */
        return f32_from_bits(sign | 0x7F800000u | (mant << 13));
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in float (mant < 2^10) */
        float v = (float)mant * 0x1p-24f;
        return f32_from_bits(sign | f32_bits(v));
    }
    /* normal: rebias the exponent from 15 to 127 */
    return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t elmk_fp32_to_fp16(float f) {
    uint32_t u = f32_bits(f);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;            /* |f| as bits; ordered like the values */

    if (a > 0x7F800000u) return sign | 0x7E00u;       /* NaN */
    /* 65520 is halfway between the largest half (65504) and 65536; ties go to the even
     * neighbour, which is 65536 = infinity, so everything from 65520 up overflows. */
    if (a >= 0x477FF000u) return sign | 0x7C00u;
    if (a < 0x38800000u) {
        /* below 2^-14: the result is a half subnormal, a multiple of 2^-24. Adding 0.5
         * puts |f| where float's own spacing is 2^-24, so the addition itself rounds
         * to the nearest multiple (ties to even, the IEEE default the C library keeps).
         * A result of 0x400 is the smallest normal half, correctly encoded as such. */
        float v = f32_from_bits(a) + 0.5f;
        return sign | (uint16_t)(f32_bits(v) - f32_bits(0.5f));
    }
    /* normal half: drop 13 mantissa bits, rounding to nearest even, then rebias the
     * exponent from 127 to 15. A carry out of the mantissa correctly bumps the exponent. */
    const uint32_t odd = (a >> 13) & 1u;
    a += 0xFFFu + odd;
    a -= 112u << 23;
    return sign | (uint16_t)(a >> 13);
}

void elmk_fp16_to_fp32_row(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = elmk_fp16_to_fp32(x[i]);
}

void elmk_fp32_to_fp16_row(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = elmk_fp32_to_fp16(x[i]);
}

/* ==== bfloat16: the top 16 bits of a float =============================================== */

float elmk_bf16_to_fp32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

uint16_t elmk_fp32_to_bf16(float f) {
    const uint32_t u = f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u)              /* NaN: truncate, force quiet */
        return (uint16_t)((u >> 16) | 0x40u);
    /* round to nearest even on the 16 dropped bits; overflow rounds up to infinity */
    const uint32_t odd = (u >> 16) & 1u;
    return (uint16_t)((u + 0x7FFFu + odd) >> 16);
}
