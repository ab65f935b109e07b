/* context.c: one conversation's state: KV cache, scratch, thread pool, position, logits.
 *
 * Everything a context needs is allocated by elm_context_create, sized for (n_ctx,
 * n_batch); elm_decode only checks its input and hands batches to the forward pass.
 * Must not: allocate or create threads in elm_decode; evaluate anything when the input is
 * bad or the cache would overflow (the context must stay exactly as it was).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "forward.h"
#include "kvcache.h"
#include "metrics.h"
#include "model.h"
#include "threadpool.h"

#define MAX_THREADS 512

struct elm_context {
    elm_model *model;
    elm_context_params params;   /* resolved: no zeros left */
    elmi_kvcache kv;             /* kv.n_used is the position */
    elmi_fwd_scratch scratch;
    elmi_pool *pool;
    elmi_metrics *metrics;       /* timers and energy of this context (metrics.c) */
    int32_t last_n;              /* tokens of the last successful elm_decode (0: none yet) */
    int32_t last_chunk;          /* index in that call of the first token of its last batch */
    char last_error[ELMI_ERRMSG_BYTES];
};

elm_context_params elm_context_default_params(void) {
    elm_context_params p = {
        .n_ctx = 0, .n_batch = 512, .n_threads = 0, .kv_type = ELM_KV_F16, .all_logits = false, .use_blas = false,
    };
    return p;
}

/* Record a failure in the context (and return it). */
static elm_status fail(elm_context *ctx, elm_status st) {
    elmi_error_copy(ctx->last_error);
    return st;
}

void elm_context_free(elm_context *ctx) {
    if (!ctx) return;
    elmi_pool_free(ctx->pool);
    elmi_metrics_free(ctx->metrics);
    elmi_fwd_scratch_free(&ctx->scratch);
    elmi_kv_free(&ctx->kv);
    free(ctx);
}

elm_status elm_context_create(elm_model *model, const elm_context_params *params, elm_context **out) {
    if (!model || !out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_context_create: model and out must not be NULL");
    elm_context_params p = params ? *params : elm_context_default_params();
    const elmi_hparams *hp = &model->hp;
    elm_status st = ELM_OK;
    if (p.n_ctx < 0 || p.n_batch < 0 || p.n_threads < 0 || p.n_threads > MAX_THREADS)
        st = elmi_error(ELM_ERR_INVALID_ARG, "elm_context_create: n_ctx (%d), n_batch (%d) and n_threads (%d) must "
                        "not be negative (n_threads at most %d)", p.n_ctx, p.n_batch, p.n_threads, MAX_THREADS);
    if (!st && p.kv_type != ELM_KV_F16 && p.kv_type != ELM_KV_F32 && p.kv_type != ELM_KV_Q8_0)
        st = elmi_error(ELM_ERR_INVALID_ARG, "elm_context_create: kv_type %d is not F16, F32 or Q8_0", (int)p.kv_type);
    if (st) {
        elmi_model_keep_error(model);
        return st;
    }
    if (p.n_ctx == 0) p.n_ctx = hp->n_ctx_train;
    if (p.n_batch == 0) p.n_batch = elm_context_default_params().n_batch;
    if (p.n_batch > p.n_ctx) p.n_batch = p.n_ctx;
    if (p.n_threads == 0) {
        const long n = sysconf(_SC_NPROCESSORS_ONLN);
        p.n_threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int32_t)n;
    }

    elm_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        st = elmi_error(ELM_ERR_NOMEM, "out of memory for a context");
        elmi_model_keep_error(model);
        return st;
    }
    ctx->model = model;
    ctx->params = p;
    if ((st = elmi_kv_init(&ctx->kv, p.kv_type, hp->n_layer, p.n_ctx, hp->n_head_kv, hp->head_dim_k,
                           hp->head_dim_v)) ||
        (st = elmi_fwd_scratch_init(&ctx->scratch, model, p.kv_type, p.n_ctx, p.n_batch, p.n_threads, p.all_logits))) {
        elm_context_free(ctx);
        elmi_model_keep_error(model);
        return st;
    }
    ctx->pool = elmi_pool_create(p.n_threads);
    if (!ctx->pool) {
        elm_context_free(ctx);
        elmi_model_keep_error(model);
        return ELM_ERR_NOMEM;
    }
    ctx->metrics = elmi_metrics_create();
    if (!ctx->metrics) {
        elm_context_free(ctx);
        st = elmi_error(ELM_ERR_NOMEM, "out of memory for a context's metrics");
        elmi_model_keep_error(model);
        return st;
    }
    *out = ctx;
    return ELM_OK;
}

