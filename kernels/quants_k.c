/* quants_k.c: scalar reference for the K-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and their
 * activation type Q8_K (256-element super-blocks).
 *
 * A super-block has one half-precision scale d (and dmin for the types with minimums) and
 * small integer scales per sub-block (16 or 32 elements):
 *   Q2_K: 16 x 16, 2-bit q, 4-bit scale and min:  x = d*sc*q - dmin*mn
 *   Q3_K: 16 x 16, 3-bit q (-4..3), 6-bit signed scale:  x = d*sc*q
 *   Q4_K:  8 x 32, 4-bit q, 6-bit scale and min:  x = d*sc*q - dmin*mn
 *   Q5_K:  8 x 32, 5-bit q, 6-bit scale and min:  x = d*sc*q - dmin*mn
 *   Q6_K: 16 x 16, 6-bit q (-32..31), 8-bit signed scale:  x = d*sc*q
 *   Q8_K: float d, 8-bit q, and bsums = the sum of q over each 16 elements.
 * Bit positions (element e of the super-block, 0..255):
 *   2-bit fields (Q2_K, Q3_K low bits): byte (e/128)*32 + e%32, bits 2*((e%128)/32)
 *   4-bit fields (Q4_K, Q5_K low bits): byte (e/64)*32 + e%32, bits 4*((e%64)/32)
 *   high bits (Q3_K hmask, Q5_K qh): byte e%32, bit e/32 (Q3_K: a SET bit means +0,
 *     a clear bit means -4)
 *   Q6_K: low nibble in ql byte (e/128)*64 + ((e%128)/32 % 2)*32 + e%32, nibble (e%128)/64;
 *     high 2 bits in qh byte (e/128)*32 + e%32, bits 2*((e%128)/32)
 *
 * Each type is read by an unpack function (quants -> small signed/unsigned integers, one
 * per element) shared by to_float and vec_dot, so the bit layout is written once.
 * to_float then computes every element with exactly ggml's float operations, in ggml's
 * order, so results are bit-identical to dequantize_row_*.
 * from_float follows ggml's quantize_row_*_ref (the search for the best scales without an
 * importance matrix: make_qkx2_quants, make_q3_quants, make_qx_quants), same operations in
 * the same order, so our files should match llama.cpp's byte for byte.
 * vec_dot follows llama.cpp's x86 (AVX2) kernels float op for float op. Their integer sums
 * are exact; what matters is where floats round. Each super-block gives 8 integer lanes,
 * lane l = sum over the elements e with e % 32 in [4l, 4l+4) of scale(e) * q(e) * a(e)
 * (the int32 lanes of maddubs+madd over 32-element pieces), and
 *   acc[l] = fma(d_a*d_w, lane l, acc[l]),  result = elmk_hsum8(acc), plus the min terms:
 *   Q2_K: before that, acc[l] = fma(-d_a*dmin_w, mn[2l]*bsums[2l] + mn[2l+1]*bsums[2l+1], acc[l]);
 *   Q4_K: 4 more lanes m[k] = fma(-d_a*dmin_w, mn[2k]*s32[2k] + mn[2k+1]*s32[2k+1], m[k])
 *         (s32: sums of 32 activations), added as (m0+m2)+(m1+m3);
 *   Q5_K: one float, summs = fma(-d_a*dmin_w, sum_j mn[j]*s32[j], summs).
 * Must not: contain SIMD code or allocate.
 */
#include "ref.h"

#include <math.h>
#include <string.h>

/* Products and sums round separately unless written as fmaf (every fusion llama.cpp's
 * build makes is spelled out; the compiler must not add its own). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define HALF(h) elmk_fp16_to_fp32(h)
#define GROUP_MAX_EPS 1e-15f   /* below this, ggml treats a group as all zeros */

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* The 8 integer lanes of a super-block (see the top): sc16 is the scale of each group of
 * 16 elements. */
static void kq_lanes(const int8_t q[QK_K], const int sc16[QK_K / 16], const int8_t *a, int lanes[8]) {
    for (int l = 0; l < 8; l++) lanes[l] = 0;
    for (int e = 0; e < QK_K; e++) lanes[(e % 32) / 4] += sc16[e / 16] * q[e] * a[e];
}

static void lanes_fma(float acc[8], float d, const int lanes[8]) {
    for (int l = 0; l < 8; l++) acc[l] = fmaf(d, (float)lanes[l], acc[l]);
}

/* ==== Scale searches (ggml's, without importance weights) ================================ */

