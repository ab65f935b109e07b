/* kernels.h: the contract between the engine and its numeric kernels (internal).
 *
 * kernels/ knows tensor types and instruction sets, nothing about transformers or files.
 * For each weight type there is one row of elmk_type_ops per instruction set: convert a
 * row to/from float, and the dot product of a weight row with an activation row that was
 * quantized to the type's vec_dot_type. The matmul driver (elmk_matmul) is the one entry
 * point the forward pass uses for every weight: y[t][r] = sum_k x[t][k] * W[r][k].
 *
 * Must not: include model or GGUF headers, allocate in the matmul path, print.
 */
#ifndef ELMK_KERNELS_H
#define ELMK_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "edgelm.h"   /* elm_type ids and elm_type_info (the traits table lives in kernels/types.c) */
#include "blocks.h"

/* ==== Instruction sets and dispatch ====================================================== */

typedef enum elmk_isa {
    ELMK_ISA_SCALAR = 0,
    ELMK_ISA_AVX2 = 1,          /* AVX2 + FMA + F16C */
    ELMK_ISA_AVX512 = 2,        /* AVX-512 F/BW/VL (+VNNI used when present) */
    ELMK_ISA_NEON = 3,          /* ARMv8 NEON */
    ELMK_ISA_NEON_DOTPROD = 4,  /* ARMv8.2 NEON with sdot */
    ELMK_ISA_COUNT = 5
} elmk_isa;

const char *elmk_isa_name(elmk_isa isa);          /* "scalar", "avx2", "avx512", "neon", "neon_dotprod" */
bool elmk_isa_available(elmk_isa isa);            /* compiled in AND the CPU has it */
/* The ISA in use: the best available, unless EDGELM_ISA=scalar|avx2|avx512|neon names
 * another (an unavailable name falls back to the best and logs a warning). */
elmk_isa elmk_active_isa(void);
/* Force an ISA (tests, benchmarks). Returns false, changing nothing, if unavailable. */
bool elmk_set_isa(elmk_isa isa);

/* What CPU detection found (cpuid/xgetbv on x86-64, getauxval(AT_HWCAP) on aarch64),
 * whatever was compiled in. A SIMD file may look at the optional extras (e.g. VNNI) when
 * it fills its table, to install the kernels that use them only where they run. */
typedef struct elmk_cpu_features {
    bool avx2, fma, f16c, bmi2;                 /* x86: the AVX2 ISA needs all four */
    bool avx512f, avx512bw, avx512vl, avx512dq; /* x86: the AVX512 ISA needs all four (+AVX2) */
    bool avx512vnni;                            /* x86: vpdpbusd on zmm/ymm (EVEX) */
    bool avx_vnni;                              /* x86: vpdpbusd with VEX encoding (AVX-VNNI) */
    bool neon;                                  /* aarch64: ASIMD */
    bool dotprod;                               /* aarch64: sdot/udot (ASIMDDP) */
    bool fp16;                                  /* aarch64: half-precision arithmetic (ASIMDHP) */
} elmk_cpu_features;
const elmk_cpu_features *elmk_cpu(void);

/* ==== Per-type operations ================================================================ */

/* Dot product of n elements: *s = sum_i w[i]*a[i], w one weight row of the type, a one
 * activation row of the type's vec_dot_type. n is a multiple of the block size. */
typedef void (*elmk_vec_dot_fn)(int64_t n, float *s, const void *w, const void *a);
typedef void (*elmk_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*elmk_from_float_fn)(const float *src, void *dst, int64_t n);

/* Optional tile kernel: nr weight rows x nc activation rows in one call, so each weight
 * block is loaded once for several tokens. s[j*ss + i] = dot(w row i, a row j). */
typedef void (*elmk_gemm_fn)(int64_t n, float *s, size_t ss, const void *w, size_t w_row_bytes,
                             const void *a, size_t a_row_bytes, int nr, int nc);

/* Activation types by weight type (ggml's vec_dot_type, fixed, so every ISA agrees):
 *   F32 -> F32 (used in place)    F16 -> F16    BF16 -> BF16 (activations rounded to the
 *   weight's type, as llama.cpp does)
 *   Q4_0, Q5_0, Q8_0 -> Q8_0      Q4_1, Q5_1 -> Q8_1      Q2_K..Q6_K -> Q8_K
 * Every ISA computes each dot product with the same float operations as llama.cpp's x86
 * build (see ref.h and the quants_*.c files), so results are bit-identical across ISAs,
 * across tile shapes and with llama.cpp itself. */
