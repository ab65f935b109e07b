/* test_kernels.c: the per-type kernels, scalar reference and every instruction set.
 *
 *   1. fp16/bf16 conversions against independent double-precision rounding;
 *   2. hand-computed blocks and dot products for every type (values worked out from the
 *      format description, not from our code);
 *   3. quantize -> dequantize round trips on random data stay within per-type error bounds;
 *   4. the scalar vec_dot against a double-precision dot of the dequantized rows;
 *   5. every ISA available here, every type: to_float and from_float bit-identical to the
 *      scalar reference, vec_dot and gemm within the stated bound of it;
 *   6. dispatch: the active ISA is the one expected (ELM_EXPECT_ISA, set by make test-neon
 *      under qemu, proves which NEON path ran).
 * Portable: this file is also built for aarch64 and run under qemu. It reads no shared
 * files and needs nothing but the kernels.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels.h"
#include "support.h"

/* The weight types we compute with, and every type that has ops (weights + activations). */
static const uint32_t weight_types[] = {
    ELM_TYPE_F32, ELM_TYPE_F16, ELM_TYPE_BF16, ELM_TYPE_Q4_0, ELM_TYPE_Q4_1, ELM_TYPE_Q5_0, ELM_TYPE_Q5_1,
    ELM_TYPE_Q8_0, ELM_TYPE_Q2_K, ELM_TYPE_Q3_K, ELM_TYPE_Q4_K, ELM_TYPE_Q5_K, ELM_TYPE_Q6_K,
};
static const uint32_t all_types[] = {
    ELM_TYPE_F32, ELM_TYPE_F16, ELM_TYPE_BF16, ELM_TYPE_Q4_0, ELM_TYPE_Q4_1, ELM_TYPE_Q5_0, ELM_TYPE_Q5_1,
    ELM_TYPE_Q8_0, ELM_TYPE_Q8_1, ELM_TYPE_Q2_K, ELM_TYPE_Q3_K, ELM_TYPE_Q4_K, ELM_TYPE_Q5_K, ELM_TYPE_Q6_K,
    ELM_TYPE_Q8_K,
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Buffers start 4 bytes past a 64-byte boundary: kernels must not assume SIMD alignment
 * (rows of a GGUF file are only as aligned as their block size allows). */
#define MISALIGN 4
typedef struct { unsigned char *base; void *p; } buf;

static buf buf_new(size_t bytes) {
    buf b;
    b.base = aligned_alloc(64, (bytes + MISALIGN + 63) / 64 * 64 + 64);
    assert_non_null(b.base);
    b.p = b.base + MISALIGN;
    return b;
}
static void buf_free(buf *b) { free(b->base); }

static const char *tname(uint32_t t) { return elm_type_get_info(t)->name; }
static int64_t block_size(uint32_t t) { return elm_type_get_info(t)->block_size; }
static size_t row_bytes(uint32_t t, int64_t n) { return elm_type_row_bytes(t, n); }

static uint16_t h(float f) { return elmk_fp32_to_fp16(f); }

/* Test data: normal values whose scale changes from block to block (so block scales
 * differ), with some all-zero blocks, some constant blocks and rare outliers. */
static void fill_weights(float *x, int64_t n, int64_t bs, uint64_t *rng) {
    for (int64_t b0 = 0; b0 < n; b0 += bs) {
        float scale = expf(elmt_rand_normal(rng));
        uint64_t kind = elmt_rand_u64(rng) % 32;
        for (int64_t i = b0; i < b0 + bs && i < n; i++) {
            if (kind == 0) x[i] = 0.0f;
            else if (kind == 1) x[i] = scale;
            else x[i] = scale * elmt_rand_normal(rng) * (elmt_rand_u64(rng) % 97 == 0 ? 8.0f : 1.0f);
        }
    }
}

static void fill_normal(float *x, int64_t n, uint64_t *rng) {
    for (int64_t i = 0; i < n; i++) x[i] = elmt_rand_normal(rng);
}

/* ==== 1. Half and bfloat16 =============================================================== */

/* Independent decoding of a half: (-1)^s * 2^(e-15) * (1 + m/1024), or subnormal/inf/NaN. */
static double half_value(uint16_t v) {
    int s = v >> 15, e = (v >> 10) & 31, m = v & 1023;
    double r = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -r : r;
}

/* Nearest half by search over all finite halves (ties to the even code). */
static uint16_t half_nearest(float f) {
    if (isnan(f)) return (uint16_t)(signbit(f) ? 0xFE00 : 0x7E00);
    double a = fabs((double)f);
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    if (a >= 65520.0) return sign | 0x7C00;
    unsigned lo = 0, hi = 0x7BFF;                      /* positive finite codes are ordered */
    while (lo < hi) {                                  /* largest code with value <= a */
        unsigned mid = (lo + hi + 1) / 2;
        if (half_value((uint16_t)mid) <= a) lo = mid;
        else hi = mid - 1;
    }
    uint16_t best = (uint16_t)lo;
    if (lo < 0x7BFF) {
        double dlo = a - half_value((uint16_t)lo), dhi = half_value((uint16_t)(lo + 1)) - a;
        if (dhi < dlo || (dhi == dlo && (lo & 1))) best = (uint16_t)(lo + 1);
    } else if (a - 65504.0 > 0) {
        best = 0x7BFF;                                 /* 65504 < a < 65520 rounds down */
    }
    return sign | best;
}

static float bits_to_float(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void fp16_conversions_are_exact_and_round_to_nearest_even(void **state) {
    (void)state;
    for (uint32_t v = 0; v < 65536; v++) {
        float f = elmk_fp16_to_fp32((uint16_t)v);
        double want = half_value((uint16_t)v);
        if (isnan(want)) {
            assert_true(isnan(f));
            assert_int_equal(elmk_fp32_to_fp16(f), (v & 0x8000) | 0x7E00);  /* ggml's quiet NaN */
            continue;
        }
        if ((double)f != want) fail_msg("half 0x%04x -> %.9g, want %.9g", v, f, want);
        if (elmk_fp32_to_fp16(f) != v) fail_msg("half 0x%04x does not round-trip", v);
    }
    /* exact halfway points: ties go to the even code */
    assert_int_equal(elmk_fp32_to_fp16(1.0f + 0x1p-11f), 0x3C00);            /* 1 + half ulp */
    assert_int_equal(elmk_fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3C02);
    assert_int_equal(elmk_fp32_to_fp16(0x1p-25f), 0x0000);                  /* half the smallest subnormal */
    assert_int_equal(elmk_fp32_to_fp16(3 * 0x1p-25f), 0x0002);
    assert_int_equal(elmk_fp32_to_fp16(65504.0f), 0x7BFF);
    assert_int_equal(elmk_fp32_to_fp16(65519.996f), 0x7BFF);
    assert_int_equal(elmk_fp32_to_fp16(65520.0f), 0x7C00);
    assert_int_equal(elmk_fp32_to_fp16(-INFINITY), 0xFC00);
    assert_int_equal(elmk_fp32_to_fp16(-0.0f), 0x8000);
    /* random floats of every magnitude, including around every tie */
    uint64_t rng = 1;
    const int n = elmt_quick() ? 50000 : 300000;
    for (int i = 0; i < n; i++) {
        uint32_t u = (uint32_t)elmt_rand_u64(&rng);
        if (i & 1) u = (u & 0x80000000u) | (((u >> 8) % 0x1F000000u + 0x30000000u) & 0x7FFFE000u) | 0x1000u;
        float f = bits_to_float(u);
        uint16_t got = elmk_fp32_to_fp16(f), want = half_nearest(f);
        if (got != want) fail_msg("fp16(%.9g = 0x%08x) = 0x%04x, want 0x%04x", f, u, got, want);
    }
    /* the row helpers agree with the single-value ones */
    float xs[37];
    uint16_t hs[37];
    float back[37];
    for (int i = 0; i < 37; i++) xs[i] = elmt_rand_normal(&rng) * 100;
    elmk_fp32_to_fp16_row(xs, hs, 37);
    elmk_fp16_to_fp32_row(hs, back, 37);
    for (int i = 0; i < 37; i++) {
        assert_int_equal(hs[i], elmk_fp32_to_fp16(xs[i]));
        assert_true(back[i] == elmk_fp16_to_fp32(hs[i]));
    }
}

static void bf16_conversions_round_to_nearest_even_and_keep_nan(void **state) {
    (void)state;
    for (uint32_t v = 0; v < 65536; v++) {
        float f = elmk_bf16_to_fp32((uint16_t)v);
        uint32_t u;
        memcpy(&u, &f, 4);
        assert_int_equal(u, v << 16);                                       /* exact */
        if (!isnan(f)) assert_int_equal(elmk_fp32_to_bf16(f), v);
    }
    uint64_t rng = 2;
    const int n = elmt_quick() ? 50000 : 300000;
    for (int i = 0; i < n; i++) {
        uint32_t u = (uint32_t)elmt_rand_u64(&rng);
        if (i % 4 == 1) u = (u & 0xFFFF0000u) | 0x8000u;                    /* exact ties */
        float f = bits_to_float(u);
        uint16_t got = elmk_fp32_to_bf16(f);
        uint16_t want;
        if (isnan(f)) {
            want = (uint16_t)((u >> 16) | 0x40);                            /* quiet, same sign */
        } else if (isinf(f)) {
            want = (uint16_t)(u >> 16);
        } else {
            /* the truncation t and the next code up; past the largest finite bf16 the next
             * one is infinity, which rounding treats as 2^128 */
            uint16_t t = (uint16_t)(u >> 16), t1 = (uint16_t)(t + 1);
            double a = fabs((double)f), lo = fabs((double)bits_to_float((uint32_t)t << 16));
            double hi = (t1 & 0x7FFF) == 0x7F80 ? 0x1p128 : fabs((double)bits_to_float((uint32_t)t1 << 16));
            want = (a - lo < hi - a || (a - lo == hi - a && !(t & 1))) ? t : t1;
        }
        if (got != want) fail_msg("bf16(0x%08x) = 0x%04x, want 0x%04x", u, got, want);
    }
    assert_int_equal(elmk_fp32_to_bf16(bits_to_float(0x7F800001u)), 0x7FC0);   /* signalling -> quiet */
    assert_int_equal(elmk_fp32_to_bf16(bits_to_float(0xFF7FFFFFu)), 0xFF80);   /* -FLT_MAX -> -inf */
}

/* ==== 2. Hand-computed cases ============================================================= */

static void dequant(uint32_t type, const void *src, float *dst, int64_t n) {
    const elmk_type_ops *ops = elmk_get_ops_isa(type, ELMK_ISA_SCALAR);
    assert_non_null(ops);
    ops->to_float(src, dst, n);
}

static void expect_floats(const char *what, const float *got, const float *want, int n) {
    for (int i = 0; i < n; i++)
        if (got[i] != want[i]) fail_msg("%s: element %d is %.9g, want %.9g", what, i, got[i], want[i]);
}

static void hand_blocks_legacy(void **state) {
    (void)state;
    float got[32], want[32];

    block_q4_0 q40 = {h(0.5f), {0}};
    for (int j = 0; j < 16; j++) q40.qs[j] = (uint8_t)(j | (15 - j) << 4);
    for (int j = 0; j < 16; j++) want[j] = (j - 8) * 0.5f, want[j + 16] = (7 - j) * 0.5f;
    dequant(ELM_TYPE_Q4_0, &q40, got, 32);
    expect_floats("Q4_0", got, want, 32);

    block_q4_1 q41 = {h(0.25f), h(-1.0f), {0}};
    memcpy(q41.qs, q40.qs, 16);
    for (int j = 0; j < 16; j++) want[j] = j * 0.25f - 1, want[j + 16] = (15 - j) * 0.25f - 1;
    dequant(ELM_TYPE_Q4_1, &q41, got, 32);
    expect_floats("Q4_1", got, want, 32);

    block_q5_0 q50 = {h(1.0f), {0x00, 0x00, 0xFF, 0xFF}, {0}};   /* fifth bit set for 16..31 */
    memcpy(q50.qs, q40.qs, 16);
    for (int j = 0; j < 16; j++) want[j] = (float)(j - 16), want[j + 16] = (float)(15 - j);
    dequant(ELM_TYPE_Q5_0, &q50, got, 32);
    expect_floats("Q5_0", got, want, 32);

    block_q5_1 q51 = {h(0.5f), h(2.0f), {0xFF, 0xFF, 0x00, 0x00}, {0}};   /* set for 0..15 */
    memcpy(q51.qs, q40.qs, 16);
    for (int j = 0; j < 16; j++) want[j] = (j + 16) * 0.5f + 2, want[j + 16] = (15 - j) * 0.5f + 2;
    dequant(ELM_TYPE_Q5_1, &q51, got, 32);
    expect_floats("Q5_1", got, want, 32);

    block_q8_0 q80 = {h(0.125f), {0}};
    for (int j = 0; j < 32; j++) q80.qs[j] = (int8_t)(j - 16), want[j] = (j - 16) * 0.125f;
    dequant(ELM_TYPE_Q8_0, &q80, got, 32);
    expect_floats("Q8_0", got, want, 32);

    block_q8_1 q81 = {h(0.125f), h(-2.0f), {0}};
    memcpy(q81.qs, q80.qs, 32);
    dequant(ELM_TYPE_Q8_1, &q81, got, 32);
    expect_floats("Q8_1", got, want, 32);

    uint16_t f16[4] = {0x3C00, 0xC000, 0x3555, 0x0001};
    float f16_want[4] = {1.0f, -2.0f, 0.333251953125f, 0x1p-24f};
    dequant(ELM_TYPE_F16, f16, got, 4);
    expect_floats("F16", got, f16_want, 4);
    uint16_t bf16[3] = {0x3F80, 0xC040, 0x3EAB};
    float bf16_want[3] = {1.0f, -3.0f, 0.333984375f};
    dequant(ELM_TYPE_BF16, bf16, got, 3);
    expect_floats("BF16", got, bf16_want, 3);
}

static void hand_blocks_k(void **state) {
    (void)state;
    float got[QK_K], want[QK_K];

    /* Q2_K: scale of group g is g%4+1, min 1; every 2-bit field at shift 2k holds k, and
     * element e uses shift 2*((e%128)/32). x = d*sc*q - dmin*mn with d = dmin = 1. */
    block_q2_K q2;
    memset(&q2, 0, sizeof q2);
    for (int g = 0; g < 16; g++) q2.scales[g] = (uint8_t)((g % 4 + 1) | 1 << 4);
    memset(q2.qs, 0xE4, sizeof q2.qs);                     /* 0b11'10'01'00 */
    q2.d = h(1.0f), q2.dmin = h(1.0f);
    for (int e = 0; e < QK_K; e++) want[e] = (float)((e / 16 % 4 + 1) * ((e % 128) / 32) - 1);
    dequant(ELM_TYPE_Q2_K, &q2, got, QK_K);
    expect_floats("Q2_K", got, want, QK_K);

    /* Q3_K: every 6-bit scale is 33 (+1 after the -32 bias): low nibbles 1, high bits 2.
     * hmask all set: q = low 2 bits; all clear: q = low bits - 4. */
    block_q3_K q3;
    memset(&q3, 0, sizeof q3);
    memset(q3.scales, 0x11, 8);
    memset(q3.scales + 8, 0xAA, 4);
    memset(q3.qs, 0xE4, sizeof q3.qs);
    memset(q3.hmask, 0xFF, sizeof q3.hmask);
    q3.d = h(0.5f);
    for (int e = 0; e < QK_K; e++) want[e] = 0.5f * (float)((e % 128) / 32);
    dequant(ELM_TYPE_Q3_K, &q3, got, QK_K);
    expect_floats("Q3_K high bits set", got, want, QK_K);
    memset(q3.hmask, 0, sizeof q3.hmask);
    for (int e = 0; e < QK_K; e++) want[e] = 0.5f * (float)((e % 128) / 32 - 4);
    dequant(ELM_TYPE_Q3_K, &q3, got, QK_K);
    expect_floats("Q3_K high bits clear", got, want, QK_K);

    /* Q4_K: all 8 scales 2 and mins 1 (bytes 0-3 = 2, 4-7 = 1, 8-11 = 0x12); every byte
     * 0x31: the first 32 of each 64 elements read the low nibble (1), the rest the high (3).
     * x = 1*2*q - 0.5*1. */
    block_q4_K q4;
    memset(&q4, 0, sizeof q4);
    memset(q4.scales, 2, 4);
    memset(q4.scales + 4, 1, 4);
    memset(q4.scales + 8, 0x12, 4);
    memset(q4.qs, 0x31, sizeof q4.qs);
    q4.d = h(1.0f), q4.dmin = h(0.5f);
    for (int e = 0; e < QK_K; e++) want[e] = e % 64 < 32 ? 1.5f : 5.5f;
    dequant(ELM_TYPE_Q4_K, &q4, got, QK_K);
    expect_floats("Q4_K", got, want, QK_K);

    /* Q4_K with scales 4..7 different: sub-block j gets scale 40+j (needs the high bits) */
    uint8_t sc[8], mn[8];
    for (int j = 0; j < 8; j++) sc[j] = (uint8_t)(40 + j), mn[j] = (uint8_t)(63 - j);
    memset(q4.scales, 0, sizeof q4.scales);
    for (int j = 0; j < 4; j++) {
        q4.scales[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        q4.scales[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
        q4.scales[j + 8] = (uint8_t)((sc[j + 4] & 0xF) | (mn[j + 4] & 0xF) << 4);
    }
    q4.d = h(0.25f), q4.dmin = h(0.125f);
    for (int e = 0; e < QK_K; e++) {
        int j = e / 32;
        want[e] = 0.25f * sc[j] * (e % 64 < 32 ? 1 : 3) - 0.125f * mn[j];
    }
    dequant(ELM_TYPE_Q4_K, &q4, got, QK_K);
    expect_floats("Q4_K 6-bit scales", got, want, QK_K);

    /* Q5_K: the same, with every fifth bit set (+16) */
    block_q5_K q5;
    memset(&q5, 0, sizeof q5);
    memcpy(q5.scales, q4.scales, sizeof q5.scales);
    memset(q5.qs, 0x31, sizeof q5.qs);
    memset(q5.qh, 0xFF, sizeof q5.qh);
    q5.d = q4.d, q5.dmin = q4.dmin;
    for (int e = 0; e < QK_K; e++) {
        int j = e / 32;
        want[e] = 0.25f * sc[j] * (e % 64 < 32 ? 17 : 19) - 0.125f * mn[j];
    }
    dequant(ELM_TYPE_Q5_K, &q5, got, QK_K);
    expect_floats("Q5_K", got, want, QK_K);

    /* Q6_K: scale of group g is g-8; ql bytes 0x21, qh 0: quarters 0,1 of each 128 read the
     * low nibble (1 - 32), quarters 2,3 the high one (2 - 32); d = 0.5. */
    block_q6_K q6;
    memset(&q6, 0, sizeof q6);
    memset(q6.ql, 0x21, sizeof q6.ql);
    for (int g = 0; g < 16; g++) q6.scales[g] = (int8_t)(g - 8);
    q6.d = h(0.5f);
    for (int e = 0; e < QK_K; e++) want[e] = 0.5f * (float)(e / 16 - 8) * (float)((e % 128) / 64 == 0 ? -31 : -30);
    dequant(ELM_TYPE_Q6_K, &q6, got, QK_K);
    expect_floats("Q6_K", got, want, QK_K);
    /* and with every high 2-bit field 3 (+48) */
    memset(q6.qh, 0xFF, sizeof q6.qh);
    for (int e = 0; e < QK_K; e++) want[e] = 0.5f * (float)(e / 16 - 8) * (float)((e % 128) / 64 == 0 ? 17 : 18);
    dequant(ELM_TYPE_Q6_K, &q6, got, QK_K);
    expect_floats("Q6_K high bits", got, want, QK_K);
}

static float scalar_dot(uint32_t wtype, int64_t n, const void *w, const void *a) {
    float s = NAN;
    elmk_get_ops_isa(wtype, ELMK_ISA_SCALAR)->vec_dot(n, &s, w, a);
    return s;
}

static void hand_dots(void **state) {
    (void)state;
    /* Q8_0 x Q8_0: 32 * (2*0.5) * (3*0.25) = 24; the second block sums to 0 */
    block_q8_0 w8[2], a8[2];
    memset(w8, 0, sizeof w8);
    memset(a8, 0, sizeof a8);
    w8[0].d = h(0.5f), a8[0].d = h(0.25f), w8[1].d = h(1.0f), a8[1].d = h(1.0f);
    for (int j = 0; j < 32; j++) w8[0].qs[j] = 2, a8[0].qs[j] = 3, w8[1].qs[j] = 5, a8[1].qs[j] = (int8_t)(j % 2 ? 1 : -1);
    assert_true(scalar_dot(ELM_TYPE_Q8_0, 64, w8, a8) == 24.0f);

    /* Q4_0 x Q8_0: every weight (9-8)*2 = 2, activations 0..31: 2 * 496 */
    block_q4_0 w4 = {h(2.0f), {0}};
    memset(w4.qs, 0x99, 16);
    block_q8_0 a40 = {h(1.0f), {0}};
    for (int j = 0; j < 32; j++) a40.qs[j] = (int8_t)j;
    assert_true(scalar_dot(ELM_TYPE_Q4_0, 32, &w4, &a40) == 992.0f);

    /* Q5_0 x Q8_0: all quants 31 (+15), d = 0.5; activations all -1: -32 * 7.5 = -240 */
    block_q5_0 w5 = {h(0.5f), {0xFF, 0xFF, 0xFF, 0xFF}, {0}};
    memset(w5.qs, 0xFF, 16);
    block_q8_0 am1 = {h(1.0f), {0}};
    memset(am1.qs, 0xFF, 32);
    assert_true(scalar_dot(ELM_TYPE_Q5_0, 32, &w5, &am1) == -240.0f);

    /* Q4_1 x Q8_1: weights 1*1 + 0.5, activations 1 (s = 32): 32 * 1.5 = 48 */
    block_q4_1 w41 = {h(1.0f), h(0.5f), {0}};
    memset(w41.qs, 0x11, 16);
    block_q8_1 a81 = {h(1.0f), h(32.0f), {0}};
    memset(a81.qs, 1, 32);
    assert_true(scalar_dot(ELM_TYPE_Q4_1, 32, &w41, &a81) == 48.0f);

    /* Q5_1 x Q8_1: weights 17*0.5 - 4 = 4.5 (fifth bits set, nibbles 1), activations 1 */
    block_q5_1 w51 = {h(0.5f), h(-4.0f), {0xFF, 0xFF, 0xFF, 0xFF}, {0}};
    memset(w51.qs, 0x11, 16);
    assert_true(scalar_dot(ELM_TYPE_Q5_1, 32, &w51, &a81) == 32 * 4.5f);

    /* Q4_K x Q8_K: the hand block above (1.5 and 5.5, half each) with activations 1.0
     * (d = 0.5, q = 2, bsums = 32): 128*1.5 + 128*5.5 = 896 */
    block_q4_K w4k;
    memset(&w4k, 0, sizeof w4k);
    memset(w4k.scales, 2, 4);
    memset(w4k.scales + 4, 1, 4);
    memset(w4k.scales + 8, 0x12, 4);
    memset(w4k.qs, 0x31, sizeof w4k.qs);
    w4k.d = h(1.0f), w4k.dmin = h(0.5f);
    block_q8_K a8k;
    a8k.d = 0.5f;
    memset(a8k.qs, 2, QK_K);
    for (int g = 0; g < 16; g++) a8k.bsums[g] = 32;
    assert_true(scalar_dot(ELM_TYPE_Q4_K, QK_K, &w4k, &a8k) == 896.0f);

    /* Q6_K x Q8_K: the hand block (0.5*(g-8)*q) against activations all 1.0 */
    block_q6_K w6;
    memset(&w6, 0, sizeof w6);
    memset(w6.ql, 0x21, sizeof w6.ql);
    for (int g = 0; g < 16; g++) w6.scales[g] = (int8_t)(g - 8);
    w6.d = h(0.5f);
    a8k.d = 1.0f;
    memset(a8k.qs, 1, QK_K);
    for (int g = 0; g < 16; g++) a8k.bsums[g] = 16;
    double want6 = 0;
    for (int g = 0; g < 16; g++) want6 += 0.5 * (g - 8) * 16 * ((g % 8) / 4 == 0 ? -31 : -30);
    assert_true(scalar_dot(ELM_TYPE_Q6_K, QK_K, &w6, &a8k) == (float)want6);

    /* F16 x F16, BF16 x BF16 (activations in the weight's type) and F32 x F32: small
     * integers, exact */
    uint16_t wf[5] = {h(1), h(-2), h(3), h(0.5f), h(4)};
    uint16_t wb[5] = {0x3F80, 0xC000, 0x4040, 0x3F00, 0x4080};   /* the same values in bf16 */
    float af[5] = {1, 2, 3, 4, -5};
    uint16_t afh[5] = {h(1), h(2), h(3), h(4), h(-5)};
    uint16_t afb[5] = {0x3F80, 0x4000, 0x4040, 0x4080, 0xC0A0};
    assert_true(scalar_dot(ELM_TYPE_F16, 5, wf, afh) == 1 - 4 + 9 + 2 - 20);
    assert_true(scalar_dot(ELM_TYPE_BF16, 5, wb, afb) == 1 - 4 + 9 + 2 - 20);
    float wf32[5] = {1, -2, 3, 0.5f, 4};
    assert_true(scalar_dot(ELM_TYPE_F32, 5, wf32, af) == 1 - 4 + 9 + 2 - 20);
}

static void quantize(uint32_t type, const float *x, void *q, int64_t n) {
    elmk_get_ops_isa(type, ELMK_ISA_SCALAR)->from_float(x, q, n);
}

static void hand_quantizers(void **state) {
    (void)state;
    /* Q8_0: absmax 127 -> d = 1; roundf rounds halves away from zero */
    float x[QK_K];
    memset(x, 0, sizeof x);
    x[0] = 127, x[1] = 2.5f, x[2] = -2.5f, x[3] = 0.49f, x[4] = -127;
    block_q8_0 q8;
    quantize(ELM_TYPE_Q8_0, x, &q8, 32);
    assert_int_equal(q8.d, 0x3C00);
    assert_int_equal(q8.qs[0], 127);
    assert_int_equal(q8.qs[1], 3);
    assert_int_equal(q8.qs[2], -3);
    assert_int_equal(q8.qs[3], 0);
    assert_int_equal(q8.qs[4], -127);

    /* Q8_1: s = d * sum(q) = 127 + 3 - 3 - 127 = 0; then with x[4] = 0: 127 */
    block_q8_1 q81;
    quantize(ELM_TYPE_Q8_1, x, &q81, 32);
    assert_int_equal(q81.s, 0x0000);
    x[4] = 0;
    quantize(ELM_TYPE_Q8_1, x, &q81, 32);
    assert_int_equal(q81.d, 0x3C00);
    assert_true(elmk_fp16_to_fp32(q81.s) == 127.0f);

    /* Q4_0: the value of largest magnitude (-8) gives d = -8/-8 = 1; q = trunc(x/d + 8.5) */
    for (int j = 0; j < 16; j++) x[j] = (float)(j - 8), x[j + 16] = (float)(7 - j);
    block_q4_0 q4;
    quantize(ELM_TYPE_Q4_0, x, &q4, 32);
    assert_int_equal(q4.d, 0x3C00);
    for (int j = 0; j < 16; j++) assert_int_equal(q4.qs[j], j | (15 - j) << 4);
    /* a positive extreme gives a negative d, and -max clamps to 15 */
    memset(x, 0, 32 * sizeof x[0]);
    x[0] = 8, x[1] = -8;
    quantize(ELM_TYPE_Q4_0, x, &q4, 32);
    assert_int_equal(q4.d, 0xBC00);                        /* -1 */
    assert_int_equal(q4.qs[0] & 0xF, 0);
    assert_int_equal(q4.qs[1] & 0xF, 15);
    assert_int_equal(q4.qs[2] & 0xF, 8);

    /* Q4_1: range [-1, 2] in 15 steps of 0.2 */
    for (int j = 0; j < 32; j++) x[j] = -1.0f + 3.0f * (float)(j % 16) / 15.0f;
    block_q4_1 q41;
    quantize(ELM_TYPE_Q4_1, x, &q41, 32);
    assert_int_equal(q41.d, h(0.2f));
    assert_int_equal(q41.m, 0xBC00);
    for (int j = 0; j < 16; j++) assert_int_equal(q41.qs[j], j | j << 4);

    /* Q8_K: x = j - 128; the first largest magnitude is -128, so iscale = -127/-128 and
     * q = nearest(127/128 * (j - 128)), ties to even: j = 64 gives -63.5 -> -64, j = 192
     * gives 63.5 -> 64; d = -128/-127 in float */
    for (int j = 0; j < QK_K; j++) x[j] = (float)(j - 128);
    block_q8_K q8k;
    quantize(ELM_TYPE_Q8_K, x, &q8k, QK_K);
    assert_true(q8k.d == 1.0f / (127.0f / 128.0f));
    assert_int_equal(q8k.qs[0], -127);
    assert_int_equal(q8k.qs[255], 126);
    assert_int_equal(q8k.qs[64], -64);
    assert_int_equal(q8k.qs[192], 64);
    for (int g = 0; g < 16; g++) {
        int sum = 0;
        for (int l = 0; l < 16; l++) sum += q8k.qs[16 * g + l];
        assert_int_equal(q8k.bsums[g], sum);
    }
    /* an all-zero super-block: d = 0, q = 0 and bsums = 0 */
    memset(x, 0, sizeof x);
    memset(&q8k, 0x55, sizeof q8k);
    quantize(ELM_TYPE_Q8_K, x, &q8k, QK_K);
    assert_true(q8k.d == 0.0f);
    for (int j = 0; j < QK_K; j++) assert_int_equal(q8k.qs[j], 0);
    for (int g = 0; g < 16; g++) assert_int_equal(q8k.bsums[g], 0);
}

/* ==== 3. Round trips ===================================================================== */

/* Relative RMS error of dequant(quant(x)) on normal data, as a fraction of rms(x). The
 * reference reaches about 1/1.2 of each bound (measured over several seeds); a broken
 * quantizer (wrong rounding, a lost scale bit, a bad search) costs far more. */
static const struct { uint32_t type; double max_rel_rmse; } round_trip_bounds[] = {
    {ELM_TYPE_F32, 0.0},       {ELM_TYPE_F16, 2.6e-4},    {ELM_TYPE_BF16, 2.1e-3},
    {ELM_TYPE_Q8_0, 6.6e-3},   {ELM_TYPE_Q8_1, 6.6e-3},   {ELM_TYPE_Q8_K, 8.7e-3},
    {ELM_TYPE_Q5_0, 5.3e-2},   {ELM_TYPE_Q5_1, 4.7e-2},   {ELM_TYPE_Q4_0, 1.05e-1},
    {ELM_TYPE_Q4_1, 9.6e-2},   {ELM_TYPE_Q6_K, 2.2e-2},   {ELM_TYPE_Q5_K, 4.4e-2},
    {ELM_TYPE_Q4_K, 8.7e-2},   {ELM_TYPE_Q3_K, 1.85e-1},  {ELM_TYPE_Q2_K, 3.6e-1},
};

static void round_trip_error_is_bounded(void **state) {
    (void)state;
    const int64_t n = 8192;
    buf x = buf_new(n * sizeof(float)), y = buf_new(n * sizeof(float)), q = buf_new(n * 4);
    uint64_t rng = 3;
    for (size_t t = 0; t < COUNT(round_trip_bounds); t++) {
        uint32_t type = round_trip_bounds[t].type;
        fill_normal(x.p, n, &rng);
        quantize(type, x.p, q.p, n);
        dequant(type, q.p, y.p, n);
        double e2 = 0, x2 = 0;
        const float *xs = x.p, *ys = y.p;
        for (int64_t i = 0; i < n; i++) {
            e2 += ((double)xs[i] - ys[i]) * ((double)xs[i] - ys[i]);
            x2 += (double)xs[i] * xs[i];
        }
        double rel = sqrt(e2 / x2);
        if (!(rel <= round_trip_bounds[t].max_rel_rmse))
            fail_msg("%s round trip: relative rmse %.4g above %.4g", tname(type), rel, round_trip_bounds[t].max_rel_rmse);
        /* zeros stay zeros */
        memset(x.p, 0, n * sizeof(float));
        quantize(type, x.p, q.p, n);
        dequant(type, q.p, y.p, n);
        for (int64_t i = 0; i < n; i++)
            if (ys[i] != 0.0f) fail_msg("%s: a zero row dequantizes to %g at %lld", tname(type), ys[i], (long long)i);
    }
    buf_free(&x);
    buf_free(&y);
    buf_free(&q);
}

/* Extreme inputs: large finite values (within half precision's range after scaling)
 * give finite results; NaN and infinities must not crash or trip the sanitizers (the
 * values are then unspecified, as in ggml). */
static void extreme_inputs_are_safe(void **state) {
    (void)state;
    const int64_t n = 2 * QK_K;
    buf x = buf_new(n * sizeof(float)), y = buf_new(n * sizeof(float)), q = buf_new(n * 4);
    float *xs = x.p, *ys = y.p;
    uint64_t rng = 9;
    for (size_t t = 0; t < COUNT(all_types); t++) {
        uint32_t type = all_types[t];
        for (int64_t i = 0; i < n; i++) xs[i] = (i % 7 == 0 ? 3e3f : 1e-30f) * elmt_rand_normal(&rng);
        xs[5] = 6e4f, xs[300] = -6e4f, xs[40] = 1e-45f;
        quantize(type, xs, q.p, n);
        dequant(type, q.p, ys, n);
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(ys[i])) fail_msg("%s: finite input %g gave %g at %lld", tname(type), xs[i], ys[i], (long long)i);
        xs[3] = NAN, xs[100] = INFINITY, xs[260] = -INFINITY, xs[261] = 3e38f, xs[262] = -3e38f;
        quantize(type, xs, q.p, n);
        dequant(type, q.p, ys, n);
    }
    buf_free(&x), buf_free(&y), buf_free(&q);
}

/* ==== 4 and 5: dot products ============================================================== */

/* A weight row and an activation row, quantized, with their dequantized values. */
typedef struct {
    int64_t n;
    buf x, a;        /* floats: weights, activations */
    buf wq, aq;      /* quantized weight row, activation row in the vec_dot_type */
    buf wd, ad;      /* dequantized: what the dot product actually multiplies */
} dot_case;

static void dot_case_init(dot_case *c, int64_t nmax) {
    c->x = buf_new(nmax * sizeof(float));
    c->a = buf_new(nmax * sizeof(float));
    c->wq = buf_new(nmax * 4);
    c->aq = buf_new(nmax * 4);
    c->wd = buf_new(nmax * sizeof(float));
    c->ad = buf_new(nmax * sizeof(float));
}

static void dot_case_free(dot_case *c) {
    buf_free(&c->x), buf_free(&c->a), buf_free(&c->wq), buf_free(&c->aq), buf_free(&c->wd), buf_free(&c->ad);
}

/* Fill with random data and quantize with the SCALAR reference. */
static void dot_case_make(dot_case *c, uint32_t wtype, int64_t n, uint64_t *rng) {
    const elmk_type_ops *ops = elmk_get_ops_isa(wtype, ELMK_ISA_SCALAR);
    c->n = n;
    fill_weights(c->x.p, n, block_size(wtype), rng);
    fill_normal(c->a.p, n, rng);
    ops->from_float(c->x.p, c->wq.p, n);
    ops->to_float(c->wq.p, c->wd.p, n);
    const elmk_type_ops *aops = elmk_get_ops_isa(ops->vec_dot_type, ELMK_ISA_SCALAR);
    aops->from_float(c->a.p, c->aq.p, n);
    aops->to_float(c->aq.p, c->ad.p, n);
}

/* sum |w_i * a_i| of the dequantized rows: the scale every dot-product error is measured
 * against (the result itself can cancel to near zero). */
static double abs_dot(const dot_case *c) {
    const float *w = c->wd.p, *a = c->ad.p;
    double s = 0;
    for (int64_t i = 0; i < c->n; i++) s += fabs((double)w[i] * a[i]);
    return s;
}

static double exact_dot(const dot_case *c) {
    const float *w = c->wd.p, *a = c->ad.p;
    double s = 0;
    for (int64_t i = 0; i < c->n; i++) s += (double)w[i] * a[i];
    return s;
}

/* Q4_1/Q5_1 take sum(a) from Q8_1's s, which is d*sum(q) rounded to half precision (as in
 * ggml), not from the dequantized activations: allow that rounding exactly, block by block. */
static double q8_1_s_allowance(uint32_t wtype, const dot_case *c) {
    if (wtype != ELM_TYPE_Q4_1 && wtype != ELM_TYPE_Q5_1) return 0;
    const block_q8_1 *a = c->aq.p;
    double allow = 0;
    for (int64_t b = 0; b < c->n / 32; b++) {
        uint16_t m = wtype == ELM_TYPE_Q4_1 ? ((const block_q4_1 *)c->wq.p)[b].m : ((const block_q5_1 *)c->wq.p)[b].m;
        int sum = 0;
        for (int j = 0; j < 32; j++) sum += a[b].qs[j];
        double exact = (double)elmk_fp16_to_fp32(a[b].d) * sum;
        allow += fabs((double)elmk_fp16_to_fp32(m)) * fabs((double)elmk_fp16_to_fp32(a[b].s) - exact);
    }
    return allow;
}

/* Row lengths to test: every multiple of the block size up to a few blocks, then larger
 * ones (float types take any length, so odd ones exercise the SIMD tails). */
static int lengths_for(uint32_t type, int64_t *out) {
    int k = 0;
    int64_t bs = block_size(type);
    if (bs == 1) {
        static const int64_t fl[] = {1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 1000, 4099};
        for (size_t i = 0; i < COUNT(fl); i++) out[k++] = fl[i];
    } else if (bs == 32) {
        for (int b = 1; b <= 9; b++) out[k++] = 32 * b;
        out[k++] = 32 * 33, out[k++] = 2048, out[k++] = 4096 + 32;
    } else {
        for (int b = 1; b <= 5; b++) out[k++] = QK_K * b;
        out[k++] = QK_K * 11, out[k++] = 4096;
    }
    return k;
}

/* The scalar reference against the double-precision dot of the same dequantized rows.
 * Bound: 1e-5 * sum|w*a| (float rounding of per-block scales and of the running sum), plus
 * for Q4_1/Q5_1 the exact effect of Q8_1's half-precision s. */
static void reference_dot_matches_double_precision(void **state) {
    (void)state;
    const int64_t nmax = 8192;
    dot_case c;
    dot_case_init(&c, nmax);
    uint64_t rng = 4;
    int64_t lens[32];
    const int reps = elmt_quick() ? 2 : 6;
    for (size_t t = 0; t < COUNT(weight_types); t++) {
        uint32_t wt = weight_types[t];
        int nl = lengths_for(wt, lens);
        for (int l = 0; l < nl; l++) {
            for (int r = 0; r < reps; r++) {
                dot_case_make(&c, wt, lens[l], &rng);
                float s = scalar_dot(wt, c.n, c.wq.p, c.aq.p);
                double want = exact_dot(&c);
                double bound = 1e-5 * abs_dot(&c) + q8_1_s_allowance(wt, &c) + 1e-30;
                if (!(fabs(s - want) <= bound))
                    fail_msg("%s n=%lld: scalar dot %.9g, double %.9g, |diff| %.3g > %.3g", tname(wt), (long long)c.n, s,
                             want, fabs(s - want), bound);
            }
        }
    }
    dot_case_free(&c);
}

static bool same_bytes_or_report(const char *what, uint32_t type, elmk_isa isa, int64_t n, const void *a,
                                 const void *b, size_t bytes) {
    if (memcmp(a, b, bytes) == 0) return true;
    size_t i = 0;
    while (((const unsigned char *)a)[i] == ((const unsigned char *)b)[i]) i++;
    fail_msg("%s %s n=%lld on %s: byte %zu differs from scalar (0x%02x vs 0x%02x)", what, tname(type), (long long)n,
             elmk_isa_name(isa), i, ((const unsigned char *)a)[i], ((const unsigned char *)b)[i]);
    return false;
}

/* One ISA's entries against the scalar ones for one type and length. */
static void check_isa_type(elmk_isa isa, uint32_t type, int64_t n, dot_case *c, uint64_t *rng, bool with_gemm,
                           int *n_gemm) {
    const elmk_type_ops *ref = elmk_get_ops_isa(type, ELMK_ISA_SCALAR);
    const elmk_type_ops *ops = elmk_get_ops_isa(type, isa);
    assert_non_null(ops);
    assert_int_equal(ops->vec_dot_type, ref->vec_dot_type);
    const size_t rb = row_bytes(type, n);

    /* from_float and to_float: bit-identical */
    buf q1 = buf_new(rb), q2 = buf_new(rb), f1 = buf_new(n * sizeof(float)), f2 = buf_new(n * sizeof(float));
    fill_weights(c->x.p, n, block_size(type), rng);
    memset(q1.p, 0xA5, rb), memset(q2.p, 0x5A, rb);
    ref->from_float(c->x.p, q1.p, n);
    ops->from_float(c->x.p, q2.p, n);
    same_bytes_or_report("from_float", type, isa, n, q1.p, q2.p, rb);
    ref->to_float(q1.p, f1.p, n);
    ops->to_float(q1.p, f2.p, n);
    same_bytes_or_report("to_float", type, isa, n, f1.p, f2.p, n * sizeof(float));
    buf_free(&q1), buf_free(&q2), buf_free(&f1), buf_free(&f2);

    if (!ref->vec_dot) {                                  /* activation-only types */
        assert_null(ops->vec_dot);
        return;
    }
    assert_non_null(ops->vec_dot);

    /* vec_dot: on x86 bit-identical to the scalar reference (both repeat llama.cpp's float
     * operations); elsewhere |isa - scalar| <= 1e-5 * sum|w*a| (only the float summation
     * order may differ; the integer block sums are exact in both) */
    const bool exact = isa == ELMK_ISA_AVX2 || isa == ELMK_ISA_AVX512;
    dot_case_make(c, type, n, rng);
    float want = scalar_dot(type, n, c->wq.p, c->aq.p), got = NAN;
    ops->vec_dot(n, &got, c->wq.p, c->aq.p);
    double bound = exact ? 0.0 : 1e-5 * abs_dot(c) + 1e-30;
    if (exact ? memcmp(&got, &want, sizeof got) != 0 : !(fabs((double)got - want) <= bound))
        fail_msg("vec_dot %s n=%lld on %s: %.9g, scalar %.9g (|diff| %.3g > %.3g)", tname(type), (long long)n,
                 elmk_isa_name(isa), got, want, fabs((double)got - want), bound);

    /* gemm, when the ISA has one: every tile shape up to its preferred one, with a row
     * stride in the output, against scalar dots; nothing outside the tile is written */
    if (!ops->gemm || !with_gemm) return;
    assert_true(ops->gemm_nr > 0 && ops->gemm_nc > 0 && ops->gemm_nr <= 16 && ops->gemm_nc <= 16);
    const int NR = ops->gemm_nr, NC = ops->gemm_nc;
    const elmk_type_ops *aref = elmk_get_ops_isa(ref->vec_dot_type, ELMK_ISA_SCALAR);
    const size_t wrb = rb, arb = ref->vec_dot_type == ELM_TYPE_F32 ? n * sizeof(float) : row_bytes(ref->vec_dot_type, n);
    buf W = buf_new(wrb * NR), A = buf_new(arb * NC), X = buf_new(n * sizeof(float));
    const size_t ss = (size_t)NR + 3;
    float *S = malloc(sizeof(float) * ss * (NC + 1));
    double *absw = malloc(sizeof(double) * NR * NC);
    float *refs = malloc(sizeof(float) * NR * NC);
    float *wf = malloc(sizeof(float) * n * NR), *af = malloc(sizeof(float) * n * NC);
    assert_true(S && absw && wf && af);
    for (int i = 0; i < NR; i++) {
        fill_weights(X.p, n, block_size(type), rng);
        ref->from_float(X.p, (char *)W.p + i * wrb, n);
        ref->to_float((char *)W.p + i * wrb, wf + (size_t)i * n, n);
    }
    for (int j = 0; j < NC; j++) {
        fill_normal(X.p, n, rng);
        aref->from_float(X.p, (char *)A.p + j * arb, n);
        aref->to_float((char *)A.p + j * arb, af + (size_t)j * n, n);
    }
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NC; j++) {
            double s = 0;
            for (int64_t k = 0; k < n; k++) s += fabs((double)wf[(size_t)i * n + k] * af[(size_t)j * n + k]);
            absw[i * NC + j] = s;
            refs[i * NC + j] = scalar_dot(type, n, (char *)W.p + i * wrb, (char *)A.p + j * arb);
        }
    for (int nr = 1; nr <= NR; nr++) {
        for (int nc = 1; nc <= NC; nc++) {
            for (size_t k = 0; k < ss * (NC + 1); k++) S[k] = -12345.0f;
            ops->gemm(n, S, ss, W.p, wrb, A.p, arb, nr, nc);
            for (int j = 0; j <= NC; j++) {
                for (size_t i = 0; i < ss; i++) {
                    float v = S[j * ss + i];
                    if ((int)i < nr && j < nc) {
                        float r = refs[i * NC + j];
                        double b = 1e-5 * absw[i * NC + j] + 1e-30;
                        if (exact ? memcmp(&v, &r, sizeof v) != 0 : !(fabs((double)v - r) <= b))
                            fail_msg("gemm %s n=%lld on %s tile %dx%d: s[%d][%zu] = %.9g, scalar %.9g", tname(type),
                                     (long long)n, elmk_isa_name(isa), nr, nc, j, i, v, r);
                    } else if (v != -12345.0f) {
                        fail_msg("gemm %s on %s tile %dx%d wrote outside the tile at s[%d][%zu]", tname(type),
                                 elmk_isa_name(isa), nr, nc, j, i);
                    }
                }
            }
            (*n_gemm)++;
        }
    }
    free(S), free(absw), free(refs), free(wf), free(af);
    buf_free(&W), buf_free(&A), buf_free(&X);
}

static void every_isa_matches_scalar(void **state) {
    (void)state;
    const int64_t nmax = 8192;
    dot_case c;
    dot_case_init(&c, nmax);
    uint64_t rng = 5;
    int64_t lens[32];
    int ran = 0;
    for (int isa = 0; isa < ELMK_ISA_COUNT; isa++) {
        if (!elmk_isa_available((elmk_isa)isa)) {
            printf("kernels: %s not available here, skipped\n", elmk_isa_name((elmk_isa)isa));
            continue;
        }
        int checks = 0, n_gemm = 0;
        for (size_t t = 0; t < COUNT(all_types); t++) {
            int nl = lengths_for(all_types[t], lens);
            for (int l = 0; l < nl; l++) {
                /* gemm tiles on the shorter lengths only, to keep qemu runs short */
                check_isa_type((elmk_isa)isa, all_types[t], lens[l], &c, &rng, lens[l] <= 1280, &n_gemm);
                checks++;
            }
        }
        printf("kernels: %s checked against scalar: %d type/length cases, %d gemm tiles\n", elmk_isa_name((elmk_isa)isa),
               checks, n_gemm);
        ran++;
    }
    assert_true(ran >= 1);
    dot_case_free(&c);
}

/* ==== 6. Dispatch ======================================================================== */

static void dispatch_table_is_complete(void **state) {
    (void)state;
    static const struct { uint32_t type, act; } want[] = {
        {ELM_TYPE_F32, ELM_TYPE_F32},   {ELM_TYPE_F16, ELM_TYPE_F16},   {ELM_TYPE_BF16, ELM_TYPE_BF16},
        {ELM_TYPE_Q4_0, ELM_TYPE_Q8_0}, {ELM_TYPE_Q5_0, ELM_TYPE_Q8_0}, {ELM_TYPE_Q8_0, ELM_TYPE_Q8_0},
        {ELM_TYPE_Q4_1, ELM_TYPE_Q8_1}, {ELM_TYPE_Q5_1, ELM_TYPE_Q8_1}, {ELM_TYPE_Q2_K, ELM_TYPE_Q8_K},
        {ELM_TYPE_Q3_K, ELM_TYPE_Q8_K}, {ELM_TYPE_Q4_K, ELM_TYPE_Q8_K}, {ELM_TYPE_Q5_K, ELM_TYPE_Q8_K},
        {ELM_TYPE_Q6_K, ELM_TYPE_Q8_K},
    };
    for (int isa = 0; isa < ELMK_ISA_COUNT; isa++) {
        if (!elmk_isa_available((elmk_isa)isa)) {
            assert_null(elmk_get_ops_isa(ELM_TYPE_Q4_0, (elmk_isa)isa));
            continue;
        }
        for (size_t i = 0; i < COUNT(want); i++) {
            const elmk_type_ops *ops = elmk_get_ops_isa(want[i].type, (elmk_isa)isa);
            assert_non_null(ops);
            assert_int_equal(ops->vec_dot_type, want[i].act);
            assert_non_null(ops->to_float);
            assert_non_null(ops->from_float);
            assert_non_null(ops->vec_dot);
            assert_non_null(elmk_get_ops_isa(want[i].act, (elmk_isa)isa));   /* its activations can be made */
        }
        assert_null(elmk_get_ops_isa(ELM_TYPE_IQ2_XXS, (elmk_isa)isa));
        assert_null(elmk_get_ops_isa(4, (elmk_isa)isa));
        assert_null(elmk_get_ops_isa(1000, (elmk_isa)isa));
    }
    assert_null(elmk_get_ops_isa(ELM_TYPE_Q4_0, ELMK_ISA_COUNT));
    assert_string_equal(elmk_isa_name(ELMK_ISA_SCALAR), "scalar");
    assert_string_equal(elmk_isa_name(ELMK_ISA_AVX2), "avx2");
    assert_string_equal(elmk_isa_name(ELMK_ISA_AVX512), "avx512");
    assert_string_equal(elmk_isa_name(ELMK_ISA_NEON), "neon");
    assert_string_equal(elmk_isa_name(ELMK_ISA_NEON_DOTPROD), "neon_dotprod");
    assert_true(elmk_isa_available(ELMK_ISA_SCALAR));
#if defined(__x86_64__)
    assert_false(elmk_isa_available(ELMK_ISA_NEON));
    assert_false(elmk_isa_available(ELMK_ISA_NEON_DOTPROD));
#elif defined(__aarch64__)
    assert_false(elmk_isa_available(ELMK_ISA_AVX2));
    assert_false(elmk_isa_available(ELMK_ISA_AVX512));
    assert_true(elmk_isa_available(ELMK_ISA_NEON));     /* every ARMv8-A Linux CPU has ASIMD */
#endif
    /* switching: to an available ISA works, to an unavailable one changes nothing */
    elmk_isa before = elmk_active_isa();
    for (int isa = 0; isa < ELMK_ISA_COUNT; isa++) {
        bool ok = elmk_set_isa((elmk_isa)isa);
        assert_int_equal(ok, elmk_isa_available((elmk_isa)isa));
        if (ok) {
            assert_int_equal(elmk_active_isa(), isa);
            assert_ptr_equal(elmk_get_ops(ELM_TYPE_Q4_K), elmk_get_ops_isa(ELM_TYPE_Q4_K, (elmk_isa)isa));
        }
    }
    assert_true(elmk_set_isa(before));
    assert_int_equal(elmk_active_isa(), before);
}

/* The active ISA is the one the environment asks for: ELM_EXPECT_ISA (make test-neon sets
 * it per qemu CPU model), else the EDGELM_ISA override if it is available, else the best
 * available. Runs before any test changes the active ISA. */
static void expected_isa_is_active(void **state) {
    (void)state;
    const char *expect = getenv("ELM_EXPECT_ISA");
    const char *forced = getenv("EDGELM_ISA");
    elmk_isa active = elmk_active_isa();
    printf("kernels: active ISA %s\n", elmk_isa_name(active));
    if (expect && *expect) {
        assert_string_equal(elmk_isa_name(active), expect);
        return;
    }
    int best = ELMK_ISA_SCALAR, named = -1;
    for (int isa = 0; isa < ELMK_ISA_COUNT; isa++) {
        if (elmk_isa_available((elmk_isa)isa)) best = isa;
        if (forced && strcmp(forced, elmk_isa_name((elmk_isa)isa)) == 0 && elmk_isa_available((elmk_isa)isa))
            named = isa;
    }
    /* an override naming an ISA this machine lacks falls back to the best one */
    assert_int_equal(active, named >= 0 ? named : best);
}

/* ==== Matrix products (elmk_matmul) ======================================================= */
/* Owned by helper ksimd: tests of the matmul driver (tiling, thread split, BLAS path)
 * against these per-type references go in this section (or in tests/test_matmul.c). */

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(expected_isa_is_active),
        cmocka_unit_test(fp16_conversions_are_exact_and_round_to_nearest_even),
        cmocka_unit_test(bf16_conversions_round_to_nearest_even_and_keep_nan),
        cmocka_unit_test(hand_blocks_legacy),
        cmocka_unit_test(hand_blocks_k),
        cmocka_unit_test(hand_dots),
        cmocka_unit_test(hand_quantizers),
        cmocka_unit_test(round_trip_error_is_bounded),
        cmocka_unit_test(extreme_inputs_are_safe),
        cmocka_unit_test(reference_dot_matches_double_precision),
        cmocka_unit_test(every_isa_matches_scalar),
        cmocka_unit_test(dispatch_table_is_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
