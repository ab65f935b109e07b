/* forward.c: THE forward pass of a llama-style transformer over a batch of tokens.
 *
 *   x = embed(tokens)
 *   for each layer:
 *       h = rmsnorm(x) * attn_norm
 *       q, k, v = Wq h (+bq), Wk h (+bk), Wv h (+bv);  rope(q), rope(k);  cache <- k, v
 *       x += Wo attention(q, cache)               (causal, grouped-query heads)
 *       h = rmsnorm(x) * ffn_norm
 *       x += Wdown (silu(Wgate h) * Wup h)
 *   logits = Wout (rmsnorm(x) * output_norm)
 *
 * Every thread of the context's pool runs forward_task from start to end; each step
 * splits its work by thread index and ends at a barrier, so the whole batch costs one
 * wake-up of the pool. Weight products go through elmk_matmul once per weight for the
 * whole batch. Numerics are llama.cpp's, bit for bit on x86 (the kernels repeat its float
 * operations): with an F16 cache, queries and attention probabilities are rounded to half
 * precision before they meet the cached keys and values, as ggml's matrix products of F16
 * tensors do, and every product has the same arithmetic for one token or a batch.
 * Must not: allocate, check user input, use SIMD directly (kernels/ does).
 */
#include "forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kernels.h"
#include "ops.h"

/* ==== Scratch ============================================================================ */

typedef struct plan {
    uint64_t bytes;
    bool overflow;
} plan;

/* Reserve n elements of size sz at a 64-byte aligned offset; returns the offset. */
static uint64_t reserve(plan *p, uint64_t n, uint64_t sz) {
    const uint64_t off = (p->bytes + 63) / 64 * 64;
    if (sz && n > (UINT64_MAX / 4) / sz) p->overflow = true;
    const uint64_t b = p->overflow ? 0 : n * sz;
    if (off > UINT64_MAX / 4 - b) p->overflow = true;
    p->bytes = p->overflow ? 0 : off + b;
    return off;
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

uint64_t elmi_fwd_scratch_layout(const elmi_hparams *hp, uint64_t xq_bytes, elm_kv_type kv_type, int32_t n_ctx,
                                 int32_t n_batch, int32_t n_threads, bool all_logits, elmi_fwd_scratch *s,
                                 unsigned char *base) {
    const uint64_t B = (uint64_t)n_batch, T = (uint64_t)n_threads, C = (uint64_t)n_ctx;
    const uint64_t E = (uint64_t)hp->n_embd, F = (uint64_t)hp->n_ff;
    const uint64_t DK = (uint64_t)hp->head_dim_k, DV = (uint64_t)hp->head_dim_v;
    const uint64_t H = (uint64_t)hp->n_head, HKV = (uint64_t)hp->n_head_kv;
    const bool convert = elmi_kv_needs_scratch(kv_type);   /* F32 and F16 are read in place */
    plan p = {0};
#define PIECE(field, n, sz) do { const uint64_t off = reserve(&p, (n), (sz)); \
                                 if (base) s->field = (void *)(base + off); } while (0)
    PIECE(x, B * E, 4);
    PIECE(xb, B * E, 4);
    PIECE(q, B * H * DK, 4);
    PIECE(k, B * HKV * DK, 4);
    PIECE(v, B * HKV * DV, 4);
    PIECE(att, B * H * DV, 4);
    PIECE(gate, B * F, 4);
    PIECE(up, B * F, 4);
    PIECE(rope, B * (uint64_t)hp->n_rot, 4);
    PIECE(logits, (all_logits ? B : 1) * (uint64_t)hp->n_vocab, 4);
    PIECE(xq, xq_bytes, 1);
    PIECE(att_k, convert ? T * C * DK : 0, 4);
    PIECE(att_v, convert ? T * C * DV : 0, 4);
    PIECE(att_p, T * C, 4);
    PIECE(att_q, T * DK, 4);
    PIECE(att_h, T * max_u64(C, DK), 2);
#undef PIECE
    const uint64_t total = reserve(&p, 0, 1);
    return p.overflow || total > SIZE_MAX - 64 ? 0 : total;
}

