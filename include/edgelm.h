/* edgelm.h: the public API of edgelm, a C11 library that runs GGUF language models on
 * edge CPUs and reports what each answer cost in time, memory and energy.
 *
 * This is the only header a user includes. It pulls in one header per area:
 *   edgelm_gguf.h       the GGUF file format: read, validate, write
 *   edgelm_model.h      models, contexts (KV cache, threads), the forward pass
 *   edgelm_tokenizer.h  text <-> token ids
 *   edgelm_sampler.h    choosing the next token
 *   edgelm_generate.h   chat templates and the generation loop
 *   edgelm_metrics.h    timers, memory accounting, energy sources
 *
 * Conventions (they hold for every function in every edgelm header):
 *   - Handles are opaque pointers made by the open, load and create functions and freed by the
 *     matching close or free function; passing NULL to a free function does nothing.
 *   - Every call that can fail returns an elm_status. ELM_OK is 0. On failure, outputs are
 *     left untouched and the handle (if any) is left as it was before the call.
 *   - A human sentence for the last failure on the calling thread is in elm_last_error();
 *     handles also keep their own (elm_model_last_error(), ...).
 *   - Parameters come in structs; get defaults from the matching *_default_params()
 *     function, change what you need, and pass a pointer (or NULL for all defaults).
 *   - Units are in names or comments: bytes, tokens, seconds, joules, watts.
 *   - The library never prints unless you install a log callback (elm_set_log_callback).
 */
#ifndef EDGELM_H
#define EDGELM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ==== Export and versions ================================================================ */

#if defined(__GNUC__)
#define ELM_API __attribute__((visibility("default")))
#else
#define ELM_API
#endif

#define ELM_VERSION_MAJOR 0
#define ELM_VERSION_MINOR 1
#define ELM_VERSION_PATCH 0
#define ELM_VERSION_STRING "0.1.0"
/* MAJOR*1000000 + MINOR*1000 + PATCH: compare with elm_version_number() to detect a
 * header/library mismatch at run time. */
#define ELM_VERSION_NUMBER (ELM_VERSION_MAJOR * 1000000 + ELM_VERSION_MINOR * 1000 + ELM_VERSION_PATCH)

ELM_API const char *elm_version(void);     /* "0.1.0" of the library actually linked */
ELM_API int elm_version_number(void);      /* ELM_VERSION_NUMBER of the library linked */

/* ==== Status codes ======================================================================= */

typedef enum elm_status {
    ELM_OK = 0,
    ELM_ERR_INVALID_ARG = 1,   /* a NULL handle, an out-of-range parameter, a bad flag */
    ELM_ERR_IO = 2,            /* open/read/mmap failed (errno text in the message) */
    ELM_ERR_FORMAT = 3,        /* the file is malformed, truncated or hostile */
    ELM_ERR_UNSUPPORTED = 4,   /* well-formed but not something we run (arch, type, version) */
    ELM_ERR_NOMEM = 5,         /* an allocation failed or would exceed a sane limit */
    ELM_ERR_NOT_FOUND = 6,     /* no such key, tensor, token or template */
    ELM_ERR_TYPE = 7,          /* a metadata value has another type than asked for */
    ELM_ERR_CONTEXT_FULL = 8,  /* the KV cache has no room: the cache is left intact */
    ELM_ERR_INVALID_TEXT = 9,  /* text is not valid UTF-8 where UTF-8 is required */
    ELM_ERR_CANCELLED = 10,    /* a callback asked to stop */
    ELM_ERR_INTERNAL = 11      /* a bug in edgelm: please report it */
} elm_status;

/* "ELM_OK", "ELM_ERR_FORMAT", ... and a short explanation; never NULL. */
ELM_API const char *elm_status_name(elm_status s);
ELM_API const char *elm_status_string(elm_status s);

