/* dot_avx2.c: AVX2 (+FMA, F16C) dot products of one weight row with one activation row,
 * for every weight type, and the table entries that install them (elmk_fill_ops_avx2).
 *
 * Integer types multiply unsigned weight codes by signed 8-bit activations with
 * maddubs/madd and keep exactly the integer block sums of the scalar reference; offsets
 * (Q4_0's -8, Q6_K's -32, ...) are taken out with the activation sums. Only the float
 * accumulation order differs from the reference. The per-block steps are inline
 * functions in steps_avx2.h so the tile kernels reuse them with the same arithmetic.
 * Must not: change entries of types it does not accelerate.
 */
#include "kernels.h"
#include "fill_x86.h"
#include "steps_avx2.h"

/* Two accumulators (even and odd blocks) so consecutive blocks do not wait on one FMA. */
#define LEGACY_VEC_DOT(name, wblock, ablock, STEP)                                         \
    static void name(int64_t n, float *s, const void *vw, const void *va) {                \
        const wblock *x = vw;                                                               \
        const ablock *y = va;                                                               \
        const int64_t nb = n / 32;                                                          \
        x86_acc acc0 = x86_acc_zero(), acc1 = x86_acc_zero();                            \
        int64_t i = 0;                                                                      \
        for (; i + 1 < nb; i += 2) {                                                        \
            STEP(&acc0, x + i, y + i);                                                      \
            STEP(&acc1, x + i + 1, y + i + 1);                                              \
        }                                                                                   \
        if (i < nb) STEP(&acc0, x + i, y + i);                                              \
        *s = x86_acc_sum2(acc0, acc1);                                                     \
    }

LEGACY_VEC_DOT(vec_dot_q4_0, block_q4_0, block_q8_0, avx2_q4_0_full)
LEGACY_VEC_DOT(vec_dot_q8_0, block_q8_0, block_q8_0, avx2_q8_0_full)
LEGACY_VEC_DOT(vec_dot_q4_1, block_q4_1, block_q8_1, avx2_q4_1_full)
LEGACY_VEC_DOT(vec_dot_q5_0, block_q5_0, block_q8_0, avx2_q5_0_full)
LEGACY_VEC_DOT(vec_dot_q5_1, block_q5_1, block_q8_1, avx2_q5_1_full)

#define KQUANT_VEC_DOT(name, wblock, STEP)                                                  \
    static void name(int64_t n, float *s, const void *vw, const void *va) {                \
        const wblock *x = vw;                                                               \
        const block_q8_K *y = va;                                                           \
        const int64_t nb = n / QK_K;                                                        \
        x86_acc acc = x86_acc_zero();                                                     \
        for (int64_t i = 0; i < nb; i++) STEP(&acc, x + i, y + i);                          \
        *s = x86_acc_sum(acc);                                                             \
    }

KQUANT_VEC_DOT(vec_dot_q2_K, block_q2_K, avx2_q2_K_step)
KQUANT_VEC_DOT(vec_dot_q3_K, block_q3_K, avx2_q3_K_step)
KQUANT_VEC_DOT(vec_dot_q4_K, block_q4_K, avx2_q4_K_step)
KQUANT_VEC_DOT(vec_dot_q5_K, block_q5_K, avx2_q5_K_step)
KQUANT_VEC_DOT(vec_dot_q6_K, block_q6_K, avx2_q6_K_step)

void elmk_fill_ops_avx2(elmk_type_ops table[ELM_TYPE_COUNT]) {
    table[ELM_TYPE_Q4_0].vec_dot = vec_dot_q4_0;
    table[ELM_TYPE_Q4_1].vec_dot = vec_dot_q4_1;
    table[ELM_TYPE_Q5_0].vec_dot = vec_dot_q5_0;
    table[ELM_TYPE_Q5_1].vec_dot = vec_dot_q5_1;
    table[ELM_TYPE_Q8_0].vec_dot = vec_dot_q8_0;
    table[ELM_TYPE_Q2_K].vec_dot = vec_dot_q2_K;
    table[ELM_TYPE_Q3_K].vec_dot = vec_dot_q3_K;
    table[ELM_TYPE_Q4_K].vec_dot = vec_dot_q4_K;
    table[ELM_TYPE_Q5_K].vec_dot = vec_dot_q5_K;
    table[ELM_TYPE_Q6_K].vec_dot = vec_dot_q6_K;
    elmk_fill_float_avx2(table);   /* F32/F16/BF16 dots and tiles */
    elmk_fill_quant_avx2(table);
    elmk_fill_packed_avx2();
}
