/* gguf_internal.h: the in-memory shape of an open GGUF file, shared by the reader
 * (gguf_read.c) and the writer's elm_gguf_writer_copy_key (gguf_write.c) (internal).
 * Must not: be included outside lib/gguf_*.c and lib/quantize.c. */
#ifndef ELM_GGUF_INTERNAL_H
#define ELM_GGUF_INTERNAL_H

#include "edgelm.h"

#define ELMI_GGUF_MAGIC "GGUF"
#define ELMI_GGUF_DEFAULT_ALIGNMENT 32
#define ELMI_GGUF_MAX_DEPTH 8          /* arrays nested deeper than this are rejected */

/* One metadata key/value, as found in the file. */
typedef struct elmi_gguf_kv {
    elm_gguf_string name;              /* points into the file */
    elm_gguf_type type;
    const uint8_t *val;                /* the value's bytes (after its type field) */
    uint64_t val_bytes;                /* bytes of the encoded value */
    /* ARRAY only */
    elm_gguf_type elem_type;
    uint64_t n;                        /* elements */
    const uint8_t *first;              /* element 0 */
    const uint64_t *str_off;           /* STRING arrays: file offset of each element's length field */
} elmi_gguf_kv;

struct elm_gguf {
    char *path;                        /* copy of the name given to open */
    const uint8_t *base;               /* the whole file */
    uint64_t size;                     /* bytes */
    int storage;                       /* 0 caller's memory, 1 mmap, 2 malloc copy */
    bool locked;                       /* mlock succeeded: munlock at close */
    uint32_t version;
    uint64_t alignment;                /* bytes */
    uint64_t data_offset;              /* bytes from file start */

    int64_t n_kv;
    elmi_gguf_kv *kv;
    uint32_t *kv_hash;                 /* open addressing: key index + 1, 0 = empty */
    uint64_t kv_hash_mask;
    uint64_t *str_off_all;             /* backing store of every kv's str_off */

    int64_t n_tensors;
    elm_gguf_tensor *tensors;
    char *names;                       /* NUL-terminated tensor names, back to back */
    uint32_t *t_hash;
    uint64_t t_hash_mask;
};

/* Bytes of a fixed-size metadata value type; 0 for STRING, ARRAY and unknown ids. */
uint64_t elmi_gguf_type_size(uint32_t type);
/* "UINT8", "STRING", ... ; "UNKNOWN" for others. */
const char *elmi_gguf_type_name(uint32_t type);
/* Strict UTF-8 without NUL bytes (what key and tensor names must be). */
bool elmi_gguf_valid_name(const void *s, uint64_t n);
/* Bytes of the value of type `type` that starts at p, which must lie in an already
 * validated file (no bounds checks needed beyond g's). */
uint64_t elmi_gguf_value_bytes(const elm_gguf *g, elm_gguf_type type, const uint8_t *p);

#endif
