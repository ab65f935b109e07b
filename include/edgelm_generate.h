/* edgelm_generate.h: chat templates, the generation loop and multi-turn chat sessions.
 * Part of <edgelm.h>; include that.
 *
 * Three layers, each usable alone:
 *   chat templates   messages {role, content} -> the prompt text a model was trained on
 *   elm_generate     prompt -> streamed text, with stop tokens, stop strings, a token limit,
 *                    cancellation and timings
 *   elm_chat         a conversation kept in one context: each new turn evaluates only the
 *                    tokens the KV cache does not already hold
 *
 * The smallest complete program (examples/minimal.c is this, with error checks):
 *
 *     elm_model *m;    elm_model_load("model.gguf", NULL, &m);
 *     elm_context *c;  elm_context_create(m, NULL, &c);
 *     elm_sampler *s;  elm_sampler_create(elm_vocab_size(elm_model_tokenizer(m)), NULL, &s);
 *     elm_generate_params gp = elm_generate_default_params();
 *     gp.on_piece = print_piece;              // bool print_piece(const char *t, size_t n, void *u)
 *     elm_generate(c, s, "Once upon a time", &gp, NULL);
 */
#ifndef EDGELM_GENERATE_H
#define EDGELM_GENERATE_H

#include "edgelm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== Chat templates ======================================================================
 *
 * edgelm does not run Jinja. Like llama.cpp's built-in templates, it recognises the common
 * template families by markers in the GGUF's tokenizer.chat_template text and renders them
 * with code. When the model's template is not recognised, detection fails with a clear
 * error and the caller chooses a format by name: edgelm never guesses.
 *
 * Rendered text contains no BOS: tokenize it with ELM_TOKENIZE_ADD_SPECIAL (the vocab adds
 * BOS when it should) and ELM_TOKENIZE_PARSE_SPECIAL (so "<|im_start|>" becomes its token).
 * Roles are "system", "user" and "assistant"; templates that name roles in the text (ChatML,
 * Llama 3, Phi-3, ...) pass other role names through unchanged.
 */

typedef enum elm_chat_format {
    ELM_CHAT_UNKNOWN = 0,
    ELM_CHAT_RAW,               /* "raw": no template; the contents concatenated (plain
                                   completion: for base models such as stories260K) */
    ELM_CHAT_CHATML,            /* "chatml": <|im_start|>role\n...<|im_end|>\n (Qwen, Hermes, SmolLM) */
    ELM_CHAT_LLAMA2,            /* "llama2": [INST] ... [/INST], system as plain text */
    ELM_CHAT_LLAMA2_SYS,        /* "llama2-sys": with <<SYS>>\n...\n<</SYS>>\n\n */
    ELM_CHAT_LLAMA2_SYS_BOS,    /* "llama2-sys-bos": <s> before each later [INST] */
    ELM_CHAT_LLAMA2_SYS_STRIP,  /* "llama2-sys-strip": contents trimmed */
    ELM_CHAT_MISTRAL_V1,        /* "mistral-v1": " [INST] ... [/INST]" */
    ELM_CHAT_MISTRAL_V3,        /* "mistral-v3": "[INST] ...[/INST]", answers trimmed */
    ELM_CHAT_MISTRAL_V3_TEKKEN, /* "mistral-v3-tekken": "[INST]...[/INST]" */
    ELM_CHAT_MISTRAL_V7,        /* "mistral-v7": [SYSTEM_PROMPT] ... [/SYSTEM_PROMPT] */
    ELM_CHAT_MISTRAL_V7_TEKKEN, /* "mistral-v7-tekken" */
    ELM_CHAT_PHI3,              /* "phi3": <|role|>\n...<|end|>\n */
    ELM_CHAT_PHI4,              /* "phi4": <|im_start|>role<|im_sep|>...<|im_end|> */
    ELM_CHAT_FALCON3,           /* "falcon3": <|role|>\n...\n */
    ELM_CHAT_ZEPHYR,            /* "zephyr": <|role|>\n...<|endoftext|>\n */
    ELM_CHAT_TINYLLAMA,         /* "tinyllama": <|role|>\n...</s>\n (TinyLlama-Chat, Zephyr-7B-beta) */
    ELM_CHAT_MONARCH,           /* "monarch": role\n...</s>\n with <s> between turns */
    ELM_CHAT_GEMMA,             /* "gemma": <start_of_turn>user/model, system merged into user */
    ELM_CHAT_ORION,             /* "orion": Human: ...\n\nAssistant: </s> */
    ELM_CHAT_OPENCHAT,          /* "openchat": GPT4 Correct User: ...<|end_of_turn|> */
    ELM_CHAT_VICUNA,            /* "vicuna": USER: ...\nASSISTANT: ...</s>\n */
    ELM_CHAT_VICUNA_ORCA,       /* "vicuna-orca": as vicuna with SYSTEM: */
    ELM_CHAT_DEEPSEEK,          /* "deepseek": ### Instruction:\n / ### Response:\n (Coder) */
    ELM_CHAT_DEEPSEEK2,         /* "deepseek2": User: / Assistant: (DeepSeek-V2) */
    ELM_CHAT_DEEPSEEK3,         /* "deepseek3": <｜User｜> / <｜Assistant｜> (V3, R1 distills) */
    ELM_CHAT_COMMAND_R,         /* "command-r": <|START_OF_TURN_TOKEN|><|USER_TOKEN|>... */
    ELM_CHAT_LLAMA3,            /* "llama3": <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    ELM_CHAT_CHATGLM3,          /* "chatglm3": [gMASK]sop<|role|>\n ... */
    ELM_CHAT_CHATGLM4,          /* "chatglm4": [gMASK]<sop><|role|>\n... */
    ELM_CHAT_GLMEDGE,           /* "glmedge": <|role|>\n... */
    ELM_CHAT_MINICPM,           /* "minicpm": <用户>...<AI> */
    ELM_CHAT_EXAONE3,           /* "exaone3": [|role|]...[|endofturn|] */
    ELM_CHAT_GRANITE,           /* "granite": <|start_of_role|>role<|end_of_role|>...<|end_of_text|> */
    ELM_CHAT_MEGREZ,            /* "megrez": <|role_start|>role<|role_end|>...<|turn_end|> */
    ELM_CHAT_LLAMA4,            /* "llama4": <|header_start|>role<|header_end|>\n\n...<|eot|> */
    ELM_CHAT_SMOLVLM,           /* "smolvlm": User: ...<end_of_utterance>\n */
    ELM_CHAT_FORMAT_COUNT
} elm_chat_format;