/* Fit x[i] ~ scale*L[i] - min with L in 0..nmax and min >= 0 (returned in *the_min),
 * minimizing sum w[i]*err^2 (or w[i]*|err| with use_mad). Starts from the plain min/max
 * fit, then tries nstep+1 stretched grids (rmin + rdelta*is steps wider), each followed by
 * a weighted least-squares fit of scale and min for the grid's L. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *w, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                              bool use_mad) {
    float min = x[0], max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *the_min = -min;
        return 0.0f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clampi(elmk_nearest_int(iscale * (x[i] - min)), 0, nmax);
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += w[i] * diff;
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(elmk_nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                cur_error += w[i] * diff;
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; i++) L[i] = Laux[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* Fit x[i] ~ scale*(L[i] - nmax) with L in 0..2*nmax-1, weights x^2: start from the grid
 * through the largest-magnitude value, then move single elements to their best level
 * while that improves the weighted fit (at most 5 passes). Returns scale (may be < 0). */
static float make_q3_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(elmk_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * L[i] * L[i];
                int new_l = clampi(elmk_nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Fit x[i] ~ scale*(L[i] - nmax), L in 0..2*nmax-1, weights x^2 (ggml's rmse_type 1):
 * the grid through the largest-magnitude value and 18 slightly stretched or squeezed
 * grids; keep the one with the best least-squares fit. Returns scale (may be < 0). */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(elmk_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(elmk_nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++)
                L[i] = (int8_t)(nmax + clampi(elmk_nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* ==== Bit layouts ======================================================================== */

static inline int bits2(const uint8_t *qs, int e) {        /* 2-bit field of element e */
    return (qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

static inline int bits4(const uint8_t *qs, int e) {        /* 4-bit field of element e */
    return (qs[(e / 64) * 32 + e % 32] >> (4 * ((e % 64) / 32))) & 0xF;
}

static inline int high_bit(const uint8_t *h, int e) {      /* hmask / qh bit of element e */
    return (h[e % 32] >> (e / 32)) & 1;
}

static void pack_bits2(uint8_t qs[QK_K / 4], const uint8_t *L) {
    memset(qs, 0, QK_K / 4);
    for (int e = 0; e < QK_K; e++) qs[(e / 128) * 32 + e % 32] |= (uint8_t)((L[e] & 3) << (2 * ((e % 128) / 32)));
}

static void pack_bits4(uint8_t qs[QK_K / 2], const uint8_t *L) {
    memset(qs, 0, QK_K / 2);
    for (int e = 0; e < QK_K; e++) qs[(e / 64) * 32 + e % 32] |= (uint8_t)((L[e] & 0xF) << (4 * ((e % 64) / 32)));
}

static void pack_high_bits(uint8_t h[QK_K / 8], const uint8_t *L, int threshold) {
    memset(h, 0, QK_K / 8);
    for (int e = 0; e < QK_K; e++)
        if (L[e] >= threshold) h[e % 32] |= (uint8_t)(1u << (e / 32));
}

/* Q4_K / Q5_K: eight 6-bit scales and eight 6-bit mins in 12 bytes. Bytes 0-3 hold the
 * low 6 bits of scales 0-3, bytes 4-7 those of mins 0-3; bytes 8-11 hold the low nibbles
 * of scale (low) and min (high) 4-7, whose top 2 bits go into the top bits of bytes 0-7. */
static void pack_k4_scales(uint8_t out[K_SCALE_SIZE], const uint8_t sc[8], const uint8_t mn[8]) {
    memset(out, 0, K_SCALE_SIZE);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            out[j] |= sc[j];
            out[j + 4] |= mn[j];
        } else {
            out[j + 4] = (uint8_t)((sc[j] & 0xF) | (mn[j] & 0xF) << 4);
            out[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            out[j] |= (uint8_t)((mn[j] >> 4) << 6);
        }
    }
}

/* ==== Q2_K =============================================================================== */

static void q2k_unpack(const block_q2_K *b, int8_t q[QK_K]) {
    for (int e = 0; e < QK_K; e++) q[e] = (int8_t)bits2(b->qs, e);
}

void elmk_q2_K_to_float_ref(const void *src, float *dst, int64_t n) {
    const block_q2_K *b = src;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        const float d = HALF(b[i].d), min = HALF(b[i].dmin);
        q2k_unpack(&b[i], q);
        for (int g = 0; g < QK_K / 16; g++) {
            const float dl = d * (b[i].scales[g] & 0xF);
            const float ml = min * (b[i].scales[g] >> 4);
            for (int l = 0; l < 16; l++) dst[16 * g + l] = dl * q[16 * g + l] - ml;
        }
    }
}

void elmk_q2_K_from_float_ref(const float *src, void *dst, int64_t n) {
    block_q2_K *y = dst;
    uint8_t L[QK_K], Laux[16];
    float w[16], mins[QK_K / 16], scales[QK_K / 16];
    const float q4scale = 15.f;

    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        const float *x = src;
        float max_scale = 0, max_min = 0;
        for (int g = 0; g < QK_K / 16; g++) {
            for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * g + l]);
            scales[g] = make_qkx2_quants(16, 3, x + 16 * g, w, L + 16 * g, &mins[g], Laux, -0.5f, 0.1f, 15, true);
            if (scales[g] > max_scale) max_scale = scales[g];
            if (mins[g] > max_min) max_min = mins[g];
        }
        if (max_scale > 0) {
            float iscale = q4scale / max_scale;
            for (int g = 0; g < QK_K / 16; g++) y[i].scales[g] = (uint8_t)elmk_nearest_int(iscale * scales[g]);
            y[i].d = elmk_fp32_to_fp16(max_scale / q4scale);
        } else {
            for (int g = 0; g < QK_K / 16; g++) y[i].scales[g] = 0;
            y[i].d = elmk_fp32_to_fp16(0.f);
        }
        if (max_min > 0) {
            float iscale = q4scale / max_min;
            for (int g = 0; g < QK_K / 16; g++) y[i].scales[g] |= (uint8_t)((unsigned)elmk_nearest_int(iscale * mins[g]) << 4);
            y[i].dmin = elmk_fp32_to_fp16(max_min / q4scale);
        } else {
            y[i].dmin = elmk_fp32_to_fp16(0.f);
        }
        /* requantize against the scales as stored; a zero scale keeps the search's L */
        for (int g = 0; g < QK_K / 16; g++) {
            const float d = HALF(y[i].d) * (y[i].scales[g] & 0xF);
            if (!d) continue;
            const float dm = HALF(y[i].dmin) * (y[i].scales[g] >> 4);
            for (int l = 0; l < 16; l++)
                L[16 * g + l] = (uint8_t)clampi(elmk_nearest_int((x[16 * g + l] + dm) / d), 0, 3);
        }
        pack_bits2(y[i].qs, L);
    }
}

void elmk_q2_K_vec_dot_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q2_K *x = w;
    const block_q8_K *y = a;
    int8_t q[QK_K];
    float acc[8] = {0};
    for (int64_t i = 0; i < n / QK_K; i++) {
        q2k_unpack(&x[i], q);
        int sc16[16], lanes[8], mins[8];
        for (int g = 0; g < QK_K / 16; g++) sc16[g] = x[i].scales[g] & 0xF;
        for (int l = 0; l < 8; l++)
            mins[l] = (x[i].scales[2 * l] >> 4) * y[i].bsums[2 * l] + (x[i].scales[2 * l + 1] >> 4) * y[i].bsums[2 * l + 1];
        kq_lanes(q, sc16, y[i].qs, lanes);
        const float d = y[i].d * HALF(x[i].d);
        const float dmin = -y[i].d * HALF(x[i].dmin);
        lanes_fma(acc, dmin, mins);
        lanes_fma(acc, d, lanes);
    }
    *s = elmk_hsum8(acc);
}

/* ==== Q3_K =============================================================================== */

static void q3k_unpack(const block_q3_K *b, int8_t q[QK_K]) {
    for (int e = 0; e < QK_K; e++) q[e] = (int8_t)(bits2(b->qs, e) - (high_bit(b->hmask, e) ? 0 : 4));
}

void elmk_q3_K_to_float_ref(const void *src, float *dst, int64_t n) {
    const block_q3_K *b = src;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        const float d_all = HALF(b[i].d);
        q3k_unpack(&b[i], q);
        for (int g = 0; g < QK_K / 16; g++) {
            const float dl = d_all * elmk_q3k_scale(g, b[i].scales);
            for (int l = 0; l < 16; l++) dst[16 * g + l] = dl * q[16 * g + l];
        }
    }
}

void elmk_q3_K_from_float_ref(const float *src, void *dst, int64_t n) {
    block_q3_K *y = dst;
    int8_t L[QK_K];
    float scales[QK_K / 16];

    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        const float *x = src;
        float max_scale = 0, amax = 0;
        for (int g = 0; g < QK_K / 16; g++) {
            scales[g] = make_q3_quants(16, 4, x + 16 * g, L + 16 * g);
            float scale = fabsf(scales[g]);
            if (scale > amax) {
                amax = scale;
                max_scale = scales[g];
            }
        }
        /* 16 signed 6-bit scales: low nibbles in bytes 0-7 (scale g and g+8 share a byte),
         * top 2 bits in bytes 8-11 (byte 8 + g%4, bits 2*(g/4)) */
        memset(y[i].scales, 0, 12);
        if (max_scale != 0.0f) {
            float iscale = -32.f / max_scale;
            for (int g = 0; g < QK_K / 16; g++) {
                int l = (int8_t)elmk_nearest_int(iscale * scales[g]);
                l = clampi(l, -32, 31) + 32;
                if (g < 8) y[i].scales[g] = (uint8_t)(l & 0xF);
                else y[i].scales[g - 8] |= (uint8_t)((l & 0xF) << 4);
                y[i].scales[g % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (g / 4)));
            }
            y[i].d = elmk_fp32_to_fp16(1 / iscale);
        } else {
            y[i].d = elmk_fp32_to_fp16(0.f);
        }
        for (int g = 0; g < QK_K / 16; g++) {
            const float d = HALF(y[i].d) * elmk_q3k_scale(g, y[i].scales);
            if (!d) continue;
            for (int l = 0; l < 16; l++)
                L[16 * g + l] = (int8_t)(clampi(elmk_nearest_int(x[16 * g + l] / d), -4, 3) + 4);
        }
        /* L is 0..7 here: bit 2 goes to hmask, bits 0-1 to qs */
        uint8_t U[QK_K];
        for (int e = 0; e < QK_K; e++) U[e] = (uint8_t)L[e];
        pack_high_bits(y[i].hmask, U, 4);
        pack_bits2(y[i].qs, U);
    }
}

