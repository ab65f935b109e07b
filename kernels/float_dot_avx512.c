/* float_dot_avx512.c: AVX-512 dot products and tile kernels for float weights (F32, F16,
 * BF16) with llama.cpp's exact float arithmetic (quants_float.c is the specification).
 *
 * F32 and F16 rows whose length is a multiple of 16 (every real model) keep one 16-lane
 * accumulator per (row, token): acc = fma(w, a, acc) over chunks of 16, then the
 * horizontal sum in _mm512_reduce_add_ps's tree, as llama.cpp's tinyBLAS does. BF16 rows
 * (a multiple of 32) emulate vdpbf16ps lane by lane: the product of the odd elements is
 * added first, then the even one's, each addition rounded (products of bfloat16 values
 * are exact in float). Other lengths (tiny models only) take the scalar reference. F16
 * and BF16 activations arrive already rounded to the weight type (the vec_dot_type).
 * Tiles are 4 weight rows x 6 tokens (24 accumulators), or 8 rows for one token; every
 * output has the same arithmetic whatever the tile, so batch size never changes results.
 * Must not: read past n elements of a row or past the nr rows / nc tokens given.
 */
#include "kernels.h"
#include "fill_x86.h"
#include "ref.h"
#include "simd_x86.h"

#define NR 4
#define NC 6

enum { F_F32, F_F16, F_BF16 };

/* elements per step: 16 (one zmm of floats), or 32 bfloat16 (one zmm of raw pairs) */
static X86_INLINE int step_of(const int kind) { return kind == F_BF16 ? 32 : 16; }

static X86_INLINE __m512 load16(const uint8_t *p, int64_t k, const int kind) {
    if (kind == F_F32) return _mm512_loadu_ps((const float *)p + k);
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)p + k)));
}

/* 32 bfloat16 at k: the even elements and the odd ones as 16 floats each */
static X86_INLINE void load_bf16_pairs(const uint8_t *p, int64_t k, __m512 *even, __m512 *odd) {
    const __m512i raw = _mm512_loadu_si512((const void *)((const uint16_t *)p + k));
    *even = _mm512_castsi512_ps(_mm512_slli_epi32(raw, 16));
    *odd = _mm512_castsi512_ps(_mm512_and_si512(raw, _mm512_set1_epi32((int)0xFFFF0000u)));
}

/* R x C outputs (compile-time R, C after inlining) of rows vw.. and tokens va..; nr, nc
 * the valid part (the rest repeats the last row / token and is not stored). */
static X86_INLINE void float_tile(int64_t n, float *s, size_t ss, const void *vw, size_t wrb, const void *va,
                                  size_t arb, int nr, int nc, const int kind, const int R, const int C) {
    const uint8_t *wr[2 * NR], *ar[NC];
    X86_UNROLL for (int i = 0; i < 2 * NR; i++) wr[i] = (const uint8_t *)vw + (size_t)(i < nr ? i : nr - 1) * wrb;
    X86_UNROLL for (int j = 0; j < NC; j++) ar[j] = (const uint8_t *)va + (size_t)(j < nc ? j : nc - 1) * arb;
    __m512 acc[2 * NR][NC];
    X86_UNROLL for (int i = 0; i < 2 * NR; i++)
        X86_UNROLL for (int j = 0; j < NC; j++) acc[i][j] = _mm512_setzero_ps();
    const int st = step_of(kind);
    for (int64_t k = 0; k + st <= n; k += st) {
        if (kind == F_BF16) {
            __m512 we[2 * NR], wo[2 * NR];
            X86_UNROLL for (int i = 0; i < R; i++) load_bf16_pairs(wr[i], k, &we[i], &wo[i]);
            X86_UNROLL for (int j = 0; j < C; j++) {
                __m512 ae, ao;
                load_bf16_pairs(ar[j], k, &ae, &ao);
                X86_UNROLL for (int i = 0; i < R; i++) {
                    acc[i][j] = _mm512_add_ps(acc[i][j], _mm512_mul_ps(wo[i], ao));
                    acc[i][j] = _mm512_add_ps(acc[i][j], _mm512_mul_ps(we[i], ae));
                }
            }
        } else {
            __m512 w[2 * NR];
            X86_UNROLL for (int i = 0; i < R; i++) w[i] = load16(wr[i], k, kind);
            X86_UNROLL for (int j = 0; j < C; j++) {
                const __m512 x = load16(ar[j], k, kind);
                X86_UNROLL for (int i = 0; i < R; i++) acc[i][j] = _mm512_fmadd_ps(w[i], x, acc[i][j]);
            }
        }
    }
    X86_UNROLL for (int j = 0; j < C; j++)
        X86_UNROLL for (int i = 0; i < R; i++)
            if (i < nr && j < nc) s[(size_t)j * ss + (size_t)i] = x86_hsum_ps512(acc[i][j]);
}

