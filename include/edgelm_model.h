/* edgelm_model.h: models and contexts. Part of <edgelm.h>; include that.
 *
 * An elm_model is the weights and hyperparameters of one GGUF file. It is read-only after
 * load and may be shared by any number of contexts in any number of threads.
 * An elm_context is one conversation's state: its KV cache, scratch buffers sized once at
 * creation, its position, its thread pool and its metrics. A context is used by one thread
 * at a time.
 */
#ifndef EDGELM_MODEL_H
#define EDGELM_MODEL_H

#include "edgelm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct elm_model elm_model;
typedef struct elm_context elm_context;
typedef int32_t elm_token;

/* ==== Models ============================================================================= */

typedef struct elm_model_params {
    bool use_mmap;           /* map weights read-only (default true); false copies into RAM */
    bool prefault;           /* fault all weight pages in at load (default false) */
    bool mlock;              /* lock weights in RAM (default false) */
    bool repack;             /* build SIMD-friendly weight layouts at load when it speeds
                                up the kernels (default true; the copy is counted in memory) */
} elm_model_params;

ELM_API elm_model_params elm_model_default_params(void);

/* Load a model. Architectures: "llama" and "qwen2". Errors name the missing or
 * inconsistent key/tensor, or the unsupported architecture and the supported ones. */
ELM_API elm_status elm_model_load(const char *path, const elm_model_params *params, elm_model **out);
ELM_API void elm_model_free(elm_model *m);
/* The message of the last failure that involved this model (thread-safe copy kept). */
ELM_API const char *elm_model_last_error(const elm_model *m);

typedef struct elm_model_info {
    const char *arch;        /* "llama", "qwen2" */
    const char *name;        /* general.name or "" */
    int32_t n_vocab;         /* tokens */
    int32_t n_ctx_train;     /* tokens: <arch>.context_length */
    int32_t n_embd;          /* model width */
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim_k;      /* key length per head */
    int32_t head_dim_v;      /* value length per head */
    int32_t n_ff;            /* feed-forward width */
    float rms_eps;
    float rope_freq_base;
    float rope_freq_scale;   /* 1/linear scaling factor */
    uint64_t n_params;       /* weights, elements */
    uint64_t weight_bytes;   /* bytes of all tensors in the file */
    uint64_t repacked_bytes; /* bytes of weight copies made at load (0 when none) */
    uint64_t file_bytes;
    const char *type_name;   /* most common weight type, e.g. "Q4_K" (for reports) */
    double load_seconds;     /* wall time elm_model_load took */
} elm_model_info;

ELM_API elm_status elm_model_get_info(const elm_model *m, elm_model_info *out);
/* The underlying GGUF file (metadata access: chat template, tokenizer, ...). */
ELM_API const elm_gguf *elm_model_gguf(const elm_model *m);

/* ==== Contexts =========================================================================== */

typedef enum elm_kv_type {
    ELM_KV_F16 = 0,          /* default */
    ELM_KV_F32 = 1,
    ELM_KV_Q8_0 = 2
} elm_kv_type;

typedef struct elm_context_params {
    int32_t n_ctx;           /* tokens of KV cache; 0 = the model's context_length */
    int32_t n_batch;         /* most tokens per elm_decode call (default 512) */
    int32_t n_threads;       /* 0 = number of online CPUs (default) */
    elm_kv_type kv_type;     /* default ELM_KV_F16 */
    bool all_logits;         /* keep logits of every token of a batch (default false:
                                only the last token's) */
    bool use_blas;           /* allow OpenBLAS for long batches of float (F32/F16/BF16)
                                weights when built with it (default false: sgemm sums in
                                another order than llama.cpp, so prompt logits then differ
                                from llama.cpp's and from token-at-a-time decoding by ~1e-4) */
} elm_context_params;

ELM_API elm_context_params elm_context_default_params(void);

ELM_API elm_status elm_context_create(elm_model *model, const elm_context_params *params, elm_context **out);
ELM_API void elm_context_free(elm_context *ctx);
ELM_API const char *elm_context_last_error(const elm_context *ctx);
ELM_API const elm_model *elm_context_model(const elm_context *ctx);

/* Evaluate n tokens at the current position (a prompt batch, or 1 token when generating).
 * n may exceed n_batch: the tokens are then evaluated in n_batch chunks.
 * ELM_ERR_CONTEXT_FULL when position + n > n_ctx: nothing is evaluated and the cache and
 * position are unchanged. Token ids are checked against n_vocab. */
ELM_API elm_status elm_decode(elm_context *ctx, const elm_token *tokens, int32_t n);

/* Logits (n_vocab floats) of the last token of the last elm_decode; NULL before any.
 * Valid until the next elm_decode. */
ELM_API const float *elm_get_logits(const elm_context *ctx);
/* Logits of token i (0-based) of the last elm_decode call when all_logits is set; NULL
 * otherwise. A call longer than n_batch keeps only its last chunk's rows: i must then be
 * at least n - 1 - ((n - 1) % n_batch). Valid until the next elm_decode. */
ELM_API const float *elm_get_logits_ith(const elm_context *ctx, int32_t i);

ELM_API int32_t elm_context_position(const elm_context *ctx);   /* tokens in the cache */
ELM_API int32_t elm_context_n_ctx(const elm_context *ctx);      /* capacity, tokens */
/* Forget everything from position pos on (0 clears); pos > position is an error. */
ELM_API elm_status elm_context_truncate(elm_context *ctx, int32_t pos);
ELM_API void elm_context_clear(elm_context *ctx);

typedef struct elm_context_memory {
    uint64_t kv_bytes;       /* KV cache, allocated at creation */
    uint64_t scratch_bytes;  /* activations, logits and quantized-activation buffers */
    uint64_t total_bytes;    /* kv + scratch + bookkeeping */
} elm_context_memory;

ELM_API elm_status elm_context_get_memory(const elm_context *ctx, elm_context_memory *out);

#ifdef __cplusplus
}
#endif
#endif /* EDGELM_MODEL_H */