void elmk_q3_K_vec_dot_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q3_K *x = w;
    const block_q8_K *y = a;
    int8_t q[QK_K];
    float acc[8] = {0};
    for (int64_t i = 0; i < n / QK_K; i++) {
        q3k_unpack(&x[i], q);
        int sc16[16], lanes[8];
        for (int g = 0; g < QK_K / 16; g++) sc16[g] = elmk_q3k_scale(g, x[i].scales);
        kq_lanes(q, sc16, y[i].qs, lanes);
        lanes_fma(acc, y[i].d * HALF(x[i].d), lanes);
    }
    *s = elmk_hsum8(acc);
}

/* ==== Q4_K and Q5_K (shared scale search) ================================================ */

/* The super-block search shared by Q4_K (nmax 15) and Q5_K (nmax 31): fit each 32-element
 * sub-block with make_qkx2_quants (weights av|x| + |x|), quantize the 8 scales and 8 mins
 * to 6 bits against d = max_scale/63 and dmin = max_min/63, then requantize x against the
 * stored scales. Fills L (0..nmax), the packed scales and d/dmin. */
static void k4_quantize_block(const float *x, int nmax, float rmin, float rdelta, int nstep,
                              uint8_t L[QK_K], uint8_t packed[K_SCALE_SIZE], uint16_t *d_out,
                              uint16_t *dmin_out) {
    uint8_t Laux[32];
    float w[32], mins[QK_K / 32], scales[QK_K / 32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 32; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], Laux, rmin, rdelta, nstep, false);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < QK_K / 32; j++) {
        /* ggml stores nearest_int into a uint8_t before clamping */
        ls[j] = (uint8_t)elmk_nearest_int(inv_scale * scales[j]);
        lm[j] = (uint8_t)elmk_nearest_int(inv_min * mins[j]);
        if (ls[j] > 63) ls[j] = 63;
        if (lm[j] > 63) lm[j] = 63;
    }
    pack_k4_scales(packed, ls, lm);
    *d_out = elmk_fp32_to_fp16(max_scale / 63.f);
    *dmin_out = elmk_fp32_to_fp16(max_min / 63.f);

    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t sc, m;
        elmk_k4_scale_min(j, packed, &sc, &m);
        const float d = HALF(*d_out) * sc;
        if (!d) continue;
        const float dm = HALF(*dmin_out) * m;
        for (int l = 0; l < 32; l++)
            L[32 * j + l] = (uint8_t)clampi(elmk_nearest_int((x[32 * j + l] + dm) / d), 0, nmax);
    }
}

