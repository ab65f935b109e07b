/* chat_session.c: a multi-turn conversation kept in one context (elm_chat).
 *
 * Each turn renders the whole conversation, tokenizes it, and compares the tokens with what
 * the KV cache holds: the cache is cut back to the common prefix and only the rest is
 * evaluated. The session remembers exactly which tokens the cache holds (prompt tokens and
 * the generated tokens that were decoded), so the comparison is exact even when the text of
 * an answer tokenizes differently from the way it was generated.
 * Must not: render templates itself (chat_template.c does) or sample (generate.c does).
 */
#include "generate.h"

#include "clock.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

struct elm_chat {
    elm_context *ctx;
    elm_chat_format fmt;
    elm_chat_context_policy policy;
    int32_t reserve_tokens;      /* as given (0: a quarter of n_ctx) */
    bool has_system;             /* msgs[0] is the system prompt */

    elm_chat_message *msgs;      /* role and content strings are owned (malloc'd) */
    size_t n_msgs, cap_msgs;

    elm_token *cache;            /* the tokens the context's KV cache holds, n_ctx capacity */
    int32_t n_cache;

    elm_token *toks;             /* the rendered conversation, tokenized */
    int32_t cap_toks;
    char *text;                  /* the rendered conversation */
    size_t cap_text;
    elm_chat_message *view_msgs; /* the messages one render uses (system + kept turns) */
    size_t cap_view;

    char errmsg[ELMI_ERRMSG_BYTES];
};

static elm_status fail(elm_chat *c, elm_status st) {
    if (c) elmi_error_copy(c->errmsg);
    return st;
}

elm_chat_params elm_chat_default_params(void) {
    elm_chat_params p = {
        .template_name = NULL,
        .system_prompt = NULL,
        .context_policy = ELM_CHAT_CONTEXT_DROP_OLDEST,
        .reserve_tokens = 0,
    };
    return p;
}

const char *elm_chat_last_error(const elm_chat *c) { return c ? c->errmsg : ""; }
elm_chat_format elm_chat_get_format(const elm_chat *c) { return c ? c->fmt : ELM_CHAT_UNKNOWN; }
size_t elm_chat_n_messages(const elm_chat *c) { return c ? c->n_msgs : 0; }
elm_context *elm_chat_context(const elm_chat *c) { return c ? c->ctx : NULL; }

const elm_chat_message *elm_chat_message_at(const elm_chat *c, size_t i) {
    return c && i < c->n_msgs ? &c->msgs[i] : NULL;
}

/* ==== Messages ============================================================================= */

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static elm_status push_message(elm_chat *c, const char *role, const char *content, size_t content_len) {
    if (c->n_msgs == c->cap_msgs) {
        size_t cap = c->cap_msgs ? 2 * c->cap_msgs : 16;
        elm_chat_message *m = realloc(c->msgs, cap * sizeof *m);
        if (!m) return elmi_error(ELM_ERR_NOMEM, "chat: out of memory for messages");
        c->msgs = m;
        c->cap_msgs = cap;
    }
    char *r = dup_n(role, strlen(role)), *t = dup_n(content, content_len);
    if (!r || !t) {
        free(r);
        free(t);
        return elmi_error(ELM_ERR_NOMEM, "chat: out of memory for a message of %zu bytes", content_len);
    }
    c->msgs[c->n_msgs].role = r;
    c->msgs[c->n_msgs].content = t;
    c->n_msgs++;
    return ELM_OK;
}

static void free_message(elm_chat_message *m) {
    free((char *)m->role);
    free((char *)m->content);
}

static void pop_message(elm_chat *c) {
    if (c->n_msgs > 0) free_message(&c->msgs[--c->n_msgs]);
}

/* Remove messages [from, to). */
static void erase_messages(elm_chat *c, size_t from, size_t to) {
    if (to <= from) return;
    for (size_t i = from; i < to; i++) free_message(&c->msgs[i]);
    memmove(&c->msgs[from], &c->msgs[to], (c->n_msgs - to) * sizeof *c->msgs);
    c->n_msgs -= to - from;
}

/* ==== Creation ============================================================================= */

