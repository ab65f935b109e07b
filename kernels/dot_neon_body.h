/* dot_neon_body.h: the NEON integer dot products and tile kernels, written once and
 * compiled twice: dot_neon.c (ARMv8.0, widening multiplies) and dot_neon_dotprod.c
 * (ARMv8.2 sdot) each define NEON_DOT16 and then include this file.
 *
 *   NEON_DOT16(acc, a, b): acc (int32x4) + the sums of a[i]*b[i] over 16 int8 lanes,
 *   four lanes at a time. Only the total over the lanes is ever used, so the two
 *   definitions may group the products differently.
 *
 * Every kernel forms the same integer sums per block (or per K-quant sub-block scale) as
 * the scalar reference, exactly, and then combines them with the block scales in floats
 * with the reference's expression, block by block in order, so a NEON dot product equals
 * the scalar one bit for bit (with ISO C's no-contraction default, i.e. gcc -std=c11; a
 * compiler that fuses a*b+c into fma on one side only leaves rounding-level differences).
 * The tile kernels use the same arithmetic per (row, token) pair, so gemm and vec_dot
 * agree bit for bit too.
 *
 * Must not: be included anywhere but dot_neon*.c; read outside the n/block-size blocks.
 */
#ifndef NEON_DOT16
#error "define NEON_DOT16 before including dot_neon_body.h"
#endif

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

/* ==== Small helpers ====================================================================== */

/* An IEEE half to float, exactly (the hardware conversion handles subnormals, inf, NaN). */
static inline float nb_half(uint16_t h) {
    __fp16 f;
    memcpy(&f, &h, sizeof f);
    return (float)f;
}

/* The 32 bits of a block's high-bit field (Q5_0/Q5_1 qh), little-endian like ggml. */
static inline uint32_t nb_load_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* 0xFF in byte i where bit i (of 16) of bits is set: the high bits of Q5 elements. */
static inline uint8x16_t nb_bits_to_mask(uint32_t bits16) {
    static const uint8_t sel[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint8x16_t bytes = vcombine_u8(vdup_n_u8((uint8_t)(bits16 & 0xff)), vdup_n_u8((uint8_t)(bits16 >> 8)));
    return vtstq_u8(bytes, vld1q_u8(sel));
}

/* Sum of the 32 products of one 32-element block. */
static inline int32_t nb_dot32(int8x16_t w0, int8x16_t w1, const int8_t *a) {
    int32x4_t p = NEON_DOT16(vdupq_n_s32(0), w0, vld1q_s8(a));
    p = NEON_DOT16(p, w1, vld1q_s8(a + 16));
    return vaddvq_s32(p);
}

/* The 32 weights of a Q4_0 / Q4_1 block as int8: element j is the low nibble of qs[j],
 * element j+16 the high one. Q4_0 centres them (q - 8). */
static inline void nb_unpack_q4(const uint8_t *qs, int centre, int8x16_t *lo, int8x16_t *hi) {
    const uint8x16_t q = vld1q_u8(qs);
    const int8x16_t off = vdupq_n_s8((int8_t)centre);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), off);
    *hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), off);
}

/* The 32 weights of a Q5_0 / Q5_1 block: nibble + 16*high bit, minus centre. */
static inline void nb_unpack_q5(const uint8_t *qs, const uint8_t *qh, int centre, int8x16_t *lo, int8x16_t *hi) {
    const uint32_t h = nb_load_u32(qh);
    const uint8x16_t q = vld1q_u8(qs);
    const uint8x16_t b16 = vdupq_n_u8(0x10);
    const uint8x16_t l = vorrq_u8(vandq_u8(q, vdupq_n_u8(0x0f)), vandq_u8(nb_bits_to_mask(h & 0xffff), b16));
    const uint8x16_t u = vorrq_u8(vshrq_n_u8(q, 4), vandq_u8(nb_bits_to_mask(h >> 16), b16));
    const int8x16_t off = vdupq_n_s8((int8_t)centre);
    *lo = vsubq_s8(vreinterpretq_s8_u8(l), off);
    *hi = vsubq_s8(vreinterpretq_s8_u8(u), off);
}

/* ==== 32-element block types ============================================================== */

static void nb_vec_dot_q8_0(int64_t n, float *s, const void *w, const void *a) {
    const block_q8_0 *x = w;
    const block_q8_0 *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        const int32_t sumi = nb_dot32(vld1q_s8(x[i].qs), vld1q_s8(x[i].qs + 16), y[i].qs);
        sumf += (nb_half(x[i].d) * nb_half(y[i].d)) * (float)sumi;
    }
    *s = sumf;
}

static void nb_vec_dot_q4_0(int64_t n, float *s, const void *w, const void *a) {
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        int8x16_t lo, hi;
        nb_unpack_q4(x[i].qs, 8, &lo, &hi);
        const int32_t sumi = nb_dot32(lo, hi, y[i].qs);
        sumf += (nb_half(x[i].d) * nb_half(y[i].d)) * (float)sumi;
    }
    *s = sumf;
}

