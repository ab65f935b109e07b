/* kvcache.c: KV cache storage: allocation, writing one head at one position, reading a
 * head's history back as floats (see kvcache.h for the layout).
 * Must not: allocate after elmi_kv_init (store and read run on the per-token path).
 */
#include "kvcache.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels.h"

static size_t row_bytes(uint32_t type, int32_t n) { return elm_type_row_bytes(type, n); }

elm_status elmi_kv_init(elmi_kvcache *c, elm_kv_type kind, int32_t n_layer, int32_t n_ctx, int32_t n_head_kv,
                        int32_t head_dim_k, int32_t head_dim_v) {
    memset(c, 0, sizeof *c);
    uint32_t type;
    switch (kind) {
    case ELM_KV_F16: type = ELM_TYPE_F16; break;
    case ELM_KV_F32: type = ELM_TYPE_F32; break;
    case ELM_KV_Q8_0: type = ELM_TYPE_Q8_0; break;
    default: return elmi_error(ELM_ERR_INVALID_ARG, "KV cache type %d is not one of F16, F32, Q8_0", (int)kind);
    }
    if (n_layer < 1 || n_ctx < 1 || n_head_kv < 1 || head_dim_k < 1 || head_dim_v < 1)
        return elmi_error(ELM_ERR_INVALID_ARG, "KV cache: every dimension must be positive");
    const size_t kb = row_bytes(type, head_dim_k), vb = row_bytes(type, head_dim_v);
    if (kb == 0 || vb == 0)
        return elmi_error(ELM_ERR_UNSUPPORTED, "KV cache type %s needs head sizes that are multiples of %u "
                          "(this model has %d and %d)", elm_type_get_info(type)->name,
                          elm_type_get_info(type)->block_size, head_dim_k, head_dim_v);
    const uint64_t rows = (uint64_t)n_layer * (uint64_t)n_head_kv * (uint64_t)n_ctx;   /* < 2^63 */
    const uint64_t kbytes = rows * kb, vbytes = rows * vb;
    if (kbytes / kb != rows || vbytes / vb != rows || kbytes > SIZE_MAX / 2 || vbytes > SIZE_MAX / 2)
        return elmi_error(ELM_ERR_NOMEM, "KV cache of %d positions is too large", n_ctx);
    c->k = aligned_alloc(64, (kbytes + 63) / 64 * 64);
    c->v = aligned_alloc(64, (vbytes + 63) / 64 * 64);
    if (!c->k || !c->v) {
        elmi_kv_free(c);
        return elmi_error(ELM_ERR_NOMEM, "out of memory for a KV cache of %llu bytes (%d positions)",
                          (unsigned long long)(kbytes + vbytes), n_ctx);
    }
    c->kind = kind;
    c->type = type;
    c->n_ctx = n_ctx;
    c->n_layer = n_layer;
    c->n_head_kv = n_head_kv;
    c->head_dim_k = head_dim_k;
    c->head_dim_v = head_dim_v;
    c->k_row_bytes = kb;
    c->v_row_bytes = vb;
    c->bytes = kbytes + vbytes;
    return ELM_OK;
}

void elmi_kv_free(elmi_kvcache *c) {
    free(c->k);
    free(c->v);
    c->k = c->v = NULL;
}

/* Row index of (layer, head, pos) in either array. */
static size_t row_index(const elmi_kvcache *c, int32_t layer, int32_t head, int32_t pos) {
    return ((size_t)layer * (size_t)c->n_head_kv + (size_t)head) * (size_t)c->n_ctx + (size_t)pos;
}

static void put(uint32_t type, void *dst, const float *src, int32_t n) {
    switch (type) {
    case ELM_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case ELM_TYPE_F16: elmk_fp32_to_fp16_row(src, dst, n); break;
    default: elmk_get_ops(type)->quantize(src, dst, n); break;   /* Q8_0 as llama.cpp's x86 build stores it */
    }
}

void elmi_kv_store(elmi_kvcache *c, int32_t layer, int32_t head, int32_t pos, const float *k, const float *v) {
    const size_t r = row_index(c, layer, head, pos);
    put(c->type, c->k + r * c->k_row_bytes, k, c->head_dim_k);
    put(c->type, c->v + r * c->v_row_bytes, v, c->head_dim_v);
}

static const void *get(const elmi_kvcache *c, const unsigned char *base, size_t rb, int32_t dim, int32_t layer,
                       int32_t head, int32_t n_pos, float *scratch, bool *half) {
    const unsigned char *p = base + row_index(c, layer, head, 0) * rb;
    *half = c->type == ELM_TYPE_F16;
    if (c->type == ELM_TYPE_F32 || c->type == ELM_TYPE_F16) return p;
    elmk_get_ops(c->type)->to_float(p, scratch, (int64_t)n_pos * dim);
    return scratch;
}

const void *elmi_kv_keys(const elmi_kvcache *c, int32_t layer, int32_t head, int32_t n_pos, float *scratch,
                         bool *half) {
    return get(c, c->k, c->k_row_bytes, c->head_dim_k, layer, head, n_pos, scratch, half);
}

const void *elmi_kv_values(const elmi_kvcache *c, int32_t layer, int32_t head, int32_t n_pos, float *scratch,
                           bool *half) {
    return get(c, c->v, c->v_row_bytes, c->head_dim_v, layer, head, n_pos, scratch, half);
}
