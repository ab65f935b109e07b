/* forward.h: the transformer forward pass over one batch of tokens (internal).
 *
 * elmi_forward evaluates n tokens at the cache's current position: it appends their keys
 * and values to the cache and leaves logits in the scratch. Every buffer it touches is in
 * elmi_fwd_scratch, sized once by elmi_fwd_scratch_init for (n_ctx, n_batch, threads).
 * Must not: allocate, check user input (the context does), know about SIMD.
 */
#ifndef ELM_FORWARD_H
#define ELM_FORWARD_H

#include "kvcache.h"
#include "model.h"
#include "threadpool.h"

typedef struct elmi_fwd_scratch {
    int32_t n_batch;             /* most tokens per elmi_forward call */
    int32_t n_threads;
    int32_t n_logit_rows;        /* n_batch when every token's logits are kept, else 1 */
    float *x;                    /* [n_batch][n_embd] the residual stream */
    float *xb;                   /* [n_batch][n_embd] a block's normalised input, then its output */
    float *q;                    /* [n_batch][n_head * head_dim_k] */
    float *k;                    /* [n_batch][n_head_kv * head_dim_k] keys of the batch */
    float *v;                    /* [n_batch][n_head_kv * head_dim_v] values of the batch */
    float *att;                  /* [n_batch][n_head * head_dim_v] attention output */
    float *gate, *up;            /* [n_batch][n_ff] feed-forward hidden */
    float *rope;                 /* [n_batch][n_rot] cos/sin of each token's position */
    float *logits;               /* [n_logit_rows][n_vocab] */
    void *xq;                    /* quantized activations (elmk_matmul scratch) */
    /* attention work areas, one per thread */
    float *att_k, *att_v;        /* [n_threads][n_ctx * head_dim]: a head's history as floats
                                    (Q8_0 caches only; F32 and F16 are read in place) */
    float *att_p;                /* [n_threads][n_ctx] scores, then probabilities */
    float *att_q;                /* [n_threads][head_dim_k] one query */
    uint16_t *att_h;             /* [n_threads][max(n_ctx, head_dim_k)] half-precision rounding */
    void *block;                 /* the one allocation all the above live in */
    uint64_t bytes;              /* its size */
} elmi_fwd_scratch;

/* The scratch layout for these shapes: every piece 64-byte aligned in one block of the
 * returned size (0 when it overflows). With base NULL only the size is computed (what
 * elm_estimate_memory needs); else s's pointers are set into base. xq_bytes is the
 * largest elmk_matmul_scratch_bytes of the model's matrices for n_batch tokens. */
uint64_t elmi_fwd_scratch_layout(const elmi_hparams *hp, uint64_t xq_bytes, elm_kv_type kv_type, int32_t n_ctx,
                                 int32_t n_batch, int32_t n_threads, bool all_logits, elmi_fwd_scratch *s,
                                 unsigned char *base);
elm_status elmi_fwd_scratch_init(elmi_fwd_scratch *s, const elm_model *m, elm_kv_type kv_type, int32_t n_ctx,
                                 int32_t n_batch, int32_t n_threads, bool all_logits);
void elmi_fwd_scratch_free(elmi_fwd_scratch *s);

/* Evaluate tokens[0..n) (1 <= n <= n_batch, ids valid, room in the cache) at positions
 * kv->n_used.., then advance kv->n_used by n. Logits: every token's when all_logits (row i
 * for token i), else the last token's in row 0. */
void elmi_forward(const elm_model *m, elmi_kvcache *kv, elmi_fwd_scratch *s, elmi_pool *pool, const elm_token *tokens,
                  int32_t n, bool all_logits, bool allow_blas);

#endif
