/* gemm_float_avx2.c: AVX2 dot products and tile kernels for float weights (F32, F16,
 * BF16) against float activations.
 *
 * As in gemm_float_avx512.c, every (row, token) dot product follows one order of float
 * operations in vec_dot and in the tiles: one accumulator over chunks of 8 elements, the
 * last n % 8 elements one by one into its lane 0, then the horizontal sum; one token and
 * a batch give the same bits. Tiles are 2 weight rows x 6 tokens (12 accumulators of the
 * 16 ymm registers). Partial tiles repeat their last row/token and store only the valid
 * part.
 * Must not: read past n elements of a row or past the nr rows / nc tokens given.
 */
#include "kernels.h"
#include "fill_x86.h"
#include "simd_x86.h"

#define NR 2
#define NC 6

enum { F_F32, F_F16, F_BF16 };

static X86_INLINE __m256 load_w(const uint8_t *p, int64_t k, const int kind) {
    if (kind == F_F32) return _mm256_loadu_ps((const float *)p + k);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + k));
    if (kind == F_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

static X86_INLINE float load_w1(const uint8_t *p, int64_t k, const int kind) {
    uint16_t h;
    if (kind == F_F32) return ((const float *)p)[k];
    memcpy(&h, (const uint16_t *)p + k, 2);
    if (kind == F_F16) return x86_h2f(h);
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static X86_INLINE void float_tile(int64_t n, float *s, size_t ss, const void *vw, size_t wrb, const void *va,
                                  size_t arb, int nr, int nc, const int kind, const int R, const int C) {
    const uint8_t *wr[NR];
    const float *ar[NC];
    X86_UNROLL for (int i = 0; i < NR; i++) wr[i] = (const uint8_t *)vw + (size_t)(i < nr ? i : nr - 1) * wrb;
    X86_UNROLL for (int j = 0; j < NC; j++)
        ar[j] = (const float *)((const uint8_t *)va + (size_t)(j < nc ? j : nc - 1) * arb);
    __m256 acc[NR][NC];
    X86_UNROLL for (int i = 0; i < NR; i++)
        X86_UNROLL for (int j = 0; j < NC; j++) acc[i][j] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 w[NR];
        X86_UNROLL for (int i = 0; i < R; i++) w[i] = load_w(wr[i], k, kind);
        X86_UNROLL for (int j = 0; j < C; j++) {
            const __m256 x = _mm256_loadu_ps(ar[j] + k);
            X86_UNROLL for (int i = 0; i < R; i++) acc[i][j] = _mm256_fmadd_ps(w[i], x, acc[i][j]);
        }
    }
    for (; k < n; k++) {
        __m256 w[NR];
        X86_UNROLL for (int i = 0; i < R; i++) w[i] = _mm256_setr_ps(load_w1(wr[i], k, kind), 0, 0, 0, 0, 0, 0, 0);
        X86_UNROLL for (int j = 0; j < C; j++) {
            const __m256 x = _mm256_setr_ps(ar[j][k], 0, 0, 0, 0, 0, 0, 0);
            X86_UNROLL for (int i = 0; i < R; i++) acc[i][j] = _mm256_fmadd_ps(w[i], x, acc[i][j]);
        }
    }
    X86_UNROLL for (int j = 0; j < C; j++)
        X86_UNROLL for (int i = 0; i < R; i++)
            if (i < nr && j < nc) s[(size_t)j * ss + (size_t)i] = x86_hsum_ps256(acc[i][j]);
}

#define FLOAT_KERNELS(T, KIND)                                                              \
    static void vec_dot_##T(int64_t n, float *s, const void *w, const void *a) {            \
        float_tile(n, s, 1, w, 0, a, 0, 1, 1, KIND, 1, 1);                                  \
    }                                                                                       \
    static void gemm_##T(int64_t n, float *s, size_t ss, const void *w, size_t wrb, const void *a, size_t arb, \
                         int nr, int nc) {                                                  \
        float_tile(n, s, ss, w, wrb, a, arb, nr, nc, KIND, NR, NC);                         \
    }

FLOAT_KERNELS(f32, F_F32)
FLOAT_KERNELS(f16, F_F16)
FLOAT_KERNELS(bf16, F_BF16)

void elmk_fill_float_avx2(elmk_type_ops table[ELM_TYPE_COUNT]) {
    const uint32_t types[3] = {ELM_TYPE_F32, ELM_TYPE_F16, ELM_TYPE_BF16};
    const elmk_vec_dot_fn dots[3] = {vec_dot_f32, vec_dot_f16, vec_dot_bf16};
    const elmk_gemm_fn gemms[3] = {gemm_f32, gemm_f16, gemm_bf16};
    for (int i = 0; i < 3; i++) {
        table[types[i]].vec_dot = dots[i];
        table[types[i]].gemm = gemms[i];
        table[types[i]].gemm_nr = NR;
        table[types[i]].gemm_nc = NC;
    }
}
