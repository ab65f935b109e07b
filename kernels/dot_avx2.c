/* dot_avx2.c: AVX2 (+FMA, F16C) dot products of one weight row with one activation row,
 * for every weight type, and the table entries that install them (elmk_fill_ops_avx2).
 *
 * Integer types multiply unsigned weight codes by signed 8-bit activations with
 * maddubs/madd; every dot product repeats the scalar reference's (llama.cpp's) integer
 * lanes and float operations exactly. The per-block steps are inline functions in
 * steps_avx2.h; the tile kernels below run the same steps for 2 rows x 3 tokens at once,
 * so each block's weights are unpacked once for 3 tokens and the results are the bits of
 * vec_dot.
 * Must not: change entries of types it does not accelerate.
 */
#include "kernels.h"
#include "fill_x86.h"
#include "steps_avx2.h"

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

/* R x C (row, token) pairs, each with its own accumulator and vec_dot's steps in vec_dot's
 * order; unrolled, so the compiler unpacks each row's block once for all C tokens. */
#define TILE_R 2
#define TILE_C 3
#define GEMM_TILES(name, wblock, ablock, bsz, STEP)                                          \
    static X86_INLINE void name##_tile(int64_t n, float *s, size_t ss, const void *vw, size_t wrb, const void *va, \
                                       size_t arb, const int R, const int C) {               \
        const int64_t nb = n / (bsz);                                                        \
        x86_acc acc[TILE_R][TILE_C];                                                          \
        X86_UNROLL for (int r = 0; r < TILE_R; r++)                                          \
            X86_UNROLL for (int c = 0; c < TILE_C; c++) acc[r][c] = x86_acc_zero();          \
        for (int64_t i = 0; i < nb; i++) {                                                   \
            X86_UNROLL for (int r = 0; r < R; r++) {                                         \
                const wblock *x = (const wblock *)((const char *)vw + (size_t)r * wrb) + i;  \
                X86_UNROLL for (int c = 0; c < C; c++)                                       \
                    STEP(&acc[r][c], x, (const ablock *)((const char *)va + (size_t)c * arb) + i); \
            }                                                                                \
        }                                                                                    \
        X86_UNROLL for (int r = 0; r < R; r++)                                               \
            X86_UNROLL for (int c = 0; c < C; c++) s[(size_t)c * ss + (size_t)r] = x86_acc_sum(acc[r][c]); \
    }                                                                                        \
    static void name(int64_t n, float *s, size_t ss, const void *vw, size_t wrb, const void *va, size_t arb, \
                     int nr, int nc) {                                                       \
        if (nr == TILE_R && nc == TILE_C) {                                                  \
            name##_tile(n, s, ss, vw, wrb, va, arb, TILE_R, TILE_C);                         \
            return;                                                                          \
        }                                                                                    \
        for (int r = 0; r < nr; r++) /* edges: one row, the tokens one by one */             \
            for (int c = 0; c < nc; c++)                                                     \
                name##_tile(n, s + (size_t)c * ss + r, ss, (const char *)vw + (size_t)r * wrb, wrb, \
                            (const char *)va + (size_t)c * arb, arb, 1, 1);                  \
    }

GEMM_TILES(gemm_q8_0, block_q8_0, block_q8_0, 32, avx2_q8_0_full)
GEMM_TILES(gemm_q4_1, block_q4_1, block_q8_1, 32, avx2_q4_1_full)
GEMM_TILES(gemm_q5_0, block_q5_0, block_q8_0, 32, avx2_q5_0_full)
GEMM_TILES(gemm_q5_1, block_q5_1, block_q8_1, 32, avx2_q5_1_full)
GEMM_TILES(gemm_q2_K, block_q2_K, block_q8_K, QK_K, avx2_q2_K_step)
GEMM_TILES(gemm_q3_K, block_q3_K, block_q8_K, QK_K, avx2_q3_K_step)
GEMM_TILES(gemm_q4_K, block_q4_K, block_q8_K, QK_K, avx2_q4_K_step)
GEMM_TILES(gemm_q5_K, block_q5_K, block_q8_K, QK_K, avx2_q5_K_step)
GEMM_TILES(gemm_q6_K, block_q6_K, block_q8_K, QK_K, avx2_q6_K_step)

static void set_gemm(elmk_type_ops *ops, elmk_gemm_fn fn) {
    ops->gemm = fn;
    ops->gemm_nr = TILE_R;
    ops->gemm_nc = TILE_C;
}

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
    set_gemm(&table[ELM_TYPE_Q8_0], gemm_q8_0);
    set_gemm(&table[ELM_TYPE_Q4_1], gemm_q4_1);
    set_gemm(&table[ELM_TYPE_Q5_0], gemm_q5_0);
    set_gemm(&table[ELM_TYPE_Q5_1], gemm_q5_1);
    set_gemm(&table[ELM_TYPE_Q2_K], gemm_q2_K);
    set_gemm(&table[ELM_TYPE_Q3_K], gemm_q3_K);
    set_gemm(&table[ELM_TYPE_Q4_K], gemm_q4_K);
    set_gemm(&table[ELM_TYPE_Q5_K], gemm_q5_K);
    set_gemm(&table[ELM_TYPE_Q6_K], gemm_q6_K);
    elmk_fill_quant_avx2(table);
    elmk_fill_packed_avx2();
}
