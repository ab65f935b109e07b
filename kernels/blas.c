/* blas.c: the OpenBLAS path of the matmul driver (only with ELM_HAVE_OPENBLAS).
 *
 * y = x * W^T by cblas_sgemm on float activations. F32 weights are used in place; other
 * types are converted, a panel of rows at a time, into the scratch after xq with the
 * type's to_float, so memory stays bounded (a few MB) whatever the size of W.
 * Must not: allocate, or be used for short batches (threading and conversion would cost
 * more than they save).
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "blas.h"

#ifdef ELM_HAVE_OPENBLAS
#include <cblas.h>
#include <stdatomic.h>

bool elmk_have_blas(void) { return true; }

/* Weight types sgemm may take: the float ones (for quantized types our integer tiles are
 * far ahead). On the Zen 4 reference machine our own float tiles are still 2-3x faster
 * than this path (edgelm-bench-kernels --blas), and sgemm does not repeat llama.cpp's
 * float operations, so it is off unless a caller asks for it (allow_blas). */
static bool blas_type(uint32_t wtype) {
    return wtype == ELM_TYPE_F32 || wtype == ELM_TYPE_F16 || wtype == ELM_TYPE_BF16;
}

/* Rows of W converted per sgemm call: about 4 MB of floats, a multiple of 16. */
static int64_t panel_rows(int64_t n_in) {
    int64_t rows = (int64_t)(4u << 20) / (n_in * (int64_t)sizeof(float));
    if (rows > 256) rows = 256;
    if (rows < 16) rows = 16;
    return rows - rows % 16;
}

static size_t xq_bytes(uint32_t wtype, int64_t n_in, int64_t n_tok) {
    const elmk_type_ops *ops = elmk_get_ops(wtype);
    if (!ops || ops->vec_dot_type == ELM_TYPE_F32) return 0;
    return elm_type_row_bytes(ops->vec_dot_type, n_in) * (size_t)n_tok;
}

size_t elmk_blas_scratch_bytes(uint32_t wtype, int64_t n_in, int64_t n_tok) {
    if (!blas_type(wtype) || wtype == ELM_TYPE_F32 || n_tok < ELMK_BLAS_MIN_TOK || n_in <= 0) return 0;
    if (n_in > INT64_MAX / 256 / (int64_t)sizeof(float)) return SIZE_MAX;
    return (size_t)panel_rows(n_in) * (size_t)n_in * sizeof(float);
}

bool elmk_blas_wanted(const elmk_matmul_params *m) {
    if (!m->allow_blas || m->n_tok < ELMK_BLAS_MIN_TOK || !blas_type(m->wtype)) return false;
    if (m->n_tok > INT_MAX || m->n_out > INT_MAX || m->n_in > INT_MAX || m->x_stride > INT_MAX ||
        m->y_stride > INT_MAX || m->w_row_bytes / sizeof(float) > INT_MAX) return false;   /* cblas takes int */
    if (m->wtype == ELM_TYPE_F32) return true;
    return m->xq != NULL;   /* the panel lives in the scratch */
}

void elmk_blas_matmul(const elmk_matmul_params *m, int nth) {
    static atomic_int blas_threads;
    if (atomic_exchange(&blas_threads, nth) != nth) openblas_set_num_threads(nth);

    const int64_t n_in = m->n_in;
    if (m->wtype == ELM_TYPE_F32 && m->w_row_bytes % sizeof(float) == 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m->n_tok, (int)m->n_out, (int)n_in,
                    1.0f, m->x, (int)m->x_stride, m->w, (int)(m->w_row_bytes / sizeof(float)),
                    0.0f, m->y, (int)m->y_stride);
        return;
    }
    const elmk_type_ops *ops = elmk_get_ops(m->wtype);
    size_t off = (xq_bytes(m->wtype, n_in, m->n_tok) + 63) & ~(size_t)63;
    float *panel = (float *)((char *)m->xq + off);
    const int64_t pr = panel_rows(n_in);
    for (int64_t r0 = 0; r0 < m->n_out; r0 += pr) {
        int64_t rows = m->n_out - r0 < pr ? m->n_out - r0 : pr;
        for (int64_t r = 0; r < rows; r++)
            ops->to_float((const char *)m->w + (size_t)(r0 + r) * m->w_row_bytes, panel + r * n_in, n_in);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m->n_tok, (int)rows, (int)n_in,
                    1.0f, m->x, (int)m->x_stride, panel, (int)n_in, 0.0f, m->y + r0, (int)m->y_stride);
    }
}

#else

bool elmk_have_blas(void) { return false; }
size_t elmk_blas_scratch_bytes(uint32_t wtype, int64_t n_in, int64_t n_tok) { (void)wtype; (void)n_in; (void)n_tok; return 0; }
bool elmk_blas_wanted(const elmk_matmul_params *m) { (void)m; return false; }
void elmk_blas_matmul(const elmk_matmul_params *m, int nth) { (void)m; (void)nth; }

#endif