static void nb_vec_dot_q4_1(int64_t n, float *s, const void *w, const void *a) {
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK4_1; i++) {
        int8x16_t lo, hi;
        nb_unpack_q4(x[i].qs, 0, &lo, &hi);
        const int32_t sumi = nb_dot32(lo, hi, y[i].qs);
        sumf += (nb_half(x[i].d) * nb_half(y[i].d)) * (float)sumi + nb_half(x[i].m) * nb_half(y[i].s);
    }
    *s = sumf;
}

static void nb_vec_dot_q5_0(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK5_0; i++) {
        int8x16_t lo, hi;
        nb_unpack_q5(x[i].qs, x[i].qh, 16, &lo, &hi);
        const int32_t sumi = nb_dot32(lo, hi, y[i].qs);
        sumf += (nb_half(x[i].d) * nb_half(y[i].d)) * (float)sumi;
    }
    *s = sumf;
}

static void nb_vec_dot_q5_1(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_1 *x = w;
    const block_q8_1 *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK5_1; i++) {
        int8x16_t lo, hi;
        nb_unpack_q5(x[i].qs, x[i].qh, 0, &lo, &hi);
        const int32_t sumi = nb_dot32(lo, hi, y[i].qs);
        sumf += (nb_half(x[i].d) * nb_half(y[i].d)) * (float)sumi + nb_half(x[i].m) * nb_half(y[i].s);
    }
    *s = sumf;
}

/* ==== K-quants (256-element super-blocks, Q8_K activations) ================================ */

/* acc + scale * (the 16-lane dot of w and a[0..15]), in int32 lanes. */
static inline int32x4_t nb_scaled16(int32x4_t acc, int8x16_t w, const int8_t *a, int32_t scale) {
    return vmlaq_n_s32(acc, NEON_DOT16(vdupq_n_s32(0), w, vld1q_s8(a)), scale);
}

/* sum over 16 groups of mins[g] * bsums[g] (mins unsigned bytes). */
static inline int32_t nb_mins_x_bsums16(uint8x16_t mins, const int16_t *bsums) {
    const int16x8_t m0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mins)));
    const int16x8_t m1 = vreinterpretq_s16_u16(vmovl_high_u8(mins));
    const int16x8_t b0 = vld1q_s16(bsums), b1 = vld1q_s16(bsums + 8);
    int32x4_t p = vmull_s16(vget_low_s16(m0), vget_low_s16(b0));
    p = vmlal_high_s16(p, m0, b0);
    p = vmlal_s16(p, vget_low_s16(m1), vget_low_s16(b1));
    p = vmlal_high_s16(p, m1, b1);
    return vaddvq_s32(p);
}

static void nb_vec_dot_q2_K(int64_t n, float *s, const void *w, const void *a) {
    const block_q2_K *x = w;
    const block_q8_K *y = a;
    const uint8x16_t m3 = vdupq_n_u8(3);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *sc = x[i].scales;         /* low nibble: scale, high nibble: min */
        const int32_t summs = nb_mins_x_bsums16(vshrq_n_u8(vld1q_u8(sc), 4), y[i].bsums);
        const int8_t *q8 = y[i].qs;
        int32x4_t acc = vdupq_n_s32(0);
        for (int half = 0; half < 2; half++) {        /* 128 elements from 32 bytes of qs */
            const uint8x16_t qa = vld1q_u8(x[i].qs + 32 * half);
            const uint8x16_t qb = vld1q_u8(x[i].qs + 32 * half + 16);
            const uint8_t *g = sc + 8 * half;
            /* shift 2*j selects the j-th 32-element run; its two 16-halves have own scales */
            acc = nb_scaled16(acc, vreinterpretq_s8_u8(vandq_u8(qa, m3)), q8 + 0, g[0] & 0xF);
            acc = nb_scaled16(acc, vreinterpretq_s8_u8(vandq_u8(qb, m3)), q8 + 16, g[1] & 0xF);
            acc = nb_scaled16(acc, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(qa, 2), m3)), q8 + 32, g[2] & 0xF);
            acc = nb_scaled16(acc, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(qb, 2), m3)), q8 + 48, g[3] & 0xF);
            acc = nb_scaled16(acc, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(qa, 4), m3)), q8 + 64, g[4] & 0xF);
            acc = nb_scaled16(acc, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(qb, 4), m3)), q8 + 80, g[5] & 0xF);
            acc = nb_scaled16(acc, vreinterpretq_s8_u8(vshrq_n_u8(qa, 6)), q8 + 96, g[6] & 0xF);
            acc = nb_scaled16(acc, vreinterpretq_s8_u8(vshrq_n_u8(qb, 6)), q8 + 112, g[7] & 0xF);
            q8 += 128;
        }
        const int32_t isum = vaddvq_s32(acc);
        const float dall = y[i].d * nb_half(x[i].d);
        const float dmin = y[i].d * nb_half(x[i].dmin);
        sumf += dall * (float)isum - dmin * (float)summs;
    }
    *s = sumf;
}

/* Q3_K's 16 six-bit scales, unpacked from 12 bytes and centred (-32..31). Bytes 0..7 hold
 * the low 4 bits of scales 0..7 (low nibbles) and 8..15 (high nibbles); bytes 8..11 hold
 * the top 2 bits, scale j's in byte 8 + j%4 at bit 2*(j/4). */