elm_status elmi_fwd_scratch_init(elmi_fwd_scratch *s, const elm_model *m, elm_kv_type kv_type, int32_t n_ctx,
                                 int32_t n_batch, int32_t n_threads, bool all_logits) {
    const elmi_hparams *hp = &m->hp;
    memset(s, 0, sizeof *s);
    uint64_t xq = 0;
    for (int32_t l = 0; l < hp->n_layer; l++) {
        const elmi_layer *ly = &m->layers[l];
        const elmi_matrix *w[7] = {&ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->ffn_gate, &ly->ffn_up, &ly->ffn_down};
        for (int i = 0; i < 7; i++) xq = max_u64(xq, elmk_matmul_scratch_bytes(w[i]->type, w[i]->n_in, n_batch));
    }
    xq = max_u64(xq, elmk_matmul_scratch_bytes(m->output.type, m->output.n_in, n_batch));

    const uint64_t total = elmi_fwd_scratch_layout(hp, xq, kv_type, n_ctx, n_batch, n_threads, all_logits, NULL, NULL);
    if (total == 0)
        return elmi_error(ELM_ERR_NOMEM, "scratch for n_ctx %d and n_batch %d is too large", n_ctx, n_batch);
    unsigned char *b = aligned_alloc(64, (size_t)(total + 63) / 64 * 64);
    if (!b)
        return elmi_error(ELM_ERR_NOMEM, "out of memory for %llu bytes of scratch (n_ctx %d, n_batch %d)",
                          (unsigned long long)total, n_ctx, n_batch);
    elmi_fwd_scratch_layout(hp, xq, kv_type, n_ctx, n_batch, n_threads, all_logits, s, b);
    if (!elmi_kv_needs_scratch(kv_type)) s->att_k = s->att_v = NULL;
    s->block = b;
    s->bytes = total;
    s->n_batch = n_batch;
    s->n_threads = n_threads;
    s->n_logit_rows = all_logits ? n_batch : 1;
    return ELM_OK;
}

void elmi_fwd_scratch_free(elmi_fwd_scratch *s) {
    free(s->block);
    memset(s, 0, sizeof *s);
}

/* ==== One batch ========================================================================== */

typedef struct fwd {
    const elm_model *m;
    const elmi_hparams *hp;
    elmi_kvcache *kv;
    elmi_fwd_scratch *s;
    elmi_pool *pool;
    const elm_token *tokens;
    int32_t n;                   /* tokens in the batch */
    int32_t pos0;                /* position of tokens[0] */
    int32_t out0;                /* first token whose logits are wanted */
    bool allow_blas;
} fwd;

static void sync(const fwd *f) { elmi_pool_barrier(f->pool); }

/* This thread's share [*a, *b) of n items. */
static void share(int64_t n, int ith, int nth, int64_t *a, int64_t *b) {
    *a = n * ith / nth;
    *b = n * (ith + 1) / nth;
}

/* y[t] = W x[t] for n_tok rows; all threads take part; ends with a barrier. */
static void matmul(const fwd *f, const elmi_matrix *w, const float *x, int64_t n_tok, float *y, int ith, int nth) {
    const elmk_matmul_params p = {
        .wtype = w->type, .w = w->data, .w_row_bytes = w->row_bytes, .n_out = w->n_out, .n_in = w->n_in,
        .packed = w->packed, .x = x, .x_stride = w->n_in, .n_tok = n_tok, .y = y, .y_stride = w->n_out,
        .xq = f->s->xq, .allow_blas = f->allow_blas,
    };
    elmk_matmul(&p, ith, nth, elmi_pool_barrier, f->pool);
    sync(f);
}

/* out[t] = rmsnorm(x[t]) * w for rows [t0, n); ends with a barrier. */
static void rmsnorm_rows(const fwd *f, float *out, const float *x, const float *w, int32_t t0, int ith, int nth) {
    const int64_t E = f->hp->n_embd;
    int64_t a, b;
    share(f->n - t0, ith, nth, &a, &b);
    for (int64_t t = t0 + a; t < t0 + b; t++) elmk_rmsnorm(out + t * E, x + t * E, w, E, f->hp->rms_eps);
    sync(f);
}

/* x[t] += d[t] for rows [t0, n); ends with a barrier. */
static void residual_rows(const fwd *f, const float *d, int32_t t0, int ith, int nth) {
    const int64_t E = f->hp->n_embd;
    int64_t a, b;
    share(f->n - t0, ith, nth, &a, &b);
    for (int64_t t = t0 + a; t < t0 + b; t++) elmk_add(f->s->x + t * E, d + t * E, E);
    sync(f);
}

