/* perplexity.c: perplexity by llama.cpp's method (llama-perplexity), for
 * edgelm-perplexity and edgelm-bench's quality column.
 *
 * The text's tokens are cut into consecutive chunks of n_ctx. Each chunk is evaluated from
 * an empty cache, its first token replaced by BOS when the vocab adds BOS; the logits at
 * positions n_ctx/2 .. n_ctx-2 are scored against the token that follows each one. The
 * log-softmax is computed as llama.cpp does: maximum in float, sum of expf in double.
 * Must not: allocate per chunk (one token buffer for the whole run), or change the
 * caller's tokens.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "edgelm.h"
#include "error.h"

ELM_API elm_perplexity_params elm_perplexity_default_params(void) {
    elm_perplexity_params p;
    memset(&p, 0, sizeof p);
    return p;
}

/* -log p(tok | logits), as llama.cpp's log_softmax. */
static double nll_of(const float *logits, int32_t n_vocab, elm_token tok) {
    float max = logits[0];
    for (int32_t i = 1; i < n_vocab; i++) max = logits[i] > max ? logits[i] : max;
    double sum = 0.0;
    for (int32_t i = 0; i < n_vocab; i++) sum += expf(logits[i] - max);
    return -((double)(logits[tok] - max) - log(sum));
}

ELM_API elm_status elm_perplexity(elm_context *ctx, const elm_token *tokens, int64_t n_tokens,
                                  const elm_perplexity_params *params, elm_perplexity_result *out) {
    if (!ctx || !tokens || !params || !out)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_perplexity: context, tokens, params and out must not be NULL");
    const int32_t n_ctx = params->n_ctx;
    if (n_ctx < 4 || n_ctx > elm_context_n_ctx(ctx))
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_perplexity: n_ctx %d must be at least 4 and at most the context's %d",
                          n_ctx, elm_context_n_ctx(ctx));
    if (n_tokens < 2 * (int64_t)n_ctx)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_perplexity: %lld tokens are too few: a context of %d needs at least %d",
                          (long long)n_tokens, n_ctx, 2 * n_ctx);
    const int32_t n_batch = params->n_batch > 0 && params->n_batch < n_ctx ? params->n_batch : n_ctx;
    const elm_model *model = elm_context_model(ctx);
    const elm_tokenizer *tok = model ? elm_model_tokenizer(model) : NULL;
    if (!tok) return elmi_error(ELM_ERR_INVALID_ARG, "elm_perplexity: the model has no tokenizer (BOS is needed)");
    const bool add_bos = elm_tokenizer_adds_bos(tok);
    const elm_token bos = elm_token_bos(tok);
    if (add_bos && bos < 0) return elmi_error(ELM_ERR_FORMAT, "elm_perplexity: the vocab adds BOS but has no BOS token");
    if (elm_tokenizer_adds_eos(tok))
        return elmi_error(ELM_ERR_UNSUPPORTED, "elm_perplexity: vocabs that add EOS are not supported (as in llama.cpp)");
    const int32_t n_vocab = elm_vocab_size(tok);
    for (int64_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return elmi_error(ELM_ERR_INVALID_ARG, "elm_perplexity: token %lld has id %d, outside the vocabulary [0, %d)",
                              (long long)i, tokens[i], n_vocab);

    int64_t n_chunks = n_tokens / n_ctx;
    if (params->max_chunks > 0 && params->max_chunks < n_chunks) n_chunks = params->max_chunks;
    const int32_t first = n_ctx / 2;
    elm_token *buf = malloc((size_t)n_batch * sizeof *buf);
    if (!buf) return elmi_error(ELM_ERR_NOMEM, "elm_perplexity: out of memory");

    const uint64_t t0 = elmi_now_ns();
    double nll = 0, nll2 = 0;
    int64_t count = 0;
    elm_status st = ELM_OK;
    for (int64_t c = 0; c < n_chunks && st == ELM_OK; c++) {
        const int64_t start = c * n_ctx;
        elm_context_clear(ctx);
        for (int32_t b = 0; b < n_ctx && st == ELM_OK; b += n_batch) {
            const int32_t n = n_ctx - b < n_batch ? n_ctx - b : n_batch;
            memcpy(buf, tokens + start + b, (size_t)n * sizeof *buf);
            if (b == 0 && add_bos) buf[0] = bos;
            if ((st = elm_decode(ctx, buf, n)) != ELM_OK) break;
            for (int32_t k = 0; k < n; k++) {
                const int32_t pos = b + k;
                if (pos < first || pos >= n_ctx - 1) continue;
                const float *logits = elm_get_logits_ith(ctx, k);
                if (!logits) {
                    st = elmi_error(ELM_ERR_INVALID_ARG, "elm_perplexity: no logits for every token: create the context "
                                    "with all_logits and an n_batch of at least %d", n_batch);
                    break;
                }
                const double v = nll_of(logits, n_vocab, tokens[start + pos + 1]);
                nll += v;
                nll2 += v * v;
                count++;
            }
        }
        if (st == ELM_OK && params->progress &&
            !params->progress(params->progress_user, (int32_t)(c + 1), (int32_t)n_chunks, exp(nll / (double)count)))
            st = elmi_error(ELM_ERR_CANCELLED, "elm_perplexity: stopped by the progress callback after chunk %lld",
                            (long long)(c + 1));
    }
    free(buf);
    if (st != ELM_OK) return st;

    elm_perplexity_result r;
    memset(&r, 0, sizeof r);
    const double mean = nll / (double)count;
    r.mean_nll = mean;
    r.ppl = exp(mean);
    const double var = nll2 / (double)count - mean * mean;
    r.ppl_stderr = var > 0 && count > 1 ? sqrt(var / (double)(count - 1)) * r.ppl : 0;
    r.chunks = (int32_t)n_chunks;
    r.scored_tokens = count;
    r.seconds = elmi_seconds_since(t0);
    *out = r;
    return ELM_OK;
}
