/* edgelm_gguf.h: the GGUF file format, read and written. Part of <edgelm.h>; include that.
 *
 * Reading maps the file read-only and validates all of it at open: after elm_gguf_open()
 * succeeds, every key, value, tensor shape and data range has been checked against the
 * file size, so nothing later can read outside the mapping. Values are views into the
 * mapping (strings are NOT NUL-terminated: use the length).
 *
 * GGUF v2 and v3, little-endian, are read; v1 and big-endian files are rejected by name.
 */
#ifndef EDGELM_GGUF_H
#define EDGELM_GGUF_H

#include "edgelm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== Types ============================================================================== */

typedef struct elm_gguf elm_gguf;               /* an open, validated GGUF file */

/* Metadata value types, with their on-disk ids. */
typedef enum elm_gguf_type {
    ELM_GGUF_UINT8 = 0, ELM_GGUF_INT8 = 1, ELM_GGUF_UINT16 = 2, ELM_GGUF_INT16 = 3,
    ELM_GGUF_UINT32 = 4, ELM_GGUF_INT32 = 5, ELM_GGUF_FLOAT32 = 6, ELM_GGUF_BOOL = 7,
    ELM_GGUF_STRING = 8, ELM_GGUF_ARRAY = 9, ELM_GGUF_UINT64 = 10, ELM_GGUF_INT64 = 11,
    ELM_GGUF_FLOAT64 = 12,
    ELM_GGUF_TYPE_COUNT = 13
} elm_gguf_type;

typedef struct elm_gguf_string {
    const char *data;        /* points into the file; NOT NUL-terminated */
    uint64_t len;            /* bytes */
} elm_gguf_string;

typedef struct elm_gguf_params {
    bool use_mmap;           /* map the file (default true); false reads it into memory */
    bool prefault;           /* MAP_POPULATE: fault every page in at open (default false) */
    bool mlock;              /* lock the pages in RAM; failure is an error (default false) */
    bool validate_utf8_keys; /* reject keys that are not valid UTF-8 (default true) */
} elm_gguf_params;

typedef struct elm_gguf_tensor {
    const char *name;        /* NUL-terminated copy owned by the elm_gguf */
    uint32_t type;           /* elm_type id */
    uint32_t n_dims;         /* 1..4 */
    int64_t ne[4];           /* elements per dimension, ne[0] is the row length; unused = 1 */
    uint64_t offset;         /* bytes, relative to the start of the data section */
    uint64_t bytes;          /* bytes of data */
    const void *data;        /* points into the mapping (or the in-memory copy) */
} elm_gguf_tensor;

/* ==== Opening and closing ================================================================ */

ELM_API elm_gguf_params elm_gguf_default_params(void);

/* Open and validate a GGUF file. params may be NULL. On failure *out is untouched and
 * elm_last_error() says what and where (file, byte offset, what was expected). */
ELM_API elm_status elm_gguf_open(const char *path, const elm_gguf_params *params, elm_gguf **out);
/* The same on a buffer the caller keeps alive until elm_gguf_close (no copy). */
ELM_API elm_status elm_gguf_open_memory(const void *data, size_t size, const char *name, elm_gguf **out);
ELM_API void elm_gguf_close(elm_gguf *g);

ELM_API uint32_t elm_gguf_version(const elm_gguf *g);         /* 2 or 3 */
ELM_API uint64_t elm_gguf_alignment(const elm_gguf *g);       /* bytes; 32 unless general.alignment */
ELM_API uint64_t elm_gguf_data_offset(const elm_gguf *g);     /* bytes from file start */
ELM_API uint64_t elm_gguf_file_size(const elm_gguf *g);       /* bytes */
ELM_API const char *elm_gguf_path(const elm_gguf *g);         /* as given to open */
ELM_API const void *elm_gguf_mapping(const elm_gguf *g);      /* the whole file's bytes */
ELM_API bool elm_gguf_is_mapped(const elm_gguf *g);           /* mmap (true) or copy */

/* ==== Metadata =========================================================================== */

ELM_API int64_t elm_gguf_n_keys(const elm_gguf *g);
/* Index of a key, or -1. O(1) average (hashed at open). */
ELM_API int64_t elm_gguf_find_key(const elm_gguf *g, const char *key);
ELM_API elm_gguf_string elm_gguf_key_name(const elm_gguf *g, int64_t i);
ELM_API elm_gguf_type elm_gguf_key_type(const elm_gguf *g, int64_t i);

