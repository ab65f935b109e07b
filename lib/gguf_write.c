/* gguf_write.c: build a GGUF v3 file in memory order (metadata, tensor infos, aligned
 * data) and write it atomically (path.tmp, then rename).
 *
 * Values are encoded into their on-disk bytes when they are set, so writing is a plain
 * copy and elm_gguf_writer_copy_key can take any value (nested arrays included) verbatim
 * from an open file.
 * Must not: print, or leave a half-written file at `path`.
 */
#include "gguf_internal.h"
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct wkv {
    char *name;               /* NUL-terminated copy */
    uint64_t name_len;        /* bytes */
    uint32_t type;            /* elm_gguf_type */
    uint8_t *val;             /* encoded value (everything after the type field) */
    uint64_t val_bytes;
} wkv;

typedef struct wtensor {
    char *name;
    uint32_t type, n_dims;
    int64_t ne[4];
    uint64_t bytes;           /* bytes of data */
    const void *data;         /* the bytes to write (owned or the caller's) */
    void *owned;              /* non-NULL when _add copied the data */
    elm_gguf_fill_fn fill;    /* non-NULL: the bytes are produced at write time */
    void *user;               /* fill's argument */
} wtensor;

struct elm_gguf_writer {
    wkv *kv;
    int64_t n_kv, cap_kv;
    wtensor *t;
    int64_t n_t, cap_t;
    uint32_t alignment;       /* bytes */
};

