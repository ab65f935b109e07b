/* matmul.c: the matrix-product driver, y = x * W^T for every weight type (elmk_matmul).
 *
 * Two phases per call, run by every thread of the caller's pool with its own ith:
 *   1. quantize this thread's share of the activation rows into the shared scratch xq
 *      (F32 activations are used in place), then wait at the caller's barrier so every
 *      thread sees all of xq. With fewer rows than threads, rows are split by blocks, so
 *      a single token is quantized by all threads;
 *   2. compute this thread's share of the output rows, in chunks of 16 rows so that no
 *      two threads write into the same 64-byte line of y.
 * Three ways to do phase 2, in order of preference:
 *   - packed: m->packed was made by elmk_repack for this matrix and the active ISA has a
 *     kernel for it (every quantized type with AVX-512 VNNI, Q4_0 with AVX2): xq holds
 *     packed activations, each thread runs the kernel on its groups of 16 rows, for one
 *     token or many;
 *   - BLAS: long prompts with float weights, when allowed (blas.c; thread 0 only);
 *   - the type's tile kernel (float types: several rows x several tokens per call) over
 *     panels of rows that stay in L2 while all the tokens pass, or else its dot product.
 * Every path but BLAS repeats the scalar reference's (llama.cpp's) float operations for
 * each output, so results do not depend on the path, the batch size or nth.
 * Must not: allocate, print, or know what a layer is.
 */
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "blas.h"
#include "packed.h"

/* 16 floats: one 64-byte cache line of y, the unit of the split between threads. */
#define ROW_CHUNK 16
/* Rows of W worked on together for every token tile in phase 2: about this many bytes of
 * weights stay in L2 while all the tokens stream past them. */
#define W_PANEL_BYTES (192u * 1024u)

static size_t act_row_bytes(const elmk_type_ops *ops, int64_t n_in) {
    if (ops->vec_dot_type == ELM_TYPE_F32) return 0;   /* x is used in place */
    return elm_type_row_bytes(ops->vec_dot_type, n_in);
}

size_t elmk_matmul_scratch_bytes(uint32_t wtype, int64_t n_in, int64_t n_tok) {
    const elmk_type_ops *ops = elmk_get_ops(wtype);
    if (!ops || n_in <= 0 || n_tok <= 0) return 0;
    size_t row = act_row_bytes(ops, n_in);
    size_t prow = elmk_pact_row_bytes(wtype, n_in);   /* the packed path's rows */
    if (prow > row) row = prow;
    if (row && (size_t)n_tok > SIZE_MAX / row) return SIZE_MAX;   /* cannot be allocated */
    size_t bytes = row * (size_t)n_tok;
    size_t extra = elmk_blas_scratch_bytes(wtype, n_in, n_tok);
    if (extra > SIZE_MAX - bytes - 64) return SIZE_MAX;
    if (extra) bytes = ((bytes + 63) & ~(size_t)63) + extra;       /* the BLAS panel, 64-aligned */
    return bytes;
}

/* Phase 1: quantize activation rows. With fewer rows than threads, each row is split
 * into block ranges (blocks are independent), so a single token uses every thread. */
static void quantize_share(const elmk_matmul_params *m, const elmk_type_ops *ops, size_t qrow, int ith, int nth) {
    const elm_type_info *ti = elm_type_get_info(ops->vec_dot_type);
    const elmk_from_float_fn quantize = elmk_get_ops(ops->vec_dot_type)->quantize;   /* llama.cpp's way */
    const int64_t bs = ti->block_size;
    const int64_t nb = m->n_in / bs;
    char *xq = m->xq;
    if (m->n_tok >= nth) {
        int64_t t0 = m->n_tok * ith / nth, t1 = m->n_tok * (ith + 1) / nth;
        for (int64_t t = t0; t < t1; t++)
            quantize(m->x + t * m->x_stride, xq + (size_t)t * qrow, m->n_in);
    } else {
        int64_t b0 = nb * ith / nth, b1 = nb * (ith + 1) / nth;
        if (b1 <= b0) return;
        size_t bb = ti->block_bytes;
        for (int64_t t = 0; t < m->n_tok; t++)
            quantize(m->x + t * m->x_stride + b0 * bs, xq + (size_t)t * qrow + (size_t)b0 * bb, (b1 - b0) * bs);
    }
}

/* Phase 2 for rows [r0, r1) with the tile kernel: a panel of weight rows is kept in cache
 * while every token tile passes over it. */
static void rows_gemm(const elmk_matmul_params *m, const elmk_type_ops *ops, const char *a, size_t a_row,
                      int64_t r0, int64_t r1) {
    const int nr = ops->gemm_nr, nc = ops->gemm_nc;
    int64_t panel = (int64_t)(W_PANEL_BYTES / (m->w_row_bytes ? m->w_row_bytes : 1));
    panel = panel < nr ? nr : panel - panel % nr;
    const char *w = m->w;
    for (int64_t p0 = r0; p0 < r1; p0 += panel) {
        int64_t p1 = p0 + panel < r1 ? p0 + panel : r1;
        for (int64_t t = 0; t < m->n_tok; t += nc) {
            int tc = m->n_tok - t < nc ? (int)(m->n_tok - t) : nc;
            for (int64_t r = p0; r < p1; r += nr) {
                int rc = p1 - r < nr ? (int)(p1 - r) : nr;
                ops->gemm(m->n_in, m->y + t * m->y_stride + r, (size_t)m->y_stride,
                          w + (size_t)r * m->w_row_bytes, m->w_row_bytes,
                          a + (size_t)t * a_row, a_row, rc, tc);
            }
        }
    }
}

