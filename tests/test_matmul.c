/* test_matmul.c: the tile kernels and the matmul driver against independent truths
 * (every SIMD vec_dot against the scalar one is in test_kernels.c):
 *  - the tile kernels (gemm) give exactly the bits of vec_dot for every tile shape, and
 *    the driver gives the same bits for a batch as for its tokens one at a time (packed
 *    paths included), so results do not depend on batching or threads;
 *  - elmk_matmul for every type x ISA x n_tok {1,3,7,64,130} x threads {1,2,3}, run by real
 *    pthreads meeting at a real barrier, against a double-precision product of the
 *    dequantized weights and the dequantized quantized activations, and bit for bit
 *    against the scalar reference dot product (which repeats llama.cpp's float
 *    operations); with strides, with y left untouched outside its rows, and through the
 *    packed and BLAS paths (BLAS: the double-precision bound only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "support.h"

static const uint32_t weight_types[] = {
    ELM_TYPE_F32, ELM_TYPE_F16, ELM_TYPE_BF16, ELM_TYPE_Q4_0, ELM_TYPE_Q4_1, ELM_TYPE_Q5_0, ELM_TYPE_Q5_1,
    ELM_TYPE_Q8_0, ELM_TYPE_Q2_K, ELM_TYPE_Q3_K, ELM_TYPE_Q4_K, ELM_TYPE_Q5_K, ELM_TYPE_Q6_K,
};
#define N_TYPES (sizeof weight_types / sizeof weight_types[0])

static const char *tname(uint32_t t) { return elm_type_get_info(t)->name; }

/* Random floats with the spread of real weights: mostly normal, some rows scaled up or
 * down, a few outliers (they stress the scale choice of the quantizers). */
static void random_floats(float *x, int64_t n, uint64_t *rng) {
    float scale = 0.02f + 2.0f * (elmt_rand_uniform(rng) + 1.0f);
    for (int64_t i = 0; i < n; i++) {
        float v = elmt_rand_normal(rng) * scale;
        if ((elmt_rand_u64(rng) & 63) == 0) v *= 8.0f;
        x[i] = v;
    }
}

/* A quantized row of type t from random floats, by the scalar reference quantizer. */
static void *random_row(uint32_t t, int64_t n, uint64_t *rng) {
    float *f = malloc((size_t)n * sizeof *f);
    void *q = malloc(elm_type_row_bytes(t, n));
    assert_non_null(f);
    assert_non_null(q);
    random_floats(f, n, rng);
    elmk_get_ops_isa(t, ELMK_ISA_SCALAR)->from_float(f, q, n);
    free(f);
    return q;
}

/* ==== gemm tiles: any tile shape gives the bits of vec_dot ============================== */