elm_status elm_gguf_writer_create(elm_gguf_writer **out) {
    if (!out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_gguf_writer_create: out is NULL");
    elm_gguf_writer *w = calloc(1, sizeof *w);
    if (!w) return elmi_error(ELM_ERR_NOMEM, "gguf writer: out of memory");
    w->alignment = ELMI_GGUF_DEFAULT_ALIGNMENT;
    *out = w;
    return ELM_OK;
}

void elm_gguf_writer_free(elm_gguf_writer *w) {
    if (!w) return;
    for (int64_t i = 0; i < w->n_kv; i++) { free(w->kv[i].name); free(w->kv[i].val); }
    for (int64_t i = 0; i < w->n_t; i++) { free(w->t[i].name); free(w->t[i].owned); }
    free(w->kv);
    free(w->t);
    free(w);
}

/* ==== Metadata =========================================================================== */

/* Store `val` (val_bytes, already encoded; ownership passes to the writer) under key. */
static elm_status put(elm_gguf_writer *w, const char *key, uint64_t key_len, uint32_t type, uint8_t *val,
                      uint64_t val_bytes) {
    if (!w || !key) { free(val); return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: NULL writer or key"); }
    if (!elmi_gguf_valid_name(key, key_len)) {
        free(val);
        return elmi_error(ELM_ERR_INVALID_TEXT, "gguf writer: key name is not valid UTF-8 (or contains NUL)");
    }
    for (int64_t i = 0; i < w->n_kv; i++) {
        if (w->kv[i].name_len == key_len && memcmp(w->kv[i].name, key, key_len) == 0) {
            free(w->kv[i].val);
            w->kv[i].type = type;
            w->kv[i].val = val;
            w->kv[i].val_bytes = val_bytes;
            return ELM_OK;
        }
    }
    if (w->n_kv == w->cap_kv) {
        int64_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
        wkv *n = realloc(w->kv, (size_t)cap * sizeof *n);
        if (!n) { free(val); return elmi_error(ELM_ERR_NOMEM, "gguf writer: out of memory"); }
        w->kv = n;
        w->cap_kv = cap;
    }
    char *name = malloc(key_len + 1);
    if (!name) { free(val); return elmi_error(ELM_ERR_NOMEM, "gguf writer: out of memory"); }
    memcpy(name, key, key_len);
    name[key_len] = '\0';
    w->kv[w->n_kv++] = (wkv){name, key_len, type, val, val_bytes};
    return ELM_OK;
}

static elm_status put_scalar(elm_gguf_writer *w, const char *key, uint32_t type, const void *v) {
    uint64_t sz = elmi_gguf_type_size(type);
    uint8_t *val = malloc(sz);
    if (!val) return elmi_error(ELM_ERR_NOMEM, "gguf writer: out of memory");
    memcpy(val, v, sz);
    return put(w, key, key ? strlen(key) : 0, type, val, sz);
}

elm_status elm_gguf_writer_set_u8(elm_gguf_writer *w, const char *key, uint8_t v) { return put_scalar(w, key, ELM_GGUF_UINT8, &v); }
elm_status elm_gguf_writer_set_i8(elm_gguf_writer *w, const char *key, int8_t v) { return put_scalar(w, key, ELM_GGUF_INT8, &v); }
elm_status elm_gguf_writer_set_u16(elm_gguf_writer *w, const char *key, uint16_t v) { return put_scalar(w, key, ELM_GGUF_UINT16, &v); }
elm_status elm_gguf_writer_set_i16(elm_gguf_writer *w, const char *key, int16_t v) { return put_scalar(w, key, ELM_GGUF_INT16, &v); }
elm_status elm_gguf_writer_set_u32(elm_gguf_writer *w, const char *key, uint32_t v) { return put_scalar(w, key, ELM_GGUF_UINT32, &v); }
elm_status elm_gguf_writer_set_i32(elm_gguf_writer *w, const char *key, int32_t v) { return put_scalar(w, key, ELM_GGUF_INT32, &v); }
elm_status elm_gguf_writer_set_u64(elm_gguf_writer *w, const char *key, uint64_t v) { return put_scalar(w, key, ELM_GGUF_UINT64, &v); }
elm_status elm_gguf_writer_set_i64(elm_gguf_writer *w, const char *key, int64_t v) { return put_scalar(w, key, ELM_GGUF_INT64, &v); }
elm_status elm_gguf_writer_set_f32(elm_gguf_writer *w, const char *key, float v) { return put_scalar(w, key, ELM_GGUF_FLOAT32, &v); }
elm_status elm_gguf_writer_set_f64(elm_gguf_writer *w, const char *key, double v) { return put_scalar(w, key, ELM_GGUF_FLOAT64, &v); }
elm_status elm_gguf_writer_set_bool(elm_gguf_writer *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    return put_scalar(w, key, ELM_GGUF_BOOL, &b);
}

elm_status elm_gguf_writer_set_string(elm_gguf_writer *w, const char *key, const char *s, uint64_t len) {
    if (!s && len) return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: NULL string for key '%s'", key ? key : "");
    if (len > UINT64_MAX - 8) return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: string too long");
    uint8_t *val = malloc(8 + len);
    if (!val) return elmi_error(ELM_ERR_NOMEM, "gguf writer: out of memory for key '%s'", key ? key : "");
    memcpy(val, &len, 8);
    if (len) memcpy(val + 8, s, len);
    return put(w, key, key ? strlen(key) : 0, ELM_GGUF_STRING, val, 8 + len);
}

elm_status elm_gguf_writer_set_array(elm_gguf_writer *w, const char *key, elm_gguf_type elem_type, const void *data,
                                     uint64_t n) {
    uint64_t sz = elmi_gguf_type_size(elem_type);
    if (sz == 0)
        return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: key '%s': set_array takes fixed-size elements, not %s",
                          key ? key : "", elmi_gguf_type_name(elem_type));
    if (!data && n) return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: key '%s': NULL array data", key ? key : "");
    if (n > (UINT64_MAX - 12) / sz || n * sz + 12 > SIZE_MAX)
        return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: key '%s': array of %llu elements is too large",
                          key ? key : "", (unsigned long long)n);
    uint8_t *val = malloc(12 + n * sz);
    if (!val) return elmi_error(ELM_ERR_NOMEM, "gguf writer: out of memory for key '%s'", key ? key : "");
    uint32_t et = elem_type;
    memcpy(val, &et, 4);
    memcpy(val + 4, &n, 8);
    if (n) memcpy(val + 12, data, n * sz);
    return put(w, key, key ? strlen(key) : 0, ELM_GGUF_ARRAY, val, 12 + n * sz);
}

elm_status elm_gguf_writer_set_array_string(elm_gguf_writer *w, const char *key, const elm_gguf_string *strings,
                                            uint64_t n) {
    if (!strings && n) return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: key '%s': NULL strings", key ? key : "");
    uint64_t total = 12;
    for (uint64_t i = 0; i < n; i++) {
        if (!strings[i].data && strings[i].len)
            return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: key '%s': string %llu is NULL", key ? key : "",
                              (unsigned long long)i);
        if (strings[i].len > SIZE_MAX - 8 - total)
            return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: key '%s': strings too large", key ? key : "");
        total += 8 + strings[i].len;
    }
    uint8_t *val = malloc(total);
    if (!val) return elmi_error(ELM_ERR_NOMEM, "gguf writer: out of memory for key '%s'", key ? key : "");
    uint32_t et = ELM_GGUF_STRING;
    memcpy(val, &et, 4);
    memcpy(val + 4, &n, 8);
    uint8_t *p = val + 12;
    for (uint64_t i = 0; i < n; i++) {
        memcpy(p, &strings[i].len, 8);
        if (strings[i].len) memcpy(p + 8, strings[i].data, strings[i].len);
        p += 8 + strings[i].len;
    }
    return put(w, key, key ? strlen(key) : 0, ELM_GGUF_ARRAY, val, total);
}