/* Integer part of a Q4_K/Q5_K dot: isum = sum_j sc_j * sum(q*a) over sub-block j, and
 * msum = sum_j mn_j * (sum of a over sub-block j, from two bsums). */
/* Q4_K / Q5_K: the 8 integer lanes, and mn[j] * (sum of the 32 activations of sub-block j). */
static void k4_dot_block(const int8_t q[QK_K], const uint8_t packed[K_SCALE_SIZE], const block_q8_K *y,
                         int lanes[8], int mterm[8]) {
    int sc16[16];
    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t sc, m;
        elmk_k4_scale_min(j, packed, &sc, &m);
        sc16[2 * j] = sc16[2 * j + 1] = sc;
        mterm[j] = m * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
    }
    kq_lanes(q, sc16, y->qs, lanes);
}

/* ==== Q4_K =============================================================================== */

static void q4k_unpack(const block_q4_K *b, int8_t q[QK_K]) {
    for (int e = 0; e < QK_K; e++) q[e] = (int8_t)bits4(b->qs, e);
}

void elmk_q4_K_to_float_ref(const void *src, float *dst, int64_t n) {
    const block_q4_K *b = src;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        const float d = HALF(b[i].d), min = HALF(b[i].dmin);
        q4k_unpack(&b[i], q);
        for (int j = 0; j < QK_K / 32; j++) {
            uint8_t sc, m;
            elmk_k4_scale_min(j, b[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            for (int l = 0; l < 32; l++) dst[32 * j + l] = d1 * q[32 * j + l] - m1;
        }
    }
}

void elmk_q4_K_from_float_ref(const float *src, void *dst, int64_t n) {
    block_q4_K *y = dst;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        k4_quantize_block(src, 15, -1.f, 0.1f, 20, L, y[i].scales, &y[i].d, &y[i].dmin);
        pack_bits4(y[i].qs, L);
    }
}

