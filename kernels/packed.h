/* packed.h: the repacked weight layout and the activation formats its kernels read
 * (internal to kernels/).
 *
 * Layout: rows are taken 16 at a time (a "group"; the last one is padded with zero rows).
 * Inside a group, for each block of the original type, the values of the 16 rows are
 * interleaved 4 bytes at a time: 64 bytes = 16 rows x 4 consecutive codes of one row. One
 * 512-bit register then holds one 4-code step of all 16 rows, and one vpdpbusd with the
 * 4 matching activation bytes broadcast gives 16 rows' partial dot products at once, with
 * no horizontal sums; every 4-byte load of activations serves 16 rows, and every weight
 * register serves every token of a tile. The layout does not depend on the instruction
 * set (AVX2 reads a group as two halves of 8 rows).
 *
 * The packed activations (built by the driver in phase 1 from the vec_dot_type's blocks)
 * carry the float scale and the sums the kernels need, precomputed once per token.
 * Must not: contain SIMD code.
 */
#ifndef ELMK_PACKED_H
#define ELMK_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

#define ELMK_PACK_ROWS 16
#define ELMK_PACK_MAGIC 0x504d4c45u   /* "ELMP" */

/* At the start of every packed buffer; group g starts at (char*)hdr + 64 + g*group_bytes. */
typedef struct elmk_packed_header {
    uint32_t magic;
    uint32_t wtype;            /* the original weight type */
    int64_t n_out, n_in;       /* the matrix it was made from */
    uint64_t group_bytes;      /* bytes per group of 16 rows (a multiple of 64) */
    uint64_t total_bytes;      /* the whole buffer, this header included */
    uint8_t pad[24];
} elmk_packed_header;
_Static_assert(sizeof(elmk_packed_header) == 64, "packed header is one cache line");

static inline const uint8_t *elmk_packed_group(const elmk_packed_header *h, int64_t g) {
    return (const uint8_t *)h + sizeof *h + (size_t)g * h->group_bytes;
}

/* ---- group layouts ----------------------------------------------------------------------
 * A "chunk" is 64 bytes: row i's 4 bytes at offset 4i. What the 4 bytes hold:
 *   nibble chunk (32 codes): low nibbles codes 4c..4c+3 (chunk c = 0..3), high nibbles
 *       codes 16+4c..; so k-step s (codes 4s..4s+3) is chunk s%4, nibble s/4;
 *   nibble chunk (16 codes): low nibbles codes 4c.. (c = 0..1), high nibbles 8+4c..;
 *   bit chunk (32 codes): byte e, bit k = the 5th bit of code 4k+e;
 *   crumb chunk (16 codes): byte e, bits 2k..2k+1 = 2 bits of code 4k+e.
 * Legacy types (nb blocks of 32 per row): a scale area, then a code area, per group:
 *   scales: Q4_0/Q5_0/Q8_0 d[nb][16]; Q4_1/Q5_1 d[nb][16], m[nb][16] (fp16), rounded to 64;
 *   codes per block: Q4_0/Q4_1 4 nibble chunks; Q5_0/Q5_1 4 nibble chunks + 1 bit chunk;
 *   Q8_0 8 chunks of unsigned codes (q + 128), chunk s = codes 4s..4s+3.
 * K-quants: one unit per super-block (sizes below, multiples of 64):
 *   Q4_K: d[16] dmin[16] fp16, sc[8][16] u8, mn[4][16][2] u8 (sub-blocks 2p, 2p+1 side by
 *         side), then 8 sub-blocks x 4 nibble chunks;
 *   Q5_K: as Q4_K, each sub-block 4 nibble chunks + 1 bit chunk;
 *   Q6_K: d[16] fp16, 32 bytes pad, sc[16][16] int8, then 16 groups x (2 nibble chunks of
 *         the low 4 bits + 1 crumb chunk of the top 2 bits), codes 0..63 (q + 32);
 *   Q2_K: d[16] dmin[16] fp16, scm[8][16][2] u8 (the block's scale|min<<4 bytes of groups
 *         2p, 2p+1), then 16 groups x 1 crumb chunk;
 *   Q3_K: d[16] fp16, 32 bytes pad, sc[16][16] int8 (-32..31), then 16 crumb chunks (the
 *         low 2 bits), then 8 chunks of high bits: byte e, bit k for group 2p and bit 4+k
 *         for group 2p+1 = the high bit of code 4k+e; codes 0..7 (q + 4).             */
