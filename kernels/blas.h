/* blas.h: the optional OpenBLAS path of the matmul driver (internal to kernels/).
 *
 * For long prompts, float weights (and dequantized panels of other types) can go to
 * cblas_sgemm. Built only with ELM_HAVE_OPENBLAS; without it these say "no" and cost
 * nothing. Must not: be called by anything but matmul.c.
 */
#ifndef ELMK_BLAS_H
#define ELMK_BLAS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "kernels.h"

/* Fewest tokens for which the BLAS path is taken (below it our own kernels win). */
#define ELMK_BLAS_MIN_TOK 32

/* Scratch the BLAS path needs beyond the quantized activations (a dequantized panel of W);
 * 0 when it would never be used for this shape. Non-decreasing in n_in and n_tok. */
size_t elmk_blas_scratch_bytes(uint32_t wtype, int64_t n_in, int64_t n_tok);
/* True when this product should go to sgemm (allowed, built in, big enough, a type it helps). */
bool elmk_blas_wanted(const elmk_matmul_params *m);
/* The whole product with sgemm on nth OpenBLAS threads; called by one thread. */
void elmk_blas_matmul(const elmk_matmul_params *m, int nth);

#endif