static inline int8x16_t nb_q3k_scales(const uint8_t *p) {
    static const int8_t top_shift[16] = {0, 0, 0, 0, -2, -2, -2, -2, -4, -4, -4, -4, -6, -6, -6, -6};
    const uint8x8_t lo8 = vld1_u8(p);
    const uint8x16_t low = vcombine_u8(vand_u8(lo8, vdup_n_u8(0xF)), vshr_n_u8(lo8, 4));
    const uint8x16_t tops = vreinterpretq_u8_u32(vdupq_n_u32(nb_load_u32(p + 8)));   /* bytes 8..11, 4 times */
    const uint8x16_t high = vandq_u8(vshlq_u8(tops, vld1q_s8(top_shift)), vdupq_n_u8(3));
    return vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(low, vshlq_n_u8(high, 4))), vdupq_n_s8(32));
}

static void nb_vec_dot_q3_K(int64_t n, float *s, const void *w, const void *a) {
    const block_q3_K *x = w;
    const block_q8_K *y = a;
    const uint8x16_t m3 = vdupq_n_u8(3), four = vdupq_n_u8(4);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t scales[16];
        vst1q_s8(scales, nb_q3k_scales(x[i].scales));
        const uint8x16_t hm0 = vld1q_u8(x[i].hmask), hm1 = vld1q_u8(x[i].hmask + 16);
        const int8_t *q8 = y[i].qs;
        int32x4_t acc = vdupq_n_s32(0);
        for (int half = 0; half < 2; half++) {
            const uint8x16_t qa = vld1q_u8(x[i].qs + 32 * half);
            const uint8x16_t qb = vld1q_u8(x[i].qs + 32 * half + 16);
            for (int j = 0; j < 4; j++) {
                /* 2 low bits at shift 2j; a clear hmask bit (4*half + j) means minus 4 */
                const int sh = 2 * j;
                const uint8x16_t bit = vdupq_n_u8((uint8_t)(1u << (4 * half + j)));
                const uint8x16_t la = vandq_u8(vshlq_u8(qa, vdupq_n_s8((int8_t)-sh)), m3);
                const uint8x16_t lb = vandq_u8(vshlq_u8(qb, vdupq_n_s8((int8_t)-sh)), m3);
                const uint8x16_t sa = vbicq_u8(four, vtstq_u8(hm0, bit)), sb = vbicq_u8(four, vtstq_u8(hm1, bit));
                const int8x16_t wa = vsubq_s8(vreinterpretq_s8_u8(la), vreinterpretq_s8_u8(sa));
                const int8x16_t wb = vsubq_s8(vreinterpretq_s8_u8(lb), vreinterpretq_s8_u8(sb));
                acc = nb_scaled16(acc, wa, q8, scales[8 * half + 2 * j]);
                acc = nb_scaled16(acc, wb, q8 + 16, scales[8 * half + 2 * j + 1]);
                q8 += 32;
            }
        }
        const float d = nb_half(x[i].d) * y[i].d;
        sumf += d * (float)vaddvq_s32(acc);
    }
    *s = sumf;
}

/* Q4_K / Q5_K: eight 6-bit scales and eight 6-bit mins packed in 12 bytes. Pairs 0..3
 * are the low 6 bits of bytes 0..3 (scale) and 4..7 (min); pairs 4..7 take their low 4
 * bits from the nibbles of bytes 8..11 and their top 2 bits from the spare top bits of
 * bytes 0..3 (scale) and 4..7 (min). */
static inline void nb_k4_scales_mins(const uint8_t *p, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = p[j] & 63;
        mn[j] = p[j + 4] & 63;
        sc[j + 4] = (uint8_t)((p[j + 8] & 0xF) | (p[j] >> 6) << 4);
        mn[j + 4] = (uint8_t)((p[j + 8] >> 4) | (p[j + 4] >> 6) << 4);
    }
}

/* sum over 8 sub-blocks of 32 of mins[j] * (bsums[2j] + bsums[2j+1]). */
static inline int32_t nb_mins_x_bsums8(const uint8_t mn[8], const int16_t *bsums) {
    const int16x8_t pair = vpaddq_s16(vld1q_s16(bsums), vld1q_s16(bsums + 8));
    const int16x8_t m = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mn)));
    int32x4_t p = vmull_s16(vget_low_s16(m), vget_low_s16(pair));
    p = vmlal_high_s16(p, m, pair);
    return vaddvq_s32(p);
}

/* Chunk j (0..3) of a Q4_K / Q5_K super-block: w[0..1] = elements 64j..64j+31 (sub-block
 * 2j), w[2..3] = elements 64j+32..64j+63 (sub-block 2j+1). */
static inline void nb_q4k_chunk(const block_q4_K *xb, int j, int8x16_t w[4]) {
    const uint8x16_t m4 = vdupq_n_u8(0x0f);
    const uint8x16_t qa = vld1q_u8(xb->qs + 32 * j), qb = vld1q_u8(xb->qs + 32 * j + 16);
    w[0] = vreinterpretq_s8_u8(vandq_u8(qa, m4));
    w[1] = vreinterpretq_s8_u8(vandq_u8(qb, m4));
    w[2] = vreinterpretq_s8_u8(vshrq_n_u8(qa, 4));
    w[3] = vreinterpretq_s8_u8(vshrq_n_u8(qb, 4));
}