#define ELMK_PK_Q4_K_UNIT 2368
#define ELMK_PK_Q5_K_UNIT 2880
#define ELMK_PK_Q6_K_UNIT 3392
#define ELMK_PK_Q2_K_UNIT 1344
#define ELMK_PK_Q3_K_UNIT 1856

/* ---- packed activations ----------------------------------------------------------------
 * The exact kernels (packed_exact_*.c) reproduce the reference dot products, whose integer
 * lanes are sums over 4 consecutive codes, so they take the offsets of unsigned codes out
 * per 4 codes (lcorr, c4); gemm_*.c's Q4_0 kernel needs only the block's corr. */

/* For weights whose vec_dot_type is Q8_0: per block, the codes, the float scale,
 * corr = -off * sum(qs) and lcorr[k] = -off * (codes 4k..4k+3 summed), where off is the
 * weight codes' offset (Q4_0: 8, Q5_0: 16, Q8_0 as unsigned: 128). */
typedef struct { int8_t qs[32]; float d; int32_t corr; int32_t lcorr[8]; } elmk_pact_q8_0;
/* For Q4_1 / Q5_1 (vec_dot_type Q8_1): the codes, d and s (= the block's fp16 s). */
typedef struct { int8_t qs[32]; float d; float s; } elmk_pact_q8_1;
/* For K-quant weights (vec_dot_type Q8_K): per super-block, the codes, the scale,
 * corr[g] = -off * (sum of the 16 codes of group g) (Q6_K: off 32, Q3_K: 4, else 0), the
 * 16 sums of 16 codes, the 8 sums of 32 codes, and c4[i] = -off * (codes 4i..4i+3). */
typedef struct {
    int8_t qs[256];
    float d;
    int32_t corr[16];
    int16_t bsums[16];
    int16_t bs32[8];
    int32_t c4[64];
} elmk_pact_q8_K;

/* Computes y[t*ys + r] for every token t < n_tok and every row r of groups [g0, g1)
 * (rows past n_out are not written). act: n_tok packed activation rows, act_row bytes apart. */
typedef void (*elmk_packed_fn)(const elmk_packed_header *w, const void *act, size_t act_row, int64_t n_tok,
                               float *y, size_t ys, int64_t g0, int64_t g1);

/* Packed kernels by instruction set; the ISA files register theirs from their fill
 * function (run once, inside dispatch.c's initialisation). */
void elmk_packed_register(elmk_isa isa, uint32_t wtype, elmk_packed_fn fn);
elmk_packed_fn elmk_packed_kernel(elmk_isa isa, uint32_t wtype);

/* Bytes of one token's packed activations for this weight type (0: no packed format). */
size_t elmk_pact_row_bytes(uint32_t wtype, int64_t n_in);
/* Quantizes n_in floats into one packed activation row for weights of type wtype, using
 * the active ISA's quantizer for the vec_dot_type (so the codes equal the plain path's).
 * Blocks [b0, b1) only, so threads can share one row. */
void elmk_pact_quantize(uint32_t wtype, const float *x, void *dst, int64_t b0, int64_t b1);

/* Bytes of the scale area of a legacy-type group with nb blocks per row. */
size_t elmk_packed_scale_area(uint32_t wtype, int64_t nb);

/* True when p is a packed buffer made from this exact matrix. */
bool elmk_packed_matches(const void *p, uint32_t wtype, int64_t n_out, int64_t n_in);

#endif