/* Lengths that are not a whole number of steps: llama.cpp uses its vec_dot there, whose
 * arithmetic the scalar reference repeats (only tiny models have such rows). */
static void ref_tile(int64_t n, float *s, size_t ss, const void *w, size_t wrb, const void *a, size_t arb, int nr,
                     int nc, elmk_vec_dot_fn dot) {
    for (int j = 0; j < nc; j++)
        for (int i = 0; i < nr; i++)
            dot(n, s + (size_t)j * ss + i, (const uint8_t *)w + (size_t)i * wrb, (const uint8_t *)a + (size_t)j * arb);
}

#define FLOAT_KERNELS(T, KIND)                                                              \
    static void vec_dot_##T(int64_t n, float *s, const void *w, const void *a) {            \
        if (n % step_of(KIND)) { elmk_##T##_vec_dot_ref(n, s, w, a); return; }              \
        float_tile(n, s, 1, w, 0, a, 0, 1, 1, KIND, 1, 1);                                  \
    }                                                                                       \
    static void gemm_##T(int64_t n, float *s, size_t ss, const void *w, size_t wrb, const void *a, size_t arb, \
                         int nr, int nc) {                                                  \
        if (n % step_of(KIND)) { ref_tile(n, s, ss, w, wrb, a, arb, nr, nc, elmk_##T##_vec_dot_ref); return; } \
        if (nc == 1) { /* one token (generation): more rows, more independent FMA chains */ \
            float_tile(n, s, ss, w, wrb, a, arb, nr, 1, KIND, 2 * NR, 1);                   \
            return;                                                                         \
        }                                                                                   \
        float_tile(n, s, ss, w, wrb, a, arb, nr < NR ? nr : NR, nc, KIND, NR, NC);          \
        if (nr > NR)                                                                        \
            float_tile(n, s + NR, ss, (const uint8_t *)w + NR * wrb, wrb, a, arb, nr - NR, nc, KIND, NR, NC); \
    }

FLOAT_KERNELS(f32, F_F32)
FLOAT_KERNELS(f16, F_F16)
FLOAT_KERNELS(bf16, F_BF16)

void elmk_fill_float_exact_avx512(elmk_type_ops table[ELM_TYPE_COUNT]) {
    const uint32_t types[3] = {ELM_TYPE_F32, ELM_TYPE_F16, ELM_TYPE_BF16};
    const elmk_vec_dot_fn dots[3] = {vec_dot_f32, vec_dot_f16, vec_dot_bf16};
    const elmk_gemm_fn gemms[3] = {gemm_f32, gemm_f16, gemm_bf16};
    for (int i = 0; i < 3; i++) {
        table[types[i]].vec_dot = dots[i];
        table[types[i]].gemm = gemms[i];
        table[types[i]].gemm_nr = 2 * NR;   /* 2*NR rows for one token, NR-row tiles for more */
        table[types[i]].gemm_nc = NC;
    }
}