/* The message of the last failed call on this thread, e.g.
 * "stories260K.gguf: tensor 'blk.3.ffn_up.weight' data at offset 1190000 runs past the end
 * of the file (1185376 bytes)". "" when no call has failed yet. Valid until the next
 * failing edgelm call on this thread. */
ELM_API const char *elm_last_error(void);

/* ==== Logging ============================================================================ */

typedef enum elm_log_level { ELM_LOG_ERROR = 0, ELM_LOG_WARN = 1, ELM_LOG_INFO = 2, ELM_LOG_DEBUG = 3 } elm_log_level;
typedef void (*elm_log_fn)(elm_log_level level, const char *message, void *user);
/* Install a process-wide log callback (NULL: silent, the default). Notes that are not
 * errors (e.g. "tensor X falls back to Q8_0") go here. */
ELM_API void elm_set_log_callback(elm_log_fn fn, void *user);

/* ==== Tensor types ======================================================================= */

/* GGML tensor type ids as stored in GGUF files. Every id ggml has assigned is named so
 * that errors can say which type a file uses even when we cannot compute with it. */
typedef enum elm_type {
    ELM_TYPE_F32 = 0, ELM_TYPE_F16 = 1, ELM_TYPE_Q4_0 = 2, ELM_TYPE_Q4_1 = 3,
    /* 4 and 5 were Q4_2 and Q4_3, removed from ggml */
    ELM_TYPE_Q5_0 = 6, ELM_TYPE_Q5_1 = 7, ELM_TYPE_Q8_0 = 8, ELM_TYPE_Q8_1 = 9,
    ELM_TYPE_Q2_K = 10, ELM_TYPE_Q3_K = 11, ELM_TYPE_Q4_K = 12, ELM_TYPE_Q5_K = 13,
    ELM_TYPE_Q6_K = 14, ELM_TYPE_Q8_K = 15,
    ELM_TYPE_IQ2_XXS = 16, ELM_TYPE_IQ2_XS = 17, ELM_TYPE_IQ3_XXS = 18, ELM_TYPE_IQ1_S = 19,
    ELM_TYPE_IQ4_NL = 20, ELM_TYPE_IQ3_S = 21, ELM_TYPE_IQ2_S = 22, ELM_TYPE_IQ4_XS = 23,
    ELM_TYPE_I8 = 24, ELM_TYPE_I16 = 25, ELM_TYPE_I32 = 26, ELM_TYPE_I64 = 27,
    ELM_TYPE_F64 = 28, ELM_TYPE_IQ1_M = 29, ELM_TYPE_BF16 = 30,
    /* 31..33: Q4_0_4_4, Q4_0_4_8, Q4_0_8_8 (removed from ggml; rejected by name) */
    ELM_TYPE_TQ1_0 = 34, ELM_TYPE_TQ2_0 = 35,
    /* 36..38: IQ4_NL_4_4, IQ4_NL_4_8, IQ4_NL_8_8 (removed; rejected by name) */
    ELM_TYPE_MXFP4 = 39,
    ELM_TYPE_COUNT = 40
} elm_type;

typedef struct elm_type_info {
    const char *name;        /* upper-case GGML name: "Q4_K", "F16", ... */
    uint32_t block_size;     /* elements per block (1 for plain types) */
    uint32_t block_bytes;    /* bytes per block */
    bool can_compute;        /* true when edgelm has kernels for this type as weights */
} elm_type_info;

/* Traits of a type id; NULL for an id ggml never assigned (e.g. 4, 5, 1000). */
ELM_API const elm_type_info *elm_type_get_info(uint32_t type);
/* Bytes of one row of n elements; 0 when n is not a multiple of the block size or the
 * type is unknown. */
ELM_API size_t elm_type_row_bytes(uint32_t type, int64_t n);

#ifdef __cplusplus
}
#endif

#include "edgelm_gguf.h"
#include "edgelm_model.h"
#include "edgelm_tokenizer.h"
#include "edgelm_sampler.h"
#include "edgelm_generate.h"
#include "edgelm_metrics.h"

#endif /* EDGELM_H */