elm_status elm_gguf_writer_copy_key(elm_gguf_writer *w, const elm_gguf *from, int64_t key_index) {
    if (!w || !from || key_index < 0 || key_index >= from->n_kv)
        return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: copy_key: no key %lld", (long long)key_index);
    const elmi_gguf_kv *kv = &from->kv[key_index];
    if (kv->val_bytes > SIZE_MAX) return elmi_error(ELM_ERR_NOMEM, "gguf writer: value too large");
    uint8_t *val = malloc(kv->val_bytes ? kv->val_bytes : 1);
    if (!val) return elmi_error(ELM_ERR_NOMEM, "gguf writer: out of memory copying key");
    memcpy(val, kv->val, kv->val_bytes);
    return put(w, kv->name.data, kv->name.len, kv->type, val, kv->val_bytes);
}

elm_status elm_gguf_writer_set_alignment(elm_gguf_writer *w, uint32_t alignment) {
    if (!w || alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > (1u << 30))
        return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: alignment %u is not a power of two in 1..2^30", alignment);
    elm_status st = elm_gguf_writer_set_u32(w, "general.alignment", alignment);
    if (!st) w->alignment = alignment;
    return st;
}

/* ==== Tensors ============================================================================ */

static elm_status add_tensor(elm_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims, const int64_t *ne,
                             const void *data, bool copy, elm_gguf_fill_fn fill, void *user) {
    if (!w || !name || !ne || (!data && !fill))
        return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: add_tensor: NULL argument");
    uint64_t name_len = strlen(name);
    if (!elmi_gguf_valid_name(name, name_len))
        return elmi_error(ELM_ERR_INVALID_TEXT, "gguf writer: tensor name is not valid UTF-8");
    const elm_type_info *ti = elm_type_get_info(type);
    if (!ti || (type >= 31 && type <= 33) || (type >= 36 && type <= 38))
        return elmi_error(ELM_ERR_UNSUPPORTED, "gguf writer: tensor '%s': type %u cannot be written", name, type);
    if (n_dims < 1 || n_dims > 4)
        return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: tensor '%s': n_dims %u, expected 1..4", name, n_dims);
    int64_t d4[4] = {1, 1, 1, 1};
    uint64_t rows = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] <= 0) return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: tensor '%s': dimension %u is %lld", name, d, (long long)ne[d]);
        d4[d] = ne[d];
        if (d > 0) {
            if ((uint64_t)ne[d] > UINT64_MAX / rows) return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: tensor '%s' too large", name);
            rows *= (uint64_t)ne[d];
        }
    }
    uint64_t row = elm_type_row_bytes(type, d4[0]);
    if (row == 0)
        return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: tensor '%s': row length %lld is not a multiple of %s's block size %u",
                          name, (long long)d4[0], ti->name, ti->block_size);
    if (row > SIZE_MAX / rows) return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: tensor '%s' too large", name);
    for (int64_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: tensor '%s' added twice", name);
    if (w->n_t == w->cap_t) {
        int64_t cap = w->cap_t ? w->cap_t * 2 : 64;
        wtensor *n = realloc(w->t, (size_t)cap * sizeof *n);
        if (!n) return elmi_error(ELM_ERR_NOMEM, "gguf writer: out of memory");
        w->t = n;
        w->cap_t = cap;
    }
    wtensor t = {.type = type, .n_dims = n_dims, .bytes = row * rows, .data = data, .fill = fill, .user = user};
    memcpy(t.ne, d4, sizeof d4);
    t.name = strdup(name);
    if (!t.name) return elmi_error(ELM_ERR_NOMEM, "gguf writer: out of memory");
    if (copy) {
        t.owned = malloc(t.bytes);
        if (!t.owned) { free(t.name); return elmi_error(ELM_ERR_NOMEM, "gguf writer: out of memory copying tensor '%s'", name); }
        memcpy(t.owned, data, t.bytes);
        t.data = t.owned;
    }
    w->t[w->n_t++] = t;
    return ELM_OK;
}

elm_status elm_gguf_writer_add_tensor(elm_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                      const int64_t *ne, const void *data) {
    return add_tensor(w, name, type, n_dims, ne, data, true, NULL, NULL);
}

elm_status elm_gguf_writer_add_tensor_ref(elm_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                          const int64_t *ne, const void *data) {
    return add_tensor(w, name, type, n_dims, ne, data, false, NULL, NULL);
}

elm_status elm_gguf_writer_add_tensor_fill(elm_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                           const int64_t *ne, elm_gguf_fill_fn fill, void *user) {
    if (!fill) return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: add_tensor_fill: NULL fill function");
    return add_tensor(w, name, type, n_dims, ne, NULL, false, fill, user);
}

/* ==== Writing ============================================================================ */

typedef struct out_file {
    FILE *f;
    uint64_t pos;             /* bytes written */
    bool failed;
    int err;                  /* errno of the first failure */
} out_file;