static inline void nb_q5k_chunk(const block_q5_K *xb, int j, int8x16_t w[4]) {
    const uint8x16_t m4 = vdupq_n_u8(0x0f), b16 = vdupq_n_u8(0x10);
    const uint8x16_t qa = vld1q_u8(xb->qs + 32 * j), qb = vld1q_u8(xb->qs + 32 * j + 16);
    const uint8x16_t h0 = vld1q_u8(xb->qh), h1 = vld1q_u8(xb->qh + 16);
    const uint8x16_t bl = vdupq_n_u8((uint8_t)(1u << (2 * j))), bh = vdupq_n_u8((uint8_t)(2u << (2 * j)));
    w[0] = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(qa, m4), vandq_u8(vtstq_u8(h0, bl), b16)));
    w[1] = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(qb, m4), vandq_u8(vtstq_u8(h1, bl), b16)));
    w[2] = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(qa, 4), vandq_u8(vtstq_u8(h0, bh), b16)));
    w[3] = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(qb, 4), vandq_u8(vtstq_u8(h1, bh), b16)));
}

static void nb_vec_dot_q4_K(int64_t n, float *s, const void *w, const void *a) {
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], mn[8];
        nb_k4_scales_mins(x[i].scales, sc, mn);
        const int32_t summ = nb_mins_x_bsums8(mn, y[i].bsums);
        int32_t isum = 0;
        for (int j = 0; j < 4; j++) {
            int8x16_t wv[4];
            nb_q4k_chunk(&x[i], j, wv);
            const int8_t *q8 = y[i].qs + 64 * j;
            isum += nb_dot32(wv[0], wv[1], q8) * sc[2 * j] + nb_dot32(wv[2], wv[3], q8 + 32) * sc[2 * j + 1];
        }
        const float d = y[i].d * nb_half(x[i].d);
        const float dmin = y[i].d * nb_half(x[i].dmin);
        sumf += d * (float)isum - dmin * (float)summ;
    }
    *s = sumf;
}

static void nb_vec_dot_q5_K(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_K *x = w;
    const block_q8_K *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], mn[8];
        nb_k4_scales_mins(x[i].scales, sc, mn);
        const int32_t summ = nb_mins_x_bsums8(mn, y[i].bsums);
        int32_t isum = 0;
        for (int j = 0; j < 4; j++) {
            int8x16_t wv[4];
            nb_q5k_chunk(&x[i], j, wv);
            const int8_t *q8 = y[i].qs + 64 * j;
            isum += nb_dot32(wv[0], wv[1], q8) * sc[2 * j] + nb_dot32(wv[2], wv[3], q8 + 32) * sc[2 * j + 1];
        }
        const float d = y[i].d * nb_half(x[i].d);
        const float dmin = y[i].d * nb_half(x[i].dmin);
        sumf += d * (float)isum - dmin * (float)summ;
    }
    *s = sumf;
}

/* Chunk (half, k) of a Q6_K super-block: lanes 16k..16k+15 of the four 32-element runs of
 * the 128-element half, as q - 32. Run r takes its low 4 bits from the low (r = 0, 1) or
 * high (r = 2, 3) nibbles of ql[16k..] (r even) or ql[32 + 16k..] (r odd), and its top
 * 2 bits from qh at bit 2r; each run has its own scale, scales[8*half + 2r + k]. */
static inline void nb_q6k_chunk(const block_q6_K *xb, int half, int k, int8x16_t w[4]) {
    const uint8x16_t m4 = vdupq_n_u8(0x0f), m3 = vdupq_n_u8(3);
    const int8x16_t c32 = vdupq_n_s8(32);
    const uint8_t *ql = xb->ql + 64 * half, *qh = xb->qh + 32 * half;
    const uint8x16_t l0 = vld1q_u8(ql + 16 * k), l1 = vld1q_u8(ql + 32 + 16 * k);
    const uint8x16_t h = vld1q_u8(qh + 16 * k);
    const uint8x16_t r0 = vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(h, m3), 4));
    const uint8x16_t r1 = vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(h, 2), m3), 4));
    const uint8x16_t r2 = vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(h, 4), m3), 4));
    const uint8x16_t r3 = vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(h, 6), 4));
    w[0] = vsubq_s8(vreinterpretq_s8_u8(r0), c32);
    w[1] = vsubq_s8(vreinterpretq_s8_u8(r1), c32);
    w[2] = vsubq_s8(vreinterpretq_s8_u8(r2), c32);
    w[3] = vsubq_s8(vreinterpretq_s8_u8(r3), c32);
}