/* Typed getters by key name. They return ELM_ERR_NOT_FOUND when the key is absent and
 * ELM_ERR_TYPE when it has another type; the error message names the key and both types.
 *   get_int   accepts any integer type (and BOOL) whose value fits in int64_t
 *   get_uint  accepts any non-negative integer value
 *   get_float accepts FLOAT32, FLOAT64 (and integers, converted)
 */
ELM_API elm_status elm_gguf_get_int(const elm_gguf *g, const char *key, int64_t *out);
ELM_API elm_status elm_gguf_get_uint(const elm_gguf *g, const char *key, uint64_t *out);
ELM_API elm_status elm_gguf_get_float(const elm_gguf *g, const char *key, double *out);
ELM_API elm_status elm_gguf_get_bool(const elm_gguf *g, const char *key, bool *out);
ELM_API elm_status elm_gguf_get_string(const elm_gguf *g, const char *key, elm_gguf_string *out);

/* Arrays. elm_gguf_get_array gives the element type and count; for arrays of numbers,
 * *data points at the packed little-endian elements in the file (may be unaligned: copy
 * with memcpy). For arrays of strings use elm_gguf_get_array_string (O(1) per element: a
 * string index is built at open). Nested arrays: elm_gguf_get_array_array. */
ELM_API elm_status elm_gguf_get_array(const elm_gguf *g, const char *key, elm_gguf_type *elem_type,
                                      uint64_t *n, const void **data);
ELM_API elm_status elm_gguf_get_array_string(const elm_gguf *g, const char *key, uint64_t i,
                                             elm_gguf_string *out);

/* Generic access for tools that walk all metadata (e.g. edgelm-gguf --json). A value is
 * described by a cursor; arrays are walked element by element. */
typedef struct elm_gguf_value {
    elm_gguf_type type;
    union {
        uint64_t u;          /* UINT8..UINT64 */
        int64_t i;           /* INT8..INT64 */
        double f;            /* FLOAT32, FLOAT64 */
        bool b;              /* BOOL */
        elm_gguf_string s;   /* STRING */
        struct {
            elm_gguf_type elem_type;
            uint64_t n;      /* elements */
            const void *first; /* opaque cursor to element 0, for elm_gguf_array_elem */
        } arr;               /* ARRAY */
    } v;
} elm_gguf_value;

ELM_API elm_status elm_gguf_key_value(const elm_gguf *g, int64_t i, elm_gguf_value *out);
/* Element i of an array value (i < arr.n). O(1) for fixed-size elements, O(log keys) for
 * the strings of a key's array (indexed at open), O(i) inside nested arrays. */
ELM_API elm_status elm_gguf_array_elem(const elm_gguf *g, const elm_gguf_value *array, uint64_t i,
                                       elm_gguf_value *out);

/* ==== Tensors ============================================================================ */

ELM_API int64_t elm_gguf_n_tensors(const elm_gguf *g);
ELM_API const elm_gguf_tensor *elm_gguf_tensor_at(const elm_gguf *g, int64_t i);
/* NULL when absent. O(1) average. */
ELM_API const elm_gguf_tensor *elm_gguf_find_tensor(const elm_gguf *g, const char *name);

/* ==== Writing ============================================================================ */

/* A writer collects metadata and tensors in memory order, then writes a GGUF v3 file.
 * Tensor data is copied when added (or referenced with _ref and read at write time). */
typedef struct elm_gguf_writer elm_gguf_writer;

ELM_API elm_status elm_gguf_writer_create(elm_gguf_writer **out);
ELM_API void elm_gguf_writer_free(elm_gguf_writer *w);
ELM_API elm_status elm_gguf_writer_set_alignment(elm_gguf_writer *w, uint32_t alignment);

/* Setting a key that exists replaces its value. */
ELM_API elm_status elm_gguf_writer_set_u8(elm_gguf_writer *w, const char *key, uint8_t v);
ELM_API elm_status elm_gguf_writer_set_i8(elm_gguf_writer *w, const char *key, int8_t v);
ELM_API elm_status elm_gguf_writer_set_u16(elm_gguf_writer *w, const char *key, uint16_t v);
ELM_API elm_status elm_gguf_writer_set_i16(elm_gguf_writer *w, const char *key, int16_t v);
ELM_API elm_status elm_gguf_writer_set_u32(elm_gguf_writer *w, const char *key, uint32_t v);
ELM_API elm_status elm_gguf_writer_set_i32(elm_gguf_writer *w, const char *key, int32_t v);
ELM_API elm_status elm_gguf_writer_set_u64(elm_gguf_writer *w, const char *key, uint64_t v);
ELM_API elm_status elm_gguf_writer_set_i64(elm_gguf_writer *w, const char *key, int64_t v);
ELM_API elm_status elm_gguf_writer_set_f32(elm_gguf_writer *w, const char *key, float v);
ELM_API elm_status elm_gguf_writer_set_f64(elm_gguf_writer *w, const char *key, double v);
ELM_API elm_status elm_gguf_writer_set_bool(elm_gguf_writer *w, const char *key, bool v);
ELM_API elm_status elm_gguf_writer_set_string(elm_gguf_writer *w, const char *key, const char *s, uint64_t len);
/* An array of fixed-size elements (any type but STRING and ARRAY), n elements packed. */
ELM_API elm_status elm_gguf_writer_set_array(elm_gguf_writer *w, const char *key, elm_gguf_type elem_type,
                                             const void *data, uint64_t n);