static void embed(const fwd *f, int ith, int nth) {
    const elmi_matrix *te = &f->m->tok_embd;
    const elmk_type_ops *ops = elmk_get_ops(te->type);
    const int64_t E = f->hp->n_embd, R = f->hp->n_rot;
    int64_t a, b;
    share(f->n, ith, nth, &a, &b);
    for (int64_t t = a; t < b; t++) {
        ops->to_float((const char *)te->data + (size_t)f->tokens[t] * te->row_bytes, f->s->x + t * E, E);
        elmk_rope_angles(f->s->rope + t * R, R, (float)(f->pos0 + t), f->hp->rope_base, f->hp->rope_freq_scale,
                         f->m->rope_freqs);
    }
    sync(f);
}

static void rope_head(const fwd *f, float *x, const float *cs) {
    if (f->hp->rope_pairing == ELMI_ROPE_HALVES) elmk_rope_halves(x, cs, f->hp->n_rot);
    else elmk_rope_adjacent(x, cs, f->hp->n_rot);
}

/* Biases, RoPE, and the batch's keys and values into the cache (queries of rows >= t0). */
static void finish_qkv(const fwd *f, int32_t l, int32_t t0, int ith, int nth) {
    const elmi_hparams *hp = f->hp;
    const elmi_layer *ly = &f->m->layers[l];
    const int64_t QD = (int64_t)hp->n_head * hp->head_dim_k, KD = (int64_t)hp->n_head_kv * hp->head_dim_k;
    const int64_t VD = (int64_t)hp->n_head_kv * hp->head_dim_v;
    int64_t a, b;
    share(f->n, ith, nth, &a, &b);
    for (int64_t t = a; t < b; t++) {
        float *q = f->s->q + t * QD, *k = f->s->k + t * KD, *v = f->s->v + t * VD;
        const float *cs = f->s->rope + t * hp->n_rot;
        if (ly->bk) elmk_add(k, ly->bk, KD);
        if (ly->bv) elmk_add(v, ly->bv, VD);
        for (int32_t g = 0; g < hp->n_head_kv; g++) {
            rope_head(f, k + (int64_t)g * hp->head_dim_k, cs);
            elmi_kv_store(f->kv, l, g, f->pos0 + (int32_t)t, k + (int64_t)g * hp->head_dim_k,
                          v + (int64_t)g * hp->head_dim_v);
        }
        if (t < t0) continue;
        if (ly->bq) elmk_add(q, ly->bq, QD);
        for (int32_t h = 0; h < hp->n_head; h++) rope_head(f, q + (int64_t)h * hp->head_dim_k, cs);
    }
    sync(f);
}

/* Causal attention of rows [t0, n) over the cache. Work units are (key/value head, block of
 * tokens): a unit reads its head's history once and serves every query head of the group. */
static void attend(const fwd *f, int32_t l, int32_t t0, int ith, int nth) {
    const elmi_hparams *hp = f->hp;
    const elmi_fwd_scratch *s = f->s;
    const int64_t dk = hp->head_dim_k, dv = hp->head_dim_v;
    const int64_t QD = hp->n_head * dk, OD = hp->n_head * dv;
    const int32_t group = hp->n_head / hp->n_head_kv, n_ctx = f->kv->n_ctx;
    const int32_t n_rows = f->n - t0;
    const float scale = 1.0f / sqrtf((float)dk);
    const bool half = elmi_kv_is_f16(f->kv);

    float *kbuf = s->att_k ? s->att_k + (size_t)ith * n_ctx * dk : NULL;
    float *vbuf = s->att_v ? s->att_v + (size_t)ith * n_ctx * dv : NULL;
    float *p = s->att_p + (size_t)ith * n_ctx;
    float *q = s->att_q + (size_t)ith * dk;
    uint16_t *h16 = s->att_h + (size_t)ith * (dk > n_ctx ? dk : n_ctx);

    int32_t n_blocks = (nth + hp->n_head_kv - 1) / hp->n_head_kv;
    if (n_blocks > n_rows) n_blocks = n_rows;
    for (int32_t u = ith; u < hp->n_head_kv * n_blocks; u += nth) {
        const int32_t g = u / n_blocks, blk = u % n_blocks;
        const int32_t ta = t0 + (int32_t)((int64_t)n_rows * blk / n_blocks);
        const int32_t tb = t0 + (int32_t)((int64_t)n_rows * (blk + 1) / n_blocks);
        bool k_half, v_half;
        const void *K = elmi_kv_keys(f->kv, l, g, f->pos0 + tb, kbuf, &k_half);
        const void *V = elmi_kv_values(f->kv, l, g, f->pos0 + tb, vbuf, &v_half);
        for (int32_t t = ta; t < tb; t++) {
            const int32_t n_vis = f->pos0 + t + 1;         /* causal: itself and everything before */
            for (int32_t h = g * group; h < (g + 1) * group; h++) {
                /* the query in the keys' format: F16 bits against a half cache */
                const void *qk = q;
                memcpy(q, s->q + t * QD + h * dk, (size_t)dk * sizeof *q);
                if (k_half) {
                    elmk_fp32_to_fp16_row(q, h16, dk);
                    qk = h16;
                }
                elmk_dot_rows(p, qk, K, k_half, n_vis, dk, scale);
                elmk_softmax(p, n_vis);
                if (half) elmk_round_to_fp16(p, h16, n_vis);
                elmk_mix_rows(s->att + t * OD + h * dv, p, V, v_half, n_vis, dv);
            }
        }
    }
    sync(f);
}