static void gemm_tiles_consistent(void **state) {
    (void)state;
    uint64_t rng = 7;
    int tiles = 0;
    for (int isa = 0; isa < ELMK_ISA_COUNT; isa++) {
        if (!elmk_isa_available((elmk_isa)isa)) continue;
        for (size_t ti = 0; ti < N_TYPES; ti++) {
            const uint32_t t = weight_types[ti];
            const elmk_type_ops *ops = elmk_get_ops_isa(t, (elmk_isa)isa);
            if (!ops->gemm) continue;
            const int64_t bs = elm_type_get_info(t)->block_size;
            const int64_t n = bs == 1 ? 203 : (bs == 32 ? 7 * 32 : 3 * 256);
            const size_t wrb = elm_type_row_bytes(t, n), arb = elm_type_row_bytes(ops->vec_dot_type, n);
            const int nr = ops->gemm_nr, nc = ops->gemm_nc;
            assert_true(nr >= 1 && nc >= 1 && 16 % nr == 0);   /* tiles never straddle a 16-row chunk */
            char *w = malloc(wrb * (size_t)nr), *a = malloc(arb * (size_t)nc);
            assert_non_null(w);
            assert_non_null(a);
            for (int r = 0; r < nr; r++) {
                void *row = random_row(t, n, &rng);
                memcpy(w + (size_t)r * wrb, row, wrb);
                free(row);
            }
            for (int c = 0; c < nc; c++) {
                void *row = random_row(ops->vec_dot_type, n, &rng);
                memcpy(a + (size_t)c * arb, row, arb);
                free(row);
            }
            float full[64 * 64];
            const size_t ss = (size_t)nr + 3;
            assert_true(ss * (size_t)nc <= sizeof full / sizeof full[0]);
            ops->gemm(n, full, ss, w, wrb, a, arb, nr, nc);
            for (int c = 0; c < nc; c++) {
                for (int r = 0; r < nr; r++) {
                    float want;
                    ops->vec_dot(n, &want, w + (size_t)r * wrb, a + (size_t)c * arb);
                    /* the same arithmetic as vec_dot: the same bits */
                    if (memcmp(&full[(size_t)c * ss + (size_t)r], &want, sizeof want) != 0) {
                        print_error("%s %s gemm[%d][%d] = %.9g, vec_dot %.9g\n", tname(t), elmk_isa_name((elmk_isa)isa),
                                    c, r, full[(size_t)c * ss + (size_t)r], want);
                        fail();
                    }
                }
            }
            /* every smaller tile shape, as the driver uses at the edges: the same bits */
            for (int tr = 1; tr <= nr; tr++) {
                for (int tc = 1; tc <= nc; tc++) {
                    float s[64 * 64];
                    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) s[i] = -12345.0f;
                    ops->gemm(n, s, ss, w, wrb, a, arb, tr, tc);
                    for (int c = 0; c < nc; c++) {
                        for (int r = 0; r < (int)ss; r++) {
                            float got = s[(size_t)c * ss + (size_t)r];
                            if (c >= tc || r >= tr) {
                                assert_true(got == -12345.0f);   /* outside the tile: untouched */
                                continue;
                            }
                            if (memcmp(&got, &full[(size_t)c * ss + (size_t)r], sizeof got) != 0) {
                                print_error("%s %s tile %dx%d: s[%d][%d] = %.9g, full tile %.9g\n", tname(t),
                                            elmk_isa_name((elmk_isa)isa), tr, tc, c, r, got, full[(size_t)c * ss + (size_t)r]);
                                fail();
                            }
                        }
                    }
                    tiles++;
                }
            }
            free(w);
            free(a);
        }
    }
    /* the float types have tile kernels on every x86 SIMD path */
    for (int isa = ELMK_ISA_AVX2; isa <= ELMK_ISA_AVX512; isa++)
        if (elmk_isa_available((elmk_isa)isa)) assert_non_null(elmk_get_ops_isa(ELM_TYPE_F16, (elmk_isa)isa)->gemm);
    (void)tiles;
}

/* ==== the driver, with real threads ====================================================== */

typedef struct {
    const elmk_matmul_params *m;
    int ith, nth;
    pthread_barrier_t *bar;
} worker_arg;

static void barrier_wait(void *arg) { pthread_barrier_wait(arg); }

static void *worker(void *p) {
    worker_arg *w = p;
    elmk_matmul(w->m, w->ith, w->nth, w->nth > 1 ? barrier_wait : NULL, w->bar);
    return NULL;
}

