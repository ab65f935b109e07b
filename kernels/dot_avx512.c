/* dot_avx512.c: AVX-512 (F/BW/VL/DQ + VNNI) dot products of one weight row with one
 * activation row, for every weight type, and the table entries that install them
 * (elmk_fill_ops_avx512). The per-block arithmetic is in steps_avx512.h.
 *
 * The integer kernels need VNNI (vpdpbusd, vpdpwssd); on an AVX-512 CPU without it only
 * the activation quantizers are installed and the integer types keep the AVX2 entries.
 * (F32/F16/BF16 are float_dot_avx512.c's; dispatch.c installs them after this.)
 * Must not: change entries of types it does not accelerate.
 */
#include "kernels.h"
#include "fill_x86.h"
#include "steps_avx512.h"

/* One accumulator, block after block, as llama.cpp's vec_dot (the exact arithmetic is in
 * quants_legacy.c). */
#define LEGACY_VEC_DOT(name, wblock, ablock, STEP)                                         \
    static void name(int64_t n, float *s, const void *vw, const void *va) {                \
        const wblock *x = vw;                                                               \
        const ablock *y = va;                                                               \
        const int64_t nb = n / 32;                                                          \
        x86_acc acc = x86_acc_zero();                                                       \
        for (int64_t i = 0; i < nb; i++) STEP(&acc, x + i, y + i);                          \
        *s = x86_acc_sum(acc);                                                              \
    }

LEGACY_VEC_DOT(vec_dot_q4_0, block_q4_0, block_q8_0, avx512_q4_0_full)
LEGACY_VEC_DOT(vec_dot_q4_1, block_q4_1, block_q8_1, avx512_q4_1_full)
LEGACY_VEC_DOT(vec_dot_q5_0, block_q5_0, block_q8_0, avx512_q5_0_full)
LEGACY_VEC_DOT(vec_dot_q5_1, block_q5_1, block_q8_1, avx512_q5_1_full)
LEGACY_VEC_DOT(vec_dot_q8_0, block_q8_0, block_q8_0, avx512_q8_0_full)

#define KQUANT_VEC_DOT(name, wblock, STEP)                                                  \
    static void name(int64_t n, float *s, const void *vw, const void *va) {                \
        const wblock *x = vw;                                                               \
        const block_q8_K *y = va;                                                           \
        const int64_t nb = n / QK_K;                                                        \
        x86_acc acc = x86_acc_zero();                                                       \
        for (int64_t i = 0; i < nb; i++) STEP(&acc, x + i, y + i);                          \
        *s = x86_acc_sum(acc);                                                              \
    }

KQUANT_VEC_DOT(vec_dot_q2_K, block_q2_K, avx512_q2_K_step)
KQUANT_VEC_DOT(vec_dot_q3_K, block_q3_K, avx512_q3_K_step)
KQUANT_VEC_DOT(vec_dot_q4_K, block_q4_K, avx512_q4_K_step)
KQUANT_VEC_DOT(vec_dot_q5_K, block_q5_K, avx512_q5_K_step)
KQUANT_VEC_DOT(vec_dot_q6_K, block_q6_K, avx512_q6_K_step)

void elmk_fill_ops_avx512(elmk_type_ops table[ELM_TYPE_COUNT]) {
    elmk_fill_quant_avx512(table);
    /* dispatch.c runs this inside its one-time initialisation, so ask the CPU directly */
    if (!__builtin_cpu_supports("avx512vnni")) return;
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
    elmk_fill_packed_avx512();
}