static void attention_block(const fwd *f, int32_t l, int32_t t0, int ith, int nth) {
    const elmi_layer *ly = &f->m->layers[l];
    const elmi_hparams *hp = f->hp;
    elmi_fwd_scratch *s = f->s;
    const int64_t E = hp->n_embd, QD = ly->wq.n_out, OD = ly->wo.n_in;
    rmsnorm_rows(f, s->xb, s->x, ly->attn_norm, 0, ith, nth);
    matmul(f, &ly->wq, s->xb + t0 * E, f->n - t0, s->q + t0 * QD, ith, nth);
    matmul(f, &ly->wk, s->xb, f->n, s->k, ith, nth);
    matmul(f, &ly->wv, s->xb, f->n, s->v, ith, nth);
    finish_qkv(f, l, t0, ith, nth);
    attend(f, l, t0, ith, nth);
    matmul(f, &ly->wo, s->att + t0 * OD, f->n - t0, s->xb + t0 * E, ith, nth);
    residual_rows(f, s->xb, t0, ith, nth);
}

static void ffn_block(const fwd *f, int32_t l, int32_t t0, int ith, int nth) {
    const elmi_layer *ly = &f->m->layers[l];
    elmi_fwd_scratch *s = f->s;
    const int64_t E = f->hp->n_embd, F = f->hp->n_ff;
    rmsnorm_rows(f, s->xb, s->x, ly->ffn_norm, t0, ith, nth);
    matmul(f, &ly->ffn_gate, s->xb + t0 * E, f->n - t0, s->gate + t0 * F, ith, nth);
    matmul(f, &ly->ffn_up, s->xb + t0 * E, f->n - t0, s->up + t0 * F, ith, nth);
    int64_t a, b;
    share(f->n - t0, ith, nth, &a, &b);
    for (int64_t t = t0 + a; t < t0 + b; t++) elmk_silu_mul(s->gate + t * F, s->up + t * F, F);
    sync(f);
    matmul(f, &ly->ffn_down, s->gate + t0 * F, f->n - t0, s->xb + t0 * E, ith, nth);
    residual_rows(f, s->xb, t0, ith, nth);
}

static void forward_task(void *arg, int ith, int nth) {
    const fwd *f = arg;
    const elmi_hparams *hp = f->hp;
    elmi_fwd_scratch *s = f->s;
    embed(f, ith, nth);
    for (int32_t l = 0; l < hp->n_layer; l++) {
        /* after the last layer's attention only the rows whose logits are wanted matter */
        const int32_t t0 = l == hp->n_layer - 1 ? f->out0 : 0;
        attention_block(f, l, t0, ith, nth);
        ffn_block(f, l, t0, ith, nth);
    }
    const int64_t E = hp->n_embd;
    rmsnorm_rows(f, s->xb, s->x, f->m->output_norm, f->out0, ith, nth);
    matmul(f, &f->m->output, s->xb + f->out0 * E, f->n - f->out0, s->logits, ith, nth);
}

void elmi_forward(const elm_model *m, elmi_kvcache *kv, elmi_fwd_scratch *s, elmi_pool *pool, const elm_token *tokens,
                  int32_t n, bool all_logits, bool allow_blas) {
    const fwd f = {
        .m = m, .hp = &m->hp, .kv = kv, .s = s, .pool = pool, .tokens = tokens, .n = n,
        .pos0 = kv->n_used, .out0 = all_logits ? 0 : n - 1, .allow_blas = allow_blas,
    };
    elmi_pool_run(pool, forward_task, (void *)&f);
    kv->n_used += n;
}
