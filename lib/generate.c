/* generate.c: the generation loop: evaluate a prompt, then sample, stream and decode one
 * token at a time until an end-of-generation token, a stop string, the token limit, a
 * cancellation or a full context. Text is delivered in whole UTF-8 characters, and text
 * that could be the start of a stop string is held back until it is known not to be.
 * Must not: allocate per token (buffers are sized before the loop and grow only in the
 * rare case a piece is longer than any seen), or print.
 */
#include "generate.h"

#include "clock.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

elm_generate_params elm_generate_default_params(void) {
    elm_generate_params p = {
        .max_tokens = 256,
        .stop_strings = NULL,
        .n_stop_strings = 0,
        .add_special = true,
        .parse_special = true,
        .render_special = false,
        .on_piece = NULL,
        .should_stop = NULL,
        .user = NULL,
    };
    return p;
}

const char *elm_finish_reason_name(elm_finish_reason r) {
    switch (r) {
    case ELM_FINISH_NONE: return "none";
    case ELM_FINISH_STOP_TOKEN: return "stop_token";
    case ELM_FINISH_STOP_STRING: return "stop_string";
    case ELM_FINISH_LENGTH: return "length";
    case ELM_FINISH_CANCELLED: return "cancelled";
    case ELM_FINISH_CONTEXT_FULL: return "context_full";
    }
    return "unknown";
}

elm_status elmi_tokenize_alloc(const elm_tokenizer *tok, const char *text, size_t len, uint32_t flags,
                               elm_token **buf, int32_t *cap, int32_t *n_out) {
    int32_t need = 0;
    elm_status st = elm_tokenize(tok, text, len, flags, *buf, *cap, &need);
    if (st == ELM_OK) {
        *n_out = need;
        return ELM_OK;
    }
    if (st != ELM_ERR_INVALID_ARG || need <= *cap) return st;
    elm_token *grown = realloc(*buf, (size_t)need * sizeof *grown);
    if (!grown) return elmi_error(ELM_ERR_NOMEM, "out of memory for %d prompt tokens", need);
    *buf = grown;
    *cap = need;
    st = elm_tokenize(tok, text, len, flags, *buf, *cap, &need);
    if (st == ELM_OK) *n_out = need;
    return st;
}

/* ==== Delivering text ====================================================================== */

typedef struct gen_state {
    const elm_generate_params *p;
    elm_generate_result *res;
    elmi_gen_record *rec;
    size_t stop_len[ELM_MAX_STOP_STRINGS];
    char *hold;                  /* text not yet delivered (a possible stop-string start) */
    size_t hold_len, hold_cap;
    char *piece;                 /* one token's text from the streaming detokenizer */
    size_t piece_cap;
} gen_state;

static bool reserve(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 256;
    while (n < need) n *= 2;
    char *b = realloc(*buf, n);
    if (!b) return false;
    *buf = b;
    *cap = n;
    return true;
}

/* Hand text to the caller; false when the caller asks to stop. */
static bool deliver(gen_state *g, const char *t, size_t n) {
    if (n == 0) return true;
    g->res->n_text_bytes += n;
    elmi_gen_record *r = g->rec;
    if (r && !r->text_failed) {
        if (reserve(&r->text, &r->text_cap, r->text_len + n + 1)) {
            memcpy(r->text + r->text_len, t, n);
            r->text_len += n;
            r->text[r->text_len] = '\0';
        } else {
            r->text_failed = true;
        }
    }
    return g->p->on_piece ? g->p->on_piece(t, n, g->p->user) : true;
}

enum feed_result { FEED_GO = 0, FEED_CANCEL = 1, FEED_STOP_STRING = 2, FEED_NOMEM = 3 };

/* Pass new text through the stop-string filter. With final set, everything that is not a
 * stop string is delivered. */
static enum feed_result feed(gen_state *g, const char *t, size_t n, bool final) {
    const elm_generate_params *p = g->p;
    if (p->n_stop_strings == 0) return deliver(g, t, n) ? FEED_GO : FEED_CANCEL;
    if (!reserve(&g->hold, &g->hold_cap, g->hold_len + n)) return FEED_NOMEM;
    if (n) memcpy(g->hold + g->hold_len, t, n);
    g->hold_len += n;