static void nb_vec_dot_q6_K(int64_t n, float *s, const void *w, const void *a) {
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32x4_t acc = vdupq_n_s32(0);
        for (int half = 0; half < 2; half++) {
            const int8_t *sc = x[i].scales + 8 * half;
            for (int k = 0; k < 2; k++) {
                int8x16_t wv[4];
                nb_q6k_chunk(&x[i], half, k, wv);
                const int8_t *q8 = y[i].qs + 128 * half + 16 * k;
                acc = nb_scaled16(acc, wv[0], q8, sc[k]);
                acc = nb_scaled16(acc, wv[1], q8 + 32, sc[2 + k]);
                acc = nb_scaled16(acc, wv[2], q8 + 64, sc[4 + k]);
                acc = nb_scaled16(acc, wv[3], q8 + 96, sc[6 + k]);
            }
        }
        const float d = nb_half(x[i].d) * y[i].d;
        sumf += d * (float)vaddvq_s32(acc);
    }
    *s = sumf;
}

/* ==== Tile kernels: 4 weight rows x up to 4 tokens (all but Q2_K, Q3_K) ================ */

/* Fully unrolled small loops keep the tile's accumulators in registers. */
#define NB_UNROLL _Pragma("GCC unroll 4")

/* One tile of NR=4 rows by nc (1..4) tokens of a 32-element block type. For each block
 * the four weight rows are unpacked once into registers (UNPACK sets wl[r], wh[r], dxs[r]
 * and, for the types with a min, mxs[r]) and reused for every token; the four row sums for
 * one token are gathered into one vector (lane = row) and scaled lane-wise by COMBINE with
 * the same float operations vec_dot uses, so each lane equals vec_dot's result. */
#define NB_TILE_BODY(ACT_T, UNPACK, COMBINE)                                                        \
    do {                                                                                            \
        float32x4_t acc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};      \
        for (int64_t b = 0; b < nb; b++) {                                                          \
            int8x16_t wl[4], wh[4];                                                                 \
            float dxs[4], mxs[4] = {0, 0, 0, 0};                                                    \
            NB_UNROLL for (int r = 0; r < 4; r++) { UNPACK; }                                       \
            const float32x4_t dx = vld1q_f32(dxs), mx = vld1q_f32(mxs);                             \
            (void)mx;                                                                               \
            NB_UNROLL for (int t = 0; t < NC; t++) {                                                \
                const ACT_T *yb = (const ACT_T *)((const char *)a + (size_t)t * arb) + b;           \
                const int8x16_t y0 = vld1q_s8(yb->qs), y1 = vld1q_s8(yb->qs + 16);                  \
                int32x4_t p[4];                                                                     \
                NB_UNROLL for (int r = 0; r < 4; r++)                                               \
                    p[r] = NEON_DOT16(NEON_DOT16(vdupq_n_s32(0), wl[r], y0), wh[r], y1);            \
                const int32x4_t sums = vpaddq_s32(vpaddq_s32(p[0], p[1]), vpaddq_s32(p[2], p[3]));  \
                const float32x4_t fs = vcvtq_f32_s32(sums);                                         \
                acc[t] = vaddq_f32(acc[t], COMBINE);                                                \
            }                                                                                       \
        }                                                                                           \
        NB_UNROLL for (int t = 0; t < NC; t++) vst1q_f32(s + (size_t)t * ss, acc[t]);               \
    } while (0)

/* vec_dot's block step: (dx * dy) * (float)sumi, plus mx * sy for the types with a min. */
#define NB_SCALE_D(yb) vmulq_f32(vmulq_n_f32(dx, nb_half((yb)->d)), fs)
#define NB_SCALE_DM(yb) vaddq_f32(NB_SCALE_D(yb), vmulq_n_f32(mx, nb_half((yb)->s)))

#define NB_TILE_FN(NAME, BLOCK_T, ACT_T, UNPACK, COMBINE)                                           \
    static inline __attribute__((always_inline)) void NAME(int64_t nb, float *s, size_t ss,         \
                                                           const void *w, size_t wrb, const void *a, \
                                                           size_t arb, const int NC) {              \
        NB_TILE_BODY(ACT_T,                                                                         \
            const BLOCK_T *xb = (const BLOCK_T *)((const char *)w + (size_t)r * wrb) + b;           \
            UNPACK, COMBINE);                                                                       \
    }

NB_TILE_FN(nb_tile_q8_0, block_q8_0, block_q8_0,
           wl[r] = vld1q_s8(xb->qs); wh[r] = vld1q_s8(xb->qs + 16); dxs[r] = nb_half(xb->d), NB_SCALE_D(yb))
NB_TILE_FN(nb_tile_q4_0, block_q4_0, block_q8_0,
           nb_unpack_q4(xb->qs, 8, &wl[r], &wh[r]); dxs[r] = nb_half(xb->d), NB_SCALE_D(yb))
NB_TILE_FN(nb_tile_q5_0, block_q5_0, block_q8_0,
           nb_unpack_q5(xb->qs, xb->qh, 16, &wl[r], &wh[r]); dxs[r] = nb_half(xb->d), NB_SCALE_D(yb))
NB_TILE_FN(nb_tile_q4_1, block_q4_1, block_q8_1,
           nb_unpack_q4(xb->qs, 0, &wl[r], &wh[r]); dxs[r] = nb_half(xb->d); mxs[r] = nb_half(xb->m), NB_SCALE_DM(yb))