elm_status elm_chat_create(elm_context *ctx, const elm_chat_params *params, elm_chat **out) {
    if (!ctx || !out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_chat_create: NULL context or out");
    const elm_chat_params p = params ? *params : elm_chat_default_params();
    if (p.context_policy != ELM_CHAT_CONTEXT_ERROR && p.context_policy != ELM_CHAT_CONTEXT_DROP_OLDEST)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_chat_create: unknown context policy %d", (int)p.context_policy);
    const int32_t n_ctx = elm_context_n_ctx(ctx);
    if (p.reserve_tokens < 0 || p.reserve_tokens >= n_ctx)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_chat_create: reserve_tokens %d must be in [0, n_ctx = %d)",
                          p.reserve_tokens, n_ctx);
    const elm_model *model = elm_context_model(ctx);
    if (!elm_model_tokenizer(model)) return elmi_error(ELM_ERR_INVALID_ARG, "elm_chat_create: the model has no tokenizer");

    elm_chat_format fmt = ELM_CHAT_UNKNOWN;
    elm_status st = p.template_name ? elm_chat_format_from_name(p.template_name, &fmt)
                                    : elm_chat_format_of_gguf(elm_model_gguf(model), &fmt);
    if (st != ELM_OK) return st;

    elm_chat *c = calloc(1, sizeof *c);
    if (!c) return elmi_error(ELM_ERR_NOMEM, "chat: out of memory");
    c->ctx = ctx;
    c->fmt = fmt;
    c->policy = p.context_policy;
    c->reserve_tokens = p.reserve_tokens;
    c->cache = malloc((size_t)n_ctx * sizeof *c->cache);
    if (!c->cache) {
        free(c);
        return elmi_error(ELM_ERR_NOMEM, "chat: out of memory for %d tokens", n_ctx);
    }
    if (p.system_prompt && p.system_prompt[0]) {
        st = push_message(c, "system", p.system_prompt, strlen(p.system_prompt));
        if (st != ELM_OK) {
            elm_chat_free(c);
            return st;
        }
        c->has_system = true;
    }
    elm_context_clear(ctx);
    *out = c;
    return ELM_OK;
}

void elm_chat_free(elm_chat *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n_msgs; i++) free_message(&c->msgs[i]);
    free(c->msgs);
    free(c->cache);
    free(c->toks);
    free(c->text);
    free(c->view_msgs);
    free(c);
}

void elm_chat_reset(elm_chat *c) {
    if (!c) return;
    erase_messages(c, c->has_system ? 1 : 0, c->n_msgs);
    elm_context_clear(c->ctx);
    c->n_cache = 0;
}

elm_status elm_chat_add_message(elm_chat *c, const char *role, const char *content) {
    if (!c || !role || !content || !role[0])
        return fail(c, elmi_error(ELM_ERR_INVALID_ARG, "elm_chat_add_message: NULL chat, role or content"));
    elm_status st = push_message(c, role, content, strlen(content));
    return st == ELM_OK ? ELM_OK : fail(c, st);
}

/* ==== One turn ============================================================================= */

/* Render the system prompt (if any) and messages [first, n_msgs) with the generation
 * prompt, and tokenize the result into c->toks. */
static elm_status render_and_tokenize(elm_chat *c, size_t first, int32_t *n_tokens) {
    const size_t n_sys = c->has_system ? 1 : 0;
    const size_t n_view = n_sys + (c->n_msgs - first);
    if (n_view > c->cap_view) {
        elm_chat_message *v = realloc(c->view_msgs, n_view * sizeof *v);
        if (!v) return elmi_error(ELM_ERR_NOMEM, "chat: out of memory");
        c->view_msgs = v;
        c->cap_view = n_view;
    }
    if (n_sys) c->view_msgs[0] = c->msgs[0];
    memcpy(c->view_msgs + n_sys, c->msgs + first, (c->n_msgs - first) * sizeof *c->msgs);

    size_t need = 0;
    elm_status st = elm_chat_render(c->fmt, c->view_msgs, n_view, true, c->text, c->cap_text, &need);
    if (st != ELM_OK) return st;
    if (need >= c->cap_text) {
        char *t = realloc(c->text, need + 1);
        if (!t) return elmi_error(ELM_ERR_NOMEM, "chat: out of memory for a prompt of %zu bytes", need);
        c->text = t;
        c->cap_text = need + 1;
        st = elm_chat_render(c->fmt, c->view_msgs, n_view, true, c->text, c->cap_text, &need);
        if (st != ELM_OK) return st;
    }
    const elm_tokenizer *tok = elm_model_tokenizer(elm_context_model(c->ctx));
    return elmi_tokenize_alloc(tok, c->text, need, ELM_TOKENIZE_ADD_SPECIAL | ELM_TOKENIZE_PARSE_SPECIAL, &c->toks,
                               &c->cap_toks, n_tokens);
}