/* Phase 2 for rows [r0, r1) with the dot product only, also panel by panel so that W is
 * read from memory once however many tokens there are. */
static void rows_dot(const elmk_matmul_params *m, const elmk_type_ops *ops, const char *a, size_t a_row,
                     int64_t r0, int64_t r1) {
    const char *w = m->w;
    int64_t panel = (int64_t)(W_PANEL_BYTES / (m->w_row_bytes ? m->w_row_bytes : 1));
    if (panel < 1) panel = 1;
    for (int64_t p0 = r0; p0 < r1; p0 += panel) {
        const int64_t p1 = p0 + panel < r1 ? p0 + panel : r1;
        for (int64_t t = 0; t < m->n_tok; t++) {
            float *y = m->y + t * m->y_stride;
            const char *at = a + (size_t)t * a_row;
            for (int64_t r = p0; r < p1; r++) ops->vec_dot(m->n_in, y + r, w + (size_t)r * m->w_row_bytes, at);
        }
    }
}

/* The packed path: activations into the packed format, then whole 16-row groups per
 * thread (a group is one 64-byte line of y per token). */
static void matmul_packed(const elmk_matmul_params *m, elmk_packed_fn pk, int ith, int nth,
                          elmk_barrier_fn barrier, void *barrier_arg) {
    const size_t prow = elmk_pact_row_bytes(m->wtype, m->n_in);
    const int64_t nb = m->n_in / elm_type_get_info(m->wtype)->block_size;
    char *xq = m->xq;
    if (m->n_tok >= nth) {
        int64_t t0 = m->n_tok * ith / nth, t1 = m->n_tok * (ith + 1) / nth;
        for (int64_t t = t0; t < t1; t++) elmk_pact_quantize(m->wtype, m->x + t * m->x_stride, xq + (size_t)t * prow, 0, nb);
    } else {
        int64_t b0 = nb * ith / nth, b1 = nb * (ith + 1) / nth;
        for (int64_t t = 0; t < m->n_tok; t++)
            elmk_pact_quantize(m->wtype, m->x + t * m->x_stride, xq + (size_t)t * prow, b0, b1);
    }
    if (barrier && nth > 1) barrier(barrier_arg);
    const int64_t ngroups = (m->n_out + ELMK_PACK_ROWS - 1) / ELMK_PACK_ROWS;
    const int64_t g0 = ngroups * ith / nth, g1 = ngroups * (ith + 1) / nth;
    if (g0 < g1) pk(m->packed, xq, prow, m->n_tok, m->y, (size_t)m->y_stride, g0, g1);
}

void elmk_matmul(const elmk_matmul_params *m, int ith, int nth, elmk_barrier_fn barrier, void *barrier_arg) {
    const elmk_type_ops *ops = elmk_get_ops(m->wtype);
    if (!ops || !ops->vec_dot || m->n_out <= 0 || m->n_tok <= 0 || nth <= 0) {
        if (barrier && nth > 1) barrier(barrier_arg);   /* keep the other threads in step */
        return;
    }

    const bool f32_act = ops->vec_dot_type == ELM_TYPE_F32;
    const size_t qrow = act_row_bytes(ops, m->n_in);

    if (elmk_blas_wanted(m)) {
        /* OpenBLAS threads itself: thread 0 does it all, the others only wait. */
        if (ith == 0) elmk_blas_matmul(m, nth);
        if (barrier && nth > 1) barrier(barrier_arg);
        return;
    }

    const elmk_packed_fn pk = m->packed && elmk_packed_matches(m->packed, m->wtype, m->n_out, m->n_in)
                                  ? elmk_packed_kernel(elmk_active_isa(), m->wtype) : NULL;
    if (pk) {
        matmul_packed(m, pk, ith, nth, barrier, barrier_arg);
        return;
    }

    if (!f32_act) quantize_share(m, ops, qrow, ith, nth);
    if (barrier && nth > 1) barrier(barrier_arg);

    const char *a = f32_act ? (const char *)m->x : (const char *)m->xq;
    const size_t a_row = f32_act ? (size_t)m->x_stride * sizeof(float) : qrow;

    const int64_t nchunk = (m->n_out + ROW_CHUNK - 1) / ROW_CHUNK;
    int64_t r0 = nchunk * ith / nth * ROW_CHUNK, r1 = nchunk * (ith + 1) / nth * ROW_CHUNK;
    if (r1 > m->n_out) r1 = m->n_out;
    if (r0 >= r1) return;

    /* the tiles also for one token: several rows at once are independent FMA chains */
    if (ops->gemm && ops->gemm_nr > 0 && ops->gemm_nc > 0)
        rows_gemm(m, ops, a, a_row, r0, r1);
    else
        rows_dot(m, ops, a, a_row, r0, r1);
}