NB_TILE_FN(nb_tile_q5_1, block_q5_1, block_q8_1,
           nb_unpack_q5(xb->qs, xb->qh, 0, &wl[r], &wh[r]); dxs[r] = nb_half(xb->d); mxs[r] = nb_half(xb->m),
           NB_SCALE_DM(yb))

/* K-quant tiles (4 rows x NC tokens per 256-element super-block). The rows are taken one
 * after another: each is decoded one 64-element chunk at a time into four int8x16 vectors
 * that serve every token, with one int32x4 accumulator per token (few enough registers
 * that nothing spills). The per-row sums are then transposed to one vector per token
 * (lane = row) for the float step, which is vec_dot's, lane-wise. */

/* Lane r of the result = the sum of the lanes of v[r]. */
static inline int32x4_t nb_reduce4(int32x4_t v0, int32x4_t v1, int32x4_t v2, int32x4_t v3) {
    return vpaddq_s32(vpaddq_s32(v0, v1), vpaddq_s32(v2, v3));
}

/* Transposes a 4x4 int32 matrix held as four row vectors: lane t of v[r] moves to lane r of v[t]. */
static inline void nb_transpose4(int32x4_t v[4]) {
    const int32x4_t t0 = vtrn1q_s32(v[0], v[1]), t1 = vtrn2q_s32(v[0], v[1]);
    const int32x4_t t2 = vtrn1q_s32(v[2], v[3]), t3 = vtrn2q_s32(v[2], v[3]);
    v[0] = vreinterpretq_s32_s64(vtrn1q_s64(vreinterpretq_s64_s32(t0), vreinterpretq_s64_s32(t2)));
    v[1] = vreinterpretq_s32_s64(vtrn1q_s64(vreinterpretq_s64_s32(t1), vreinterpretq_s64_s32(t3)));
    v[2] = vreinterpretq_s32_s64(vtrn2q_s64(vreinterpretq_s64_s32(t0), vreinterpretq_s64_s32(t2)));
    v[3] = vreinterpretq_s32_s64(vtrn2q_s64(vreinterpretq_s64_s32(t1), vreinterpretq_s64_s32(t3)));
}

/* mins[0..7] times the pair sums of bsums, per lane (reduce the lanes for the total). */
static inline int32x4_t nb_mins_x_pairs(const uint8_t mn[8], int16x8_t pair) {
    const int16x8_t m = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mn)));
    return vmlal_high_s16(vmull_s16(vget_low_s16(m), vget_low_s16(pair)), m, pair);
}

/* One Q4_K / Q5_K weight row against NC tokens' super-blocks: lane t of the result is the
 * scaled integer sum (vec_dot's isum) for token t, lane t of *summ its mins term. */
#define NB_K4_ROW(NAME, BLOCK_T, CHUNK)                                                             \
    static inline __attribute__((always_inline)) int32x4_t NAME(                                    \
        const BLOCK_T *xb, const block_q8_K *const yb[4], const int16x8_t pair[4], const int NC,    \
        int32x4_t *summ) {                                                                          \
        uint8_t sc[8], mn[8];                                                                       \
        nb_k4_scales_mins(xb->scales, sc, mn);                                                      \
        int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};        \
        int32x4_t mins[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};       \
        for (int j = 0; j < 4; j++) {                                                               \
            int8x16_t wv[4];                                                                        \
            CHUNK(xb, j, wv);                                                                       \
            NB_UNROLL for (int t = 0; t < NC; t++) {                                                \
                const int8_t *q8 = yb[t]->qs + 64 * j;                                              \
                int32x4_t p = NEON_DOT16(vdupq_n_s32(0), wv[0], vld1q_s8(q8));                      \
                p = NEON_DOT16(p, wv[1], vld1q_s8(q8 + 16));                                        \
                acc[t] = vmlaq_n_s32(acc[t], p, sc[2 * j]);                                         \
                p = NEON_DOT16(vdupq_n_s32(0), wv[2], vld1q_s8(q8 + 32));                           \
                p = NEON_DOT16(p, wv[3], vld1q_s8(q8 + 48));                                        \
                acc[t] = vmlaq_n_s32(acc[t], p, sc[2 * j + 1]);                                     \
            }                                                                                       \
        }                                                                                           \
        NB_UNROLL for (int t = 0; t < NC; t++) mins[t] = nb_mins_x_pairs(mn, pair[t]);              \
        *summ = nb_reduce4(mins[0], mins[1], mins[2], mins[3]);                                     \
        return nb_reduce4(acc[0], acc[1], acc[2], acc[3]);                                          \
    }

NB_K4_ROW(nb_q4k_row, block_q4_K, nb_q4k_chunk)
NB_K4_ROW(nb_q5k_row, block_q5_K, nb_q5k_chunk)

/* The 4 x NC tile of Q4_K / Q5_K: rows one after another (each decoded once for all
 * tokens), then the row-major integer sums are transposed to token-major for the float
 * step, which is vec_dot's expression lane-wise. */