/* The first message of the turn after the one starting at i (a turn is a user message and
 * what follows it up to the next user message); n_msgs when there is none. */
static size_t next_turn(const elm_chat *c, size_t i) {
    for (size_t k = i + 1; k < c->n_msgs; k++)
        if (strcmp(c->msgs[k].role, "user") == 0) return k;
    return c->n_msgs;
}

elm_status elm_chat_send(elm_chat *c, const char *user_text, elm_sampler *smp, const elm_generate_params *params,
                         elm_generate_result *result) {
    if (!c || !user_text || !smp)
        return fail(c, elmi_error(ELM_ERR_INVALID_ARG, "elm_chat_send: NULL chat, text or sampler"));
    const uint64_t t0 = elmi_now_ns();
    elm_context *ctx = c->ctx;
    elm_context_metrics_mark(ctx, ELM_EVENT_REQUEST_BEGIN);
    const int32_t n_ctx = elm_context_n_ctx(ctx);

    elm_status st = push_message(c, "user", user_text, strlen(user_text));
    if (st != ELM_OK) return fail(c, st);
    const size_t user_at = c->n_msgs - 1;

    /* Find which turns fit. Dropped turns are only removed once the answer is under way. */
    const size_t keep_from = c->has_system ? 1 : 0;
    size_t first = keep_from;
    int32_t n_tok = 0;
    const int32_t reserve = c->policy == ELM_CHAT_CONTEXT_DROP_OLDEST ? (c->reserve_tokens ? c->reserve_tokens : n_ctx / 4) : 0;
    for (;;) {
        st = render_and_tokenize(c, first, &n_tok);
        if (st != ELM_OK) {
            pop_message(c);
            return fail(c, st);
        }
        if (n_tok == 0) {
            pop_message(c);
            return fail(c, elmi_error(ELM_ERR_INVALID_ARG, "chat: the rendered prompt is empty"));
        }
        if ((int64_t)n_tok + reserve <= n_ctx) break;
        if (c->policy == ELM_CHAT_CONTEXT_DROP_OLDEST && first < user_at) {
            first = next_turn(c, first);
            if (first > user_at) first = user_at;
            continue;
        }
        if (n_tok <= n_ctx) break;   /* fits, with less room for the answer than asked */
        pop_message(c);
        return fail(c, elmi_error(ELM_ERR_CONTEXT_FULL,
                                  "chat: the conversation needs %d tokens but the context holds %d%s", n_tok, n_ctx,
                                  c->policy == ELM_CHAT_CONTEXT_DROP_OLDEST ? " even with every older turn dropped" : ""));
    }

    /* Reuse the longest prefix the cache already holds (at least one token is evaluated:
     * its logits start the answer). */
    if (elm_context_position(ctx) != c->n_cache) {
        elm_context_clear(ctx);   /* someone else decoded on our context: start over */
        c->n_cache = 0;
    }
    int32_t common = 0;
    while (common < c->n_cache && common < n_tok && c->cache[common] == c->toks[common]) common++;
    if (common == n_tok) common = n_tok - 1;
    if (common < c->n_cache) {
        st = elm_context_truncate(ctx, common);
        if (st != ELM_OK) {
            elm_context_clear(ctx);
            common = 0;
        }
        c->n_cache = common;
    }
    const double tokenize_s = elmi_seconds_since(t0);
    elm_context_metrics_add(ctx, ELM_STAGE_TOKENIZE, tokenize_s, n_tok);

    elmi_gen_record rec = {.tokens = c->cache, .n_tokens = c->n_cache, .cap_tokens = n_ctx};
    elm_generate_result r = {0};
    r.tokenize_seconds = tokenize_s;
    r.n_cached_tokens = common;
    st = elmi_generate_run(ctx, smp, c->toks + common, n_tok - common, params, &r, t0, &rec);
    c->n_cache = rec.n_tokens;
    if (st != ELM_OK) {
        free(rec.text);
        pop_message(c);
        return fail(c, st);
    }

    /* Commit: drop the turns that did not fit, keep the answer. */
    erase_messages(c, keep_from, first);
    st = push_message(c, "assistant", rec.text ? rec.text : "", rec.text_len);
    free(rec.text);
    if (st == ELM_OK && rec.text_failed) st = elmi_error(ELM_ERR_NOMEM, "chat: out of memory keeping the answer");
    if (st != ELM_OK) return fail(c, st);
    if (result) *result = r;
    return ELM_OK;
}