typedef struct elmk_type_ops {
    uint32_t vec_dot_type;        /* the activation type vec_dot wants (e.g. Q8_0, Q8_K, F32) */
    elmk_to_float_fn to_float;    /* dequantize a row (exactly as ggml does) */
    elmk_from_float_fn from_float;/* quantize a row: reference (ggml's round-to-nearest) */
    elmk_from_float_fn quantize;  /* activation types only: quantize a row of activations as
                                     llama.cpp's x86 build does (Q8_0/Q8_1: id = 127/amax and
                                     halves to even, unlike from_float); NULL otherwise */
    elmk_vec_dot_fn vec_dot;      /* NULL when this type cannot be a weight */
    elmk_gemm_fn gemm;            /* optional; NULL: the driver loops over vec_dot */
    int gemm_nr, gemm_nc;         /* the tile shape gemm is fastest at (e.g. 4 x 4) */
} elmk_type_ops;

/* Each ISA's files provide one function that overwrites the entries it accelerates in a
 * table pre-filled with the ops of the ISA below it (avx2 and neon: scalar; avx512: avx2;
 * neon_dotprod: neon). dispatch.c calls it once for each ISA compiled into this build and
 * present on the CPU (x86_64 builds have avx2/avx512, aarch64 builds neon/neon_dotprod).
 * It runs while the dispatch table is being built: it may call elmk_cpu(), but no other
 * dispatch function (elmk_get_ops*, elmk_isa_available, ...), which would deadlock. */
void elmk_fill_ops_avx2(elmk_type_ops table[ELM_TYPE_COUNT]);
void elmk_fill_ops_avx512(elmk_type_ops table[ELM_TYPE_COUNT]);
void elmk_fill_ops_neon(elmk_type_ops table[ELM_TYPE_COUNT]);
void elmk_fill_ops_neon_dotprod(elmk_type_ops table[ELM_TYPE_COUNT]);

/* Ops of a type for the active ISA (or a given one); NULL for types we cannot compute, and
 * (for elmk_get_ops_isa) for an ISA that is not available. Entries an ISA does not
 * specialise fall back to the ISA below it: avx512 -> avx2 -> scalar and
 * neon_dotprod -> neon -> scalar (dispatch.c applies the fill functions in that order). */
const elmk_type_ops *elmk_get_ops(uint32_t type);
const elmk_type_ops *elmk_get_ops_isa(uint32_t type, elmk_isa isa);

/* ==== Half and bfloat16 ================================================================== */

float elmk_fp16_to_fp32(uint16_t h);    /* exact */
uint16_t elmk_fp32_to_fp16(float f);    /* round to nearest even, like F16C/ggml */
float elmk_bf16_to_fp32(uint16_t h);    /* exact */
uint16_t elmk_fp32_to_bf16(float f);    /* round to nearest even; NaN stays NaN (ggml's rule) */
void elmk_fp16_to_fp32_row(const uint16_t *x, float *y, int64_t n);
void elmk_fp32_to_fp16_row(const float *x, uint16_t *y, int64_t n);

/* ==== Matrix products ==================================================================== */

/* y[t*y_stride + r] = sum_k x[t*x_stride + k] * W[r][k]  for t < n_tok, r < n_out.
 * W: n_out rows of n_in elements of type wtype, row r at (char*)w + r*w_row_bytes.
 * Work is split into nth parts; every thread calls elmk_matmul with its ith. The driver
 * first quantizes the activations into xq (shared; sized by elmk_matmul_scratch_bytes),
 * calls barrier(barrier_arg) once, then computes its share of y. No two threads write
 * to the same cache line of y except at tile edges, which are 64-byte aligned. */
typedef struct elmk_matmul_params {
    uint32_t wtype;
    const void *w;
    size_t w_row_bytes;
    int64_t n_out;                /* rows of W = outputs per token */
    int64_t n_in;                 /* columns of W = inputs per token */
    const void *packed;           /* optional repacked W (elmk_repack), or NULL */
    const float *x;
    int64_t x_stride;             /* floats between token rows of x */
    int64_t n_tok;
    float *y;
    int64_t y_stride;             /* floats between token rows of y */
    void *xq;                     /* scratch for quantized activations */
    bool allow_blas;              /* may use OpenBLAS sgemm (only thread 0 calls it) */
} elmk_matmul_params;   /* (a typedef cannot share the function's name) */

typedef void (*elmk_barrier_fn)(void *arg);

size_t elmk_matmul_scratch_bytes(uint32_t wtype, int64_t n_in, int64_t n_tok);
void elmk_matmul(const elmk_matmul_params *m, int ith, int nth, elmk_barrier_fn barrier, void *barrier_arg);

/* Optional weight repacking, built once at load for faster multi-token products.
 * Returns NULL when the type/ISA has no packed layout. The caller frees with free(). */
void *elmk_repack(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t n_out, int64_t n_in, size_t *bytes);

bool elmk_have_blas(void);        /* built with OpenBLAS */

#endif