#define NB_TILE_K4(BLOCK_T, ROW)                                                                    \
    do {                                                                                            \
        float32x4_t facc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};     \
        for (int64_t b = 0; b < nb; b++) {                                                          \
            const block_q8_K *yb[4] = {0};                                                          \
            int16x8_t pair[4] = {vdupq_n_s16(0), vdupq_n_s16(0), vdupq_n_s16(0), vdupq_n_s16(0)};   \
            NB_UNROLL for (int t = 0; t < NC; t++) {                                                \
                yb[t] = (const block_q8_K *)((const char *)a + (size_t)t * arb) + b;                \
                pair[t] = vpaddq_s16(vld1q_s16(yb[t]->bsums), vld1q_s16(yb[t]->bsums + 8));         \
            }                                                                                       \
            int32x4_t isum[4], summ[4];                                                             \
            float hd[4], hm[4];                                                                     \
            NB_UNROLL for (int r = 0; r < 4; r++) {                                                 \
                const BLOCK_T *xb = (const BLOCK_T *)((const char *)w + (size_t)r * wrb) + b;       \
                isum[r] = ROW(xb, yb, pair, NC, &summ[r]);                                          \
                hd[r] = nb_half(xb->d);                                                             \
                hm[r] = nb_half(xb->dmin);                                                          \
            }                                                                                       \
            nb_transpose4(isum);                                                                    \
            nb_transpose4(summ);                                                                    \
            const float32x4_t hdv = vld1q_f32(hd), hmv = vld1q_f32(hm);                             \
            NB_UNROLL for (int t = 0; t < NC; t++) {                                                \
                const float32x4_t d = vmulq_n_f32(hdv, yb[t]->d), dmin = vmulq_n_f32(hmv, yb[t]->d); \
                facc[t] = vaddq_f32(facc[t], vsubq_f32(vmulq_f32(d, vcvtq_f32_s32(isum[t])),        \
                                                       vmulq_f32(dmin, vcvtq_f32_s32(summ[t]))));   \
            }                                                                                       \
        }                                                                                           \
        NB_UNROLL for (int t = 0; t < NC; t++) vst1q_f32(s + (size_t)t * ss, facc[t]);              \
    } while (0)

static inline __attribute__((always_inline)) void nb_tile_q4_K(int64_t nb, float *s, size_t ss, const void *w,
                                                                size_t wrb, const void *a, size_t arb, const int NC) {
    NB_TILE_K4(block_q4_K, nb_q4k_row);
}

static inline __attribute__((always_inline)) void nb_tile_q5_K(int64_t nb, float *s, size_t ss, const void *w,
                                                                size_t wrb, const void *a, size_t arb, const int NC) {
    NB_TILE_K4(block_q5_K, nb_q5k_row);
}

/* One Q6_K weight row against NC tokens: lane t = vec_dot's isum for token t. */
static inline __attribute__((always_inline)) int32x4_t nb_q6k_row(const block_q6_K *xb, const block_q8_K *const yb[4],
                                                                   const int NC) {
    int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    for (int half = 0; half < 2; half++) {
        for (int k = 0; k < 2; k++) {
            int8x16_t wv[4];
            nb_q6k_chunk(xb, half, k, wv);
            const int8_t *sc = xb->scales + 8 * half;
            const int32_t s0 = sc[k], s1 = sc[2 + k], s2 = sc[4 + k], s3 = sc[6 + k];
            NB_UNROLL for (int t = 0; t < NC; t++) {
                const int8_t *q8 = yb[t]->qs + 128 * half + 16 * k;
                int32x4_t v = acc[t];
                v = vmlaq_n_s32(v, NEON_DOT16(vdupq_n_s32(0), wv[0], vld1q_s8(q8)), s0);
                v = vmlaq_n_s32(v, NEON_DOT16(vdupq_n_s32(0), wv[1], vld1q_s8(q8 + 32)), s1);
                v = vmlaq_n_s32(v, NEON_DOT16(vdupq_n_s32(0), wv[2], vld1q_s8(q8 + 64)), s2);
                v = vmlaq_n_s32(v, NEON_DOT16(vdupq_n_s32(0), wv[3], vld1q_s8(q8 + 96)), s3);
                acc[t] = v;
            }
        }
    }
    return nb_reduce4(acc[0], acc[1], acc[2], acc[3]);
}

static inline __attribute__((always_inline)) void nb_tile_q6_K(int64_t nb, float *s, size_t ss, const void *w,
                                                                size_t wrb, const void *a, size_t arb, const int NC) {
    float32x4_t facc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
    for (int64_t b = 0; b < nb; b++) {
        const block_q8_K *yb[4] = {0};
        NB_UNROLL for (int t = 0; t < NC; t++) yb[t] = (const block_q8_K *)((const char *)a + (size_t)t * arb) + b;
        int32x4_t isum[4];
        float hd[4];
        NB_UNROLL for (int r = 0; r < 4; r++) {
            const block_q6_K *xb = (const block_q6_K *)((const char *)w + (size_t)r * wrb) + b;
            isum[r] = nb_q6k_row(xb, yb, NC);
            hd[r] = nb_half(xb->d);
        }
        nb_transpose4(isum);
        const float32x4_t hdv = vld1q_f32(hd);
        NB_UNROLL for (int t = 0; t < NC; t++)
            facc[t] = vaddq_f32(facc[t], vmulq_f32(vmulq_n_f32(hdv, yb[t]->d), vcvtq_f32_s32(isum[t])));
    }
    NB_UNROLL for (int t = 0; t < NC; t++) vst1q_f32(s + (size_t)t * ss, facc[t]);
}

