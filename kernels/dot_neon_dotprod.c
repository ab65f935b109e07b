/* dot_neon_dotprod.c: ARMv8.2 NEON kernels with sdot (compiled with
 * -march=armv8.2-a+dotprod+fp16; installed by dispatch.c only when the CPU reports
 * asimddp). The integer dot products are dot_neon_body.h over vdotq_s32, which adds the
 * four int8 products of each 32-bit lane into that lane: the same block sums as the
 * ARMv8.0 build, in a quarter of the instructions. The float types keep the entries
 * elmk_fill_ops_neon set (dispatch calls it first).
 * Must not: change entries of types it does not accelerate. */
#include <arm_neon.h>

#include "kernels.h"

#define NEON_DOT16(acc, a, b) vdotq_s32((acc), (a), (b))
#include "dot_neon_body.h"

void elmk_fill_ops_neon_dotprod(elmk_type_ops table[ELM_TYPE_COUNT]) {
    nb_fill_integer_ops(table);
}