static void emit(out_file *o, const void *p, uint64_t n) {
    if (o->failed || n == 0) return;
    if (fwrite(p, 1, n, o->f) != n) { o->failed = true; o->err = errno; }
    o->pos += n;
}

static void pad_to(out_file *o, uint64_t alignment) {
    static const uint8_t zeros[256];
    while (o->pos % alignment) {
        uint64_t n = alignment - o->pos % alignment;
        emit(o, zeros, n > sizeof zeros ? sizeof zeros : n);
    }
}

/* The alignment to write: the general.alignment key if set (it must agree with the file
 * we write), else the writer's. */
static elm_status effective_alignment(const elm_gguf_writer *w, uint64_t *a) {
    *a = w->alignment;
    for (int64_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].name, "general.alignment") != 0) continue;
        uint64_t v = 0, sz = elmi_gguf_type_size(w->kv[i].type);
        if (w->kv[i].type != ELM_GGUF_UINT8 && w->kv[i].type != ELM_GGUF_UINT16 && w->kv[i].type != ELM_GGUF_UINT32 &&
            w->kv[i].type != ELM_GGUF_UINT64)
            return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: general.alignment must be an unsigned integer");
        memcpy(&v, w->kv[i].val, sz);
        if (v == 0 || (v & (v - 1)) != 0 || v > (1u << 30))
            return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: general.alignment %llu is not a power of two",
                              (unsigned long long)v);
        *a = v;
    }
    return ELM_OK;
}

elm_status elm_gguf_writer_write(elm_gguf_writer *w, const char *path) {
    if (!w || !path) return elmi_error(ELM_ERR_INVALID_ARG, "gguf writer: NULL writer or path");
    uint64_t align;
    elm_status st = effective_alignment(w, &align);
    if (st) return st;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) return elmi_error(ELM_ERR_NOMEM, "gguf writer: out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    out_file o = {.f = fopen(tmp, "wb")};
    if (!o.f) {
        st = elmi_error(ELM_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    setvbuf(o.f, NULL, _IOFBF, 1 << 20);

    uint32_t version = 3;
    uint64_t n_t = (uint64_t)w->n_t, n_kv = (uint64_t)w->n_kv;
    emit(&o, ELMI_GGUF_MAGIC, 4);
    emit(&o, &version, 4);
    emit(&o, &n_t, 8);
    emit(&o, &n_kv, 8);
    for (int64_t i = 0; i < w->n_kv; i++) {
        const wkv *kv = &w->kv[i];
        emit(&o, &kv->name_len, 8);
        emit(&o, kv->name, kv->name_len);
        emit(&o, &kv->type, 4);
        emit(&o, kv->val, kv->val_bytes);
    }
    uint64_t offset = 0;
    for (int64_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        uint64_t len = strlen(t->name);
        emit(&o, &len, 8);
        emit(&o, t->name, len);
        emit(&o, &t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; d++) emit(&o, &t->ne[d], 8);
        emit(&o, &t->type, 4);
        emit(&o, &offset, 8);
        offset += (t->bytes + align - 1) / align * align;
    }
    pad_to(&o, align);
    /* one buffer, as large as the largest filled tensor, serves every fill call */
    uint64_t fill_bytes = 0;
    for (int64_t i = 0; i < w->n_t; i++)
        if (w->t[i].fill && w->t[i].bytes > fill_bytes) fill_bytes = w->t[i].bytes;
    void *buf = NULL;
    if (fill_bytes && !(buf = malloc(fill_bytes))) {
        st = elmi_error(ELM_ERR_NOMEM, "gguf writer: out of memory for a %llu-byte tensor buffer",
                        (unsigned long long)fill_bytes);
    }
    for (int64_t i = 0; i < w->n_t && !st && !o.failed; i++) {
        const void *data = w->t[i].data;
        if (w->t[i].fill) {
            st = w->t[i].fill(buf, w->t[i].bytes, w->t[i].user);
            data = buf;
        }
        if (!st) emit(&o, data, w->t[i].bytes);
        pad_to(&o, align);
    }
    free(buf);
    if (st) {                 /* a fill function failed: its message stands */
        fclose(o.f);
        unlink(tmp);
        free(tmp);
        return st;
    }
    int e = o.err;
    if (fflush(o.f) != 0) { o.failed = true; e = errno; }
    if (fclose(o.f) != 0 && !o.failed) { o.failed = true; e = errno; }
    if (o.failed) {
        unlink(tmp);
        st = elmi_error(ELM_ERR_IO, "%s: write failed after %llu bytes: %s", tmp, (unsigned long long)o.pos, strerror(e));
    } else if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        st = elmi_error(ELM_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(e));
    }
    free(tmp);
    return st;
}