void elmk_q4_K_vec_dot_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    int8_t q[QK_K];
    float acc[8] = {0}, accm[4] = {0};
    for (int64_t i = 0; i < n / QK_K; i++) {
        q4k_unpack(&x[i], q);
        int lanes[8], mterm[8];
        k4_dot_block(q, x[i].scales, &y[i], lanes, mterm);
        const float d = y[i].d * HALF(x[i].d);
        const float dmin = -y[i].d * HALF(x[i].dmin);
        for (int k = 0; k < 4; k++) accm[k] = fmaf(dmin, (float)(mterm[2 * k] + mterm[2 * k + 1]), accm[k]);
        lanes_fma(acc, d, lanes);
    }
    *s = elmk_hsum8(acc) + ((accm[0] + accm[2]) + (accm[1] + accm[3]));
}

/* ==== Q5_K =============================================================================== */

static void q5k_unpack(const block_q5_K *b, int8_t q[QK_K]) {
    for (int e = 0; e < QK_K; e++) q[e] = (int8_t)(bits4(b->qs, e) + 16 * high_bit(b->qh, e));
}

void elmk_q5_K_to_float_ref(const void *src, float *dst, int64_t n) {
    const block_q5_K *b = src;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        const float d = HALF(b[i].d), min = HALF(b[i].dmin);
        q5k_unpack(&b[i], q);
        for (int j = 0; j < QK_K / 32; j++) {
            uint8_t sc, m;
            elmk_k4_scale_min(j, b[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            for (int l = 0; l < 32; l++) dst[32 * j + l] = d1 * q[32 * j + l] - m1;
        }
    }
}

void elmk_q5_K_from_float_ref(const float *src, void *dst, int64_t n) {
    block_q5_K *y = dst;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        k4_quantize_block(src, 31, -0.5f, 0.1f, 15, L, y[i].scales, &y[i].d, &y[i].dmin);
        pack_high_bits(y[i].qh, L, 16);
        pack_bits4(y[i].qs, L);
    }
}

void elmk_q5_K_vec_dot_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_K *x = w;
    const block_q8_K *y = a;
    int8_t q[QK_K];
    float acc[8] = {0}, summs = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        q5k_unpack(&x[i], q);
        int lanes[8], mterm[8], msum = 0;
        k4_dot_block(q, x[i].scales, &y[i], lanes, mterm);
        for (int j = 0; j < 8; j++) msum += mterm[j];
        const float d = y[i].d * HALF(x[i].d);
        const float dmin = -y[i].d * HALF(x[i].dmin);
        summs = fmaf(dmin, (float)msum, summs);
        lanes_fma(acc, d, lanes);
    }
    *s = elmk_hsum8(acc) + summs;
}

