/* float_dot_avx2.c: AVX2 (+FMA, F16C) dot products and tile kernels for float weights
 * (F32, F16, BF16) with llama.cpp's exact float arithmetic (quants_float.c is the
 * specification), for CPUs without AVX-512.
 *
 * llama.cpp's arithmetic has 16 float lanes (its AVX-512 build); here each (row, token)
 * keeps them in two ymm registers, lanes 0-7 and 8-15, and the final sum adds the upper
 * eight onto the lower eight before the 8-lane tree, which is _mm512_reduce_add_ps's
 * order. F32/F16: fma over chunks of 16; BF16: per 32 elements the odd products, then the
 * even ones, each addition rounded (vdpbf16ps). Other row lengths take the scalar
 * reference. Tiles are 2 weight rows x 3 tokens (12 accumulators), or 4 rows for one
 * token; every output has the same arithmetic whatever the tile.
 * Must not: read past n elements of a row or past the nr rows / nc tokens given.
 */
#include "kernels.h"
#include "fill_x86.h"
#include "ref.h"
#include "simd_x86.h"

#define NR 2
#define NC 3

enum { F_F32, F_F16, F_BF16 };

static X86_INLINE int step_of(const int kind) { return kind == F_BF16 ? 32 : 16; }

static X86_INLINE __m256 load8(const uint8_t *p, int64_t k, const int kind) {
    if (kind == F_F32) return _mm256_loadu_ps((const float *)p + k);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + k)));
}

/* 16 bfloat16 at k: the even elements and the odd ones as 8 floats each */
static X86_INLINE void load_bf16_pairs(const uint8_t *p, int64_t k, __m256 *even, __m256 *odd) {
    const __m256i raw = _mm256_loadu_si256((const __m256i *)((const uint16_t *)p + k));
    *even = _mm256_castsi256_ps(_mm256_slli_epi32(raw, 16));
    *odd = _mm256_castsi256_ps(_mm256_and_si256(raw, _mm256_set1_epi32((int)0xFFFF0000u)));
}

static X86_INLINE void float_tile(int64_t n, float *s, size_t ss, const void *vw, size_t wrb, const void *va,
                                  size_t arb, int nr, int nc, const int kind, const int R, const int C) {
    const uint8_t *wr[2 * NR], *ar[NC];
    X86_UNROLL for (int i = 0; i < 2 * NR; i++) wr[i] = (const uint8_t *)vw + (size_t)(i < nr ? i : nr - 1) * wrb;
    X86_UNROLL for (int j = 0; j < NC; j++) ar[j] = (const uint8_t *)va + (size_t)(j < nc ? j : nc - 1) * arb;
    __m256 lo[2 * NR][NC], hi[2 * NR][NC];   /* lanes 0-7 and 8-15 */
    X86_UNROLL for (int i = 0; i < 2 * NR; i++)
        X86_UNROLL for (int j = 0; j < NC; j++) lo[i][j] = hi[i][j] = _mm256_setzero_ps();
    const int st = step_of(kind);
    for (int64_t k = 0; k + st <= n; k += st) {
        if (kind == F_BF16) {
            X86_UNROLL for (int h = 0; h < 2; h++) {
                __m256 we[2 * NR], wo[2 * NR];
                X86_UNROLL for (int i = 0; i < R; i++) load_bf16_pairs(wr[i], k + 16 * h, &we[i], &wo[i]);
                X86_UNROLL for (int j = 0; j < C; j++) {
                    __m256 ae, ao;
                    load_bf16_pairs(ar[j], k + 16 * h, &ae, &ao);
                    X86_UNROLL for (int i = 0; i < R; i++) {
                        __m256 a = h ? hi[i][j] : lo[i][j];
                        a = _mm256_add_ps(a, _mm256_mul_ps(wo[i], ao));
                        a = _mm256_add_ps(a, _mm256_mul_ps(we[i], ae));
                        if (h) hi[i][j] = a;
                        else lo[i][j] = a;
                    }
                }
            }
        } else {
            __m256 w0[2 * NR], w1[2 * NR];
            X86_UNROLL for (int i = 0; i < R; i++) {
                w0[i] = load8(wr[i], k, kind);
                w1[i] = load8(wr[i], k + 8, kind);
            }
            X86_UNROLL for (int j = 0; j < C; j++) {
                const __m256 x0 = load8(ar[j], k, kind), x1 = load8(ar[j], k + 8, kind);
                X86_UNROLL for (int i = 0; i < R; i++) {
                    lo[i][j] = _mm256_fmadd_ps(w0[i], x0, lo[i][j]);
                    hi[i][j] = _mm256_fmadd_ps(w1[i], x1, hi[i][j]);
                }
            }
        }
    }
    X86_UNROLL for (int j = 0; j < C; j++)
        X86_UNROLL for (int i = 0; i < R; i++)
            if (i < nr && j < nc) s[(size_t)j * ss + (size_t)i] = x86_hsum_ps256(_mm256_add_ps(hi[i][j], lo[i][j]));
}

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
        if (nc == 1) {                                                                      \
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

void elmk_fill_float_exact_avx2(elmk_type_ops table[ELM_TYPE_COUNT]) {
    const uint32_t types[3] = {ELM_TYPE_F32, ELM_TYPE_F16, ELM_TYPE_BF16};
    const elmk_vec_dot_fn dots[3] = {vec_dot_f32, vec_dot_f16, vec_dot_bf16};
    const elmk_gemm_fn gemms[3] = {gemm_f32, gemm_f16, gemm_bf16};
    for (int i = 0; i < 3; i++) {
        table[types[i]].vec_dot = dots[i];
        table[types[i]].gemm = gemms[i];
        table[types[i]].gemm_nr = 2 * NR;
        table[types[i]].gemm_nc = NC;
    }
}