ELM_API elm_status elm_gguf_writer_set_array_string(elm_gguf_writer *w, const char *key,
                                                    const elm_gguf_string *strings, uint64_t n);
/* Copy a key (any type, nested arrays included) from an open file. */
ELM_API elm_status elm_gguf_writer_copy_key(elm_gguf_writer *w, const elm_gguf *from, int64_t key_index);

/* Add a tensor; ne[0] is the row length; data holds elm_type_row_bytes(type, ne[0]) *
 * ne[1]*ne[2]*ne[3] bytes. _add copies the bytes now; _add_ref keeps the pointer, which
 * must stay valid until elm_gguf_writer_write returns. */
ELM_API elm_status elm_gguf_writer_add_tensor(elm_gguf_writer *w, const char *name, uint32_t type,
                                              uint32_t n_dims, const int64_t *ne, const void *data);
ELM_API elm_status elm_gguf_writer_add_tensor_ref(elm_gguf_writer *w, const char *name, uint32_t type,
                                                  uint32_t n_dims, const int64_t *ne, const void *data);
/* Add a tensor whose bytes are produced while the file is written: fill(dst, bytes, user)
 * must write exactly `bytes` bytes (elm_type_row_bytes(type, ne[0]) * ne[1]*ne[2]*ne[3])
 * into dst and return ELM_OK; any other status stops the write (no file is left at path)
 * and is returned by elm_gguf_writer_write. Converters use it to stream a model through
 * one tensor-sized buffer instead of holding the whole output in memory. */
typedef elm_status (*elm_gguf_fill_fn)(void *dst, uint64_t bytes, void *user);
ELM_API elm_status elm_gguf_writer_add_tensor_fill(elm_gguf_writer *w, const char *name, uint32_t type,
                                                   uint32_t n_dims, const int64_t *ne, elm_gguf_fill_fn fill,
                                                   void *user);
/* Write the file (to path.tmp, then renamed over path). */
ELM_API elm_status elm_gguf_writer_write(elm_gguf_writer *w, const char *path);

/* ==== Quantization ======================================================================= */

/* Convert a model to another tensor type, the way llama.cpp's llama-quantize does (same
 * per-tensor type choices, same reference quantizers, same file layout):
 *   - every key is copied; general.quantization_version (2) and general.file_type (the
 *     llama.cpp LLAMA_FTYPE value of type_name) are set;
 *   - every 2-D+ tensor named *.weight, except norms, is converted from F32/F16/BF16;
 *     1-D tensors (norms, biases) are copied unchanged;
 *   - the _S/_M mixes give some tensors a higher type (output/tied token embedding Q6_K,
 *     attn_v and ffn_down of some layers Q5_K/Q6_K, ...), unless params->pure;
 *   - a tensor whose row length is not a multiple of the chosen type's block size falls
 *     back to a type that fits (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K ->
 *     Q4_0, then F16), with a note through the log callback.
 * type_name (case-insensitive): F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_S,
 * Q3_K_M, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K. Progress notes (one per tensor) go to the
 * log callback at ELM_LOG_INFO. The output is written to out.tmp and renamed. */
typedef struct elm_quantize_params {
    int n_threads;           /* threads for quantizing (0: every CPU; default 0) */
    bool pure;               /* every converted tensor gets the base type: no mix (default false) */
    bool allow_requantize;   /* accept already-quantized inputs (dequantized first) (default false) */
} elm_quantize_params;

ELM_API elm_quantize_params elm_quantize_default_params(void);
ELM_API elm_status elm_quantize_file(const char *in_path, const char *out_path, const char *type_name,
                                     const elm_quantize_params *params);

#ifdef __cplusplus
}
#endif
#endif /* EDGELM_GGUF_H */