    /* A match can only start in held text: anything delivered had no suffix that begins a
     * stop string. */
    size_t first = SIZE_MAX;
    for (int32_t i = 0; i < p->n_stop_strings; i++) {
        const char *m = memmem(g->hold, g->hold_len, p->stop_strings[i], g->stop_len[i]);
        if (m && (size_t)(m - g->hold) < first) first = (size_t)(m - g->hold);
    }
    if (first != SIZE_MAX) {
        deliver(g, g->hold, first);   /* the answer ends here whatever the callback says */
        g->hold_len = 0;
        return FEED_STOP_STRING;
    }

    size_t keep = 0;
    if (!final) {
        for (int32_t i = 0; i < p->n_stop_strings; i++) {
            size_t k = g->stop_len[i] - 1 < g->hold_len ? g->stop_len[i] - 1 : g->hold_len;
            for (; k > keep; k--)
                if (memcmp(g->hold + g->hold_len - k, p->stop_strings[i], k) == 0) break;
            if (k > keep) keep = k;
        }
    }
    const size_t out = g->hold_len - keep;
    bool go = deliver(g, g->hold, out);
    memmove(g->hold, g->hold + out, keep);
    g->hold_len = keep;
    return go ? FEED_GO : FEED_CANCEL;
}

/* The text of one token from the streaming detokenizer, growing the buffer when a piece is
 * longer than any before. */
