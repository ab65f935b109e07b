/* types.c: the type-traits table, one row per GGML tensor type id (name, block size, bytes
 * per block, whether edgelm computes with it). The sizes are file-format facts from ggml:
 * they let the GGUF reader validate data ranges even for types we cannot run, and let
 * error messages name the type a file uses.
 * Must not: contain kernels or know about files. */
#include "kernels.h"

/* QK_K = 256 elements per super-block; the byte counts below spell out each ggml block. */
static const elm_type_info type_table[ELM_TYPE_COUNT] = {
    [ELM_TYPE_F32]     = {"F32", 1, 4, true},
    [ELM_TYPE_F16]     = {"F16", 1, 2, true},
    [ELM_TYPE_Q4_0]    = {"Q4_0", 32, 18, true},                 /* d + 16 nibble bytes */
    [ELM_TYPE_Q4_1]    = {"Q4_1", 32, 20, true},                 /* d, m + 16 */
    [ELM_TYPE_Q5_0]    = {"Q5_0", 32, 22, true},                 /* d + qh[4] + 16 */
    [ELM_TYPE_Q5_1]    = {"Q5_1", 32, 24, true},                 /* d, m + qh[4] + 16 */
    [ELM_TYPE_Q8_0]    = {"Q8_0", 32, 34, true},                 /* d + 32 */
    [ELM_TYPE_Q8_1]    = {"Q8_1", 32, 36, false},                /* activation type */
    [ELM_TYPE_Q2_K]    = {"Q2_K", 256, 84, true},
    [ELM_TYPE_Q3_K]    = {"Q3_K", 256, 110, true},
    [ELM_TYPE_Q4_K]    = {"Q4_K", 256, 144, true},
    [ELM_TYPE_Q5_K]    = {"Q5_K", 256, 176, true},
    [ELM_TYPE_Q6_K]    = {"Q6_K", 256, 210, true},
    [ELM_TYPE_Q8_K]    = {"Q8_K", 256, 292, false},              /* activation type */
    [ELM_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66, false},            /* d + qs[32] u16 */
    [ELM_TYPE_IQ2_XS]  = {"IQ2_XS", 256, 74, false},             /* + scales[8] */
    [ELM_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98, false},            /* d + qs[96] */
    [ELM_TYPE_IQ1_S]   = {"IQ1_S", 256, 50, false},              /* d + qs[32] + qh[8] u16 */
    [ELM_TYPE_IQ4_NL]  = {"IQ4_NL", 32, 18, false},              /* d + qs[16] */
    [ELM_TYPE_IQ3_S]   = {"IQ3_S", 256, 110, false},             /* d + qs[64] + qh[8] + signs[32] + scales[4] */
    [ELM_TYPE_IQ2_S]   = {"IQ2_S", 256, 82, false},              /* d + qs[64] + qh[8] + scales[8] */
    [ELM_TYPE_IQ4_XS]  = {"IQ4_XS", 256, 136, false},            /* d + scales_h + scales_l[4] + qs[128] */
    [ELM_TYPE_I8]      = {"I8", 1, 1, false},
    [ELM_TYPE_I16]     = {"I16", 1, 2, false},
    [ELM_TYPE_I32]     = {"I32", 1, 4, false},
    [ELM_TYPE_I64]     = {"I64", 1, 8, false},
    [ELM_TYPE_F64]     = {"F64", 1, 8, false},
    [ELM_TYPE_IQ1_M]   = {"IQ1_M", 256, 56, false},              /* qs[32] + qh[16] + scales[8] */
    [ELM_TYPE_BF16]    = {"BF16", 1, 2, true},
    /* Removed from ggml: interleaved repacks of Q4_0 / IQ4_NL. Named so that a file using
     * them is rejected by name; the sizes are those of the block they interleaved. */
    [31]               = {"Q4_0_4_4", 32, 18, false},
    [32]               = {"Q4_0_4_8", 32, 18, false},
    [33]               = {"Q4_0_8_8", 32, 18, false},
    [ELM_TYPE_TQ1_0]   = {"TQ1_0", 256, 54, false},              /* qs[48] + qh[4] + d */
    [ELM_TYPE_TQ2_0]   = {"TQ2_0", 256, 66, false},              /* qs[64] + d */
    [36]               = {"IQ4_NL_4_4", 32, 18, false},
    [37]               = {"IQ4_NL_4_8", 32, 18, false},
    [38]               = {"IQ4_NL_8_8", 32, 18, false},
    [ELM_TYPE_MXFP4]   = {"MXFP4", 32, 17, false},               /* e8m0 scale + qs[16] */
};

const elm_type_info *elm_type_get_info(uint32_t type) {
    if (type >= ELM_TYPE_COUNT || type_table[type].name == NULL) return NULL;
    return &type_table[type];
}

size_t elm_type_row_bytes(uint32_t type, int64_t n) {
    const elm_type_info *ti = elm_type_get_info(type);
    if (!ti || n < 0 || n % ti->block_size != 0) return 0;
    uint64_t blocks = (uint64_t)n / ti->block_size;
    if (blocks > SIZE_MAX / ti->block_bytes) return 0;
    return (size_t)(blocks * ti->block_bytes);
}