/* The elmk_gemm_fn shape: full 4-row groups go through the tile kernel, four tokens at a
 * time; leftover rows (nr % 4) use vec_dot, which gives the same numbers. */
#define NB_GEMM(NAME, TILE, VEC_DOT, BLOCK)                                                         \
    static void NAME(int64_t n, float *s, size_t ss, const void *w, size_t wrb, const void *a,      \
                     size_t arb, int nr, int nc) {                                                  \
        const int64_t nb = n / (BLOCK);                                                             \
        for (int t0 = 0; t0 < nc; t0 += 4) {                                                        \
            const int tc = nc - t0 < 4 ? nc - t0 : 4;                                               \
            const char *at = (const char *)a + (size_t)t0 * arb;                                    \
            float *st = s + (size_t)t0 * ss;                                                        \
            int r0 = 0;                                                                             \
            for (; r0 + 4 <= nr; r0 += 4) {                                                         \
                const char *wr = (const char *)w + (size_t)r0 * wrb;                                \
                switch (tc) {                                                                       \
                case 4: TILE(nb, st + r0, ss, wr, wrb, at, arb, 4); break;                          \
                case 3: TILE(nb, st + r0, ss, wr, wrb, at, arb, 3); break;                          \
                case 2: TILE(nb, st + r0, ss, wr, wrb, at, arb, 2); break;                          \
                default: TILE(nb, st + r0, ss, wr, wrb, at, arb, 1); break;                         \
                }                                                                                   \
            }                                                                                       \
            for (; r0 < nr; r0++)                                                                   \
                for (int t = 0; t < tc; t++)                                                        \
                    VEC_DOT(n, st + (size_t)t * ss + r0, (const char *)w + (size_t)r0 * wrb,        \
                            at + (size_t)t * arb);                                                  \
        }                                                                                           \
    }

NB_GEMM(nb_gemm_q4_0, nb_tile_q4_0, nb_vec_dot_q4_0, QK4_0)
NB_GEMM(nb_gemm_q8_0, nb_tile_q8_0, nb_vec_dot_q8_0, QK8_0)
NB_GEMM(nb_gemm_q4_1, nb_tile_q4_1, nb_vec_dot_q4_1, QK4_1)
NB_GEMM(nb_gemm_q5_0, nb_tile_q5_0, nb_vec_dot_q5_0, QK5_0)
NB_GEMM(nb_gemm_q5_1, nb_tile_q5_1, nb_vec_dot_q5_1, QK5_1)
NB_GEMM(nb_gemm_q4_K, nb_tile_q4_K, nb_vec_dot_q4_K, QK_K)
NB_GEMM(nb_gemm_q5_K, nb_tile_q5_K, nb_vec_dot_q5_K, QK_K)
NB_GEMM(nb_gemm_q6_K, nb_tile_q6_K, nb_vec_dot_q6_K, QK_K)

/* ==== Filling the table ==================================================================== */

/* Overwrite the vec_dot (and gemm) entries of the integer types; conversions stay scalar. */
static void nb_fill_integer_ops(elmk_type_ops table[ELM_TYPE_COUNT]) {
    table[ELM_TYPE_Q8_0].vec_dot = nb_vec_dot_q8_0;
    table[ELM_TYPE_Q4_0].vec_dot = nb_vec_dot_q4_0;
    table[ELM_TYPE_Q4_1].vec_dot = nb_vec_dot_q4_1;
    table[ELM_TYPE_Q5_0].vec_dot = nb_vec_dot_q5_0;
    table[ELM_TYPE_Q5_1].vec_dot = nb_vec_dot_q5_1;
    table[ELM_TYPE_Q2_K].vec_dot = nb_vec_dot_q2_K;
    table[ELM_TYPE_Q3_K].vec_dot = nb_vec_dot_q3_K;
    table[ELM_TYPE_Q4_K].vec_dot = nb_vec_dot_q4_K;
    table[ELM_TYPE_Q5_K].vec_dot = nb_vec_dot_q5_K;
    table[ELM_TYPE_Q6_K].vec_dot = nb_vec_dot_q6_K;

    const struct { uint32_t type; elmk_gemm_fn fn; } tiles[] = {
        {ELM_TYPE_Q4_0, nb_gemm_q4_0}, {ELM_TYPE_Q4_1, nb_gemm_q4_1}, {ELM_TYPE_Q5_0, nb_gemm_q5_0},
        {ELM_TYPE_Q5_1, nb_gemm_q5_1}, {ELM_TYPE_Q8_0, nb_gemm_q8_0}, {ELM_TYPE_Q4_K, nb_gemm_q4_K},
        {ELM_TYPE_Q5_K, nb_gemm_q5_K}, {ELM_TYPE_Q6_K, nb_gemm_q6_K},
    };
    for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++) {
        table[tiles[i].type].gemm = tiles[i].fn;
        table[tiles[i].type].gemm_nr = 4;
        table[tiles[i].type].gemm_nc = 4;
    }
}
