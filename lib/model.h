/* model.h: a loaded model's hyperparameters and weight views (internal).
 *
 * model.c fills these from a GGUF file through its architecture table; forward.c reads
 * them. Every pointer points into the mapped file, or into a copy the model owns (a
 * repacked matrix, a norm vector converted to float). After elm_model_load the whole
 * struct is read-only, so any number of contexts may share it from any threads.
 * Must not: hold per-conversation state (that is the context's), know about SIMD.
 */
#ifndef ELM_MODEL_INTERNAL_H
#define ELM_MODEL_INTERNAL_H

#include <pthread.h>

#include "edgelm.h"
#include "error.h"

/* How RoPE pairs the dimensions of a head it rotates. */
typedef enum elmi_rope_pairing {
    ELMI_ROPE_ADJACENT = 0,      /* (x[2i], x[2i+1]): llama ("normal") */
    ELMI_ROPE_HALVES = 1         /* (x[i], x[i + n_rot/2]): GPT-NeoX style, qwen2 */
} elmi_rope_pairing;

/* What differs between the architectures we run (one row of model.c's table). */
typedef struct elmi_arch {
    const char *name;            /* general.architecture, also the metadata key prefix */
    elmi_rope_pairing rope;
    bool qkv_bias;               /* attn_{q,k,v}.bias required (true) or optional (false) */
} elmi_arch;

typedef struct elmi_hparams {
    int32_t n_vocab;             /* tokens (rows of token_embd) */
    int32_t n_ctx_train;         /* tokens */
    int32_t n_embd;              /* model width */
    int32_t n_layer;
    int32_t n_head;              /* query heads */
    int32_t n_head_kv;           /* key/value heads (n_head is a multiple of it) */
    int32_t head_dim_k;          /* elements per query/key head */
    int32_t head_dim_v;          /* elements per value head */
    int32_t n_ff;                /* feed-forward width */
    int32_t n_rot;               /* leading dimensions of each head RoPE rotates (even) */
    float rms_eps;
    float rope_base;             /* rope.freq_base */
    float rope_freq_scale;       /* 1 / linear scaling factor */
    elmi_rope_pairing rope_pairing;
} elmi_hparams;

/* One weight matrix W of n_out rows by n_in columns: y = W x. */
typedef struct elmi_matrix {
    const char *name;            /* tensor name (owned by the gguf handle) */
    uint32_t type;               /* elm_type id */
    const void *data;            /* n_out rows of row_bytes */
    size_t row_bytes;
    int64_t n_out, n_in;
    const void *packed;          /* elmk_repack layout owned by the model, or NULL */
} elmi_matrix;

typedef struct elmi_layer {
    const float *attn_norm;                  /* n_embd */
    elmi_matrix wq, wk, wv, wo;
    const float *bq, *bk, *bv;               /* NULL when the file has none */
    const float *ffn_norm;                   /* n_embd */
    elmi_matrix ffn_gate, ffn_up, ffn_down;
} elmi_layer;

struct elm_model {
    elm_gguf *gguf;
    const elmi_arch *arch;
    elmi_hparams hp;

    elmi_matrix tok_embd;        /* rows are looked up (dequantized), not multiplied */
    const float *output_norm;    /* n_embd */
    elmi_matrix output;          /* output.weight, or token_embd.weight when tied */
    const float *rope_freqs;     /* n_rot/2 frequency divisors (Llama 3), or NULL */
    elmi_layer *layers;          /* n_layer */

    elm_tokenizer *tokenizer;    /* NULL when the file has no tokenizer metadata */

    void **owned;                /* copies made at load (freed with the model) */
    int n_owned, cap_owned;

    elm_model_info info;
    char name[256];              /* general.name, NUL-terminated (truncated) */

    pthread_mutex_t error_lock;  /* guards last_error: contexts in many threads write it */
    char last_error[ELMI_ERRMSG_BYTES];
};

/* Copy the calling thread's last error message into the model's (thread-safe). */
void elmi_model_keep_error(elm_model *m);

#endif
