/* gemm_float_avx512.c: AVX-512 dot products and tile kernels for float weights (F32, F16,
 * BF16) against float activations.
 *
 * Every (row, token) dot product follows one order of float operations, in the dot
 * product (vec_dot) and in the tiles alike: one accumulator over chunks of 16 elements,
 * a partial last chunk masked, then the horizontal sum. So one token and a batch give the
 * same bits, which keeps the forward pass independent of how a prompt is split into
 * batches. The driver uses the tiles for single tokens too (4 rows = 4 independent FMA
 * chains). Tiles are 4 weight rows x 6 tokens (24 accumulators): each weight vector,
 * converted to f32 once, feeds 6 FMAs and each activation vector 4. Partial tiles
 * repeat their last row/token (reads stay in bounds, every output's arithmetic is the
 * same) and store only the valid part.
 * Must not: read past n elements of a row or past the nr rows / nc tokens given.
 */
#include "kernels.h"
#include "fill_x86.h"
#include "simd_x86.h"

#define NR 4
#define NC 6

enum { F_F32, F_F16, F_BF16 };

static X86_INLINE __m512 load_w(const uint8_t *p, int64_t k, const int kind) {
    if (kind == F_F32) return _mm512_loadu_ps((const float *)p + k);
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)p + k));
    if (kind == F_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

static X86_INLINE __m512 load_w_tail(const uint8_t *p, int64_t k, __mmask16 m, const int kind) {
    if (kind == F_F32) return _mm512_maskz_loadu_ps(m, (const float *)p + k);
    __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)p + k);
    if (kind == F_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* R x C outputs (compile-time R, C after inlining) of rows vw.. and tokens va.. */
static X86_INLINE void float_tile(int64_t n, float *s, size_t ss, const void *vw, size_t wrb, const void *va,
                                  size_t arb, int nr, int nc, const int kind, const int R, const int C) {
    const uint8_t *wr[NR];
    const float *ar[NC];
    X86_UNROLL for (int i = 0; i < NR; i++) wr[i] = (const uint8_t *)vw + (size_t)(i < nr ? i : nr - 1) * wrb;
    X86_UNROLL for (int j = 0; j < NC; j++)
        ar[j] = (const float *)((const uint8_t *)va + (size_t)(j < nc ? j : nc - 1) * arb);
    __m512 acc[NR][NC];
    X86_UNROLL for (int i = 0; i < NR; i++)
        X86_UNROLL for (int j = 0; j < NC; j++) acc[i][j] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        __m512 w[NR];
        X86_UNROLL for (int i = 0; i < R; i++) w[i] = load_w(wr[i], k, kind);
        X86_UNROLL for (int j = 0; j < C; j++) {
            const __m512 x = _mm512_loadu_ps(ar[j] + k);
            X86_UNROLL for (int i = 0; i < R; i++) acc[i][j] = _mm512_fmadd_ps(w[i], x, acc[i][j]);
        }
    }
    if (k < n) {
        const __mmask16 m = (__mmask16)((1u << (n - k)) - 1);
        __m512 w[NR];
        X86_UNROLL for (int i = 0; i < R; i++) w[i] = load_w_tail(wr[i], k, m, kind);
        X86_UNROLL for (int j = 0; j < C; j++) {
            const __m512 x = _mm512_maskz_loadu_ps(m, ar[j] + k);
            X86_UNROLL for (int i = 0; i < R; i++) acc[i][j] = _mm512_fmadd_ps(w[i], x, acc[i][j]);
        }
    }
    X86_UNROLL for (int j = 0; j < C; j++)
        X86_UNROLL for (int i = 0; i < R; i++)
            if (i < nr && j < nc) s[(size_t)j * ss + (size_t)i] = x86_hsum_ps512(acc[i][j]);
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

void elmk_fill_float_avx512(elmk_type_ops table[ELM_TYPE_COUNT]) {
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