/* ==== Q6_K =============================================================================== */

static void q6k_unpack(const block_q6_K *b, int8_t q[QK_K]) {
    for (int e = 0; e < QK_K; e++) {
        const int r = e % 128, quarter = r / 32;
        const int lo = (b->ql[(e / 128) * 64 + (quarter % 2) * 32 + e % 32] >> (4 * (quarter / 2))) & 0xF;
        const int hi = (b->qh[(e / 128) * 32 + e % 32] >> (2 * quarter)) & 3;
        q[e] = (int8_t)((lo | hi << 4) - 32);
    }
}

void elmk_q6_K_to_float_ref(const void *src, float *dst, int64_t n) {
    const block_q6_K *b = src;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        const float d = HALF(b[i].d);
        q6k_unpack(&b[i], q);
        for (int g = 0; g < QK_K / 16; g++)
            for (int l = 0; l < 16; l++) dst[16 * g + l] = d * b[i].scales[g] * q[16 * g + l];
    }
}

void elmk_q6_K_from_float_ref(const float *src, void *dst, int64_t n) {
    block_q6_K *y = dst;
    int8_t L[QK_K];
    float scales[QK_K / 16];

    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        const float *x = src;
        float max_scale = 0, max_abs_scale = 0;
        for (int g = 0; g < QK_K / 16; g++) {
            scales[g] = make_qx_quants(16, 32, x + 16 * g, L + 16 * g);
            const float abs_scale = fabsf(scales[g]);
            if (abs_scale > max_abs_scale) {
                max_abs_scale = abs_scale;
                max_scale = scales[g];
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float iscale = -128.f / max_scale;
        y[i].d = elmk_fp32_to_fp16(1 / iscale);
        for (int g = 0; g < QK_K / 16; g++) {
            int v = elmk_nearest_int(iscale * scales[g]);
            y[i].scales[g] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < QK_K / 16; g++) {
            const float d = HALF(y[i].d) * y[i].scales[g];
            if (!d) continue;
            for (int l = 0; l < 16; l++)
                L[16 * g + l] = (int8_t)(clampi(elmk_nearest_int(x[16 * g + l] / d), -32, 31) + 32);
        }
        /* L is 0..63: low nibble into ql, top 2 bits into qh */
        memset(y[i].ql, 0, sizeof y[i].ql);
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int e = 0; e < QK_K; e++) {
            const int r = e % 128, quarter = r / 32;
            y[i].ql[(e / 128) * 64 + (quarter % 2) * 32 + e % 32] |= (uint8_t)((L[e] & 0xF) << (4 * (quarter / 2)));
            y[i].qh[(e / 128) * 32 + e % 32] |= (uint8_t)(((L[e] >> 4) & 3) << (2 * quarter));
        }
    }
}

void elmk_q6_K_vec_dot_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    int8_t q[QK_K];
    float acc[8] = {0};
    for (int64_t i = 0; i < n / QK_K; i++) {
        q6k_unpack(&x[i], q);
        int sc16[16], lanes[8];
        for (int g = 0; g < QK_K / 16; g++) sc16[g] = x[i].scales[g];
        kq_lanes(q, sc16, y[i].qs, lanes);
        lanes_fma(acc, y[i].d * HALF(x[i].d), lanes);
    }
    *s = elmk_hsum8(acc);
}

/* ==== Q8_K (activations) ================================================================= */

void elmk_q8_K_to_float_ref(const void *src, float *dst, int64_t n) {
    const block_q8_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K)
        for (int j = 0; j < QK_K; j++) dst[j] = b[i].d * b[i].qs[j];
}

/* q = round(-127/max * x), ties to even, so the largest-magnitude value maps to -127 and
 * every q is in -127..127; d = max/-127 is kept in float. An all-zero block gets d = 0 and
 * zero bsums (ggml leaves its bsums unset there). */
void elmk_q8_K_from_float_ref(const float *src, void *dst, int64_t n) {
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK_K; j++) {
            float ax = fabsf(src[j]);
            if (ax > amax) {
                amax = ax;
                max = src[j];
            }
        }
        if (!amax) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++) {
            int v = elmk_nearest_int(iscale * src[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[16 * g + l];
            y[i].bsums[g] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}