static void run_threads(const elmk_matmul_params *m, int nth) {
    pthread_barrier_t bar;
    pthread_t th[8];
    worker_arg args[8];
    assert_true(nth <= 8);
    assert_int_equal(pthread_barrier_init(&bar, NULL, (unsigned)nth), 0);
    for (int i = 0; i < nth; i++) {
        args[i] = (worker_arg){m, i, nth, &bar};
        if (i > 0) assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    worker(&args[0]);
    for (int i = 1; i < nth; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
}

/* One weight matrix, one activation batch, the double-precision truth for both the
 * quantized-activation path and the float (BLAS) path. */
typedef struct {
    uint32_t t;
    int64_t n_out, n_in, n_tok, x_stride, y_stride;
    size_t wrb;
    char *w;
    float *x;
    double *want_q, *want_f, *tol_q, *tol_f;
    float *want_bits;   /* the scalar reference vec_dot: every ISA must give exactly these */
} problem;

static void problem_make(problem *p, uint32_t t, int64_t n_out, int64_t n_in, int64_t n_tok, uint64_t *rng) {
    const elmk_type_ops *ref = elmk_get_ops_isa(t, ELMK_ISA_SCALAR);
    p->t = t;
    p->n_out = n_out;
    p->n_in = n_in;
    p->n_tok = n_tok;
    p->x_stride = n_in + 5;
    p->y_stride = (n_out + 15) / 16 * 16 + 16;
    p->wrb = elm_type_row_bytes(t, n_in);
    p->w = malloc(p->wrb * (size_t)n_out);
    p->x = malloc((size_t)(p->x_stride * n_tok) * sizeof(float));
    float *wf = malloc((size_t)(n_out * n_in) * sizeof(float));
    float *xf = malloc((size_t)(n_in * n_tok) * sizeof(float));
    p->want_q = malloc((size_t)(n_out * n_tok) * sizeof(double));
    p->want_f = malloc((size_t)(n_out * n_tok) * sizeof(double));
    p->tol_q = malloc((size_t)(n_out * n_tok) * sizeof(double));
    p->tol_f = malloc((size_t)(n_out * n_tok) * sizeof(double));
    p->want_bits = malloc((size_t)(n_out * n_tok) * sizeof(float));
    assert_true(p->w && p->x && wf && xf && p->want_q && p->want_f && p->tol_q && p->tol_f && p->want_bits);

    float *row = malloc((size_t)n_in * sizeof(float));
    assert_non_null(row);
    for (int64_t r = 0; r < n_out; r++) {
        random_floats(row, n_in, rng);
        ref->from_float(row, p->w + (size_t)r * p->wrb, n_in);
        ref->to_float(p->w + (size_t)r * p->wrb, wf + r * n_in, n_in);
    }
    /* activations: the float rows, and what the driver will multiply (dequantized xq) */
    const elmk_type_ops *aref = elmk_get_ops_isa(ref->vec_dot_type, ELMK_ISA_SCALAR);
    const size_t arb = elm_type_row_bytes(ref->vec_dot_type, n_in);
    char *aq = malloc(arb * (size_t)n_tok);
    assert_non_null(aq);
    for (int64_t tk = 0; tk < n_tok; tk++) {
        float *xr = p->x + tk * p->x_stride;
        random_floats(xr, n_in, rng);
        for (int64_t k = n_in; k < p->x_stride; k++) xr[k] = NAN;   /* never read */
        aref->quantize(xr, aq + (size_t)tk * arb, n_in);   /* as the driver quantizes activations */
        aref->to_float(aq + (size_t)tk * arb, xf + tk * n_in, n_in);
    }
    for (int64_t tk = 0; tk < n_tok; tk++) {
        for (int64_t r = 0; r < n_out; r++) {
            double sq = 0, aq_ = 0, sf = 0, af = 0;
            for (int64_t k = 0; k < n_in; k++) {
                double wv = wf[r * n_in + k];
                sq += wv * xf[tk * n_in + k];
                aq_ += fabs(wv * xf[tk * n_in + k]);
                sf += wv * p->x[tk * p->x_stride + k];
                af += fabs(wv * p->x[tk * p->x_stride + k]);
            }
            /* Q4_1/Q5_1 x Q8_1 use the block's stored s = fp16(d * sum q) for the min term,
             * as ggml does: m * (s - d * sum q) is the rounding that choice adds. */
            if (ref->vec_dot_type == ELM_TYPE_Q8_1) {
                const block_q8_1 *yb = (const block_q8_1 *)(aq + (size_t)tk * arb);
                for (int64_t b = 0; b < n_in / QK8_1; b++) {
                    uint16_t mh;
                    memcpy(&mh, p->w + (size_t)r * p->wrb + (size_t)b * elm_type_get_info(t)->block_bytes + 2, 2);
                    int qs = 0;
                    for (int j = 0; j < QK8_1; j++) qs += yb[b].qs[j];
                    sq += (double)elmk_fp16_to_fp32(mh) *
                          ((double)elmk_fp16_to_fp32(yb[b].s) - (double)elmk_fp16_to_fp32(yb[b].d) * qs);
                }
            }
            p->want_q[tk * n_out + r] = sq;
            ref->vec_dot(n_in, &p->want_bits[tk * n_out + r], p->w + (size_t)r * p->wrb, aq + (size_t)tk * arb);
            p->want_f[tk * n_out + r] = sf;
            p->tol_q[tk * n_out + r] = 2e-5 * aq_ + 1e-30;
            p->tol_f[tk * n_out + r] = 2e-5 * af + 1e-30;
        }
    }
    free(aq);
    free(row);
    free(wf);
    free(xf);
}

static void problem_free(problem *p) {
    free(p->w);
    free(p->x);
    free(p->want_q);
    free(p->want_f);
    free(p->tol_q);
    free(p->tol_f);
    free(p->want_bits);
}

/* Runs the driver on p with nth threads and checks every output and the untouched gaps. */
static void check_matmul(const problem *p, int64_t n_tok, int nth, const void *packed, bool blas, const char *what) {
    const int64_t ys = p->y_stride;
    assert_true(n_tok <= p->n_tok);
    float *y = aligned_alloc(64, (size_t)(ys * n_tok) * sizeof(float));
    assert_non_null(y);
    for (int64_t i = 0; i < ys * n_tok; i++) y[i] = 777.0f;
    size_t sb = elmk_matmul_scratch_bytes(p->t, p->n_in, n_tok);
    void *xq = sb ? aligned_alloc(64, (sb + 63) / 64 * 64) : NULL;
    if (sb) assert_non_null(xq);
    elmk_matmul_params m = {
        .wtype = p->t, .w = p->w, .w_row_bytes = p->wrb, .n_out = p->n_out, .n_in = p->n_in,
        .packed = packed, .x = p->x, .x_stride = p->x_stride, .n_tok = n_tok, .y = y, .y_stride = ys,
        .xq = xq, .allow_blas = blas,
    };
    run_threads(&m, nth);
    const bool float_path = blas && elmk_have_blas() && n_tok >= 32 &&
                            (p->t == ELM_TYPE_F32 || p->t == ELM_TYPE_F16 || p->t == ELM_TYPE_BF16);
    for (int64_t tk = 0; tk < n_tok; tk++) {
        for (int64_t r = 0; r < ys; r++) {
            float got = y[tk * ys + r];
            if (r >= p->n_out) {
                assert_true(got == 777.0f);
                continue;
            }
            double want = float_path ? p->want_f[tk * p->n_out + r] : p->want_q[tk * p->n_out + r];
            double tol = float_path ? p->tol_f[tk * p->n_out + r] : p->tol_q[tk * p->n_out + r];
            if (!(fabs(got - want) <= tol)) {
                print_error("%s %s (%s) n_tok=%lld nth=%d: y[%lld][%lld] = %.9g, want %.9g (tol %.3g)\n",
                            tname(p->t), elmk_isa_name(elmk_active_isa()), what, (long long)n_tok, nth,
                            (long long)tk, (long long)r, got, want, tol);
                fail();
            }
            /* every x86 path but BLAS repeats the reference's float operations: the same
             * bits. NEON sums in its own lane order (close to llama.cpp, not equal), so it
             * is held to the tolerance above, as in test_kernels. */
            const elmk_isa isa = elmk_active_isa();
            const bool exact = isa != ELMK_ISA_NEON && isa != ELMK_ISA_NEON_DOTPROD;
            if (exact && !float_path && memcmp(&got, &p->want_bits[tk * p->n_out + r], sizeof got) != 0) {
                print_error("%s %s (%s) n_tok=%lld nth=%d: y[%lld][%lld] = %.9g, the scalar reference %.9g\n",
                            tname(p->t), elmk_isa_name(elmk_active_isa()), what, (long long)n_tok, nth,
                            (long long)tk, (long long)r, got, p->want_bits[tk * p->n_out + r]);
                fail();
            }
        }
    }
    free(y);
    free(xq);
}

static void matmul_all_types_isas_threads(void **state) {
    (void)state;
    const int64_t toks[] = {1, 3, 7, 64, 130};
    const int nts = elmt_quick() ? 3 : 5;
    uint64_t rng = 99;
    const elmk_isa saved = elmk_active_isa();
    for (size_t ti = 0; ti < N_TYPES; ti++) {
        const uint32_t t = weight_types[ti];
        const int64_t bs = elm_type_get_info(t)->block_size;
        /* n_out not a multiple of 16 (a ragged last chunk) and n_in of several blocks */
        const int64_t n_in = bs == 256 ? 512 : (bs == 32 ? 320 : 301);
        problem p;
        problem_make(&p, t, 83, n_in, 130, &rng);   /* enough tokens for every check below */
        void *packed = NULL;
        for (int isa = 0; isa < ELMK_ISA_COUNT; isa++) {
            if (!elmk_set_isa((elmk_isa)isa)) continue;
            size_t pb = 0;
            free(packed);
            packed = elmk_repack(t, p.w, p.wrb, p.n_out, p.n_in, &pb);
            /* every quantized type has a packed path on AVX-512 with VNNI, Q4_0 on AVX2 too */
            if (isa == ELMK_ISA_AVX512 && elmk_cpu()->avx512vnni && bs > 1) assert_non_null(packed);
            if (isa == ELMK_ISA_AVX2 && t == ELM_TYPE_Q4_0) assert_non_null(packed);
            if (packed) assert_true(pb >= p.wrb * (size_t)p.n_out);
            for (int k = 0; k < nts; k++) {
                for (int nth = 1; nth <= 3; nth++) {
                    check_matmul(&p, toks[k], nth, NULL, false, "plain");
                    if (packed) check_matmul(&p, toks[k], nth, packed, false, "packed");
                }
            }
            if (elmk_have_blas()) check_matmul(&p, 64, 2, NULL, true, "blas");
        }
        free(packed);
        problem_free(&p);
    }
    elmk_set_isa(saved);
}

/* The same tokens in one batch and one at a time (and with other thread counts): the
 * same bits, for every type and ISA, plain and packed. */
static void batch_equals_single_tokens(void **state) {
    (void)state;
    uint64_t rng = 17;
    const elmk_isa saved = elmk_active_isa();
    for (size_t ti = 0; ti < N_TYPES; ti++) {
        const uint32_t t = weight_types[ti];
        const int64_t bs = elm_type_get_info(t)->block_size;
        const int64_t n_in = bs == 256 ? 512 : (bs == 32 ? 160 : 77), n_out = 40, n_tok = 11;
        problem p;
        problem_make(&p, t, n_out, n_in, n_tok, &rng);
        for (int isa = 0; isa < ELMK_ISA_COUNT; isa++) {
            if (!elmk_set_isa((elmk_isa)isa)) continue;
            size_t pb = 0;
            void *packed = elmk_repack(t, p.w, p.wrb, n_out, n_in, &pb);
            for (int use_packed = 0; use_packed <= (packed != NULL); use_packed++) {
                float *yb = calloc((size_t)(n_tok * n_out), sizeof(float)), *y1 = calloc((size_t)(n_tok * n_out), sizeof(float));
                void *xq = aligned_alloc(64, (elmk_matmul_scratch_bytes(t, n_in, n_tok) + 63) / 64 * 64 + 64);
                assert_true(yb && y1 && xq);
                elmk_matmul_params m = {.wtype = t, .w = p.w, .w_row_bytes = p.wrb, .n_out = n_out, .n_in = n_in,
                                        .packed = use_packed ? packed : NULL, .x = p.x, .x_stride = p.x_stride,
                                        .n_tok = n_tok, .y = yb, .y_stride = n_out, .xq = xq};
                run_threads(&m, 2);
                for (int64_t k = 0; k < n_tok; k++) {
                    m.x = p.x + k * p.x_stride;
                    m.y = y1 + k * n_out;
                    m.n_tok = 1;
                    run_threads(&m, 1 + (int)(k % 3));
                }
                if (memcmp(yb, y1, (size_t)(n_tok * n_out) * sizeof(float)) != 0) {
                    print_error("%s %s%s: a batch and single tokens differ\n", tname(t), elmk_isa_name((elmk_isa)isa),
                                use_packed ? " packed" : "");
                    fail();
                }
                free(yb);
                free(y1);
                free(xq);
            }
            free(packed);
        }
        problem_free(&p);
    }
    elmk_set_isa(saved);
}

/* A single-token product over rows that are not a multiple of anything, with one thread
 * per row chunk and more threads than chunks. */
static void matmul_more_threads_than_rows(void **state) {
    (void)state;
    uint64_t rng = 5;
    problem p;
    problem_make(&p, ELM_TYPE_Q4_0, 5, 64, 2, &rng);
    for (int nth = 1; nth <= 8; nth++) check_matmul(&p, 2, nth, NULL, false, "tiny");
    problem_free(&p);
}

/* The SIMD quantizers of activation rows (quantize, and from_float of the activation
 * types) give the scalar reference's bytes: random rows of many scales, exact halves
 * (ties), zeros, tiny and huge values; NaN too for F16/BF16. */
static void activation_quantizers_match_scalar(void **state) {
    (void)state;
    static const uint32_t act[] = {ELM_TYPE_Q8_0, ELM_TYPE_Q8_1, ELM_TYPE_Q8_K, ELM_TYPE_F16, ELM_TYPE_BF16};
    const int64_t n = 4 * QK_K + 0;
    float *x = malloc((size_t)n * sizeof(float));
    uint8_t *q0 = malloc((size_t)n * 4), *q1 = malloc((size_t)n * 4);
    assert_true(x && q0 && q1);
    uint64_t rng = 23;
    for (int rep = 0; rep < (elmt_quick() ? 20 : 200); rep++) {
        const int kind = rep % 5;
        random_floats(x, n, &rng);
        if (kind == 1)   /* every block's absmax is 127 (scale 1), the rest exact halves: ties */
            for (int64_t i = 0; i < n; i++)
                x[i] = i % 32 == 0 ? 127.0f : (float)((int)(elmt_rand_u64(&rng) % 253) - 126) + 0.5f;
        if (kind == 2)
            for (int64_t i = 0; i < n; i += 3) x[i] = 0.0f;
        if (kind == 3)
            for (int64_t i = 0; i < n; i++) x[i] *= (i % 2) ? 1e-30f : 7e4f;   /* subnormal halves, overflow */
        for (size_t ti = 0; ti < sizeof act / sizeof act[0]; ti++) {
            const uint32_t t = act[ti];
            const bool floaty = t == ELM_TYPE_F16 || t == ELM_TYPE_BF16;
            if (kind == 4 && !floaty) continue;
            if (kind == 4) x[7] = NAN, x[100] = -NAN, x[200] = INFINITY;
            const elmk_type_ops *ref = elmk_get_ops_isa(t, ELMK_ISA_SCALAR);
            const size_t rb = elm_type_row_bytes(t, n);
            for (int isa = 1; isa < ELMK_ISA_COUNT; isa++) {
                const elmk_type_ops *ops = elmk_get_ops_isa(t, (elmk_isa)isa);
                if (!ops) continue;
                for (int which = 0; which < 2; which++) {
                    const elmk_from_float_fn fr = which ? ref->quantize : ref->from_float;
                    const elmk_from_float_fn fs = which ? ops->quantize : ops->from_float;
                    assert_non_null(fr);
                    assert_non_null(fs);
                    memset(q0, 0xAB, rb);
                    memset(q1, 0xCD, rb);
                    fr(x, q0, n);
                    fs(x, q1, n);
                    if (memcmp(q0, q1, rb) != 0) {
                        print_error("%s %s %s (data kind %d) differs from the scalar reference\n", tname(t),
                                    elmk_isa_name((elmk_isa)isa), which ? "quantize" : "from_float", kind);
                        fail();
                    }
                }
            }
        }
    }
    free(x);
    free(q0);
    free(q1);
}

static void scratch_sizes(void **state) {
    (void)state;
    /* F32-activation types need no scratch unless the BLAS path needs a panel */
    assert_int_equal(elmk_matmul_scratch_bytes(ELM_TYPE_F32, 4096, 1), 0);
    /* room for the activation rows, plain (Q8_0 / Q8_K blocks) or packed, and no more */
    const size_t q8 = elm_type_row_bytes(ELM_TYPE_Q8_0, 4096), q8k = elm_type_row_bytes(ELM_TYPE_Q8_K, 4096);
    assert_true(elmk_matmul_scratch_bytes(ELM_TYPE_Q4_0, 4096, 3) >= 3 * q8);
    assert_true(elmk_matmul_scratch_bytes(ELM_TYPE_Q4_0, 4096, 3) <= 3 * 3 * q8);
    assert_true(elmk_matmul_scratch_bytes(ELM_TYPE_Q4_K, 4096, 2) >= 2 * q8k);
    assert_true(elmk_matmul_scratch_bytes(ELM_TYPE_Q4_K, 4096, 2) <= 3 * 2 * q8k);
    /* an overflowing size cannot be allocated: SIZE_MAX, never a wrapped small number */
    assert_true(elmk_matmul_scratch_bytes(ELM_TYPE_Q8_0, (int64_t)1 << 40, (int64_t)1 << 40) == SIZE_MAX);
    assert_int_equal(elmk_matmul_scratch_bytes(ELM_TYPE_Q8_0, 0, 1), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gemm_tiles_consistent),
        cmocka_unit_test(matmul_all_types_isas_threads),
        cmocka_unit_test(batch_equals_single_tokens),
        cmocka_unit_test(matmul_more_threads_than_rows),
        cmocka_unit_test(activation_quantizers_match_scalar),
        cmocka_unit_test(scratch_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