typedef struct elm_chat_message {
    const char *role;           /* "system", "user", "assistant" (NUL-terminated UTF-8) */
    const char *content;        /* NUL-terminated UTF-8 */
} elm_chat_message;

/* "chatml", "llama3", ... (the names above; "unknown" for ELM_CHAT_UNKNOWN and ids out of
 * range). */
ELM_API const char *elm_chat_format_name(elm_chat_format f);
/* The format of a name as above. ELM_ERR_NOT_FOUND (the message lists the known names). */
ELM_API elm_status elm_chat_format_from_name(const char *name, elm_chat_format *out);
/* Recognise a Jinja chat template (len bytes; need not be NUL-terminated) by its markers,
 * in llama.cpp's order. A template text that is exactly a format name gives that format.
 * ELM_ERR_UNSUPPORTED when the template is not one edgelm renders (the message says so and
 * names the family when it recognised one that it does not implement). */
ELM_API elm_status elm_chat_format_detect(const char *tmpl, size_t len, elm_chat_format *out);
/* The format of a GGUF's tokenizer.chat_template: ELM_ERR_NOT_FOUND when the file has no
 * template (a base model: use ELM_CHAT_RAW), else as elm_chat_format_detect. */
ELM_API elm_status elm_chat_format_of_gguf(const elm_gguf *g, elm_chat_format *out);

/* Render n messages, then (add_generation_prompt) the text that opens the assistant's
 * answer. Writes at most cap bytes to buf, NUL-terminated when there is room, and sets
 * *n_out to the bytes the whole text needs (without the NUL): call with cap 0 to size a
 * buffer. ELM_ERR_INVALID_ARG for a NULL role or content or an unknown format. Templates
 * without a generation prompt (Llama 2, Mistral: the answer follows [/INST]) ignore it. */
ELM_API elm_status elm_chat_render(elm_chat_format fmt, const elm_chat_message *msgs, size_t n,
                                   bool add_generation_prompt, char *buf, size_t cap, size_t *n_out);

/* ==== Generation ========================================================================== */

