/* fill_x86.h: the helpers that dot_avx2.c / dot_avx512.c call from their elmk_fill_ops_*
 * to install the tile and packed kernels of the other x86 files (internal).
 * Must not: be included outside kernels/.
 */
#ifndef ELMK_FILL_X86_H
#define ELMK_FILL_X86_H

#include "kernels.h"

void elmk_fill_quant_avx2(elmk_type_ops table[ELM_TYPE_COUNT]);           /* quant_avx2.c */
void elmk_fill_quant_avx512(elmk_type_ops table[ELM_TYPE_COUNT]);         /* quant_avx512.c */
void elmk_fill_packed_avx2(void);                                        /* gemm_avx2.c */
void elmk_fill_packed_avx512(void);                                      /* gemm_avx512.c (needs VNNI) */
/* float_dot_avx2.c / float_dot_avx512.c: F32/F16/BF16 with llama.cpp's exact arithmetic;
 * dispatch.c installs them after elmk_fill_ops_avx2/avx512, overriding those entries. */
void elmk_fill_float_exact_avx2(elmk_type_ops table[ELM_TYPE_COUNT]);
void elmk_fill_float_exact_avx512(elmk_type_ops table[ELM_TYPE_COUNT]);
/* packed_exact_avx512.c: packed kernels with llama.cpp's 8-lane arithmetic (needs VNNI);
 * dispatch.c registers them after elmk_fill_packed_avx512, replacing its kernels for
 * every type but Q4_0. */
void elmk_fill_packed_exact_avx512(void);

#endif
