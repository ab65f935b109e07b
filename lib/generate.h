/* generate.h: the generation loop shared by elm_generate and chat sessions (internal).
 *
 * elmi_generate_run evaluates some tokens at the context's position, then samples, streams
 * and decodes until a stop. A chat session passes a record to learn which tokens ended up
 * in the KV cache and which text was delivered, so the next turn can reuse the cache.
 * Must not: know about templates or messages.
 */
#ifndef ELM_GENERATE_INTERNAL_H
#define ELM_GENERATE_INTERNAL_H

#include "edgelm.h"

typedef struct elmi_gen_record {
    elm_token *tokens;       /* the tokens in the KV cache: evaluated tokens are appended */
    int32_t n_tokens;
    int32_t cap_tokens;      /* the context's n_ctx */
    char *text;              /* the text delivered to on_piece (malloc'd, grows; NUL-terminated) */
    size_t text_len;
    size_t text_cap;
    bool text_failed;        /* an allocation failed: text is incomplete */
} elmi_gen_record;

/* t0_ns: when the request began (elmi_now_ns), for TTFT and total_seconds; the result's
 * tokenize_seconds, n_cached_tokens are left to the caller. record may be NULL. */
elm_status elmi_generate_run(elm_context *ctx, elm_sampler *smp, const elm_token *tokens, int32_t n,
                             const elm_generate_params *params, elm_generate_result *result, uint64_t t0_ns,
                             elmi_gen_record *record);

/* Tokenize text with flags into *buf (grown with realloc as needed; *cap in tokens). */
elm_status elmi_tokenize_alloc(const elm_tokenizer *tok, const char *text, size_t len, uint32_t flags,
                               elm_token **buf, int32_t *cap, int32_t *n_out);

#endif