typedef enum elm_finish_reason {
    ELM_FINISH_NONE = 0,         /* not finished (only before a call completes) */
    ELM_FINISH_STOP_TOKEN = 1,   /* the model produced an end-of-generation token (EOS, EOT) */
    ELM_FINISH_STOP_STRING = 2,  /* a caller's stop string appeared; it is not emitted */
    ELM_FINISH_LENGTH = 3,       /* max_tokens were generated */
    ELM_FINISH_CANCELLED = 4,    /* on_piece returned false, or should_stop returned true */
    ELM_FINISH_CONTEXT_FULL = 5  /* the KV cache filled up during the answer */
} elm_finish_reason;

/* "none", "stop_token", "stop_string", "length", "cancelled", "context_full". */
ELM_API const char *elm_finish_reason_name(elm_finish_reason r);

/* Receives the answer as it is produced: len bytes of text (not NUL-terminated), always
 * whole UTF-8 characters, never part of a stop string. Return false to stop generating. */
typedef bool (*elm_piece_fn)(const char *text, size_t len, void *user);
/* Polled before the prompt is evaluated and before each token; return true to stop (for a
 * flag set by a signal handler: the answer ends with ELM_FINISH_CANCELLED). */
typedef bool (*elm_should_stop_fn)(void *user);

/* Most stop strings, and their longest length (bytes). */
#define ELM_MAX_STOP_STRINGS 16
#define ELM_MAX_STOP_STRING_BYTES 256

typedef struct elm_generate_params {
    int32_t max_tokens;          /* most tokens to sample; <= 0: until a stop or the context
                                    is full. Default 256 */
    const char *const *stop_strings; /* n_stop_strings NUL-terminated strings, read during
                                    the call only. Default none */
    int32_t n_stop_strings;
    bool add_special;            /* elm_generate: add BOS as the vocab says (default true) */
    bool parse_special;          /* elm_generate: special-token text in the prompt becomes
                                    those tokens (default true) */
    bool render_special;         /* emit the text of control tokens that do not end the
                                    answer (default false) */
    elm_piece_fn on_piece;       /* NULL: the text is not delivered (timings only) */
    elm_should_stop_fn should_stop; /* NULL: never */
    void *user;                  /* passed to on_piece and should_stop */
} elm_generate_params;

/* What one call did and how long it took. Seconds are wall time on the monotonic clock.
 * The same figures also reach the context's metrics (edgelm_metrics.h). */
typedef struct elm_generate_result {
    elm_finish_reason finish;
    int32_t n_prompt_tokens;     /* prompt tokens evaluated by this call */
    int32_t n_cached_tokens;     /* prompt tokens already in the KV cache and reused
                                    (elm_chat_send; 0 for elm_generate) */
    int32_t n_generated;         /* tokens sampled, the end-of-generation token included */
    elm_token last_token;        /* the last token sampled, or -1. It is NOT in the KV cache
                                    (nothing needed it there): to continue an answer cut by
                                    max_tokens, pass it to elm_generate_tokens */
    size_t n_text_bytes;         /* bytes delivered to on_piece */
    double tokenize_seconds;     /* rendering the template and tokenizing the prompt */
    double prompt_seconds;       /* evaluating the prompt (elm_decode) */
    double ttft_seconds;         /* call start to the first sampled token */
    double gen_seconds;          /* the decode and sample steps of tokens 2..n_generated
                                    (the time spent in on_piece is not counted) */
    double sample_seconds;       /* of which sampling */
    double total_seconds;        /* the whole call */
    double prompt_tokens_per_second; /* n_prompt_tokens / prompt_seconds (0 if no tokens) */
    double gen_tokens_per_second;    /* (n_generated - 1) / gen_seconds (0 if < 2 tokens) */
    /* Latency of tokens 2..n_generated (each: one decode and one sample; nearest-rank
     * percentiles); 0 when fewer than 2 tokens. */
    double token_seconds_mean;
    double token_seconds_p50;
    double token_seconds_p90;
    double token_seconds_max;
} elm_generate_result;

ELM_API elm_generate_params elm_generate_default_params(void);

/* Clear the context, tokenize prompt, evaluate it, and sample until a stop. params and
 * result may be NULL. The sampler's history receives the prompt tokens and every sampled
 * token. Errors: ELM_ERR_CONTEXT_FULL when the prompt alone does not fit (nothing is
 * generated), ELM_ERR_INVALID_ARG for an empty prompt that adds no BOS, a too-long or
 * too-many stop strings; errors of elm_decode and elm_tokenize pass through. Running out of
 * room while answering, cancellation and stop strings are not errors: see result->finish. */
ELM_API elm_status elm_generate(elm_context *ctx, elm_sampler *smp, const char *prompt,
                                const elm_generate_params *params, elm_generate_result *result);

