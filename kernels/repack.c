/* repack.c: optional weight layouts built once at load for faster multi-token products.
 *
 * No layout is used yet: the row-major GGUF blocks are what every tile kernel reads (a
 * repacked layout must earn its place with a measured win in edgelm-bench-kernels).
 * Must not: be called on the per-token path.
 */
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

void *elmk_repack(uint32_t wtype, const void *w, size_t w_row_bytes, int64_t n_out, int64_t n_in, size_t *bytes) {
    (void)wtype; (void)w; (void)w_row_bytes; (void)n_out; (void)n_in;
    if (bytes) *bytes = 0;
    return NULL;
}
