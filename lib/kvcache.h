/* kvcache.h: the keys and values of past tokens, one context's memory (internal).
 *
 * Layout, per layer and per key/value head, positions are contiguous:
 *     K[layer][kv_head][pos][head_dim_k]      V[layer][kv_head][pos][head_dim_v]
 * so the attention of one head reads one contiguous block (converted to float in one call).
 * Elements are F16 (default), F32 or Q8_0 (a head row is then head_dim/32 blocks).
 * n_used is the number of positions that hold data: truncating only lowers it, since a
 * position is always written before it is read again.
 * Must not: know about weights, threads or the forward pass's math.
 */
#ifndef ELM_KVCACHE_H
#define ELM_KVCACHE_H

#include "edgelm.h"

typedef struct elmi_kvcache {
    elm_kv_type kind;            /* storage chosen by the caller */
    uint32_t type;               /* the matching elm_type id (F16, F32, Q8_0) */
    int32_t n_ctx;               /* positions, tokens */
    int32_t n_used;              /* positions filled, tokens */
    int32_t n_layer, n_head_kv;
    int32_t head_dim_k, head_dim_v; /* elements */
    size_t k_row_bytes, v_row_bytes;/* bytes of one head at one position */
    unsigned char *k, *v;        /* n_layer * n_head_kv * n_ctx rows each */
    uint64_t bytes;              /* total bytes of k and v */
} elmi_kvcache;

/* Allocate for n_ctx positions. Fails with a clear message if the type cannot store a head
 * of that size (Q8_0 needs head dims that are multiples of 32) or memory runs out. */
elm_status elmi_kv_init(elmi_kvcache *c, elm_kv_type kind, int32_t n_layer, int32_t n_ctx, int32_t n_head_kv,
                        int32_t head_dim_k, int32_t head_dim_v);
void elmi_kv_free(elmi_kvcache *c);

/* Write one position of one head, converting from float. */
void elmi_kv_store(elmi_kvcache *c, int32_t layer, int32_t head, int32_t pos, const float *k, const float *v);

/* Keys (or values) of positions [0, n_pos) of one head: n_pos rows of head_dim elements,
 * in the cache itself for F32 and F16 storage (*half tells which), or converted to floats
 * into scratch (n_pos * head_dim floats) for Q8_0. */
const void *elmi_kv_keys(const elmi_kvcache *c, int32_t layer, int32_t head, int32_t n_pos, float *scratch,
                         bool *half);
const void *elmi_kv_values(const elmi_kvcache *c, int32_t layer, int32_t head, int32_t n_pos, float *scratch,
                           bool *half);

/* True when reading needs a scratch area (elmi_kv_keys / elmi_kv_values convert). */
static inline bool elmi_kv_needs_scratch(elm_kv_type kind) { return kind == ELM_KV_Q8_0; }

/* True when the stored values are half precision (attention then rounds like ggml does). */
static inline bool elmi_kv_is_f16(const elmi_kvcache *c) { return c->kind == ELM_KV_F16; }

#endif