/* The same, continuing at the context's current position: evaluate n tokens, then sample.
 * Nothing is cleared and no BOS is added. n may be 0: sampling then starts from the logits
 * of the last elm_decode. To continue an answer that stopped at max_tokens, pass its
 * result's last_token (1 token). */
ELM_API elm_status elm_generate_tokens(elm_context *ctx, elm_sampler *smp, const elm_token *tokens, int32_t n,
                                       const elm_generate_params *params, elm_generate_result *result);

/* ==== Chat sessions =======================================================================
 *
 * An elm_chat keeps a conversation (the system prompt and every turn) and the tokens its
 * context holds. elm_chat_send appends the user's message, renders the whole conversation
 * with the template and the generation prompt, tokenizes it, and compares it with what the
 * KV cache holds: the cache is truncated to the common prefix and only the rest is
 * evaluated, so a long conversation costs only its new tokens. The answer is then
 * generated, streamed, and appended as the assistant's message (the text delivered to
 * on_piece: without stop strings, partial when cancelled).
 *
 * When the rendered conversation does not fit, the policy decides:
 *   ELM_CHAT_CONTEXT_ERROR        elm_chat_send fails with ELM_ERR_CONTEXT_FULL and the
 *                                 session is left as it was (the message is not added)
 *   ELM_CHAT_CONTEXT_DROP_OLDEST  whole turns are dropped, oldest first, after the system
 *                                 prompt, until the prompt leaves reserve_tokens free; the
 *                                 changed prefix is then evaluated again. When even the
 *                                 system prompt and the new message do not fit, it fails as
 *                                 above.
 * An answer that fills the context while it is produced ends with ELM_FINISH_CONTEXT_FULL
 * (not an error); the policy then applies at the next turn.
 */

typedef struct elm_chat elm_chat;

typedef enum elm_chat_context_policy {
    ELM_CHAT_CONTEXT_ERROR = 0,
    ELM_CHAT_CONTEXT_DROP_OLDEST = 1
} elm_chat_context_policy;

typedef struct elm_chat_params {
    const char *template_name;   /* a format name, or NULL (default) to detect it from the
                                    model's tokenizer.chat_template: then a model without a
                                    template fails with ELM_ERR_NOT_FOUND and one with an
                                    unknown template with ELM_ERR_UNSUPPORTED. "raw" runs a
                                    base model as plain completion. */
    const char *system_prompt;   /* NULL or "": none. Copied */
    elm_chat_context_policy context_policy; /* default ELM_CHAT_CONTEXT_DROP_OLDEST */
    int32_t reserve_tokens;      /* DROP_OLDEST: tokens kept free for the answer; 0 (default)
                                    = a quarter of n_ctx */
} elm_chat_params;

ELM_API elm_chat_params elm_chat_default_params(void);

/* A session on a context (which it clears, and then owns until elm_chat_free: do not decode
 * on it meanwhile; if you do, the session notices and evaluates everything again). */
ELM_API elm_status elm_chat_create(elm_context *ctx, const elm_chat_params *params, elm_chat **out);
ELM_API void elm_chat_free(elm_chat *chat);
ELM_API const char *elm_chat_last_error(const elm_chat *chat);

/* Send the user's message and generate the answer (see above). params and result may be
 * NULL; params->add_special and parse_special are ignored (the rendered prompt always
 * parses special tokens). On an error before generation starts, the session is unchanged. */
ELM_API elm_status elm_chat_send(elm_chat *chat, const char *user_text, elm_sampler *smp,
                                 const elm_generate_params *params, elm_generate_result *result);

/* Append a message without generating (to restore a saved conversation, or to put words in
 * the assistant's mouth). Evaluated at the next elm_chat_send. */
ELM_API elm_status elm_chat_add_message(elm_chat *chat, const char *role, const char *content);

/* Forget every turn (the system prompt stays) and clear the context. */
ELM_API void elm_chat_reset(elm_chat *chat);

ELM_API elm_chat_format elm_chat_get_format(const elm_chat *chat);
ELM_API size_t elm_chat_n_messages(const elm_chat *chat);   /* system prompt included */
/* Message i (0 <= i < n_messages), valid until the session changes; NULL out of range. */
ELM_API const elm_chat_message *elm_chat_message_at(const elm_chat *chat, size_t i);
ELM_API elm_context *elm_chat_context(const elm_chat *chat);

#ifdef __cplusplus
}
#endif
#endif /* EDGELM_GENERATE_H */