static elm_status piece_of(gen_state *g, elm_detok_stream *ds, elm_token t, size_t *n) {
    elm_status st = elm_detok_stream_push(ds, t, g->piece, g->piece_cap, n);
    if (st == ELM_ERR_INVALID_ARG && *n > g->piece_cap) {
        if (!reserve(&g->piece, &g->piece_cap, *n)) return elmi_error(ELM_ERR_NOMEM, "out of memory for a token's text");
        st = elm_detok_stream_push(ds, t, g->piece, g->piece_cap, n);
    }
    return st;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double percentile(const double *v, size_t n, double q) {
    size_t rank = (size_t)(q * (double)n + 0.999999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return v[rank - 1];
}

/* ==== The loop ============================================================================= */

static bool record_token(elmi_gen_record *r, elm_token t) {
    if (!r) return true;
    if (r->n_tokens >= r->cap_tokens) return false;
    r->tokens[r->n_tokens++] = t;
    return true;
}

elm_status elmi_generate_run(elm_context *ctx, elm_sampler *smp, const elm_token *tokens, int32_t n,
                             const elm_generate_params *params, elm_generate_result *result, uint64_t t0_ns,
                             elmi_gen_record *record) {
    const elm_generate_params p = params ? *params : elm_generate_default_params();
    elm_generate_result res_local;
    elm_generate_result *res = result ? result : &res_local;
    const double tokenize_seconds = res->tokenize_seconds;
    const int32_t n_cached = res->n_cached_tokens;
    memset(res, 0, sizeof *res);
    res->last_token = -1;
    res->tokenize_seconds = tokenize_seconds;
    res->n_cached_tokens = n_cached;

    if (!ctx || !smp || (n > 0 && !tokens) || n < 0)
        return elmi_error(ELM_ERR_INVALID_ARG, "generate: NULL context, sampler or tokens");
    const elm_model *model = elm_context_model(ctx);
    const elm_tokenizer *tok = elm_model_tokenizer(model);
    if (!tok) return elmi_error(ELM_ERR_INVALID_ARG, "generate: the model has no tokenizer");

    gen_state g = {.p = &p, .res = res, .rec = record};
    if (p.n_stop_strings < 0 || p.n_stop_strings > ELM_MAX_STOP_STRINGS || (p.n_stop_strings > 0 && !p.stop_strings))
        return elmi_error(ELM_ERR_INVALID_ARG, "generate: %d stop strings (at most %d)", p.n_stop_strings,
                          ELM_MAX_STOP_STRINGS);
    size_t max_stop = 0;
    for (int32_t i = 0; i < p.n_stop_strings; i++) {
        const char *s = p.stop_strings[i];
        size_t len = s ? strlen(s) : 0;
        if (len == 0 || len > ELM_MAX_STOP_STRING_BYTES)
            return elmi_error(ELM_ERR_INVALID_ARG, "generate: stop string %d is %s (1 to %d bytes)", i,
                              s ? (len ? "too long" : "empty") : "NULL", ELM_MAX_STOP_STRING_BYTES);
        g.stop_len[i] = len;
        if (len > max_stop) max_stop = len;
    }

    const int32_t n_ctx = elm_context_n_ctx(ctx);
    const int32_t pos0 = elm_context_position(ctx);
    if (n > 0 && (int64_t)pos0 + n > n_ctx)
        return elmi_error(ELM_ERR_CONTEXT_FULL, "the prompt needs %d tokens but the context has room for %d (of %d)",
                          n, n_ctx - pos0, n_ctx);
    if (n == 0 && !elm_get_logits(ctx))
        return elmi_error(ELM_ERR_INVALID_ARG, "generate: no tokens to evaluate and no logits to continue from");

    /* Everything the loop needs, allocated once. */
    int64_t lat_cap = p.max_tokens > 0 ? p.max_tokens : (int64_t)n_ctx - pos0 - n + 1;
    if (lat_cap < 1) lat_cap = 1;
    double *lat = malloc((size_t)lat_cap * sizeof *lat);
    g.piece_cap = 256;
    g.piece = malloc(g.piece_cap);
    g.hold_cap = 2 * max_stop + 512;
    g.hold = p.n_stop_strings ? malloc(g.hold_cap) : NULL;
    if (!lat || !g.piece || (p.n_stop_strings && !g.hold)) {
        free(lat);
        free(g.piece);
        free(g.hold);
        return elmi_error(ELM_ERR_NOMEM, "generate: out of memory");
    }

    elm_status st = ELM_OK;
    elm_finish_reason finish = ELM_FINISH_NONE;
    int32_t n_lat = 0;
    double sample_s = 0.0, gen_s = 0.0;

    /* ---- the prompt ---- */
    if (p.should_stop && p.should_stop(p.user)) {
        finish = ELM_FINISH_CANCELLED;
        goto done;
    }
    if (n > 0) {
        const uint64_t t = elmi_now_ns();
        st = elm_decode(ctx, tokens, n);
        res->prompt_seconds = elmi_seconds_since(t);
        if (st != ELM_OK) goto done;
        res->n_prompt_tokens = n;
        for (int32_t i = 0; i < n; i++) {
            elm_sampler_accept(smp, tokens[i]);
            record_token(record, tokens[i]);
        }
    }

    /* ---- the answer ---- */
    elm_detok_stream ds;
    elm_detok_stream_init(&ds, tok, p.render_special);
    /* The answer continues the prompt: its first piece keeps its leading space (the stream
     * would otherwise strip it as if it began a text), as llama.cpp prints it. */
    ds.at_start = false;
    uint64_t t_prev = 0;   /* when the previous token's text had been delivered */
    for (;;) {
        if (p.should_stop && p.should_stop(p.user)) {
            finish = ELM_FINISH_CANCELLED;
            break;
        }
        const uint64_t t_s = elmi_now_ns();
        elm_token t;
        st = elm_sampler_sample(smp, elm_get_logits(ctx), &t);
        const uint64_t t_e = elmi_now_ns();
        if (st != ELM_OK) goto done;
        sample_s += (double)(t_e - t_s) * 1e-9;
        res->n_generated++;
        res->last_token = t;
        if (res->n_generated == 1) {
            res->ttft_seconds = (double)(t_e - t0_ns) * 1e-9;
            elm_context_metrics_mark(ctx, ELM_EVENT_FIRST_TOKEN);
        } else {
            const double d = (double)(t_e - t_prev) * 1e-9;
            if (n_lat < lat_cap) lat[n_lat++] = d;
            gen_s += d;
        }

        if (elm_token_is_eog(tok, t)) {
            finish = ELM_FINISH_STOP_TOKEN;
            break;
        }
        size_t len = 0;
        st = piece_of(&g, &ds, t, &len);
        if (st != ELM_OK) goto done;
        const enum feed_result fr = feed(&g, g.piece, len, false);
        if (fr == FEED_NOMEM) {
            st = elmi_error(ELM_ERR_NOMEM, "generate: out of memory holding back text");
            goto done;
        }
        if (fr == FEED_STOP_STRING) {
            finish = ELM_FINISH_STOP_STRING;
            break;
        }
        if (fr == FEED_CANCEL) {
            finish = ELM_FINISH_CANCELLED;
            break;
        }
        if (p.max_tokens > 0 && res->n_generated >= p.max_tokens) {
            finish = ELM_FINISH_LENGTH;
            break;
        }
        t_prev = elmi_now_ns();   /* the caller's time in on_piece is not the model's */
        if (elm_context_position(ctx) >= n_ctx) {
            finish = ELM_FINISH_CONTEXT_FULL;
            break;
        }
        st = elm_decode(ctx, &t, 1);
        if (st == ELM_ERR_CONTEXT_FULL) {
            st = ELM_OK;
            finish = ELM_FINISH_CONTEXT_FULL;
            break;
        }
        if (st != ELM_OK) goto done;
        record_token(record, t);
    }

    /* Text still held back is delivered unless the caller stopped us. */
    if (finish != ELM_FINISH_CANCELLED && finish != ELM_FINISH_STOP_STRING) {
        size_t len = 0;
        if (elm_detok_stream_flush(&ds, g.piece, g.piece_cap, &len) != ELM_OK || len > g.piece_cap) len = 0;
        if (feed(&g, g.piece, len, true) == FEED_STOP_STRING) finish = ELM_FINISH_STOP_STRING;
    }

done:
    res->finish = st == ELM_OK ? finish : ELM_FINISH_NONE;
    res->sample_seconds = sample_s;
    res->gen_seconds = gen_s;
    res->total_seconds = elmi_seconds_since(t0_ns);
    if (res->n_prompt_tokens > 0 && res->prompt_seconds > 0)
        res->prompt_tokens_per_second = res->n_prompt_tokens / res->prompt_seconds;
    if (n_lat > 0) {
        if (gen_s > 0) res->gen_tokens_per_second = n_lat / gen_s;
        res->token_seconds_mean = gen_s / n_lat;
        qsort(lat, (size_t)n_lat, sizeof *lat, cmp_double);
        res->token_seconds_p50 = percentile(lat, (size_t)n_lat, 0.50);
        res->token_seconds_p90 = percentile(lat, (size_t)n_lat, 0.90);
        res->token_seconds_max = lat[n_lat - 1];
    }
    if (res->n_generated > 0) elm_context_metrics_add(ctx, ELM_STAGE_SAMPLE, sample_s, res->n_generated);
    free(lat);
    free(g.piece);
    free(g.hold);
    return st;
}

/* ==== Public entry points ================================================================== */

elm_status elm_generate_tokens(elm_context *ctx, elm_sampler *smp, const elm_token *tokens, int32_t n,
                               const elm_generate_params *params, elm_generate_result *result) {
    if (!ctx) return elmi_error(ELM_ERR_INVALID_ARG, "elm_generate_tokens: NULL context");
    const uint64_t t0 = elmi_now_ns();
    elm_context_metrics_mark(ctx, ELM_EVENT_REQUEST_BEGIN);
    elm_generate_result r = {0};
    elm_status st = elmi_generate_run(ctx, smp, tokens, n, params, &r, t0, NULL);
    if (st == ELM_OK && result) *result = r;
    return st;
}

elm_status elm_generate(elm_context *ctx, elm_sampler *smp, const char *prompt, const elm_generate_params *params,
                        elm_generate_result *result) {
    if (!ctx || !smp || !prompt) return elmi_error(ELM_ERR_INVALID_ARG, "elm_generate: NULL context, sampler or prompt");
    const elm_generate_params p = params ? *params : elm_generate_default_params();
    const elm_tokenizer *tok = elm_model_tokenizer(elm_context_model(ctx));
    if (!tok) return elmi_error(ELM_ERR_INVALID_ARG, "elm_generate: the model has no tokenizer");

    const uint64_t t0 = elmi_now_ns();
    elm_context_metrics_mark(ctx, ELM_EVENT_REQUEST_BEGIN);
    const uint32_t flags = (p.add_special ? ELM_TOKENIZE_ADD_SPECIAL : 0u) | (p.parse_special ? ELM_TOKENIZE_PARSE_SPECIAL : 0u);
    elm_token *toks = NULL;
    int32_t cap = 0, n = 0;
    elm_status st = elmi_tokenize_alloc(tok, prompt, strlen(prompt), flags, &toks, &cap, &n);
    if (st != ELM_OK) {
        free(toks);
        return st;
    }
    if (n == 0) {
        free(toks);
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_generate: the prompt is empty and the vocab adds no BOS");
    }
    const double tok_s = elmi_seconds_since(t0);
    elm_context_metrics_add(ctx, ELM_STAGE_TOKENIZE, tok_s, n);
    elm_context_clear(ctx);
    elm_generate_result r = {0};
    r.tokenize_seconds = tok_s;
    st = elmi_generate_run(ctx, smp, toks, n, &p, &r, t0, NULL);
    free(toks);
    if (st == ELM_OK && result) *result = r;
    return st;
}