const char *elm_context_last_error(const elm_context *ctx) { return ctx ? ctx->last_error : ""; }
const elm_model *elm_context_model(const elm_context *ctx) { return ctx ? ctx->model : NULL; }

elm_status elm_decode(elm_context *ctx, const elm_token *tokens, int32_t n) {
    if (!ctx) return elmi_error(ELM_ERR_INVALID_ARG, "elm_decode: context is NULL");
    if (!tokens || n < 1)
        return fail(ctx, elmi_error(ELM_ERR_INVALID_ARG, "elm_decode: need at least one token (got %d%s)", n,
                                    tokens ? "" : ", tokens NULL"));
    const int32_t n_vocab = ctx->model->hp.n_vocab;
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return fail(ctx, elmi_error(ELM_ERR_INVALID_ARG, "elm_decode: token %d has id %d, outside the "
                                        "vocabulary [0, %d)", i, tokens[i], n_vocab));
    const int32_t pos = ctx->kv.n_used;
    if (n > ctx->kv.n_ctx - pos)
        return fail(ctx, elmi_error(ELM_ERR_CONTEXT_FULL, "context full: %d tokens in the cache + %d new exceed "
                                    "n_ctx %d; truncate or clear the context", pos, n, ctx->kv.n_ctx));

    /* the batch loop: each chunk of at most n_batch tokens is one forward pass */
    elmi_metrics_decode_begin(ctx->metrics, n);
    const int32_t nb = ctx->params.n_batch;
    int32_t start = 0;
    for (; start + nb < n; start += nb)
        elmi_forward(ctx->model, &ctx->kv, &ctx->scratch, ctx->pool, tokens + start, nb, ctx->params.all_logits,
                     ctx->params.use_blas);
    elmi_forward(ctx->model, &ctx->kv, &ctx->scratch, ctx->pool, tokens + start, n - start, ctx->params.all_logits,
                 ctx->params.use_blas);
    ctx->last_n = n;
    ctx->last_chunk = start;
    elmi_metrics_decode_end(ctx->metrics, n, ELM_OK);
    return ELM_OK;
}

const float *elm_get_logits(const elm_context *ctx) {
    if (!ctx || ctx->last_n == 0) return NULL;
    const int32_t row = ctx->params.all_logits ? ctx->last_n - 1 - ctx->last_chunk : 0;
    return ctx->scratch.logits + (size_t)row * (size_t)ctx->model->hp.n_vocab;
}

const float *elm_get_logits_ith(const elm_context *ctx, int32_t i) {
    if (!ctx || !ctx->params.all_logits || i < ctx->last_chunk || i >= ctx->last_n) return NULL;
    return ctx->scratch.logits + (size_t)(i - ctx->last_chunk) * (size_t)ctx->model->hp.n_vocab;
}

int32_t elm_context_position(const elm_context *ctx) { return ctx ? ctx->kv.n_used : 0; }
int32_t elm_context_n_ctx(const elm_context *ctx) { return ctx ? ctx->kv.n_ctx : 0; }

elm_status elm_context_truncate(elm_context *ctx, int32_t pos) {
    if (!ctx) return elmi_error(ELM_ERR_INVALID_ARG, "elm_context_truncate: context is NULL");
    if (pos < 0 || pos > ctx->kv.n_used)
        return fail(ctx, elmi_error(ELM_ERR_INVALID_ARG, "elm_context_truncate: position %d is outside [0, %d]", pos,
                                    ctx->kv.n_used));
    ctx->kv.n_used = pos;
    return ELM_OK;
}

void elm_context_clear(elm_context *ctx) {
    if (ctx) ctx->kv.n_used = 0;
}

elm_status elm_context_get_memory(const elm_context *ctx, elm_context_memory *out) {
    if (!ctx || !out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_context_get_memory: context and out must not be NULL");
    out->kv_bytes = ctx->kv.bytes;
    out->scratch_bytes = ctx->scratch.bytes;
    out->total_bytes = ctx->kv.bytes + ctx->scratch.bytes + sizeof *ctx + elmi_metrics_bytes();
    return ELM_OK;
}

elmi_metrics *elmi_context_metrics(const elm_context *ctx) { return ctx ? ctx->metrics : NULL; }
